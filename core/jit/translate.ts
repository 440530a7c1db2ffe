import { ModuleBuilder, Op, ValType } from './wasm-emitter.js';
import { EmitContext } from './emit-context.js';
import { emitInline, Emitted } from './emit-ops.js';
import type { Block } from './block.js';

/** One instruction run through the interpreter's executor: what the helper import's argument indexes. */
export interface HelperRecord { block: Block; ord: number }

/**
 * Translates one block into a function body. Hot simple instructions are emitted inline; every
 * other one calls the helper with its record (semantics live in the interpreter only). The
 * function returns how many instructions retired and leaves EIP and the registers in the state block.
 */
export function translateBlock(block: Block, helperBase: number, tablesOffset: number): EmitContext {
  const ctx = new EmitContext(block, helperBase, tablesOffset);
  const fb = ctx.fb;
  const n = block.insns.length;
  for (let k = 0; k < n; k++) {
    ctx.ord = k;
    ctx.stored = false;
    const insn = block.insns[k];
    const emitted = emitInline(ctx, insn);
    if (emitted === Emitted.EXIT) { fb.op(Op.UNREACHABLE); return ctx; }
    if (emitted === Emitted.NO) {
      ctx.helper(insn.endsBlock);
      if (insn.endsBlock) return ctx;
      continue;
    }
    // A store that hit translated code of this block, or woke a device, ends the block here.
    if (ctx.stored && k < n - 1) {
      fb.get(ctx.EXIT).if();
      ctx.exit(k + 1, block.nexts[k]);
      fb.op(Op.END);
    }
  }
  ctx.exit(n, block.nexts[n - 1]);
  fb.op(Op.UNREACHABLE);
  return ctx;
}

/** The imports of every translated module (indices as Import), with their parameter counts. */
const IMPORTS: [string, number][] = [['helper', 1], ['read', 4], ['rmwRead', 4], ['write', 5], ['cond', 1]];

/**
 * A module holding several blocks (exports b0, b1, ...); the helper records its code indexes are
 * appended to `records`.
 */
export function buildModule(blocks: Block[], tablesOffset: number, records: HelperRecord[]): Uint8Array<ArrayBuffer> {
  const m = new ModuleBuilder();
  const I = ValType.I32;
  IMPORTS.forEach(([name, params]) => m.importFunc('j', name, m.type(new Array<ValType>(params).fill(I), [I])));
  const blockType = m.type([], [I]);
  blocks.forEach((block, k) => {
    const ctx = translateBlock(block, records.length, tablesOffset);
    for (let ord = 0; ord < block.insns.length; ord++) records.push({ block, ord });
    m.addFunc(blockType, ctx.fb, `b${k}`);
  });
  return m.encode();
}
