import { ModuleBuilder, Op, ValType } from './wasm-emitter.js';
import { BLOCK_TYPE, EmitContext, Import, LEFT, NEXT, word } from './emit-context.js';
import { Attr } from '../decoder/table.js';
import { DEPRIVILEGED_KEY, FLAT_KEY } from './block.js';
import { emitInline, Emitted } from './emit-ops.js';
import { flagLiveness } from './flag-liveness.js';
import { S, Seg } from '../cpu/state-layout.js';
import type { Block } from './block.js';

/** One instruction of a module's blocks: what a call-out's record argument indexes. */
export interface HelperRecord { block: Block; ord: number }

/**
 * Where an exit to a constant EIP outside the group goes: an entry-table slot (behind a check
 * that the TLB still maps the target's page to `frame` when it lies in another page), or null
 * for the dispatcher.
 */
export interface ExitSlot { slot: number; frame: number | null }
export type SlotFor = (block: Block, eip: number) => ExitSlot | null;

/**
 * Translates one block of the group function being emitted. Hot simple instructions are
 * emitted inline; every other one calls the helper with its record (semantics live in the
 * interpreter only). On entry the block leaves at once, EIP at its start, when its length
 * exceeds the budget left or its last byte the CS limit (the run loop then hands it to the
 * interpreter).
 */
function translateBlock(ctx: EmitContext, block: Block, index: number, recordBase: number, liveAfter: readonly number[]): void {
  const fb = ctx.fb;
  const n = block.insns.length;
  const deprivileged = (block.key & DEPRIVILEGED_KEY) !== 0;
  ctx.beginBlock(block, index, recordBase, liveAfter);
  ctx.ord = 0;
  fb.get(LEFT).i32(n).op(Op.I32_LT_S);
  if (!ctx.flat) fb.i32(block.lastByte).i32(0).mem(Op.I32_LOAD, word(S.SEG_LIMIT + Seg.CS)).op(Op.I32_GT_U).op(Op.I32_OR);
  fb.if();
  ctx.exit(0, block.eip, false);
  fb.op(Op.END);
  for (let k = 0; k < n; k++) {
    ctx.ord = k;
    ctx.stored = false;
    const insn = block.insns[k];
    if (k === n - 1 && block.tail !== null && !ctx.checkTail()) {
      ctx.crossing();
      return;
    }
    const emitted = emitInline(ctx, insn);
    if (emitted === Emitted.EXIT) {
      fb.op(Op.UNREACHABLE);
      return;
    }
    if (emitted === Emitted.NO) {
      ctx.helper(insn.endsBlock, deprivileged && (insn.entry!.attrs & (Attr.PRIV | Attr.IOPL)) !== 0 ? Import.VMM : Import.HELPER);
      if (insn.endsBlock) return;
      continue;
    }
    // A store that hit translated code of this block, or woke a device, ends the block here.
    if (ctx.stored && k < n - 1) {
      fb.get(ctx.EXIT).if();
      ctx.exit(k + 1, block.nexts[k], false);
      fb.op(Op.END);
    }
  }
  ctx.exit(n, block.nexts[n - 1]);
  fb.op(Op.UNREACHABLE);
}

/**
 * The group function's prologue: NEXT = the index of the block starting at the page offset of
 * CS:EIP, where whoever enters the function (the run loop, an exit, the dispatcher) has left
 * EIP, by a binary search over the blocks' offsets (ascending, as the blocks are). The blocks
 * share a physical page, so the offset names one. An EIP at no block's start (nothing enters so)
 * returns to the run loop.
 */
