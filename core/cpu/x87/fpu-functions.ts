/**
 * The register-only x87 functions of D9 E0..FF: sign operations, FTST/FXAM, the constants,
 * the transcendentals, FPREM/FPREM1, FXTRACT, FSCALE, FRNDINT, FSQRT and the stack pointer
 * moves. Each takes the state words and works on ST(0)/ST(1). Precision notes: fpu-arith.ts.
 */
import { S } from '../state-layout.js';
import { compare, operandFlags, propagateNaN, settle } from './fpu-arith.js';
import {
  EXP_BIAS, EXP_MAX, F80, fromBigInt, fromDouble, INDEFINITE, isDenormal80, isInf80, isNaN80, isUnsupported80,
  isZero80, negative80, Round, toBigInt, toDouble,
} from './float80.js';
import {
  C0, C1, C2, C3, CONDITION, DE, IE, isEmpty, overflow, PE, pop, push, pushChecked, raise, readSt, setTop, top,
  underflow, writeSt, ZE,
} from './fpu-state.js';

type Fn = (st: Int32Array) => void;

/** ST(i), or after a stack underflow the indefinite (masked) or undefined (unmasked: stop). */
export function source(st: Int32Array, i: number): F80 | undefined {
  if (!isEmpty(st, i)) return readSt(st, i);
  return underflow(st) ? undefined : INDEFINITE;
}

export function setCondition(st: Int32Array, bits: number): void {
  st[S.FPU_SW] = (st[S.FPU_SW] & ~CONDITION) | bits;
}

/** C3, C2, C0 of a comparison (FCOM, FTST, FICOM): greater 000, less 001, equal 100, unordered 111. */
export const COMPARE_CODES = [C0, C3, 0, C3 | C2 | C0];

/** f(ST(0)) with NaN propagation and the invalid/denormal checks; undefined when an unmasked exception stops it. */
function compute1(st: Int32Array, a: F80, f: (x: number) => number, extraFlags = 0): F80 | undefined {
  const flags = operandFlags(a) | extraFlags;
  if (isNaN80(a) || (flags & IE) !== 0) {
    return raise(st, flags & IE) ? undefined : isUnsupported80(a) ? INDEFINITE : propagateNaN(a, undefined);
  }
  const x = toDouble(a);
  return settle(st, flags, f(x), Number.isFinite(x));
}

/** f(ST(0), ST(1)), same rules; `zeroDivide` says when the operation is a division by zero (ZE). */
function compute2(st: Int32Array, a: F80, b: F80, f: (x: number, y: number) => number,
  zeroDivide: (x: number, y: number) => boolean = () => false): F80 | undefined {
  const flags = operandFlags(a) | operandFlags(b);
  if (isNaN80(a) || isNaN80(b) || (flags & IE) !== 0) {
    const r = isUnsupported80(a) || isUnsupported80(b) ? INDEFINITE : propagateNaN(isNaN80(a) ? a : b, isNaN80(a) ? b : a);
    return raise(st, flags & IE) ? undefined : r;
  }
  const x = toDouble(a), y = toDouble(b);
  return settle(st, flags | (zeroDivide(x, y) ? ZE : 0), f(x, y), Number.isFinite(x) && Number.isFinite(y));
}

const unary = (f: (x: number) => number): Fn => (st) => {
  const a = source(st, 0);
  const r = a && compute1(st, a, f);
  if (r) writeSt(st, 0, r);
};

/** ST(1) = f(ST(0), ST(1)), then pop (FYL2X, FYL2XP1, FPATAN). */
const intoSt1AndPop = (f: (x: number, y: number) => number, zeroDivide?: (x: number, y: number) => boolean): Fn => (st) => {
  const a = source(st, 0), b = a && source(st, 1);
  const r = b && compute2(st, a!, b, f, zeroDivide);
  if (!r) return;
  writeSt(st, 1, r);
  pop(st);
};

/** Arguments beyond +-2^63 are out of range for FSIN/FCOS/FPTAN/FSINCOS: C2 = 1 and nothing changes. */
function outOfRange(st: Int32Array, a: F80): boolean {
  const big = !isNaN80(a) && !isInf80(a) && (a.se & EXP_MAX) >= EXP_BIAS + 63;
  setCondition(st, (st[S.FPU_SW] & (C0 | C3 | C1)) | (big ? C2 : 0));
  return big;
}

