import { fault, Vec } from '../faults.js';
import { CF, OF, setFlagBits, setLogic } from '../flags.js';
import { Reg } from '../state-layout.js';
import { Builder, HandlerMap, operandSize, reader, signExtend } from './operands.js';

/**
 * Multiplication and division: MUL, IMUL (one, two and three operands), DIV, IDIV.
 *
 * Flags: MUL/IMUL set CF = OF = "the product does not fit the destination". For the undefined
 * SF/ZF/PF we follow the P6 as Bochs models it: they come from the low half of the product as
 * for a logical result, and AF is cleared (the 80286 differs; its vectors mask these flags).
 * DIV/IDIV leave all flags unchanged (all undefined).
 */

/** High 32 bits of the unsigned 64-bit product of a and b (any int32 or uint32 representation). */
export function mulHighUnsigned(a: number, b: number): number {
  const aLo = a & 0xffff, aHi = a >>> 16, bLo = b & 0xffff, bHi = b >>> 16;
  const lh = aLo * bHi, hl = aHi * bLo;
  const mid = ((aLo * bLo) >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  return (aHi * bHi + (lh >>> 16) + (hl >>> 16) + (mid >>> 16)) | 0;
}

/** High 32 bits of the signed 64-bit product of int32 a and b. */
export function mulHighSigned(a: number, b: number): number {
  return (mulHighUnsigned(a, b) - (a < 0 ? b : 0) - (b < 0 ? a : 0)) | 0;
}

/** The flags a multiply leaves: SF/ZF/PF from the low half, AF = 0, CF = OF = overflow. */
function setMulFlags(st: Int32Array, size: number, low: number, overflow: boolean): void {
  setLogic(st, size, low);
  if (overflow) setFlagBits(st, CF | OF, CF | OF);
}

/** MUL Eb/Ev: AX = AL * src, DX:AX = AX * src, EDX:EAX = EAX * src. */
const mul: Builder = (entry, o32) => {
  const size = operandSize(entry.operands[0], o32);
  if (size === 8) return (cpu, i) => {
    const p = (cpu.st[Reg.EAX] & 0xff) * cpu.readE(i, 8);
    cpu.setReg16(Reg.EAX, p);
    setMulFlags(cpu.st, 8, p, p > 0xff);
  };
  if (size === 16) return (cpu, i) => {
    const p = (cpu.st[Reg.EAX] & 0xffff) * cpu.readE(i, 16);
    cpu.setReg16(Reg.EAX, p);
    cpu.setReg16(Reg.EDX, p >>> 16);
    setMulFlags(cpu.st, 16, p, p > 0xffff);
  };
  return (cpu, i) => {
    const a = cpu.st[Reg.EAX], b = cpu.readE(i, 32);
    const low = Math.imul(a, b);
    const high = mulHighUnsigned(a, b);
    cpu.st[Reg.EAX] = low;
    cpu.st[Reg.EDX] = high;
    setMulFlags(cpu.st, 32, low, high !== 0);
  };
};

/** IMUL in its three shapes, told apart by the operand count. */
const imul: Builder = (entry, o32) => {
  const operands = entry.operands;
  const size = operandSize(operands[0], o32);
  if (operands.length === 1) {
    if (size === 8) return (cpu, i) => {
      const p = ((cpu.st[Reg.EAX] << 24) >> 24) * signExtend(cpu.readE(i, 8), 8);
      cpu.setReg16(Reg.EAX, p);
      setMulFlags(cpu.st, 8, p, p !== (p << 24) >> 24);
    };
    if (size === 16) return (cpu, i) => {
      const p = ((cpu.st[Reg.EAX] << 16) >> 16) * signExtend(cpu.readE(i, 16), 16);
      cpu.setReg16(Reg.EAX, p);
      cpu.setReg16(Reg.EDX, p >> 16);
      setMulFlags(cpu.st, 16, p, p !== (p << 16) >> 16);
    };
    return (cpu, i) => {
      const a = cpu.st[Reg.EAX], b = cpu.readE(i, 32);
      const low = Math.imul(a, b);
      const high = mulHighSigned(a, b);
      cpu.st[Reg.EAX] = low;
      cpu.st[Reg.EDX] = high;
      setMulFlags(cpu.st, 32, low, high !== low >> 31);
    };
  }
  // Gv,Ev (the destination is also the first factor) or Gv,Ev,Iz/Ib.
  const readA = operands.length === 2 ? reader(entry, 0, o32) : reader(entry, 1, o32);
  const readB = operands.length === 2 ? reader(entry, 1, o32) : reader(entry, 2, o32);
  if (size === 16) return (cpu, i) => {
    const p = signExtend(readA(cpu, i), 16) * signExtend(readB(cpu, i), 16);
    cpu.setReg16(i.reg, p);
    setMulFlags(cpu.st, 16, p, p !== (p << 16) >> 16);
  };
  return (cpu, i) => {
    const a = readA(cpu, i), b = readB(cpu, i);
    const low = Math.imul(a, b);
    cpu.st[i.reg] = low;
    // The double product is exact whenever it fits 32 bits, and far from `low` otherwise.
    setMulFlags(cpu.st, 32, low, a * b !== low);
  };
};

/**
 * Unsigned 64/32 division of hi:lo by d when the quotient fits 32 bits (hi < d), in two steps of
 * 16 bits so that every intermediate is an exact double.
 */
function divide64(hi: number, lo: number, d: number): number {
  const n1 = hi * 0x10000 + (lo >>> 16);
  const q1 = Math.floor(n1 / d);
  const n2 = (n1 - q1 * d) * 0x10000 + (lo & 0xffff);
  return q1 * 0x10000 + Math.floor(n2 / d);
}

/** DIV Eb/Ev: #DE on a zero divisor or a quotient that does not fit. */
const div: Builder = (entry, o32) => {
  const size = operandSize(entry.operands[0], o32);
  if (size === 8) return (cpu, i) => {
    const d = cpu.readE(i, 8);
    const n = cpu.st[Reg.EAX] & 0xffff;
    if (d === 0) fault(Vec.DE);
    const q = Math.floor(n / d);
    if (q > 0xff) fault(Vec.DE);
    cpu.setReg16(Reg.EAX, ((n - q * d) << 8) | q);
  };
  if (size === 16) return (cpu, i) => {
    const d = cpu.readE(i, 16);
    const n = ((cpu.st[Reg.EDX] << 16) | (cpu.st[Reg.EAX] & 0xffff)) >>> 0;
    if (d === 0) fault(Vec.DE);
    const q = Math.floor(n / d);
    if (q > 0xffff) fault(Vec.DE);
    cpu.setReg16(Reg.EAX, q);
    cpu.setReg16(Reg.EDX, n - q * d);
  };
  return (cpu, i) => {
    const d = cpu.readE(i, 32) >>> 0;
    const hi = cpu.st[Reg.EDX] >>> 0, lo = cpu.st[Reg.EAX] >>> 0;
    if (d === 0 || hi >= d) fault(Vec.DE);
    const q = hi === 0 ? Math.floor(lo / d) : divide64(hi, lo, d);
    cpu.st[Reg.EAX] = q;
    cpu.st[Reg.EDX] = lo - Math.imul(q, d);
  };
};

/** IDIV Eb/Ev: the quotient truncates toward zero, the remainder takes the dividend's sign; -2^(n-1) is a valid quotient. */
const idiv: Builder = (entry, o32) => {
  const size = operandSize(entry.operands[0], o32);
  if (size !== 32) {
    const limit = size === 8 ? 0x80 : 0x8000;
    return (cpu, i) => {
      const d = signExtend(cpu.readE(i, size), size);
      const n = size === 8 ? (cpu.st[Reg.EAX] << 16) >> 16 : (cpu.st[Reg.EDX] << 16) | (cpu.st[Reg.EAX] & 0xffff);
      if (d === 0) fault(Vec.DE);
      const q = Math.trunc(n / d);
      if (q >= limit || q < -limit) fault(Vec.DE);
      const r = n - q * d;
      if (size === 8) cpu.setReg16(Reg.EAX, ((r & 0xff) << 8) | (q & 0xff));
      else { cpu.setReg16(Reg.EAX, q); cpu.setReg16(Reg.EDX, r); }
    };
  }
  return (cpu, i) => {
    const d = cpu.readE(i, 32);
    const hi = cpu.st[Reg.EDX], lo = cpu.st[Reg.EAX];
    if (d === 0) fault(Vec.DE);
    // Divide magnitudes, then restore the signs.
    const negative = hi < 0;
    const magLo = negative ? (-lo) >>> 0 : lo >>> 0;
    const magHi = negative ? (~hi + (lo === 0 ? 1 : 0)) >>> 0 : hi >>> 0;
    const magD = Math.abs(d);
    if (magHi >= magD) fault(Vec.DE);
    const magQ = magHi === 0 ? Math.floor(magLo / magD) : divide64(magHi, magLo, magD);
    const quotientNegative = negative !== d < 0;
    if (magQ > (quotientNegative ? 0x80000000 : 0x7fffffff)) fault(Vec.DE);
    const magR = (magLo - Math.imul(magQ, magD)) >>> 0;
    cpu.st[Reg.EAX] = quotientNegative ? -magQ : magQ;
    cpu.st[Reg.EDX] = negative ? -magR : magR;
  };
};

export const MULDIV_OPS: HandlerMap = { MUL: mul, IMUL: imul, DIV: div, IDIV: idiv };
