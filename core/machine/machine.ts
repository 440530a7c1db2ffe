import { Cpu } from '../cpu/cpu.js';
import { GuestError } from '../cpu/faults.js';
import { IF } from '../cpu/flags.js';
import { Interpreter, StopReason } from '../cpu/interpreter.js';
import { enterFlatProtectedMode, loadSegment, readDescriptor, setSegmentCache } from '../cpu/segments.js';
import { Reg, S, Seg } from '../cpu/state-layout.js';
import { MemoryBus, wasmPagesFor } from '../mmu/memory-bus.js';
import { IoBus } from '../../devices/bus/io-bus.js';
import { DebugConsole } from '../../devices/debug-console.js';
import { ExitPort } from '../../devices/exit-port.js';
import { Uart16550 } from '../../devices/uart-16550.js';
import { rangesOverlap, type BootPlan, type EntrySelectors, type GuestImage, type LoadOptions, type RegisterName } from './loaders/boot-plan.js';
import { planBoot } from './loaders/detect.js';
import { PcPlatform } from './pc-platform.js';
import { Scheduler } from './scheduler.js';
import { OutputBuffer } from './output-buffer.js';
import { Jit, JitOptions, JitStats } from '../jit/jit.js';
import { Monitor } from '../vmm/monitor.js';
import type { VmmStats } from '../vmm/stats.js';

/** Executions of a block start before the JIT compiles it (--jit-threshold). */
export const DEFAULT_JIT_THRESHOLD = 50;

/** How guest ring 0 runs: at ring 0 ('direct'), or at ring 1 under the deprivileging monitor (core/vmm). */
export type VirtMode = 'direct' | 'deprivileged';
export const VIRT_MODES: readonly VirtMode[] = ['direct', 'deprivileged'];
/** Guest ring 0 deprivileged: every test kernel and the Linux boot give the same output in both modes. */
export const DEFAULT_VIRT: VirtMode = 'deprivileged';

export interface MachineOptions {
  /** Guest RAM in MiB (default 64). */
  memoryMiB?: number;
  /** Rate of the virtual clock: guest instructions per virtual second (default 100 million). */
  instructionsPerSecond?: number;
  /**
   * What the RTC reads at power-on, in ms since the epoch (UTC). The default is a fixed epoch
   * (2000-01-01), so runs are reproducible; hosts pass Date.now() for wall-clock time.
   */
  rtcStartTime?: number;
  /** Translate hot blocks into WebAssembly (default on). */
  jit?: { enabled?: boolean; threshold?: number; onModule?: JitOptions['onModule'] };
  /** Default DEFAULT_VIRT ('deprivileged'). */
  virt?: VirtMode;
}

export interface RunOptions {
  /** Stop after this many instructions (default: no limit). */
  maxInstructions?: number;
  /** Called before each instruction with the CPU, for tracing; slows the run down. */
  beforeInstruction?: (cpu: Cpu) => void;
  /**
   * `run()` only: while the guest idles (HLT with interrupts on), wait for the host clock to
   * reach the next timer event instead of skipping to it, so that an interactive guest's
   * `sleep 1` takes a second; host input ends the wait at once. Virtual time then depends on
   * the host, so runs are no longer reproducible: for terminals, not for tests.
   */
  realTime?: boolean;
}

export type RunEnd =
  | 'exit'        // the guest wrote to the exit port
  | 'halt'        // HLT with interrupts disabled, or with nothing left that could wake it
  | 'limit'       // maxInstructions reached
  | 'stopped'     // the host called stop()
  | 'reset'       // the guest asked for a system reset (8042 command 0xFE, port 0x92)
  | 'error';      // triple fault, unsupported instruction

export interface RunResult {
  reason: RunEnd;
  /** The value written to the exit port, and the process status QEMU's isa-debug-exit would give. */
  exitValue?: number;
  exitStatus?: number;
  error?: GuestError;
  instructions: number;
  virtualNs: number;
}

export interface MachineStats {
  instructions: number;
  virtualNs: number;
  /** Host milliseconds spent inside run calls. */
  hostMs: number;
  mips: number;
  /** JIT counters, when the JIT is on. */
  jit?: JitStats;
  /** The deprivileging monitor's traps, hooks and time, with --virt deprivileged. */
  vmm?: VmmStats;
}

const SLICE = 1 << 20;
/**
 * Instruction times a PAUSE stalls the CPU: about what one takes on Intel cores since Skylake
 * (~140 cycles), so a spin-wait costs fewer emulated turns for the same time.
 */
const PAUSE_CYCLES = 140;
/** 2000-01-01T00:00:00Z: the RTC's default power-on time, for reproducible runs. */
const FIXED_EPOCH_MS = Date.UTC(2000, 0, 1);

