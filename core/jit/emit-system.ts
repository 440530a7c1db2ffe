import { CR4_TSD } from '../cpu/ops/system.js';
import { DF } from '../cpu/flags.js';
import { Reg, S } from '../cpu/state-layout.js';
import { Op, ValType } from './wasm-emitter.js';
import { LEFT, word, type EmitContext } from './emit-context.js';
import { Emitted } from './emit-ops.js';

/**
 * RDTSC (system.ts readTsc): EDX:EAX = the ticks at which the budget runs out
 * (S.TSC_AT_END_*, set by the run loop) less the instructions still to come, plus the 64-bit
 * TSC_OFFSET. Outside CPL 0 a set CR4.TSD sends it to the helper, which raises #GP (or, under
 * the deprivileging monitor, lets the monitor emulate it).
 */
export function rdtsc(ctx: EmitContext): Emitted {
  const fb = ctx.fb;
  const load = (index: number): void => { fb.i32(0).mem(Op.I32_LOAD, word(index)); };
  const pair = (lo: number, hi: number): void => {
    load(hi); fb.op(Op.I64_EXTEND_I32_U).i64(32).op(Op.I64_SHL);
    load(lo); fb.op(Op.I64_EXTEND_I32_U).op(Op.I64_OR);
  };
  if (ctx.cpl !== 0) {
    load(S.CR4);
    fb.i32(CR4_TSD).op(Op.I32_AND).if();
    ctx.helperOnSlowPath();
    fb.op(Op.END);
  }
  const tsc = fb.local(ValType.I64);
  pair(S.TSC_AT_END_LO, S.TSC_AT_END_HI);
  fb.get(LEFT).i32(ctx.ord).op(Op.I32_SUB).op(Op.I64_EXTEND_I32_U).op(Op.I64_SUB);
  pair(S.TSC_OFFSET_LO, S.TSC_OFFSET_HI);
  fb.op(Op.I64_ADD).tee(tsc).op(Op.I32_WRAP_I64).set(ctx.R);
  fb.get(tsc).i64(32).op(Op.I64_SHR_U).op(Op.I32_WRAP_I64).set(ctx.V);
  ctx.setReg(32, Reg.EAX, ctx.R);
  ctx.setReg(32, Reg.EDX, ctx.V);
  return Emitted.NEXT;
}

/** CLD/STD: DF is no lazy flag, so EFLAGS itself. */
export function directionFlag(ctx: EmitContext, set: boolean): Emitted {
  const fb = ctx.fb;
  fb.i32(0).i32(0).mem(Op.I32_LOAD, word(S.EFLAGS));
  if (set) fb.i32(DF).op(Op.I32_OR); else fb.i32(~DF).op(Op.I32_AND);
  fb.mem(Op.I32_STORE, word(S.EFLAGS));
  return Emitted.NEXT;
}
