import { CR0_PG, CR0_WP } from '../cpu/cpu.js';
import { fault, Vec } from '../cpu/faults.js';
import { S } from '../cpu/state-layout.js';
import type { MemoryBus } from './memory-bus.js';

const PAGE_SHIFT = 12;
const OFFSET_MASK = 0xfff;
const FRAME_MASK = ~OFFSET_MASK;
/** 4 MiB page frame of a PDE with PS set (no PSE-36: bits 21:13 are not address bits). */
const LARGE_FRAME_MASK = 0xffc00000 | 0;

/** Paging-structure entry bits (SDM Vol. 3A, 4.3, 4.4): the same in 32-bit and PAE entries. */
const PTE_P = 0x1, PTE_RW = 0x2, PTE_US = 0x4, PTE_A = 0x20, PTE_D = 0x40, PTE_PS = 0x80, PTE_G = 0x100;

export const CR4_PSE = 0x10, CR4_PAE = 0x20, CR4_PGE = 0x80;

/** #PF error code bits: protection violation (else not present), write, user mode, reserved bit set. */
const PF_PRESENT = 0x1, PF_WRITE = 0x2, PF_USER = 0x4, PF_RESERVED = 0x8;

/**
 * PAE entries are 64 bits; flags and address bits 31:12 are in the low dword. With MAXPHYADDR 36
 * (CPUID has PAE but no leaf 0x80000008) the high dword holds address bits 35:32, and bits
 * 63:36 are reserved: without NX (no EFER.NXE) that includes bit 63.
 */
const PAE_HIGH_ADDRESS = 0xf, PAE_HIGH_RESERVED = ~PAE_HIGH_ADDRESS;
/** Reserved low bits of a PDPTE (2:1, 8:5) and of a PDE mapping a 2 MiB page (20:13). */
const PDPTE_RESERVED = 0x1e6, PAE_LARGE_RESERVED = 0x1fe000;
/** 2 MiB page frame of a PAE PDE with PS set. */
const PAE_LARGE_FRAME_MASK = 0xffe00000 | 0;
/** CR3 under PAE: the 32-byte aligned page-directory-pointer table. */
const PDPT_MASK = ~0x1f;

/**
 * TLB entry permission bits, in the low bits of the physical frame word. The write bits are
 * set only once the dirty bit is set in memory, so the first write through an entry filled
 * by a read misses and walks again to set D.
 */
export const TLB_USER = 0x1, TLB_USER_WRITE = 0x2, TLB_SUPERVISOR_WRITE = 0x4;
const TLB_GLOBAL = 0x8;
/** The entry is a 4 KiB piece of a 4 MiB or 2 MiB page (INVLPG anywhere in that page drops it). */
const TLB_LARGE = 0x10;
/**
 * For translated code's inline accesses, which test them with the permission bits: the frame is
 * not plain RAM (MMIO or unmapped), or it holds code (MemoryBus.codePage), so a write must be
 * reported. Kept current as the page's kind or code bits change (refreshFrame).
 */
export const TLB_NOT_RAM = 0x20, TLB_CODE = 0x40;

/**
 * The TLB lives in the machine's memory between the state block and RAM (design principle 3),
 * so generated code can probe it directly: per slot, the linear page tag, then the frame and
 * permission word (one cache line holds both).
 */
export const TLB_BASE = 0x4000;
export const TLB_ENTRIES = 4096;
/** Bytes per TLB slot (tag, frame). */
export const TLB_SLOT_BYTES = 8;
const SLOT_MASK = TLB_ENTRIES - 1;
const EMPTY = -1;
/** The four PDPTE registers (low, high dword each), after the TLB. */
export const PDPTE_BASE = TLB_BASE + TLB_ENTRIES * 8;

/** Every linear-to-physical translation may have changed (paging mode, A20, reset): both epochs move on. */
export function mappingsMoved(st: Int32Array): void {
  st[S.MAPPING_EPOCH]++;
  st[S.GLOBAL_EPOCH]++;
}

/**
 * 32-bit two-level paging (SDM Vol. 3A 4.3) with 4 KiB pages, 4 MiB pages under CR4.PSE and
 * global pages under CR4.PGE, and PAE paging (4.4) under CR4.PAE: four PDPTE registers loaded
 * from CR3, then 64-bit page directories and tables with 4 KiB and 2 MiB pages. Both sit behind
 * one direct-mapped TLB indexed by the low bits of the linear page number.
 */
