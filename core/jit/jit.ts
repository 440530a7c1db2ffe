import type { Cpu } from '../cpu/cpu.js';
import { CpuFault, GuestError } from '../cpu/faults.js';
import { IF, RF, TF } from '../cpu/flags.js';
import { condition } from '../cpu/flags.js';
import { Interpreter, StopReason } from '../cpu/interpreter.js';
import { Reg, S, Seg } from '../cpu/state-layout.js';
import { locateUnsupported } from '../cpu/unsupported.js';
import { Block, discoverBlock, modeKey } from './block.js';
import { BlockCache } from './block-cache.js';
import { Linker } from './links.js';
import { buildModule, HelperRecord } from './translate.js';

export interface JitOptions {
  /** Executions of a block start before it is compiled (0: compile on first sight). */
  threshold: number;
  /** Called with each compiled module's bytes (--jit-dump). */
  onModule?: (bytes: Uint8Array, index: number) => void;
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
const MAX_BATCH = 16;
/** Past this many known blocks the cache starts over, bounding its memory. */
const CAPACITY = 1 << 18;
/**
 * V8 keeps every instance that imports a table alive as long as the table (its dispatch-table
 * list holds them strongly), so dropped modules are only freed with their table: after this many
 * modules the cache starts over with a new entry table.
 */
const MODULES_PER_TABLE = 4096;

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
  private modulesInTable = 0;

  constructor(private readonly cpu: Cpu, private readonly interpreter: Interpreter, private readonly memory: WebAssembly.Memory,
    private readonly options: JitOptions) {
    if (cpu.mem.tablesOffset < 0) throw new Error('jit: the memory has no room for the page tables (see wasmPagesFor)');
    this.cache = new BlockCache(cpu.mem);
    this.linker = this.newLinker();
    this.cache.onDrop = (block) => {
      if (block === this.running) this.runningInvalidated = true;
      if (block.fn !== null) {
        this.stats.invalidations++;
        this.linker.unlink(block);
      }
    };
    this.warmAt = Math.max(1, options.threshold >> 1);
  }

  private newLinker(): Linker {
    return new Linker(this.memory, (phys, eip, key) => this.cache.find(phys, eip, key));
  }

  /** Runs up to `budget` instructions, as Interpreter.run does. */
  run(budget: number): StopReason {
    const cpu = this.cpu;
    const st = cpu.st;
    const interpreter = this.interpreter;
    let end = cpu.retired + budget;
    interpreter.stopRequested = false;
    while (cpu.retired < end) {
      if (interpreter.stopRequested) return StopReason.STOPPED;
      const block = this.special() ? null : this.blockAtEip();
      if (block !== null && block.fn !== null && block.insns.length <= end - cpu.retired
        && block.lastByte >>> 0 <= st[S.SEG_LIMIT + Seg.CS] >>> 0) {
        if (!this.runBlock(block, end)) end--;
        continue;
      }
      const reason = interpreter.run(end - cpu.retired, true);
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
    const st = cpu.st;
    const eip = st[S.EIP];
    let phys: number;
    if (cpu.pagingOn) {
      try {
        phys = cpu.paging.translate(cpu.codeLinear(eip), false);
      } catch (e) {
        if (e instanceof CpuFault) return null; // the interpreter raises it at the instruction
        throw e;
      }
    } else {
      phys = st[S.SEG_BASE + Seg.CS] + eip;
    }
    phys &= st[S.A20_MASK];
    const key = modeKey(cpu);
    let block = this.cache.find(phys, eip, key);
    if (block === null) {
      if (this.cache.size >= CAPACITY) this.cache.clear();
      block = discoverBlock(cpu, this.interpreter, phys, eip, key);
      this.cache.add(block);
    }
    if (block.fn === null && block.insns.length > 0) {
      if (block.hits >= this.options.threshold) {
        if (this.modulesInTable >= MODULES_PER_TABLE) {
          this.cache.clear();
          this.cache.add(block);
          this.linker = this.newLinker();
          this.modulesInTable = 0;
        }
        this.compile(block);
      }
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
    try {
      cpu.retired = end - block.fn!(end - entered);
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
    cpu.retired = this.end - (left - record.ord);
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

  /** The call-outs a module imports, bound to its records. */
  private importsFor(records: HelperRecord[]): Record<string, (...args: number[]) => number> {
    const cpu = this.cpu;
    const st = cpu.st;
    const interpreter = this.interpreter;
    return {
      helper: (index, left) => {
        const record = records[index];
        this.callout(record, left);
        const { block, ord } = record;
        const insn = block.insns[ord];
        if (insn.needsChecks) interpreter.checkAttributes(insn);
        const next = block.nexts[ord];
        const a20 = st[S.A20_MASK];
        st[S.EIP] = next;
        insn.exec(cpu, insn);
        if (st[S.INT_SHADOW] !== 0) st[S.INT_SHADOW]--;
        // A20 moved (port 0x92): the code's physical page may have changed under its EIP.
        return this.mustExit() || st[S.EIP] !== next || st[S.A20_MASK] !== a20 ? 1 : 0;
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
      cond: (cc) => (condition(st, cc) ? 1 : 0),
    };
  }

  /** Compiles a hot block together with the warm blocks waiting, into one module, and links them. */
  private compile(hot: Block): void {
    const started = performance.now();
    const blocks = [hot];
    while (this.warm.length > 0 && blocks.length < MAX_BATCH) {
      const b = this.warm.pop()!;
      if (!b.dead && b.fn === null && b !== hot) blocks.push(b);
    }
    const { bytes, records } = buildModule(blocks, this.cpu.mem.tablesOffset, (block, eip) => this.linker.exitSlot(block, eip));
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { e: { m: this.memory, t: this.linker.table }, j: this.importsFor(records) });
    this.modulesInTable++;
    blocks.forEach((b, k) => { b.fn = instance.exports[`b${k}`] as (left: number) => number; });
    this.linker.linkCompiled(blocks);
    this.stats.modules++;
    this.stats.blocksCompiled += blocks.length;
    this.stats.compileMs += performance.now() - started;
    this.options.onModule?.(bytes, this.stats.modules - 1);
  }
}
