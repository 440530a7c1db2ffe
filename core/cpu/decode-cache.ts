import { Insn } from '../decoder/decoder.js';
import type { MemoryBus } from '../mmu/memory-bus.js';
import type { Exec } from './ops/operands.js';

/** A decoded instruction bound to its executor, so dispatch is one call. */
export class BoundInsn extends Insn {
  exec: Exec = () => {};
  /** The argument of a shared executor (see SharedExec). */
  arg = 0;
  /** Whether the instruction needs the LOCK/privilege/mode checks before it runs. */
  needsChecks = false;
  /** Whether the instruction ends a basic block (Attr.END). */
  endsBlock = false;
}

/** This cache's bit in MemoryBus.codePage. */
export const DECODED_CODE = 1;
const PAGE_SHIFT = 12;
const PAGE_SIZE = 1 << PAGE_SHIFT;
const MAX_INSN = 15;
/** Past this many cached instructions the cache starts over, bounding its memory. */
const CAPACITY = 1 << 20;

/**
 * Decoded instructions by physical address, so hot code is decoded once (Bochs' icache idea).
 * Only instructions that lie inside one RAM page are kept. The memory bus reports every write
 * to a page holding cached code, and the instructions overlapping the written bytes are
 * dropped, so self-modifying code is seen at the next instruction, as on hardware.
 */
export class DecodeCache {
  /**
   * Page number -> index into `pages` (0: nothing cached). A typed index because a JS array
   * with a million holes would fall back to dictionary elements, a hash lookup per instruction.
   */
  private readonly slotOfPage = new Int32Array(1 << (32 - PAGE_SHIFT));
  private pages: (BoundInsn | undefined)[][] = [[]];
  private count = 0;

  constructor(private readonly mem: MemoryBus) {
    mem.onCodeWrite = (address, bytes) => this.invalidate(address, bytes);
  }

  /** The cached instruction at a physical address decoded with the given default size, if any. */
  lookup(phys: number, default32: boolean): BoundInsn | undefined {
    const slot = this.slotOfPage[phys >>> PAGE_SHIFT];
    if (slot === 0) return undefined;
    const insn = this.pages[slot][phys & (PAGE_SIZE - 1)];
    return insn !== undefined && insn.default32 === default32 ? insn : undefined;
  }

  /** Whether an instruction decoded at this physical address can be kept. */
  cacheable(phys: number, decoded: Insn): boolean {
    return (phys & (PAGE_SIZE - 1)) + decoded.length <= PAGE_SIZE && this.mem.isRam(phys);
  }

  /** Keeps a bound copy of a decoded instruction (the caller checked `cacheable`). */
  insert(phys: number, bound: BoundInsn): void {
    const offset = phys & (PAGE_SIZE - 1);
    if (this.count >= CAPACITY) this.clear();
    const number = phys >>> PAGE_SHIFT;
    let slot = this.slotOfPage[number];
    if (slot === 0) {
      slot = this.pages.length;
      this.pages.push(new Array(PAGE_SIZE));
      this.slotOfPage[number] = slot;
      this.mem.markCode(number, DECODED_CODE);
    }
    const page = this.pages[slot];
    page[offset] = bound;
    this.count++;
  }

  /** Drops every cached instruction that overlaps [address, address + bytes), a range inside one page. */
  invalidate(address: number, bytes: number): void {
    const slot = this.slotOfPage[address >>> PAGE_SHIFT];
    if (slot === 0) return;
    const page = this.pages[slot];
    const first = Math.max(0, (address & (PAGE_SIZE - 1)) - (MAX_INSN - 1));
    const last = (address & (PAGE_SIZE - 1)) + bytes - 1;
    for (let k = first; k <= last; k++) {
      const insn = page[k];
      if (insn !== undefined && k + insn.length > (address & (PAGE_SIZE - 1))) {
        page[k] = undefined;
        this.count--;
      }
    }
  }

  /** Forgets everything (mode changes that alter decoding are keyed, so this is only for capacity). */
  clear(): void {
    this.pages = [[]];
    this.slotOfPage.fill(0);
    for (let page = 0; page < this.mem.codePage.length; page++) this.mem.unmarkCode(page, DECODED_CODE);
    this.count = 0;
  }
}
