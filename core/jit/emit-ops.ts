import type { BoundInsn } from '../cpu/decode-cache.js';
import type { OperandSpec } from '../decoder/table.js';
import { operandSize } from '../cpu/ops/operands.js';
import { S, Seg } from '../cpu/state-layout.js';
import { Op } from './wasm-emitter.js';
import { EmitContext, word } from './emit-context.js';
import { relativeTarget } from './block.js';
import { effectiveAddress, load, movedSp, stackOffset, store } from './emit-memory.js';
import { condition, currentCF, writeFlags, writeShiftFlags } from './emit-flags.js';
import { bitTest, byteSwap, divide, imul, neg, not, rotate, shiftByCl } from './emit-arith.js';
import { directionFlag, rdtsc } from './emit-system.js';
import { cmovcc, cmpxchg, leave, setcc, xchg } from './emit-moves.js';
import { stringElement } from './emit-strings.js';
import { Attr } from '../decoder/table.js';

/** What an inline emitter did: nothing (use the helper), code that falls through, or code that left the block. */
export const enum Emitted { NO = 0, NEXT = 1, EXIT = 2 }

const ALU_KINDS: Record<string, { op: Op; flags: 'add' | 'sub' | 'logic'; writes: boolean; carry?: boolean }> = {
  ADD: { op: Op.I32_ADD, flags: 'add', writes: true },
  ADC: { op: Op.I32_ADD, flags: 'add', writes: true, carry: true },
  SBB: { op: Op.I32_SUB, flags: 'sub', writes: true, carry: true },
  SUB: { op: Op.I32_SUB, flags: 'sub', writes: true },
  CMP: { op: Op.I32_SUB, flags: 'sub', writes: false },
  AND: { op: Op.I32_AND, flags: 'logic', writes: true },
  OR: { op: Op.I32_OR, flags: 'logic', writes: true },
  XOR: { op: Op.I32_XOR, flags: 'logic', writes: true },
  TEST: { op: Op.I32_AND, flags: 'logic', writes: false },
};

/** Register number of a fixed-register or register-in-opcode operand (AL/AX/eAX are 0). */
export function fixedRegister(i: BoundInsn, spec: OperandSpec): number {
  return spec.method === 'Z' ? i.entry!.embedded : 0;
}

/** Pushes a source operand: register, immediate, or memory (through the inline TLB path). */
export function readOperand(ctx: EmitContext, i: BoundInsn, spec: OperandSpec, size: number): void {
  switch (spec.method) {
    case 'G': ctx.getReg(size, i.reg); return;
    case 'I': ctx.fb.i32(i.imm); return;
    case 'Z': case 'reg': ctx.getReg(size, fixedRegister(i, spec)); return;
    default:
      if (i.mod === 3) { ctx.getReg(size, i.rm); return; }
      effectiveAddress(ctx, i);
      load(ctx, i.seg, size);
  }
}

/** Whether an operand is one the inline emitters handle (general registers, immediates, ModRM). */
export function simple(spec: OperandSpec): boolean {
  return spec.method === 'E' || spec.method === 'G' || spec.method === 'I' || spec.method === 'Z'
    || (spec.method === 'reg' && (spec.register === 'AL' || spec.register === 'eAX'));
}

function mov(ctx: EmitContext, i: BoundInsn): Emitted {
  const [dst, src] = i.entry!.operands;
  // MOV AL/eAX to and from a memory offset (moffs): the offset is the displacement.
  if (dst.method === 'O' || src.method === 'O') {
    const size = operandSize(dst.method === 'O' ? src : dst, i.o32);
    ctx.fb.i32(i.disp).set(ctx.OFF);
    if (dst.method === 'O') { ctx.getReg(size, 0); ctx.fb.set(ctx.V); store(ctx, i.seg, size, ctx.V); return Emitted.NEXT; }
    load(ctx, i.seg, size);
    ctx.fb.set(ctx.V);
    ctx.setReg(size, 0, ctx.V);
    return Emitted.NEXT;
  }
  if (!simple(dst) || !simple(src)) return Emitted.NO;
  const size = operandSize(dst, i.o32);
  if (dst.method === 'E' && i.mod !== 3) {
    readOperand(ctx, i, src, size);
    ctx.fb.set(ctx.V);
    effectiveAddress(ctx, i);
    store(ctx, i.seg, size, ctx.V);
    return Emitted.NEXT;
  }
  readOperand(ctx, i, src, size);
  ctx.fb.set(ctx.V);
  ctx.setReg(size, dst.method === 'G' ? i.reg : dst.method === 'E' ? i.rm : fixedRegister(i, dst), ctx.V);
  return Emitted.NEXT;
}

