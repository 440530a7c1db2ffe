import type { Insn } from '../../decoder/decoder.js';
import type { OpcodeEntry } from '../../decoder/table.js';
import type { Cpu } from '../cpu.js';
import { CpuFault } from '../faults.js';
import { DF, getZF, setSub, TF } from '../flags.js';
import { RAM_BASE, Reg, S, Seg } from '../state-layout.js';
import { checkIoPermission } from './io.js';
import { Builder, HandlerMap, operandSize } from './operands.js';

/**
 * Elements one execution of a REP string instruction handles. A longer run re-executes the
 * instruction (EIP stays on it), so interrupts, devices and the slice budget get their turn
 * between chunks, as hardware lets interrupts in between iterations.
 */
export const REP_CHUNK = 4096;

const REPE = 0xf3;

/**
 * One element of a string operation with eSI/eDI of `asize` bits, stepping by `step` bytes.
 * It makes every check that may fault before it writes anything, so a fault in iteration k
 * leaves memory and registers as after k-1 iterations.
 */
type Element = (cpu: Cpu, i: Insn, asize: number, step: number) => void;
/**
 * Performs up to n elements at once where that provably gives what the element loop gives,
 * advancing eSI/eDI; returns how many (0: the element loop must do the next one).
 */
type Bulk = (cpu: Cpu, i: Insn, asize: number, step: number, n: number) => number;

function sourceSegment(i: Insn): number {
  return i.segOverride >= 0 ? i.segOverride : Seg.DS;
}

/** Linear address of the element at DS:eSI (segment override allowed). */
function source(cpu: Cpu, i: Insn, asize: number, bytes: number): number {
  return cpu.linear(sourceSegment(i), cpu.getReg(asize, Reg.ESI), bytes);
}

/** Linear address of the element at ES:eDI (never overridden), for reading (CMPS, SCAS). */
function destination(cpu: Cpu, asize: number, bytes: number): number {
  return cpu.linear(Seg.ES, cpu.getReg(asize, Reg.EDI), bytes);
}

/** Linear address of the element at ES:eDI for a store (MOVS, STOS, INS): ES must be writable. */
function storeDestination(cpu: Cpu, asize: number, bytes: number): number {
  return cpu.linearWrite(Seg.ES, cpu.getReg(asize, Reg.EDI), bytes);
}

/** Moves eSI or eDI by `delta`; with 16-bit addresses only SI/DI change, wrapping at 64 KiB. */
function advance(cpu: Cpu, asize: number, reg: number, delta: number): void {
  cpu.setReg(asize, reg, cpu.getReg(asize, reg) + delta);
}

/** The string operand (X or Y) decides the element size: MOVSB bytes, MOVSW/MOVSD by operand size. */
export function elementSize(entry: OpcodeEntry, o32: boolean): number {
  return operandSize(entry.operands.find((o) => o.method === 'X' || o.method === 'Y')!, o32);
}

/**
 * Builds a string instruction from its element. Without a prefix it runs once; with REP it
 * runs eCX times (none when eCX is 0), at most REP_CHUNK per execution. REPE/REPNE
 * (`compares`) also stop when ZF says so; for the others F2 repeats like F3, as on Intel.
 */
function stringOp(makeElement: (size: number) => Element, compares: boolean, makeBulk?: (size: number) => Bulk): Builder {
  return (entry, o32) => {
    const size = elementSize(entry, o32);
    const bytes = size >> 3;
    const element = makeElement(size);
    const bulk = makeBulk?.(size);
    return (cpu, i) => {
      const asize = i.a32 ? 32 : 16;
      const step = (cpu.st[S.EFLAGS] & DF) !== 0 ? -bytes : bytes;
      if (i.rep === 0) {
        element(cpu, i, asize, step);
        return;
      }
      let count = cpu.getReg(asize, Reg.ECX) >>> 0;
      if (count === 0) return;
      // Debug traps come between iterations, with EIP on the instruction while eCX is not 0:
      // single-step after each one, a data breakpoint after the one that hit (SDM 17.3.1).
      const stopOnZf = i.rep === REPE ? 0 : 1;
      for (let left = (cpu.st[S.EFLAGS] & TF) !== 0 ? 1 : Math.min(count, REP_CHUNK); left > 0;) {
        // eCX follows every run of elements, so a fault in a later one sees the earlier ones done.
        const done = bulk === undefined ? 0 : bulk(cpu, i, asize, step, left);
        if (done > 0) {
          count -= done;
          left -= done;
          cpu.setReg(asize, Reg.ECX, count);
          continue;
        }
        element(cpu, i, asize, step);
        cpu.setReg(asize, Reg.ECX, --count);
        left--;
        if (compares && (getZF(cpu.st) !== 0 ? 1 : 0) === stopOnZf) return;
        if (cpu.debugActive && cpu.debug.hits !== 0) break;
      }
      if (count !== 0) cpu.st[S.EIP] = i.start;
    };
  };
}

