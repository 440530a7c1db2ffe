import { RAM_BASE } from '../cpu/state-layout.js';

/** Byte-wide handlers of a memory-mapped device region; wider accesses are composed from bytes. */
export interface MmioHandlers {
  read8(address: number): number;
  write8(address: number, value: number): void;
}

const PAGE_SHIFT = 12;
const PAGE_SIZE = 1 << PAGE_SHIFT;
const PAGES = 1 << (32 - PAGE_SHIFT);
/**
 * The page-kind and code-page tables (one byte per 4 KiB page each), placed right after RAM when
 * the memory has room for them, so generated code can test a page with one load.
 */
export const PAGE_TABLES_BYTES = 2 * PAGES;
/** Room after the page tables for the JIT's jump cache (core/jit/dispatch.ts). */
export const JIT_AREA_BYTES = 0x20000;
/** Memory size (in 64 KiB wasm pages) for RAM, the page tables and the JIT's area. */
export function wasmPagesFor(ramSize: number): number {
  return Math.ceil((RAM_BASE + ramSize + PAGE_TABLES_BYTES + JIT_AREA_BYTES) / 65536);
}
export const PAGE_RAM = 0;
const PAGE_MMIO = 1;
const PAGE_UNMAPPED = 2;

/**
 * Physical address space: guest RAM inside the machine's WebAssembly.Memory, MMIO regions on
 * top, open bus elsewhere. A per-page kind table keeps the RAM path to one byte load and a
 * compare.
 */
export class MemoryBus {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  /** RAM, MMIO or unmapped, by page number. */
  readonly pageKind: Uint8Array;
  private readonly regions: { base: number; size: number; handlers: MmioHandlers; owner: string }[] = [];
  /**
   * Pages holding decoded or translated instructions (a bit per holder: the decode cache, the
   * JIT); writes to them are reported.
   */
  readonly codePage: Uint8Array;
  /** Memory offset of pageKind (codePage follows it), or -1 when the tables are not in the memory. */
  readonly tablesOffset: number;
  /** Told about every write to a code page: the address and the number of bytes (within one page). */
  onCodeWrite: (address: number, bytes: number) => void = () => {};
  /** Told when a page becomes a code page or stops being one, or its kind changes (the TLB copies both). */
  onPageChange: (page: number) => void = () => {};
  /** Region of each MMIO page, by page number. */
  private readonly pageRegion = new Map<number, { base: number; handlers: MmioHandlers }>();
  /** Cached result of openBusPage (recomputed after mapMmio). */
  private openBus = -1;

  constructor(memory: WebAssembly.Memory, readonly ramSize: number) {
    if (ramSize % (1 << PAGE_SHIFT) !== 0) throw new Error(`RAM size ${ramSize} is not a multiple of 4 KiB`);
    this.bytes = new Uint8Array(memory.buffer);
    this.view = new DataView(memory.buffer);
    const inMemory = memory.buffer.byteLength >= RAM_BASE + ramSize + PAGE_TABLES_BYTES;
    this.tablesOffset = inMemory ? RAM_BASE + ramSize : -1;
    this.pageKind = inMemory ? new Uint8Array(memory.buffer, this.tablesOffset, PAGES) : new Uint8Array(PAGES);
    this.codePage = inMemory ? new Uint8Array(memory.buffer, this.tablesOffset + PAGES, PAGES) : new Uint8Array(PAGES);
    this.pageKind.fill(PAGE_UNMAPPED);
    this.pageKind.fill(PAGE_RAM, 0, ramSize >>> PAGE_SHIFT);
  }

  /** Maps a device over [base, base+size); both must be 4 KiB aligned. */
  mapMmio(base: number, size: number, handlers: MmioHandlers, owner: string): void {
    if ((base | size) & 0xfff) throw new Error(`${owner}: MMIO region 0x${base.toString(16)}+0x${size.toString(16)} is not 4 KiB aligned`);
    for (const r of this.regions) {
      if (base < r.base + r.size && r.base < base + size) {
        throw new Error(`${owner}: MMIO region at 0x${base.toString(16)} overlaps ${r.owner} at 0x${r.base.toString(16)}`);
      }
    }
    const region = { base, size, handlers, owner };
    this.regions.push(region);
    for (let page = base >>> PAGE_SHIFT; page < (base + size) >>> PAGE_SHIFT; page++) {
      this.pageKind[page] = PAGE_MMIO;
      this.pageRegion.set(page, region);
      this.onPageChange(page);
    }
    this.openBus = -1;
  }