/**
 * A PC: CPU, RAM in one WebAssembly.Memory, I/O bus, COM1, debug console, exit port and the
 * virtual clock, with the loop that runs them. Host-neutral: no Node APIs.
 */
export class Machine {
  readonly memory: WebAssembly.Memory;
  readonly mem: MemoryBus;
  readonly io = new IoBus();
  readonly scheduler = new Scheduler();
  readonly cpu: Cpu;
  readonly interpreter: Interpreter;
  readonly jit: Jit | null;
  /** The deprivileging monitor, or null in direct mode. */
  readonly monitor: Monitor | null;
  readonly platform: PcPlatform;
  readonly com1: Uart16550;
  readonly debugConsole: DebugConsole;
  readonly exitPort: ExitPort;
  readonly memorySize: number;
  private readonly nsPerInstruction: number;
  /** Virtual time skipped while halted, on top of the instructions' own time. */
  private idleNs = 0;
  private exit: { value: number; status: number } | null = null;
  private resetRequested = false;
  private stopRequested = false;
  private hostMs = 0;
  private readonly serialOut = new OutputBuffer();
  private readonly debugOut = new OutputBuffer();
  private inputWaiter: (() => void) | null = null;

  constructor(options: MachineOptions = {}) {
    const mib = options.memoryMiB ?? 64;
    if (!Number.isInteger(mib) || mib < 1 || mib > 3072) throw new RangeError(`memory size ${mib} MiB is out of range (1 MiB to 3 GiB)`);
    this.memorySize = mib << 20;
    this.memory = new WebAssembly.Memory({ initial: wasmPagesFor(this.memorySize) });
    this.mem = new MemoryBus(this.memory, this.memorySize);
    this.cpu = new Cpu(this.memory, this.mem, this.io);
    this.interpreter = new Interpreter(this.cpu);
    const virt = options.virt ?? DEFAULT_VIRT;
    if (!VIRT_MODES.includes(virt)) throw new RangeError(`virtualization mode '${virt}' is not one of ${VIRT_MODES.join(', ')}`);
    this.monitor = virt === 'deprivileged' ? new Monitor(this.cpu, this.interpreter) : null;
    const jit = options.jit;
    this.jit = (jit?.enabled ?? true) ? new Jit(this.cpu, this.interpreter, this.memory, {
      threshold: jit?.threshold ?? DEFAULT_JIT_THRESHOLD, onModule: jit?.onModule,
    }) : null;
    this.nsPerInstruction = 1e9 / (options.instructionsPerSecond ?? 100e6);
    this.platform = new PcPlatform(this.io, this.mem, this.scheduler, this.cpu, this.interpreter, {
      rtcStartTime: options.rtcStartTime ?? FIXED_EPOCH_MS, memorySize: this.memorySize,
    });
    this.platform.ps2.onResetRequest(() => {
      this.resetRequested = true;
      this.interpreter.stopRequested = true;
    });
    this.com1 = new Uart16550(this.io, 0x3f8, this.platform.pic.irq(4), 'COM1');
    this.debugConsole = new DebugConsole(this.io, 0xe9);
    this.exitPort = new ExitPort(this.io, 0xf4);
    // Devices read the time of the running instruction, and a timer set for earlier than the
    // slice's end ends the slice there, so every event happens at its exact instruction.
    this.scheduler.attachClock(() => this.virtualNs);
    this.scheduler.onEarlierDeadline = () => { this.interpreter.stopRequested = true; };
    this.cpu.onPause = () => this.stallForPause();
    this.com1.onTransmit((byte) => this.serialOut.push(byte));
    this.debugConsole.onOutput((byte) => this.debugOut.push(byte));
    this.exitPort.onExit((value, status) => {
      this.exit = { value, status };
      this.interpreter.stopRequested = true;
    });
  }

  /** Guest bytes written to COM1, delivered in batches. */
  onSerialOutput(listener: (bytes: Uint8Array) => void): void { this.serialOut.listen(listener); }
  /** Guest bytes written to the debug console port 0xE9. */
  onDebugOutput(listener: (bytes: Uint8Array) => void): void { this.debugOut.listen(listener); }

  /** Host input to COM1 (a keyboard, a pipe). */
  sendSerialInput(bytes: Uint8Array | number[]): void {
    this.com1.receive(bytes);
    this.inputWaiter?.();
  }

  /** Loads a guest image (format detected unless given) and sets the CPU to its entry state. */
  loadImage(image: GuestImage, options: Omit<LoadOptions, 'memorySize'> = {}): BootPlan {
    const plan = planBoot(image, { ...options, memorySize: this.memorySize });
    this.applyBootPlan(plan);
    return plan;
  }

