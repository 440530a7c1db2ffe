import type { OperandSpec } from '../../decoder/table.js';
import type { Insn } from '../../decoder/decoder.js';
import type { Cpu } from '../cpu.js';
import type { BoundInsn } from '../decode-cache.js';
import { AF, CF, getCF, OF, setFlagBits, setResultFlags } from '../flags.js';
import { Builder, HandlerMap, operandSize, updateReader, signExtend, writeBack } from './operands.js';

/**
 * Shifts and rotates: ROL ROR RCL RCR SHL/SAL SHR SAR by 1, CL or an immediate, and the double
 * shifts SHLD/SHRD. The count is masked to 5 bits; a masked count of 0 changes nothing, though a
 * memory operand is still read (and may fault) as on hardware.
 *
 * OF, defined for a count of 1, uses the same formula on the final result for larger counts
 * (ROL/RCL/SHL/SHLD: MSB(result) XOR CF; ROR/RCR/SHR/SHRD: XOR of the two top result bits, which
 * for SHR is the operand's MSB at count 1 and 0 above; SAR: 0), as the 80286 test vectors show
 * and Bochs does. Shifts set SF/ZF/PF from the result and clear AF (undefined).
 */

type CountReader = (cpu: Cpu, i: Insn) => number;

function countReader(spec: OperandSpec): CountReader {
  if (spec.method === 'const') return () => 1;
  if (spec.method === 'reg') return (cpu) => cpu.getReg8(1) & 31;
  return (_cpu, i) => i.imm & 31;
}

const OF_SHIFT = 11;

/** Bit `size - 1` of v. */
function msb(v: number, size: number): number { return (v >>> (size - 1)) & 1; }

/** The flags a shift leaves: SF/ZF/PF from the result, CF and OF as computed, AF cleared. */
function setShiftFlags(st: Int32Array, size: number, result: number, cf: number, of: number): void {
  setResultFlags(st, size, result);
  setFlagBits(st, CF | OF | AF, cf | (of << OF_SHIFT));
}

/** v rotated left by n (0 <= n < size) within `size` bits; v zero-extended. */
function rotateLeft(v: number, n: number, size: number): number {
  return size === 32 ? (v << n) | (v >>> (32 - n)) : ((v << n) | (v >>> (size - n))) & ((1 << size) - 1);
}

/** Rotation through CF: the (size+1)-bit value CF:v rotated left by n (1 <= n <= size); returns [value, CF]. */
function rotateCarryLeft(v: number, cf: number, n: number, size: number): [number, number] {
  if (size === 32) {
    const r = (v << n) | (cf << (n - 1)) | (n > 1 ? v >>> (33 - n) : 0);
    return [r, (v >>> (32 - n)) & 1];
  }
  const x = (cf << size) | v;
  const wide = ((x << n) | (x >>> (size + 1 - n))) & ((2 << size) - 1);
  return [wide & ((1 << size) - 1), wide >>> size];
}

/** The same, rotated right. */
function rotateCarryRight(v: number, cf: number, n: number, size: number): [number, number] {
  if (size === 32) {
    const r = (v >>> n) | (cf << (32 - n)) | (n > 1 ? v << (33 - n) : 0);
    return [r, (v >>> (n - 1)) & 1];
  }
  const x = (cf << size) | v;
  const wide = ((x >>> n) | (x << (size + 1 - n))) & ((2 << size) - 1);
  return [wide & ((1 << size) - 1), wide >>> size];
}

const enum Kind { ROL, ROR, RCL, RCR, SHL, SHR, SAR }

/** Where a group-2 shift takes its count from. */
const enum CountFrom { ONE, CL, IMMEDIATE }

function countFrom(spec: OperandSpec): CountFrom {
  return spec.method === 'const' ? CountFrom.ONE : spec.method === 'reg' ? CountFrom.CL : CountFrom.IMMEDIATE;
}

/**
 * ROL..SAR on Eb/Ev by 1, CL or Ib all share this executor (see SharedExec). Argument: the
 * kind, log2(size / 8) << 3, and where the count comes from << 5.
 */
