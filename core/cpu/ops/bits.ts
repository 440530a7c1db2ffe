import type { Insn } from '../../decoder/decoder.js';
import type { Cpu } from '../cpu.js';
import { CF, condition, setFlagBits, setLogic, ZF } from '../flags.js';
import { Builder, HandlerMap, operandSize, signExtend, writer } from './operands.js';

/**
 * Bit instructions: BT/BTS/BTR/BTC, BSF/BSR, BSWAP, SETcc, CMOVcc.
 *
 * Undefined flags as Bochs models them (our best knowledge of the P6): BT* change only CF;
 * BSF/BSR with a non-zero source set the flags of a logical operation on the bit index
 * (CF = OF = AF = SF = 0, PF from the index) with ZF = 0, and with a zero source set ZF and
 * change nothing else.
 */

const enum BitOp { TEST, SET, RESET, COMPLEMENT }

/** The new operand value after BTS/BTR/BTC of `mask`. */
function modify(op: BitOp, v: number, mask: number): number {
  return op === BitOp.SET ? v | mask : op === BitOp.RESET ? v & ~mask : v ^ mask;
}

/**
 * BT Ev,Gv / Ev,Ib and friends. A register bit offset with a memory operand is signed and
 * selects the word or dword at ea + (offset >> 4) * 2 / ea + (offset >> 5) * 4; an immediate,
 * or any offset with a register operand, is taken modulo the operand size.
 */
function bitTest(op: BitOp): Builder {
  return (entry, o32) => {
    const size = o32 ? 32 : 16;
    const top = size - 1;
    const shift = o32 ? 5 : 4;
    const immediate = entry.operands[1].method === 'I';
    const offsetOf = immediate
      ? (_cpu: Cpu, i: Insn) => i.imm & top
      : (cpu: Cpu, i: Insn) => signExtend(cpu.getReg(size, i.reg), size);
    return (cpu, i) => {
      const offset = offsetOf(cpu, i);
      const mask = 1 << (offset & top);
      let v: number;
      if (i.mod === 3) {
        v = cpu.getReg(size, i.rm);
        if (op !== BitOp.TEST) cpu.setReg(size, i.rm, modify(op, v, mask));
      } else {
        let ea = cpu.ea(i);
        if (!immediate) ea += (offset >> shift) * (size >> 3);
        // BTS/BTR/BTC write back: the segment must be writable (#GP(0) otherwise), as for any read-modify-write.
        const offset32 = i.a32 ? ea | 0 : ea & 0xffff;
        const lin = op === BitOp.TEST ? cpu.linear(i.seg, offset32, size >> 3) : cpu.linearWrite(i.seg, offset32, size >> 3);
        v = cpu.readLin(size, lin);
        if (op !== BitOp.TEST) cpu.writeLin(size, lin, modify(op, v, mask));
      }
      setFlagBits(cpu.st, CF, (v & mask) !== 0 ? CF : 0);
    };
  };
}

/** BSF/BSR: index of the lowest/highest set bit; a zero source sets ZF and leaves the destination. */
function bitScan(forward: boolean): Builder {
  return (_entry, o32) => {
    const size = o32 ? 32 : 16;
    return (cpu, i) => {
      const v = cpu.readE(i, size);
      if (v === 0) { setFlagBits(cpu.st, ZF, ZF); return; }
      const index = forward ? 31 - Math.clz32(v & -v) : 31 - Math.clz32(v);
      cpu.setReg(size, i.reg, index);
      setLogic(cpu.st, size, index);
      setFlagBits(cpu.st, ZF, 0);
    };
  };
}

export const BITS_OPS: HandlerMap = {
  BT: bitTest(BitOp.TEST),
  BTS: bitTest(BitOp.SET),
  BTR: bitTest(BitOp.RESET),
  BTC: bitTest(BitOp.COMPLEMENT),
  BSF: bitScan(true),
  BSR: bitScan(false),
  // With a 16-bit operand the result is undefined; the P6 clears the low word.
  BSWAP: (entry, o32) => {
    const r = entry.embedded;
    if (!o32) return (cpu) => cpu.setReg16(r, 0);
    return (cpu) => {
      const v = cpu.st[r];
      cpu.st[r] = (v << 24) | ((v << 8) & 0xff0000) | ((v >>> 8) & 0xff00) | (v >>> 24);
    };
  },
  SETcc: (entry, o32) => {
    const cc = entry.embedded;
    const write = writer(entry, 0, o32);
    return (cpu, i) => write(cpu, i, condition(cpu.st, cc) ? 1 : 0);
  },
  // The source is read (and may fault) whatever the condition; a false condition leaves the destination as it was.
  CMOVcc: (entry, o32) => {
    const cc = entry.embedded;
    const size = operandSize(entry.operands[0], o32);
    return (cpu, i) => {
      const v = cpu.readE(i, size);
      if (condition(cpu.st, cc)) cpu.setReg(size, i.reg, v);
    };
  },
};