const movs = (size: number): Element => {
  const bytes = size >> 3;
  return (cpu, i, asize, step) => {
    const v = cpu.readLin(size, source(cpu, i, asize, bytes));
    cpu.writeLin(size, storeDestination(cpu, asize, bytes), v);
    advance(cpu, asize, Reg.ESI, step);
    advance(cpu, asize, Reg.EDI, step);
  };
};

const cmps = (size: number): Element => {
  const bytes = size >> 3;
  return (cpu, i, asize, step) => {
    const a = cpu.readLin(size, source(cpu, i, asize, bytes));
    const b = cpu.readLin(size, destination(cpu, asize, bytes));
    setSub(cpu.st, size, a, b, (a - b) | 0, 0);
    advance(cpu, asize, Reg.ESI, step);
    advance(cpu, asize, Reg.EDI, step);
  };
};

const stos = (size: number): Element => {
  const bytes = size >> 3;
  return (cpu, _i, asize, step) => {
    cpu.writeLin(size, storeDestination(cpu, asize, bytes), cpu.getReg(size, Reg.EAX));
    advance(cpu, asize, Reg.EDI, step);
  };
};

const lods = (size: number): Element => {
  const bytes = size >> 3;
  return (cpu, i, asize, step) => {
    cpu.setReg(size, Reg.EAX, cpu.readLin(size, source(cpu, i, asize, bytes)));
    advance(cpu, asize, Reg.ESI, step);
  };
};

const scas = (size: number): Element => {
  const bytes = size >> 3;
  return (cpu, _i, asize, step) => {
    const a = cpu.getReg(size, Reg.EAX);
    const b = cpu.readLin(size, destination(cpu, asize, bytes));
    setSub(cpu.st, size, a, b, (a - b) | 0, 0);
    advance(cpu, asize, Reg.EDI, step);
  };
};

/** INS checks the destination before it reads the port, so a fault does not consume device data. */
const ins = (size: number): Element => {
  const bytes = size >> 3;
  return (cpu, _i, asize, step) => {
    const port = cpu.getReg16(Reg.EDX);
    checkIoPermission(cpu, port, bytes);
    const lin = storeDestination(cpu, asize, bytes);
    cpu.writeLin(size, lin, cpu.in(size, port));
    advance(cpu, asize, Reg.EDI, step);
  };
};

const outs = (size: number): Element => {
  const bytes = size >> 3;
  return (cpu, i, asize, step) => {
    const port = cpu.getReg16(Reg.EDX);
    checkIoPermission(cpu, port, bytes);
    cpu.out(size, port, cpu.readLin(size, source(cpu, i, asize, bytes)));
    advance(cpu, asize, Reg.ESI, step);
  };
};

/**
 * The run of elements from seg:reg that one block access can do: the index into the memory's
 * byte array of the first element (at reg) and how many of the next n elements follow it there,
 * or null when the element loop could behave differently for the first one: a segment fault,
 * the index register wrapping, the linear address wrapping, a page fault, the A20 gate folding
 * the range, anything but RAM, or enabled breakpoints (the element loop checks data
 * breakpoints on each access). With paging the run ends at the page's edge.
 */
