import type { Insn } from '../decoder/decoder.js';
import { Op, ValType } from './wasm-emitter.js';
import { EmitContext, Import, word } from './emit-context.js';
import { RAM_BASE, S } from '../cpu/state-layout.js';
import { TLB_BASE, TLB_CODE, TLB_ENTRIES, TLB_NOT_RAM, TLB_SLOT_BYTES, TLB_SUPERVISOR_WRITE, TLB_USER, TLB_USER_WRITE } from '../mmu/paging.js';
import { FLAT_SEGMENTS } from './block.js';

const PAGES = 1 << 20;

/** Leaves the ModRM effective address (offset in the segment) in ctx.OFF, as cpu.ea does. */
export function effectiveAddress(ctx: EmitContext, i: Insn): void {
  const fb = ctx.fb;
  fb.i32(i.disp);
  if (i.eaBase >= 0) { ctx.reg32(i.eaBase); fb.op(Op.I32_ADD); }
  if (i.eaIndex >= 0) {
    ctx.reg32(i.eaIndex);
    if (i.eaScale) fb.i32(i.eaScale).op(Op.I32_SHL);
    fb.op(Op.I32_ADD);
  }
  if (!i.a32) fb.i32(0xffff).op(Op.I32_AND);
  fb.set(ctx.OFF);
}

const enum Access { READ, RMW, WRITE }

/**
 * The inline fast path of a data access at seg:OFF: limit and type check of the segment cache,
 * page-crossing test, then with paging the TLB probe, whose frame word also says whether the
 * page is RAM (not holding code, for writes); without paging (or with A20 masking) the page
 * tables say so. Each test branches to the enclosing `slow` block; on success PHYS holds the
 * physical address.
 */
function fastPath(ctx: EmitContext, seg: number, bytes: number, access: Access): void {
  const fb = ctx.fb;
  if (ctx.flat && FLAT_SEGMENTS.includes(seg)) {
    // Base 0, limit 4 GiB, writable expand-up data (the mode key): only an access wrapping past
    // 4 GiB would fail the limit, and it crosses a page, which the test below sends to the slow path.
    fb.get(ctx.OFF).tee(ctx.LIN);
  } else {
    // Limit: OFF + bytes - 1 <= limit, unsigned and without wrapping (i64).
    fb.get(ctx.OFF).op(Op.I64_EXTEND_I32_U);
    if (bytes > 1) fb.i64(bytes - 1).op(Op.I64_ADD);
    fb.i32(0).mem(Op.I32_LOAD, word(S.SEG_LIMIT + seg)).op(Op.I64_EXTEND_I32_U).op(Op.I64_LE_U).op(Op.I32_EQZ).brIf(0);
    // Present, not expand-down; writes also need a writable data segment (else cpu.linear/linearWrite decide).
    const [mask, want] = access === Access.READ ? [0x84, 0x80] : [0x9e, 0x92];
    fb.i32(0).mem(Op.I32_LOAD, word(S.SEG_FLAGS + seg)).i32(mask).op(Op.I32_AND).i32(want).op(Op.I32_NE).brIf(0);
    fb.i32(0).mem(Op.I32_LOAD, word(S.SEG_BASE + seg)).get(ctx.OFF).op(Op.I32_ADD).tee(ctx.LIN);
  }
  if (bytes > 1) fb.i32(0xfff).op(Op.I32_AND).i32(0x1000 - bytes).op(Op.I32_GT_U).brIf(0);
  else fb.op(Op.DROP);
  physOfLin(ctx, access);
}

/**
 * PHYS = the physical address of linear address LIN for an access that stays in LIN's page,
 * by the TLB with paging, else LIN itself; a page that is not RAM, holds translated code (for
 * a write) or is not in the TLB with the permission branches to the enclosing block.
 */
