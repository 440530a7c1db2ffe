import { FunctionBody, ModuleBuilder, Op, ValType } from './wasm-emitter.js';
import { BLOCK_TYPE, LEFT, word } from './emit-context.js';
import { S, Seg, STATE_BYTES } from '../cpu/state-layout.js';
import { A20_ON_KEY, FLAT_KEY, FLAT_FLAGS, FLAT_FLAGS_MASK, FLAT_SEGMENTS, type Block } from './block.js';

/**
 * Jump-cache sets (a power of two) of two entries, four words each: linear address, EIP,
 * mapping epoch, mode key | home slot << 10. Two ways, because a direct-mapped cache let pairs
 * of hot targets evict each other on every pass (the busybox loop returned to the run loop 24
 * times an iteration that way).
 */
const SET_BITS = 12;
const ENTRY_BYTES = 16;
const SET_BYTES = 2 * ENTRY_BYTES;
export const JUMP_CACHE_BYTES = (1 << SET_BITS) * SET_BYTES;
/** Fibonacci hashing: the top bits of lin * 2^32/phi spread nearby and page-aligned addresses alike. */
const GOLDEN = 0x9e3779b1 | 0;
const KEY_BITS = 10;
/** Bit 31 of an entry's epoch word marks a global page's entry, whose epoch is S.GLOBAL_EPOCH (epochs stay below 2^30). */
const GLOBAL_STAMP = 1 << 31;
/** The key of an empty entry: no mode key has every bit set (CPL 3 is never deprivileged). */
const EMPTY_KEY = (1 << KEY_BITS) - 1;

/**
 * Dispatch inside wasm for the exits whose target is not linked: RET, indirect jumps, jumps to
 * another page, and links whose target was not compiled when they were made. Without it each
 * of those returns to the TypeScript run loop, which costs a few microseconds; a kernel boot
 * takes such an exit every ~35 instructions.
 *
 * The jump cache (two-way set-associative, in the machine's memory) maps the linear address and EIP of a
 * block start to the block's *home slot* in a table that only the dispatcher's instance
 * imports, so filling it stays cheap (V8 keeps a dispatch copy of a table per importing
 * instance: see links.ts). An entry counts only with the current mode key and mapping epoch
 * (S.MAPPING_EPOCH, which a CR3 load, a paging mode change, A20 and reset bump; an entry for a
 * global page carries S.GLOBAL_EPOCH instead, which a CR3 load leaves), so it names the block
 * the run loop would find by translating the address now; INVLPG makes it forget the entries
 * of that page (forgetPages) instead of moving an epoch. The run loop fills an entry each time it starts a
 * compiled block. Home slots are never reused: a dropped block's slot returns to the run loop,
 * so a stale entry can never start another block.
 */
export class Dispatcher {
  /** (left) -> left: runs the block at CS:EIP if the jump cache knows it, else returns to the run loop. */
  readonly dispatch: (left: number) => number;
  /**
   * (left, key) -> left: the same when the caller knows the mode key (translated code: no
   * instruction it runs inline changes the mode, and a call-out that does returns to the run loop).
   */
  readonly dispatchKeyed: (left: number, key: number) => number;
  private readonly home: WebAssembly.Table;
  private readonly toRunLoop: (left: number) => number;
  private readonly entries: Int32Array;
  /** The state block (at memory offset 0), for the epochs. */
  private readonly state: Int32Array;
  private slots = 0;
  /** The entries (word indices) remembered per linear page, for forgetPages; some may have moved on. */
  private readonly byPage = new Map<number, number[]>();

