import { setAdd, setFlagBits, setSub, ZF } from '../flags.js';
import { Reg } from '../state-layout.js';
import { Builder, HandlerMap, operandSize } from './operands.js';

/**
 * The instructions LOCK makes atomic read-modify-write primitives: XADD, CMPXCHG, CMPXCHG8B.
 * With one CPU, atomicity is free; what matters is the order of effects: the memory write
 * (which may fault) comes before any register or flag changes, and a failed compare still
 * writes the destination back with its own value, as the hardware's locked cycle does.
 */

/** XADD: TEMP = DEST + SRC; SRC = DEST; DEST = TEMP (so with the same register twice, the sum wins). */
const xadd: Builder = (entry, o32) => {
  const size = operandSize(entry.operands[0], o32);
  return (cpu, i) => {
    const dest = cpu.readE(i, size);
    const src = cpu.getReg(size, i.reg);
    const sum = (dest + src) | 0;
    if (i.mod === 3) {
      cpu.setReg(size, i.reg, dest);
      cpu.setReg(size, i.rm, sum);
    } else {
      cpu.writeBackE(i, size, sum);
      cpu.setReg(size, i.reg, dest);
    }
    setAdd(cpu.st, size, dest, src, sum, 0);
  };
};

/** CMPXCHG: compare the accumulator with DEST (flags as CMP); equal: DEST = SRC, else the accumulator = DEST. */
const cmpxchg: Builder = (entry, o32) => {
  const size = operandSize(entry.operands[0], o32);
  return (cpu, i) => {
    const dest = cpu.readE(i, size);
    const acc = cpu.getReg(size, Reg.EAX);
    const equal = acc === dest;
    if (equal) cpu.writeBackE(i, size, cpu.getReg(size, i.reg));
    else {
      if (i.mod !== 3) cpu.writeBackE(i, size, dest);
      cpu.setReg(size, Reg.EAX, dest);
    }
    setSub(cpu.st, size, acc, dest, (acc - dest) | 0, 0);
  };
};

/** CMPXCHG8B m64: compare EDX:EAX with m64; equal: m64 = ECX:EBX, else EDX:EAX = m64. Only ZF changes. */
const cmpxchg8b: Builder = () => (cpu, i) => {
  const st = cpu.st;
  // Both dwords are checked for write access first, so a fault cannot leave half of them written.
  const lin = cpu.rmwLinear(i, 8);
  const lo = cpu.readLin32(lin), hi = cpu.readLin32(lin + 4);
  const equal = lo === st[Reg.EAX] && hi === st[Reg.EDX];
  if (equal) {
    cpu.writeLin32(lin, st[Reg.EBX]);
    cpu.writeLin32(lin + 4, st[Reg.ECX]);
  } else {
    cpu.writeLin32(lin, lo);
    cpu.writeLin32(lin + 4, hi);
    st[Reg.EAX] = lo;
    st[Reg.EDX] = hi;
  }
  setFlagBits(st, ZF, equal ? ZF : 0);
};

export const ATOMIC_OPS: HandlerMap = { XADD: xadd, CMPXCHG: cmpxchg, CMPXCHG8B: cmpxchg8b };
