import { FunctionBody, Op, ValType } from './wasm-emitter.js';
import { S } from '../cpu/state-layout.js';
import { AF, ARITH_FLAGS, CF, LazyOp, OF, PF, SF, ZF } from '../cpu/flags.js';
import { A20_ON_KEY, CODE32_KEY, FLAT_KEY, keyCpl, PAGING_KEY, samePagePhys, STACK32_KEY, type Block } from './block.js';
import { TLB_BASE, TLB_ENTRIES, TLB_NOT_RAM, TLB_SLOT_BYTES, TLB_USER } from '../mmu/paging.js';
import type { SlotFor } from './translate.js';

/** Byte offset of a state word (the state block sits at memory offset 0). */
export const word = (index: number): number => index * 4;

/** Indices of the functions every translated module imports (in the order of translate.ts IMPORTS). */
export const enum Import {
  /**
   * helper(record, left) -> exit: runs one instruction through the interpreter's executor. Every
   * call-out passes the instruction's record (module-local: block and ordinal) and the block's
   * `left` parameter, from which the JIT knows the exact instruction count.
   */
  HELPER = 0,
  /** read(record, left, seg, offset, size) -> value; rmwRead checks write access first; write(..., value) -> exit. */
  READ = 1,
  RMW_READ = 2,
  WRITE = 3,
  /** cond(cc) -> 0/1 from the lazy flags in the state block (lazy-flags.ts, wasm). */
  COND = 4,
  /** dispatch(left, key) -> left: the keyed dispatcher (dispatch.ts), tail-called with the block's mode key by exits with no linked slot. */
  DISPATCH = 5,
  /** crossing(record, left) -> exit: helper for an instruction running into the next page (the block's tail). */
  CROSSING = 6,
  /**
   * vmm(record, left) -> exit: a privileged or IOPL-sensitive instruction of deprivileged guest
   * ring-0 code, emulated by the monitor in the guest view (a callout instead of a #GP trap).
   */
  VMM = 7,
}

/**
 * Bits of the helper's result: the run loop must see the next instruction; the instruction moved
 * EIP; (crossing only) the next page maps elsewhere now, so the instruction did not run.
 */
export const enum HelperExit { RUN_LOOP = 1, JUMPED = 2, NOT_RUN = 4 }
/**
 * A PAUSE's helper result carries, above the HelperExit bits, the instruction times the CPU
 * stalled, which come out of the budget (EmitContext.pause).
 */
export const STALL_SHIFT = 3;

/** Type index of every block function, (left: i32) -> i32: budget left on entry, budget left at exit. */
export const BLOCK_TYPE = 0;
/** The parameter: instructions the block may still retire (the budget). */
export const LEFT = 0;
/**
 * A group function's first local: the index in the group of the block to run next (at entry,
 * the block at CS:EIP: see translate.ts selectEntry).
 */
export const NEXT = 1;

/**
 * Blocks of one page and mode translated into one function (translate.ts): an exit of one to
 * another is a branch inside the function. Between blocks, the registers and the flags are in
 * the state block: each block loads the registers it uses, so none is live across the group's
 * dispatch loop (V8's register allocator spilled them when all eight were).
 */
export interface Group {
  readonly blocks: readonly Block[];
  /**
   * The index of the block at a physical address (blocks of different code segments may share
   * the page, so an EIP alone does not name one).
   */
  readonly indexOf: ReadonlyMap<number, number>;
  /** The flags live at each block's start (flag-liveness.ts): with none, an edge to it need not store the flags. */
  readonly liveIn: readonly number[];
}

/**
 * The flag record of the last inline flag writer, kept in the F* locals instead of the state
 * block (flag liveness): a later writer simply replaces it, so only a record some reader can see
 * is ever stored — by `flushFlags`, on every path that leaves the block or calls out.
 */
