import type { BoundInsn } from '../cpu/decode-cache.js';
import { operandSize } from '../cpu/ops/operands.js';
import { Reg, S } from '../cpu/state-layout.js';
import { CF, OF } from '../cpu/flags.js';
import { Op } from './wasm-emitter.js';
import { word, type EmitContext } from './emit-context.js';
import { effectiveAddress, load, store } from './emit-memory.js';
import { writeFlags, writeShiftFlags } from './emit-flags.js';
import { Emitted, readOperand } from './emit-ops.js';

/**
 * Inline NOT, NEG, two- and three-operand IMUL, DIV of EDX:EAX by a 32-bit register, 32-bit
 * register shifts by CL, ROL/ROR of a 32-bit register by a constant, BT/BTS/BTR/BTC on a
 * register, BT on memory and BSWAP, with the interpreter's semantics (alu.ts, muldiv.ts,
 * shift.ts, bits.ts); every other form uses the helper.
 */

/** Reads the r/m destination of a unary operation into A (a memory one for writing). */
function readDestination(ctx: EmitContext, i: BoundInsn, size: number): void {
  if (i.mod === 3) ctx.getReg(size, i.rm);
  else { effectiveAddress(ctx, i); load(ctx, i.seg, size, true); }
  ctx.fb.set(ctx.A);
}

/** Writes local R to the r/m destination read by readDestination. */
function writeDestination(ctx: EmitContext, i: BoundInsn, size: number): void {
  if (i.mod === 3) ctx.setReg(size, i.rm, ctx.R);
  else store(ctx, i.seg, size, ctx.R);
}

export function not(ctx: EmitContext, i: BoundInsn): Emitted {
  const size = operandSize(i.entry!.operands[0], i.o32);
  readDestination(ctx, i, size);
  ctx.fb.get(ctx.A).i32(-1).op(Op.I32_XOR).set(ctx.R);
  writeDestination(ctx, i, size);
  return Emitted.NEXT;
}

/** NEG: the flags of 0 - x (CF = x != 0). */
export function neg(ctx: EmitContext, i: BoundInsn): Emitted {
  const size = operandSize(i.entry!.operands[0], i.o32);
  const fb = ctx.fb;
  readDestination(ctx, i, size);
  fb.get(ctx.A).set(ctx.B).i32(0).set(ctx.A);
  fb.i32(0).get(ctx.B).op(Op.I32_SUB).set(ctx.R);
  writeFlags(ctx, 'sub', size);
  writeDestination(ctx, i, size);
  return Emitted.NEXT;
}

/** IMUL Gv,Ev and Gv,Ev,imm: CF = OF = the product does not fit; SF/ZF/PF from the low half, AF = 0. */
export function imul(ctx: EmitContext, i: BoundInsn): Emitted {
  const operands = i.entry!.operands;
  if (operands.length === 1) return Emitted.NO;
  const size = operandSize(operands[0], i.o32);
  const fb = ctx.fb;
  const three = operands.length === 3;
  readOperand(ctx, i, operands[three ? 1 : 0], size);
  fb.set(ctx.A);
  readOperand(ctx, i, operands[three ? 2 : 1], size);
  fb.set(ctx.B);
  if (size === 16) {
    const signed16 = (local: number): void => { fb.get(local).i32(16).op(Op.I32_SHL).i32(16).op(Op.I32_SHR_S); };
    signed16(ctx.A); signed16(ctx.B);
    fb.op(Op.I32_MUL).tee(ctx.R);
    signed16(ctx.R);
    fb.op(Op.I32_NE).set(ctx.V);
  } else {
    const product = (): void => {
      fb.get(ctx.A).op(Op.I64_EXTEND_I32_S).get(ctx.B).op(Op.I64_EXTEND_I32_S).op(Op.I64_MUL);
    };
    product();
    fb.op(Op.I32_WRAP_I64).set(ctx.R);
    product();
    fb.get(ctx.R).op(Op.I64_EXTEND_I32_S).op(Op.I64_NE).set(ctx.V);
  }
  writeShiftFlags(ctx, size, ctx.V, ctx.V);
  ctx.setReg(size, i.reg, ctx.R);
  return Emitted.NEXT;
}

/**
 * DIV of EDX:EAX by a 32-bit register: EAX = the quotient, EDX = the remainder, flags unchanged
 * (muldiv.ts). A zero divisor or a quotient past 32 bits (EDX >= divisor) goes to the helper,
 * which raises #DE.
 */