export function shiftExec(cpu: Cpu, i: BoundInsn): void {
  const arg = i.arg;
  const kind = arg & 7;
  const size = 8 << ((arg >> 3) & 3);
  const from = arg >> 5;
  const v = cpu.readForUpdateE(i, size);
  const c = from === CountFrom.ONE ? 1 : (from === CountFrom.CL ? cpu.getReg8(1) : i.imm) & 31;
  if (c === 0) return;
  const st = cpu.st;
  const top = size - 1;
  let r: number, cf: number, of: number;
  switch (kind) {
    case Kind.ROL:
      r = rotateLeft(v, c & top, size);
      cf = r & 1;
      of = msb(r, size) ^ cf;
      break;
    case Kind.ROR:
      r = rotateLeft(v, (size - (c & top)) & top, size);
      cf = msb(r, size);
      of = cf ^ msb(r, size - 1);
      break;
    case Kind.RCL: case Kind.RCR: {
      // A count that is a multiple of the rotation period leaves the value and CF alone but still sets OF.
      const n = c % (size === 32 ? 32 : size + 1);
      const left = kind === Kind.RCL;
      r = v;
      cf = getCF(st);
      if (n !== 0) [r, cf] = left ? rotateCarryLeft(v, cf, n, size) : rotateCarryRight(v, cf, n, size);
      of = left ? msb(r, size) ^ cf : msb(r, size) ^ msb(r, size - 1);
      break;
    }
    case Kind.SHL:
      r = v << c;
      cf = msb(v << (c - 1), size);
      of = msb(r, size) ^ cf;
      break;
    case Kind.SHR:
      r = v >>> c;
      cf = (v >>> (c - 1)) & 1;
      of = msb(r, size) ^ msb(r, size - 1);
      break;
    default: {
      const sv = signExtend(v, size);
      r = sv >> c;
      cf = (sv >> (c - 1)) & 1;
      of = 0;
    }
  }
  // The result is written before the flags change, so a faulting write leaves the flags alone.
  cpu.writeBackE(i, size, r);
  if (kind >= Kind.SHL) setShiftFlags(st, size, r, cf, of);
  else setFlagBits(st, CF | OF, cf | (of << OF_SHIFT));
}

function shift(kind: Kind): Builder {
  return (entry, o32) => ({
    exec: shiftExec,
    arg: kind | (Math.log2(operandSize(entry.operands[0], o32) / 8) << 3) | (countFrom(entry.operands[1]) << 5),
  });
}

/**
 * SHLD of 16-bit operands: the P6 shifts the 48-bit concatenation dest:src:dest, so counts of
 * 17-31 bring bits of the destination back in. Returns [result, CF].
 */
function shld16(d: number, s: number, c: number): [number, number] {
  if (c <= 16) return [((d << c) | (s >>> (16 - c))) & 0xffff, (d >>> (16 - c)) & 1];
  return [((s << (c - 16)) | (d >>> (32 - c))) & 0xffff, (s >>> (32 - c)) & 1];
}

/** SHRD of 16-bit operands, likewise through the concatenation dest:src:dest. Returns [result, CF]. */
function shrd16(d: number, s: number, c: number): [number, number] {
  if (c <= 16) return [((d >>> c) | (s << (16 - c))) & 0xffff, (d >>> (c - 1)) & 1];
  return [((s >>> (c - 16)) | (d << (32 - c))) & 0xffff, (s >>> (c - 17)) & 1];
}

function doubleShift(left: boolean): Builder {
  return (entry, o32) => {
    const size = o32 ? 32 : 16;
    const read = updateReader(entry, 0, o32);
    const write = writeBack(entry, 0, o32);
    const count = countReader(entry.operands[2]);
    return (cpu, i) => {
      const d = read(cpu, i), c = count(cpu, i);
      if (c === 0) return;
      const s = cpu.getReg(size, i.reg);
      let r: number, cf: number;
      if (size === 16) [r, cf] = left ? shld16(d, s, c) : shrd16(d, s, c);
      else if (left) { r = (d << c) | (s >>> (32 - c)); cf = (d >>> (32 - c)) & 1; }
      else { r = (d >>> c) | (s << (32 - c)); cf = (d >>> (c - 1)) & 1; }
      write(cpu, i, r);
      const of = left ? msb(r, size) ^ cf : msb(r, size) ^ msb(r, size - 1);
      setShiftFlags(cpu.st, size, r, cf, of);
    };
  };
}

export const SHIFT_OPS: HandlerMap = {
  ROL: shift(Kind.ROL), ROR: shift(Kind.ROR), RCL: shift(Kind.RCL), RCR: shift(Kind.RCR),
  SHL: shift(Kind.SHL), SAL: shift(Kind.SHL), SHR: shift(Kind.SHR), SAR: shift(Kind.SAR),
  SHLD: doubleShift(true), SHRD: doubleShift(false),
};
