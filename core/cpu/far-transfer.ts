import type { Cpu } from './cpu.js';
import { fault, Vec } from './faults.js';
import { NT, RF, VIF, VIP, VM } from './flags.js';
import {
  checkCodeLimit, checkReturnCode, enterInnerStack, frameAddresses, innerStack, outerStack, returnToOuterLevel, writeFrame,
} from './privilege.js';
import {
  Descriptor, DESC_PRESENT, DESC_SEGMENT, dplOf, isCode, isConformingCode, loadCodeDescriptor, loadSegment, readDescriptor, realOrV86,
} from './segments.js';
import { Reg, S, Seg } from './state-layout.js';
import { farTaskTransfer, returnFromNestedTask } from './task-switch.js';
import { popfMask } from './ops/stack.js';
import { checkV86Iopl, returnToV86 } from './v86.js';

/** System descriptor types a far JMP/CALL may name (SDM Vol. 3A table 3-2): call gates, the task gate, TSSs (available and busy). */
const CALL_GATE16 = 0x4, CALL_GATE32 = 0xc, TASK_GATE = 0x5, TSS16 = 0x1, TSS32 = 0x9, BUSY_TSS16 = 0x3, BUSY_TSS32 = 0xb;

/** Where a far JMP or CALL goes after every check: the code segment, its descriptor, EIP, and the call gate used, if any. */
interface FarTarget {
  selector: number;
  d: Descriptor;
  eip: number;
  gate: Descriptor | null;
}

/** Real mode and V86: CS is a paragraph, EIP is checked against the (unchanged) CS limit first. */
function realModeTransfer(cpu: Cpu, selector: number, eip: number): void {
  if (eip >>> 0 > cpu.st[S.SEG_LIMIT + Seg.CS] >>> 0) fault(Vec.GP, 0);
  loadSegment(cpu, Seg.CS, selector);
  cpu.st[S.EIP] = eip;
}

/**
 * The code segment a far JMP or CALL names directly (conforming: DPL <= CPL; non-conforming:
 * RPL <= CPL and DPL = CPL), or through a call gate (gate DPL >= CPL and RPL; target DPL <= CPL,
 * and for JMP the rules of a direct transfer). A TSS or task gate switches tasks instead (the
 * offset is ignored) and the answer is null: the new task is already running.
 */
function resolveTarget(cpu: Cpu, selector: number, offset: number, o32: boolean, call: boolean): FarTarget | null {
  const cpl = cpu.st[S.CPL];
  if ((selector & 0xfffc) === 0) fault(Vec.GP, 0);
  const d = readDescriptor(cpu, selector);
  const error = selector & 0xfffc;
  if ((d.flags & DESC_SEGMENT) !== 0) {
    if (!isCode(d.flags)) fault(Vec.GP, error);
    const dpl = dplOf(d.flags);
    if (isConformingCode(d.flags) ? dpl > cpl : (selector & 3) > cpl || dpl !== cpl) fault(Vec.GP, error);
    if ((d.flags & DESC_PRESENT) === 0) fault(Vec.NP, error);
    return { selector, d, eip: o32 ? offset | 0 : offset & 0xffff, gate: null };
  }
  const type = d.flags & 0xf;
  if (type === TASK_GATE || type === TSS16 || type === TSS32 || type === BUSY_TSS16 || type === BUSY_TSS32) {
    farTaskTransfer(cpu, selector, d, call);
    return null;
  }
  if (type !== CALL_GATE16 && type !== CALL_GATE32) fault(Vec.GP, error);
  const gateDpl = dplOf(d.flags);
  if (gateDpl < cpl || gateDpl < (selector & 3)) fault(Vec.GP, error);
  if ((d.flags & DESC_PRESENT) === 0) fault(Vec.NP, error);
  const codeSelector = d.lo >>> 16;
  if ((codeSelector & 0xfffc) === 0) fault(Vec.GP, 0);
  const code = readDescriptor(cpu, codeSelector);
  const codeError = codeSelector & 0xfffc;
  const dpl = dplOf(code.flags);
  if (!isCode(code.flags) || dpl > cpl) fault(Vec.GP, codeError);
  if (!call && !isConformingCode(code.flags) && dpl !== cpl) fault(Vec.GP, codeError);
  if ((code.flags & DESC_PRESENT) === 0) fault(Vec.NP, codeError);
  const eip = type === CALL_GATE32 ? (d.hi & 0xffff0000) | (d.lo & 0xffff) : d.lo & 0xffff;
  return { selector: codeSelector, d: code, eip, gate: d };
}

/** JMP ptr16:16/32 and JMP m16:16/32. */
export function farJump(cpu: Cpu, selector: number, offset: number, o32: boolean): void {
  if (realOrV86(cpu)) { realModeTransfer(cpu, selector, o32 ? offset : offset & 0xffff); return; }
  const t = resolveTarget(cpu, selector, offset, o32, false);
  if (t === null) return;
  checkCodeLimit(t.d, t.eip);
  loadCodeDescriptor(cpu, t.selector, t.d, cpu.st[S.CPL]);
  cpu.st[S.EIP] = t.eip;
}

/**
 * CALL ptr16:16/32 and CALL m16:16/32. Through a call gate to a more privileged non-conforming
 * segment, the stack switches to the TSS's stack for that level, which receives the caller's
 * SS:ESP, the gate's parameter count of words or dwords copied from the caller's stack, and
 * CS:EIP (SDM 5.8.5). A gate's size, not the operand size, sizes the frame.
 */
