import { S } from './state-layout.js';

export const CF = 0x1, PF = 0x4, AF = 0x10, ZF = 0x40, SF = 0x80, TF = 0x100, IF = 0x200, DF = 0x400, OF = 0x800;
export const IOPL = 0x3000, NT = 0x4000, RF = 0x10000, VM = 0x20000, AC = 0x40000, VIF = 0x80000, VIP = 0x100000, ID = 0x200000;
export const ARITH_FLAGS = OF | SF | ZF | AF | PF | CF;
/** Bit 1 of EFLAGS always reads as 1. */
export const EFLAGS_FIXED = 0x2;
/** Flags an i686 lets software change (everything but the reserved bits). */
export const EFLAGS_WRITABLE = 0x3f7fd5;

/** How the lazily evaluated flags derive from the recorded operation. */
export const enum LazyOp { ADD = 0, SUB = 1, LOGIC = 2 }

const PARITY = new Uint8Array(256);
for (let i = 0; i < 256; i++) {
  let bits = i;
  bits ^= bits >> 4; bits ^= bits >> 2; bits ^= bits >> 1;
  PARITY[i] = (bits & 1) === 0 ? PF : 0;
}

function sizeMask(size: number): number { return size === 32 ? -1 : (1 << size) - 1; }

/**
 * Lazy flags: arithmetic records its operands and result; each flag is computed only when read.
 * LF_MASK says which flags still come from the record; the rest live in EFLAGS.
 */
export function setAdd(st: Int32Array, size: number, a: number, b: number, result: number, carryIn: number): void {
  st[S.LF_OP] = LazyOp.ADD; st[S.LF_SIZE] = size;
  st[S.LF_A] = a; st[S.LF_B] = b; st[S.LF_RES] = result; st[S.LF_CARRY_IN] = carryIn;
  st[S.LF_MASK] = ARITH_FLAGS;
}

export function setSub(st: Int32Array, size: number, a: number, b: number, result: number, borrowIn: number): void {
  st[S.LF_OP] = LazyOp.SUB; st[S.LF_SIZE] = size;
  st[S.LF_A] = a; st[S.LF_B] = b; st[S.LF_RES] = result; st[S.LF_CARRY_IN] = borrowIn;
  st[S.LF_MASK] = ARITH_FLAGS;
}

/** INC/DEC: like ADD/SUB of 1 but CF keeps its value. */
export function setIncDec(st: Int32Array, size: number, a: number, result: number, isDec: boolean): void {
  const carry = getCF(st);
  st[S.EFLAGS] = (st[S.EFLAGS] & ~CF) | carry;
  st[S.LF_OP] = isDec ? LazyOp.SUB : LazyOp.ADD; st[S.LF_SIZE] = size;
  st[S.LF_A] = a; st[S.LF_B] = 1; st[S.LF_RES] = result; st[S.LF_CARRY_IN] = 0;
  st[S.LF_MASK] = ARITH_FLAGS & ~CF;
}

/** Logical results: CF = OF = 0; AF is undefined and reads as 0, as on the P6. */
export function setLogic(st: Int32Array, size: number, result: number): void {
  st[S.EFLAGS] &= ~(CF | OF | AF);
  st[S.LF_OP] = LazyOp.LOGIC; st[S.LF_SIZE] = size; st[S.LF_RES] = result;
  st[S.LF_MASK] = SF | ZF | PF;
}

/** SF, ZF and PF from a result; the caller sets CF, OF and AF explicitly with setFlagBits. */
export function setResultFlags(st: Int32Array, size: number, result: number): void {
  st[S.LF_OP] = LazyOp.LOGIC; st[S.LF_SIZE] = size; st[S.LF_RES] = result;
  st[S.LF_MASK] = SF | ZF | PF;
}

/** Writes the given flags (in `mask`) directly, taking them out of the lazy record. */
export function setFlagBits(st: Int32Array, mask: number, value: number): void {
  materialize(st, mask);
  st[S.EFLAGS] = (st[S.EFLAGS] & ~mask) | (value & mask);
}

