/**
 * The 80-bit extended format (sign, 15-bit exponent, 64-bit significand with an explicit
 * integer bit) and its conversions to and from JS doubles, integers and packed BCD.
 *
 * Registers keep the exact 80-bit image (`F80`); arithmetic converts to doubles, so results
 * carry 53 significant bits and the double's exponent range (see fpu-arith.ts). Loads and
 * stores of integers, BCD and 80-bit values are exact.
 */

/** An 80-bit value: significand low and high 32 bits, and the sign/exponent word. */
export interface F80 { lo: number; hi: number; se: number }

export const EXP_BIAS = 16383;
export const EXP_MAX = 0x7fff;

/** The QNaN floating-point indefinite: the default result of a masked invalid operation. */
export const INDEFINITE: Readonly<F80> = { lo: 0, hi: 0xc0000000 | 0, se: 0xffff };

export const isNaN80 = (v: F80): boolean => (v.se & EXP_MAX) === EXP_MAX && ((v.hi & 0x7fffffff) !== 0 || v.lo !== 0);
export const isSNaN80 = (v: F80): boolean => isNaN80(v) && (v.hi & 0x40000000) === 0;
export const isInf80 = (v: F80): boolean => (v.se & EXP_MAX) === EXP_MAX && (v.hi & 0x7fffffff) === 0 && v.lo === 0;
export const isZero80 = (v: F80): boolean => (v.se & EXP_MAX) === 0 && v.hi === 0 && v.lo === 0;
export const isDenormal80 = (v: F80): boolean => (v.se & EXP_MAX) === 0 && (v.hi !== 0 || v.lo !== 0);
/** Unnormals, pseudo-NaNs and pseudo-infinities: a nonzero exponent with the integer bit clear. */
export const isUnsupported80 = (v: F80): boolean => (v.se & EXP_MAX) !== 0 && (v.hi & 0x80000000) === 0;
export const negative80 = (v: F80): boolean => (v.se & 0x8000) !== 0;
/** The same NaN with the quiet bit set. */
export const quiet80 = (v: F80): F80 => ({ lo: v.lo, hi: v.hi | 0x40000000, se: v.se });

const TWO_32 = 0x100000000;
const scratch = new DataView(new ArrayBuffer(8));

/** x * 2^n without overflowing the intermediate power (n may exceed the double's exponent range). */
function scale(x: number, n: number): number {
  while (n > 1000) { x *= 2 ** 1000; n -= 1000; }
  while (n < -1000) { x *= 2 ** -1000; n += 1000; }
  return x * 2 ** n;
}

/** The value as a double, rounded to nearest (NaNs lose their payload, out-of-range values go to 0 or infinity). */
export function toDouble(v: F80): number {
  const exp = v.se & EXP_MAX;
  const sign = (v.se & 0x8000) !== 0 ? -1 : 1;
  if (exp === EXP_MAX) return isNaN80(v) ? NaN : sign * Infinity;
  if (isUnsupported80(v)) return NaN;
  // hi * 2^32 is exact and the addition rounds once, so the significand is correctly rounded.
  const significand = (v.hi >>> 0) * TWO_32 + (v.lo >>> 0);
  return sign * scale(significand, (exp === 0 ? 1 : exp) - EXP_BIAS - 63);
}

/** A nonnegative integer below 2^64 (hi, lo halves), normalised into an 80-bit value with the sign bit. */
function fromSignificand(hi: number, lo: number, exp: number, sign: number): F80 {
  if (hi === 0 && lo === 0) return { lo: 0, hi: 0, se: sign };
  let shift = hi !== 0 ? Math.clz32(hi) : 32 + Math.clz32(lo);
  if (shift >= 32) { hi = lo; lo = 0; shift -= 32; exp -= 32; }
  if (shift > 0) { hi = (hi << shift) | (lo >>> (32 - shift)); lo <<= shift; exp -= shift; }
  return { lo: lo | 0, hi: hi | 0, se: sign | exp };
}

/** The exact 80-bit image of a double. */
export function fromDouble(x: number): F80 {
  scratch.setFloat64(0, x);
  return fromDoubleBits(scratch.getUint32(0), scratch.getUint32(4));
}

/** The exact 80-bit image of a binary64 given as its high and low dwords (NaN payloads kept). */
export function fromDoubleBits(top: number, bottom: number): F80 {
  const sign = top & 0x80000000 ? 0x8000 : 0;
  const exp11 = (top >>> 20) & 0x7ff;
  const fracHi = top & 0xfffff;
  if (exp11 === 0x7ff) {
    if (fracHi === 0 && bottom === 0) return { lo: 0, hi: 0x80000000 | 0, se: sign | EXP_MAX };
    return { lo: bottom << 11, hi: 0x80000000 | (fracHi << 11) | (bottom >>> 21), se: sign | EXP_MAX };
  }
  if (exp11 === 0) return fromSignificand(fracHi, bottom, EXP_BIAS - 1022 + 63 - 52, sign);
  return { lo: bottom << 11, hi: 0x80000000 | (fracHi << 11) | (bottom >>> 21), se: sign | (exp11 - 1023 + EXP_BIAS) };
}

