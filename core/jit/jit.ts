import type { Cpu } from '../cpu/cpu.js';
import { CpuFault, GuestError } from '../cpu/faults.js';
import { IF, RF, TF } from '../cpu/flags.js';
import { Interpreter, StopReason } from '../cpu/interpreter.js';
import { Reg, S, Seg } from '../cpu/state-layout.js';
import { locateUnsupported } from '../cpu/unsupported.js';
import { A20_ON_KEY, Block, codePhys, discoverBlock, FLAT_KEY, keyCpl, modeKey, PAGING_KEY, relativeTarget, samePagePhys } from './block.js';
import { BlockCache } from './block-cache.js';
import { Dispatcher, JUMP_CACHE_BYTES } from './dispatch.js';
import { HelperExit, STALL_SHIFT } from './emit-context.js';
import { isPause } from '../cpu/ops/data.js';
import { Linker } from './links.js';
import { lazyFlagCondition } from './lazy-flags.js';
import { buildModule, type ExitSlot, HelperRecord } from './translate.js';
import { PAGE_TABLES_BYTES } from '../mmu/memory-bus.js';

export interface JitOptions {
  /** Executions of a block start before it is compiled (0: compile on first sight). */
  threshold: number;
  /** Called with each compiled module's bytes and its blocks (--jit-dump). */
  onModule?: (bytes: Uint8Array, index: number, blocks: readonly Block[]) => void;
}

export interface JitStats {
  blocksCompiled: number;
  modules: number;
  invalidations: number;
  compileMs: number;
  /** Instructions retired inside translated code. */
  translatedInstructions: number;
}

/** At most this many blocks share a module; warm blocks join a hot one's module. */
const MAX_BATCH = 40;
/**
 * At most this many blocks of the hot block's page join it (a bigger group function costs
 * V8's optimizing tier more than its shorter jumps save).
 */
const MAX_GROUP = 24;

/** Past this many known blocks the cache starts over, bounding its memory. */
const CAPACITY = 1 << 18;
/**
 * Past this many modules the JIT starts over: V8 frees a module's code only once nothing refers
 * to it, and its wasm code space runs out (a fatal error) with a few ten thousand live modules.
 */
const MODULE_LIMIT = 4096;
/** 2^32, to split the 53-bit tick count into two state words. */
const TWO_32 = 0x100000000;

/**
 * The JIT's run loop: at each block start it runs the block's translation if there is one
 * (and it fits the budget and the CS limit), otherwise the interpreter up to the next block
 * end, counting executions to find hot blocks. Translated code calls back into the
 * interpreter's executors, so faults, interrupts and virtual time are exactly the interpreter's.
 */
export class Jit {
  readonly stats: JitStats = { blocksCompiled: 0, modules: 0, invalidations: 0, compileMs: 0, translatedInstructions: 0 };
  private readonly cache: BlockCache;
  private linker: Linker;
  private dispatcher: Dispatcher;
  private readonly warm: Block[] = [];
  private readonly warmAt: number;
  /**
   * The block of the last call-out and whether a write dropped it; `end` is the retired count at
   * which the budget runs out (a call-out's `left` argument gives the exact count); the faulting
   * instruction's EIP and ESP.
   */
  private running: Block | null = null;
  private runningInvalidated = false;
  private end = 0;
  private faultEip = 0;
  private faultEsp = 0;
  /** Instruction times the running chain's PAUSEs stalled: its `left` counts them as retired. */
  private stalled = 0;
  private modulesSinceStart = 0;
  /** Memory offset of the dispatcher's jump cache (after the page tables). */
  private readonly jumpCache: number;
  /** The lazy-flag condition in wasm (lazy-flags.ts) that translated modules import. */
  private readonly cond: (cc: number) => number;

  constructor(private readonly cpu: Cpu, private readonly interpreter: Interpreter, private readonly memory: WebAssembly.Memory,
    private readonly options: JitOptions) {
    this.jumpCache = cpu.mem.tablesOffset + PAGE_TABLES_BYTES;
    if (cpu.mem.tablesOffset < 0 || this.jumpCache + JUMP_CACHE_BYTES > memory.buffer.byteLength) {
      throw new Error('jit: the memory has no room for the page tables and the jump cache (see wasmPagesFor)');
    }
    this.cache = new BlockCache(cpu.mem);
    this.cond = lazyFlagCondition(memory);
    this.dispatcher = new Dispatcher(memory, this.jumpCache);
    this.linker = this.newLinker();
    cpu.paging.onFlushPages = (first, count) => this.dispatcher.forgetPages(first, count);
    this.cache.onDrop = (block) => {
      if (block === this.running) this.runningInvalidated = true;
      if (block.fn !== null) {
        this.stats.invalidations++;
        this.linker.unlink(block);
        this.dispatcher.drop(block);
      }
      // Its group function may branch to it: the group goes as a whole.
      for (const sibling of block.group) this.cache.drop(sibling);
    };
    this.warmAt = Math.max(1, options.threshold >> 1);
  }