export interface FlagRecord {
  /** 'shift': SF/ZF/PF from FR, CF and OF (0/1) in FCF and FOF; inc/dec keep the old CF in FCF. */
  kind: 'add' | 'sub' | 'logic' | 'inc' | 'dec' | 'shift';
  size: number;
  /** ADC/SBB: FC holds the carry in (such a record is not fused into a Jcc). */
  carry?: boolean;
}

/**
 * Code generation state of a group function, block by block: the function body, guest registers
 * cached in locals (loaded on first use, written back before anything that can read the state
 * block or fault), scratch locals, and the exits. Blocks are straight-line code, so the cache
 * state is tracked at compile time; at block boundaries it is the group's (see Group).
 * `slotFor` gives the entry-table slot an exit to a constant EIP outside the group tail-calls
 * (null: the dispatcher).
 */
export class EmitContext {
  readonly fb = new FunctionBody(1);
  private readonly loaded = new Array<boolean>(8).fill(false);
  private readonly dirty = new Array<boolean>(8).fill(false);
  /** Scratch locals; register r is local r + 2 (locals 0 and 1 are LEFT, the parameter, and NEXT). */
  readonly OFF: number; readonly LIN: number; readonly PAGE: number; readonly PHYS: number; readonly FRAME: number;
  readonly A: number; readonly B: number; readonly R: number; readonly V: number; readonly T: number;
  readonly SP: number; readonly EXIT: number; readonly EIP: number;
  /** The pending flag record: operands, result, carry in, and CF/OF where they are not lazy. */
  readonly FA: number; readonly FB: number; readonly FR: number; readonly FC: number; readonly FCF: number; readonly FOF: number;
  /** The block being emitted, its index in the group, and the record index of its first instruction. */
  block!: Block;
  blockIndex = 0;
  recordBase = 0;
  /** Ordinal (index in the block) of the instruction being emitted. */
  ord = 0;
  /** The arithmetic flags live after each instruction of the block (flag-liveness.ts). */
  liveAfter: readonly number[] = [];
  /** Whether the instruction being emitted stores to memory (its exit flag must be tested). */
  stored = false;
  flags: FlagRecord | null = null;
  /** fb.depth inside the group's dispatch loop (the target of a branch to another block). */
  loopDepth = 0;

  constructor(readonly group: Group, readonly tablesOffset: number,
    private readonly slotFor: SlotFor) {
    this.fb.local(ValType.I32);
    for (let r = 0; r < 8; r++) this.fb.local(ValType.I32);
    [this.OFF, this.LIN, this.PAGE, this.PHYS, this.FRAME, this.A, this.B, this.R, this.V, this.T, this.SP, this.EXIT, this.EIP,
      this.FA, this.FB, this.FR, this.FC, this.FCF, this.FOF] = Array.from({ length: 19 }, () => this.fb.local(ValType.I32));
  }

  get code32(): boolean { return (this.block.key & CODE32_KEY) !== 0; }
  get stack32(): boolean { return (this.block.key & STACK32_KEY) !== 0; }
  get cpl(): number { return keyCpl(this.block.key); }
  get paging(): boolean { return (this.block.key & PAGING_KEY) !== 0; }
  get user(): boolean { return this.cpl === 3; }
  get flat(): boolean { return (this.block.key & FLAT_KEY) !== 0; }
  get a20On(): boolean { return (this.block.key & A20_ON_KEY) !== 0; }

  /** Starts block `block` in the state every block boundary has. */
  beginBlock(block: Block, index: number, recordBase: number, liveAfter: readonly number[]): void {
    this.block = block;
    this.liveAfter = liveAfter;
    this.blockIndex = index;
    this.recordBase = recordBase;
    this.flags = null;
    this.stored = false;
    this.loaded.fill(false);
    this.dirty.fill(false);
  }

