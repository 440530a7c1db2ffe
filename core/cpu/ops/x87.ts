import type { Insn } from '../../decoder/decoder.js';
import { Cpu, CR0_EM, CR0_MP, CR0_NE, CR0_TS } from '../cpu.js';
import { fault, Vec } from '../faults.js';
import { AF, CF, condition, OF, PF, SF as SIGN_FLAG, setFlagBits, ZF } from '../flags.js';
import { Reg, S, Seg } from '../state-layout.js';
import { guestSelector } from '../monitor-hooks.js';
import { binary, compare } from '../x87/fpu-arith.js';
import {
  bcdToBigInt, bigIntToBcd, F80, fromBigInt, fromDoubleBits, fromSingleBits, INDEFINITE, isDenormal80, isInf80,
  isNaN80, isSNaN80, isUnsupported80, isZero80, negative80, quiet80, toBigInt, toDouble, toDoubleBits, toSingleBits,
} from '../x87/float80.js';
import { COMPARE_CODES, D9_FUNCTIONS, setCondition, source } from '../x87/fpu-functions.js';
import {
  envBytes, envImage, f80Bytes, f80From, fxsaveArea, fxsaveImage, FXSAVE_BYTES, loadEnv, loadFxsaveImage,
  loadSaveImage, readBytes, saveImage, writeBytes,
} from '../x87/fpu-images.js';
import {
  BUSY, C1, DE, ES, EXCEPTIONS, freeSt, IE, initFpu, isEmpty, OE, PE, pop, pushChecked, raise, readSt, SF as STACK_FAULT, UE, underflow,
  updateSummary, writeSt,
} from '../x87/fpu-state.js';
import { Exec, HandlerMap } from './operands.js';

/**
 * The x87 FPU (ESC D8-DF, WAIT, FXSAVE/FXRSTOR). ESC decodes inside the family from the
 * opcode's low three bits and ModRM: memory forms by reg, register forms by the whole byte.
 * State and its layout: x87/fpu-state.ts; where results can differ from hardware: x87/fpu-arith.ts.
 */

type Op = (cpu: Cpu, i: Insn) => void;

/** Control instructions that do not check for a pending exception (FN* forms) and do not record FIP/FOP. */
const NO_WAIT = 1;
/** Control instructions that do check for a pending exception but do not record FIP/FOP. */
const NO_POINTERS = 2;

const memoryOps: (Op | undefined)[] = new Array(64).fill(undefined);
const memoryKinds = new Uint8Array(64);
const registerOps: (Op | undefined)[] = new Array(512).fill(undefined);
const registerKinds = new Uint8Array(512);

/** Registers a memory form: ESC number (0-7 for D8-DF) and ModRM reg. */
function mem(esc: number, reg: number, op: Op, kind = 0): void {
  memoryOps[esc * 8 + reg] = op;
  memoryKinds[esc * 8 + reg] = kind;
}
/** Registers `count` register forms from ModRM byte `first` (C0-FF). */
function regs(esc: number, first: number, count: number, op: Op, kind = 0): void {
  for (let k = 0; k < count; k++) {
    registerOps[esc * 64 + (first & 0x3f) + k] = op;
    registerKinds[esc * 64 + (first & 0x3f) + k] = kind;
  }
}

/**
 * What a waiting x87 instruction does first: a pending unmasked exception raises #MF with
 * CR0.NE set. With NE clear the PC reports it through FERR# (IRQ 13 at the chipset): we assert
 * FPU_FERR for the platform and continue as if IGNNE# were asserted, raising nothing.
 */
function checkPending(cpu: Cpu): void {
  const st = cpu.st;
  if ((st[S.FPU_SW] & ES) === 0) return;
  if ((st[S.CR0] & CR0_NE) !== 0) fault(Vec.MF);
  if (st[S.FPU_FERR] === 0) {
    st[S.FPU_FERR] = 1;
    cpu.onFpuError?.();
  }
}