/** Moves the named flags from the lazy record into EFLAGS. */
function materialize(st: Int32Array, mask: number): void {
  const pending = st[S.LF_MASK] & mask;
  if (pending === 0) return;
  let value = 0;
  if (pending & CF) value |= getCF(st);
  if (pending & PF) value |= getPF(st);
  if (pending & AF) value |= getAF(st);
  if (pending & ZF) value |= getZF(st);
  if (pending & SF) value |= getSF(st);
  if (pending & OF) value |= getOF(st);
  st[S.EFLAGS] = (st[S.EFLAGS] & ~pending) | value;
  st[S.LF_MASK] &= ~pending;
}

export function getCF(st: Int32Array): number {
  if ((st[S.LF_MASK] & CF) === 0) return st[S.EFLAGS] & CF;
  const m = sizeMask(st[S.LF_SIZE]);
  const a = (st[S.LF_A] & m) >>> 0;
  if (st[S.LF_OP] === LazyOp.ADD) {
    const r = (st[S.LF_RES] & m) >>> 0;
    return (st[S.LF_CARRY_IN] ? r <= a : r < a) ? CF : 0;
  }
  const b = (st[S.LF_B] & m) >>> 0;
  return (st[S.LF_CARRY_IN] ? a <= b : a < b) ? CF : 0;
}

export function getZF(st: Int32Array): number {
  if ((st[S.LF_MASK] & ZF) === 0) return st[S.EFLAGS] & ZF;
  return (st[S.LF_RES] & sizeMask(st[S.LF_SIZE])) === 0 ? ZF : 0;
}

export function getSF(st: Int32Array): number {
  if ((st[S.LF_MASK] & SF) === 0) return st[S.EFLAGS] & SF;
  return (st[S.LF_RES] >>> (st[S.LF_SIZE] - 1)) & 1 ? SF : 0;
}

export function getPF(st: Int32Array): number {
  if ((st[S.LF_MASK] & PF) === 0) return st[S.EFLAGS] & PF;
  return PARITY[st[S.LF_RES] & 0xff];
}

export function getAF(st: Int32Array): number {
  if ((st[S.LF_MASK] & AF) === 0) return st[S.EFLAGS] & AF;
  return (st[S.LF_A] ^ st[S.LF_B] ^ st[S.LF_RES]) & AF;
}

export function getOF(st: Int32Array): number {
  if ((st[S.LF_MASK] & OF) === 0) return st[S.EFLAGS] & OF;
  const a = st[S.LF_A], b = st[S.LF_B], r = st[S.LF_RES];
  const x = st[S.LF_OP] === LazyOp.ADD ? (a ^ r) & (b ^ r) : (a ^ b) & (a ^ r);
  return (x >>> (st[S.LF_SIZE] - 1)) & 1 ? OF : 0;
}

/** The whole EFLAGS value, lazy flags resolved. */
export function getEflags(st: Int32Array): number {
  materialize(st, ARITH_FLAGS);
  return st[S.EFLAGS] | EFLAGS_FIXED;
}

/** Replaces the EFLAGS bits in `mask` (the caller decides which bits the instruction may change). */
export function setEflags(st: Int32Array, value: number, mask: number): void {
  st[S.LF_MASK] &= ~mask;
  st[S.EFLAGS] = (st[S.EFLAGS] & ~mask) | (value & mask) | EFLAGS_FIXED;
}

/** Evaluates condition code 0..15 (the low nibble of Jcc/SETcc/CMOVcc). */
export function condition(st: Int32Array, cc: number): boolean {
  let r: boolean;
  switch (cc >> 1) {
    case 0: r = getOF(st) !== 0; break;
    case 1: r = getCF(st) !== 0; break;
    case 2: r = getZF(st) !== 0; break;
    case 3: r = (getCF(st) | getZF(st)) !== 0; break;
    case 4: r = getSF(st) !== 0; break;
    case 5: r = getPF(st) !== 0; break;
    case 6: r = (getSF(st) !== 0) !== (getOF(st) !== 0); break;
    default: r = getZF(st) !== 0 || (getSF(st) !== 0) !== (getOF(st) !== 0); break;
  }
  return (cc & 1) === 0 ? r : !r;
}
