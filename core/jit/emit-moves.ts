import type { BoundInsn } from '../cpu/decode-cache.js';
import { operandSize } from '../cpu/ops/operands.js';
import { isPause } from '../cpu/ops/data.js';
import { Reg, Seg } from '../cpu/state-layout.js';
import { Op } from './wasm-emitter.js';
import type { EmitContext } from './emit-context.js';
import { effectiveAddress, load, stackOffset, store } from './emit-memory.js';
import { condition, writeFlags } from './emit-flags.js';
import { Emitted, fixedRegister, readOperand } from './emit-ops.js';

/** Inline XCHG (NOP and PAUSE among them), CMPXCHG, SETcc, CMOVcc and LEAVE (data.ts, atomic.ts, stack.ts semantics). */

export function xchg(ctx: EmitContext, i: BoundInsn): Emitted {
  const [a, b] = i.entry!.operands;
  const size = operandSize(a, i.o32);
  if (a.method === 'E' && i.mod !== 3) {
    // With memory: the store (which may fault) before the register changes.
    effectiveAddress(ctx, i);
    load(ctx, i.seg, size, true);
    ctx.fb.set(ctx.V);
    ctx.getReg(size, i.reg);
    ctx.fb.set(ctx.T);
    store(ctx, i.seg, size, ctx.T);
    ctx.setReg(size, i.reg, ctx.V);
    return Emitted.NEXT;
  }
  if (isPause(i)) { ctx.pause(); return Emitted.NEXT; }
  const ra = a.method === 'Z' ? fixedRegister(i, a) : i.rm;
  const rb = b.method === 'G' ? i.reg : fixedRegister(i, b);
  if (ra === rb) return Emitted.NEXT;
  ctx.getReg(size, ra);
  ctx.fb.set(ctx.V);
  ctx.getReg(size, rb);
  ctx.fb.set(ctx.T);
  ctx.setReg(size, ra, ctx.T);
  ctx.setReg(size, rb, ctx.V);
  return Emitted.NEXT;
}

export function setcc(ctx: EmitContext, i: BoundInsn): Emitted {
  condition(ctx, i.entry!.embedded);
  ctx.fb.set(ctx.V);
  if (i.mod === 3) ctx.setReg(8, i.rm, ctx.V);
  else { effectiveAddress(ctx, i); store(ctx, i.seg, 8, ctx.V); }
  return Emitted.NEXT;
}

/** CMOVcc: the source is read (and may fault) whether or not the condition holds. */
export function cmovcc(ctx: EmitContext, i: BoundInsn): Emitted {
  const size = operandSize(i.entry!.operands[0], i.o32);
  const fb = ctx.fb;
  readOperand(ctx, i, i.entry!.operands[1], size);
  fb.set(ctx.V);
  ctx.getReg(size, i.reg);
  fb.set(ctx.T);
  fb.get(ctx.V).get(ctx.T);
  condition(ctx, i.entry!.embedded);
  fb.op(Op.SELECT).set(ctx.V);
  ctx.setReg(size, i.reg, ctx.V);
  return Emitted.NEXT;
}

/** LEAVE: (E)SP = (E)BP by the stack size, then (E)BP is popped; registers change only once the load succeeded. */
export function leave(ctx: EmitContext, i: BoundInsn): Emitted {
  const size = i.o32 ? 32 : 16;
  const fb = ctx.fb;
  if (ctx.stack32) {
    ctx.reg32(Reg.EBP);
  } else {
    ctx.reg32(Reg.ESP); fb.i32(~0xffff).op(Op.I32_AND);
    ctx.reg32(Reg.EBP); fb.i32(0xffff).op(Op.I32_AND).op(Op.I32_OR);
  }
  fb.set(ctx.SP);
  stackOffset(ctx, ctx.SP);
  load(ctx, Seg.SS, size);
  fb.set(ctx.V);
  const bytes = size >> 3;
  if (ctx.stack32) fb.get(ctx.SP).i32(bytes).op(Op.I32_ADD).set(ctx.SP);
  else {
    fb.get(ctx.SP).i32(~0xffff).op(Op.I32_AND).get(ctx.SP).i32(bytes).op(Op.I32_ADD).i32(0xffff).op(Op.I32_AND).op(Op.I32_OR).set(ctx.SP);
  }
  ctx.setReg(32, Reg.ESP, ctx.SP);
  ctx.setReg(size, Reg.EBP, ctx.V);
  return Emitted.NEXT;
}

/**
 * CMPXCHG r/m, r: flags of CMP accumulator, destination; equal: destination = source, else the
 * accumulator = destination. A memory destination is always written back (the locked cycle),
 * before any register changes.
 */
export function cmpxchg(ctx: EmitContext, i: BoundInsn): Emitted {
  const size = operandSize(i.entry!.operands[0], i.o32);
  const fb = ctx.fb;
  const memory = i.mod !== 3;
  if (memory) { effectiveAddress(ctx, i); load(ctx, i.seg, size, true); } else ctx.getReg(size, i.rm);
  fb.set(ctx.B);
  ctx.getReg(size, Reg.EAX);
  fb.set(ctx.A);
  ctx.getReg(size, i.reg);
  fb.get(ctx.B).get(ctx.A).get(ctx.B).op(Op.I32_EQ).op(Op.SELECT).set(ctx.V);
  if (memory) store(ctx, i.seg, size, ctx.V);
  fb.get(ctx.A).get(ctx.B).op(Op.I32_SUB).set(ctx.R);
  writeFlags(ctx, 'sub', size);
  // Equal, the accumulator already holds the destination's value; a register destination is written last.
  ctx.setReg(size, Reg.EAX, ctx.B);
  if (!memory) ctx.setReg(size, i.rm, ctx.V);
  return Emitted.NEXT;
}
