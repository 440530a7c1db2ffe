import type { Cpu } from './cpu.js';
import { fault, Vec } from './faults.js';
import { VM } from './flags.js';
import { S, Seg } from './state-layout.js';

/** A segment descriptor as read from the GDT or LDT. */
export interface Descriptor {
  base: number;
  /** Limit in bytes (granularity applied). */
  limit: number;
  /** Descriptor bits 8-23 of the high word: type, S, DPL, P, AVL, D/B, G. */
  flags: number;
}

export const DESC_PRESENT = 0x80;
export const DESC_SEGMENT = 0x10;
export const DESC_CODE = 0x08;
export const DESC_BIG = 0x4000;

export function realOrV86(cpu: Cpu): boolean {
  return !cpu.protectedMode || (cpu.st[S.EFLAGS] & VM) !== 0;
}

/** Reads the descriptor a selector names; #GP(selector) when it lies outside its table. */
export function readDescriptor(cpu: Cpu, selector: number): Descriptor {
  const st = cpu.st;
  const index = selector & 0xfff8;
  let tableBase: number, tableLimit: number;
  if (selector & 4) {
    if ((st[S.LDTR] & 0xfffc) === 0) fault(Vec.GP, selector & 0xfffc);
    tableBase = st[S.LDTR_BASE];
    tableLimit = st[S.LDTR_LIMIT];
  } else {
    tableBase = st[S.GDTR_BASE];
    tableLimit = st[S.GDTR_LIMIT];
  }
  if (index + 7 > tableLimit >>> 0) fault(Vec.GP, selector & 0xfffc);
  const lo = cpu.readLin32(tableBase + index);
  const hi = cpu.readLin32(tableBase + index + 4);
  return decodeDescriptor(lo, hi);
}

export function decodeDescriptor(lo: number, hi: number): Descriptor {
  const base = ((lo >>> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000)) >>> 0;
  let limit = (lo & 0xffff) | (hi & 0xf0000);
  if (hi & 0x800000) limit = ((limit << 12) | 0xfff) >>> 0;
  return { base, limit, flags: (hi >>> 8) & 0xf0ff };
}

/** Fills a segment register's selector and descriptor cache directly; CS and SS also set the default sizes. */
export function setSegmentCache(cpu: Cpu, seg: number, selector: number, base: number, limit: number, flags: number): void {
  const st = cpu.st;
  st[S.SEL + seg] = selector;
  st[S.SEG_BASE + seg] = base;
  st[S.SEG_LIMIT + seg] = limit;
  st[S.SEG_FLAGS + seg] = flags;
  if (seg === Seg.CS) st[S.CS_DEFAULT32] = (flags & DESC_BIG) ? 1 : 0;
  else if (seg === Seg.SS) st[S.SS_DEFAULT32] = (flags & DESC_BIG) ? 1 : 0;
}

/**
 * Loads a segment register. Real and V86 mode change only selector and base, so limits and
 * sizes set in protected mode survive ("unreal" mode), as on hardware. Protected mode reads
 * the descriptor; the full type and privilege checks arrive with the protected-mode issue.
 */
export function loadSegment(cpu: Cpu, seg: number, selector: number): void {
  selector &= 0xffff;
  const st = cpu.st;
  if (realOrV86(cpu)) {
    st[S.SEL + seg] = selector;
    st[S.SEG_BASE + seg] = selector << 4;
    return;
  }
  if ((selector & 0xfffc) === 0) {
    if (seg === Seg.SS || seg === Seg.CS) fault(Vec.GP, 0);
    setSegmentCache(cpu, seg, selector, 0, 0, 0);
    return;
  }
  const d = readDescriptor(cpu, selector);
  if ((d.flags & DESC_SEGMENT) === 0) fault(Vec.GP, selector & 0xfffc);
  if ((d.flags & DESC_PRESENT) === 0) fault(seg === Seg.SS ? Vec.SS : Vec.NP, selector & 0xfffc);
  setSegmentCache(cpu, seg, selector, d.base, d.limit, d.flags);
}

/** Selector and base of a far jump/call/return target in real mode, or a descriptor load in protected mode. */
export function loadCodeSegment(cpu: Cpu, selector: number): void {
  loadSegment(cpu, Seg.CS, selector);
}

/** Enters flat 32-bit protected mode directly (boot protocols that start there, like Multiboot). */
export function enterFlatProtectedMode(cpu: Cpu): void {
  const st = cpu.st;
  st[S.CR0] |= 1;
  const code = 0xcf9b, data = 0xcf93;
  setSegmentCache(cpu, Seg.CS, 0x08, 0, -1, code);
  for (const seg of [Seg.ES, Seg.SS, Seg.DS, Seg.FS, Seg.GS]) setSegmentCache(cpu, seg, 0x10, 0, -1, data);
}