export class Paging {
  /**
   * Set while the processor itself reads or writes descriptor tables or the TSS: such accesses
   * are supervisor accesses at any CPL.
   */
  systemAccess = false;
  /** Per slot: the linear page number held (EMPTY when none), then the physical frame address | TLB_* bits. */
  private readonly tlb: Int32Array;
  /** PDPTE0-3 as (low, high) dword pairs, as last loaded from the PDPT. */
  private readonly pdpte: Int32Array;
  /** Set once a piece of a large page is cached, until the next full flush. */
  private largeCached = false;
  /** Where loadPdptes reads the PDPT before checking it, so a #GP leaves the registers unchanged. */
  private readonly pdpt = new Int32Array(8);

  constructor(memory: WebAssembly.Memory, private readonly st: Int32Array, private readonly mem: MemoryBus) {
    this.tlb = new Int32Array(memory.buffer, TLB_BASE, TLB_ENTRIES * 2);
    this.pdpte = new Int32Array(memory.buffer, PDPTE_BASE, 8);
    mem.onPageChange = (page) => this.refreshFrame(page);
  }

  /** The frame bits TLB_NOT_RAM and TLB_CODE of a physical page, as they are now. */
  private frameBits(page: number): number {
    return (this.mem.isRam(page << PAGE_SHIFT) ? 0 : TLB_NOT_RAM) | (this.mem.codePage[page] !== 0 ? TLB_CODE : 0);
  }

  /** A physical page's kind or code bits changed: the entries mapping it take the new bits. */
  private refreshFrame(page: number): void {
    const tlb = this.tlb;
    const bits = this.frameBits(page);
    for (let k = 0; k < tlb.length; k += 2) {
      if (tlb[k] !== EMPTY && tlb[k + 1] >>> PAGE_SHIFT === page) tlb[k + 1] = (tlb[k + 1] & ~(TLB_NOT_RAM | TLB_CODE)) | bits;
    }
  }

  /**
   * Physical address of a linear address for a read (or instruction fetch: without NX the
   * execute check is the user check) or a write, by the current privilege level (CPL 3 is
   * user). Raises #PF with CR2 set when the page is absent or the access not permitted.
   */
  translate(lin: number, write: boolean): number {
    const page = lin >>> PAGE_SHIFT;
    const slot = page & SLOT_MASK;
    const user = this.st[S.CPL] === 3 && !this.systemAccess;
    const need = write ? (user ? TLB_USER_WRITE : TLB_SUPERVISOR_WRITE) : (user ? TLB_USER : 0);
    const entry = this.tlb[slot * 2 + 1];
    if (this.tlb[slot * 2] === page && (entry & need) === need) return (entry & FRAME_MASK) | (lin & OFFSET_MASK);
    return this.walk(lin, write, user);
  }

  /** Whether the TLB holds the page of a linear address as global (a CR3 load keeps it). */
  isGlobal(lin: number): boolean {
    const k = this.heldFrameWord(lin);
    return k >= 0 && (this.tlb[k] & TLB_GLOBAL) !== 0;
  }

  /**
   * The physical frame the TLB holds for a linear address, readable at user level when `user`
   * is set, or -1: no walk and no side effect (the JIT's link to a jump target in another page
   * checks at run time that the TLB still says so).
   */
  cachedFrame(lin: number, user: boolean): number {
    const k = this.heldFrameWord(lin);
    const need = user ? TLB_USER : 0;
    return k >= 0 && (this.tlb[k] & (need | TLB_NOT_RAM)) === need ? this.tlb[k] & FRAME_MASK : -1;
  }

  /** The index in `tlb` of the frame word for the page of a linear address, or -1 when the TLB does not hold it. */
  private heldFrameWord(lin: number): number {
    const page = lin >>> PAGE_SHIFT;
    const k = (page & SLOT_MASK) * 2;
    return this.tlb[k] === page ? k + 1 : -1;
  }

  /** Walks the paging structures of the current mode; see finishWalk. */
  private walk(lin: number, write: boolean, user: boolean): number {
    if ((this.st[S.CR4] & CR4_PAE) !== 0) return this.walkPae(lin, write, user);
    const st = this.st, mem = this.mem;
    const a20 = st[S.A20_MASK];
    const pdeAddress = ((st[S.CR3] & FRAME_MASK) | ((lin >>> 22) << 2)) & a20;
    const pde = mem.read32(pdeAddress);
    if ((pde & PTE_P) === 0) this.pageFault(lin, write, user, 0);
    if ((pde & PTE_PS) !== 0 && (st[S.CR4] & CR4_PSE) !== 0) {
      return this.finishWalk(lin, write, user, pde, pdeAddress, pde, pdeAddress, (pde & LARGE_FRAME_MASK) | (lin & 0x3ff000));
    }
    const pteAddress = ((pde & FRAME_MASK) | (((lin >>> PAGE_SHIFT) & 0x3ff) << 2)) & a20;
    const pte = mem.read32(pteAddress);
    if ((pte & PTE_P) === 0) this.pageFault(lin, write, user, 0);
    return this.finishWalk(lin, write, user, pde, pdeAddress, pte, pteAddress, pte & FRAME_MASK);
  }