/** ADD/SUB/CMP/AND/OR/XOR/TEST in every form, with the lazy-flag record of alu(). */
function alu(ctx: EmitContext, i: BoundInsn): Emitted {
  const kind = ALU_KINDS[i.entry!.key];
  const [dst, src] = i.entry!.operands;
  if (!simple(dst) || !simple(src)) return Emitted.NO;
  const size = operandSize(dst, i.o32);
  const fb = ctx.fb;
  const memoryDst = dst.method === 'E' && i.mod !== 3;
  if (memoryDst) {
    effectiveAddress(ctx, i);
    load(ctx, i.seg, size, kind.writes);
  } else {
    readOperand(ctx, i, dst, size);
  }
  fb.set(ctx.A);
  readOperand(ctx, i, src, size);
  fb.set(ctx.B);
  fb.get(ctx.A).get(ctx.B).op(kind.op);
  if (kind.carry) {
    currentCF(ctx);
    fb.tee(ctx.V).op(kind.op);
  }
  fb.set(ctx.R);
  writeFlags(ctx, kind.flags, size, kind.carry ? ctx.V : undefined);
  if (!kind.writes) return Emitted.NEXT;
  if (memoryDst) store(ctx, i.seg, size, ctx.R);
  else ctx.setReg(size, dst.method === 'G' ? i.reg : dst.method === 'E' ? i.rm : fixedRegister(i, dst), ctx.R);
  return Emitted.NEXT;
}

function incDec(ctx: EmitContext, i: BoundInsn, isDec: boolean): Emitted {
  const [dst] = i.entry!.operands;
  const size = operandSize(dst, i.o32);
  const fb = ctx.fb;
  const memoryDst = dst.method === 'E' && i.mod !== 3;
  if (memoryDst) { effectiveAddress(ctx, i); load(ctx, i.seg, size, true); } else readOperand(ctx, i, dst, size);
  fb.tee(ctx.A).i32(1).op(isDec ? Op.I32_SUB : Op.I32_ADD).set(ctx.R);
  writeFlags(ctx, isDec ? 'dec' : 'inc', size);
  if (memoryDst) store(ctx, i.seg, size, ctx.R);
  else ctx.setReg(size, dst.method === 'Z' ? i.entry!.embedded : i.rm, ctx.R);
  return Emitted.NEXT;
}

/** SHL/SHR/SAR of a register by 1, an immediate or CL (shift.ts semantics; other forms use the helper). */
function shift(ctx: EmitContext, i: BoundInsn, key: string): Emitted {
  const [dst, count] = i.entry!.operands;
  if (count.method === 'reg' && count.register === 'CL') return shiftByCl(ctx, i, key);
  if (i.mod !== 3 || (count.method !== 'const' && count.method !== 'I')) return Emitted.NO;
  const c = count.method === 'const' ? 1 : i.imm & 31;
  if (c === 0) return Emitted.NEXT;
  const size = operandSize(dst, i.o32);
  const fb = ctx.fb;
  const msb = (l: number, bit: number): void => { fb.get(l).i32(bit).op(Op.I32_SHR_U).i32(1).op(Op.I32_AND); };
  ctx.getReg(size, i.rm);
  fb.set(ctx.A);
  if (key === 'SHL') {
    fb.get(ctx.A).i32(c).op(Op.I32_SHL).set(ctx.R);
    fb.get(ctx.A).i32(c - 1).op(Op.I32_SHL).set(ctx.T);
    msb(ctx.T, size - 1); fb.set(ctx.B);
    msb(ctx.R, size - 1); fb.get(ctx.B).op(Op.I32_XOR).set(ctx.V);
  } else if (key === 'SHR') {
    fb.get(ctx.A).i32(c).op(Op.I32_SHR_U).set(ctx.R);
    msb(ctx.A, c - 1); fb.set(ctx.B);
    msb(ctx.R, size - 1); msb(ctx.R, size - 2); fb.op(Op.I32_XOR).set(ctx.V);
  } else {
    if (size < 32) fb.get(ctx.A).i32(32 - size).op(Op.I32_SHL).i32(32 - size).op(Op.I32_SHR_S).set(ctx.A);
    fb.get(ctx.A).i32(c).op(Op.I32_SHR_S).set(ctx.R);
    fb.get(ctx.A).i32(c - 1).op(Op.I32_SHR_S).i32(1).op(Op.I32_AND).set(ctx.B);
    fb.i32(0).set(ctx.V);
  }
  writeShiftFlags(ctx, size, ctx.B, ctx.V);
  ctx.setReg(size, i.rm, ctx.R);
  return Emitted.NEXT;
}

