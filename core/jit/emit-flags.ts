import { Op, ValType } from './wasm-emitter.js';
import { EmitContext, FlagRecord, Import, word } from './emit-context.js';
import { S } from '../cpu/state-layout.js';
import { ARITH_FLAGS, CF, LazyOp, OF, PF, SF, ZF, AF } from '../cpu/flags.js';

/** Stores constant `v` into state word `index`. */
function storeConst(ctx: EmitContext, index: number, v: number): void {
  ctx.fb.i32(0).i32(v).mem(Op.I32_STORE, word(index));
}
function storeLocal(ctx: EmitContext, index: number, local: number): void {
  ctx.fb.i32(0).get(local).mem(Op.I32_STORE, word(index));
}

/**
 * Writes the lazy-flag record exactly as flags.ts's setAdd/setSub/setLogic/setIncDec do, from
 * the operands in locals A and B and the result in R, and remembers the record for a fused Jcc.
 */
export function writeFlags(ctx: EmitContext, rec: FlagRecord): void {
  const fb = ctx.fb;
  if (rec.kind === 'logic') {
    fb.i32(0).i32(0).mem(Op.I32_LOAD, word(S.EFLAGS)).i32(~(CF | OF | AF)).op(Op.I32_AND).mem(Op.I32_STORE, word(S.EFLAGS));
    storeConst(ctx, S.LF_OP, LazyOp.LOGIC);
    storeConst(ctx, S.LF_SIZE, rec.size);
    storeLocal(ctx, S.LF_RES, ctx.R);
    storeConst(ctx, S.LF_MASK, SF | ZF | PF);
    ctx.flags = rec;
    return;
  }
  const incDec = rec.kind === 'inc' || rec.kind === 'dec';
  if (incDec) {
    // INC/DEC keep CF: take it out of the record first (flags.ts setIncDec).
    fb.i32(0).i32(0).mem(Op.I32_LOAD, word(S.EFLAGS)).i32(~CF).op(Op.I32_AND);
    currentCF(ctx);
    fb.op(Op.I32_OR).mem(Op.I32_STORE, word(S.EFLAGS));
  }
  storeConst(ctx, S.LF_OP, rec.kind === 'add' || rec.kind === 'inc' ? LazyOp.ADD : LazyOp.SUB);
  storeConst(ctx, S.LF_SIZE, rec.size);
  storeLocal(ctx, S.LF_A, ctx.A);
  if (incDec) storeConst(ctx, S.LF_B, 1); else storeLocal(ctx, S.LF_B, ctx.B);
  storeLocal(ctx, S.LF_RES, ctx.R);
  if (rec.carryIn !== undefined) storeLocal(ctx, S.LF_CARRY_IN, rec.carryIn); else storeConst(ctx, S.LF_CARRY_IN, 0);
  storeConst(ctx, S.LF_MASK, incDec ? ARITH_FLAGS & ~CF : ARITH_FLAGS);
  // Fused conditions know no carry-in.
  ctx.flags = rec.carryIn === undefined ? rec : null;
}

/**
 * A shift's flags as shift.ts setShiftFlags leaves them: SF/ZF/PF lazily from the result in R,
 * CF and OF (locals, 0/1) written into EFLAGS, AF cleared.
 */
export function writeShiftFlags(ctx: EmitContext, size: number, cf: number, of: number): void {
  const fb = ctx.fb;
  storeConst(ctx, S.LF_OP, LazyOp.LOGIC);
  storeConst(ctx, S.LF_SIZE, size);
  storeLocal(ctx, S.LF_RES, ctx.R);
  storeConst(ctx, S.LF_MASK, SF | ZF | PF);
  fb.i32(0).i32(0).mem(Op.I32_LOAD, word(S.EFLAGS)).i32(~(CF | OF | AF)).op(Op.I32_AND)
    .get(cf).op(Op.I32_OR).get(of).i32(11).op(Op.I32_SHL).op(Op.I32_OR).mem(Op.I32_STORE, word(S.EFLAGS));
  ctx.flags = null;
}

/** Pushes CF (0 or 1) from the state block, as flags.ts getCF computes it. */
export function currentCF(ctx: EmitContext): void {
  const fb = ctx.fb;
  const load = (index: number): void => { fb.i32(0).mem(Op.I32_LOAD, word(index)); };
  load(S.LF_MASK); fb.i32(CF).op(Op.I32_AND).op(Op.I32_EQZ);
  fb.if(ValType.I32);
  load(S.EFLAGS); fb.i32(CF).op(Op.I32_AND);
  fb.op(Op.ELSE);
  // T = the size mask (-1 for 32 bits).
  fb.i32(-1); fb.i32(1); load(S.LF_SIZE); fb.op(Op.I32_SHL).i32(1).op(Op.I32_SUB);
  load(S.LF_SIZE); fb.i32(32).op(Op.I32_EQ).op(Op.SELECT).set(ctx.T);
  load(S.LF_OP); fb.i32(LazyOp.ADD).op(Op.I32_EQ);
  fb.if(ValType.I32);
  // ADD: carry_in ? r <= a : r < a
  load(S.LF_RES); fb.get(ctx.T).op(Op.I32_AND); load(S.LF_A); fb.get(ctx.T).op(Op.I32_AND).op(Op.I32_LE_U);
  load(S.LF_RES); fb.get(ctx.T).op(Op.I32_AND); load(S.LF_A); fb.get(ctx.T).op(Op.I32_AND).op(Op.I32_LT_U);
  load(S.LF_CARRY_IN); fb.op(Op.SELECT);
  fb.op(Op.ELSE);
  // SUB: carry_in ? a <= b : a < b
  load(S.LF_A); fb.get(ctx.T).op(Op.I32_AND); load(S.LF_B); fb.get(ctx.T).op(Op.I32_AND).op(Op.I32_LE_U);
  load(S.LF_A); fb.get(ctx.T).op(Op.I32_AND); load(S.LF_B); fb.get(ctx.T).op(Op.I32_AND).op(Op.I32_LT_U);
  load(S.LF_CARRY_IN); fb.op(Op.SELECT);
  fb.op(Op.END);
  fb.op(Op.END);
}