  applyBootPlan(plan: BootPlan): void {
    const cpu = this.cpu;
    cpu.reset();
    for (const table of this.platform.firmwareTables()) {
      // An image loaded over the BIOS area (a flat image at 0xF0000) keeps its bytes.
      const covered = plan.writes.some((w) => rangesOverlap(w.address, w.bytes.length, table.address, table.bytes.length));
      if (!covered) this.mem.writeBytes(table.address, table.bytes);
    }
    for (const w of plan.writes) this.mem.writeBytes(w.address, w.bytes);
    const entry = plan.entry;
    if (entry.mode === 'real') {
      for (const seg of [Seg.ES, Seg.SS, Seg.DS, Seg.FS, Seg.GS]) loadSegment(cpu, seg, 0);
      loadSegment(cpu, Seg.CS, entry.cs ?? 0);
    } else {
      enterFlatProtectedMode(cpu);
      if (entry.gdt && entry.selectors) this.loadBootSegments(entry.gdt, entry.selectors);
    }
    cpu.st[S.EIP] = entry.eip;
    const order: RegisterName[] = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'];
    order.forEach((name, r) => { cpu.st[Reg.EAX + r] = entry.registers[name] ?? 0; });
    this.monitor?.resync();
  }

  /** The GDT and selectors a boot protocol prescribes (Linux: __BOOT_CS 0x10, __BOOT_DS 0x18). */
  private loadBootSegments(gdt: { base: number; limit: number }, selectors: EntrySelectors): void {
    const cpu = this.cpu;
    cpu.st[S.GDTR_BASE] = gdt.base;
    cpu.st[S.GDTR_LIMIT] = gdt.limit;
    const bySegment: [number, number][] = [[Seg.CS, selectors.cs], [Seg.SS, selectors.ss], [Seg.DS, selectors.ds],
      [Seg.ES, selectors.es], [Seg.FS, selectors.fs], [Seg.GS, selectors.gs]];
    for (const [seg, selector] of bySegment) {
      const d = readDescriptor(cpu, selector);
      setSegmentCache(cpu, seg, selector, d.base, d.limit, d.flags);
    }
  }

  get virtualNs(): number { return this.idleNs + this.cpu.retired * this.nsPerInstruction; }

  stop(): void {
    this.stopRequested = true;
    this.interpreter.stopRequested = true;
    this.inputWaiter?.();
  }

  /** Runs to the end (exit, halt, error or limit) without yielding to the host's event loop. */
  runSync(options: RunOptions = {}): RunResult {
    const limit = this.cpu.retired + (options.maxInstructions ?? Infinity);
    for (;;) {
      const end = this.runSlice(limit, options);
      if (end !== null) return end;
      if (this.haltedForGood()) return this.result('halt');
    }
  }

  /** Runs in slices, yielding to the event loop between them so host input and stop() get through. */
  async run(options: RunOptions = {}): Promise<RunResult> {
    const limit = this.cpu.retired + (options.maxInstructions ?? Infinity);
    const origin = { wallMs: performance.now(), virtualNs: this.virtualNs };
    for (;;) {
      const end = this.runSlice(limit, options, !options.realTime);
      if (end !== null) return end;
      if (this.haltedForGood()) {
        // Asleep with interrupts on and no timer: only host input or stop() can change anything.
        await this.hostInput(Infinity);
        if (this.stopRequested) return this.result('stopped');
      } else if (options.realTime && this.idle()) {
        await this.idleInRealTime(origin);
        if (this.stopRequested) return this.result('stopped');
      } else {
        await yieldToHost();
      }
    }
  }

