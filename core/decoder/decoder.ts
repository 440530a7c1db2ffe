import { Attr, BY_OPCODE, HAS_MODRM, ImmPlan, OpcodeEntry } from './table.js';

/** Where the decoder reads instruction bytes from, addressed by code offset (EIP). */
export interface ByteSource {
  byteAt(offset: number): number;
}

export const MAX_INSN_LENGTH = 15;
const SEG_NONE = -1;
const SEG_DS = 3;
const SEG_SS = 2;

/** Why decoding stopped without an executable entry. */
export const enum DecodeStatus { OK = 0, INVALID = 1, TOO_LONG = 2 }

/**
 * One decoded instruction. The decoder fills a reused record; nothing here depends on register
 * values, so the record can be cached and re-executed.
 */
export class Insn {
  entry: OpcodeEntry | undefined = undefined;
  status: DecodeStatus = DecodeStatus.OK;
  /** The code segment's default size the instruction was decoded with. */
  default32 = false;
  /** Offset (EIP) of the first byte, prefixes included. */
  start = 0;
  length = 0;
  opcode = 0;
  /** Operand size 32 (otherwise 16) and address size 32 (otherwise 16). */
  o32 = false;
  a32 = false;
  /** Segment override prefix (0-5) or -1. */
  segOverride = SEG_NONE;
  /** Segment of the ModRM/offset memory operand after overrides. */
  seg = SEG_DS;
  /** 0, 0xF2 (REPNE) or 0xF3 (REP/REPE). */
  rep = 0;
  lock = false;
  prefixCount = 0;
  mod = 0;
  reg = 0;
  rm = 0;
  /** Memory operand: base and index register (-1 for none), scale shift, displacement. */
  eaBase = -1;
  eaIndex = -1;
  eaScale = 0;
  disp = 0;
  imm = 0;
  imm2 = 0;

  /** Whether the ModRM operand names memory. */
  get isMemory(): boolean { return this.mod !== 3; }
}

const SEGMENT_PREFIX: Record<number, number> = { 0x26: 0, 0x2e: 1, 0x36: 2, 0x3e: 3, 0x64: 4, 0x65: 5 };
const IS_PREFIX = new Uint8Array(256);
for (const p of [0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66, 0x67, 0xf0, 0xf2, 0xf3]) IS_PREFIX[p] = 1;

/** 16-bit ModRM r/m: base and index registers (BX=3, BP=5, SI=6, DI=7). */
const RM16_BASE = [3, 3, 5, 5, 6, 7, 5, 3];
const RM16_INDEX = [6, 7, 6, 7, -1, -1, -1, -1];

/**
 * Decodes the instruction at `offset`. `default32` is the code segment's D bit. Offsets wrap
 * to 16 bits in 16-bit code only when the caller's source does so; the decoder only counts.
 */
export function decode<T extends Insn>(src: ByteSource, offset: number, default32: boolean, out: T): T {
  out.start = offset;
  out.default32 = default32;
  out.status = DecodeStatus.OK;
  out.entry = undefined;
  out.segOverride = SEG_NONE;
  out.rep = 0;
  out.lock = false;
  out.mod = 3;
  out.reg = 0;
  out.rm = 0;
  out.eaBase = -1;
  out.eaIndex = -1;
  out.eaScale = 0;
  out.disp = 0;
  out.imm = 0;
  out.imm2 = 0;
  let o32 = default32;
  let a32 = default32;
  let pos = offset;
  let b = src.byteAt(pos++);
  let prefixes = 0;
  while (IS_PREFIX[b] === 1) {
    if (b === 0x66) o32 = !default32;
    else if (b === 0x67) a32 = !default32;
    else if (b === 0xf0) out.lock = true;
    else if (b === 0xf2 || b === 0xf3) out.rep = b;
    else out.segOverride = SEGMENT_PREFIX[b];
    if (++prefixes >= MAX_INSN_LENGTH) return tooLong(out, offset);
    b = src.byteAt(pos++);
  }
  out.prefixCount = prefixes;
  let opcode = b;
  if (b === 0x0f) opcode = 0x100 | src.byteAt(pos++);
  out.opcode = opcode;
  out.o32 = o32;
  out.a32 = a32;

  let slot = BY_OPCODE[opcode];
  if (HAS_MODRM[opcode] === 1 || Array.isArray(slot)) {
    const modrm = src.byteAt(pos++);
    const mod = slot !== undefined && !Array.isArray(slot) && slot.ignoresMod ? 3 : modrm >> 6;
    out.mod = mod;
    out.reg = (modrm >> 3) & 7;
    out.rm = modrm & 7;
    if (mod !== 3) pos = a32 ? decodeEa32(src, pos, out) : decodeEa16(src, pos, out);
    if (Array.isArray(slot)) slot = slot[out.reg];
  }
  if (slot === undefined) return invalid(out, pos, offset);
  const entry = slot as OpcodeEntry;
  out.entry = entry;
  if (!out.isMemory && (entry.attrs & Attr.MEM) !== 0) return invalid(out, pos, offset);

  switch (entry.immPlan) {
    case ImmPlan.NONE: break;
    case ImmPlan.IB: case ImmPlan.JB: out.imm = (src.byteAt(pos++) << 24) >> 24; break;
    case ImmPlan.IW: out.imm = read16(src, pos); pos += 2; break;
    case ImmPlan.IZ:
      if (o32) { out.imm = read32(src, pos); pos += 4; } else { out.imm = read16(src, pos); pos += 2; }
      break;
    case ImmPlan.JZ:
      if (o32) { out.imm = read32(src, pos); pos += 4; } else { out.imm = (read16(src, pos) << 16) >> 16; pos += 2; }
      break;
    case ImmPlan.IW_IB:
      out.imm = read16(src, pos);
      out.imm2 = (src.byteAt(pos + 2) << 24) >> 24;
      pos += 3;
      break;
    case ImmPlan.FAR_POINTER:
      if (o32) { out.imm = read32(src, pos); pos += 4; } else { out.imm = read16(src, pos); pos += 2; }
      out.imm2 = read16(src, pos);
      pos += 2;
      break;
    case ImmPlan.OFFSET:
      out.mod = 0;
      out.seg = out.segOverride >= 0 ? out.segOverride : SEG_DS;
      if (a32) { out.disp = read32(src, pos); pos += 4; } else { out.disp = read16(src, pos); pos += 2; }
      break;
  }
  out.length = pos - offset;
  if (out.length > MAX_INSN_LENGTH) return tooLong(out, offset);
  return out;
}

