import { decode, DecodeStatus, Insn } from '../decoder/decoder.js';
import { Attr, OPCODES, OpcodeEntry } from '../decoder/table.js';
import type { Cpu } from './cpu.js';
import { CpuFault, fault, GuestError, Vec } from './faults.js';
import { locateUnsupported, unsupported } from './unsupported.js';
import { IF, RF, TF } from './flags.js';
import { DR6_BS } from './debug-registers.js';
import { deliverDebugTrap, deliverException, deliverExternal } from './interrupts.js';
import { realOrV86 } from './segments.js';
import { Reg, S, Seg } from './state-layout.js';
import { Exec, HandlerMap, SharedExec } from './ops/operands.js';
import { HOT_EXECUTORS, INSTRUCTION_FAMILIES } from './ops/families.js';
import { BoundInsn, DecodeCache } from './decode-cache.js';

/** All families' builders in one map; a key defined by two families is a bug (semantics exist once). */
function allBuilders(families: HandlerMap[]): HandlerMap {
  const builders: HandlerMap = {};
  for (const family of families) {
    for (const [key, build] of Object.entries(family)) {
      if (builders[key] !== undefined) throw new Error(`instruction ${key} is implemented by two families`);
      builders[key] = build;
    }
  }
  return builders;
}

function buildExecutors(families: HandlerMap[], o32: boolean): SharedExec[] {
  const builders = allBuilders(families);
  return OPCODES.map((entry) => {
    const build = builders[entry.key];
    const name = o32 ? entry.mnemonic32 : entry.mnemonic16;
    const built = build ? build(entry, o32) : (cpu: Cpu, i: Insn) => unsupported(cpu, i, `${name} is not implemented`);
    return typeof built === 'function' ? { exec: built, arg: 0 } : built;
  });
}

/** Table entries that no family implements (a test keeps this list empty). */
export function unimplementedEntries(): OpcodeEntry[] {
  const builders = allBuilders(INSTRUCTION_FAMILIES);
  return OPCODES.filter((e) => builders[e.key] === undefined);
}

/** MOV SS,r/m and POP SS: the instructions after which debug traps wait one instruction. */
function loadsSs(insn: BoundInsn): boolean {
  const entry = insn.entry!;
  const dst = entry.operands[0];
  return (entry.key === 'MOV' && dst.method === 'S' && insn.reg === Seg.SS) || (entry.key === 'POP' && dst.register === 'SS');
}

/** Why a run slice stopped. */
export const enum StopReason { BUDGET = 0, HALTED = 1, STOPPED = 2, BLOCK_END = 3 }

/**
 * The deprivileging monitor's two hooks into the loop (core/vmm); absent in direct mode.
 * `sensitive` wraps the executor of each table entry marked `sens` once, at attach time, so
 * translated code that calls executors calls the hooks too. `trap` sees each fault an
 * instruction raised (EIP and ESP at its start) and either emulates the instruction, returning
 * it (it then retires), or returns the fault to deliver.
 */
export interface MonitorHooks {
  sensitive(entry: OpcodeEntry, exec: SharedExec): SharedExec;
  trap(e: CpuFault): BoundInsn | CpuFault;
  /**
   * Runs a decoded privileged or IOPL-sensitive instruction (EIP already past it) in the guest
   * view without a trap: translated code calls it directly. A fault it raises is the guest's.
   */
  emulate(insn: BoundInsn): void;
}

/** Checks that cost nothing for ordinary instructions: LOCK rules, privilege, mode. */
const CHECKED_ATTRS = Attr.PRIV | Attr.PM;

/**
 * The interpreter: decode with the opcode table, dispatch to the family executor, roll back and
 * deliver exceptions. One instance per CPU.
 */
export class Interpreter {
  private readonly exec16: SharedExec[];
  private readonly exec32: SharedExec[];
  private readonly cache: DecodeCache;
  /** The families' hottest executors, padded to the six call sites of the loop. */
  private readonly hot: Exec[];
  /** EIP and ESP at the start of the running instruction, restored when it faults. */
  private faultEip = 0;
  private faultEsp = 0;
  /** DR6 bits of debug traps held back by a MOV SS/POP SS, delivered after the next instruction. */
  private deferredDebug = 0;
  /** Set by devices or the host to end the current slice after the running instruction. */
  stopRequested = false;
  /** Acknowledges the pending external interrupt and returns its vector (the interrupt controller). */
  acknowledgeInterrupt: (() => number) | null = null;
  /** The deprivileging monitor's hooks, when one is attached. */
  monitor: MonitorHooks | null = null;

  constructor(readonly cpu: Cpu) {
    this.cache = new DecodeCache(cpu.mem);
    if (HOT_EXECUTORS.length > 6) throw new Error('the interpreter loop has six call sites for hot executors');
    const never: Exec = () => {};
    this.hot = [...HOT_EXECUTORS, ...new Array(6 - HOT_EXECUTORS.length).fill(never)];
    this.exec16 = buildExecutors(INSTRUCTION_FAMILIES, false);
    this.exec32 = buildExecutors(INSTRUCTION_FAMILIES, true);
  }