const escape: Exec = (cpu, i) => {
  const st = cpu.st;
  if ((st[S.CR0] & (CR0_EM | CR0_TS)) !== 0) fault(Vec.NM);
  const esc = i.opcode & 7;
  const index = i.mod === 3 ? esc * 64 + (i.reg << 3) + i.rm : esc * 8 + i.reg;
  const op = i.mod === 3 ? registerOps[index] : memoryOps[index];
  if (op === undefined) fault(Vec.UD);
  const kind = i.mod === 3 ? registerKinds[index] : memoryKinds[index];
  if ((kind & NO_WAIT) === 0) checkPending(cpu);
  if (kind === 0) {
    st[S.FPU_FIP] = i.start;
    st[S.FPU_FCS] = guestSelector(cpu, Seg.CS);
    st[S.FPU_FOP] = (esc << 8) | (i.mod << 6) | (i.reg << 3) | i.rm;
    if (i.mod !== 3) {
      st[S.FPU_FDP] = cpu.ea(i);
      st[S.FPU_FDS] = guestSelector(cpu, i.seg);
    }
    // C1 reports rounding up or stack overflow; we never round up knowingly.
    st[S.FPU_SW] &= ~C1;
  }
  op(cpu, i);
};

// ---- memory operands ----

const readLinear = (cpu: Cpu, i: Insn, bytes: number): number => cpu.linear(i.seg, cpu.ea(i), bytes);
function writeLinear(cpu: Cpu, i: Insn, bytes: number): number {
  const lin = cpu.linear(i.seg, cpu.ea(i), bytes);
  if (cpu.pagingOn) cpu.probeWrite(lin, bytes);
  return lin;
}

/** Loaders of the memory formats, by name. */
const LOAD = {
  m32: (cpu: Cpu, i: Insn): F80 => fromSingleBits(cpu.readLin32(readLinear(cpu, i, 4))),
  m64: (cpu: Cpu, i: Insn): F80 => {
    const lin = readLinear(cpu, i, 8);
    return fromDoubleBits(cpu.readLin32(lin + 4) >>> 0, cpu.readLin32(lin) >>> 0);
  },
  m80: (cpu: Cpu, i: Insn): F80 => f80From(readBytes(cpu, readLinear(cpu, i, 10), 10), 0),
  i16: (cpu: Cpu, i: Insn): F80 => fromBigInt(BigInt((cpu.readLin16(readLinear(cpu, i, 2)) << 16) >> 16)),
  i32: (cpu: Cpu, i: Insn): F80 => fromBigInt(BigInt(cpu.readLin32(readLinear(cpu, i, 4)))),
  i64: (cpu: Cpu, i: Insn): F80 => {
    const lin = readLinear(cpu, i, 8);
    return fromBigInt((BigInt(cpu.readLin32(lin + 4)) << 32n) | BigInt(cpu.readLin32(lin) >>> 0));
  },
};

/** FLD of a binary32/64: SNaNs raise IE and load quieted, denormals raise DE. */
const loadReal = (load: (cpu: Cpu, i: Insn) => F80, single: boolean): Op => (cpu, i) => {
  const v = load(cpu, i);
  const denormal = single ? (v.se & 0x7fff) < 0x3f81 && !isZero80(v) : (v.se & 0x7fff) < 0x3c01 && !isZero80(v);
  const flags = (isSNaN80(v) ? IE : 0) | (denormal ? DE : 0);
  if (raise(cpu.st, flags)) return;
  pushChecked(cpu.st, isSNaN80(v) ? quiet80(v) : v);
};

/**
 * The value rounded to a binary32/64 for a store, with IE (SNaN), DE, OE, UE and PE; undefined
 * when an unmasked exception forbids the store. Rounding is to nearest whatever RC says.
 */