export function farCall(cpu: Cpu, selector: number, offset: number, o32: boolean): void {
  const st = cpu.st;
  const returnCs = st[S.SEL + Seg.CS];
  const returnEip = st[S.EIP];
  if (realOrV86(cpu)) {
    cpu.push(o32 ? 32 : 16, returnCs);
    cpu.push(o32 ? 32 : 16, returnEip);
    realModeTransfer(cpu, selector, o32 ? offset : offset & 0xffff);
    return;
  }
  const t = resolveTarget(cpu, selector, offset, o32, true);
  if (t === null) return;
  checkCodeLimit(t.d, t.eip);
  const size = t.gate === null ? (o32 ? 32 : 16) : (t.gate.flags & 0xf) === CALL_GATE32 ? 32 : 16;
  const cpl = st[S.CPL];
  const dpl = dplOf(t.d.flags);
  if (t.gate === null || isConformingCode(t.d.flags) || dpl === cpl) {
    cpu.push(size, returnCs);
    cpu.push(size, returnEip);
    loadCodeDescriptor(cpu, t.selector, t.d, cpl);
  } else {
    const stack = innerStack(cpu, dpl);
    const count = t.gate.hi & 0x1f;
    const bytes = size >> 3;
    const values = [st[S.SEL + Seg.SS], st[Reg.ESP]];
    for (let k = count - 1; k >= 0; k--) values.push(cpu.peek(size, k * bytes));
    values.push(returnCs, returnEip);
    writeFrame(cpu, dpl, size, frameAddresses(stack.d, stack.selector, stack.pointer, values.length, bytes), values);
    enterInnerStack(cpu, stack, values.length * bytes);
    loadCodeDescriptor(cpu, t.selector, t.d, dpl);
  }
  st[S.EIP] = t.eip;
}

/**
 * RETF and RETF imm16: to the same level, or to an outer one, which pops SS:ESP after the
 * `release` bytes of parameters and releases them from that stack too (SDM RET).
 */
export function farReturn(cpu: Cpu, o32: boolean, release: number): void {
  const size = o32 ? 32 : 16;
  const bytes = size >> 3;
  const eip = cpu.peek(size, 0);
  const selector = cpu.peek(size, bytes) & 0xffff;
  if (realOrV86(cpu)) {
    realModeTransfer(cpu, selector, eip);
    cpu.adjustSp(2 * bytes + release);
    return;
  }
  const d = checkReturnCode(cpu, selector);
  const cpl = selector & 3;
  if (cpl === cpu.st[S.CPL]) {
    checkCodeLimit(d, eip);
    loadCodeDescriptor(cpu, selector, d, cpl);
    cpu.st[S.EIP] = eip;
    cpu.adjustSp(2 * bytes + release);
    return;
  }
  const outer = outerStack(cpu, size, 2 * bytes + release, cpl);
  checkCodeLimit(d, eip);
  returnToOuterLevel(cpu, selector, d, outer.selector, outer.d, outer.esp + release);
  cpu.st[S.EIP] = eip;
}

/**
 * IRET/IRETD. In protected mode with NT set it returns to the task named by the back-link
 * (task-switch.ts). Otherwise EFLAGS is restored under the rules of the level IRET runs
 * at (IOPL only at CPL 0, IF only at CPL <= IOPL), then as RETF to the same or an outer level.
 * In V86 mode it needs IOPL 3 (#GP(0) otherwise) and returns real-mode style without touching
 * IOPL; at CPL 0 an IRETD whose EFLAGS image has VM set enters V86 mode (v86.ts).
 */
export function interruptReturn(cpu: Cpu, o32: boolean): void {
  const st = cpu.st;
  const size = o32 ? 32 : 16;
  const bytes = size >> 3;
  checkV86Iopl(cpu);
  if (cpu.protectedMode && (st[S.EFLAGS] & (NT | VM)) === NT) {
    returnFromNestedTask(cpu);
    return;
  }
  const eip = cpu.peek(size, 0);
  const selector = cpu.peek(size, bytes) & 0xffff;
  const flags = cpu.peek(size, 2 * bytes);
  let mask = popfMask(st, o32) | (o32 ? RF : 0);
  if (realOrV86(cpu)) {
    realModeTransfer(cpu, selector, eip);
    cpu.adjustSp(3 * bytes);
    cpu.setEflags(flags, mask);
    return;
  }
  if ((flags & VM) !== 0 && o32 && st[S.CPL] === 0) {
    returnToV86(cpu, eip, selector, flags);
    return;
  }
  // At CPL 0 a 32-bit IRET also restores the virtual-interrupt flags.
  if (o32 && st[S.CPL] === 0) mask |= VIF | VIP;
  const d = checkReturnCode(cpu, selector);
  const cpl = selector & 3;
  if (cpl === st[S.CPL]) {
    checkCodeLimit(d, eip);
    loadCodeDescriptor(cpu, selector, d, cpl);
    cpu.adjustSp(3 * bytes);
  } else {
    const outer = outerStack(cpu, size, 3 * bytes, cpl);
    checkCodeLimit(d, eip);
    returnToOuterLevel(cpu, selector, d, outer.selector, outer.d, outer.esp);
  }
  st[S.EIP] = eip;
  cpu.setEflags(flags, mask);
}
