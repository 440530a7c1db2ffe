import type { Insn } from '../../decoder/decoder.js';
import type { Cpu } from '../cpu.js';
import { fault, Vec } from '../faults.js';
import { setFlagBits, ZF } from '../flags.js';
import { Descriptor, DESC_CODE, DESC_PRESENT, DESC_SEGMENT, readDescriptor, selectorInTable } from '../segments.js';
import { S } from '../state-layout.js';
import { Builder, HandlerMap } from './operands.js';

/** Type field values of system descriptors (S = 0). */
const TYPE_LDT = 2, TYPE_TSS16 = 1, TYPE_TSS32 = 9, TSS_BUSY = 2;
/** Code segment type bits: conforming, readable; data segment type bit: writable. */
const CONFORMING = 0x4, READABLE = 0x2, WRITABLE = 0x2;
/** System types LAR accepts (TSSs, LDT, call and task gates) and LSL accepts (TSSs, LDT), as bit sets by type. */
const LAR_SYSTEM_TYPES = (1 << 1) | (1 << 2) | (1 << 3) | (1 << 4) | (1 << 5) | (1 << 9) | (1 << 11) | (1 << 12);
const LSL_SYSTEM_TYPES = (1 << 1) | (1 << 2) | (1 << 3) | (1 << 9) | (1 << 11);

/**
 * Stores a word of system state (SMSW, SLDT, STR): to memory always 16 bits, to a register by
 * operand size (P6 processors write all 32 bits of the register).
 */
export function storeSystemWord(cpu: Cpu, i: Insn, o32: boolean, value: number): void {
  if (i.mod === 3) cpu.setReg(o32 ? 32 : 16, i.rm, value);
  else cpu.writeE(i, 16, value);
}

/** LGDT/LIDT: a 16-bit limit and a base, of which 16-bit operand size keeps 24 bits. */
function loadTableRegister(baseWord: number, limitWord: number): Builder {
  return (_e, o32) => (cpu, i) => {
    const lin = cpu.eaLinear(i, 6);
    const limit = cpu.readLin16(lin);
    const base = cpu.readLin32(lin + 2);
    cpu.st[limitWord] = limit;
    cpu.st[baseWord] = o32 ? base : base & 0xffffff;
  };
}

/**
 * SGDT/SIDT store the limit and the full 32-bit base at either operand size: the current SDM
 * (Vol. 2B, SGDT, Operation: "IF OperandSize = 16 or OperandSize = 32 ... DEST[16:47] :=
 * GDTR(Base); (* Full 32-bit base address stored *)"). Older editions said 16-bit operand size
 * zeroes the top byte.
 */
function storeTableRegister(baseWord: number, limitWord: number): Builder {
  return () => (cpu, i) => {
    const lin = cpu.eaLinear(i, 6);
    cpu.writeLin16(lin, cpu.st[limitWord]);
    cpu.writeLin32(lin + 2, cpu.st[baseWord]);
  };
}

function systemType(d: Descriptor): number {
  return d.flags & (DESC_SEGMENT | 0xf);
}

/** LLDT: a null selector leaves the LDT unusable; otherwise an LDT descriptor from the GDT. */
function lldt(cpu: Cpu, i: Insn): void {
  const st = cpu.st;
  const selector = cpu.readE(i, 16);
  if ((selector & 0xfffc) === 0) {
    st[S.LDTR] = selector;
    st[S.LDTR_BASE] = 0;
    st[S.LDTR_LIMIT] = 0;
    return;
  }
  if ((selector & 4) !== 0) fault(Vec.GP, selector & 0xfffc);
  const d = readDescriptor(cpu, selector);
  if (systemType(d) !== TYPE_LDT) fault(Vec.GP, selector & 0xfffc);
  if ((d.flags & DESC_PRESENT) === 0) fault(Vec.NP, selector & 0xfffc);
  st[S.LDTR] = selector;
  st[S.LDTR_BASE] = d.base;
  st[S.LDTR_LIMIT] = d.limit;
}

/** LTR: an available TSS descriptor from the GDT, which it marks busy. */
function ltr(cpu: Cpu, i: Insn): void {
  const st = cpu.st;
  const selector = cpu.readE(i, 16);
  if ((selector & 0xfffc) === 0) fault(Vec.GP, 0);
  if ((selector & 4) !== 0) fault(Vec.GP, selector & 0xfffc);
  const d = readDescriptor(cpu, selector);
  const type = systemType(d);
  if (type !== TYPE_TSS16 && type !== TYPE_TSS32) fault(Vec.GP, selector & 0xfffc);
  if ((d.flags & DESC_PRESENT) === 0) fault(Vec.NP, selector & 0xfffc);
  const typeByte = st[S.GDTR_BASE] + (selector & 0xfff8) + 5;
  cpu.writeSystem8(typeByte, cpu.readSystem(8, typeByte) | TSS_BUSY);
  st[S.TR] = selector;
  st[S.TR_BASE] = d.base;
  st[S.TR_LIMIT] = d.limit;
  st[S.TR_FLAGS] = d.flags | TSS_BUSY;
}

