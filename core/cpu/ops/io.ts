import type { Cpu } from '../cpu.js';
import { fault, Vec } from '../faults.js';
import { IOPL, VM } from '../flags.js';
import { Reg, S } from '../state-layout.js';
import { HandlerMap, operandSize } from './operands.js';

/**
 * The I/O permission check of IN, OUT, INS and OUTS for `bytes` ports from `port`. Real mode
 * may always access ports; protected mode may when CPL <= IOPL. Otherwise (and always in V86
 * mode) the hardware consults the I/O permission bitmap of the TSS; that bitmap arrives with
 * the protected-mode issue, so until then those accesses fault #GP(0), which is what a TSS
 * without a bitmap gives.
 */
export function checkIoPermission(cpu: Cpu, port: number, bytes: number): void {
  if (!cpu.protectedMode) return;
  const flags = cpu.st[S.EFLAGS];
  if ((flags & VM) !== 0 || cpu.st[S.CPL] > (flags & IOPL) >> 12) fault(Vec.GP, 0);
}

/** Port I/O with the port in an immediate byte (0-255) or in DX. */
export const IO_OPS: HandlerMap = {
  IN: (entry, o32) => {
    const size = operandSize(entry.operands[0], o32);
    const portInDx = entry.operands[1].register === 'DX';
    return (cpu, i) => {
      const port = portInDx ? cpu.getReg16(Reg.EDX) : i.imm & 0xff;
      checkIoPermission(cpu, port, size >> 3);
      cpu.setReg(size, Reg.EAX, cpu.in(size, port));
    };
  },
  OUT: (entry, o32) => {
    const size = operandSize(entry.operands[1], o32);
    const portInDx = entry.operands[0].register === 'DX';
    return (cpu, i) => {
      const port = portInDx ? cpu.getReg16(Reg.EDX) : i.imm & 0xff;
      checkIoPermission(cpu, port, size >> 3);
      cpu.out(size, port, cpu.getReg(size, Reg.EAX));
    };
  },
};
