import type { Cpu } from '../cpu/cpu.js';
import { formatInsn } from '../decoder/disassembler.js';
import { getEflags } from '../cpu/flags.js';
import { hex } from '../cpu/interrupts.js';
import { S, Seg } from '../cpu/state-layout.js';
import { CpuFault } from '../cpu/faults.js';

const NAMES = ['EAX', 'ECX', 'EDX', 'EBX', 'ESP', 'EBP', 'ESI', 'EDI'];

/** One line describing the instruction about to run and the registers before it. */
export function traceLine(cpu: Cpu): string {
  const st = cpu.st;
  const eip = st[S.EIP];
  let text: string;
  try {
    const insn = cpu.decodeAt(eip);
    text = formatInsn(insn);
  } catch (e) {
    if (!(e instanceof CpuFault)) throw e;
    text = '(fetch faults)';
  }
  const regs = NAMES.map((n, r) => `${n}=${hex(st[r], 8)}`).join(' ');
  return `${hex(st[S.SEL + Seg.CS], 4)}:${hex(eip, cpu.code32 ? 8 : 4)}  ${text.padEnd(32)} ${regs} EFL=${hex(getEflags(st), 8)}`;
}