function physOfLin(ctx: EmitContext, access: Access): void {
  const fb = ctx.fb;
  if (ctx.paging) {
    const need = access === Access.READ ? (ctx.user ? TLB_USER : 0) : (ctx.user ? TLB_USER_WRITE : TLB_SUPERVISOR_WRITE);
    // With A20 on, the frame word's own bits say whether the page is RAM (and free of code): no table lookups.
    const slow = !ctx.a20On ? 0 : access === Access.READ ? TLB_NOT_RAM : TLB_NOT_RAM | TLB_CODE;
    fb.get(ctx.LIN).i32(12).op(Op.I32_SHR_U).tee(ctx.PAGE).i32(TLB_ENTRIES - 1).op(Op.I32_AND).i32(TLB_SLOT_BYTES).op(Op.I32_MUL).tee(ctx.FRAME)
      .mem(Op.I32_LOAD, TLB_BASE).get(ctx.PAGE).op(Op.I32_NE).brIf(0);
    fb.get(ctx.FRAME).mem(Op.I32_LOAD, TLB_BASE + 4).set(ctx.FRAME);
    if ((need | slow) !== 0) fb.get(ctx.FRAME).i32(need | slow).op(Op.I32_AND).i32(need).op(Op.I32_NE).brIf(0);
    fb.get(ctx.FRAME).i32(~0xfff).op(Op.I32_AND).get(ctx.LIN).i32(0xfff).op(Op.I32_AND).op(Op.I32_OR);
    if (ctx.a20On) {
      fb.set(ctx.PHYS);
      return;
    }
  } else {
    fb.get(ctx.LIN);
  }
  if (!ctx.a20On) fb.i32(0).mem(Op.I32_LOAD, word(S.A20_MASK)).op(Op.I32_AND);
  fb.tee(ctx.PHYS);
  fb.i32(12).op(Op.I32_SHR_U).tee(ctx.PAGE).mem(Op.I32_LOAD8_U, ctx.tablesOffset).brIf(0);
  if (access !== Access.READ) fb.get(ctx.PAGE).mem(Op.I32_LOAD8_U, ctx.tablesOffset + PAGES).brIf(0);
}

const LOAD = { 8: Op.I32_LOAD8_U, 16: Op.I32_LOAD16_U, 32: Op.I32_LOAD } as Record<number, Op>;
const STORE = { 8: Op.I32_STORE8, 16: Op.I32_STORE16, 32: Op.I32_STORE } as Record<number, Op>;

/**
 * Pushes the `size`-bit value at seg:OFF (zero-extended; 32-bit as is). `rmw` checks write
 * access first, as cpu.rmwLinear does. A miss calls out to the interpreter's path, which may fault.
 */
export function load(ctx: EmitContext, seg: number, size: number, rmw = false): void {
  const fb = ctx.fb;
  fb.block(ValType.I32).block();
  fastPath(ctx, seg, size >> 3, rmw ? Access.RMW : Access.READ);
  fb.get(ctx.PHYS).mem(LOAD[size], RAM_BASE).br(1).op(Op.END);
  ctx.flushDirty();
  ctx.calloutArgs();
  fb.i32(seg).get(ctx.OFF).i32(size).call(rmw ? Import.RMW_READ : Import.READ).op(Op.END);
}

/** Stores local `from` (`size` bits) at seg:OFF; the call-out path records whether the block must end. */
export function store(ctx: EmitContext, seg: number, size: number, from: number): void {
  const fb = ctx.fb;
  fb.block().block();
  fastPath(ctx, seg, size >> 3, Access.WRITE);
  fb.get(ctx.PHYS).get(from).mem(STORE[size], RAM_BASE).br(1).op(Op.END);
  ctx.flushDirty();
  ctx.calloutArgs();
  fb.i32(seg).get(ctx.OFF).i32(size).get(from).call(Import.WRITE).set(ctx.EXIT).op(Op.END);
  ctx.stored = true;
}

/**
 * PHYS = the physical address of the `length` bytes (a local, at most a page) at linear address
 * `lin` (a local) of flat code with A20 on, for reading or (`write`) writing; they must lie in
 * one page of RAM (for a write, free of translated code), else this branches to the enclosing
 * block. For bulk string runs.
 */
export function flatRunPhys(ctx: EmitContext, lin: number, length: number, write: boolean): void {
  const fb = ctx.fb;
  fb.get(lin).tee(ctx.LIN).i32(0xfff).op(Op.I32_AND).get(length).op(Op.I32_ADD).i32(0x1000).op(Op.I32_GT_U).brIf(0);
  physOfLin(ctx, write ? Access.WRITE : Access.READ);
}

/** Leaves in `into` the stack pointer moved by `delta` (wrapped to 16 bits in its low half for a 16-bit stack). */
export function movedSp(ctx: EmitContext, delta: number, into: number): void {
  const fb = ctx.fb;
  if (ctx.stack32) { ctx.reg32(4); fb.i32(delta).op(Op.I32_ADD).set(into); return; }
  ctx.reg32(4); fb.i32(~0xffff).op(Op.I32_AND);
  ctx.reg32(4); fb.i32(delta).op(Op.I32_ADD).i32(0xffff).op(Op.I32_AND).op(Op.I32_OR).set(into);
}

/** OFF = the stack offset of a stack pointer value held in `sp`. */
export function stackOffset(ctx: EmitContext, sp: number): void {
  ctx.fb.get(sp);
  if (!ctx.stack32) ctx.fb.i32(0xffff).op(Op.I32_AND);
  ctx.fb.set(ctx.OFF);
}
