import { Op, ValType } from './wasm-emitter.js';
import { EmitContext, FlagRecord, Import, word } from './emit-context.js';
import { S } from '../cpu/state-layout.js';
import { CF, LazyOp } from '../cpu/flags.js';

/**
 * Records the flags of an inline ADD/ADC/SUB/SBB/CMP, logic op or INC/DEC from the operands in
 * locals A and B and the result in R (`carry`: the local holding ADC/SBB's carry in). Nothing is
 * stored: the record stays pending in the F* locals (EmitContext.flushFlags).
 */
export function writeFlags(ctx: EmitContext, kind: 'add' | 'sub' | 'logic' | 'inc' | 'dec', size: number, carry?: number): void {
  const fb = ctx.fb;
  if (kind === 'inc' || kind === 'dec') {
    // INC/DEC keep CF: take it from the record they replace (flags.ts setIncDec) — unless a later
    // instruction overwrites CF before anything can see it (flag liveness).
    if ((ctx.liveAfter[ctx.ord] & CF) !== 0) currentCF(ctx); else fb.i32(0);
    fb.set(ctx.FCF);
  }
  if (kind !== 'logic') fb.get(ctx.A).set(ctx.FA);
  if (kind === 'add' || kind === 'sub') fb.get(ctx.B).set(ctx.FB);
  fb.get(ctx.R).set(ctx.FR);
  if (carry !== undefined) fb.get(carry).set(ctx.FC);
  ctx.flags = { kind, size, carry: carry !== undefined };
}

/** A shift's flags as shift.ts setShiftFlags leaves them: SF/ZF/PF from the result in R, CF and OF from locals (0/1), AF clear. */
export function writeShiftFlags(ctx: EmitContext, size: number, cf: number, of: number): void {
  ctx.fb.get(ctx.R).set(ctx.FR).get(cf).set(ctx.FCF).get(of).set(ctx.FOF);
  ctx.flags = { kind: 'shift', size };
}

/** Pushes CF (0 or 1): from the pending record, else from the state block as flags.ts getCF computes it. */
export function currentCF(ctx: EmitContext): void {
  const fb = ctx.fb;
  const rec = ctx.flags;
  if (rec !== null) {
    switch (rec.kind) {
      case 'logic': fb.i32(0); return;
      case 'shift': case 'inc': case 'dec': fb.get(ctx.FCF); return;
    }
    const [x, y] = rec.kind === 'add' ? [ctx.FR, ctx.FA] : [ctx.FA, ctx.FB];
    // ADD: carry_in ? r <= a : r < a; SUB: carry_in ? a <= b : a < b (unsigned, at the operand size).
    if (rec.carry) { narrow(ctx, x, rec.size, false); narrow(ctx, y, rec.size, false); fb.op(Op.I32_LE_U); }
    narrow(ctx, x, rec.size, false); narrow(ctx, y, rec.size, false); fb.op(Op.I32_LT_U);
    if (rec.carry) fb.get(ctx.FC).op(Op.SELECT);
    return;
  }
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
function zero(ctx: EmitContext, size: number): void { narrow(ctx, ctx.FR, size, false); ctx.fb.op(Op.I32_EQZ); }

/** OF of the recorded operation, as flags.ts getOF. */
function overflow(ctx: EmitContext, rec: FlagRecord): void {
  const fb = ctx.fb;
  if (rec.kind === 'shift') { fb.get(ctx.FOF); return; }
  const b = rec.kind === 'inc' || rec.kind === 'dec' ? (): void => { fb.i32(1); } : (): void => { fb.get(ctx.FB); };
  if (rec.kind === 'add' || rec.kind === 'inc') {
    fb.get(ctx.FA).get(ctx.FR).op(Op.I32_XOR); b(); fb.get(ctx.FR).op(Op.I32_XOR).op(Op.I32_AND);
  } else {
    fb.get(ctx.FA); b(); fb.op(Op.I32_XOR).get(ctx.FA).get(ctx.FR).op(Op.I32_XOR).op(Op.I32_AND);
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
  if (rec === null || rec.carry) return false;
  const fb = ctx.fb, size = rec.size;
  const base = cc >> 1;
  const keepsCF = rec.kind === 'inc' || rec.kind === 'dec';
  if (base === 5 || ((base === 1 || base === 3) && keepsCF)) return false;
  const isSub = rec.kind === 'sub' || rec.kind === 'dec';
  const operandB = (signed: boolean): void => { if (keepsCF) fb.i32(1); else narrow(ctx, ctx.FB, size, signed); };
  if (rec.kind === 'shift') {
    switch (base) {
      case 0: fb.get(ctx.FOF); break;
      case 1: fb.get(ctx.FCF); break;
      case 2: zero(ctx, size); break;
      case 3: fb.get(ctx.FCF); zero(ctx, size); fb.op(Op.I32_OR); break;
      case 4: sign(ctx, ctx.FR, size); break;
      case 6: sign(ctx, ctx.FR, size); fb.get(ctx.FOF).op(Op.I32_XOR); break;
      default: sign(ctx, ctx.FR, size); fb.get(ctx.FOF).op(Op.I32_XOR); zero(ctx, size); fb.op(Op.I32_OR); break;
    }
  } else if (rec.kind === 'logic') {
    switch (base) {
      case 0: case 1: fb.i32(0); break;                                           // OF, CF clear
      case 2: zero(ctx, size); break;
      case 3: zero(ctx, size); break;                                             // CF | ZF = ZF
      case 4: case 6: sign(ctx, ctx.FR, size); break;                              // S; L = SF != OF(0)
      default: zero(ctx, size); sign(ctx, ctx.FR, size); fb.op(Op.I32_OR); break;  // LE
    }
  } else if (isSub) {
    switch (base) {
      case 0: overflow(ctx, rec); break;
      case 1: narrow(ctx, ctx.FA, size, false); operandB(false); fb.op(Op.I32_LT_U); break;
      case 2: zero(ctx, size); break;
      case 3: narrow(ctx, ctx.FA, size, false); operandB(false); fb.op(Op.I32_LE_U); break;
      case 4: sign(ctx, ctx.FR, size); break;
      case 6: narrow(ctx, ctx.FA, size, true); operandB(true); fb.op(Op.I32_LT_S); break;
      default: narrow(ctx, ctx.FA, size, true); operandB(true); fb.op(Op.I32_LE_S); break;
    }
  } else {
    switch (base) {
      case 0: overflow(ctx, rec); break;
      case 1: narrow(ctx, ctx.FR, size, false); narrow(ctx, ctx.FA, size, false); fb.op(Op.I32_LT_U); break;
      case 2: zero(ctx, size); break;
      case 3:
        narrow(ctx, ctx.FR, size, false); narrow(ctx, ctx.FA, size, false); fb.op(Op.I32_LT_U);
        zero(ctx, size); fb.op(Op.I32_OR); break;
      case 4: sign(ctx, ctx.FR, size); break;
      case 6: sign(ctx, ctx.FR, size); overflow(ctx, rec); fb.op(Op.I32_XOR); break;
      default: sign(ctx, ctx.FR, size); overflow(ctx, rec); fb.op(Op.I32_XOR); zero(ctx, size); fb.op(Op.I32_OR); break;
    }
  }
  if (cc & 1) fb.op(Op.I32_EQZ);
  return true;
}

/** Pushes whether condition `cc` holds: fused when possible, else from the lazy record. */
export function condition(ctx: EmitContext, cc: number): void {
  if (fusedCondition(ctx, cc)) return;
  ctx.flushFlags();
  ctx.fb.i32(cc).call(Import.COND);
}
