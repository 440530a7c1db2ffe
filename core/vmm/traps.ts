import { decode } from '../decoder/decoder.js';
import { OPCODES } from '../decoder/table.js';
import { BoundInsn } from '../cpu/decode-cache.js';
import { CpuFault, Vec } from '../cpu/faults.js';
import { Reg, S } from '../cpu/state-layout.js';
import type { Monitor } from './monitor.js';

/** Emulated instructions after which linear addresses may map elsewhere (INVLPG, MOV to CRn), so the shadow descriptors are dropped. */
const REMAPPING = new Set(OPCODES.filter((e) => e.key === 'INVLPG' || (e.key === 'MOV' && e.operands[0].method === 'C')).map((e) => e.id));

/**
 * Trap-and-emulate. A #GP raised by guest code at virtual CPL 0 (real CPL 1) may be an artefact
 * of deprivileging: a privileged instruction (HLT, MOV CRn/DRn, LGDT/LIDT/LLDT/LTR, LMSW, CLTS,
 * INVLPG, INVD/WBINVD, RDMSR/WRMSR, SYSEXIT), CLI/STI/IN/OUT/INS/OUTS at IOPL 0, MOV/POP/LSS
 * to SS with an RPL-0 selector, RDTSC under CR4.TSD. The monitor decodes the instruction again
 * and runs it in the guest view: if it completes, it retires (returned); if it faults there too,
 * that fault is the guest's (returned for delivery, with EIP and ESP at the instruction).
 * Any other fault, and any fault at another CPL, goes to the guest as it is.
 */
export function emulateTrap(monitor: Monitor, e: CpuFault): BoundInsn | CpuFault {
  if (e.vector !== Vec.GP || !monitor.vcpu.deprivileged || monitor.depth !== 0) return e;
  const cpu = monitor.cpu;
  const st = cpu.st;
  const eip = st[S.EIP], esp = st[Reg.ESP];
  monitor.enter();
  try {
    const insn = decode(cpu, eip, st[S.CS_DEFAULT32] !== 0, new BoundInsn());
    if (insn.entry === undefined) return e;
    monitor.interpreter.bind(insn);
    if (insn.needsChecks) monitor.interpreter.checkAttributes(insn);
    const next = eip + insn.length;
    st[S.EIP] = insn.default32 ? next : next & 0xffff;
    insn.exec(cpu, insn);
    monitor.counters.traps[insn.entry.id]++;
    if (REMAPPING.has(insn.entry.id)) monitor.shadow.clear();
    return insn;
  } catch (f) {
    if (!(f instanceof CpuFault)) throw f;
    st[S.EIP] = eip;
    st[Reg.ESP] = esp;
    return f;
  } finally {
    monitor.leave();
  }
}