  /** Pushes a 32-bit guest register. */
  reg32(r: number): void {
    if (!this.loaded[r]) {
      this.fb.i32(0).mem(Op.I32_LOAD, word(r)).set(r + 2);
      this.loaded[r] = true;
    }
    this.fb.get(r + 2);
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
    if (size === 32) {
      fb.get(from).set(r + 2);
      this.loaded[r] = true;
      this.dirty[r] = true;
      return;
    }
    const full = size === 16 ? r : r & 3;
    const shift = size === 8 && r >= 4 ? 8 : 0;
    const mask = (size === 16 ? 0xffff : 0xff) << shift;
    this.reg32(full);
    fb.i32(~mask).op(Op.I32_AND).get(from);
    if (shift) fb.i32(shift).op(Op.I32_SHL);
    fb.i32(mask).op(Op.I32_AND).op(Op.I32_OR).set(full + 2);
    this.dirty[full] = true;
  }

  /** Stores the dirty registers and the pending flag record without changing what the compiler knows (for slow paths). */
  flushDirty(): void {
    this.flushRegisters();
    this.flushFlags();
  }
  private flushRegisters(): void {
    for (let r = 0; r < 8; r++) if (this.dirty[r]) this.fb.i32(0).get(r + 2).mem(Op.I32_STORE, word(r));
  }

  /**
   * The pending flag record on an edge to block `target` of the group after `retired`
   * instructions: not stored when the target overwrites every flag before anything can see one
   * — unless the target will leave at once for want of budget (then the run loop sees them). A
   * CS-limit check at the target's start may leave as well, so only flat code skips the store.
   */
  private flushFlagsOnEdgeTo(target: number, retired: number): void {
    if (this.flags === null) return;
    if (!this.flat || this.group.liveIn[target] !== 0) { this.flushFlags(); return; }
    this.left(retired);
    this.fb.i32(this.group.blocks[target].insns.length).op(Op.I32_LT_S).if();
    this.flushFlags();
    this.fb.op(Op.END);
  }

  /** Stores the pending flag record as flags.ts's setAdd/setSub/setIncDec/setLogic/shift flags would have. */
  flushFlags(): void {
    const rec = this.flags;
    if (rec === null) return;
    const fb = this.fb;
    const put = (index: number, local: number | null, value = 0): void => {
      fb.i32(0);
      if (local === null) fb.i32(value); else fb.get(local);
      fb.mem(Op.I32_STORE, word(index));
    };
    /** EFLAGS = EFLAGS & ~clear | the bits the locals give (CF from FCF, OF from FOF). */
    const eflags = (clear: number, cf: boolean, of: boolean): void => {
      fb.i32(0).i32(0).mem(Op.I32_LOAD, word(S.EFLAGS)).i32(~clear).op(Op.I32_AND);
      if (cf) fb.get(this.FCF).op(Op.I32_OR);
      if (of) fb.get(this.FOF).i32(11).op(Op.I32_SHL).op(Op.I32_OR);
      fb.mem(Op.I32_STORE, word(S.EFLAGS));
    };
    if (rec.kind === 'logic' || rec.kind === 'shift') {
      eflags(CF | OF | AF, rec.kind === 'shift', rec.kind === 'shift');
      put(S.LF_OP, null, LazyOp.LOGIC);
      put(S.LF_SIZE, null, rec.size);
      put(S.LF_RES, this.FR);
      put(S.LF_MASK, null, SF | ZF | PF);
      return;
    }
    const incDec = rec.kind === 'inc' || rec.kind === 'dec';
    if (incDec) eflags(CF, true, false);
    put(S.LF_OP, null, rec.kind === 'add' || rec.kind === 'inc' ? LazyOp.ADD : LazyOp.SUB);
    put(S.LF_SIZE, null, rec.size);
    put(S.LF_A, this.FA);
    put(S.LF_B, incDec ? null : this.FB, 1);
    put(S.LF_RES, this.FR);
    put(S.LF_CARRY_IN, rec.carry ? this.FC : null, 0);
    put(S.LF_MASK, null, incDec ? ARITH_FLAGS & ~CF : ARITH_FLAGS);
  }

  /** Before a call that may read or change any register or flag: write back, then reload afterwards. */
  spillAll(): void {
    this.flushDirty();
    this.dirty.fill(false);
    this.loaded.fill(false);
    this.flags = null;
  }