export function divide(ctx: EmitContext, i: BoundInsn): Emitted {
  if (i.mod !== 3 || operandSize(i.entry!.operands[0], i.o32) !== 32) return Emitted.NO;
  const fb = ctx.fb;
  ctx.getReg(32, i.rm);
  fb.tee(ctx.B).op(Op.I32_EQZ);
  ctx.reg32(Reg.EDX);
  fb.get(ctx.B).op(Op.I32_GE_U).op(Op.I32_OR).if();
  ctx.helperOnSlowPath();
  fb.op(Op.END);
  const dividend = (): void => {
    ctx.reg32(Reg.EDX);
    fb.op(Op.I64_EXTEND_I32_U).i64(32).op(Op.I64_SHL);
    ctx.reg32(Reg.EAX);
    fb.op(Op.I64_EXTEND_I32_U).op(Op.I64_OR).get(ctx.B).op(Op.I64_EXTEND_I32_U);
  };
  dividend();
  fb.op(Op.I64_DIV_U).op(Op.I32_WRAP_I64).set(ctx.R);
  dividend();
  fb.op(Op.I64_REM_U).op(Op.I32_WRAP_I64).set(ctx.V);
  ctx.setReg(32, Reg.EAX, ctx.R);
  ctx.setReg(32, Reg.EDX, ctx.V);
  return Emitted.NEXT;
}

/** BSWAP of a 32-bit register (the 16-bit form, which the P6 makes clear the low word, uses the helper). */
export function byteSwap(ctx: EmitContext, i: BoundInsn): Emitted {
  if (!i.o32) return Emitted.NO;
  const fb = ctx.fb;
  const r = i.entry!.embedded;
  ctx.getReg(32, r);
  fb.i32(0xff00ff00 | 0).op(Op.I32_AND).i32(8).op(Op.I32_ROTL);
  ctx.getReg(32, r);
  fb.i32(0x00ff00ff).op(Op.I32_AND).i32(8).op(Op.I32_ROTR).op(Op.I32_OR).set(ctx.R);
  ctx.setReg(32, r, ctx.R);
  return Emitted.NEXT;
}

/**
 * SHL/SHR/SAR of a 32-bit register by CL. A count of 0 (CL & 31) changes nothing, flags
 * included, so the pending flag record is stored first and the shift's own flags are stored
 * where it happens; the block then knows no pending record.
 */
export function shiftByCl(ctx: EmitContext, i: BoundInsn, key: string): Emitted {
  const size = operandSize(i.entry!.operands[0], i.o32);
  if (size !== 32 || i.mod !== 3) return Emitted.NO;
  const fb = ctx.fb;
  ctx.flushFlags();
  ctx.flags = null;
  ctx.getReg(32, i.rm);
  fb.set(ctx.A);
  ctx.getReg(8, Reg.ECX);
  fb.i32(31).op(Op.I32_AND).tee(ctx.T).if();
  const bit = (shift: Op, by: number | null): void => {
    fb.get(ctx.A);
    if (by === null) fb.get(ctx.T).i32(1).op(Op.I32_SUB); else fb.i32(by).get(ctx.T).op(Op.I32_SUB);
    fb.op(shift).i32(1).op(Op.I32_AND);
  };
  if (key === 'SHL') {
    fb.get(ctx.A).get(ctx.T).op(Op.I32_SHL).set(ctx.R);
    bit(Op.I32_SHR_U, 32); fb.set(ctx.B);
    fb.get(ctx.R).i32(31).op(Op.I32_SHR_U).get(ctx.B).op(Op.I32_XOR).set(ctx.V);
  } else if (key === 'SHR') {
    fb.get(ctx.A).get(ctx.T).op(Op.I32_SHR_U).set(ctx.R);
    bit(Op.I32_SHR_U, null); fb.set(ctx.B);
    fb.get(ctx.R).i32(31).op(Op.I32_SHR_U).get(ctx.R).i32(30).op(Op.I32_SHR_U).op(Op.I32_XOR).i32(1).op(Op.I32_AND).set(ctx.V);
  } else {
    fb.get(ctx.A).get(ctx.T).op(Op.I32_SHR_S).set(ctx.R);
    bit(Op.I32_SHR_S, null); fb.set(ctx.B);
    fb.i32(0).set(ctx.V);
  }
  writeShiftFlags(ctx, 32, ctx.B, ctx.V);
  ctx.flushFlags();
  ctx.setReg(32, i.rm, ctx.R);
  fb.op(Op.END);
  ctx.flags = null;
  return Emitted.NEXT;
}

/**
 * BT/BTS/BTR/BTC with a register destination: CF = the bit (offset mod the size), the other flags
 * unchanged, so the pending flag record is stored first and CF written over it.
 */
