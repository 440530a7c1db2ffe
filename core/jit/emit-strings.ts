import type { BoundInsn } from '../cpu/decode-cache.js';
import { elementSize } from '../cpu/ops/string.js';
import { DF } from '../cpu/flags.js';
import { Reg, S, Seg } from '../cpu/state-layout.js';
import { Op } from './wasm-emitter.js';
import { EmitContext, word } from './emit-context.js';
import { load, store } from './emit-memory.js';
import { writeFlags } from './emit-flags.js';
import { Emitted } from './emit-ops.js';

/**
 * MOVS, STOS, LODS and SCAS without a REP prefix (string.ts semantics: read, then write, then
 * eSI/eDI move by the element size, down when DF is set; 16-bit addresses wrap SI/DI at
 * 64 KiB). With REP they stay with the interpreter's executor, which runs them in bulk.
 */
export function stringElement(ctx: EmitContext, i: BoundInsn, key: string): Emitted {
  if (i.rep !== 0) return Emitted.NO;
  const fb = ctx.fb;
  const size = elementSize(i.entry!, i.o32);
  const bytes = size >> 3;
  // STEP = DF ? -bytes : bytes
  fb.i32(-bytes).i32(bytes).i32(0).mem(Op.I32_LOAD, word(S.EFLAGS)).i32(DF).op(Op.I32_AND).op(Op.SELECT).set(ctx.T);
  const source = i.segOverride >= 0 ? i.segOverride : Seg.DS;
  const offset = (reg: number): void => {
    ctx.reg32(reg);
    if (!i.a32) fb.i32(0xffff).op(Op.I32_AND);
    fb.set(ctx.OFF);
  };
  if (key === 'LODS' || key === 'MOVS') {
    offset(Reg.ESI);
    load(ctx, source, size);
    fb.set(ctx.V);
  }
  if (key === 'STOS') {
    ctx.getReg(size, Reg.EAX);
    fb.set(ctx.V);
  }
  if (key === 'STOS' || key === 'MOVS') {
    offset(Reg.EDI);
    store(ctx, Seg.ES, size, ctx.V);
  }
  if (key === 'SCAS') {
    offset(Reg.EDI);
    load(ctx, Seg.ES, size);
    fb.set(ctx.B);
    ctx.getReg(size, Reg.EAX);
    fb.tee(ctx.A).get(ctx.B).op(Op.I32_SUB).set(ctx.R);
    writeFlags(ctx, 'sub', size);
  }
  if (key === 'LODS') ctx.setReg(size, Reg.EAX, ctx.V);
  if (key === 'LODS' || key === 'MOVS') advance(ctx, i, Reg.ESI);
  if (key !== 'LODS') advance(ctx, i, Reg.EDI);
  return Emitted.NEXT;
}

/** Moves eSI or eDI by the step in local T (with 16-bit addresses only SI/DI, wrapping). */
function advance(ctx: EmitContext, i: BoundInsn, reg: number): void {
  const fb = ctx.fb;
  ctx.reg32(reg);
  fb.get(ctx.T).op(Op.I32_ADD).set(ctx.V);
  ctx.setReg(i.a32 ? 32 : 16, reg, ctx.V);
}