  /** Installs the deprivileging monitor's hooks; before the first instruction runs (decoded instructions keep their executors). */
  attachMonitor(monitor: MonitorHooks): void {
    this.monitor = monitor;
    for (const entry of OPCODES) {
      if ((entry.attrs & Attr.SENS) === 0) continue;
      this.exec16[entry.id] = monitor.sensitive(entry, this.exec16[entry.id]);
      this.exec32[entry.id] = monitor.sensitive(entry, this.exec32[entry.id]);
    }
  }

  /**
   * Runs up to `budget` instructions; returns why it stopped. cpu.retired counts each retired
   * instruction as it retires (RDTSC reads it). With `untilBlockEnd` (the JIT's caller) it also
   * returns after an instruction that ends a basic block, so the next one starts a block.
   */
  run(budget: number, untilBlockEnd = false): StopReason {
    const cpu = this.cpu;
    cpu.runEnd = cpu.retired + budget;
    this.stopRequested = false;
    for (;;) {
      try {
        return this.loop(untilBlockEnd);
      } catch (e) {
        if (e instanceof GuestError && !e.located) throw locateUnsupported(cpu, this.faultEip, e);
        if (!(e instanceof CpuFault)) throw e;
        // A delivered exception uses budget too, so a guest whose handler faults again and
        // again still returns control to the machine.
        if (!this.deliverFault(e, this.faultEip, this.faultEsp)) cpu.runEnd--;
        if (this.stopRequested) return StopReason.STOPPED;
      }
    }
  }

  /**
   * Rolls EIP and ESP back to the faulting instruction's and delivers the exception (also for
   * translated code). Returns true when the monitor emulated the instruction instead: it retired.
   */
  deliverFault(e: CpuFault, eip: number, esp: number): boolean {
    const st = this.cpu.st;
    st[S.EIP] = eip;
    st[Reg.ESP] = esp;
    let f = e;
    if (this.monitor !== null) {
      const singleStep = (st[S.EFLAGS] & TF) !== 0;
      const emulated = this.monitor.trap(e);
      if (!(emulated instanceof CpuFault)) {
        this.retireEmulated(emulated, singleStep);
        return true;
      }
      f = emulated;
    }
    // A fault replaces the traps its instruction would have raised; its frame holds RF = 1 (SDM 17.3.1.1).
    this.deferredDebug = 0;
    st[S.EFLAGS] |= RF;
    deliverException(this.cpu, f);
    if (st[S.INT_SHADOW] !== 0) st[S.INT_SHADOW]--;
    return false;
  }

  /** What the loop does after an instruction, for one the monitor emulated. */
  private retireEmulated(insn: BoundInsn, singleStep: boolean): void {
    const cpu = this.cpu;
    cpu.retired++;
    if (cpu.st[S.INT_SHADOW] !== 0) cpu.st[S.INT_SHADOW]--;
    if (singleStep || cpu.debugActive || this.deferredDebug !== 0) this.debugTraps(insn, singleStep);
  }

  /** The instruction loop; a fault unwinds to run(), which delivers it and comes back. */
  private loop(untilBlockEnd: boolean): StopReason {
    const cpu = this.cpu;
    const st = cpu.st;
    const cache = this.cache;
    const [hot0, hot1, hot2, hot3, hot4, hot5] = this.hot;
    while (cpu.retired < cpu.runEnd) {
      if (st[S.INTR] !== 0 && (st[S.EFLAGS] & IF) !== 0 && st[S.INT_SHADOW] === 0) this.acceptInterrupt();
      if (st[S.HALTED] !== 0) return StopReason.HALTED;
      const start = st[S.EIP];
      this.faultEip = start;
      this.faultEsp = st[Reg.ESP];
      // TF, RF and breakpoints are rare: one flags test and one field test keep them off the fast path.
      const debugFlags = st[S.EFLAGS] & (TF | RF);
      const watched = debugFlags !== 0 || cpu.debugActive;
      if (watched && this.executeBreakpoint(start)) { cpu.runEnd--; continue; }
      // With paging on, a fetch outside CS or from an absent page faults here, at the instruction's address.
      const phys = (cpu.pagingOn ? cpu.paging.translate(cpu.codeLinear(start), false) : st[S.SEG_BASE + Seg.CS] + start) & st[S.A20_MASK];
      let insn = cache.lookup(phys, st[S.CS_DEFAULT32] !== 0);
      if (insn === undefined || ((start + insn.length - 1) >>> 0) > (st[S.SEG_LIMIT + Seg.CS] >>> 0)) {
        insn = this.decodeUncached(start, phys);
      }
      if (insn.needsChecks) this.checkAttributes(insn);
      const next = start + insn.length;
      st[S.EIP] = insn.default32 ? next : next & 0xffff;
      const exec = insn.exec;
      if (exec === hot0) hot0(cpu, insn);
      else if (exec === hot1) hot1(cpu, insn);
      else if (exec === hot2) hot2(cpu, insn);
      else if (exec === hot3) hot3(cpu, insn);
      else if (exec === hot4) hot4(cpu, insn);
      else if (exec === hot5) hot5(cpu, insn);
      else exec(cpu, insn);
      cpu.retired++;
      if (st[S.INT_SHADOW] !== 0) st[S.INT_SHADOW]--;
      if (watched) this.debugTraps(insn, (debugFlags & TF) !== 0);
      if (this.stopRequested) return StopReason.STOPPED;
      if (untilBlockEnd && insn.endsBlock) return StopReason.BLOCK_END;
    }
    return StopReason.BUDGET;
  }