export function bitTest(ctx: EmitContext, i: BoundInsn, key: string): Emitted {
  if (i.mod !== 3) return key === 'BT' ? bitTestMemory(ctx, i) : Emitted.NO;
  const size = i.o32 ? 32 : 16;
  const fb = ctx.fb;
  const bitOperand = i.entry!.operands[1];
  ctx.flushFlags();
  ctx.flags = null;
  if (bitOperand.method === 'I') fb.i32(i.imm); else ctx.getReg(size, i.reg);
  fb.i32(size - 1).op(Op.I32_AND).set(ctx.T);
  ctx.getReg(size, i.rm);
  fb.set(ctx.A);
  fb.get(ctx.A).get(ctx.T).op(Op.I32_SHR_U).i32(1).op(Op.I32_AND).set(ctx.B);
  setFlagBits(ctx, CF, ctx.B);
  if (key === 'BT') return Emitted.NEXT;
  const bit = (): void => { fb.i32(1).get(ctx.T).op(Op.I32_SHL); };
  fb.get(ctx.A);
  if (key === 'BTS') { bit(); fb.op(Op.I32_OR); }
  else if (key === 'BTR') { bit(); fb.i32(-1).op(Op.I32_XOR).op(Op.I32_AND); }
  else { bit(); fb.op(Op.I32_XOR); }
  fb.set(ctx.R);
  ctx.setReg(size, i.rm, ctx.R);
  return Emitted.NEXT;
}

/**
 * BT on memory (bits.ts): the bit offset of an immediate is taken modulo the operand size; a
 * register's is signed and selects the word or dword at ea + (offset >> 4) * 2 / (offset >> 5) * 4.
 */
function bitTestMemory(ctx: EmitContext, i: BoundInsn): Emitted {
  const size = i.o32 ? 32 : 16;
  const fb = ctx.fb;
  const immediate = i.entry!.operands[1].method === 'I';
  effectiveAddress(ctx, i);
  if (immediate) fb.i32(i.imm & (size - 1)).set(ctx.T);
  else {
    ctx.getReg(size, i.reg);
    if (size === 16) fb.i32(16).op(Op.I32_SHL).i32(16).op(Op.I32_SHR_S);
    fb.tee(ctx.T);
    fb.i32(size === 32 ? 5 : 4).op(Op.I32_SHR_S).i32(size === 32 ? 2 : 1).op(Op.I32_SHL).get(ctx.OFF).op(Op.I32_ADD);
    if (!i.a32) fb.i32(0xffff).op(Op.I32_AND);
    fb.set(ctx.OFF);
  }
  load(ctx, i.seg, size);
  fb.get(ctx.T).i32(size - 1).op(Op.I32_AND).op(Op.I32_SHR_U).i32(1).op(Op.I32_AND).set(ctx.B);
  setFlagBits(ctx, CF, ctx.B);
  return Emitted.NEXT;
}

/**
 * Writes flags `mask` (CF and/or OF) from local `bits` (already in place) over the pending
 * record, which is stored first: flags.ts setFlagBits.
 */
function setFlagBits(ctx: EmitContext, mask: number, bits: number): void {
  const fb = ctx.fb;
  ctx.flushFlags();
  ctx.flags = null;
  fb.i32(0).i32(0).mem(Op.I32_LOAD, word(S.EFLAGS)).i32(~mask).op(Op.I32_AND).get(bits).op(Op.I32_OR).mem(Op.I32_STORE, word(S.EFLAGS));
  fb.i32(0).i32(0).mem(Op.I32_LOAD, word(S.LF_MASK)).i32(~mask).op(Op.I32_AND).mem(Op.I32_STORE, word(S.LF_MASK));
}

/** ROL/ROR of a 32-bit register by 1 or an immediate: CF and OF as shift.ts leaves them, the other flags unchanged. */
export function rotate(ctx: EmitContext, i: BoundInsn, key: string): Emitted {
  const [dst, count] = i.entry!.operands;
  if (i.mod !== 3 || operandSize(dst, i.o32) !== 32 || (count.method !== 'const' && count.method !== 'I')) return Emitted.NO;
  const c = count.method === 'const' ? 1 : i.imm & 31;
  if (c === 0) return Emitted.NEXT;
  const fb = ctx.fb;
  ctx.getReg(32, i.rm);
  fb.i32(c).op(key === 'ROL' ? Op.I32_ROTL : Op.I32_ROTR).set(ctx.R);
  if (key === 'ROL') {
    fb.get(ctx.R).i32(1).op(Op.I32_AND).set(ctx.B);
    fb.get(ctx.R).i32(31).op(Op.I32_SHR_U).get(ctx.B).op(Op.I32_XOR);
  } else {
    fb.get(ctx.R).i32(31).op(Op.I32_SHR_U).set(ctx.B);
    fb.get(ctx.B).get(ctx.R).i32(30).op(Op.I32_SHR_U).i32(1).op(Op.I32_AND).op(Op.I32_XOR);
  }
  fb.i32(11).op(Op.I32_SHL).get(ctx.B).op(Op.I32_OR).set(ctx.V);
  setFlagBits(ctx, CF | OF, ctx.V);
  ctx.setReg(32, i.rm, ctx.R);
  return Emitted.NEXT;
}
