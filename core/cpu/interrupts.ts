import type { Cpu } from './cpu.js';
import { DR7_GD } from './debug-registers.js';
import { CpuFault, fault, GuestError, Vec, VECTOR_NAMES } from './faults.js';
import { AC, IF, NT, RF, TF, VM } from './flags.js';
import { checkCodeLimit, enterInnerStack, frameAddresses, innerStack, writeFrame } from './privilege.js';
import { DESC_PRESENT, dplOf, isCode, isConformingCode, loadCodeDescriptor, loadSegment, readDescriptor } from './segments.js';
import { Reg, S, Seg } from './state-layout.js';
import { interruptTask } from './task-switch.js';
import { interruptFromV86 } from './v86.js';

/** Exceptions that push an error code in protected mode. */
const HAS_ERROR_CODE = new Set([Vec.DF, Vec.TS, Vec.NP, Vec.SS, Vec.GP, Vec.PF, Vec.AC]);
/** The IDT gate type that names a TSS instead of a handler. */
const TASK_GATE = 0x5;
/** Contributory exceptions: two in a row make a double fault. */
const CONTRIBUTORY = new Set([Vec.DE, Vec.TS, Vec.NP, Vec.SS, Vec.GP]);

/**
 * Delivers an interrupt or exception with EIP already set to the address the frame must
 * hold: the faulting instruction for faults, the next instruction for traps and INT n.
 */
export function deliverInterrupt(cpu: Cpu, vector: number, errorCode: number, software: boolean): void {
  if (!cpu.protectedMode) deliverReal(cpu, vector);
  else if (cpu.monitor !== null) cpu.monitor.deliver(vector, errorCode, software);
  else deliverProtected(cpu, vector, errorCode, software);
}

function deliverReal(cpu: Cpu, vector: number): void {
  const st = cpu.st;
  if (vector * 4 + 3 > st[S.IDTR_LIMIT] >>> 0) fault(Vec.GP, vector * 8 + 2);
  const flags = cpu.eflags;
  cpu.push(16, flags);
  cpu.push(16, st[S.SEL + Seg.CS]);
  cpu.push(16, st[S.EIP]);
  const entry = st[S.IDTR_BASE] + vector * 4;
  const ip = cpu.readLin16(entry);
  const cs = cpu.readLin16(entry + 2);
  loadSegment(cpu, Seg.CS, cs);
  st[S.EIP] = ip;
  cpu.setEflags(0, IF | TF | AC | RF);
}

/**
 * Task gates switch to the task they name (SDM 6.12.2, task-switch.ts). Interrupt and trap
 * gates (SDM 6.12.1): to the handler's level when its code segment is
 * non-conforming and more privileged, with the stack from the TSS receiving SS, ESP, EFLAGS, CS,
 * EIP and the error code; otherwise at the current level on the current stack. The frame is
 * written before any register changes, so a fault while writing it leaves the state as it was.
 * From V86 mode (CPL 3) the handler must be non-conforming ring-0 code, else #GP(selector)
 * (v86.ts builds that frame). The deprivileging monitor calls this in its guest view.
 */
export function deliverProtected(cpu: Cpu, vector: number, errorCode: number, software: boolean): void {
  const st = cpu.st;
  const v86 = (st[S.EFLAGS] & VM) !== 0;
  const idt = vector * 8;
  if (idt + 7 > st[S.IDTR_LIMIT] >>> 0) fault(Vec.GP, idt + 2);
  const lo = cpu.readSystem(32, st[S.IDTR_BASE] + idt);
  const hi = cpu.readSystem(32, st[S.IDTR_BASE] + idt + 4);
  const type = (hi >> 8) & 0x1f;
  const gate32 = (type & 0x8) !== 0;
  // Anything but an interrupt, trap or task gate (a zeroed entry, a segment descriptor) is #GP.
  if (type !== TASK_GATE && type !== 0x6 && type !== 0x7 && type !== 0xe && type !== 0xf) fault(Vec.GP, idt + 2);
  if (software && dplOf(hi >> 8) < st[S.CPL]) fault(Vec.GP, idt + 2);
  if ((hi & 0x8000) === 0) fault(Vec.NP, idt + 2);
  if (type === TASK_GATE) {
    interruptTask(cpu, lo >>> 16, errorCode);
    return;
  }
  const selector = lo >>> 16;
  if ((selector & 0xfffc) === 0) fault(Vec.GP, 0);
  const code = readDescriptor(cpu, selector);
  const cpl = st[S.CPL];
  const dpl = dplOf(code.flags);
  if (!isCode(code.flags) || dpl > cpl) fault(Vec.GP, selector & 0xfffc);
  if ((code.flags & DESC_PRESENT) === 0) fault(Vec.NP, selector & 0xfffc);
  const target = gate32 ? (hi & 0xffff0000) | (lo & 0xffff) : lo & 0xffff;
  checkCodeLimit(code, target);
  const size = gate32 ? 32 : 16;
  if (v86) {
    if (isConformingCode(code.flags) || dpl !== 0) fault(Vec.GP, selector & 0xfffc);
    interruptFromV86(cpu, selector, code, target, size, errorCode, (type & 1) === 0);
    return;
  }
  const frame = [cpu.eflags, st[S.SEL + Seg.CS], st[S.EIP]];
  if (errorCode >= 0) frame.push(errorCode);
  if (!isConformingCode(code.flags) && dpl < cpl) {
    const stack = innerStack(cpu, dpl);
    frame.unshift(st[S.SEL + Seg.SS], st[Reg.ESP]);
    const bytes = size >> 3;
    writeFrame(cpu, dpl, size, frameAddresses(stack.d, stack.selector, stack.pointer, frame.length, bytes), frame);
    enterInnerStack(cpu, stack, frame.length * bytes);
    loadCodeDescriptor(cpu, selector, code, dpl);
  } else {
    for (const v of frame) cpu.push(size, v);
    loadCodeDescriptor(cpu, selector, code, cpl);
  }
  st[S.EIP] = target;
  cpu.setEflags(0, TF | NT | RF | VM | (type & 1 ? 0 : IF));
}