/** Whether a selector names a descriptor inside its table (LAR, LSL, VERR, VERW answer in ZF instead of faulting). */
function inTable(cpu: Cpu, selector: number): boolean {
  return (selector & 0xfffc) !== 0 && selectorInTable(cpu, selector);
}

/** The privilege rule of LAR, LSL, VERR, VERW: DPL >= CPL and DPL >= RPL, except that conforming code is visible to all. */
function privilegeAllows(cpu: Cpu, selector: number, flags: number): boolean {
  const conformingCode = DESC_SEGMENT | DESC_CODE | CONFORMING;
  if ((flags & conformingCode) === conformingCode) return true;
  const dpl = (flags >> 5) & 3;
  return dpl >= cpu.st[S.CPL] && dpl >= (selector & 3);
}

/** The descriptor LAR or LSL may report: any code or data segment, or a system type in `systemTypes`, that privilege allows. */
function reportable(cpu: Cpu, selector: number, systemTypes: number): Descriptor | null {
  if (!inTable(cpu, selector)) return null;
  const d = readDescriptor(cpu, selector);
  if ((d.flags & DESC_SEGMENT) === 0 && ((systemTypes >> (d.flags & 0xf)) & 1) === 0) return null;
  return privilegeAllows(cpu, selector, d.flags) ? d : null;
}

/** VERR/VERW: ZF = 1 when the segment could be read (written) at the current privilege. The present bit is not checked. */
function verify(forWrite: boolean): Builder {
  return () => (cpu, i) => {
    const selector = cpu.readE(i, 16);
    let ok = false;
    if (inTable(cpu, selector)) {
      const flags = readDescriptor(cpu, selector).flags;
      if ((flags & DESC_SEGMENT) !== 0) {
        const code = (flags & DESC_CODE) !== 0;
        const usable = forWrite ? !code && (flags & WRITABLE) !== 0 : !code || (flags & READABLE) !== 0;
        ok = usable && privilegeAllows(cpu, selector, flags);
      }
    }
    setFlagBits(cpu.st, ZF, ok ? ZF : 0);
  };
}

/**
 * Descriptor-table instructions: LGDT/LIDT/SGDT/SIDT, the LDT and task registers, and the
 * descriptor queries LAR, LSL, VERR, VERW, ARPL. The table makes SLDT..ARPL #UD outside
 * protected mode and LLDT/LTR/LGDT/LIDT CPL 0 only.
 */
export const DESCRIPTOR_OPS: HandlerMap = {
  LGDT: loadTableRegister(S.GDTR_BASE, S.GDTR_LIMIT),
  LIDT: loadTableRegister(S.IDTR_BASE, S.IDTR_LIMIT),
  SGDT: storeTableRegister(S.GDTR_BASE, S.GDTR_LIMIT),
  SIDT: storeTableRegister(S.IDTR_BASE, S.IDTR_LIMIT),
  SLDT: (_e, o32) => (cpu, i) => storeSystemWord(cpu, i, o32, cpu.st[S.LDTR] & 0xffff),
  STR: (_e, o32) => (cpu, i) => storeSystemWord(cpu, i, o32, cpu.st[S.TR] & 0xffff),
  LLDT: () => lldt,
  LTR: () => ltr,
  VERR: verify(false),
  VERW: verify(true),
  /** LAR: the access rights (descriptor bits 40-55; bits 16-19 of the result are undefined, here 0 as in QEMU). */
  LAR: (_e, o32) => (cpu, i) => {
    const d = reportable(cpu, cpu.readE(i, 16), LAR_SYSTEM_TYPES);
    if (d !== null) cpu.setReg(o32 ? 32 : 16, i.reg, (d.flags << 8) & 0x00f0ff00);
    setFlagBits(cpu.st, ZF, d !== null ? ZF : 0);
  },
  /** LSL: the segment limit in bytes (granularity applied). */
  LSL: (_e, o32) => (cpu, i) => {
    const d = reportable(cpu, cpu.readE(i, 16), LSL_SYSTEM_TYPES);
    if (d !== null) cpu.setReg(o32 ? 32 : 16, i.reg, d.limit);
    setFlagBits(cpu.st, ZF, d !== null ? ZF : 0);
  },
  /** ARPL: raises the RPL of the destination selector to that of the source; ZF says whether it did. */
  ARPL: () => (cpu, i) => {
    const dest = cpu.readE(i, 16);
    const rpl = cpu.getReg16(i.reg) & 3;
    const raise = (dest & 3) < rpl;
    if (raise) cpu.writeBackE(i, 16, (dest & ~3) | rpl);
    setFlagBits(cpu.st, ZF, raise ? ZF : 0);
  },
};