/** MOVZX/MOVSX (data.ts extendExec). */
function extend(ctx: EmitContext, i: BoundInsn, signed: boolean): Emitted {
  const srcSize = operandSize(i.entry!.operands[1], i.o32);
  readOperand(ctx, i, i.entry!.operands[1], srcSize);
  if (signed) ctx.fb.i32(32 - srcSize).op(Op.I32_SHL).i32(32 - srcSize).op(Op.I32_SHR_S);
  ctx.fb.set(ctx.V);
  ctx.setReg(i.o32 ? 32 : 16, i.reg, ctx.V);
  return Emitted.NEXT;
}

function lea(ctx: EmitContext, i: BoundInsn): Emitted {
  effectiveAddress(ctx, i);
  ctx.setReg(i.o32 ? 32 : 16, i.reg, ctx.OFF);
  return Emitted.NEXT;
}

/** Pushes local V: the store first (it may fault with ESP untouched), then ESP. */
function pushV(ctx: EmitContext, bytes: number): void {
  movedSp(ctx, -bytes, ctx.SP);
  stackOffset(ctx, ctx.SP);
  store(ctx, Seg.SS, bytes * 8, ctx.V);
  ctx.setReg(32, 4, ctx.SP);
}

function push(ctx: EmitContext, i: BoundInsn): Emitted {
  const [src] = i.entry!.operands;
  if (!simple(src) || src.method === 'reg') return Emitted.NO;
  const size = i.o32 ? 32 : 16;
  readOperand(ctx, i, src, size);
  ctx.fb.set(ctx.V);
  pushV(ctx, size >> 3);
  return Emitted.NEXT;
}

function pop(ctx: EmitContext, i: BoundInsn): Emitted {
  const [dst] = i.entry!.operands;
  if (dst.method !== 'Z') return Emitted.NO;
  const size = i.o32 ? 32 : 16;
  ctx.reg32(4);
  ctx.fb.set(ctx.SP);
  stackOffset(ctx, ctx.SP);
  load(ctx, Seg.SS, size);
  ctx.fb.set(ctx.V);
  movedSp(ctx, size >> 3, ctx.SP);
  ctx.setReg(32, 4, ctx.SP);
  ctx.setReg(size, i.entry!.embedded, ctx.V);
  return Emitted.NEXT;
}

/** A near target past the CS limit faults: let the interpreter's executor raise it. (A limit of 4 GiB covers every target.) */
function checkTarget(ctx: EmitContext, target: number | { local: number }): void {
  const fb = ctx.fb;
  if (ctx.flat) return;
  if (typeof target === 'number') fb.i32(target); else fb.get(target.local);
  fb.i32(0).mem(Op.I32_LOAD, word(S.SEG_LIMIT + Seg.CS)).op(Op.I32_GT_U).if();
  ctx.helperOnSlowPath();
  fb.op(Op.END);
}

function jumpTarget(ctx: EmitContext, i: BoundInsn): number {
  return relativeTarget(i, ctx.block.nexts[ctx.ord]);
}

/** JMP/CALL near through a register or memory: the target, read first (it may fault), leaves through the dispatcher. */
function indirectTarget(ctx: EmitContext, i: BoundInsn): void {
  readOperand(ctx, i, i.entry!.operands[0], i.o32 ? 32 : 16);
  ctx.fb.set(ctx.EIP);
  checkTarget(ctx, { local: ctx.EIP });
}

function jump(ctx: EmitContext, i: BoundInsn): Emitted {
  const method = i.entry!.operands[0].method;
  if (method === 'E') {
    indirectTarget(ctx, i);
    ctx.exit(ctx.ord + 1, { local: ctx.EIP });
    return Emitted.EXIT;
  }
  if (method !== 'J') return Emitted.NO;
  const target = jumpTarget(ctx, i);
  checkTarget(ctx, target);
  ctx.exit(ctx.ord + 1, target);
  return Emitted.EXIT;
}

function conditionalJump(ctx: EmitContext, i: BoundInsn): Emitted {
  const fb = ctx.fb;
  const target = jumpTarget(ctx, i);
  condition(ctx, i.entry!.embedded);
  fb.if();
  checkTarget(ctx, target);
  ctx.exit(ctx.ord + 1, target);
  fb.op(Op.END);
  ctx.exit(ctx.ord + 1, ctx.block.nexts[ctx.ord]);
  return Emitted.EXIT;
}

