import { getCF, setAdd, setIncDec, setLogic, setSub } from '../flags.js';
import type { OpcodeEntry } from '../../decoder/table.js';
import type { Cpu } from '../cpu.js';
import type { BoundInsn } from '../decode-cache.js';
import { HandlerMap, Builder, updateReader, writeBack, operandSize } from './operands.js';

const enum Kind { ADD, OR, ADC, SBB, AND, SUB, XOR, CMP, TEST }

/** The binary ALU operation with its flags; returns the result (not truncated). */
export function alu(st: Int32Array, kind: number, size: number, a: number, b: number): number {
  let r: number, c: number;
  switch (kind) {
    case Kind.ADD: r = (a + b) | 0; setAdd(st, size, a, b, r, 0); return r;
    case Kind.ADC: c = getCF(st); r = (a + b + c) | 0; setAdd(st, size, a, b, r, c); return r;
    case Kind.SUB: case Kind.CMP: r = (a - b) | 0; setSub(st, size, a, b, r, 0); return r;
    case Kind.SBB: c = getCF(st); r = (a - b - c) | 0; setSub(st, size, a, b, r, c); return r;
    case Kind.AND: case Kind.TEST: r = a & b; setLogic(st, size, r); return r;
    case Kind.OR: r = a | b; setLogic(st, size, r); return r;
    default: r = a ^ b; setLogic(st, size, r); return r;
  }
}

/** Operand forms of the binary ALU instructions. */
const enum Form { E_G, G_E, E_I, ACC_I }

/**
 * All binary ALU forms share one executor; the bound argument packs kind, size and form
 * (kind | log2(size / 8) << 4 | form << 6), so the interpreter's call site sees one target.
 */
export function binaryExec(cpu: Cpu, i: BoundInsn): void {
  const arg = i.arg;
  const kind = arg & 15;
  const size = 8 << ((arg >> 4) & 3);
  const form = arg >> 6;
  const st = cpu.st;
  const writes = kind < Kind.CMP;
  if (form === Form.ACC_I) {
    const r = alu(st, kind, size, cpu.getReg(size, 0), i.imm);
    if (writes) cpu.setReg(size, 0, r);
    return;
  }
  if (form === Form.G_E) {
    const b = i.mod === 3 ? cpu.getReg(size, i.rm) : cpu.readLin(size, cpu.eaLinear(i, size >> 3));
    const r = alu(st, kind, size, cpu.getReg(size, i.reg), b);
    if (writes) cpu.setReg(size, i.reg, r);
    return;
  }
  const b = form === Form.E_G ? cpu.getReg(size, i.reg) : i.imm;
  if (i.mod === 3) {
    const r = alu(st, kind, size, cpu.getReg(size, i.rm), b);
    if (writes) cpu.setReg(size, i.rm, r);
    return;
  }
  const lin = writes ? cpu.rmwLinear(i, size >> 3) : cpu.eaLinear(i, size >> 3);
  const r = alu(st, kind, size, cpu.readLin(size, lin), b);
  if (writes) cpu.writeLin(size, lin, r);
}

function formOf(entry: OpcodeEntry): Form {
  const [dst, src] = entry.operands;
  if (dst.method === 'reg') return Form.ACC_I;
  if (dst.method === 'G') return Form.G_E;
  return src.method === 'G' ? Form.E_G : Form.E_I;
}

function binary(kind: Kind): Builder {
  return (entry, o32) => {
    const size = operandSize(entry.operands[0], o32);
    return { exec: binaryExec, arg: kind | (Math.log2(size / 8) << 4) | (formOf(entry) << 6) };
  };
}

/**
 * INC and DEC in all forms share one executor. Argument: 1 for DEC, log2(size / 8) << 1,
 * and for the register-in-opcode forms 8 | register << 4 (otherwise the ModRM operand).
 */
export function incDecExec(cpu: Cpu, i: BoundInsn): void {
  const arg = i.arg;
  const isDec = (arg & 1) !== 0;
  const size = 8 << ((arg >> 1) & 3);
  let lin = 0;
  let a: number;
  const register = (arg & 8) !== 0 ? arg >> 4 : i.mod === 3 ? i.rm : -1;
  if (register >= 0) a = cpu.getReg(size, register);
  else a = cpu.readLin(size, (lin = cpu.rmwLinear(i, size >> 3)));
  const r = isDec ? (a - 1) | 0 : (a + 1) | 0;
  setIncDec(cpu.st, size, a, r, isDec);
  if (register >= 0) cpu.setReg(size, register, r); else cpu.writeLin(size, lin, r);
}

function incDec(isDec: boolean): Builder {
  return (entry, o32) => {
    const size = operandSize(entry.operands[0], o32);
    const embedded = entry.operands[0].method === 'Z' ? 8 | (entry.embedded << 4) : 0;
    return { exec: incDecExec, arg: (isDec ? 1 : 0) | (Math.log2(size / 8) << 1) | embedded };
  };
}

export const ALU_OPS: HandlerMap = {
  ADD: binary(Kind.ADD), OR: binary(Kind.OR), ADC: binary(Kind.ADC), SBB: binary(Kind.SBB),
  AND: binary(Kind.AND), SUB: binary(Kind.SUB), XOR: binary(Kind.XOR), CMP: binary(Kind.CMP),
  TEST: binary(Kind.TEST),
  INC: incDec(false),
  DEC: incDec(true),
  NOT: (entry, o32) => {
    const read = updateReader(entry, 0, o32);
    const write = writeBack(entry, 0, o32);
    return (cpu, i) => write(cpu, i, ~read(cpu, i));
  },
  NEG: (entry, o32) => {
    const size = operandSize(entry.operands[0], o32);
    const read = updateReader(entry, 0, o32);
    const write = writeBack(entry, 0, o32);
    return (cpu, i) => {
      const a = read(cpu, i);
      const r = (0 - a) | 0;
      setSub(cpu.st, size, 0, a, r, 0);
      write(cpu, i, r);
    };
  },
};