  constructor(memory: WebAssembly.Memory, offset: number) {
    this.home = new WebAssembly.Table({ initial: 1024, element: 'anyfunc' });
    const m = new ModuleBuilder();
    m.type([ValType.I32], [ValType.I32]);
    const keyedType = m.type([ValType.I32, ValType.I32], [ValType.I32]);
    const keyed = m.addFunc(keyedType, keyedDispatchBody(offset), 'dispatchKeyed');
    m.addFunc(BLOCK_TYPE, dispatchBody(keyed), 'dispatch');
    const stub = new FunctionBody(1);
    stub.get(LEFT);
    m.addFunc(BLOCK_TYPE, stub, 'toRunLoop');
    const instance = new WebAssembly.Instance(new WebAssembly.Module(m.encode()), { e: { m: memory, t: this.home } });
    this.dispatch = instance.exports.dispatch as (left: number) => number;
    this.dispatchKeyed = instance.exports.dispatchKeyed as (left: number, key: number) => number;
    this.toRunLoop = instance.exports.toRunLoop as (left: number) => number;
    this.entries = new Int32Array(memory.buffer, offset, JUMP_CACHE_BYTES >> 2);
    this.state = new Int32Array(memory.buffer, 0, STATE_BYTES >> 2);
    this.clear();
  }

  /** Gives a newly compiled block its home slot. */
  add(block: Block): void {
    const slot = this.slots++;
    if (slot >= this.home.length) this.home.grow(this.home.length);
    this.home.set(slot, block.fn);
    block.homeSlot = slot;
  }

  /** A dropped block: its home slot (and every jump-cache entry naming it) returns to the run loop. */
  drop(block: Block): void {
    if (block.homeSlot >= 0) this.home.set(block.homeSlot, this.toRunLoop);
    block.homeSlot = -1;
  }

  /**
   * Remembers that the compiled block `block` starts at linear address `lin` in the current mode
   * and mapping (on a page the TLB holds as `global`, which a CR3 load keeps): in the set's first
   * way, the entry there moving to the second (least recently remembered out).
   */
  remember(block: Block, lin: number, global: boolean): void {
    const k = jumpCacheSet(lin) * (SET_BYTES >> 2);
    const e = this.entries;
    const w = ENTRY_BYTES >> 2;
    if (e[k] !== lin || e[k + 1] !== block.eip) {
      e.copyWithin(k + w, k, k + w);
      this.note(e[k + w] >>> 12, k + w);
      this.note(lin >>> 12, k);
    }
    e[k] = lin;
    e[k + 1] = block.eip;
    e[k + 2] = global ? this.state[S.GLOBAL_EPOCH] | GLOBAL_STAMP : this.state[S.MAPPING_EPOCH];
    e[k + 3] = block.key | (block.homeSlot << KEY_BITS);
  }

  private note(page: number, at: number): void {
    const list = this.byPage.get(page);
    if (list === undefined) this.byPage.set(page, [at]); else if (!list.includes(at)) list.push(at);
  }

  /** INVLPG: forgets the entries of linear pages [first, first + count). */
  forgetPages(first: number, count: number): void {
    const e = this.entries;
    for (let page = first; page < first + count; page++) {
      const list = this.byPage.get(page);
      if (list === undefined) continue;
      for (const at of list) if (e[at] >>> 12 === page) e[at + 3] = EMPTY_KEY;
      this.byPage.delete(page);
    }
  }

  /** Forgets every entry. */
  clear(): void {
    for (let k = 3; k < this.entries.length; k += 4) this.entries[k] = EMPTY_KEY;
    this.byPage.clear();
  }
}

/** The jump-cache set of a linear address (exported for tests). */
export function jumpCacheSet(lin: number): number {
  return Math.imul(lin, GOLDEN) >>> (32 - SET_BITS);
}

