import type { OpcodeEntry, OperandSpec } from '../../decoder/table.js';
import type { Insn } from '../../decoder/decoder.js';
import type { Cpu } from '../cpu.js';
import type { BoundInsn } from '../decode-cache.js';
import { Seg } from '../state-layout.js';

/** Executes one decoded instruction. EIP already points past it when this runs. */
export type Exec = (cpu: Cpu, i: BoundInsn) => void;
/**
 * An executor shared by many table entries, told apart by a small argument the interpreter
 * stores in each bound instruction. Sharing one function keeps the interpreter's dispatch call
 * site from going megamorphic, which costs about 20 ns per instruction in V8.
 */
export interface SharedExec { exec: Exec; arg: number }
/** Makes the executor of a table entry for 16-bit (o32 false) or 32-bit operand size. */
export type Builder = (entry: OpcodeEntry, o32: boolean) => Exec | SharedExec;
/** A family's builders, keyed by the table's mnemonic key (`ADD`, `Jcc`, `CBW`). */
export type HandlerMap = Record<string, Builder>;

export type Reader = (cpu: Cpu, i: Insn) => number;
export type Writer = (cpu: Cpu, i: Insn, value: number) => void;

const BYTE_REGS: Record<string, number> = { AL: 0, CL: 1, DL: 2, BL: 3, AH: 4, CH: 5, DH: 6, BH: 7 };
const WORD_REGS: Record<string, number> = { AX: 0, CX: 1, DX: 2, BX: 3 };
const SEG_REGS: Record<string, number> = { ES: Seg.ES, CS: Seg.CS, SS: Seg.SS, DS: Seg.DS, FS: Seg.FS, GS: Seg.GS };
export { SEG_REGS };

/** Operand size in bits of an operand spec under the given operand-size attribute. */
export function operandSize(spec: OperandSpec, o32: boolean): number {
  if (spec.method === 'reg') {
    const r = spec.register!;
    if (r in BYTE_REGS) return 8;
    if (r in WORD_REGS || r in SEG_REGS) return 16;
    return o32 ? 32 : 16;
  }
  switch (spec.size) {
    case 'b': return 8;
    case 'w': return 16;
    case 'd': return 32;
    default: return o32 ? 32 : 16;
  }
}

function fixedRegister(spec: OperandSpec): number {
  const r = spec.register!;
  if (r in BYTE_REGS) return BYTE_REGS[r];
  if (r in WORD_REGS) return WORD_REGS[r];
  return 0;
}

/** A reader for any general operand (E, G, I, Z, fixed registers, the constant 1), specialised by size. */
export function reader(entry: OpcodeEntry, index: number, o32: boolean): Reader {
  const spec = entry.operands[index];
  const size = operandSize(spec, o32);
  switch (spec.method) {
    case 'E':
      if (size === 32) return (cpu, i) => i.mod === 3 ? cpu.st[i.rm] : cpu.readLin32(cpu.eaLinear(i, 4));
      if (size === 16) return (cpu, i) => i.mod === 3 ? cpu.r16[i.rm << 1] : cpu.readLin16(cpu.eaLinear(i, 2));
      return (cpu, i) => i.mod === 3 ? cpu.getReg8(i.rm) : cpu.readLin8(cpu.eaLinear(i, 1));
    case 'G':
      if (size === 32) return (cpu, i) => cpu.st[i.reg];
      if (size === 16) return (cpu, i) => cpu.r16[i.reg << 1];
      return (cpu, i) => cpu.getReg8(i.reg);
    case 'I': return index === firstImmediate(entry) ? (_cpu, i) => i.imm : (_cpu, i) => i.imm2;
    case 'Z': return registerReader(size, entry.embedded);
    case 'reg': return registerReader(size, fixedRegister(spec));
    case 'const': return () => 1;
    case 'O': return (cpu, i) => cpu.readLin(size, cpu.linear(i.seg, i.disp, size >> 3));
    default: throw new Error(`no reader for operand ${spec.text} of ${entry.source}`);
  }
}

