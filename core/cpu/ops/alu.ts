import { getCF, setAdd, setIncDec, setLogic, setSub } from '../flags.js';
import { HandlerMap, Builder, reader, writeBack, operandSize } from './operands.js';

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

function binary(kind: Kind): Builder {
  return (entry, o32) => {
    const size = operandSize(entry.operands[0], o32);
    const readDst = reader(entry, 0, o32);
    const readSrc = reader(entry, 1, o32);
    if (kind === Kind.CMP || kind === Kind.TEST) {
      return (cpu, i) => { alu(cpu.st, kind, size, readDst(cpu, i), readSrc(cpu, i)); };
    }
    const write = writeBack(entry, 0, o32);
    return (cpu, i) => {
      const a = readDst(cpu, i);
      write(cpu, i, alu(cpu.st, kind, size, a, readSrc(cpu, i)));
    };
  };
}

function incDec(isDec: boolean): Builder {
  return (entry, o32) => {
    const size = operandSize(entry.operands[0], o32);
    const read = reader(entry, 0, o32);
    const write = writeBack(entry, 0, o32);
    return (cpu, i) => {
      const a = read(cpu, i);
      const r = isDec ? (a - 1) | 0 : (a + 1) | 0;
      setIncDec(cpu.st, size, a, r, isDec);
      write(cpu, i, r);
    };
  };
}

export const ALU_OPS: HandlerMap = {
  ADD: binary(Kind.ADD), OR: binary(Kind.OR), ADC: binary(Kind.ADC), SBB: binary(Kind.SBB),
  AND: binary(Kind.AND), SUB: binary(Kind.SUB), XOR: binary(Kind.XOR), CMP: binary(Kind.CMP),
  TEST: binary(Kind.TEST),
  INC: incDec(false),
  DEC: incDec(true),
  NOT: (entry, o32) => {
    const read = reader(entry, 0, o32);
    const write = writeBack(entry, 0, o32);
    return (cpu, i) => write(cpu, i, ~read(cpu, i));
  },
  NEG: (entry, o32) => {
    const size = operandSize(entry.operands[0], o32);
    const read = reader(entry, 0, o32);
    const write = writeBack(entry, 0, o32);
    return (cpu, i) => {
      const a = read(cpu, i);
      const r = (0 - a) | 0;
      setSub(cpu.st, size, 0, a, r, 0);
      write(cpu, i, r);
    };
  },
};
