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
  if (e === monitor.guestFault) {
    monitor.guestFault = null;
    return e;
  }
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
    afterEmulation(monitor, insn);
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

/**
 * The callout of translated code (the JIT's `vmm` import): a privileged or IOPL-sensitive
 * instruction of deprivileged guest ring-0 code runs in the guest view at once, as the trap
 * would have run it, without raising and catching the #GP. A fault it raises there is the
 * guest's: it is marked so that the trap path delivers it instead of emulating again.
 */
export function emulateCallout(monitor: Monitor, insn: BoundInsn): void {
  monitor.enter();
  try {
    if (insn.needsChecks) monitor.interpreter.checkAttributes(insn);
    insn.exec(monitor.cpu, insn);
    monitor.counters.callouts[insn.entry!.id]++;
    afterEmulation(monitor, insn);
  } catch (f) {
    if (f instanceof CpuFault) monitor.guestFault = f;
    throw f;
  } finally {
    monitor.leave();
  }
}

/** After INVLPG or a MOV to a control register linear addresses may map elsewhere: the shadows go. */
function afterEmulation(monitor: Monitor, insn: BoundInsn): void {
  if (REMAPPING.has(insn.entry!.id)) monitor.shadow.clear();
}