/** The exact 80-bit image of a binary32 (NaN payloads kept). */
export function fromSingleBits(bits: number): F80 {
  const sign = bits & 0x80000000 ? 0x8000 : 0;
  const exp8 = (bits >>> 23) & 0xff, frac = bits & 0x7fffff;
  if (exp8 === 0xff) return { lo: 0, hi: 0x80000000 | (frac << 8), se: sign | EXP_MAX };
  if (exp8 === 0) return fromSignificand(0, frac, EXP_BIAS - 126 + 63 - 23, sign);
  return { lo: 0, hi: 0x80000000 | (frac << 8), se: sign | (exp8 - 127 + EXP_BIAS) };
}

/** The binary64 image (high, low dwords) of a value a double holds exactly, or of a NaN (payload truncated). */
export function toDoubleBits(v: F80): [number, number] {
  if (isNaN80(v)) {
    const sign = v.se & 0x8000 ? 0x80000000 : 0;
    return [(sign | 0x7ff00000 | ((v.hi >>> 11) & 0xfffff)) | 0, (v.hi << 21) | (v.lo >>> 11)];
  }
  scratch.setFloat64(0, toDouble(v));
  return [scratch.getInt32(0), scratch.getInt32(4)];
}

/** The binary32 image of a double (rounded to nearest) or of a NaN (payload truncated). */
export function toSingleBits(v: F80, x: number): number {
  if (isNaN80(v)) return (v.se & 0x8000 ? 0x80000000 : 0) | 0x7f800000 | ((v.hi >>> 8) & 0x7fffff);
  scratch.setFloat32(0, x);
  return scratch.getInt32(0);
}

/** The exact 80-bit image of a signed integer (up to 64 bits). */
export function fromBigInt(n: bigint): F80 {
  const sign = n < 0n ? 0x8000 : 0;
  const m = n < 0n ? -n : n;
  return fromSignificand(Number(m >> 32n) | 0, Number(m & 0xffffffffn) | 0, EXP_BIAS + 63, sign);
}

/** Rounding control values of the control word. */
export const enum Round { NEAREST = 0, DOWN = 1, UP = 2, ZERO = 3 }

/**
 * The value rounded to an integer under the rounding control, exactly, with whether it was
 * inexact; undefined for NaNs, infinities and unsupported encodings.
 */
export function toBigInt(v: F80, rc: number): { n: bigint; inexact: boolean } | undefined {
  const exp = v.se & EXP_MAX;
  if (exp === EXP_MAX || isUnsupported80(v)) return undefined;
  const negative = negative80(v);
  const significand = (BigInt(v.hi >>> 0) << 32n) | BigInt(v.lo >>> 0);
  const shift = (exp === 0 ? 1 : exp) - EXP_BIAS - 63;
  if (shift >= 0) {
    // Keep the magnitude bounded: anything this large overflows every integer format anyway.
    const n = significand << BigInt(Math.min(shift, 80));
    return { n: negative ? -n : n, inexact: false };
  }
  if (shift < -66) return roundTiny(significand !== 0n, negative, rc);
  const s = BigInt(-shift);
  let n = significand >> s;
  const rest = significand - (n << s);
  const half = 1n << (s - 1n);
  if (rest !== 0n) {
    const up = rc === Round.NEAREST ? rest > half || (rest === half && (n & 1n) === 1n)
      : rc === Round.UP ? !negative : rc === Round.DOWN ? negative : false;
    if (up) n += 1n;
  }
  return { n: negative ? -n : n, inexact: rest !== 0n };
}

/** Rounding of a value whose magnitude is far below 1/2. */
function roundTiny(nonzero: boolean, negative: boolean, rc: number): { n: bigint; inexact: boolean } {
  const away = nonzero && (rc === Round.UP ? !negative : rc === Round.DOWN ? negative : false);
  return { n: away ? (negative ? -1n : 1n) : 0n, inexact: nonzero };
}

/** Packed BCD: nine bytes of two digits each (least significant first), then the sign byte. */
export function bcdToBigInt(bytes: readonly number[]): bigint {
  let n = 0n;
  for (let k = 8; k >= 0; k--) n = n * 100n + BigInt((bytes[k] >> 4) * 10 + (bytes[k] & 0xf));
  return (bytes[9] & 0x80) !== 0 ? -n : n;
}

export function bigIntToBcd(n: bigint): number[] {
  const bytes: number[] = [];
  let m = n < 0n ? -n : n;
  for (let k = 0; k < 9; k++) {
    const pair = Number(m % 100n);
    bytes.push(((pair / 10) | 0) << 4 | (pair % 10));
    m /= 100n;
  }
  bytes.push(n < 0n ? 0x80 : 0);
  return bytes;
}