const trig = (f: (x: number) => number): Fn => (st) => {
  const a = source(st, 0);
  if (!a || outOfRange(st, a)) return;
  const r = compute1(st, a, f);
  if (r) writeSt(st, 0, r);
};

/** ST(0) = f(ST(0)), then push g(old ST(0)) (FPTAN pushes 1.0, FSINCOS the cosine). */
const trigPush = (f: (x: number) => number, g: (x: number) => number): Fn => (st) => {
  const a = source(st, 0);
  if (!a || outOfRange(st, a)) return;
  if (!isEmpty(st, 7)) { if (!overflow(st)) { writeSt(st, 0, INDEFINITE); push(st, INDEFINITE); } return; }
  const r = compute1(st, a, f), s = compute1(st, a, g);
  if (!r || !s) return;
  writeSt(st, 0, r);
  push(st, s);
};

/** Constants as their nearest 64-bit significand, and whether that rounded up (RC down/toward zero then takes one less). */
const constant = (hi: number, lo: number, se: number, roundedUp: boolean): Fn => (st) => {
  const rc = (st[S.FPU_CW] >> 10) & 3;
  const adjust = roundedUp && (rc === Round.DOWN || rc === Round.ZERO) ? -1 : !roundedUp && rc === Round.UP ? 1 : 0;
  pushChecked(st, { hi: hi | 0, lo: (lo + adjust) | 0, se });
};

/** FXAM classes in C3, C2, C0: unsupported, NaN, normal, infinity, zero, empty, denormal. */
function fxam(st: Int32Array): void {
  const v = readSt(st, 0);
  const sign = negative80(v) ? C1 : 0;
  if (isEmpty(st, 0)) { setCondition(st, sign | C3 | C0); return; }
  const cls = isUnsupported80(v) ? 0 : isNaN80(v) ? C0 : isInf80(v) ? C2 | C0 : isZero80(v) ? C3
    : isDenormal80(v) ? C3 | C2 : C2;
  setCondition(st, sign | cls);
}

function ftst(st: Int32Array): void {
  const a = source(st, 0);
  const order = a && compare(st, a, { lo: 0, hi: 0, se: 0 }, false);
  if (order !== undefined) setCondition(st, COMPARE_CODES[order]);
}

/** The value with the sign word changed; no exceptions (FCHS, FABS). */
const sign = (change: (se: number) => number): Fn => (st) => {
  const a = source(st, 0);
  if (a) writeSt(st, 0, { lo: a.lo, hi: a.hi, se: change(a.se) });
};

/**
 * FPREM (truncating) and FPREM1 (IEEE, to nearest): the whole reduction in one step (C2 = 0;
 * hardware reduces by at most 2^63 per step and sets C2), quotient bits Q2, Q1, Q0 in C0, C3, C1
 * (exact while the quotient is below 2^53).
 */
const remainder = (ieee: boolean): Fn => (st) => {
  const a = source(st, 0), b = a && source(st, 1);
  if (!b) return;
  let q = 0;
  const r = compute2(st, a!, b, (x, y) => {
    let rem = x % y;
    q = Math.abs(Math.round((x - rem) / y));
    const half = Math.abs(y) / 2;
    if (ieee && (Math.abs(rem) > half || (Math.abs(rem) === half && q % 2 === 1))) {
      rem -= Math.sign(rem) * Math.abs(y);
      q += 1;
    }
    return rem;
  });
  if (!r) return;
  writeSt(st, 0, r);
  setCondition(st, (q & 4 ? C0 : 0) | (q & 2 ? C3 : 0) | (q & 1 ? C1 : 0));
};

/** FRNDINT, exactly on the 80-bit value under the rounding control. */
function frndint(st: Int32Array): void {
  const a = source(st, 0);
  if (!a) return;
  if (isNaN80(a) || isUnsupported80(a)) {
    const r = compute1(st, a, (x) => x);
    if (r) writeSt(st, 0, r);
    return;
  }
  // Infinities and values from 2^63 up are integers already.
  if (isInf80(a) || (a.se & EXP_MAX) >= EXP_BIAS + 63) return;
  const rounded = toBigInt(a, (st[S.FPU_CW] >> 10) & 3)!;
  const denormal = isDenormal80(a) ? DE : 0;
  if (raise(st, denormal | (rounded.inexact ? PE : 0)) && (denormal & ~st[S.FPU_CW]) !== 0) return;
  writeSt(st, 0, rounded.n === 0n ? { lo: 0, hi: 0, se: a.se & 0x8000 } : fromBigInt(rounded.n));
}

