import type { Cpu } from '../cpu.js';
import { fault, Vec } from '../faults.js';
import { AF, CF, DF, getCF, getEflags, IF, IOPL, PF, SF, setFlagBits, ZF } from '../flags.js';
import { S } from '../state-layout.js';
import { HandlerMap } from './operands.js';

/**
 * CLI/STI need CPL <= IOPL in protected mode; V86 mode runs at CPL 3, so there IOPL 3
 * (virtual-interrupt extensions are not offered).
 */
function checkIopl(cpu: Cpu): void {
  if (!cpu.protectedMode) return;
  if (cpu.st[S.CPL] > (cpu.st[S.EFLAGS] & IOPL) >> 12) fault(Vec.GP, 0);
}

/** The instructions that only read or write flags. */
export const FLAG_OPS: HandlerMap = {
  CLC: () => (cpu) => setFlagBits(cpu.st, CF, 0),
  STC: () => (cpu) => setFlagBits(cpu.st, CF, CF),
  CMC: () => (cpu) => setFlagBits(cpu.st, CF, getCF(cpu.st) ^ CF),
  CLD: () => (cpu) => { cpu.st[S.EFLAGS] &= ~DF; },
  STD: () => (cpu) => { cpu.st[S.EFLAGS] |= DF; },
  CLI: () => (cpu) => { checkIopl(cpu); cpu.st[S.EFLAGS] &= ~IF; },
  STI: () => (cpu) => {
    checkIopl(cpu);
    // Interrupts stay blocked until after the next instruction, so STI; HLT cannot miss one.
    if ((cpu.st[S.EFLAGS] & IF) === 0) cpu.st[S.INT_SHADOW] = 2;
    cpu.st[S.EFLAGS] |= IF;
  },
  LAHF: () => (cpu) => cpu.setReg8(4, getEflags(cpu.st) & 0xff),
  SAHF: () => (cpu) => setFlagBits(cpu.st, SF | ZF | AF | PF | CF, cpu.getReg8(4)),
  SALC: () => (cpu) => cpu.setReg8(0, getCF(cpu.st) ? 0xff : 0),
};
