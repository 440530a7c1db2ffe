/**
 * wasmvisor's library entry: build a machine, load a guest, run it, talk to its serial port.
 * Everything exported here is host-neutral (no Node APIs), so it runs in browsers as well.
 */
export { createMachine, DEFAULT_VIRT, Machine, VIRT_MODES } from './core/machine/machine.js';
export type { MachineOptions, MachineStats, RunEnd, RunOptions, RunResult, VirtMode } from './core/machine/machine.js';
export type { VmmStats } from './core/vmm/stats.js';
export { ImageError } from './core/machine/loaders/boot-plan.js';
export type { BootPlan, GuestImage, LoadOptions } from './core/machine/loaders/boot-plan.js';
export { planBoot } from './core/machine/loaders/detect.js';
export { GuestError } from './core/cpu/faults.js';
export { disassemble, formatInsn } from './core/decoder/disassembler.js';
export type { DisassembledLine } from './core/decoder/disassembler.js';
export { OPCODES } from './core/decoder/table.js';
