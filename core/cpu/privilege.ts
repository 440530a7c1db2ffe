import type { Cpu } from './cpu.js';
import { fault, Vec } from './faults.js';
import {
  checkStackSegment, Descriptor, DESC_BIG, DESC_PRESENT, dplOf, inaccessibleAt,
  isCode, isConformingCode, loadCodeDescriptor, loadDescriptor, readDescriptor, setSegmentCache, withinLimit,
} from './segments.js';
import { Reg, S, Seg } from './state-layout.js';

/** TSS descriptor types with bit 3 set are 32-bit TSSs (available 9, busy 11); 1 and 3 are 16-bit. */
export const TSS_32BIT = 0x8;

/** The stack of an inner privilege level, read from the current TSS and checked (SDM 6.12.1, 5.8.5). */
export interface InnerStack {
  selector: number;
  pointer: number;
  d: Descriptor;
}

/** SS:ESP for privilege level `dpl` from the TSS at TR (SS0:ESP0 ... SS2:ESP2), checked as a stack for that level (#TS). */
export function innerStack(cpu: Cpu, dpl: number): InnerStack {
  const st = cpu.st;
  const tss32 = (st[S.TR_FLAGS] & TSS_32BIT) !== 0;
  const at = tss32 ? 4 + dpl * 8 : 2 + dpl * 4;
  const size = tss32 ? 4 : 2;
  if ((st[S.TR] & 0xfffc) === 0 || at + 2 * size - 1 > st[S.TR_LIMIT] >>> 0) fault(Vec.TS, st[S.TR] & 0xfffc);
  const lin = st[S.TR_BASE] + at;
  const pointer = cpu.readSystem(tss32 ? 32 : 16, lin);
  const selector = cpu.readSystem(16, lin + size);
  return { selector, pointer, d: checkStackSegment(cpu, selector, dpl, Vec.TS) };
}

/**
 * Linear addresses of a frame of `count` items of `bytes` each pushed below `pointer` in the
 * stack segment `d`, or #SS(selector) when it does not fit (the new stack of a privilege change).
 * Item 0 is the first pushed (the highest address).
 */
export function frameAddresses(d: Descriptor, selector: number, pointer: number, count: number, bytes: number): number[] {
  const mask = (d.flags & DESC_BIG) !== 0 ? -1 : 0xffff;
  const out: number[] = [];
  for (let k = 1; k <= count; k++) {
    const offset = (pointer - k * bytes) & mask;
    if (!withinLimit(d.flags, d.limit, offset, bytes)) fault(Vec.SS, selector & 0xfffc);
    out.push((d.base + offset) | 0);
  }
  return out;
}

/**
 * Writes a frame on the stack of privilege level `cpl` with that level's paging rights. Callers
 * commit segment state only after this returns, so a page fault here changes nothing.
 */
export function writeFrame(cpu: Cpu, cpl: number, size: number, addresses: number[], values: number[]): void {
  const st = cpu.st;
  const saved = st[S.CPL];
  st[S.CPL] = cpl;
  try {
    for (let k = 0; k < values.length; k++) cpu.writeLin(size, addresses[k], values[k]);
  } catch (e) {
    st[S.CPL] = saved;
    throw e;
  }
}

/** Switches to the inner stack after its frame was written: SS from the TSS and ESP below the frame. */
export function enterInnerStack(cpu: Cpu, stack: InnerStack, frameBytes: number): void {
  loadDescriptor(cpu, Seg.SS, stack.selector, stack.d);
  const sp = stack.pointer - frameBytes;
  if (cpu.stack32) cpu.st[Reg.ESP] = sp; else cpu.setReg16(Reg.ESP, sp);
}

/**
 * The checks of the CS a far return or IRET pops (SDM RET, IRET): a present code segment with
 * RPL >= CPL, DPL = RPL for non-conforming and DPL <= RPL for conforming code.
 */
export function checkReturnCode(cpu: Cpu, selector: number): Descriptor {
  if ((selector & 0xfffc) === 0) fault(Vec.GP, 0);
  const d = readDescriptor(cpu, selector);
  const error = selector & 0xfffc;
  const rpl = selector & 3;
  const dpl = dplOf(d.flags);
  if (!isCode(d.flags) || rpl < cpu.st[S.CPL]) fault(Vec.GP, error);
  if (isConformingCode(d.flags) ? dpl > rpl : dpl !== rpl) fault(Vec.GP, error);
  if ((d.flags & DESC_PRESENT) === 0) fault(Vec.NP, error);
  return d;
}

/** #GP(0) when EIP lies beyond the code segment that is about to be loaded. */
export function checkCodeLimit(d: Descriptor, eip: number): void {
  if (eip >>> 0 > d.limit) fault(Vec.GP, 0);
}

/**
 * Completes a RETF or IRET to an outer level: CS, CPL, the popped SS:ESP, then DS, ES, FS and
 * GS that the outer level may not use become null (SDM 5.8.6).
 */
export function returnToOuterLevel(cpu: Cpu, cs: number, code: Descriptor, ss: number, stack: Descriptor, esp: number): void {
  const cpl = cs & 3;
  loadCodeDescriptor(cpu, cs, code, cpl);
  loadDescriptor(cpu, Seg.SS, ss, stack);
  if (cpu.stack32) cpu.st[Reg.ESP] = esp; else cpu.setReg16(Reg.ESP, esp);
  for (const seg of [Seg.ES, Seg.DS, Seg.FS, Seg.GS]) {
    if (inaccessibleAt(cpu, seg, cpl)) setSegmentCache(cpu, seg, 0, 0, 0, 0);
  }
}

/** Reads the SS:ESP pair a return to an outer level pops, at ESP + offset, and checks SS for that level. */
export function outerStack(cpu: Cpu, size: number, offset: number, cpl: number): { selector: number; esp: number; d: Descriptor } {
  const esp = cpu.peek(size, offset);
  const selector = cpu.peek(size, offset + (size >> 3)) & 0xffff;
  return { selector, esp, d: checkStackSegment(cpu, selector, cpl, Vec.GP) };
}