function realBits(st: Int32Array, v: F80, single: boolean): number[] | undefined {
  let flags = isSNaN80(v) || isUnsupported80(v) ? IE : isDenormal80(v) ? DE : 0;
  const value = isUnsupported80(v) ? INDEFINITE : isNaN80(v) ? quiet80(v) : v;
  const x = toDouble(value);
  const r = single ? Math.fround(x) : x;
  if (!isNaN80(value)) {
    if (!Number.isFinite(r) && !isInf80(value)) flags |= OE | PE;
    else if (r === 0 && !isZero80(value)) flags |= UE | PE;
    else if (r !== x || (value.lo & 0x7ff) !== 0) flags |= PE;
  }
  if (raise(st, flags) && (flags & ~st[S.FPU_CW] & (IE | DE | OE | UE)) !== 0) return undefined;
  if (single) return [toSingleBits(value, r)];
  const [hi, lo] = toDoubleBits(value);
  return [lo, hi];
}

const storeReal = (single: boolean, pops: boolean): Op => (cpu, i) => {
  const st = cpu.st;
  const lin = writeLinear(cpu, i, single ? 4 : 8);
  const v = source(st, 0);
  const bits = v && realBits(st, v, single);
  if (!bits) return;
  bits.forEach((d, k) => cpu.writeLin32(lin + 4 * k, d));
  if (pops) pop(st);
};

/** The integer of `bits` bits a store writes, or the integer indefinite (masked IE); undefined when stopped. */
function integerValue(st: Int32Array, v: F80, bits: number): bigint | undefined {
  const r = toBigInt(v, (st[S.FPU_CW] >> 10) & 3);
  const limit = 1n << BigInt(bits - 1);
  if (r === undefined || r.n >= limit || r.n < -limit) return raise(st, IE) ? undefined : -limit;
  const flags = (isDenormal80(v) ? DE : 0) | (r.inexact ? PE : 0);
  if (raise(st, flags) && (flags & ~st[S.FPU_CW] & DE) !== 0) return undefined;
  return r.n;
}

function writeInteger(cpu: Cpu, lin: number, bits: number, n: bigint): void {
  for (let k = 0; k < bits / 8; k++) cpu.writeLin8(lin + k, Number((n >> BigInt(8 * k)) & 0xffn));
}

const storeInteger = (bits: number, pops: boolean): Op => (cpu, i) => {
  const st = cpu.st;
  const lin = writeLinear(cpu, i, bits / 8);
  const v = source(st, 0);
  const n = v && integerValue(st, v, bits);
  if (n === undefined) return;
  writeInteger(cpu, lin, bits, n);
  if (pops) pop(st);
};

const loadExact = (load: (cpu: Cpu, i: Insn) => F80): Op => (cpu, i) => pushChecked(cpu.st, load(cpu, i));

const PACKED_BCD_LIMIT = 10n ** 18n;
/** The packed BCD indefinite: FFFF C000 0000 0000 0000h. */
const BCD_INDEFINITE = [0, 0, 0, 0, 0, 0, 0, 0xc0, 0xff, 0xff];

const fbld: Op = (cpu, i) => {
  const b = readBytes(cpu, readLinear(cpu, i, 10), 10);
  const n = bcdToBigInt(b);
  pushChecked(cpu.st, n === 0n ? { lo: 0, hi: 0, se: b[9] & 0x80 ? 0x8000 : 0 } : fromBigInt(n));
};

const fbstp: Op = (cpu, i) => {
  const st = cpu.st;
  const lin = writeLinear(cpu, i, 10);
  const v = source(st, 0);
  if (!v) return;
  const r = toBigInt(v, (st[S.FPU_CW] >> 10) & 3);
  let bytes: number[];
  if (r === undefined || r.n >= PACKED_BCD_LIMIT || r.n <= -PACKED_BCD_LIMIT) {
    if (raise(st, IE)) return;
    bytes = BCD_INDEFINITE;
  } else {
    const flags = (isDenormal80(v) ? DE : 0) | (r.inexact ? PE : 0);
    if (raise(st, flags) && (flags & ~st[S.FPU_CW] & DE) !== 0) return;
    bytes = bigIntToBcd(r.n);
    if (negative80(v)) bytes[9] = 0x80;
  }
  writeBytes(cpu, lin, bytes);
  pop(st);
};

