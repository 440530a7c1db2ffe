import { AC, ID, IF, IOPL, RF, VM } from '../flags.js';
import { loadSegment } from '../segments.js';
import { Reg, S, Seg } from '../state-layout.js';
import { checkV86Iopl } from '../v86.js';
import { HandlerMap, reader, SEG_REGS, writer } from './operands.js';

/** EFLAGS bits POPF may change at CPL 0 (VM, RF, VIF and VIP are never changed by POPF). */
const POPF_MASK = 0x4fd5 | IOPL | AC | ID;

export const STACK_OPS: HandlerMap = {
  PUSH: (entry, o32) => {
    const size = o32 ? 32 : 16;
    const spec = entry.operands[0];
    if (spec.method === 'reg' && spec.register! in SEG_REGS) {
      const seg = SEG_REGS[spec.register!];
      return (cpu) => cpu.push(size, cpu.st[S.SEL + seg]);
    }
    const read = reader(entry, 0, o32);
    return (cpu, i) => cpu.push(size, read(cpu, i));
  },
  POP: (entry, o32) => {
    const size = o32 ? 32 : 16;
    const spec = entry.operands[0];
    if (spec.method === 'reg' && spec.register! in SEG_REGS) {
      const seg = SEG_REGS[spec.register!];
      return (cpu) => {
        loadSegment(cpu, seg, cpu.peek(size, 0));
        cpu.adjustSp(size >> 3);
        if (seg === Seg.SS) cpu.st[S.INT_SHADOW] = 2;
      };
    }
    const write = writer(entry, 0, o32);
    return (cpu, i) => write(cpu, i, cpu.pop(size));
  },
  PUSHA: (_e, o32) => {
    const size = o32 ? 32 : 16;
    return (cpu) => {
      const sp = cpu.st[Reg.ESP];
      for (let r = Reg.EAX; r <= Reg.EDI; r++) cpu.push(size, r === Reg.ESP ? sp : cpu.st[r]);
    };
  },
  POPA: (_e, o32) => {
    const size = o32 ? 32 : 16;
    const bytes = size >> 3;
    return (cpu) => {
      const values = [0, 0, 0, 0, 0, 0, 0, 0];
      for (let k = 0; k < 8; k++) values[Reg.EDI - k] = cpu.peek(size, k * bytes);
      for (let r = Reg.EAX; r <= Reg.EDI; r++) if (r !== Reg.ESP) cpu.setReg(size, r, values[r]);
      cpu.adjustSp(8 * bytes);
    };
  },
  PUSHF: (_e, o32) => (cpu) => {
    checkV86Iopl(cpu);
    const flags = cpu.eflags & ~(VM | RF);
    cpu.push(o32 ? 32 : 16, flags);
  },
  POPF: (_e, o32) => (cpu) => {
    checkV86Iopl(cpu);
    const value = cpu.pop(o32 ? 32 : 16);
    cpu.setEflags(value, popfMask(cpu.st, o32));
  },
  ENTER: (_e, o32) => {
    const size = o32 ? 32 : 16;
    const bytes = size >> 3;
    return (cpu, i) => {
      const allocation = i.imm & 0xffff;
      const level = i.imm2 & 0x1f;
      const st = cpu.st;
      const stack32 = cpu.stack32;
      cpu.push(size, st[Reg.EBP]);
      const frame = stack32 ? st[Reg.ESP] : cpu.getReg16(Reg.ESP);
      let bp = stack32 ? st[Reg.EBP] : cpu.getReg16(Reg.EBP);
      for (let k = 1; k < level; k++) {
        bp = stack32 ? (bp - bytes) | 0 : (bp - bytes) & 0xffff;
        cpu.push(size, cpu.readLin(size, cpu.linear(Seg.SS, bp, bytes)));
      }
      if (level > 0) cpu.push(size, frame);
      cpu.adjustSp(-allocation);
      // The new stack top must lie inside SS, or ENTER faults with #SS before changing EBP.
      cpu.linear(Seg.SS, stack32 ? st[Reg.ESP] : cpu.getReg16(Reg.ESP), 1);
      cpu.setReg(size, Reg.EBP, frame);
    };
  },
  LEAVE: (_e, o32) => {
    const size = o32 ? 32 : 16;
    return (cpu) => {
      if (cpu.stack32) cpu.st[Reg.ESP] = cpu.st[Reg.EBP]; else cpu.setReg16(Reg.ESP, cpu.getReg16(Reg.EBP));
      cpu.setReg(size, Reg.EBP, cpu.pop(size));
    };
  },
};

/**
 * Which EFLAGS bits POPF/IRET may change at the current privilege: IOPL only at CPL 0, IF only at
 * CPL <= IOPL. V86 mode runs at CPL 3 and gets here only at IOPL 3 (checkV86Iopl), so IF but not IOPL.
 */
export function popfMask(st: Int32Array, o32: boolean): number {
  let mask = POPF_MASK;
  const cpl = st[S.CPL];
  if ((st[S.CR0] & 1) !== 0) {
    if (cpl > 0) mask &= ~IOPL;
    if (cpl > ((st[S.EFLAGS] & IOPL) >> 12)) mask &= ~IF;
  }
  return o32 ? mask : mask & 0xffff;
}
