/**
 * The x87 state images in memory: the FSTENV/FLDENV environment and FSAVE/FRSTOR state
 * (16- and 32-bit operand size, protected- and real-mode layouts; SDM Vol. 1 8.1.10 and figures
 * 8-9 to 8-12) and the 512-byte FXSAVE/FXRSTOR area (Vol. 2A, FXSAVE table 3-53).
 */
import type { Cpu } from '../cpu.js';
import { fault, Vec } from '../faults.js';
import { VM } from '../flags.js';
import { S } from '../state-layout.js';
import type { F80 } from './float80.js';
import { fullTagWord, loadTagWord, readSt, updateSummary, writeSt } from './fpu-state.js';

/** Reads `bytes` bytes at a linear address. */
export function readBytes(cpu: Cpu, lin: number, bytes: number): number[] {
  const out: number[] = [];
  for (let k = 0; k < bytes; k++) out.push(cpu.readLin8(lin + k));
  return out;
}

/** Writes bytes at a linear address, every page checked first so a fault leaves memory unchanged. */
export function writeBytes(cpu: Cpu, lin: number, bytes: readonly number[]): void {
  if (cpu.pagingOn) cpu.probeWrite(lin, bytes.length);
  for (let k = 0; k < bytes.length; k++) cpu.writeLin8(lin + k, bytes[k]);
}

const le = (v: number, n: number): number[] => Array.from({ length: n }, (_, k) => (v >>> (8 * k)) & 0xff);
const word = (b: readonly number[], at: number): number => b[at] | (b[at + 1] << 8);
const dword = (b: readonly number[], at: number): number => (word(b, at) | (word(b, at + 2) << 16)) >>> 0;

export const f80Bytes = (v: F80): number[] => [...le(v.lo, 4), ...le(v.hi, 4), ...le(v.se, 2)];
export const f80From = (b: readonly number[], at: number): F80 =>
  ({ lo: dword(b, at) | 0, hi: dword(b, at + 4) | 0, se: word(b, at + 8) });

const realLayout = (cpu: Cpu): boolean => !cpu.protectedMode || (cpu.st[S.EFLAGS] & VM) !== 0;
export const envBytes = (o32: boolean): number => (o32 ? 28 : 14);

/** The environment image (14 or 28 bytes). Reserved halves of the 32-bit form read as FFFFh, as on P6. */
export function envImage(cpu: Cpu, o32: boolean): number[] {
  const st = cpu.st;
  const cw = st[S.FPU_CW], sw = st[S.FPU_SW], tw = fullTagWord(st), fop = st[S.FPU_FOP] & 0x7ff;
  if (realLayout(cpu)) {
    // Real-mode images hold linear pointers: selector * 16 + offset.
    const ip = ((st[S.FPU_FCS] << 4) + st[S.FPU_FIP]) >>> 0, dp = ((st[S.FPU_FDS] << 4) + st[S.FPU_FDP]) >>> 0;
    if (!o32) return [cw, sw, tw, ip, ((ip >>> 4) & 0xf000) | fop, dp, (dp >>> 4) & 0xf000].flatMap((v) => le(v, 2));
    return [0xffff0000 | cw, 0xffff0000 | sw, 0xffff0000 | tw, 0xffff0000 | (ip & 0xffff),
      ((ip >>> 4) & 0x0ffff000) | fop, 0xffff0000 | (dp & 0xffff), (dp >>> 4) & 0x0ffff000].flatMap((v) => le(v, 4));
  }
  if (!o32) return [cw, sw, tw, st[S.FPU_FIP], st[S.FPU_FCS], st[S.FPU_FDP], st[S.FPU_FDS]].flatMap((v) => le(v, 2));
  return [0xffff0000 | cw, 0xffff0000 | sw, 0xffff0000 | tw, st[S.FPU_FIP], (st[S.FPU_FCS] & 0xffff) | (fop << 16),
    st[S.FPU_FDP], 0xffff0000 | st[S.FPU_FDS]].flatMap((v) => le(v, 4));
}