  private newLinker(): Linker {
    return new Linker(this.dispatcher.dispatch, (phys, eip, key) => this.cache.find(phys, eip, key));
  }

  /** Runs up to `budget` instructions, as Interpreter.run does. */
  run(budget: number): StopReason {
    const cpu = this.cpu;
    const st = cpu.st;
    const interpreter = this.interpreter;
    cpu.runEnd = cpu.retired + budget;
    interpreter.stopRequested = false;
    // Long before the mapping epoch could wrap around to an old entry's, the jump cache starts afresh.
    if ((st[S.MAPPING_EPOCH] | st[S.GLOBAL_EPOCH]) >>> 30 !== 0) {
      this.dispatcher.clear();
      st[S.MAPPING_EPOCH] = 0;
      st[S.GLOBAL_EPOCH] = 0;
    }
    while (cpu.retired < cpu.runEnd) {
      if (interpreter.stopRequested) return StopReason.STOPPED;
      const block = this.special() ? null : this.blockAtEip();
      if (block !== null && block.fn !== null && block.insns.length <= cpu.runEnd - cpu.retired
        && block.lastByte >>> 0 <= st[S.SEG_LIMIT + Seg.CS] >>> 0) {
        const lin = (st[S.SEG_BASE + Seg.CS] + block.eip) | 0;
        this.dispatcher.remember(block, lin, cpu.pagingOn && cpu.paging.isGlobal(lin));
        if (!this.runBlock(block, cpu.runEnd)) cpu.runEnd--;
        continue;
      }
      const reason = interpreter.run(cpu.runEnd - cpu.retired, true);
      if (reason === StopReason.HALTED || reason === StopReason.STOPPED) return reason;
    }
    return StopReason.BUDGET;
  }

  /** States the interpreter handles one block at a time: halted, interrupt due or shadowed, debugging. */
  private special(): boolean {
    const st = this.cpu.st;
    return st[S.HALTED] !== 0 || st[S.INT_SHADOW] !== 0 || (st[S.INTR] !== 0 && (st[S.EFLAGS] & IF) !== 0)
      || (st[S.EFLAGS] & (TF | RF)) !== 0 || this.cpu.debugActive;
  }

  /** The block starting at CS:EIP in this mode (decoded on first sight), compiled once hot; null when the fetch would fault. */
  private blockAtEip(): Block | null {
    const cpu = this.cpu;
    const eip = cpu.st[S.EIP];
    const phys = codePhys(cpu, eip);
    if (phys < 0) return null; // the interpreter raises the fault, or runs what is not RAM
    const key = modeKey(cpu);
    let block = this.cache.find(phys, eip, key);
    if (block === null) {
      if (this.cache.size >= CAPACITY) this.cache.clear();
      block = discoverBlock(cpu, this.interpreter, phys, eip, key);
      this.cache.add(block);
    }
    if (block.fn === null && block.insns.length > 0) {
      if (block.hits >= this.options.threshold) this.compile(block);
      else if (++block.hits === this.warmAt && this.options.threshold > 1) this.warm.push(block);
    }
    return block;
  }

  /**
   * Runs a compiled block and the blocks chained to it until one returns; `end` is the retired
   * count at which the budget runs out. Returns false when it ended in a delivered fault (which
   * uses budget, as in the interpreter).
   */
  private runBlock(block: Block, end: number): boolean {
    const cpu = this.cpu;
    const entered = cpu.retired;
    this.end = end;
    this.stalled = 0;
    const tscAtEnd = end + cpu.idleTicks;
    cpu.st[S.TSC_AT_END_LO] = tscAtEnd % TWO_32;
    cpu.st[S.TSC_AT_END_HI] = Math.floor(tscAtEnd / TWO_32);
    try {
      cpu.retired = end - block.fn!(end - entered) - this.stalled;
      return true;
    } catch (e) {
      if (e instanceof GuestError && !e.located) throw locateUnsupported(cpu, this.faultEip, e);
      if (!(e instanceof CpuFault)) throw e;
      // The call-out that faulted set cpu.retired to the instructions before the faulting one.
      this.interpreter.deliverFault(e, this.faultEip, this.faultEsp);
      return false;
    } finally {
      this.stats.translatedInstructions += cpu.retired - entered;
      this.running = null;
    }
  }