/** FSCALE: ST(0) * 2^trunc(ST(1)), exact on the exponent while the result stays a normal number. */
function fscale(st: Int32Array): void {
  const a = source(st, 0), b = a && source(st, 1);
  if (!b) return;
  const n = Math.trunc(toDouble(b));
  const exp = (a!.se & EXP_MAX) + n;
  const normal = (a!.se & EXP_MAX) !== 0 && (a!.se & EXP_MAX) !== EXP_MAX && (a!.hi & 0x80000000) !== 0;
  if (normal && !isNaN80(b) && Number.isFinite(n) && exp > 0 && exp < EXP_MAX) {
    writeSt(st, 0, { lo: a!.lo, hi: a!.hi, se: (a!.se & 0x8000) | exp });
    return;
  }
  const r = compute2(st, a!, b, (x, y) => x * 2 ** Math.trunc(y));
  if (r) writeSt(st, 0, r);
}

/** FXTRACT: ST(0) becomes its unbiased exponent, and its significand (exponent 0) is pushed. */
function fxtract(st: Int32Array): void {
  const a = source(st, 0);
  if (!a) return;
  if (!isEmpty(st, 7)) { if (!overflow(st)) { writeSt(st, 0, INDEFINITE); push(st, INDEFINITE); } return; }
  if (isZero80(a)) {
    if (raise(st, ZE)) return;
    writeSt(st, 0, fromDouble(-Infinity));
    push(st, a);
    return;
  }
  if (isNaN80(a) || isUnsupported80(a)) {
    const r = compute1(st, a, (x) => x);
    if (r) { writeSt(st, 0, r); push(st, r); }
    return;
  }
  if (isInf80(a)) { writeSt(st, 0, fromDouble(Infinity)); push(st, a); return; }
  if (isDenormal80(a) && raise(st, DE)) return;
  let { hi, lo } = a, exp = a.se & EXP_MAX || 1;
  while ((hi & 0x80000000) === 0) { hi = (hi << 1) | (lo >>> 31); lo <<= 1; exp--; }
  writeSt(st, 0, fromDouble(exp - EXP_BIAS));
  push(st, { lo, hi, se: (a.se & 0x8000) | EXP_BIAS });
}

const moveTop = (delta: number): Fn => (st) => {
  setTop(st, top(st) + delta);
  st[S.FPU_SW] &= ~C1;
};

const log2 = Math.log2, LN2 = Math.LN2;

/** D9 E0..FF by (modrm - E0); undefined entries are #UD. */
export const D9_FUNCTIONS: (Fn | undefined)[] = [
  sign((se) => se ^ 0x8000), sign((se) => se & 0x7fff), undefined, undefined, ftst, fxam, undefined, undefined,
  constant(0x80000000, 0, EXP_BIAS, false),
  constant(0xd49a784b, 0xcd1b8afe, EXP_BIAS + 1, false),
  constant(0xb8aa3b29, 0x5c17f0bc, EXP_BIAS, true),
  constant(0xc90fdaa2, 0x2168c235, EXP_BIAS + 1, true),
  constant(0x9a209a84, 0xfbcff799, EXP_BIAS - 2, true),
  constant(0xb17217f7, 0xd1cf79ac, EXP_BIAS - 1, true),
  (st) => pushChecked(st, { lo: 0, hi: 0, se: 0 }),
  undefined,
  unary((x) => Math.expm1(x * LN2)),
  intoSt1AndPop((x, y) => y * log2(x), (x, y) => x === 0 && y !== 0 && Number.isFinite(y)),
  trigPush(Math.tan, () => 1),
  intoSt1AndPop((x, y) => Math.atan2(y, x)),
  fxtract,
  remainder(true),
  moveTop(-1),
  moveTop(1),
  remainder(false),
  intoSt1AndPop((x, y) => (y * Math.log1p(x)) / LN2),
  unary(Math.sqrt),
  trigPush(Math.sin, Math.cos),
  frndint,
  fscale,
  trig(Math.sin),
  trig(Math.cos),
];