/** Pushes the sign bit (0/1) of local `l` at `size` bits. */
function sign(ctx: EmitContext, l: number, size: number): void {
  ctx.fb.get(l).i32(size - 1).op(Op.I32_SHR_U).i32(1).op(Op.I32_AND);
}
/** Pushes local `l` truncated (unsigned) or sign-extended to `size` bits. */
function narrow(ctx: EmitContext, l: number, size: number, signed: boolean): void {
  const fb = ctx.fb;
  fb.get(l);
  if (size === 32) return;
  if (signed) fb.i32(32 - size).op(Op.I32_SHL).i32(32 - size).op(Op.I32_SHR_S);
  else fb.i32(size === 16 ? 0xffff : 0xff).op(Op.I32_AND);
}
function zero(ctx: EmitContext, size: number): void { narrow(ctx, ctx.R, size, false); ctx.fb.op(Op.I32_EQZ); }

/** OF of the recorded operation, as flags.ts getOF. */
function overflow(ctx: EmitContext, rec: FlagRecord): void {
  const fb = ctx.fb;
  const b = rec.kind === 'inc' || rec.kind === 'dec' ? (): void => { fb.i32(1); } : (): void => { fb.get(ctx.B); };
  if (rec.kind === 'add' || rec.kind === 'inc') {
    fb.get(ctx.A).get(ctx.R).op(Op.I32_XOR); b(); fb.get(ctx.R).op(Op.I32_XOR).op(Op.I32_AND);
  } else {
    fb.get(ctx.A); b(); fb.op(Op.I32_XOR).get(ctx.A).get(ctx.R).op(Op.I32_XOR).op(Op.I32_AND);
  }
  fb.set(ctx.T);
  sign(ctx, ctx.T, rec.size);
}

/**
 * Pushes condition `cc` (0-15, as Jcc encodes it) computed from the last inline flag writer's
 * locals instead of the lazy record (compare and branch fused). Returns false when this block
 * cannot (no known record, PF, or CF after INC/DEC) — then the caller asks the state block.
 */
function fusedCondition(ctx: EmitContext, cc: number): boolean {
  const rec = ctx.flags;
  if (rec === null) return false;
  const fb = ctx.fb, size = rec.size;
  const base = cc >> 1;
  const keepsCF = rec.kind === 'inc' || rec.kind === 'dec';
  if (base === 5 || ((base === 1 || base === 3) && keepsCF)) return false;
  const isSub = rec.kind === 'sub' || rec.kind === 'dec';
  const operandB = (signed: boolean): void => { if (keepsCF) fb.i32(1); else narrow(ctx, ctx.B, size, signed); };
  if (rec.kind === 'logic') {
    switch (base) {
      case 0: case 1: fb.i32(0); break;                                           // OF, CF clear
      case 2: zero(ctx, size); break;
      case 3: zero(ctx, size); break;                                             // CF | ZF = ZF
      case 4: case 6: sign(ctx, ctx.R, size); break;                              // S; L = SF != OF(0)
      default: zero(ctx, size); sign(ctx, ctx.R, size); fb.op(Op.I32_OR); break;  // LE
    }
  } else if (isSub) {
    switch (base) {
      case 0: overflow(ctx, rec); break;
      case 1: narrow(ctx, ctx.A, size, false); operandB(false); fb.op(Op.I32_LT_U); break;
      case 2: zero(ctx, size); break;
      case 3: narrow(ctx, ctx.A, size, false); operandB(false); fb.op(Op.I32_LE_U); break;
      case 4: sign(ctx, ctx.R, size); break;
      case 6: narrow(ctx, ctx.A, size, true); operandB(true); fb.op(Op.I32_LT_S); break;
      default: narrow(ctx, ctx.A, size, true); operandB(true); fb.op(Op.I32_LE_S); break;
    }
  } else {
    switch (base) {
      case 0: overflow(ctx, rec); break;
      case 1: narrow(ctx, ctx.R, size, false); narrow(ctx, ctx.A, size, false); fb.op(Op.I32_LT_U); break;
      case 2: zero(ctx, size); break;
      case 3:
        narrow(ctx, ctx.R, size, false); narrow(ctx, ctx.A, size, false); fb.op(Op.I32_LT_U);
        zero(ctx, size); fb.op(Op.I32_OR); break;
      case 4: sign(ctx, ctx.R, size); break;
      case 6: sign(ctx, ctx.R, size); overflow(ctx, rec); fb.op(Op.I32_XOR); break;
      default: sign(ctx, ctx.R, size); overflow(ctx, rec); fb.op(Op.I32_XOR); zero(ctx, size); fb.op(Op.I32_OR); break;
    }
  }
  if (cc & 1) fb.op(Op.I32_EQZ);
  return true;
}

/** Pushes whether condition `cc` holds: fused when possible, else from the lazy record. */
export function condition(ctx: EmitContext, cc: number): void {
  if (fusedCondition(ctx, cc)) return;
  ctx.fb.i32(cc).call(Import.COND);
}
