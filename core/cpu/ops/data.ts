import type { Insn } from '../../decoder/decoder.js';
import type { OpcodeEntry } from '../../decoder/table.js';
import type { Cpu } from '../cpu.js';
import type { BoundInsn } from '../decode-cache.js';
import { fault, Vec } from '../faults.js';
import { loadSegment } from '../segments.js';
import { controlRegisterMove } from './system.js';
import { Reg, S, Seg } from '../state-layout.js';
import { Builder, HandlerMap, updateReader, operandSize, reader, readMemoryPair, signExtend, writer, writeBack } from './operands.js';

/** Whether an instruction is PAUSE (F3 90: XCHG eAX,eAX with REP), which stalls the CPU (Cpu.onPause). */
export function isPause(i: Insn): boolean {
  return i.entry!.opcode === 0x90 && i.rep === 0xf3;
}

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
    const size = operandSize(dst, o32);
    return { exec: movExec, arg: movForm(entry) | (Math.log2(size / 8) << 3) | (Math.max(0, entry.embedded) << 5) };
  },
  MOVZX: (entry, o32) => ({ exec: extendExec, arg: operandSize(entry.operands[1], o32) | (o32 ? 64 : 0) }),
  MOVSX: (entry, o32) => ({ exec: extendExec, arg: operandSize(entry.operands[1], o32) | (o32 ? 64 : 0) | 128 }),
  LEA: (_entry, o32) => {
    const size = o32 ? 32 : 16;
    return (cpu, i) => cpu.setReg(size, i.reg, cpu.ea(i));
  },
  XCHG: (entry, o32) => {
    // 90 is XCHG eAX,eAX: the one-byte NOP, and with F3 PAUSE.
    if (entry.opcode === 0x90) return (cpu, i) => { if (isPause(i)) cpu.onPause?.(); };
    const readA = updateReader(entry, 0, o32), readB = reader(entry, 1, o32);
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

/** Operand forms of the general MOV. */
const enum MovForm { E_G, G_E, E_I, Z_I, ACC_O, O_ACC }

function movForm(entry: OpcodeEntry): MovForm {
  const [dst, src] = entry.operands;
  if (dst.method === 'Z') return MovForm.Z_I;
  if (dst.method === 'O') return MovForm.O_ACC;
  if (src.method === 'O') return MovForm.ACC_O;
  if (dst.method === 'G') return MovForm.G_E;
  return src.method === 'G' ? MovForm.E_G : MovForm.E_I;
}

/**
 * Every general MOV shares this executor (see SharedExec). Argument: the form,
 * log2(size / 8) << 3, and the register of the register-in-opcode form << 5.
 */
export function movExec(cpu: Cpu, i: BoundInsn): void {
  const arg = i.arg;
  const size = 8 << ((arg >> 3) & 3);
  switch (arg & 7) {
    case MovForm.E_G: cpu.writeE(i, size, cpu.getReg(size, i.reg)); return;
    case MovForm.G_E: cpu.setReg(size, i.reg, cpu.readE(i, size)); return;
    case MovForm.E_I: cpu.writeE(i, size, i.imm); return;
    case MovForm.Z_I: cpu.setReg(size, arg >> 5, i.imm); return;
    case MovForm.ACC_O: cpu.setReg(size, 0, cpu.readLin(size, cpu.linear(i.seg, i.disp, size >> 3))); return;
    default: cpu.writeLin(size, cpu.linearWrite(i.seg, i.disp, size >> 3), cpu.getReg(size, 0));
  }
}

/** MOVZX and MOVSX share this executor. Argument: source size in bits, 64 for a 32-bit destination, 128 to sign-extend. */
export function extendExec(cpu: Cpu, i: BoundInsn): void {
  const arg = i.arg;
  const srcSize = arg & 63;
  const v = cpu.readE(i, srcSize);
  cpu.setReg((arg & 64) !== 0 ? 32 : 16, i.reg, (arg & 128) !== 0 ? signExtend(v, srcSize) : v);
}

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
