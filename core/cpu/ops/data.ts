import type { Insn } from '../../decoder/decoder.js';
import type { Cpu } from '../cpu.js';
import { fault, Vec } from '../faults.js';
import { loadSegment } from '../segments.js';
import { controlRegisterMove } from './system.js';
import { Reg, S, Seg } from '../state-layout.js';
import { Builder, HandlerMap, operandSize, reader, readMemoryPair, signExtend, writer, writeBack } from './operands.js';

/** Data movement: MOV in its forms, MOVZX/MOVSX, LEA, XCHG, conversions, XLAT, far-pointer loads. */
export const DATA_OPS: HandlerMap = {
  MOV: (entry, o32) => {
    const [dst, src] = entry.operands;
    const systemMove = controlRegisterMove(entry);
    if (systemMove) return systemMove;
    if (dst.method === 'S') return movToSegment;
    if (src.method === 'S') {
      // A register destination takes the selector zero-extended at 32-bit operand size; memory is always 16 bits.
      return (cpu, i) => {
        if (i.reg > Seg.GS) fault(Vec.UD);
        const v = cpu.st[S.SEL + i.reg];
        if (i.mod === 3) cpu.setReg(o32 ? 32 : 16, i.rm, v); else cpu.writeE(i, 16, v);
      };
    }
    const read = reader(entry, 1, o32);
    const write = writer(entry, 0, o32);
    return (cpu, i) => write(cpu, i, read(cpu, i));
  },
  MOVZX: (entry, o32) => {
    const srcSize = operandSize(entry.operands[1], o32);
    const dstSize = o32 ? 32 : 16;
    return (cpu, i) => cpu.setReg(dstSize, i.reg, cpu.readE(i, srcSize));
  },
  MOVSX: (entry, o32) => {
    const srcSize = operandSize(entry.operands[1], o32);
    const dstSize = o32 ? 32 : 16;
    return (cpu, i) => cpu.setReg(dstSize, i.reg, signExtend(cpu.readE(i, srcSize), srcSize));
  },
  LEA: (_entry, o32) => {
    const size = o32 ? 32 : 16;
    return (cpu, i) => cpu.setReg(size, i.reg, cpu.ea(i));
  },
  XCHG: (entry, o32) => {
    // 90 is XCHG eAX,eAX: the one-byte NOP (and PAUSE).
    if (entry.opcode === 0x90) return () => {};
    const readA = reader(entry, 0, o32), readB = reader(entry, 1, o32);
    const writeA = writeBack(entry, 0, o32), writeB = writer(entry, 1, o32);
    return (cpu, i) => {
      const a = readA(cpu, i);
      const b = readB(cpu, i);
      writeA(cpu, i, b);
      writeB(cpu, i, a);
    };
  },
  CBW: (_e, o32) => o32
    ? (cpu) => { cpu.st[Reg.EAX] = (cpu.st[Reg.EAX] << 16) >> 16; }
    : (cpu) => { cpu.setReg16(Reg.EAX, (cpu.st[Reg.EAX] << 24) >> 24); },
  CWD: (_e, o32) => o32
    ? (cpu) => { cpu.st[Reg.EDX] = cpu.st[Reg.EAX] >> 31; }
    : (cpu) => { cpu.setReg16(Reg.EDX, (cpu.st[Reg.EAX] << 16) >> 31); },
  XLAT: () => (cpu, i) => {
    const seg = i.segOverride >= 0 ? i.segOverride : Seg.DS;
    const base = i.a32 ? cpu.st[Reg.EBX] : cpu.getReg16(Reg.EBX);
    const offset = i.a32 ? (base + cpu.getReg8(0)) | 0 : (base + cpu.getReg8(0)) & 0xffff;
    cpu.setReg8(0, cpu.readLin8(cpu.linear(seg, offset, 1)));
  },
  LES: farPointerLoad(Seg.ES),
  LDS: farPointerLoad(Seg.DS),
  LSS: farPointerLoad(Seg.SS),
  LFS: farPointerLoad(Seg.FS),
  LGS: farPointerLoad(Seg.GS),
  NOP: () => () => {},
};

/** MOV Sreg, r/m: CS is not a destination; loading SS holds off interrupts for one instruction. */
function movToSegment(cpu: Cpu, i: Insn): void {
  if (i.reg === Seg.CS || i.reg > Seg.GS) fault(Vec.UD);
  loadSegment(cpu, i.reg, cpu.readE(i, 16));
  if (i.reg === Seg.SS) cpu.st[S.INT_SHADOW] = 2;
}

function farPointerLoad(seg: number): Builder {
  return (_e, o32) => {
    const size = o32 ? 32 : 16;
    return (cpu, i) => {
      const [offset, selector] = readMemoryPair(cpu, i, size, 16);
      loadSegment(cpu, seg, selector);
      cpu.setReg(size, i.reg, offset);
      if (seg === Seg.SS) cpu.st[S.INT_SHADOW] = 2;
    };
  };
}