  /**
   * Decodes at EIP (raising #UD, #GP or a fetch fault as the hardware would) and binds the
   * executor; keeps the result in the decode cache when it lies in one RAM page.
   */
  private decodeUncached(start: number, phys: number): BoundInsn {
    const cpu = this.cpu;
    const bound = decode(cpu, start, cpu.st[S.CS_DEFAULT32] !== 0, new BoundInsn());
    if (bound.entry === undefined) {
      if (bound.status === DecodeStatus.TOO_LONG) fault(Vec.GP, 0);
      fault(Vec.UD);
    }
    this.bind(bound);
    if ((bound.default32 || start + bound.length <= 0x10000) && this.cache.cacheable(phys, bound)) this.cache.insert(phys, bound);
    return bound;
  }

  /** Binds a decoded instruction (with a table entry) to its executor. */
  bind(bound: BoundInsn): void {
    const entry = bound.entry!;
    const executor = (bound.o32 ? this.exec32 : this.exec16)[entry.id];
    bound.exec = executor.exec;
    bound.arg = executor.arg;
    bound.needsChecks = (entry.attrs & CHECKED_ATTRS) !== 0 || bound.lock;
    bound.endsBlock = (entry.attrs & Attr.END) !== 0;
  }

  /** LOCK, mode and privilege checks of an instruction marked `needsChecks` (faults as the hardware would). */
  checkAttributes(insn: BoundInsn): void {
    const cpu = this.cpu;
    const entry = insn.entry!;
    if (insn.lock && ((entry.attrs & Attr.LOCK) === 0 || insn.mod === 3)) fault(Vec.UD);
    if ((entry.attrs & Attr.PM) !== 0 && realOrV86(cpu)) fault(Vec.UD);
    if ((entry.attrs & Attr.PRIV) !== 0 && cpu.st[S.CPL] !== 0) fault(Vec.GP, 0);
  }

  /**
   * Before a watched instruction: forgets the previous instruction's data hits, clears RF and,
   * unless RF was set, delivers an execute breakpoint at its address as a fault (DR6.Bn, EIP at
   * the instruction, RF pushed as 0). Returns whether it delivered one.
   */
  private executeBreakpoint(start: number): boolean {
    const cpu = this.cpu;
    const st = cpu.st;
    cpu.debug.hits = 0;
    cpu.interruptInstruction = false;
    const resume = (st[S.EFLAGS] & RF) !== 0;
    // RF is cleared at the start of the instruction, after the code-breakpoint check (SDM 17.3.1.1), so an IRET can set it for the next one.
    st[S.EFLAGS] &= ~RF;
    if (!cpu.debugActive || resume) return false;
    const bits = cpu.debug.executeHits(st[S.SEG_BASE + Seg.CS] + start);
    if (bits === 0) return false;
    st[S.DR0 + 6] |= bits;
    this.deliverDebug();
    return true;
  }

  /**
   * After a watched instruction retired: delivers one #DB trap (EIP at the next
   * instruction) for the data breakpoints it hit and, with TF set when it started, the single
   * step (DR6.BS) — unless it was INT n/INT3/INTO/INT1, whose handler starts with TF clear. A
   * MOV SS or POP SS holds the traps back until after the next instruction (SDM 6.8.3).
   */
  private debugTraps(insn: BoundInsn, singleStep: boolean): void {
    const cpu = this.cpu;
    const st = cpu.st;
    const bits = cpu.debug.hits | (singleStep && !cpu.interruptInstruction ? DR6_BS : 0) | this.deferredDebug;
    cpu.debug.hits = 0;
    this.deferredDebug = 0;
    if (bits === 0) return;
    if (loadsSs(insn)) { this.deferredDebug = bits; return; }
    st[S.DR0 + 6] |= bits;
    this.deliverDebug();
  }

  /** Delivers #DB at the current EIP (a trap after HLT wakes the CPU, as an interrupt would). */
  private deliverDebug(): void {
    this.cpu.st[S.HALTED] = 0;
    deliverDebugTrap(this.cpu);
  }

  private acceptInterrupt(): void {
    if (this.acknowledgeInterrupt === null) return;
    const vector = this.acknowledgeInterrupt();
    if (vector < 0) return;
    this.cpu.st[S.HALTED] = 0;
    deliverExternal(this.cpu, vector);
  }
}
