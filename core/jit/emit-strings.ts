import type { BoundInsn } from '../cpu/decode-cache.js';
import { elementSize, REP_CHUNK } from '../cpu/ops/string.js';
import { DF } from '../cpu/flags.js';
import { RAM_BASE, Reg, S, Seg } from '../cpu/state-layout.js';
import { Op } from './wasm-emitter.js';
import { EmitContext, Import, word } from './emit-context.js';
import { flatRunPhys, load, store } from './emit-memory.js';
import { writeFlags } from './emit-flags.js';
import { Emitted } from './emit-ops.js';

/**
 * MOVS, STOS, LODS and SCAS without a REP prefix (string.ts semantics: read, then write, then
 * eSI/eDI move by the element size, down when DF is set; 16-bit addresses wrap SI/DI at
 * 64 KiB). REP MOVS/STOS see repRun; other REP forms stay with the interpreter's executor.
 */
export function stringElement(ctx: EmitContext, i: BoundInsn, key: string): Emitted {
  if (i.rep !== 0) return key === 'MOVS' || key === 'STOS' ? repRun(ctx, i, key) : Emitted.NO;
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

/**
 * REP MOVS/STOS of flat 32-bit-address code with A20 on, when one execution does it all in
 * wasm: eCX elements (at most REP_CHUNK, the interpreter's one execution), forwards, each run in
 * one page of RAM (the destination's free of translated code), and for MOVS a destination not
 * inside the source ahead of it (where the element loop repeats a pattern): then a memory.copy
 * or fill, eSI/eDI moved and eCX 0, as string.ts leaves them. Anything else is the helper,
 * which runs the interpreter's REP loop. Registers and flags are in the state block around it.
 */
function repRun(ctx: EmitContext, i: BoundInsn, key: string): Emitted {
  if (!i.a32 || !ctx.flat || !ctx.a20On || (key === 'MOVS' && i.segOverride >= 0 && i.segOverride !== Seg.DS)) return Emitted.NO;
  const fb = ctx.fb;
  const bytes = elementSize(i.entry!, i.o32) >> 3;
  const LENGTH = ctx.T, SOURCE = ctx.A, DESTINATION = ctx.B;
  const state = (r: number): void => { fb.i32(0).mem(Op.I32_LOAD, word(r)); };
  const setState = (r: number, value: () => void): void => { fb.i32(0); value(); fb.mem(Op.I32_STORE, word(r)); };
  ctx.spillAll();
  fb.block().block();
  state(Reg.ECX);
  fb.tee(LENGTH).op(Op.I32_EQZ).brIf(1);
  fb.get(LENGTH).i32(REP_CHUNK).op(Op.I32_GT_U);
  state(S.EFLAGS);
  fb.i32(DF).op(Op.I32_AND).op(Op.I32_OR).brIf(0);
  fb.get(LENGTH).i32(bytes).op(Op.I32_MUL).set(LENGTH);
  state(Reg.EDI);
  fb.set(ctx.V);
  flatRunPhys(ctx, ctx.V, LENGTH, true);
  fb.get(ctx.PHYS).set(DESTINATION);
  if (key === 'MOVS') {
    state(Reg.ESI);
    fb.set(ctx.V);
    flatRunPhys(ctx, ctx.V, LENGTH, false);
    fb.get(ctx.PHYS).set(SOURCE);
    // source < destination < source + length: the element loop would copy a pattern.
    fb.get(SOURCE).get(DESTINATION).op(Op.I32_LT_U).get(DESTINATION).get(SOURCE).get(LENGTH).op(Op.I32_ADD).op(Op.I32_LT_U)
      .op(Op.I32_AND).brIf(0);
    fb.get(DESTINATION).i32(RAM_BASE).op(Op.I32_ADD).get(SOURCE).i32(RAM_BASE).op(Op.I32_ADD).get(LENGTH).memoryCopy();
    setState(Reg.ESI, () => { state(Reg.ESI); fb.get(LENGTH).op(Op.I32_ADD); });
  } else if (bytes === 1) {
    fb.get(DESTINATION).i32(RAM_BASE).op(Op.I32_ADD);
    state(Reg.EAX);
    fb.get(LENGTH).memoryFill();
  } else {
    // V runs over the destination's bytes, storing AX or EAX at each element.
    fb.i32(0).set(ctx.V).loop();
    fb.get(DESTINATION).get(ctx.V).op(Op.I32_ADD);
    state(Reg.EAX);
    fb.mem(bytes === 4 ? Op.I32_STORE : Op.I32_STORE16, RAM_BASE);
    fb.get(ctx.V).i32(bytes).op(Op.I32_ADD).tee(ctx.V).get(LENGTH).op(Op.I32_LT_U).brIf(0).op(Op.END);
  }
  setState(Reg.EDI, () => { state(Reg.EDI); fb.get(LENGTH).op(Op.I32_ADD); });
  setState(Reg.ECX, () => { fb.i32(0); });
  fb.br(1).op(Op.END);
  ctx.helper(false, Import.HELPER);
  fb.op(Op.END);
  return Emitted.NEXT;
}