/** Loads an environment image; the tags other than empty are recomputed from the registers. */
export function loadEnv(cpu: Cpu, b: readonly number[], o32: boolean): void {
  const st = cpu.st;
  const at = (k: number): number => (o32 ? dword(b, k * 4) : word(b, k * 2));
  st[S.FPU_CW] = at(0) & 0x1f7f;
  st[S.FPU_SW] = at(1) & 0xffff;
  loadTagWord(st, at(2) & 0xffff);
  if (realLayout(cpu)) {
    // The high pointer bits sit at bits 12 and up of the next field.
    st[S.FPU_FIP] = (at(3) & 0xffff) | ((at(4) & (o32 ? 0x0ffff000 : 0xf000)) << 4);
    st[S.FPU_FOP] = at(4) & 0x7ff;
    st[S.FPU_FCS] = 0;
    st[S.FPU_FDP] = (at(5) & 0xffff) | ((at(6) & (o32 ? 0x0ffff000 : 0xf000)) << 4);
    st[S.FPU_FDS] = 0;
  } else {
    st[S.FPU_FIP] = at(3);
    st[S.FPU_FCS] = at(4) & 0xffff;
    st[S.FPU_FOP] = o32 ? (at(4) >>> 16) & 0x7ff : st[S.FPU_FOP];
    st[S.FPU_FDP] = at(5);
    st[S.FPU_FDS] = at(6) & 0xffff;
  }
  updateSummary(st);
}

/** FSAVE image: the environment, then ST(0)..ST(7), ten bytes each. */
export function saveImage(cpu: Cpu, o32: boolean): number[] {
  const out = envImage(cpu, o32);
  for (let i = 0; i < 8; i++) out.push(...f80Bytes(readSt(cpu.st, i)));
  return out;
}

export function loadSaveImage(cpu: Cpu, b: readonly number[], o32: boolean): void {
  const base = envBytes(o32);
  loadEnv(cpu, b, o32);
  // Register contents load regardless of their tags; writeSt marks registers used, so restore the tags after.
  const tags = cpu.st[S.FPU_TAGS];
  for (let i = 0; i < 8; i++) writeSt(cpu.st, i, f80From(b, base + 10 * i));
  cpu.st[S.FPU_TAGS] = tags;
}

export const FXSAVE_BYTES = 512;
/**
 * The x87 part of the FXSAVE image (bytes 0-159); without SSE the XMM area and the rest stay
 * untouched. MXCSR and MXCSR_MASK are 0: there is no SSE.
 */
export function fxsaveImage(cpu: Cpu): number[] {
  const st = cpu.st;
  const out = [...le(st[S.FPU_CW], 2), ...le(st[S.FPU_SW], 2), st[S.FPU_TAGS] & 0xff, 0, ...le(st[S.FPU_FOP] & 0x7ff, 2),
    ...le(st[S.FPU_FIP], 4), ...le(st[S.FPU_FCS], 2), 0, 0, ...le(st[S.FPU_FDP], 4), ...le(st[S.FPU_FDS], 2), 0, 0,
    ...le(0, 4), ...le(0, 4)];
  for (let i = 0; i < 8; i++) out.push(...f80Bytes(readSt(st, i)), 0, 0, 0, 0, 0, 0);
  return out;
}

export function loadFxsaveImage(cpu: Cpu, b: readonly number[]): void {
  const st = cpu.st;
  st[S.FPU_CW] = word(b, 0) & 0x1f7f;
  st[S.FPU_SW] = word(b, 2);
  st[S.FPU_FOP] = word(b, 6) & 0x7ff;
  st[S.FPU_FIP] = dword(b, 8) | 0;
  st[S.FPU_FCS] = word(b, 12);
  st[S.FPU_FDP] = dword(b, 16) | 0;
  st[S.FPU_FDS] = word(b, 20);
  for (let i = 0; i < 8; i++) writeSt(st, i, f80From(b, 32 + 16 * i));
  // The abridged tag byte is indexed by physical register, like FPU_TAGS.
  st[S.FPU_TAGS] = b[4];
  updateSummary(st);
}

/** Linear address of a 512-byte FXSAVE area: 16-byte aligned or #GP(0). */
export function fxsaveArea(cpu: Cpu, offset: number, seg: number): number {
  const lin = cpu.linear(seg, offset, FXSAVE_BYTES);
  if ((lin & 15) !== 0) fault(Vec.GP, 0);
  return lin;
}
