import type { Cpu } from '../cpu.js';
import type { BoundInsn } from '../decode-cache.js';
import { fault, Vec } from '../faults.js';
import { condition, getOF } from '../flags.js';
import { farCall, farJump, farReturn, interruptReturn } from '../far-transfer.js';
import { deliverDebugTrap, deliverInterrupt } from '../interrupts.js';
import { Reg, S, Seg } from '../state-layout.js';
import { checkV86Iopl } from '../v86.js';
import { HandlerMap, reader, readMemoryPair, signExtend } from './operands.js';

/** Sets EIP to a near target, truncated to the operand size and checked against the CS limit. */
export function jumpNear(cpu: Cpu, target: number, o32: boolean): void {
  const eip = o32 ? target | 0 : target & 0xffff;
  if (eip >>> 0 > cpu.st[S.SEG_LIMIT + Seg.CS] >>> 0) fault(Vec.GP, 0);
  cpu.st[S.EIP] = eip;
}

/** Every Jcc shares this executor (see SharedExec): the argument is the condition, plus 16 for 32-bit operand size. */
export function conditionalJump(cpu: Cpu, i: BoundInsn): void {
  if (condition(cpu.st, i.arg & 15)) jumpNear(cpu, cpu.st[S.EIP] + i.imm, i.arg >= 16);
}

function counter(cpu: Cpu, a32: boolean): number {
  return a32 ? cpu.st[Reg.ECX] : cpu.getReg16(Reg.ECX);
}

function decrementCounter(cpu: Cpu, a32: boolean): number {
  if (a32) return (cpu.st[Reg.ECX] = cpu.st[Reg.ECX] - 1);
  const cx = (cpu.getReg16(Reg.ECX) - 1) & 0xffff;
  cpu.setReg16(Reg.ECX, cx);
  return cx;
}

function loop(test: (cpu: Cpu) => boolean): HandlerMap[string] {
  return (_e, o32) => (cpu, i) => {
    if (decrementCounter(cpu, i.a32) !== 0 && test(cpu)) jumpNear(cpu, cpu.st[S.EIP] + i.imm, o32);
  };
}

export const CONTROL_OPS: HandlerMap = {
  JMP: (entry, o32) => {
    const spec = entry.operands[0];
    if (spec.method === 'J') return (cpu, i) => jumpNear(cpu, cpu.st[S.EIP] + i.imm, o32);
    if (spec.method === 'A') return (cpu, i) => farJump(cpu, i.imm2, i.imm, o32);
    const read = reader(entry, 0, o32);
    return (cpu, i) => jumpNear(cpu, read(cpu, i), o32);
  },
  JMPF: (_e, o32) => (cpu, i) => {
    const [offset, selector] = readMemoryPair(cpu, i, o32 ? 32 : 16, 16);
    farJump(cpu, selector, offset, o32);
  },
  CALL: (entry, o32) => {
    const size = o32 ? 32 : 16;
    const spec = entry.operands[0];
    if (spec.method === 'J') {
      return (cpu, i) => {
        const next = cpu.st[S.EIP];
        const target = next + i.imm;
        cpu.push(size, next);
        jumpNear(cpu, target, o32);
      };
    }
    if (spec.method === 'A') return (cpu, i) => farCall(cpu, i.imm2, i.imm, o32);
    const read = reader(entry, 0, o32);
    return (cpu, i) => {
      const target = read(cpu, i);
      cpu.push(size, cpu.st[S.EIP]);
      jumpNear(cpu, target, o32);
    };
  },
  CALLF: (_e, o32) => (cpu, i) => {
    const [offset, selector] = readMemoryPair(cpu, i, o32 ? 32 : 16, 16);
    farCall(cpu, selector, offset, o32);
  },
  RET: (entry, o32) => {
    const size = o32 ? 32 : 16;
    const release = entry.operands.length > 0;
    return (cpu, i) => {
      const target = cpu.pop(size);
      jumpNear(cpu, target, o32);
      if (release) cpu.adjustSp(i.imm & 0xffff);
    };
  },
  RETF: (entry, o32) => {
    const release = entry.operands.length > 0;
    return (cpu, i) => farReturn(cpu, o32, release ? i.imm & 0xffff : 0);
  },
  Jcc: (entry, o32) => ({ exec: conditionalJump, arg: entry.embedded | (o32 ? 16 : 0) }),
  LOOP: loop(() => true),
  LOOPE: loop((cpu) => condition(cpu.st, 4)),
  LOOPNE: loop((cpu) => condition(cpu.st, 5)),
  JCXZ: (_e, o32) => (cpu, i) => { if (counter(cpu, i.a32) === 0) jumpNear(cpu, cpu.st[S.EIP] + i.imm, o32); },
  /** INT n (not INT3 or INTO) is IOPL-sensitive in V86 mode. */
  INT: () => (cpu, i) => {
    checkV86Iopl(cpu);
    softwareInterrupt(cpu, i.imm & 0xff);
  },
  INT3: () => (cpu) => softwareInterrupt(cpu, Vec.BP),
  INTO: () => (cpu) => { if (getOF(cpu.st)) softwareInterrupt(cpu, Vec.OF); },
  /**
   * ICEBP: a #DB trap that leaves DR6 alone and, not being INT n, skips the IDT gate's DPL check;
   * like any #DB it clears DR7.GD for the handler, and faults while delivering it carry EXT.
   */
  INT1: () => (cpu) => {
    cpu.interruptInstruction = true;
    deliverDebugTrap(cpu);
  },
  IRET: (_e, o32) => (cpu) => interruptReturn(cpu, o32),
  BOUND: (_e, o32) => {
    const size = o32 ? 32 : 16;
    return (cpu, i) => {
      const [lower, upper] = readMemoryPair(cpu, i, size, size);
      const index = signExtend(cpu.getReg(size, i.reg), size);
      if (index < signExtend(lower, size) || index > signExtend(upper, size)) fault(Vec.BR);
    };
  },
};

/** INT n, INT3, INTO: the frame holds the next instruction; the gate's DPL must allow the CPL (3 in V86 mode). */
function softwareInterrupt(cpu: Cpu, vector: number): void {
  cpu.interruptInstruction = true;
  deliverInterrupt(cpu, vector, -1, true);
}
