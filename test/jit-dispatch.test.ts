import { expect } from 'chai';
import { Dispatcher, jumpCacheSet } from '../core/jit/dispatch.js';
import { BLOCK_TYPE, LEFT } from '../core/jit/emit-context.js';
import { FunctionBody, ModuleBuilder, Op, ValType } from '../core/jit/wasm-emitter.js';
import { S, Seg } from '../core/cpu/state-layout.js';
import type { Block } from '../core/jit/block.js';

const JUMP_CACHE_AT = 0x10000;
const KEY = 0x33f;

/** A compiled "block" that returns its budget plus `id`, so a dispatch shows which one ran. */
function fakeBlock(memory: WebAssembly.Memory, eip: number, id: number): Block {
  const m = new ModuleBuilder();
  m.type([ValType.I32], [ValType.I32]);
  const body = new FunctionBody(1);
  body.get(LEFT).i32(id).op(Op.I32_ADD);
  m.addFunc(BLOCK_TYPE, body, 'b');
  const fn = new WebAssembly.Instance(new WebAssembly.Module(m.encode()), { e: { m: memory, t: new WebAssembly.Table({ initial: 0, element: 'anyfunc' }) } })
    .exports.b as (left: number) => number;
  return { eip, key: KEY, fn, homeSlot: -1 } as unknown as Block;
}

/** `count` linear addresses (CS base 0) in the jump-cache set of 0x08049b40. */
function sameSet(count: number): number[] {
  const set = jumpCacheSet(0x08049b40);
  const found: number[] = [];
  for (let lin = 0x08000000; found.length < count; lin += 0x10) if (jumpCacheSet(lin) === set) found.push(lin);
  return found;
}

describe('JIT dispatcher jump cache', () => {
  let memory: WebAssembly.Memory;
  let st: Int32Array;
  let dispatcher: Dispatcher;
  /** What the keyed dispatcher returns for a jump to `eip` with a budget of 1000: 1000 when it goes back to the run loop. */
  const dispatchTo = (eip: number, key = KEY): number => {
    st[S.EIP] = eip;
    return dispatcher.dispatchKeyed(1000, key);
  };

  beforeEach(() => {
    memory = new WebAssembly.Memory({ initial: 4 });
    st = new Int32Array(memory.buffer, 0, 256);
    st[S.SEG_BASE + Seg.CS] = 0;
    st[S.MAPPING_EPOCH] = 5;
    dispatcher = new Dispatcher(memory, JUMP_CACHE_AT);
  });

  /** Blocks 1, 2, ... at `eips`, remembered in the current mapping (of a global page with `global`). */
  function remembered(eips: number[], global = false): void {
    eips.forEach((eip, k) => {
      const block = fakeBlock(memory, eip, k + 1);
      dispatcher.add(block);
      dispatcher.remember(block, eip, global);
    });
  }

  it('keeps two hot targets of one set (a direct-mapped cache made them evict each other)', () => {
    const [a, b] = sameSet(2);
    remembered([a, b]);
    for (let pass = 0; pass < 3; pass++) {
      expect(dispatchTo(a)).to.equal(1001);
      expect(dispatchTo(b)).to.equal(1002);
    }
  });

  it('evicts the least recently remembered entry of a full set', () => {
    const [a, b, c] = sameSet(3);
    remembered([a, b, c]);
    expect(dispatchTo(a)).to.equal(1000);
    expect(dispatchTo(b)).to.equal(1002);
    expect(dispatchTo(c)).to.equal(1003);
  });

  it('goes back to the run loop after a mapping change, in another mode, and for an unknown address', () => {
    const [a] = sameSet(1);
    remembered([a]);
    expect(dispatchTo(a, KEY ^ 1)).to.equal(1000);
    expect(dispatchTo(a + 0x10)).to.equal(1000);
    st[S.MAPPING_EPOCH]++;
    expect(dispatchTo(a)).to.equal(1000);
  });

  it('keeps a global page\'s entry across a CR3 load (MAPPING_EPOCH), not across a paging change (GLOBAL_EPOCH)', () => {
    const [a] = sameSet(1);
    remembered([a], true);
    st[S.MAPPING_EPOCH]++;
    expect(dispatchTo(a)).to.equal(1001);
    st[S.GLOBAL_EPOCH]++;
    expect(dispatchTo(a)).to.equal(1000);
  });

  it('INVLPG forgets the entries of its pages only, global or not', () => {
    const [a, b] = sameSet(2);
    remembered([a, b], true);
    dispatcher.forgetPages(a >>> 12, 1);
    expect(dispatchTo(a)).to.equal(1000);
    expect(dispatchTo(b)).to.equal(b >>> 12 === a >>> 12 ? 1000 : 1002);
    const [c] = sameSet(3).slice(2);
    remembered([c]);
    dispatcher.forgetPages((c >>> 12) - 3, 8);
    expect(dispatchTo(c)).to.equal(1000);
  });

  it('follows the code segment base: the entry is by linear address and EIP', () => {
    const [a] = sameSet(1);
    remembered([a]);
    st[S.SEG_BASE + Seg.CS] = 0x1000;
    expect(dispatchTo(a - 0x1000)).to.equal(1000);
  });
});