  /** Every call-out from translated code: the instruction count and the fault point are exact here. */
  private callout(record: HelperRecord, left: number): void {
    const cpu = this.cpu;
    cpu.retired = this.end - this.stalled - (left - record.ord);
    this.running = record.block;
    this.runningInvalidated = false;
    this.faultEip = record.block.eips[record.ord];
    this.faultEsp = cpu.st[Reg.ESP];
  }

  /** After an instruction run by a call-out: whether the interpreter must see the next instruction. */
  private mustExit(): boolean {
    const cpu = this.cpu;
    return this.interpreter.stopRequested || this.runningInvalidated || this.special() || modeKey(cpu) !== this.running!.key;
  }

  /**
   * Runs one instruction of translated code through the interpreter's executor, or with
   * `emulate` (a deprivileged privileged instruction) through the monitor; returns HelperExit bits,
   * and with `reportStall` (the helper call-out, which EmitContext.pause uses) a PAUSE's stall.
   */
  private runInstruction(record: HelperRecord, emulate = false, reportStall = false): number {
    const cpu = this.cpu;
    const st = cpu.st;
    const { block, ord } = record;
    const insn = block.insns[ord];
    const next = block.nexts[ord];
    const a20 = st[S.A20_MASK];
    const idle = cpu.idleTicks;
    if (emulate) {
      st[S.EIP] = next;
      this.interpreter.monitor!.emulate(insn);
    } else {
      if (insn.needsChecks) this.interpreter.checkAttributes(insn);
      st[S.EIP] = next;
      insn.exec(cpu, insn);
    }
    if (st[S.INT_SHADOW] !== 0) st[S.INT_SHADOW]--;
    // A PAUSE's stall comes out of the chain's budget (EmitContext.pause); through another call
    // site (the page-crossing helper) it ends the chain.
    const stall = cpu.idleTicks - idle;
    let reported = 0;
    if (stall !== 0 && reportStall && isPause(insn)) {
      this.stalled += stall;
      reported = stall << STALL_SHIFT;
    }
    // A20 moved (port 0x92): the code's physical page may have changed under its EIP.
    if (this.mustExit() || st[S.A20_MASK] !== a20 || (stall !== 0 && reported === 0)) return HelperExit.RUN_LOOP | reported;
    return (st[S.EIP] !== next ? HelperExit.JUMPED : 0) | reported;
  }

  /** The call-outs a module imports, bound to its records. */
  private importsFor(records: HelperRecord[]): Record<string, (...args: number[]) => number> {
    const cpu = this.cpu;
    const st = cpu.st;
    return {
      helper: (index, left) => {
        const record = records[index];
        this.callout(record, left);
        return this.runInstruction(record, false, true);
      },
      vmm: (index, left) => {
        const record = records[index];
        this.callout(record, left);
        return this.runInstruction(record, true);
      },
      crossing: (index, left) => {
        const record = records[index];
        this.callout(record, left);
        const { block, ord } = record;
        // Bytes of the instruction lie in the next page: it must still map where they were read.
        const pageStart = block.tailEip;
        if (codePhys(cpu, block.insns[ord].default32 ? pageStart | 0 : pageStart & 0xffff) !== block.tail!.phys) {
          st[S.EIP] = block.eips[ord];
          return HelperExit.NOT_RUN;
        }
        return this.runInstruction(record);
      },
      read: (index, left, seg, offset, size) => {
        this.callout(records[index], left);
        return cpu.readLin(size, cpu.linear(seg, offset, size >> 3));
      },
      rmwRead: (index, left, seg, offset, size) => {
        this.callout(records[index], left);
        const lin = cpu.linearWrite(seg, offset, size >> 3);
        if (cpu.pagingOn) cpu.probeWrite(lin, size >> 3);
        return cpu.readLin(size, lin);
      },
      write: (index, left, seg, offset, size, value) => {
        this.callout(records[index], left);
        cpu.writeLin(size, cpu.linearWrite(seg, offset, size >> 3), value);
        return this.mustExit() ? 1 : 0;
      },
      cond: this.cond,
      dispatch: this.dispatcher.dispatchKeyed,
    };
  }

