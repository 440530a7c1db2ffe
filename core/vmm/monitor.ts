import type { Cpu } from '../cpu/cpu.js';
import type { BoundInsn } from '../cpu/decode-cache.js';
import type { CpuFault } from '../cpu/faults.js';
import { deliverProtected } from '../cpu/interrupts.js';
import type { Interpreter, MonitorHooks } from '../cpu/interpreter.js';
import type { InterruptMonitor } from '../cpu/monitor-hooks.js';
import type { SharedExec } from '../cpu/ops/operands.js';
import type { OpcodeEntry } from '../decoder/table.js';
import { sensitiveExecutor } from './hooks.js';
import { DESCRIPTOR_TABLE, ShadowTables } from './shadow-tables.js';
import { VmmCounters, VmmStats } from './stats.js';
import { emulateCallout, emulateTrap } from './traps.js';
import { VirtualCpu } from './virtual-cpu.js';

/** One outermost monitor entry in this many is timed (a power of two). */
const TIME_SAMPLE = 64;

/**
 * The deprivileging monitor (`--virt deprivileged`): guest code that believes it runs at CPL 0
 * runs at CPL 1. Privileged instructions fault there as on hardware and are emulated
 * (traps.ts); the sensitive instructions that would not fault go through hooks (hooks.ts);
 * every protected-mode interrupt and exception comes here first and is delivered to the
 * guest's handler in the guest view, so its frame holds what ring 0 would see.
 *
 * Work in the guest view nests (a hooked INT n delivers an interrupt; a task switch delivers a
 * fault in the new task): `depth` counts the levels, and only the outermost switches views.
 */
export class Monitor implements InterruptMonitor, MonitorHooks {
  readonly vcpu: VirtualCpu;
  readonly shadow: ShadowTables;
  readonly counters = new VmmCounters();
  depth = 0;
  /** A fault raised in the guest view by a callout: the guest's own, delivered as it is. */
  guestFault: CpuFault | null = null;
  /** Outermost entries into the guest view, and when the one being timed began. */
  private entries = 0;
  private sampleStart = 0;

  constructor(readonly cpu: Cpu, readonly interpreter: Interpreter) {
    this.vcpu = new VirtualCpu(cpu);
    this.shadow = new ShadowTables(cpu);
    const mem = cpu.mem;
    const previous = mem.onCodeWrite;
    mem.onCodeWrite = (address, bytes) => {
      previous(address, bytes);
      if ((mem.codePage[address >>> 12] & DESCRIPTOR_TABLE) !== 0) this.shadow.written(address);
    };
    cpu.monitor = this;
    interpreter.attachMonitor(this);
  }

  /** InterruptMonitor: whether the CPU is in the real view with guest CPL 0 at CPL 1. */
  get deprivileged(): boolean {
    return this.vcpu.deprivileged && this.depth === 0;
  }

  /** Takes the CPU's state as the guest's (after a loader set it) and moves guest ring 0 to ring 1. */
  resync(): void {
    this.depth = 0;
    this.shadow.clear();
    this.vcpu.deprivileged = false;
    this.vcpu.toRealView(this.shadow);
  }

  /**
   * Switches to the guest view (outermost level only). Pair with leave() in a finally. Host
   * time is measured on every 64th outermost entry and scaled: performance.now() costs about
   * 0.25 µs on our hosts, as much as a hook itself.
   */
  enter(): void {
    if (this.depth++ !== 0) return;
    if ((++this.entries & (TIME_SAMPLE - 1)) === 0) this.sampleStart = performance.now();
    this.vcpu.toGuestView();
  }

  leave(): void {
    if (--this.depth !== 0) return;
    this.vcpu.toRealView(this.shadow);
    if ((this.entries & (TIME_SAMPLE - 1)) === 0) this.counters.hostMs += (performance.now() - this.sampleStart) * TIME_SAMPLE;
  }

  /** InterruptMonitor: delivers through the guest's IDT, with the guest's CPL, selectors and stacks. */
  deliver(vector: number, errorCode: number, software: boolean): void {
    const cpu = this.cpu;
    this.counters.deliveries[vector]++;
    this.enter();
    try {
      deliverProtected(cpu, vector, errorCode, software);
    } finally {
      this.leave();
    }
  }

  sensitive(entry: OpcodeEntry, exec: SharedExec): SharedExec {
    return sensitiveExecutor(this, entry, exec);
  }

  trap(e: CpuFault): BoundInsn | CpuFault {
    return emulateTrap(this, e);
  }

  emulate(insn: BoundInsn): void {
    emulateCallout(this, insn);
  }

  stats(): VmmStats {
    return this.counters.snapshot(this.shadow.fills, this.shadow.writeFlushes);
  }
}