  /**
   * PAE walk: the PDPTE register for linear bits 31:30, then a 64-bit PDE (a 2 MiB page when PS
   * is set, whatever CR4.PSE) and PTE. A present entry with a reserved bit set is #PF with
   * RSVD and P in the error code, found in walk order before any access-rights check.
   */
  private walkPae(lin: number, write: boolean, user: boolean): number {
    const mem = this.mem;
    const a20 = this.st[S.A20_MASK];
    const n = (lin >>> 30) << 1;
    const pdpte = this.pdpte[n];
    if ((pdpte & PTE_P) === 0) this.pageFault(lin, write, user, 0);
    const pdeAddress = this.physical((pdpte & FRAME_MASK) | (((lin >>> 21) & 0x1ff) << 3), this.pdpte[n + 1]) & a20;
    const pde = mem.read32(pdeAddress), pdeHigh = mem.read32(pdeAddress + 4);
    if ((pde & PTE_P) === 0) this.pageFault(lin, write, user, 0);
    const large = (pde & PTE_PS) !== 0;
    if ((pdeHigh & PAE_HIGH_RESERVED) !== 0 || (large && (pde & PAE_LARGE_RESERVED) !== 0)) {
      this.pageFault(lin, write, user, PF_PRESENT | PF_RESERVED);
    }
    if (large) {
      const frame = this.physical((pde & PAE_LARGE_FRAME_MASK) | (lin & 0x1ff000), pdeHigh);
      return this.finishWalk(lin, write, user, pde, pdeAddress, pde, pdeAddress, frame);
    }
    const pteAddress = this.physical((pde & FRAME_MASK) | (((lin >>> PAGE_SHIFT) & 0x1ff) << 3), pdeHigh) & a20;
    const pte = mem.read32(pteAddress), pteHigh = mem.read32(pteAddress + 4);
    if ((pte & PTE_P) === 0) this.pageFault(lin, write, user, 0);
    if ((pteHigh & PAE_HIGH_RESERVED) !== 0) this.pageFault(lin, write, user, PF_PRESENT | PF_RESERVED);
    return this.finishWalk(lin, write, user, pde, pdeAddress, pte, pteAddress, this.physical(pte & FRAME_MASK, pteHigh));
  }

  /**
   * A physical address from an entry's low-dword address and its address bits 35:32. Our bus
   * ends at 4 GiB, so anything above reads as open bus: it is routed to an unmapped page.
   */
  private physical(low: number, high: number): number {
    return (high & PAE_HIGH_ADDRESS) === 0 ? low : this.mem.openBusPage() | (low & OFFSET_MASK);
  }

  /**
   * The end of a walk, the same for both modes: combines U/S and R/W of the directory entry and
   * the leaf (the same entry for a large page), checks the access, sets A in the directory
   * entry, A and D in the leaf (their low dword under PAE), and fills the TLB slot.
   */
  private finishWalk(lin: number, write: boolean, user: boolean, pde: number, pdeAddress: number, leaf: number, leafAddress: number, frame: number): number {
    const st = this.st, mem = this.mem;
    const userAllowed = (pde & leaf & PTE_US) !== 0;
    const writable = (pde & leaf & PTE_RW) !== 0;
    // Supervisor writes ignore R/W unless CR0.WP is set (SDM 4.6.1).
    const supervisorWritable = writable || (st[S.CR0] & CR0_WP) === 0;
    if ((user && !userAllowed) || (write && !(user ? writable : supervisorWritable))) this.pageFault(lin, write, user, PF_PRESENT);

    if (leafAddress !== pdeAddress && (pde & PTE_A) === 0) mem.write32(pdeAddress, pde | PTE_A);
    const updated = leaf | PTE_A | (write ? PTE_D : 0);
    if (updated !== leaf) mem.write32(leafAddress, updated);

    const dirty = (updated & PTE_D) !== 0;
    let permissions = 0;
    if (userAllowed) permissions |= TLB_USER;
    if (dirty && userAllowed && writable) permissions |= TLB_USER_WRITE;
    if (dirty && supervisorWritable) permissions |= TLB_SUPERVISOR_WRITE;
    if ((leaf & PTE_G) !== 0 && (st[S.CR4] & CR4_PGE) !== 0) permissions |= TLB_GLOBAL;
    if (leafAddress === pdeAddress) {
      permissions |= TLB_LARGE;
      this.largeCached = true;
    }
    const slot = (lin >>> PAGE_SHIFT) & SLOT_MASK;
    this.tlb[slot * 2] = lin >>> PAGE_SHIFT;
    this.tlb[slot * 2 + 1] = frame | permissions | this.frameBits(frame >>> PAGE_SHIFT);
    return frame | (lin & OFFSET_MASK);
  }

