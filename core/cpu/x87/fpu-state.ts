/**
 * x87 register state in the CPU state block (state-layout.ts, words FPU_*): the eight 80-bit
 * physical registers R0-R7 stored bit-exactly (no double shadow), the control and status
 * words, an in-use bit per register, and the last instruction/data pointers and opcode.
 *
 * Only "empty or not" is stored per register; the two-bit tags of FSTENV/FSAVE (valid, zero,
 * special, empty) are computed from the register contents, as P6 processors do when they
 * store and reload the tag word.
 */
import { S } from '../state-layout.js';
import { F80, INDEFINITE, isDenormal80, isUnsupported80, isZero80, EXP_MAX } from './float80.js';

export const IE = 0x1, DE = 0x2, ZE = 0x4, OE = 0x8, UE = 0x10, PE = 0x20, SF = 0x40, ES = 0x80;
export const C0 = 0x100, C1 = 0x200, C2 = 0x400, C3 = 0x4000, BUSY = 0x8000;
export const CONDITION = C0 | C1 | C2 | C3;
/** The exception flags (and their masks in the control word). */
export const EXCEPTIONS = 0x3f;
const TOP_SHIFT = 11, TOP_MASK = 7 << TOP_SHIFT;

/** Control word after FNINIT: all exceptions masked, 64-bit precision, round to nearest. */
export const CW_INIT = 0x037f;
/** Control word after RESET (SDM Vol. 3A table 9-1). */
const CW_RESET = 0x0040;

export const enum Tag { VALID = 0, ZERO = 1, SPECIAL = 2, EMPTY = 3 }

export const top = (st: Int32Array): number => (st[S.FPU_SW] >> TOP_SHIFT) & 7;
export function setTop(st: Int32Array, t: number): void {
  st[S.FPU_SW] = (st[S.FPU_SW] & ~TOP_MASK) | ((t & 7) << TOP_SHIFT);
}
/** Physical register number of ST(i). */
export const physical = (st: Int32Array, i: number): number => (top(st) + i) & 7;

export function readPhysical(st: Int32Array, p: number): F80 {
  const w = S.FPU_REGS + p * 3;
  return { lo: st[w], hi: st[w + 1], se: st[w + 2] & 0xffff };
}
export function writePhysical(st: Int32Array, p: number, v: Readonly<F80>): void {
  const w = S.FPU_REGS + p * 3;
  st[w] = v.lo;
  st[w + 1] = v.hi;
  st[w + 2] = v.se & 0xffff;
  st[S.FPU_TAGS] |= 1 << p;
}

export const isEmpty = (st: Int32Array, i: number): boolean => (st[S.FPU_TAGS] & (1 << physical(st, i))) === 0;
export const readSt = (st: Int32Array, i: number): F80 => readPhysical(st, physical(st, i));
export const writeSt = (st: Int32Array, i: number, v: Readonly<F80>): void => writePhysical(st, physical(st, i), v);
export function freeSt(st: Int32Array, i: number): void { st[S.FPU_TAGS] &= ~(1 << physical(st, i)); }

/** Pushes a value; the caller has checked for stack overflow (see pushChecked). */
export function push(st: Int32Array, v: Readonly<F80>): void {
  setTop(st, top(st) - 1);
  writeSt(st, 0, v);
}
export function pop(st: Int32Array): void {
  freeSt(st, 0);
  setTop(st, top(st) + 1);
}

/** The two-bit tag of physical register p from its contents. */
export function tagOf(st: Int32Array, p: number): Tag {
  if ((st[S.FPU_TAGS] & (1 << p)) === 0) return Tag.EMPTY;
  const v = readPhysical(st, p);
  if (isZero80(v)) return Tag.ZERO;
  if ((v.se & EXP_MAX) === EXP_MAX || isDenormal80(v) || isUnsupported80(v)) return Tag.SPECIAL;
  return Tag.VALID;
}
export function fullTagWord(st: Int32Array): number {
  let tw = 0;
  for (let p = 0; p < 8; p++) tw |= tagOf(st, p) << (2 * p);
  return tw;
}
/** Loads a full tag word: only "empty" (11b) is kept, the other tags follow the contents. */
export function loadTagWord(st: Int32Array, tw: number): void {
  let used = 0;
  for (let p = 0; p < 8; p++) if (((tw >> (2 * p)) & 3) !== Tag.EMPTY) used |= 1 << p;
  st[S.FPU_TAGS] = used;
}

/** ES (and B, which mirrors it since the 387) follow the unmasked exception flags. */
export function updateSummary(st: Int32Array): void {
  const pending = (st[S.FPU_SW] & ~st[S.FPU_CW] & EXCEPTIONS) !== 0;
  st[S.FPU_SW] = pending ? st[S.FPU_SW] | ES | BUSY : st[S.FPU_SW] & ~(ES | BUSY);
}

/**
 * Records exception flags. Returns true when one of them is unmasked: the instruction must then
 * leave its destination unchanged (invalid, zero-divide and denormal are pre-computation
 * exceptions), and #MF follows at the next waiting instruction.
 */
export function raise(st: Int32Array, flags: number): boolean {
  if (flags === 0) return false;
  st[S.FPU_SW] |= flags;
  updateSummary(st);
  return (flags & ~st[S.FPU_CW] & EXCEPTIONS) !== 0;
}

/** Stack underflow (reading an empty register): IE and SF with C1 = 0. True when IE is unmasked. */
export function underflow(st: Int32Array): boolean {
  st[S.FPU_SW] &= ~C1;
  return raise(st, IE | SF);
}
/** Stack overflow (pushing onto a full register): IE and SF with C1 = 1. True when IE is unmasked. */
export function overflow(st: Int32Array): boolean {
  st[S.FPU_SW] |= C1;
  return raise(st, IE | SF);
}

/** Pushes v, or on overflow the indefinite (masked) or nothing (unmasked). */
export function pushChecked(st: Int32Array, v: Readonly<F80>): void {
  if ((st[S.FPU_TAGS] & (1 << ((top(st) - 1) & 7))) !== 0) {
    if (overflow(st)) return;
    v = INDEFINITE;
  }
  push(st, v);
}

/** FNINIT: default control word, empty stack, cleared status and pointers. */
export function initFpu(st: Int32Array): void {
  st[S.FPU_CW] = CW_INIT;
  st[S.FPU_SW] = 0;
  st[S.FPU_TAGS] = 0;
  st[S.FPU_FIP] = 0;
  st[S.FPU_FCS] = 0;
  st[S.FPU_FDP] = 0;
  st[S.FPU_FDS] = 0;
  st[S.FPU_FOP] = 0;
  st[S.FPU_FERR] = 0;
}

/** RESET: control word 0040h, tag word 5555h (every register holds +0, tagged zero). */
export function resetFpu(st: Int32Array): void {
  initFpu(st);
  st[S.FPU_CW] = CW_RESET;
  for (let p = 0; p < 8; p++) writePhysical(st, p, { lo: 0, hi: 0, se: 0 });
}
