import { FunctionBody, Op, ValType } from './wasm-emitter.js';
import { S } from '../cpu/state-layout.js';
import type { Block } from './block.js';

/** Byte offset of a state word (the state block sits at memory offset 0). */
export const word = (index: number): number => index * 4;

/** Indices of the functions every translated module imports (in the order of translate.ts IMPORTS). */
export const enum Import {
  /** helper(record) -> exit: runs one instruction through the interpreter's executor. */
  HELPER = 0,
  /** read(ord, seg, offset, size) -> value; rmwRead checks write access first; write(...) -> exit. */
  READ = 1,
  RMW_READ = 2,
  WRITE = 3,
  /** cond(cc) -> 0/1 from the lazy flags in the state block. */
  COND = 4,
}

/** What the last inline flag-writing instruction left in the A/B/R locals (for fused Jcc). */
export interface FlagRecord {
  kind: 'add' | 'sub' | 'logic' | 'inc' | 'dec';
  size: number;
  /** ADC/SBB: the local holding the carry in. */
  carryIn?: number;
}

/**
 * Per-block code generation state: the function body, guest registers cached in locals (loaded
 * on first use, written back before anything that can read the state block or fault), scratch
 * locals, and the exits. Blocks are straight-line code, so the cache state is tracked at
 * compile time.
 */
export class EmitContext {
  readonly fb = new FunctionBody(0);
  private readonly loaded = new Array<boolean>(8).fill(false);
  private readonly dirty = new Array<boolean>(8).fill(false);
  /** Scratch locals; registers are locals 0-7. */
  readonly OFF: number; readonly LIN: number; readonly PAGE: number; readonly PHYS: number; readonly FRAME: number;
  readonly A: number; readonly B: number; readonly R: number; readonly V: number; readonly T: number;
  readonly SP: number; readonly EXIT: number; readonly EIP: number;
  /** Ordinal (index in the block) of the instruction being emitted. */
  ord = 0;
  /** Whether the instruction being emitted stores to memory (its exit flag must be tested). */
  stored = false;
  flags: FlagRecord | null = null;

  constructor(readonly block: Block, readonly helperBase: number, readonly tablesOffset: number) {
    for (let r = 0; r < 8; r++) this.fb.local(ValType.I32);
    [this.OFF, this.LIN, this.PAGE, this.PHYS, this.FRAME, this.A, this.B, this.R, this.V, this.T, this.SP, this.EXIT, this.EIP] =
      Array.from({ length: 13 }, () => this.fb.local(ValType.I32));
  }

  get stack32(): boolean { return (this.block.key & 2) !== 0; }
  get paging(): boolean { return (this.block.key & 16) !== 0; }
  get user(): boolean { return ((this.block.key >> 2) & 3) === 3; }

  /** Pushes a 32-bit guest register. */
  reg32(r: number): void {
    if (!this.loaded[r]) {
      this.fb.i32(0).mem(Op.I32_LOAD, word(r)).set(r);
      this.loaded[r] = true;
    }
    this.fb.get(r);
  }
  /** Pushes a register of `size` bits, zero-extended (8-bit: 0-3 low bytes, 4-7 high bytes of EAX..EBX). */
  getReg(size: number, r: number): void {
    const fb = this.fb;
    if (size === 32) { this.reg32(r); return; }
    if (size === 16) { this.reg32(r); fb.i32(0xffff).op(Op.I32_AND); return; }
    this.reg32(r & 3);
    if (r >= 4) fb.i32(8).op(Op.I32_SHR_U);
    fb.i32(0xff).op(Op.I32_AND);
  }
  /** Writes local `from` to a register of `size` bits (narrow sizes keep the other bits). */
  setReg(size: number, r: number, from: number): void {
    const fb = this.fb;
    if (size === 32) { fb.get(from).set(r); this.loaded[r] = true; this.dirty[r] = true; return; }
    const full = size === 16 ? r : r & 3;
    const shift = size === 8 && r >= 4 ? 8 : 0;
    const mask = (size === 16 ? 0xffff : 0xff) << shift;
    this.reg32(full);
    fb.i32(~mask).op(Op.I32_AND).get(from);
    if (shift) fb.i32(shift).op(Op.I32_SHL);
    fb.i32(mask).op(Op.I32_AND).op(Op.I32_OR).set(full);
    this.dirty[full] = true;
  }

  /** Stores the dirty registers without changing what the compiler knows (for slow paths). */
  flushDirty(): void {
    for (let r = 0; r < 8; r++) if (this.dirty[r]) this.fb.i32(0).get(r).mem(Op.I32_STORE, word(r));
  }
  /** Before a call that may read or change any register: write back, then reload afterwards. */
  spillAll(): void {
    this.flushDirty();
    this.dirty.fill(false);
    this.loaded.fill(false);
    this.flags = null;
  }

  /** Leaves the block: registers written back, EIP from `eipLocal` (or a constant), returns `retired`. */
  exit(retired: number, eip: number | { local: number }): void {
    const fb = this.fb;
    this.flushDirty();
    fb.i32(0);
    if (typeof eip === 'number') fb.i32(eip); else fb.get(eip.local);
    fb.mem(Op.I32_STORE, word(S.EIP)).i32(retired).op(Op.RETURN);
  }
  /** Runs instruction `ord` through the interpreter (helper record helperBase + ord); the block ends if the helper says so. */
  helper(last: boolean): void {
    const fb = this.fb;
    this.spillAll();
    fb.i32(this.helperBase + this.ord).call(Import.HELPER);
    if (last) { fb.op(Op.DROP).i32(this.ord + 1).op(Op.RETURN); return; }
    fb.if().i32(this.ord + 1).op(Op.RETURN).op(Op.END);
  }
  /** A helper call on a rarely taken path (a jump past the CS limit, which faults): no compile-time state changes. */
  helperOnSlowPath(): void {
    this.flushDirty();
    this.fb.i32(this.helperBase + this.ord).call(Import.HELPER).op(Op.DROP).i32(this.ord + 1).op(Op.RETURN);
  }
}
