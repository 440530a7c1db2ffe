import type { Cpu } from '../cpu.js';
import { fault, Vec } from '../faults.js';
import { IOPL, VM } from '../flags.js';
import { TSS_32BIT } from '../privilege.js';
import { Reg, S } from '../state-layout.js';
import { HandlerMap, operandSize } from './operands.js';

/** Offset in a 32-bit TSS of the word holding the I/O permission bitmap's offset. */
const TSS_IO_MAP_BASE = 0x66;

/**
 * The I/O permission check of IN, OUT, INS and OUTS for `bytes` ports from `port` (SDM Vol. 1
 * 19.5). Real mode may always access ports; protected mode may when CPL <= IOPL. Otherwise (and
 * always in V86 mode) every port's bit in the I/O permission bitmap of the 32-bit TSS must be 0;
 * a bit beyond the TSS limit, or no 32-bit TSS (a 16-bit one has no bitmap), is #GP(0). The two
 * bitmap bytes are read as a word,
 * as the hardware does, so a check at the last byte needs the byte after it inside the limit.
 */
export function checkIoPermission(cpu: Cpu, port: number, bytes: number): void {
  if (!cpu.protectedMode) return;
  const st = cpu.st;
  const flags = st[S.EFLAGS];
  if ((flags & VM) === 0 && st[S.CPL] <= (flags & IOPL) >> 12) return;
  const limit = st[S.TR_LIMIT] >>> 0;
  if ((st[S.TR_FLAGS] & TSS_32BIT) === 0 || (st[S.TR] & 0xfffc) === 0 || limit < TSS_IO_MAP_BASE + 1) fault(Vec.GP, 0);
  const at = cpu.readSystem(16, st[S.TR_BASE] + TSS_IO_MAP_BASE) + (port >> 3);
  if (at + 1 > limit) fault(Vec.GP, 0);
  const mask = ((1 << bytes) - 1) << (port & 7);
  if ((cpu.readSystem(16, st[S.TR_BASE] + at) & mask) !== 0) fault(Vec.GP, 0);
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
