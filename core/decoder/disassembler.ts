import { decode, ByteSource, DecodeStatus, Insn } from './decoder.js';
import type { OperandSpec } from './table.js';

const REG32 = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'];
const REG16 = ['ax', 'cx', 'dx', 'bx', 'sp', 'bp', 'si', 'di'];
const REG8 = ['al', 'cl', 'dl', 'bl', 'ah', 'ch', 'dh', 'bh'];
const SEGS = ['es', 'cs', 'ss', 'ds', 'fs', 'gs'];
const PTR: Record<number, string> = { 8: 'byte', 16: 'word', 32: 'dword', 48: 'fword', 64: 'qword' };

export interface DisassembledLine {
  offset: number;
  bytes: number[];
  text: string;
  length: number;
}

function hex(v: number): string {
  return '0x' + (v >>> 0).toString(16);
}

function regName(size: number, r: number): string {
  return size === 8 ? REG8[r] : size === 16 ? REG16[r] : REG32[r];
}

/** Size in bits an operand spec means for display (memory operand width). */
function specSize(spec: OperandSpec, o32: boolean): number {
  switch (spec.size) {
    case 'b': return 8;
    case 'w': return 16;
    case 'd': return 32;
    case 'q': return 64;
    case 'p': return o32 ? 48 : 32;
    case 'a': return o32 ? 64 : 32;
    case 's': return 48;
    case 'x': case '': return 0;
    default: return o32 ? 32 : 16;
  }
}

function memoryOperand(i: Insn, size: number): string {
  const parts: string[] = [];
  const regs = i.a32 ? REG32 : REG16;
  if (i.eaBase >= 0) parts.push(regs[i.eaBase]);
  if (i.eaIndex >= 0) parts.push(i.eaScale ? `${regs[i.eaIndex]}*${1 << i.eaScale}` : regs[i.eaIndex]);
  let text = parts.join('+');
  const disp = i.disp;
  if (text === '') text = hex(i.a32 ? disp : disp & 0xffff);
  else if (disp !== 0) text += disp < 0 && (i.a32 || disp > -0x8000) ? `-${hex(-disp)}` : `+${hex(i.a32 ? disp : disp & 0xffff)}`;
  const seg = i.segOverride >= 0 ? `${SEGS[i.segOverride]}:` : '';
  return `${PTR[size] ? PTR[size] + ' ptr ' : ''}${seg}[${text}]`;
}

function operandText(i: Insn, spec: OperandSpec, index: number, immIndex: number): string {
  const o32 = i.o32;
  const size = specSize(spec, o32);
  const entry = i.entry!;
  switch (spec.method) {
    case 'E': case 'M': return i.mod === 3 ? regName(size || 32, i.rm) : memoryOperand(i, size);
    case 'R': return REG32[i.rm];
    case 'G': return regName(size, i.reg);
    case 'S': return SEGS[i.reg] ?? `seg${i.reg}`;
    case 'C': return `cr${i.reg}`;
    case 'D': return `dr${i.reg}`;
    case 'Z': return regName(size, entry.embedded);
    case 'const': return '1';
    case 'I': {
      const value = immIndex === 0 ? i.imm : i.imm2;
      const firstSize = index > 0 ? specSize(entry.operands[0], o32) : size;
      if (spec.size === 'b' && firstSize > 8) return hex(firstSize === 16 ? value & 0xffff : value);
      return hex(size === 8 ? value & 0xff : size === 16 ? value & 0xffff : value);
    }
    case 'J': {
      const target = i.start + i.length + i.imm;
      return hex(o32 ? target : target & 0xffff);
    }
    case 'A': return `${hex(i.imm2)}:${hex(i.imm)}`;
    case 'O': return memoryOperand(i, specSize(spec, o32) || (o32 ? 32 : 16));
    case 'reg': {
      const r = spec.register!;
      if (r === 'eAX') return o32 ? 'eax' : 'ax';
      return r.toLowerCase();
    }
    default: return spec.text;
  }
}

/** Intel-syntax text of a decoded instruction, from the same opcode table the CPU executes. */
export function formatInsn(i: Insn): string {
  if (i.status === DecodeStatus.TOO_LONG) return '(bad: longer than 15 bytes)';
  const entry = i.entry;
  if (entry === undefined) return '(bad)';
  let mnemonic = (i.o32 ? entry.mnemonic32 : entry.mnemonic16).toLowerCase();
  if (mnemonic === 'jcxz' && i.a32) mnemonic = 'jecxz';
  // XCHG eAX,eAX is the one-byte NOP (PAUSE with REP).
  if (i.opcode === 0x90) return i.rep === 0xf3 ? 'pause' : 'nop';
  const isString = entry.operands.some((o) => o.method === 'X' || o.method === 'Y');
  const prefix = (i.lock ? 'lock ' : '') + (i.rep === 0xf3 && isString ? (entry.flagsWritten & 0x40 ? 'repe ' : 'rep ') : '')
    + (i.rep === 0xf2 && isString ? 'repne ' : '');
  if (isString || entry.key === 'ESC') return prefix + mnemonic;
  let immIndex = 0;
  const operands = entry.operands.map((spec, index) => operandText(i, spec, index, spec.method === 'I' ? immIndex++ : immIndex));
  return prefix + mnemonic + (operands.length ? ' ' + operands.join(', ') : '');
}

class ArraySource implements ByteSource {
  constructor(private readonly bytes: Uint8Array, private readonly origin: number) {}
  byteAt(offset: number): number {
    const k = offset - this.origin;
    return k >= 0 && k < this.bytes.length ? this.bytes[k] : 0;
  }
}

/** Disassembles a whole buffer loaded at `origin`, in 16- or 32-bit mode. */
export function disassemble(bytes: Uint8Array, origin: number, bits: 16 | 32): DisassembledLine[] {
  const src = new ArraySource(bytes, origin);
  const insn = new Insn();
  const lines: DisassembledLine[] = [];
  let offset = origin;
  const end = origin + bytes.length;
  while (offset < end) {
    decode(src, offset, bits === 32, insn);
    let length = Math.min(insn.length, end - offset);
    let text = formatInsn(insn);
    if (insn.entry === undefined || insn.start + insn.length > end) {
      length = 1;
      text = `db ${hex(bytes[offset - origin])}`;
    }
    lines.push({ offset, bytes: Array.from(bytes.subarray(offset - origin, offset - origin + length)), text, length });
    offset += length;
  }
  return lines;
}