  /** Pushes the budget left after `retired` instructions of this block. */
  left(retired: number): void {
    this.fb.get(LEFT);
    if (retired !== 0) this.fb.i32(retired).op(Op.I32_SUB);
  }
  /** Pushes the call-out arguments (record, left) of the instruction being emitted. */
  calloutArgs(): void {
    this.fb.i32(this.recordBase + this.ord).get(LEFT);
  }

  /**
   * Leaves the block after `retired` instructions for EIP `eip` (a constant or a local). Unless
   * `chain` is false (the block was just written, or it cannot start), an exit to a block of the
   * group branches to it inside the function; any other exit writes the registers and EIP back,
   * then tail-calls its entry-table slot (an exit to a constant EIP in the block's page: the next
   * block, once linked) or the dispatcher.
   */
  exit(retired: number, eip: number | { local: number }, chain = true): void {
    const inside = chain && typeof eip === 'number' ? this.groupIndex(eip) : undefined;
    if (inside === undefined) {
      this.leave(retired, eip, chain);
      return;
    }
    const fb = this.fb;
    // A store of this instruction that the run loop must see (code written, a device woken) ends the chain.
    if (this.stored) { fb.get(this.EXIT).if(); this.leave(retired, eip, false); fb.op(Op.END); }
    // This path only: the code after it (a fall-through) keeps the compile-time state it had.
    const saved = { loaded: [...this.loaded], dirty: [...this.dirty] };
    this.flushRegisters();
    this.flushFlagsOnEdgeTo(inside, retired);
    if (retired !== 0) { this.left(retired); fb.set(LEFT); }
    // A later block's code follows the end of its label, still open here; an earlier one is reached through the loop.
    if (inside > this.blockIndex) fb.br(fb.depth - (this.loopDepth + this.group.blocks.length - inside));
    else fb.i32(inside).set(NEXT).br(fb.depth - this.loopDepth);
    saved.loaded.forEach((v, r) => { this.loaded[r] = v; });
    saved.dirty.forEach((v, r) => { this.dirty[r] = v; });
  }

  /** The index in the group of the block an exit of this one to `eip` reaches, if the group has it. */
  private groupIndex(eip: number): number | undefined {
    const k = this.group.indexOf.get(samePagePhys(this.block, eip));
    return k !== undefined && this.group.blocks[k].eip === eip ? k : undefined;
  }

  /** Leaves the function (see exit): registers and EIP written back, then a tail call or, without `chain`, a return. */
  private leave(retired: number, eip: number | { local: number }, chain: boolean): void {
    const fb = this.fb;
    this.flushDirty();
    fb.i32(0);
    if (typeof eip === 'number') fb.i32(eip); else fb.get(eip.local);
    fb.mem(Op.I32_STORE, word(S.EIP));
    const target = chain && typeof eip === 'number' ? this.slotFor(this.block, eip) : null;
    if (chain && this.stored) { fb.get(this.EXIT).if(); this.left(retired); fb.op(Op.RETURN).op(Op.END); }
    if (target !== null && target.frame !== null) {
      // A target in another page: linked while the TLB maps its page where it did at compile time.
      this.tlbMaps(eip as number, target.frame);
      fb.if(); this.left(retired); fb.i32(target.slot).returnCallIndirect(BLOCK_TYPE).op(Op.END);
    }
    this.left(retired);
    if (target !== null && target.frame === null) fb.i32(target.slot).returnCallIndirect(BLOCK_TYPE);
    else if (chain) this.dispatch();
    else fb.op(Op.RETURN);
  }

  /** Pushes whether the TLB maps the page of linear address `lin` to physical `frame` (RAM), readable at the block's privilege. */
  private tlbMaps(lin: number, frame: number): void {
    const page = lin >>> 12;
    const at = TLB_BASE + (page & (TLB_ENTRIES - 1)) * TLB_SLOT_BYTES;
    const need = this.user ? TLB_USER : 0;
    this.fb.i32(0).mem(Op.I32_LOAD, at).i32(page).op(Op.I32_EQ)
      .i32(0).mem(Op.I32_LOAD, at + 4).i32(-4096 | need | TLB_NOT_RAM).op(Op.I32_AND).i32(frame | need).op(Op.I32_EQ)
      .op(Op.I32_AND);
  }