function selectEntry(ctx: EmitContext, blocks: readonly Block[]): void {
  const fb = ctx.fb;
  fb.i32(0).mem(Op.I32_LOAD, word(S.EIP));
  if ((blocks[0].key & FLAT_KEY) === 0) fb.i32(0).mem(Op.I32_LOAD, word(S.SEG_BASE + Seg.CS)).op(Op.I32_ADD);
  fb.i32(0xfff).op(Op.I32_AND).set(ctx.OFF);
  const offset = (k: number): number => blocks[k].phys & 0xfff;
  const search = (first: number, end: number): void => {
    if (end - first === 1) {
      fb.get(ctx.OFF).i32(offset(first)).op(Op.I32_NE).if().get(LEFT).op(Op.RETURN).op(Op.END);
      fb.i32(first).set(NEXT);
      return;
    }
    const middle = (first + end) >> 1;
    fb.get(ctx.OFF).i32(offset(middle)).op(Op.I32_LT_U).if();
    search(first, middle);
    fb.op(Op.ELSE);
    search(middle, end);
    fb.op(Op.END);
  };
  search(0, blocks.length);
}

/**
 * Translates blocks of one page and mode into their group function (left) -> left, in address
 * order: the entry's block selected (selectEntry), then a loop around a br_table on `next` whose
 * targets are the blocks' code. An exit to a later block of the group branches straight to its
 * code; one to this or an earlier block sets `next` and branches back to the loop. The function
 * is every one of its blocks' entry point: tables and the run loop call it directly.
 */
export function translateGroup(blocks: readonly Block[], recordBases: number[], tablesOffset: number, slotFor: SlotFor): EmitContext {
  const liveness = blocks.map(flagLiveness);
  const ctx = new EmitContext({ blocks, indexOf: new Map(blocks.map((b, k) => [b.phys, k])), liveIn: liveness.map((l) => l.in) },
    tablesOffset, slotFor);
  const fb = ctx.fb;
  selectEntry(ctx, blocks);
  fb.loop();
  ctx.loopDepth = fb.depth;
  for (let k = 0; k < blocks.length; k++) fb.block();
  fb.get(NEXT).brTable(blocks.map((_, k) => k), 0);
  blocks.forEach((block, k) => {
    fb.op(Op.END);
    translateBlock(ctx, block, k, recordBases[k], liveness[k].after);
  });
  fb.op(Op.END).op(Op.UNREACHABLE);
  return ctx;
}

/** The imports of every translated module (indices as Import), with their parameter counts. */
const IMPORTS: [string, number][] = [['helper', 2], ['read', 5], ['rmwRead', 5], ['write', 6], ['cond', 1], ['dispatch', 2], ['crossing', 2], ['vmm', 2]];

/** The batch's blocks by physical page and mode key, each such group in address order. */
function groupsOf(blocks: Block[]): Block[][] {
  const groups = new Map<string, Block[]>();
  for (const b of blocks) {
    const id = `${b.phys >>> 12}/${b.key}`;
    const group = groups.get(id);
    if (group === undefined) groups.set(id, [b]); else group.push(b);
  }
  return [...groups.values()].map((group) => group.sort((a, b) => a.phys - b.phys));
}

/**
 * A module holding several blocks and the records its call-outs index. The blocks of one page
 * and mode share a group function, exported as g0, g1, ...; `exports[k]` names the one of
 * blocks[k]. `slotFor` allocates the entry-table slot of an exit to a constant EIP outside the
 * group.
 */
export function buildModule(blocks: Block[], tablesOffset: number, slotFor: SlotFor):
  { bytes: Uint8Array<ArrayBuffer>; records: HelperRecord[]; groups: Block[][]; exports: string[] } {
  const m = new ModuleBuilder();
  const I = ValType.I32;
  if (m.type([I], [I]) !== BLOCK_TYPE) throw new Error('jit: the block type must come first');
  IMPORTS.forEach(([name, params]) => m.importFunc('j', name, m.type(new Array<ValType>(params).fill(I), [I])));
  const records: HelperRecord[] = [];
  const groups = groupsOf(blocks);
  const exportOf = new Map<Block, string>();
  groups.forEach((group, n) => {
    const recordBases = group.map((block) => {
      const base = records.length;
      for (let ord = 0; ord < block.insns.length; ord++) records.push({ block, ord });
      return base;
    });
    m.addFunc(BLOCK_TYPE, translateGroup(group, recordBases, tablesOffset, slotFor).fb, `g${n}`);
    for (const block of group) exportOf.set(block, `g${n}`);
  });
  return { bytes: m.encode(), records, groups, exports: blocks.map((block) => exportOf.get(block)!) };
}