  /**
   * A page below 4 GiB where nothing is mapped, also with A20 masked: accesses beyond the 32-bit
   * bus (PAE frames above 4 GiB, which our RAM never reaches) are routed there, so reads see
   * open bus and writes are dropped, as for any unmapped address.
   */
  openBusPage(): number {
    if (this.openBus < 0) {
      const A20_PAGE = 0x100;
      let page = (1 << (32 - PAGE_SHIFT)) - 1;
      while (page > 0 && (this.pageKind[page] !== PAGE_UNMAPPED || this.pageKind[page & ~A20_PAGE] !== PAGE_UNMAPPED)) page--;
      this.openBus = page * PAGE_SIZE;
    }
    return this.openBus;
  }

  /** Sets a holder's bit in codePage (see there). */
  markCode(page: number, bit: number): void {
    const was = this.codePage[page];
    this.codePage[page] = was | bit;
    if (was === 0) this.onPageChange(page);
  }

  /** Clears a holder's bit in codePage. */
  unmarkCode(page: number, bit: number): void {
    const was = this.codePage[page];
    if ((was & bit) === 0) return;
    this.codePage[page] = was & ~bit;
    if (was === bit) this.onPageChange(page);
  }

  /** True when the whole page holding `address` is plain RAM. */
  isRam(address: number): boolean {
    return this.pageKind[address >>> PAGE_SHIFT] === PAGE_RAM;
  }

  read8(address: number): number {
    address >>>= 0;
    const kind = this.pageKind[address >>> PAGE_SHIFT];
    if (kind === PAGE_RAM) return this.bytes[RAM_BASE + address];
    if (kind === PAGE_MMIO) return this.mmio(address).handlers.read8(address) & 0xff;
    return 0xff;
  }

  write8(address: number, value: number): void {
    address >>>= 0;
    const kind = this.pageKind[address >>> PAGE_SHIFT];
    if (kind === PAGE_RAM) {
      this.bytes[RAM_BASE + address] = value;
      if (this.codePage[address >>> PAGE_SHIFT] !== 0) this.onCodeWrite(address, 1);
    } else if (kind === PAGE_MMIO) this.mmio(address).handlers.write8(address, value & 0xff);
  }

  /** 16-bit read of a physical address; the caller guarantees it does not cross a page. */
  read16(address: number): number {
    address >>>= 0;
    if (this.pageKind[address >>> PAGE_SHIFT] === PAGE_RAM) return this.view.getUint16(RAM_BASE + address, true);
    return this.read8(address) | (this.read8(address + 1) << 8);
  }

  read32(address: number): number {
    address >>>= 0;
    if (this.pageKind[address >>> PAGE_SHIFT] === PAGE_RAM) return this.view.getInt32(RAM_BASE + address, true);
    return this.read8(address) | (this.read8(address + 1) << 8) | (this.read8(address + 2) << 16) | (this.read8(address + 3) << 24);
  }

  write16(address: number, value: number): void {
    address >>>= 0;
    if (this.pageKind[address >>> PAGE_SHIFT] === PAGE_RAM) {
      this.view.setUint16(RAM_BASE + address, value, true);
      if (this.codePage[address >>> PAGE_SHIFT] !== 0) this.onCodeWrite(address, 2);
    } else { this.write8(address, value); this.write8(address + 1, value >>> 8); }
  }

  write32(address: number, value: number): void {
    address >>>= 0;
    if (this.pageKind[address >>> PAGE_SHIFT] === PAGE_RAM) {
      this.view.setInt32(RAM_BASE + address, value, true);
      if (this.codePage[address >>> PAGE_SHIFT] !== 0) this.onCodeWrite(address, 4);
    } else {
      this.write8(address, value); this.write8(address + 1, value >>> 8);
      this.write8(address + 2, value >>> 16); this.write8(address + 3, value >>> 24);
    }
  }

  /** Copies bytes into physical memory (loaders, DMA); MMIO and open bus honour it byte by byte. */
  writeBytes(address: number, data: Uint8Array): void {
    const end = address + data.length;
    if (end <= this.ramSize && this.regions.every((r) => end <= r.base || r.base + r.size <= address)) {
      this.bytes.set(data, RAM_BASE + address);
      this.noteRamWrite(address, data.length);
      return;
    }
    for (let i = 0; i < data.length; i++) this.write8(address + i, data[i]);
  }

  /**
   * Reports a write made straight into RAM (bulk copies that bypass write8/16/32) to the
   * code-page watcher, page by page.
   */
  noteRamWrite(address: number, length: number): void {
    const end = address + length;
    for (let page = address >>> PAGE_SHIFT; length > 0 && page <= (end - 1) >>> PAGE_SHIFT; page++) {
      if (this.codePage[page] === 0) continue;
      const from = Math.max(address, page * PAGE_SIZE);
      this.onCodeWrite(from, Math.min(end, (page + 1) * PAGE_SIZE) - from);
    }
  }

  readBytes(address: number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = this.read8(address + i);
    return out;
  }

  private mmio(address: number): { base: number; handlers: MmioHandlers } {
    return this.pageRegion.get(address >>> PAGE_SHIFT)!;
  }
}