  /**
   * Runs instruction `ord` through the interpreter (or `callout`, the monitor). Inside the block, any HelperExit bit ends it
   * (back to the run loop); after the block's last instruction it goes on through the dispatcher
   * unless the run loop must see the next instruction.
   */
  helper(last: boolean, callout: Import = Import.HELPER): void {
    const fb = this.fb;
    this.spillAll();
    this.calloutArgs();
    fb.call(callout);
    if (last) fb.i32(HelperExit.RUN_LOOP).op(Op.I32_AND);
    fb.if(); this.left(this.ord + 1); fb.op(Op.RETURN).op(Op.END);
    if (last) { this.left(this.ord + 1); this.dispatch(); }
  }
  /**
   * PAUSE through the helper: the machine may stall the CPU (Cpu.onPause), and the instruction
   * times it stalled (the result >> STALL_SHIFT) come out of `left`, as out of the run loop's
   * budget, so the chain ends where the interpreter's slice would: the block ends here when an
   * exit bit is set or the rest of it no longer fits the budget.
   */
  pause(): void {
    const fb = this.fb;
    this.spillAll();
    this.calloutArgs();
    fb.call(Import.HELPER).tee(this.T);
    fb.get(LEFT).get(this.T).i32(STALL_SHIFT).op(Op.I32_SHR_U).op(Op.I32_SUB).set(LEFT);
    fb.get(this.T).i32((1 << STALL_SHIFT) - 1).op(Op.I32_AND);
    fb.get(LEFT).i32(this.block.insns.length).op(Op.I32_LT_S).op(Op.I32_OR);
    fb.if(); this.left(this.ord + 1); fb.op(Op.RETURN).op(Op.END);
  }

  /**
   * The block's last instruction when it runs into the next page: the helper checks that page's
   * mapping first; when it moved, the block ends before the instruction.
   */
  crossing(): void {
    const fb = this.fb;
    this.spillAll();
    this.calloutArgs();
    fb.call(Import.CROSSING).tee(this.T).i32(HelperExit.NOT_RUN).op(Op.I32_AND);
    fb.if(); this.left(this.ord); fb.op(Op.RETURN).op(Op.END);
    fb.get(this.T).i32(HelperExit.RUN_LOOP).op(Op.I32_AND);
    fb.if(); this.left(this.ord + 1); fb.op(Op.RETURN).op(Op.END);
    this.left(this.ord + 1);
    this.dispatch();
  }

  /**
   * Before the block's last instruction when it runs into the next page, in flat 32-bit code
   * with A20 on: the registers and flags stored, then, with paging, the crossing helper unless
   * the TLB still maps the next page where its bytes were read (without paging it cannot move).
   * Returns false in other modes: the instruction is then the crossing helper's alone.
   */
  checkTail(): boolean {
    if (!this.flat || !this.a20On || !this.code32) return false;
    this.spillAll();
    if (this.paging) {
      this.tlbMaps(this.block.tailEip | 0, this.block.tail!.phys & -4096);
      this.fb.op(Op.I32_EQZ).if();
      this.crossing();
      this.fb.op(Op.END);
    }
    return true;
  }

  /** Tail-calls the keyed dispatcher with the budget on the stack (a call-out that changed the mode returned to the run loop instead). */
  private dispatch(): void {
    this.fb.i32(this.block.key).returnCall(Import.DISPATCH);
  }
  /** A helper call on a rarely taken path (a jump past the CS limit, which faults): no compile-time state changes. */
  helperOnSlowPath(): void {
    this.flushDirty();
    this.calloutArgs();
    this.fb.call(Import.HELPER).op(Op.DROP);
    this.left(this.ord + 1);
    this.fb.op(Op.RETURN);
  }
}