const fstpM80: Op = (cpu, i) => {
  const lin = writeLinear(cpu, i, 10);
  const v = source(cpu.st, 0);
  if (!v) return;
  writeBytes(cpu, lin, f80Bytes(v));
  pop(cpu.st);
};

// ---- arithmetic and comparisons ----

/** ST(dst) = ST(0) op other (see BINARY in fpu-arith.ts for the operand order), then pop if asked. */
function arithmetic(st: Int32Array, op: number, other: F80 | undefined, dst: number, pops: boolean): void {
  const a = source(st, 0);
  const r = a && other && binary(st, op, a, other);
  if (!r) return;
  writeSt(st, dst, r);
  if (pops) pop(st);
}

function fcom(st: Int32Array, other: F80 | undefined, unordered: boolean, pops: number): void {
  const a = source(st, 0);
  const order = a && other && compare(st, a, other, unordered);
  if (order === undefined) return;
  setCondition(st, COMPARE_CODES[order]);
  for (let k = 0; k < pops; k++) pop(st);
}

/** FCOMI/FUCOMI set ZF, PF and CF like an unsigned compare (unordered: all three) and clear OF, SF, AF. */
const EFLAGS_OF_ORDER = [CF, ZF, 0, ZF | PF | CF];
const fcomi = (unordered: boolean, pops: boolean): Op => (cpu, i) => {
  const st = cpu.st;
  const a = source(st, 0), b = a && source(st, i.rm);
  const order = b && compare(st, a!, b, unordered);
  if (order === undefined) return;
  setFlagBits(st, OF | SIGN_FLAG | ZF | AF | PF | CF, EFLAGS_OF_ORDER[order]);
  if (pops) pop(st);
};

/** The arithmetic group (/0 add, /1 mul, /2 compare, /3 compare and pop, /4-/7 subtract and divide) on a memory operand. */
function memoryGroup(esc: number, load: (cpu: Cpu, i: Insn) => F80): void {
  for (let reg = 0; reg < 8; reg++) {
    if (reg === 2 || reg === 3) mem(esc, reg, (cpu, i) => fcom(cpu.st, load(cpu, i), false, reg - 2));
    else mem(esc, reg, (cpu, i) => arithmetic(cpu.st, reg, load(cpu, i), 0, false));
  }
}

/** The arithmetic group on ST(0) and ST(i): the result goes to ST(0) (D8) or ST(i) (DC, DE with pop). */
function registerGroup(esc: number, toSti: boolean, pops: boolean): void {
  for (let reg = 0; reg < 8; reg++) {
    if (reg === 2 || reg === 3) continue;
    regs(esc, 0xc0 + reg * 8, 8, (cpu, i) => arithmetic(cpu.st, reg, source(cpu.st, i.rm), toSti ? i.rm : 0, pops));
  }
}

// ---- register moves ----

const fldSti: Op = (cpu, i) => {
  const v = source(cpu.st, i.rm);
  if (v) pushChecked(cpu.st, v);
};

const fstSti = (pops: boolean): Op => (cpu, i) => {
  const v = source(cpu.st, 0);
  if (!v) return;
  writeSt(cpu.st, i.rm, v);
  if (pops) pop(cpu.st);
};

/** FXCH: an empty register takes the indefinite first (masked underflow). */
const fxch: Op = (cpu, i) => {
  const st = cpu.st;
  if ((isEmpty(st, 0) || isEmpty(st, i.rm)) && underflow(st)) return;
  const a = isEmpty(st, 0) ? INDEFINITE : readSt(st, 0);
  const b = isEmpty(st, i.rm) ? INDEFINITE : readSt(st, i.rm);
  writeSt(st, 0, b);
  writeSt(st, i.rm, a);
};

/** FCMOVcc: the condition is the Jcc condition code (B, E, BE, U and their negations). */
const fcmov = (cc: number): Op => (cpu, i) => {
  const st = cpu.st;
  if (isEmpty(st, 0) || isEmpty(st, i.rm)) {
    if (!underflow(st)) writeSt(st, 0, INDEFINITE);
    return;
  }
  if (condition(st, cc)) writeSt(st, 0, readSt(st, i.rm));
};

