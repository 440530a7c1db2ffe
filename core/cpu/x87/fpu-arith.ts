/**
 * x87 arithmetic on 80-bit operands, computed in double precision.
 *
 * Where results can differ from hardware: significands are rounded to 53 bits (precision
 * control "extended" behaves as "double"; "single" rounds the double result again with
 * Math.fround), always to nearest (RC affects FRNDINT, integer/BCD stores and the constants
 * only), and the exponent range is the double's, so values beyond about 1.8e308 become
 * infinities and below 4.9e-324 zeros (OE is raised for an infinite result from finite
 * operands; UE and PE are not detected for arithmetic). Unmasked OE/UE deliver the unbiased
 * result. Transcendentals use Math.* (not Intel's 66-bit pi reduction).
 */
import { S } from '../state-layout.js';
import {
  F80, fromDouble, INDEFINITE, isDenormal80, isNaN80, isSNaN80, isUnsupported80, isZero80, quiet80, toDouble,
} from './float80.js';
import { DE, IE, OE, PE, raise, ZE } from './fpu-state.js';

/** Precision control "single" (00b) in bits 8-9 of the control word. */
const PC_SINGLE = 0;

/** The NaN a NaN operand produces: the quiet one of a QNaN/SNaN pair, else the larger significand, quieted. */
export function propagateNaN(a: F80, b: F80 | undefined): F80 {
  if (b === undefined || !isNaN80(b)) return quiet80(a);
  if (!isNaN80(a)) return quiet80(b);
  if (isSNaN80(a) !== isSNaN80(b)) return isSNaN80(a) ? b : a;
  const aBig = (a.hi >>> 0) > (b.hi >>> 0) || ((a.hi >>> 0) === (b.hi >>> 0) && (a.lo >>> 0) >= (b.lo >>> 0));
  return quiet80(aBig ? a : b);
}

/** Invalid (SNaN or unsupported encoding) and denormal flags of an operand. */
export function operandFlags(v: F80): number {
  if (isSNaN80(v) || isUnsupported80(v)) return IE;
  return isDenormal80(v) ? DE : 0;
}

/**
 * Settles a computed double: invalid results become the indefinite, precision control
 * applies, the flags are raised. Returns undefined when an unmasked exception forbids the write.
 */
export function settle(st: Int32Array, flags: number, r: number, finiteInputs: boolean): F80 | undefined {
  let result: F80;
  if (Number.isNaN(r)) { flags |= IE; result = INDEFINITE; }
  else {
    if (!Number.isFinite(r) && finiteInputs && (flags & ZE) === 0) flags |= OE | PE;
    if (((st[S.FPU_CW] >> 8) & 3) === PC_SINGLE) r = Math.fround(r);
    result = fromDouble(r);
  }
  if (raise(st, flags) && (flags & ~st[S.FPU_CW] & (IE | ZE | DE)) !== 0) return undefined;
  return result;
}

/** The arithmetic of the D8-DE /0../7 forms: a is ST(0), b the other operand (/2 and /3 compare instead). */
const BINARY: ReadonlyArray<(a: number, b: number) => number> = [
  (a, b) => a + b, (a, b) => a * b, () => NaN, () => NaN,
  (a, b) => a - b, (a, b) => b - a, (a, b) => a / b, (a, b) => b / a,
];

/** ST(0) op other for the arithmetic group member `op`; undefined when an unmasked exception stops it. */
export function binary(st: Int32Array, op: number, a: F80, b: F80): F80 | undefined {
  let flags = operandFlags(a) | operandFlags(b);
  if ((flags & IE) !== 0 || isNaN80(a) || isNaN80(b)) {
    const r = isUnsupported80(a) || isUnsupported80(b) ? INDEFINITE : propagateNaN(isNaN80(a) ? a : b, isNaN80(a) ? b : a);
    return raise(st, flags & IE) ? undefined : r;
  }
  const x = toDouble(a), y = toDouble(b);
  const divisor = op === 6 ? y : op === 7 ? x : 1;
  const dividend = op === 6 ? x : op === 7 ? y : 1;
  if (divisor === 0 && dividend !== 0 && Number.isFinite(dividend)) flags |= ZE;
  return settle(st, flags, BINARY[op](x, y), Number.isFinite(x) && Number.isFinite(y));
}

/** Comparison outcome: less, equal, greater or unordered. */
export const enum Order { LESS, EQUAL, GREATER, UNORDERED }

/**
 * Compares a with b, raising IE for any NaN (ordered compares) or only for SNaNs (FUCOM*, and
 * FUCOMI*), and DE for denormals. Returns undefined when an unmasked exception stops the compare.
 */
export function compare(st: Int32Array, a: F80, b: F80, unordered: boolean): Order | undefined {
  let flags = operandFlags(a) | operandFlags(b);
  const nan = isNaN80(a) || isNaN80(b);
  if (nan && !unordered) flags |= IE;
  if (raise(st, flags) && (flags & ~st[S.FPU_CW] & (IE | DE)) !== 0) return undefined;
  if (nan || isUnsupported80(a) || isUnsupported80(b)) return Order.UNORDERED;
  return exactOrder(a, b);
}

/** Orders two non-NaN values exactly, on their 80-bit images. */
function exactOrder(a: F80, b: F80): Order {
  if (isZero80(a) && isZero80(b)) return Order.EQUAL;
  const signA = (a.se & 0x8000) !== 0, signB = (b.se & 0x8000) !== 0;
  if (signA !== signB) return signA ? Order.LESS : Order.GREATER;
  const magnitude = (a.se & 0x7fff) - (b.se & 0x7fff) || (a.hi >>> 0) - (b.hi >>> 0) || (a.lo >>> 0) - (b.lo >>> 0);
  if (magnitude === 0) return Order.EQUAL;
  return (magnitude > 0) !== signA ? Order.GREATER : Order.LESS;
}
