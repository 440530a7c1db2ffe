import { ModuleBuilder, Op, ValType } from './wasm-emitter.js';
import { BLOCK_TYPE, EmitContext, Import, LEFT, word } from './emit-context.js';
import { Attr } from '../decoder/table.js';
import { DEPRIVILEGED_KEY } from './block.js';
import { emitInline, Emitted, loopsToStart } from './emit-ops.js';
import { S, Seg } from '../cpu/state-layout.js';
import type { Block } from './block.js';

/** One instruction of a module's blocks: what a call-out's record argument indexes. */
export interface HelperRecord { block: Block; ord: number }

/**
 * Translates one block into a function (left) -> left. Hot simple instructions are emitted
 * inline; every other one calls the helper with its record (semantics live in the interpreter
 * only). On entry the block returns at once, untouched, when its length exceeds the budget left
 * or its last byte the CS limit (a chained entry; the run loop then hands it to the interpreter).
 * It leaves EIP and the registers in the state block.
 */
export function translateBlock(block: Block, recordBase: number, tablesOffset: number,
  slotFor?: (eip: number) => number | null): EmitContext {
  const ctx = new EmitContext(block, recordBase, tablesOffset, slotFor);
  const fb = ctx.fb;
  const n = block.insns.length;
  const deprivileged = (block.key & DEPRIVILEGED_KEY) !== 0;
  fb.get(LEFT).i32(n).op(Op.I32_LT_S)
    .i32(block.lastByte).i32(0).mem(Op.I32_LOAD, word(S.SEG_LIMIT + Seg.CS)).op(Op.I32_GT_U).op(Op.I32_OR)
    .if().get(LEFT).op(Op.RETURN).op(Op.END);
  ctx.ord = n - 1;
  if (loopsToStart(ctx, block.insns[n - 1])) {
    ctx.looping = true;
    ctx.enterLoop();
  }
  for (let k = 0; k < n; k++) {
    ctx.ord = k;
    ctx.stored = false;
    const insn = block.insns[k];
    if (k === n - 1 && block.tail !== null) {
      ctx.crossing();
      return ctx;
    }
    const emitted = emitInline(ctx, insn);
    if (emitted === Emitted.EXIT) {
      if (ctx.looping) fb.op(Op.END); // the loop
      fb.op(Op.UNREACHABLE);
      return ctx;
    }
    if (emitted === Emitted.NO) {
      ctx.helper(insn.endsBlock, deprivileged && (insn.entry!.attrs & (Attr.PRIV | Attr.IOPL)) !== 0 ? Import.VMM : Import.HELPER);
      if (insn.endsBlock) return ctx;
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
  return ctx;
}

/** The imports of every translated module (indices as Import), with their parameter counts. */
const IMPORTS: [string, number][] = [['helper', 2], ['read', 5], ['rmwRead', 5], ['write', 6], ['cond', 1], ['dispatch', 1], ['crossing', 2], ['vmm', 2]];

/**
 * A module holding several blocks (exports b0, b1, ...) and the records its call-outs index.
 * `slotFor` allocates the entry-table slot of an exit to a constant EIP.
 */
export function buildModule(blocks: Block[], tablesOffset: number, slotFor: (block: Block, eip: number) => number | null):
  { bytes: Uint8Array<ArrayBuffer>; records: HelperRecord[] } {
  const m = new ModuleBuilder();
  const I = ValType.I32;
  if (m.type([I], [I]) !== BLOCK_TYPE) throw new Error('jit: the block type must come first');
  IMPORTS.forEach(([name, params]) => m.importFunc('j', name, m.type(new Array<ValType>(params).fill(I), [I])));
  const records: HelperRecord[] = [];
  blocks.forEach((block, k) => {
    const ctx = translateBlock(block, records.length, tablesOffset, (eip) => slotFor(block, eip));
    for (let ord = 0; ord < block.insns.length; ord++) records.push({ block, ord });
    m.addFunc(BLOCK_TYPE, ctx.fb, `b${k}`);
  });
  return { bytes: m.encode(), records };
}