const ffree = (pops: boolean): Op => (cpu, i) => {
  freeSt(cpu.st, i.rm);
  if (pops) pop(cpu.st);
};

// ---- control ----

function storeStatus16(cpu: Cpu, i: Insn, v: number): void {
  cpu.writeLin16(writeLinear(cpu, i, 2), v);
}

const fldenv: Op = (cpu, i) => {
  const o32 = i.o32;
  loadEnv(cpu, readBytes(cpu, readLinear(cpu, i, envBytes(o32)), envBytes(o32)), o32);
};
/** FNSTENV stores the environment, then masks every exception. */
const fnstenv: Op = (cpu, i) => {
  writeBytes(cpu, writeLinear(cpu, i, envBytes(i.o32)), envImage(cpu, i.o32));
  cpu.st[S.FPU_CW] |= EXCEPTIONS;
  updateSummary(cpu.st);
};
const frstor: Op = (cpu, i) => {
  const bytes = envBytes(i.o32) + 80;
  loadSaveImage(cpu, readBytes(cpu, readLinear(cpu, i, bytes), bytes), i.o32);
};
/** FNSAVE stores the whole state, then initialises the FPU as FNINIT does. */
const fnsave: Op = (cpu, i) => {
  writeBytes(cpu, writeLinear(cpu, i, envBytes(i.o32) + 80), saveImage(cpu, i.o32));
  initFpu(cpu.st);
};
const fldcw: Op = (cpu, i) => {
  cpu.st[S.FPU_CW] = cpu.readLin16(readLinear(cpu, i, 2)) & 0x1f7f;
  updateSummary(cpu.st);
};
/** FNCLEX clears the exception flags, ES and B, and deasserts FERR#. */
const fnclex: Op = (cpu) => {
  cpu.st[S.FPU_SW] &= ~(EXCEPTIONS | STACK_FAULT | ES | BUSY);
  cpu.st[S.FPU_FERR] = 0;
};
const nothing: Op = () => {};

// ---- the table of forms ----

memoryGroup(0, LOAD.m32);
memoryGroup(2, LOAD.i32);
memoryGroup(4, LOAD.m64);
memoryGroup(6, LOAD.i16);
registerGroup(0, false, false);
registerGroup(4, true, false);
registerGroup(6, true, true);
for (const esc of [0, 4]) {
  regs(esc, 0xd0, 8, (cpu, i) => fcom(cpu.st, source(cpu.st, i.rm), false, 0));
  regs(esc, 0xd8, 8, (cpu, i) => fcom(cpu.st, source(cpu.st, i.rm), false, 1));
}
regs(6, 0xd0, 8, (cpu, i) => fcom(cpu.st, source(cpu.st, i.rm), false, 1));
regs(6, 0xd9, 1, (cpu) => fcom(cpu.st, source(cpu.st, 1), false, 2));

// D9
mem(1, 0, loadReal(LOAD.m32, true));
mem(1, 2, storeReal(true, false));
mem(1, 3, storeReal(true, true));
mem(1, 4, fldenv, NO_POINTERS);
mem(1, 5, fldcw, NO_POINTERS);
mem(1, 6, fnstenv, NO_WAIT | NO_POINTERS);
mem(1, 7, (cpu, i) => storeStatus16(cpu, i, cpu.st[S.FPU_CW]), NO_WAIT | NO_POINTERS);
regs(1, 0xc0, 8, fldSti);
regs(1, 0xc8, 8, fxch);
regs(1, 0xd0, 1, nothing);
regs(1, 0xd8, 8, fstSti(true));
D9_FUNCTIONS.forEach((f, k) => { if (f) regs(1, 0xe0 + k, 1, (cpu) => f(cpu.st)); });

// DA
regs(2, 0xc0, 8, fcmov(2));
regs(2, 0xc8, 8, fcmov(4));
regs(2, 0xd0, 8, fcmov(6));
regs(2, 0xd8, 8, fcmov(10));
regs(2, 0xe9, 1, (cpu) => fcom(cpu.st, source(cpu.st, 1), true, 2));