/** A reader for the destination of a read-modify-write: a memory operand is checked for write access first. */
export function updateReader(entry: OpcodeEntry, index: number, o32: boolean): Reader {
  const spec = entry.operands[index];
  if (spec.method !== 'E') return reader(entry, index, o32);
  const size = operandSize(spec, o32);
  return (cpu, i) => cpu.readForUpdateE(i, size);
}

function registerReader(size: number, r: number): Reader {
  if (size === 32) return (cpu) => cpu.st[r];
  if (size === 16) return (cpu) => cpu.r16[r << 1];
  return (cpu) => cpu.getReg8(r);
}

function registerWriter(size: number, r: number): Writer {
  if (size === 32) return (cpu, _i, v) => { cpu.st[r] = v; };
  if (size === 16) return (cpu, _i, v) => { cpu.r16[r << 1] = v; };
  return (cpu, _i, v) => cpu.setReg8(r, v);
}

/** A writer for a destination operand. For E it writes back to the address a preceding read computed. */
export function writeBack(entry: OpcodeEntry, index: number, o32: boolean): Writer {
  const spec = entry.operands[index];
  const size = operandSize(spec, o32);
  switch (spec.method) {
    case 'E':
      if (size === 32) return (cpu, i, v) => { if (i.mod === 3) cpu.st[i.rm] = v; else cpu.writeLin32(cpu.opLin, v); };
      return (cpu, i, v) => cpu.writeBackE(i, size, v);
    default: return writer(entry, index, o32);
  }
}

/** A writer for a destination operand that was not read first. */
export function writer(entry: OpcodeEntry, index: number, o32: boolean): Writer {
  const spec = entry.operands[index];
  const size = operandSize(spec, o32);
  switch (spec.method) {
    case 'E':
      if (size === 32) return (cpu, i, v) => { if (i.mod === 3) cpu.st[i.rm] = v; else cpu.writeLin32(cpu.eaLinear(i, 4), v); };
      return (cpu, i, v) => cpu.writeE(i, size, v);
    case 'G':
      if (size === 32) return (cpu, i, v) => { cpu.st[i.reg] = v; };
      return (cpu, i, v) => cpu.setReg(size, i.reg, v);
    case 'Z': return registerWriter(size, entry.embedded);
    case 'reg': return registerWriter(size, fixedRegister(spec));
    case 'O': return (cpu, i, v) => cpu.writeLin(size, cpu.linearWrite(i.seg, i.disp, size >> 3), v);
    default: throw new Error(`no writer for operand ${spec.text} of ${entry.source}`);
  }
}

function firstImmediate(entry: OpcodeEntry): number {
  return entry.operands.findIndex((o) => o.method === 'I');
}

/**
 * Reads a memory operand made of two parts, a `firstSize`-bit value then a `secondSize`-bit one
 * (m16:16/m16:32 far pointers, BOUND pairs). Each part is its own access with its own limit
 * check, and the second part's offset wraps at the address size, as on hardware: a far pointer
 * at DS:FFFEh takes its selector from DS:0000h.
 */
export function readMemoryPair(cpu: Cpu, i: Insn, firstSize: number, secondSize: number): [number, number] {
  const offset = cpu.ea(i);
  const bytes = firstSize >> 3;
  const next = i.a32 ? (offset + bytes) | 0 : (offset + bytes) & 0xffff;
  return [
    cpu.readLin(firstSize, cpu.linear(i.seg, offset, bytes)),
    cpu.readLin(secondSize, cpu.linear(i.seg, next, secondSize >> 3)),
  ];
}

/** Sign-extends the low `size` bits of v. */
export function signExtend(v: number, size: number): number {
  return size === 32 ? v | 0 : size === 16 ? (v << 16) >> 16 : (v << 24) >> 24;
}

/** Zero-extends (truncates) v to `size` bits, as an unsigned number. */
export function truncate(v: number, size: number): number {
  return size === 32 ? v >>> 0 : v & ((1 << size) - 1);
}