/** Error-code bit 0 (EXT): the fault happened while delivering an event external to the program. */
const EXT = 1;
/** Exceptions whose error code names a selector or IDT entry, and so carries EXT. */
const SELECTOR_ERROR_CODE = new Set([Vec.TS, Vec.NP, Vec.SS, Vec.GP]);

/** The fault with EXT set in its error code (SDM 6.13), for faults raised while delivering an external event. */
function external(f: CpuFault): CpuFault {
  return SELECTOR_ERROR_CODE.has(f.vector) && f.errorCode >= 0 ? new CpuFault(f.vector, f.errorCode | EXT) : f;
}

/**
 * Delivers an event external to the program (a hardware interrupt, a debug trap, ICEBP): a
 * fault during its delivery is an exception of its own, with EXT set in the error code.
 */
export function deliverExternal(cpu: Cpu, vector: number): void {
  try {
    deliverInterrupt(cpu, vector, -1, false);
  } catch (e) {
    if (!(e instanceof CpuFault)) throw e;
    deliverException(cpu, external(e));
  }
}

/**
 * #DB as a trap (single-step, breakpoints, ICEBP): entering its handler clears DR7.GD so the
 * handler can read DR6 (SDM 17.2.4), and it is an external event for EXT.
 */
export function deliverDebugTrap(cpu: Cpu): void {
  cpu.st[S.DR0 + 7] &= ~DR7_GD;
  deliverExternal(cpu, Vec.DB);
}

/**
 * Delivers a CPU exception raised by an instruction. A fault while delivering it (EXT set) is
 * handled serially or becomes a double fault as SDM table 6-5 says: contributory after
 * contributory, or anything but a benign exception after #PF. A fault while delivering #DF is a
 * triple fault (an error for the user).
 */
export function deliverException(cpu: Cpu, f: CpuFault): void {
  const code = cpu.protectedMode && HAS_ERROR_CODE.has(f.vector) ? Math.max(0, f.errorCode) : -1;
  try {
    deliverInterrupt(cpu, f.vector, code, false);
  } catch (caught) {
    if (!(caught instanceof CpuFault)) throw caught;
    const second = external(caught);
    const secondSerious = CONTRIBUTORY.has(second.vector) || second.vector === Vec.PF;
    const escalate = (CONTRIBUTORY.has(f.vector) && CONTRIBUTORY.has(second.vector)) || (f.vector === Vec.PF && secondSerious);
    if (f.vector === Vec.DF) throw tripleFault(cpu, f, second);
    if (escalate || !cpu.protectedMode) {
      try {
        deliverInterrupt(cpu, Vec.DF, cpu.protectedMode ? 0 : -1, false);
      } catch (third) {
        if (!(third instanceof CpuFault)) throw third;
        throw tripleFault(cpu, f, second);
      }
      return;
    }
    deliverException(cpu, second);
  }
}

function tripleFault(cpu: Cpu, first: CpuFault, second: CpuFault): GuestError {
  const at = `${hex(cpu.st[S.SEL + Seg.CS], 4)}:${hex(cpu.st[S.EIP], cpu.code32 ? 8 : 4)}`;
  return new GuestError(`triple fault at ${at}: ${name(first)} could not be delivered (${name(second)} while delivering it)`, 'triple-fault');
}

function name(f: CpuFault): string {
  const n = VECTOR_NAMES[f.vector] ?? `vector ${f.vector}`;
  return f.errorCode >= 0 ? `${n}(0x${f.errorCode.toString(16)})` : n;
}

export function hex(v: number, digits: number): string {
  return (v >>> 0).toString(16).toUpperCase().padStart(digits, '0');
}