// DB (FISTTP, /1, is SSE3: #UD on an i686)
mem(3, 0, loadExact(LOAD.i32));
mem(3, 2, storeInteger(32, false));
mem(3, 3, storeInteger(32, true));
mem(3, 5, loadExact(LOAD.m80));
mem(3, 7, fstpM80);
regs(3, 0xc0, 8, fcmov(3));
regs(3, 0xc8, 8, fcmov(5));
regs(3, 0xd0, 8, fcmov(7));
regs(3, 0xd8, 8, fcmov(11));
// FNENI, FNDISI and FNSETPM do nothing since the 387.
regs(3, 0xe0, 2, nothing, NO_WAIT | NO_POINTERS);
regs(3, 0xe4, 1, nothing, NO_WAIT | NO_POINTERS);
regs(3, 0xe2, 1, fnclex, NO_WAIT | NO_POINTERS);
regs(3, 0xe3, 1, (cpu) => initFpu(cpu.st), NO_WAIT | NO_POINTERS);
regs(3, 0xe8, 8, fcomi(true, false));
regs(3, 0xf0, 8, fcomi(false, false));

// DD
mem(5, 0, loadReal(LOAD.m64, false));
mem(5, 2, storeReal(false, false));
mem(5, 3, storeReal(false, true));
mem(5, 4, frstor, NO_POINTERS);
mem(5, 6, fnsave, NO_WAIT | NO_POINTERS);
mem(5, 7, (cpu, i) => storeStatus16(cpu, i, cpu.st[S.FPU_SW]), NO_WAIT | NO_POINTERS);
regs(5, 0xc0, 8, ffree(false));
regs(5, 0xc8, 8, fxch);
regs(5, 0xd0, 8, fstSti(false));
regs(5, 0xd8, 8, fstSti(true));
regs(5, 0xe0, 8, (cpu, i) => fcom(cpu.st, source(cpu.st, i.rm), true, 0));
regs(5, 0xe8, 8, (cpu, i) => fcom(cpu.st, source(cpu.st, i.rm), true, 1));

// DF
mem(7, 0, loadExact(LOAD.i16));
mem(7, 2, storeInteger(16, false));
mem(7, 3, storeInteger(16, true));
mem(7, 4, fbld);
mem(7, 5, loadExact(LOAD.i64));
mem(7, 6, fbstp);
mem(7, 7, storeInteger(64, true));
regs(7, 0xc0, 8, ffree(true));
regs(7, 0xc8, 8, fxch);
regs(7, 0xd0, 16, fstSti(true));
regs(7, 0xe0, 1, (cpu) => cpu.setReg16(Reg.EAX, cpu.st[S.FPU_SW]), NO_WAIT | NO_POINTERS);
regs(7, 0xe8, 8, fcomi(true, true));
regs(7, 0xf0, 8, fcomi(false, true));

/** FXSAVE/FXRSTOR: #NM with EM or TS; no pending-exception check. */
function fxsaveChecks(cpu: Cpu, i: Insn): number {
  if ((cpu.st[S.CR0] & (CR0_EM | CR0_TS)) !== 0) fault(Vec.NM);
  return fxsaveArea(cpu, cpu.ea(i), i.seg);
}

export const X87_OPS: HandlerMap = {
  ESC: () => escape,
  /** WAIT: #NM with TS and MP both set, then any pending exception. */
  WAIT: () => (cpu) => {
    if ((cpu.st[S.CR0] & (CR0_TS | CR0_MP)) === (CR0_TS | CR0_MP)) fault(Vec.NM);
    checkPending(cpu);
  },
  FXSAVE: () => (cpu, i) => {
    const lin = fxsaveChecks(cpu, i);
    writeBytes(cpu, lin, fxsaveImage(cpu));
  },
  FXRSTOR: () => (cpu, i) => {
    const lin = fxsaveChecks(cpu, i);
    loadFxsaveImage(cpu, readBytes(cpu, lin, FXSAVE_BYTES));
  },
};