  /** Resolves on host input or stop(), or after `ms` milliseconds. */
  private hostInput(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = ms === Infinity ? undefined : setTimeout(() => resolve(), ms);
      this.inputWaiter = () => { if (timer !== undefined) clearTimeout(timer); resolve(); };
    }).finally(() => { this.inputWaiter = null; });
  }

  /** Halted with interrupts on, nothing pending: the guest waits for a timer or for input. */
  private idle(): boolean {
    return this.cpu.st[S.HALTED] !== 0 && (this.cpu.st[S.EFLAGS] & IF) !== 0 && this.cpu.st[S.INTR] === 0;
  }

  /**
   * Waits until the host clock, counted from the run's start, reaches the next timer event (or
   * input arrives), then moves virtual time to the host-clock time reached, never past the event.
   * A guest slower than real time never waits: its virtual time goes straight to the event.
   */
  private async idleInRealTime(origin: { wallMs: number; virtualNs: number }): Promise<void> {
    const hostNs = (): number => origin.virtualNs + (performance.now() - origin.wallMs) * 1e6;
    const deadline = this.scheduler.nextDeadlineNs();
    const waitMs = (deadline - hostNs()) / 1e6;
    if (waitMs > 1) await this.hostInput(waitMs);
    const reached = Math.min(deadline, hostNs());
    if (reached > this.virtualNs) this.advanceIdleTo(reached);
  }

  /** One slice of execution; returns a result when the run is over, null to go on. */
  private runSlice(limit: number, options: RunOptions, skipIdle = true): RunResult | null {
    const started = performance.now();
    try {
      const budget = Math.min(SLICE, limit - this.cpu.retired, this.instructionsToNextDeadline());
      let reason: StopReason;
      if (options.beforeInstruction) {
        reason = StopReason.BUDGET;
        for (let k = 0; k < budget && reason === StopReason.BUDGET; k++) {
          if (this.cpu.st[S.HALTED] === 0) options.beforeInstruction(this.cpu);
          reason = this.interpreter.run(1);
        }
      } else {
        reason = this.jit !== null ? this.jit.run(budget) : this.interpreter.run(budget);
      }
      this.scheduler.advanceTo(this.virtualNs);
      if (this.exit !== null) return this.result('exit');
      if (this.resetRequested) return this.result('reset');
      if (this.stopRequested) return this.result('stopped');
      if (reason === StopReason.HALTED) {
        if ((this.cpu.st[S.EFLAGS] & IF) === 0) return this.result('halt');
        if (skipIdle) this.skipToNextDeadline();
      }
      if (this.cpu.retired >= limit) return this.result('limit');
      return null;
    } catch (e) {
      if (e instanceof GuestError) return this.result('error', e);
      throw e;
    } finally {
      this.flushOutput();
      this.hostMs += performance.now() - started;
    }
  }

  private instructionsToNextDeadline(): number {
    const deadline = this.scheduler.nextDeadlineNs();
    if (deadline === Infinity) return SLICE;
    return Math.max(1, Math.ceil((deadline - this.virtualNs) / this.nsPerInstruction));
  }

  /** HLT with interrupts enabled: virtual time jumps to the next timer event. */
  private skipToNextDeadline(): void {
    const deadline = this.scheduler.nextDeadlineNs();
    if (deadline === Infinity) return;
    this.advanceIdleTo(deadline);
  }

  /** Virtual time passes while the CPU is halted: the clock, the TSC and the timers move on. */
  private advanceIdleTo(ns: number): void {
    this.addIdle(Math.max(0, ns - this.virtualNs));
    this.scheduler.advanceTo(this.virtualNs);
  }

  /** Idle time (halted or stalled) passes: the clock and the TSC count it. */
  private addIdle(ns: number): void {
    this.idleNs += ns;
    this.cpu.idleTicks = Math.floor(this.idleNs / this.nsPerInstruction);
  }

  /**
   * PAUSE: the CPU stalls PAUSE_CYCLES instruction times, as a recent core's PAUSE takes about
   * that many cycles, so a spin-wait on the TSC or a timer takes that many fewer turns. The stall
   * ends before the next timer event, and comes out of the budget, so that the event still
   * happens at its exact instruction.
   */
  private stallForPause(): void {
    // The instruction's own time comes after the stall.
    const untilEvent = Math.floor((this.scheduler.nextDeadlineNs() - this.virtualNs) / this.nsPerInstruction) - 1;
    const ticks = Math.min(PAUSE_CYCLES, untilEvent);
    if (ticks <= 0) return;
    this.addIdle(ticks * this.nsPerInstruction);
    this.cpu.runEnd -= ticks;
  }

  private haltedForGood(): boolean {
    return this.cpu.st[S.HALTED] !== 0 && this.scheduler.nextDeadlineNs() === Infinity && this.cpu.st[S.INTR] === 0;
  }

  private flushOutput(): void {
    this.platform.endOfSlice();
    this.serialOut.flush();
    this.debugOut.flush();
  }

  private result(reason: RunEnd, error?: GuestError): RunResult {
    const r: RunResult = { reason, instructions: this.cpu.retired, virtualNs: this.virtualNs };
    if (this.exit !== null) { r.exitValue = this.exit.value; r.exitStatus = this.exit.status; }
    if (error) r.error = error;
    return r;
  }

  stats(): MachineStats {
    const instructions = this.cpu.retired;
    const stats: MachineStats = { instructions, virtualNs: this.virtualNs, hostMs: this.hostMs, mips: this.hostMs > 0 ? instructions / this.hostMs / 1000 : 0 };
    if (this.jit !== null) stats.jit = { ...this.jit.stats };
    if (this.monitor !== null) stats.vmm = this.monitor.stats();
    return stats;
  }
}

function yieldToHost(): Promise<void> {
  const immediate = (globalThis as { setImmediate?: (f: () => void) => void }).setImmediate;
  return new Promise((resolve) => (immediate ? immediate(resolve) : setTimeout(resolve, 0)));
}

export function createMachine(options: MachineOptions = {}): Machine {
  return new Machine(options);
}
