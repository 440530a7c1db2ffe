import type { Cpu } from '../cpu.js';
import type { BoundInsn } from '../decode-cache.js';
import { fault, GuestError, Vec } from '../faults.js';
import { condition, getOF, NT, RF, VM } from '../flags.js';
import { deliverInterrupt } from '../interrupts.js';
import { loadSegment } from '../segments.js';
import { Reg, S, Seg } from '../state-layout.js';
import { HandlerMap, reader, readMemoryPair, signExtend } from './operands.js';
import { popfMask } from './stack.js';

/** Sets EIP to a near target, truncated to the operand size and checked against the CS limit. */
export function jumpNear(cpu: Cpu, target: number, o32: boolean): void {
  const eip = o32 ? target | 0 : target & 0xffff;
  if (eip >>> 0 > cpu.st[S.SEG_LIMIT + Seg.CS] >>> 0) fault(Vec.GP, 0);
  cpu.st[S.EIP] = eip;
}

/** Loads CS:EIP for a far transfer. Privilege-changing transfers and gates arrive with the protected-mode issue. */
export function jumpFar(cpu: Cpu, selector: number, offset: number, o32: boolean): void {
  if (cpu.protectedMode && (cpu.st[S.EFLAGS] & VM) === 0 && (selector & 3) > cpu.st[S.CPL]) {
    throw new GuestError(`far transfer to a less privileged code segment (selector 0x${selector.toString(16)}) is not supported yet`, 'unsupported');
  }
  loadSegment(cpu, Seg.CS, selector);
  jumpNear(cpu, offset, o32);
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
    if (spec.method === 'A') return (cpu, i) => jumpFar(cpu, i.imm2, i.imm, o32);
    const read = reader(entry, 0, o32);
    return (cpu, i) => jumpNear(cpu, read(cpu, i), o32);
  },
  JMPF: (_e, o32) => (cpu, i) => {
    const [offset, selector] = readMemoryPair(cpu, i, o32 ? 32 : 16, 16);
    jumpFar(cpu, selector, offset, o32);
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
    if (spec.method === 'A') return (cpu, i) => callFar(cpu, i.imm2, i.imm, o32);
    const read = reader(entry, 0, o32);
    return (cpu, i) => {
      const target = read(cpu, i);
      cpu.push(size, cpu.st[S.EIP]);
      jumpNear(cpu, target, o32);
    };
  },
  CALLF: (_e, o32) => (cpu, i) => {
    const [offset, selector] = readMemoryPair(cpu, i, o32 ? 32 : 16, 16);
    callFar(cpu, selector, offset, o32);
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
    const size = o32 ? 32 : 16;
    const release = entry.operands.length > 0;
    return (cpu, i) => {
      const offset = cpu.peek(size, 0);
      const selector = cpu.peek(size, size >> 3) & 0xffff;
      jumpFar(cpu, selector, offset, o32);
      cpu.adjustSp(2 * (size >> 3) + (release ? i.imm & 0xffff : 0));
    };
  },
  Jcc: (entry, o32) => ({ exec: conditionalJump, arg: entry.embedded | (o32 ? 16 : 0) }),
  LOOP: loop(() => true),
  LOOPE: loop((cpu) => condition(cpu.st, 4)),
  LOOPNE: loop((cpu) => condition(cpu.st, 5)),
  JCXZ: (_e, o32) => (cpu, i) => { if (counter(cpu, i.a32) === 0) jumpNear(cpu, cpu.st[S.EIP] + i.imm, o32); },
  INT: () => (cpu, i) => softwareInterrupt(cpu, i.imm & 0xff),
  INT3: () => (cpu) => softwareInterrupt(cpu, Vec.BP),
  INTO: () => (cpu) => { if (getOF(cpu.st)) softwareInterrupt(cpu, Vec.OF); },
  INT1: () => (cpu) => deliverInterrupt(cpu, Vec.DB, -1, false),
  IRET: (_e, o32) => {
    const size = o32 ? 32 : 16;
    const bytes = size >> 3;
    return (cpu) => {
      const st = cpu.st;
      if (cpu.protectedMode && (st[S.EFLAGS] & NT) !== 0) {
        throw new GuestError('IRET with NT set (return from a nested task) is not supported yet', 'unsupported');
      }
      const offset = cpu.peek(size, 0);
      const selector = cpu.peek(size, bytes) & 0xffff;
      const flags = cpu.peek(size, 2 * bytes);
      if (cpu.protectedMode && (flags & VM) !== 0 && o32 && st[S.CPL] === 0) {
        throw new GuestError('IRET to virtual-8086 mode is not supported yet', 'unsupported');
      }
      jumpFar(cpu, selector, offset, o32);
      cpu.adjustSp(3 * bytes);
      cpu.setEflags(flags, popfMask(st, o32) | (o32 ? RF : 0));
    };
  },
  BOUND: (_e, o32) => {
    const size = o32 ? 32 : 16;
    return (cpu, i) => {
      const [lower, upper] = readMemoryPair(cpu, i, size, size);
      const index = signExtend(cpu.getReg(size, i.reg), size);
      if (index < signExtend(lower, size) || index > signExtend(upper, size)) fault(Vec.BR);
    };
  },
};

function callFar(cpu: Cpu, selector: number, offset: number, o32: boolean): void {
  const size = o32 ? 32 : 16;
  cpu.push(size, cpu.st[S.SEL + Seg.CS]);
  cpu.push(size, cpu.st[S.EIP]);
  jumpFar(cpu, selector, offset, o32);
}

/** INT n, INT3, INTO: the frame holds the next instruction. IOPL rules for V86 arrive later. */
function softwareInterrupt(cpu: Cpu, vector: number): void {
  deliverInterrupt(cpu, vector, -1, true);
}