/** The dispatcher's code: the mode key as block.ts's modeKey computes it, then the keyed dispatcher. */
function dispatchBody(keyed: number): FunctionBody {
  const fb = new FunctionBody(1);
  const CR0 = fb.local();
  const load = (index: number): FunctionBody => fb.i32(0).mem(Op.I32_LOAD, word(index));
  fb.get(LEFT);
  load(S.CR0).set(CR0);
  load(S.CS_DEFAULT32);
  load(S.SS_DEFAULT32).i32(1).op(Op.I32_SHL).op(Op.I32_OR);
  load(S.CPL).i32(2).op(Op.I32_SHL).op(Op.I32_OR);
  fb.get(CR0).i32(31).op(Op.I32_SHR_U).i32(4).op(Op.I32_SHL).op(Op.I32_OR);
  fb.get(CR0).i32(1).op(Op.I32_AND).i32(5).op(Op.I32_SHL).op(Op.I32_OR);
  load(S.EFLAGS).i32(17).op(Op.I32_SHR_U).i32(1).op(Op.I32_AND).i32(6).op(Op.I32_SHL).op(Op.I32_OR);
  load(S.DEPRIVILEGED).i32(7).op(Op.I32_SHL).op(Op.I32_OR);
  fb.i32(FLAT_KEY);
  for (const seg of FLAT_SEGMENTS) {
    fb.i32(0);
    load(S.SEG_BASE + seg).op(Op.I32_EQZ);
    load(S.SEG_LIMIT + seg).i32(-1).op(Op.I32_EQ).op(Op.I32_AND);
    load(S.SEG_FLAGS + seg).i32(FLAT_FLAGS_MASK).op(Op.I32_AND).i32(FLAT_FLAGS).op(Op.I32_EQ).op(Op.I32_AND);
    fb.op(Op.SELECT);
  }
  fb.i32(0);
  load(S.SEG_LIMIT + Seg.CS).i32(-1).op(Op.I32_EQ);
  load(S.SEG_BASE + Seg.CS).op(Op.I32_EQZ).op(Op.I32_AND).op(Op.SELECT);
  fb.op(Op.I32_OR);
  fb.i32(A20_ON_KEY).i32(0);
  load(S.A20_MASK).i32(-1).op(Op.I32_EQ).op(Op.SELECT).op(Op.I32_OR);
  fb.returnCall(keyed);
  return fb;
}

/**
 * The keyed dispatcher's code (left, key): the jump-cache set of CS.base + EIP, and a tail call
 * of the home slot of the entry there whose linear address, EIP, epoch and key all match.
 */
function keyedDispatchBody(offset: number): FunctionBody {
  const fb = new FunctionBody(2);
  const KEY = 1;
  const EIP = fb.local(), LIN = fb.local(), AT = fb.local(), EPOCH = fb.local(), GLOBAL = fb.local(), STAMP = fb.local();
  const load = (index: number): FunctionBody => fb.i32(0).mem(Op.I32_LOAD, word(index));
  load(S.EIP).tee(EIP);
  load(S.SEG_BASE + Seg.CS).op(Op.I32_ADD).tee(LIN)
    .i32(GOLDEN).op(Op.I32_MUL).i32(32 - SET_BITS).op(Op.I32_SHR_U).i32(Math.log2(SET_BYTES)).op(Op.I32_SHL).set(AT);
  load(S.MAPPING_EPOCH).set(EPOCH);
  load(S.GLOBAL_EPOCH).i32(GLOBAL_STAMP).op(Op.I32_OR).set(GLOBAL);
  for (const way of [0, ENTRY_BYTES]) {
    const at = offset + way;
    fb.get(AT).mem(Op.I32_LOAD, at).get(LIN).op(Op.I32_EQ)
      .get(AT).mem(Op.I32_LOAD, at + 4).get(EIP).op(Op.I32_EQ).op(Op.I32_AND)
      .get(AT).mem(Op.I32_LOAD, at + 8).tee(STAMP).get(EPOCH).op(Op.I32_EQ).get(STAMP).get(GLOBAL).op(Op.I32_EQ).op(Op.I32_OR).op(Op.I32_AND)
      .get(AT).mem(Op.I32_LOAD, at + 12).i32((1 << KEY_BITS) - 1).op(Op.I32_AND).get(KEY).op(Op.I32_EQ).op(Op.I32_AND)
      .if()
      .get(LEFT).get(AT).mem(Op.I32_LOAD, at + 12).i32(KEY_BITS).op(Op.I32_SHR_U).returnCallIndirect(BLOCK_TYPE)
      .op(Op.END);
  }
  fb.get(LEFT);
  return fb;
}