function read16(src: ByteSource, pos: number): number {
  return src.byteAt(pos) | (src.byteAt(pos + 1) << 8);
}

function read32(src: ByteSource, pos: number): number {
  return src.byteAt(pos) | (src.byteAt(pos + 1) << 8) | (src.byteAt(pos + 2) << 16) | (src.byteAt(pos + 3) << 24);
}

function decodeEa16(src: ByteSource, pos: number, out: Insn): number {
  const { mod, rm } = out;
  let defaultSeg = SEG_DS;
  if (mod === 0 && rm === 6) {
    out.disp = src.byteAt(pos) | (src.byteAt(pos + 1) << 8);
    pos += 2;
  } else {
    out.eaBase = RM16_BASE[rm];
    out.eaIndex = RM16_INDEX[rm];
    if (rm === 2 || rm === 3 || rm === 6) defaultSeg = SEG_SS;
    if (mod === 1) { out.disp = (src.byteAt(pos++) << 24) >> 24; }
    else if (mod === 2) { out.disp = src.byteAt(pos) | (src.byteAt(pos + 1) << 8); pos += 2; }
  }
  out.seg = out.segOverride >= 0 ? out.segOverride : defaultSeg;
  return pos;
}

function decodeEa32(src: ByteSource, pos: number, out: Insn): number {
  const { mod } = out;
  let base = out.rm;
  let defaultSeg = SEG_DS;
  if (base === 4) {
    const sib = src.byteAt(pos++);
    const index = (sib >> 3) & 7;
    out.eaScale = sib >> 6;
    out.eaIndex = index === 4 ? -1 : index;
    base = sib & 7;
    if (base === 5 && mod === 0) {
      out.eaBase = -1;
      out.disp = read32(src, pos);
      out.seg = out.segOverride >= 0 ? out.segOverride : SEG_DS;
      return pos + 4;
    }
  } else if (base === 5 && mod === 0) {
    out.disp = read32(src, pos);
    out.seg = out.segOverride >= 0 ? out.segOverride : SEG_DS;
    return pos + 4;
  }
  out.eaBase = base;
  if (base === 4 || base === 5) defaultSeg = SEG_SS;
  if (mod === 1) { out.disp = (src.byteAt(pos++) << 24) >> 24; }
  else if (mod === 2) { out.disp = read32(src, pos); pos += 4; }
  out.seg = out.segOverride >= 0 ? out.segOverride : defaultSeg;
  return pos;
}

function invalid<T extends Insn>(out: T, pos: number, offset: number): T {
  out.entry = undefined;
  out.status = DecodeStatus.INVALID;
  out.length = pos - offset;
  return out;
}

function tooLong<T extends Insn>(out: T, offset: number): T {
  out.entry = undefined;
  out.status = DecodeStatus.TOO_LONG;
  out.length = MAX_INSN_LENGTH + 1;
  out.start = offset;
  return out;
}