function ramRun(cpu: Cpu, seg: number, asize: number, reg: number, step: number, n: number, write = false): { at: number; count: number } | null {
  if (cpu.debugActive) return null;
  const bytes = Math.abs(step);
  const first = cpu.getReg(asize, reg) >>> 0;
  let count = n;
  let firstLin: number, phys: number;
  try {
    firstLin = (write ? cpu.linearWrite(seg, first, bytes) : cpu.linear(seg, first, bytes)) >>> 0;
    if (cpu.pagingOn) {
      const inPage = firstLin & 0xfff;
      count = Math.min(n, step > 0 ? Math.floor((0x1000 - inPage) / bytes) : inPage + bytes > 0x1000 ? 0 : Math.floor(inPage / bytes) + 1);
      if (count === 0) return null;
      phys = cpu.paging.translate(firstLin, write) >>> 0;
    } else {
      phys = firstLin;
    }
    const span = (count - 1) * bytes;
    const low = step > 0 ? first : first - span;
    if (low < 0 || low + span > (asize === 32 ? 0xffffffff : 0xffff)) return null;
    // The segment check of the lowest and the highest element covers those in between.
    const lowLin = cpu.linear(seg, low, bytes) >>> 0;
    const highLin = (cpu.linear(seg, low + span, bytes) >>> 0) + bytes - 1;
    if (highLin - lowLin !== span + bytes - 1) return null;
  } catch (e) {
    if (e instanceof CpuFault) return null;
    throw e;
  }
  const lowPhys = step > 0 ? phys : phys - (count - 1) * bytes;
  const highPhys = lowPhys + count * bytes - 1;
  if (highPhys >= cpu.mem.ramSize) return null;
  const a20 = cpu.st[S.A20_MASK];
  if ((lowPhys & a20) >>> 0 !== lowPhys || (highPhys & a20) >>> 0 !== highPhys) return null;
  for (let page = lowPhys >>> 12; page <= highPhys >>> 12; page++) {
    if (!cpu.mem.isRam(page << 12)) return null;
  }
  return { at: RAM_BASE + phys, count };
}

/**
 * REP MOVS as memmoves, a run at a time. That equals the element loop unless the destination
 * overlaps the source ahead of it in the direction of travel, where the loop re-reads bytes it
 * has just written (a pattern fill); that case takes the loop.
 */
const bulkMovs = (size: number): Bulk => {
  const bytes = size >> 3;
  return (cpu, i, asize, step, n) => {
    const src = ramRun(cpu, sourceSegment(i), asize, Reg.ESI, step, n);
    if (src === null) return 0;
    const dst = ramRun(cpu, Seg.ES, asize, Reg.EDI, step, src.count, true);
    if (dst === null) return 0;
    const count = dst.count;
    const length = count * bytes;
    const back = step > 0 ? 0 : (count - 1) * bytes;
    const from = src.at - back, to = dst.at - back;
    if (step > 0 ? from < to && to < from + length : to < from && from < to + length) return 0;
    cpu.mem.bytes.copyWithin(to, from, from + length);
    cpu.mem.noteRamWrite(to - RAM_BASE, length);
    advance(cpu, asize, Reg.ESI, step * count);
    advance(cpu, asize, Reg.EDI, step * count);
    return count;
  };
};

/** REP STOS as fills, a run at a time: every element holds the same value, so the direction does not matter. */
const bulkStos = (size: number): Bulk => {
  const bytes = size >> 3;
  return (cpu, _i, asize, step, n) => {
    const run = ramRun(cpu, Seg.ES, asize, Reg.EDI, step, n, true);
    if (run === null) return 0;
    const length = run.count * bytes;
    const dst = run.at - (step > 0 ? 0 : length - bytes);
    const ram = cpu.mem.bytes;
    const v = cpu.getReg(size, Reg.EAX);
    if (bytes === 1) {
      ram.fill(v, dst, dst + length);
    } else {
      for (let k = 0; k < bytes; k++) ram[dst + k] = v >>> (8 * k);
      for (let done = bytes; done < length; done *= 2) ram.copyWithin(dst + done, dst, dst + Math.min(done, length - done));
    }
    cpu.mem.noteRamWrite(dst - RAM_BASE, length);
    advance(cpu, asize, Reg.EDI, step * run.count);
    return run.count;
  };
};

const MOVS = stringOp(movs, false, bulkMovs);
const CMPS = stringOp(cmps, true);
const STOS = stringOp(stos, false, bulkStos);
const LODS = stringOp(lods, false);
const SCAS = stringOp(scas, true);
const INS = stringOp(ins, false);
const OUTS = stringOp(outs, false);

/** String instructions: DS:eSI source, ES:eDI destination, DF for the direction, REP prefixes. */
export const STRING_OPS: HandlerMap = {
  MOVSB: MOVS, MOVSW: MOVS,
  CMPSB: CMPS, CMPSW: CMPS,
  STOSB: STOS, STOSW: STOS,
  LODSB: LODS, LODSW: LODS,
  SCASB: SCAS, SCASW: SCAS,
  INSB: INS, INSW: INS,
  OUTSB: OUTS, OUTSW: OUTS,
};
