import type { Cpu } from './cpu.js';
import type { Descriptor } from './segments.js';
import { S, Seg } from './state-layout.js';

/**
 * What the CPU asks of the deprivileging monitor (core/vmm). Both are null on a Cpu in direct
 * mode, where guest ring 0 runs at ring 0; see docs/ARCHITECTURE.md, "The deprivileging monitor".
 */

/** Takes every protected-mode interrupt and exception, and delivers it to the guest's handler. */
export interface InterruptMonitor {
  deliver(vector: number, errorCode: number, software: boolean): void;
  /** True while guest CPL 0 runs at real CPL 1 (CS and SS then hold RPL 1). */
  readonly deprivileged: boolean;
}

/** The monitor's shadow copies of the guest's GDT and LDT entries (guest DPL 0 shows as DPL 1). */
export interface DescriptorShadow {
  /** The shadow descriptor for the guest descriptor at linear address `address` (read as the processor reads tables). */
  descriptor(address: number): Descriptor;
}

/**
 * A segment register's selector as the guest would read it. Under the monitor, deprivileged
 * ring-0 code runs with RPL 1 in CS and SS; instructions that record a selector for later
 * reading (the x87's FCS and FDS) take it from here. The sensitive instructions that show one
 * at once (PUSH CS, MOV r/m,SS...) are hooked instead.
 */
export function guestSelector(cpu: Cpu, seg: number): number {
  const selector = cpu.st[S.SEL + seg];
  if ((seg !== Seg.CS && seg !== Seg.SS) || cpu.monitor === null || !cpu.monitor.deprivileged) return selector;
  return selector & ~3;
}