  /** Compiles a hot block together with the warm blocks waiting, into one module, and links them. */
  private compile(hot: Block): void {
    const started = performance.now();
    if (this.modulesSinceStart >= MODULE_LIMIT) this.startOver(hot);
    this.modulesSinceStart++;
    const blocks = [hot];
    this.addPageMates(blocks);
    while (this.warm.length > 0 && blocks.length < MAX_BATCH) {
      const b = this.warm.pop()!;
      // A warm block of the hot one's page is in the batch already (a page mate).
      if (!b.dead && b.fn === null && !blocks.includes(b)) blocks.push(b);
    }
    if (this.options.threshold <= 1) this.addSuccessors(blocks);
    const table = this.linker.beginModule();
    const { bytes, records, groups, exports } = buildModule(blocks, this.cpu.mem.tablesOffset, (block, eip) => this.exitSlot(block, eip));
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { e: { m: this.memory, t: table }, j: this.importsFor(records) });
    blocks.forEach((b, k) => {
      b.fn = instance.exports[exports[k]] as (left: number) => number;
      this.dispatcher.add(b);
    });
    for (const group of groups) for (const b of group) b.group = group;
    this.linker.linkCompiled(blocks);
    this.stats.modules++;
    this.stats.blocksCompiled += blocks.length;
    this.stats.compileMs += performance.now() - started;
    this.options.onModule?.(bytes, this.stats.modules - 1, blocks);
  }

  /**
   * The entry-table slot of an exit of `from` to `eip`. In another page, flat code with A20 on
   * links too: without paging the linear address is the physical one; with paging the target
   * is where the TLB maps it now (no walk: a page not in the TLB goes through the dispatcher),
   * and the exit checks that the TLB still maps it there (frame) before taking the slot.
   */
  private exitSlot(from: Block, eip: number): ExitSlot | null {
    let phys = samePagePhys(from, eip);
    let frame: number | null = null;
    if (phys < 0) {
      if ((from.key & (FLAT_KEY | A20_ON_KEY)) !== (FLAT_KEY | A20_ON_KEY)) return null;
      if ((from.key & PAGING_KEY) !== 0) {
        frame = this.cpu.paging.cachedFrame(eip, keyCpl(from.key) === 3);
        if (frame < 0) return null;
        phys = frame | (eip & 0xfff);
      } else phys = eip;
    }
    const slot = this.linker.exitSlot(from, eip, phys);
    return slot === null ? null : { slot, frame };
  }

  /**
   * The warm blocks of the hot block's page and mode join it: they share its group function,
   * so jumps between them stay inside it (colder ones would only add to V8's optimizing work).
   */
  private addPageMates(blocks: Block[]): void {
    const hot = blocks[0];
    for (const b of this.cache.startingInPage(hot.phys)) {
      if (blocks.length >= MAX_GROUP) return;
      if (b !== hot && b.fn === null && b.key === hot.key && b.insns.length > 0 && b.hits >= this.warmAt) blocks.push(b);
    }
  }

  /**
   * With compilation at first sight (threshold 0 or 1) nothing is ever warm, so a module would
   * hold one block: the batch takes the blocks its blocks jump or fall to in their page instead
   * (decoded now, breadth first), which cuts the modules of a Linux boot several times.
   */
  private addSuccessors(blocks: Block[]): void {
    for (let k = 0; k < blocks.length && blocks.length < MAX_BATCH; k++) {
      const from = blocks[k];
      for (const eip of successors(from)) {
        const phys = samePagePhys(from, eip);
        if (phys < 0) continue;
        let b = this.cache.find(phys, eip, from.key);
        if (b === null) {
          b = discoverBlock(this.cpu, this.interpreter, phys, eip, from.key);
          this.cache.add(b);
        }
        if (b.fn === null && b.insns.length > 0 && !blocks.includes(b) && blocks.length < MAX_BATCH) blocks.push(b);
      }
    }
  }

  /** Forgets every translation and starts a new dispatcher (its home slots are never reused). */
  private startOver(hot: Block): void {
    this.modulesSinceStart = 0;
    this.cache.clear();
    this.cache.add(hot);
    this.warm.length = 0;
    this.dispatcher = new Dispatcher(this.memory, this.jumpCache);
    this.linker = this.newLinker();
  }
}

/** Where a block goes next when that is known at compile time: a relative jump's target and the fall-through. */
function successors(block: Block): number[] {
  const last = block.insns[block.insns.length - 1];
  const next = block.nexts[block.nexts.length - 1];
  const key = last.entry!.key;
  const relative = (key === 'Jcc' || key === 'JMP') && last.entry!.operands[0].method === 'J';
  const target = relativeTarget(last, next);
  if (relative && key === 'JMP') return [target];
  if (relative) return [next, target];
  return last.endsBlock ? [] : [next];
}
