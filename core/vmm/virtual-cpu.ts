import type { Cpu } from '../cpu/cpu.js';
import { VM } from '../cpu/flags.js';
import { DESC_PRESENT, DESC_SEGMENT } from '../cpu/segments.js';
import { S, Seg } from '../cpu/state-layout.js';

/** The DPL field of a segment cache's flags word, and DPL 1 in it. */
const DPL_BITS = 0x60, DPL1 = 0x20;
const PRESENT_SEGMENT = DESC_PRESENT | DESC_SEGMENT;

/**
 * The guest's privilege state as the monitor keeps it, and the two views of the CPU state.
 *
 * In the **real view** (guest code running) a guest at virtual CPL 0 runs at CPL 1: S.CPL is 1,
 * CS and SS hold RPL 1, their caches (and any data segment cache loaded from a guest DPL-0
 * descriptor) DPL 1, and segment loads read the monitor's shadow descriptors (DPL 0 shown as 1).
 * In the **guest view** (the monitor emulating an instruction or delivering an interrupt) the same
 * state shows what ring 0 would hold: CPL 0, CS and SS with RPL and DPL 0, descriptors read
 * from the guest's own tables. Everything else (EFLAGS with IF and IOPL, CR0-CR4, GDTR, IDTR,
 * LDTR, TR) is the guest's in both views: see docs/ARCHITECTURE.md for why.
 */
export class VirtualCpu {
  constructor(private readonly cpu: Cpu) {}

  /** True while the real CPL 1 stands for the guest's CPL 0 (kept in the state block, where translated code sees it). */
  get deprivileged(): boolean {
    return this.cpu.st[S.DEPRIVILEGED] !== 0;
  }
  set deprivileged(on: boolean) {
    this.cpu.st[S.DEPRIVILEGED] = on ? 1 : 0;
  }

  /** The CPL the guest believes it runs at. */
  get cpl(): number {
    return this.deprivileged ? 0 : this.cpu.st[S.CPL];
  }

  /** Real view to guest view. */
  toGuestView(): void {
    const st = this.cpu.st;
    this.cpu.shadow = null;
    if (!this.deprivileged) return;
    st[S.CPL] = 0;
    st[S.SEL + Seg.CS] &= ~3;
    st[S.SEL + Seg.SS] &= ~3;
    st[S.SEG_FLAGS + Seg.CS] &= ~DPL_BITS;
    st[S.SEG_FLAGS + Seg.SS] &= ~DPL_BITS;
  }

  /**
   * Guest view to real view: protected-mode code at CPL 0 (not V86) is moved to CPL 1, and the
   * segment caches follow the shadow tables (guest DPL 0 becomes DPL 1).
   */
  toRealView(shadow: Cpu['shadow']): void {
    const cpu = this.cpu;
    const st = cpu.st;
    this.deprivileged = cpu.protectedMode && (st[S.EFLAGS] & VM) === 0 && st[S.CPL] === 0;
    cpu.shadow = shadow;
    if (!this.deprivileged) return;
    st[S.CPL] = 1;
    st[S.SEL + Seg.CS] = (st[S.SEL + Seg.CS] & ~3) | 1;
    st[S.SEL + Seg.SS] = (st[S.SEL + Seg.SS] & ~3) | 1;
    for (let seg = Seg.ES; seg <= Seg.GS; seg++) {
      const flags = st[S.SEG_FLAGS + seg];
      if ((flags & PRESENT_SEGMENT) === PRESENT_SEGMENT && (flags & DPL_BITS) === 0) st[S.SEG_FLAGS + seg] = flags | DPL1;
    }
  }
}
