import type { Cpu } from '../cpu/cpu.js';
import type { BoundInsn } from '../cpu/decode-cache.js';
import { VM } from '../cpu/flags.js';
import type { Exec, SharedExec } from '../cpu/ops/operands.js';
import { S } from '../cpu/state-layout.js';
import type { OpcodeEntry } from '../decoder/table.js';
import type { Monitor } from './monitor.js';

/**
 * The hooks of the non-trapping sensitive instructions (the table's `sens` entries: PUSHF/POPF,
 * SGDT/SIDT/SLDT/STR/SMSW, LAR/LSL/VERR/VERW, PUSH CS/SS, MOV r/m from a segment register, far
 * CALL/JMP/RET, IRET, INT n/INT3/INTO, SYSENTER). Each runs the instruction's own executor in
 * the guest view, so its result is what the guest's CPL would give on hardware: POPF and IRET
 * change IF and IOPL as at CPL 0, pushed and read CS/SS show RPL 0, LAR reads the guest's DPL,
 * far transfers check and load the guest's descriptors. They apply at every CPL of protected
 * mode (not V86): at CPL 3 the views differ only in the descriptor source, which is what makes
 * a user far CALL through a call gate land in guest ring 0 (then moved to ring 1), and LAR of a
 * conforming ring-0 segment show DPL 0.
 */

/**
 * Runs one sensitive instruction through its hook: the entry point translated code calls
 * directly (EIP already past the instruction, as for any executor).
 */
export function runSensitive(monitor: Monitor, id: number, exec: Exec, cpu: Cpu, insn: BoundInsn): void {
  if (monitor.depth > 0 || !cpu.protectedMode || (cpu.st[S.EFLAGS] & VM) !== 0) {
    exec(cpu, insn);
    return;
  }
  monitor.counters.hooks[id]++;
  monitor.enter();
  try {
    exec(cpu, insn);
  } finally {
    monitor.leave();
  }
}

/** The executor the interpreter binds for a sensitive entry: the hook around the family's executor. */
export function sensitiveExecutor(monitor: Monitor, entry: OpcodeEntry, inner: SharedExec): SharedExec {
  const id = entry.id;
  const exec = inner.exec;
  return { exec: (cpu, insn) => runSensitive(monitor, id, exec, cpu, insn), arg: inner.arg };
}