  private pageFault(lin: number, write: boolean, user: boolean, cause: number): never {
    this.st[S.CR2] = lin;
    return fault(Vec.PF, cause | (write ? PF_WRITE : 0) | (user ? PF_USER : 0));
  }

  /** Whether PAE paging would be in use with these CR0 and CR4 values. */
  static paeActive(cr0: number, cr4: number): boolean {
    return (cr0 & CR0_PG) !== 0 && (cr4 & CR4_PAE) !== 0;
  }

  /**
   * MOV to CR3 (and a task switch's CR3 load): under PAE paging first loads the PDPTE registers
   * from the new PDPT (#GP(0), nothing changed, if one is invalid); then drops every cached
   * translation but the global pages' (SDM 4.10.4.1).
   */
  loadCr3(cr3: number): void {
    if (Paging.paeActive(this.st[S.CR0], this.st[S.CR4])) this.loadPdptes(cr3);
    this.st[S.CR3] = cr3;
    this.flushNonGlobal();
  }

  /**
   * Loads the four PDPTE registers from the PDPT at `cr3`. A present PDPTE with a reserved bit
   * set (2:1, 8:5, 63:36) is #GP(0), and then no register changes (SDM 4.4.1).
   */
  loadPdptes(cr3: number): void {
    this.checkPdpt(cr3);
    this.pdpte.set(this.pdpt);
  }

  /**
   * Reads the PDPT at `cr3` and raises the #GP(0) its load would, changing nothing: a task switch
   * checks the new task's PDPT before its commit point, so the fault is raised in the old task.
   */
  checkPdpt(cr3: number): void {
    const pdpt = this.pdpt;
    const base = cr3 & PDPT_MASK;
    for (let k = 0; k < 8; k++) pdpt[k] = this.mem.read32((base + k * 4) & this.st[S.A20_MASK]);
    for (let k = 0; k < 8; k += 2) {
      if ((pdpt[k] & PTE_P) !== 0 && ((pdpt[k] & PDPTE_RESERVED) !== 0 || (pdpt[k + 1] & PAE_HIGH_RESERVED) !== 0)) fault(Vec.GP, 0);
    }
  }

  /** Told the linear pages [first, first + count) INVLPG forgot (the JIT's jump cache forgets them too). */
  onFlushPages: ((first: number, count: number) => void) | null = null;

  /** Forgets every translation (paging turned on or off, CR0.WP, CR4.PSE, CR4.PAE or CR4.PGE changed). */
  flushAll(): void {
    mappingsMoved(this.st);
    for (let k = 0; k < this.tlb.length; k += 2) this.tlb[k] = EMPTY;
    this.largeCached = false;
  }

  /** A CR3 load: forgets every translation but the global ones (MAPPING_EPOCH moves, GLOBAL_EPOCH stays). */
  flushNonGlobal(): void {
    this.st[S.MAPPING_EPOCH]++;
    const tlb = this.tlb;
    for (let k = 0; k < tlb.length; k += 2) {
      if ((tlb[k + 1] & TLB_GLOBAL) === 0) tlb[k] = EMPTY;
    }
  }

  /**
   * INVLPG: forgets the translation of one page, global or not. When the address lies in a
   * 4 MiB (2 MiB under PAE) page, that is the whole large page: every piece of it cached. The
   * pages go to onFlushPages; no epoch moves.
   */
  flushPage(lin: number): void {
    const tlb = this.tlb;
    const page = lin >>> PAGE_SHIFT;
    if (tlb[(page & SLOT_MASK) * 2] === page) tlb[(page & SLOT_MASK) * 2] = EMPTY;
    if (!this.largeCached) {
      this.onFlushPages?.(page, 1);
      return;
    }
    const pages = (this.st[S.CR4] & CR4_PAE) !== 0 ? 512 : 1024;
    const first = page & -pages;
    this.onFlushPages?.(first, pages);
    for (let p = first; p < first + pages; p++) {
      const k = (p & SLOT_MASK) * 2;
      if (tlb[k] === p && (tlb[k + 1] & TLB_LARGE) !== 0) tlb[k] = EMPTY;
    }
  }
}
