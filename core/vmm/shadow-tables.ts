import type { Cpu } from '../cpu/cpu.js';
import type { DescriptorShadow } from '../cpu/monitor-hooks.js';
import { decodeDescriptor, Descriptor } from '../cpu/segments.js';
import { S } from '../cpu/state-layout.js';

/** The monitor's bit in MemoryBus.codePage (the decode cache has 1, the JIT 2): the page holds shadowed descriptors. */
export const DESCRIPTOR_TABLE = 4;
const PAGE_SHIFT = 12;
/** Descriptor high-word bits: S (code or data), and the DPL field with DPL 1 in it. */
const HI_SEGMENT = 0x1000, HI_DPL = 0x6000, HI_DPL1 = 0x2000;

/**
 * Shadow copies of the guest's GDT and LDT entries, used by segment loads while deprivileged
 * guest code runs. A guest code or data descriptor with DPL 0 appears with DPL 1, so ring-1
 * code may load it as ring-0 code could; everything else is the guest's. Entries are made when
 * first read, keyed by the descriptor's linear address (so LGDT, LLDT and task switches need
 * no flush), and the physical pages they came from are write-tracked through the memory bus's
 * code-page table: any write to such a page (a CPU store under any alias, DMA, the CPU setting
 * an accessed bit) drops that page's entries. A change of CR3 or CR0.PG drops everything, and
 * so does the monitor after INVLPG and writes to CR0/CR4 it emulates, since the linear
 * addresses may then map elsewhere.
 */
export class ShadowTables implements DescriptorShadow {
  /** Linear address of a guest descriptor -> its shadow low and high words. */
  private readonly entries = new Map<number, [number, number]>();
  /** Physical page -> the linear addresses whose entries came from it. */
  private readonly byPage = new Map<number, number[]>();
  private cr3 = 0;
  private pagingOn = false;
  /** Entries made (guest descriptors read) and dropped by tracked writes, for the statistics. */
  fills = 0;
  writeFlushes = 0;

  constructor(private readonly cpu: Cpu) {}

  descriptor(address: number): Descriptor {
    const cpu = this.cpu;
    if (cpu.st[S.CR3] !== this.cr3 || cpu.pagingOn !== this.pagingOn) this.clear();
    const entry = this.entries.get(address) ?? this.fill(address);
    return decodeDescriptor(entry[0], entry[1]);
  }

  /** Called for every write to a page with the DESCRIPTOR_TABLE bit. */
  written(physical: number): void {
    const page = physical >>> PAGE_SHIFT;
    const addresses = this.byPage.get(page);
    this.cpu.mem.unmarkCode(page, DESCRIPTOR_TABLE);
    if (addresses === undefined) return;
    for (const a of addresses) this.entries.delete(a);
    this.byPage.delete(page);
    this.writeFlushes++;
  }

  clear(): void {
    // Kernels write CR3 and run INVLPG often, with hardly ever a shadow made in between.
    if (this.entries.size !== 0 || this.byPage.size !== 0) {
      for (const page of this.byPage.keys()) this.cpu.mem.unmarkCode(page, DESCRIPTOR_TABLE);
      this.entries.clear();
      this.byPage.clear();
    }
    this.cr3 = this.cpu.st[S.CR3];
    this.pagingOn = this.cpu.pagingOn;
  }

  /** Reads the guest's descriptor as the processor would and keeps its shadow when it lies in one RAM page. */
  private fill(address: number): [number, number] {
    const cpu = this.cpu;
    const lo = cpu.readSystem(32, address);
    const hi = cpu.readSystem(32, address + 4);
    const deprivileged = (hi & (HI_SEGMENT | HI_DPL)) === HI_SEGMENT ? hi | HI_DPL1 : hi;
    const entry: [number, number] = [lo, deprivileged];
    this.fills++;
    const first = this.physical(address), last = this.physical(address + 7);
    if (first >>> PAGE_SHIFT !== last >>> PAGE_SHIFT || !cpu.mem.isRam(first)) return entry;
    const page = first >>> PAGE_SHIFT;
    this.entries.set(address, entry);
    const list = this.byPage.get(page);
    if (list === undefined) this.byPage.set(page, [address]); else list.push(address);
    cpu.mem.markCode(page, DESCRIPTOR_TABLE);
    return entry;
  }

  /** The physical address the processor's own (supervisor) access to `lin` reaches; the caller just read it, so it is mapped. */
  private physical(lin: number): number {
    const cpu = this.cpu;
    if (!cpu.pagingOn) return lin & cpu.st[S.A20_MASK];
    cpu.paging.systemAccess = true;
    try { return cpu.paging.translate(lin, false) & cpu.st[S.A20_MASK]; } finally { cpu.paging.systemAccess = false; }
  }
}