function call(ctx: EmitContext, i: BoundInsn): Emitted {
  if (i.entry!.operands[0].method === 'E') {
    indirectTarget(ctx, i);
    ctx.fb.i32(ctx.block.nexts[ctx.ord]).set(ctx.V);
    pushV(ctx, i.o32 ? 4 : 2);
    ctx.exit(ctx.ord + 1, { local: ctx.EIP });
    return Emitted.EXIT;
  }
  if (i.entry!.operands[0].method !== 'J') return Emitted.NO;
  const target = jumpTarget(ctx, i);
  checkTarget(ctx, target);
  ctx.fb.i32(ctx.block.nexts[ctx.ord]).set(ctx.V);
  pushV(ctx, i.o32 ? 4 : 2);
  ctx.exit(ctx.ord + 1, target);
  return Emitted.EXIT;
}

function ret(ctx: EmitContext, i: BoundInsn): Emitted {
  const fb = ctx.fb;
  const size = i.o32 ? 32 : 16;
  ctx.reg32(4);
  fb.set(ctx.SP);
  stackOffset(ctx, ctx.SP);
  load(ctx, Seg.SS, size);
  fb.set(ctx.EIP);
  checkTarget(ctx, { local: ctx.EIP });
  const release = i.entry!.operands.length > 0 ? i.imm & 0xffff : 0;
  movedSp(ctx, (size >> 3) + release, ctx.SP);
  ctx.setReg(32, 4, ctx.SP);
  ctx.exit(ctx.ord + 1, { local: ctx.EIP });
  return Emitted.EXIT;
}

/**
 * Whether the only check an instruction needs is its LOCK prefix, and the prefix is legal (a
 * lockable instruction with a memory operand): decided here once, so it can run inline (with
 * one CPU, a locked access is an ordinary one).
 */
function legalLock(i: BoundInsn): boolean {
  const attrs = i.entry!.attrs;
  return i.lock && (attrs & Attr.LOCK) !== 0 && i.mod !== 3 && (attrs & (Attr.PRIV | Attr.PM)) === 0;
}

/**
 * Emits instruction `ctx.ord` inline when it is one of the hot simple ones; anything with LOCK,
 * privilege or mode checks, and every other instruction, goes to the interpreter's executor.
 */
export function emitInline(ctx: EmitContext, i: BoundInsn): Emitted {
  if (i.needsChecks && !legalLock(i)) return Emitted.NO;
  const key = i.entry!.key;
  if (key in ALU_KINDS) return alu(ctx, i);
  switch (key) {
    case 'MOV': return mov(ctx, i);
    case 'INC': return incDec(ctx, i, false);
    case 'DEC': return incDec(ctx, i, true);
    case 'LEA': return lea(ctx, i);
    case 'SHL': case 'SAL': return shift(ctx, i, 'SHL');
    case 'SHR': case 'SAR': return shift(ctx, i, key);
    case 'NOT': return not(ctx, i);
    case 'NEG': return neg(ctx, i);
    case 'IMUL': return imul(ctx, i);
    case 'DIV': return divide(ctx, i);
    case 'BSWAP': return byteSwap(ctx, i);
    case 'CLD': return directionFlag(ctx, false);
    case 'STD': return directionFlag(ctx, true);
    case 'RDTSC': return rdtsc(ctx);
    case 'XCHG': return xchg(ctx, i);
    case 'SETcc': return setcc(ctx, i);
    case 'CMOVcc': return cmovcc(ctx, i);
    case 'LEAVE': return leave(ctx, i);
    case 'CMPXCHG': return cmpxchg(ctx, i);
    case 'BT': case 'BTS': case 'BTR': case 'BTC': return bitTest(ctx, i, key);
    case 'ROL': case 'ROR': return rotate(ctx, i, key);
    case 'MOVZX': return extend(ctx, i, false);
    case 'MOVSX': return extend(ctx, i, true);
    case 'MOVSB': case 'MOVSW': return stringElement(ctx, i, 'MOVS');
    case 'STOSB': case 'STOSW': return stringElement(ctx, i, 'STOS');
    case 'LODSB': case 'LODSW': return stringElement(ctx, i, 'LODS');
    case 'SCASB': case 'SCASW': return stringElement(ctx, i, 'SCAS');
    case 'PUSH': return push(ctx, i);
    case 'POP': return pop(ctx, i);
    case 'JMP': return jump(ctx, i);
    case 'Jcc': return conditionalJump(ctx, i);
    case 'CALL': return call(ctx, i);
    case 'RET': return ret(ctx, i);
    default: return Emitted.NO;
  }
}
