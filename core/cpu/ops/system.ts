import type { OpcodeEntry } from '../../decoder/table.js';
import { APIC_BASE_RESET, Cpu, CPU_SIGNATURE, CR4_DE, CR0_EM, CR0_ET, CR0_MP, CR0_NE, CR0_PE, CR0_PG, CR0_TS, CR0_WP } from '../cpu.js';
import { fault, Vec } from '../faults.js';
import { IF, RF, VM } from '../flags.js';
import { DR6_BD, DR7_GD } from '../debug-registers.js';
import { CR4_PAE, CR4_PGE, CR4_PSE, Paging } from '../../mmu/paging.js';
import { setSegmentCache } from '../segments.js';
import { Reg, S, Seg } from '../state-layout.js';
import { storeSystemWord } from './descriptors.js';
import { Exec, HandlerMap } from './operands.js';


const MSR_TSC = 0x10, MSR_APIC_BASE = 0x1b, MSR_MTRRCAP = 0xfe;
/** IA32_APIC_BASE bits software may write: the base (bits 12-31) and the global enable (bit 11); BSP is read-only. */
const APIC_BASE_WRITABLE = 0xfffff800 | 0, APIC_BSP = 0x100;
/** MSRs that are plain 32-bit storage (the high half reads as 0, writes of it are ignored). */
const MSR_WORDS: ReadonlyMap<number, number> = new Map([
  [0x174, S.SYSENTER_CS], [0x175, S.SYSENTER_ESP], [0x176, S.SYSENTER_EIP],
]);

const CR0_AM = 0x40000, CR0_NW = 0x20000000, CR0_CD = 0x40000000;
/** CR0 bits an i686 implements; writes to the others are ignored, and ET is hardwired to 1 since the P6. */
const CR0_WRITABLE = CR0_PE | CR0_MP | CR0_EM | CR0_TS | CR0_NE | CR0_WP | CR0_AM | CR0_NW | CR0_CD | CR0_PG;
/** CR4.OSFXSR: the OS uses FXSAVE/FXRSTOR (it would enable the SSE state, which we do not have). */
export const CR4_TSD = 0x4;
const CR4_OSFXSR = 0x200;
/** CR4 bits of features we implement; setting any other is setting a reserved bit, #GP(0). */
const CR4_WRITABLE = CR4_TSD | CR4_DE | CR4_PSE | CR4_PAE | CR4_PGE | CR4_OSFXSR;
/** Control-register bits whose change makes every cached translation stale. */
const CR0_PAGING = CR0_PG | CR0_WP, CR4_PAGING = CR4_PSE | CR4_PAE | CR4_PGE;
/** Bits whose change by MOV to CR0 or CR4 reloads the PDPTE registers when PAE paging follows (SDM 4.4.1). */
const CR0_PDPTE_RELOAD = CR0_PG | CR0_CD | CR0_NW, CR4_PDPTE_RELOAD = CR4_PSE | CR4_PAE | CR4_PGE;
/** State word of CR0-CR4 by number; CR1 does not exist. */
const CONTROL_REGISTER = [S.CR0, -1, S.CR2, S.CR3, S.CR4];

/** DR6 reads with bits 4-11 and 16-31 set (P6); B0-B3, BD, BS, BT are its writable bits. */
const DR6_FIXED = 0xffff0ff0 | 0, DR6_WRITABLE = 0xe00f;
/** DR7 reads with bit 10 set; bits 11, 12, 14 and 15 read as 0. */
const DR7_FIXED = 0x400, DR7_WRITABLE = 0xffff23ff | 0;

// ---- CPUID: an i686 (family 6) with x87, FXSAVE, PAE, the local APIC and MTRRs, without SSE ----

const VENDOR = 'WasmvisorCPU';
const BRAND = 'wasmvisor virtual i686 CPU';
const FEATURE_FPU = 1 << 0, FEATURE_PAE = 1 << 6, FEATURE_FXSR = 1 << 24;
const FEATURE_PSE = 1 << 3, FEATURE_TSC = 1 << 4, FEATURE_MSR = 1 << 5, FEATURE_CX8 = 1 << 8, FEATURE_SEP = 1 << 11;
const FEATURE_PGE = 1 << 13, FEATURE_CMOV = 1 << 15, FEATURE_DE = 1 << 2, FEATURE_MTRR = 1 << 12;
const FEATURE_APIC = 1 << 9;
/**
 * No RDTSCP: it is not a P6 instruction (its CPUID bit lives in leaf 0x80000001, which reports
 * nothing here). The APIC bit is set: the machine describes the local APIC and the I/O APIC in
 * MP tables (core/machine/mp-table.ts), which is how an OS that does not know our vendor string
 * learns that the APIC is there.
 */
export const CPUID_FEATURES = FEATURE_FPU | FEATURE_DE | FEATURE_PSE | FEATURE_TSC | FEATURE_MSR | FEATURE_PAE | FEATURE_CX8
  | FEATURE_APIC | FEATURE_SEP | FEATURE_MTRR | FEATURE_PGE | FEATURE_CMOV | FEATURE_FXSR;
const MAX_BASIC_LEAF = 1, MAX_EXTENDED_LEAF = 0x80000004;

/** Four characters of `text` from `offset` as a little-endian dword, NUL-padded. */
function chars(text: string, offset: number): number {
  let v = 0;
  for (let k = 3; k >= 0; k--) v = (v << 8) | (text.charCodeAt(offset + k) || 0);
  return v;
}

const brand = (offset: number): number[] => [0, 4, 8, 12].map((k) => chars(BRAND, offset + k));

/** EAX, EBX, ECX, EDX of each leaf. */
const CPUID_LEAVES: ReadonlyMap<number, readonly number[]> = new Map([
  [0, [MAX_BASIC_LEAF, chars(VENDOR, 0), chars(VENDOR, 8), chars(VENDOR, 4)]],
  [1, [CPU_SIGNATURE, 0, 0, CPUID_FEATURES]],
  [0x80000000, [MAX_EXTENDED_LEAF, 0, 0, 0]],
  [0x80000001, [0, 0, 0, 0]],
  [0x80000002, brand(0)],
  [0x80000003, brand(16)],
  [0x80000004, brand(32)],
]);

function cpuid(cpu: Cpu): void {
  const st = cpu.st;
  // A leaf above the maximum returns the highest basic leaf, as Intel processors do.
  const leaf = CPUID_LEAVES.get(st[Reg.EAX] >>> 0) ?? CPUID_LEAVES.get(MAX_BASIC_LEAF)!;
  st[Reg.EAX] = leaf[0];
  st[Reg.EBX] = leaf[1];
  st[Reg.ECX] = leaf[2];
  st[Reg.EDX] = leaf[3];
}

// ---- time-stamp counter and MSRs ----

const TWO_32 = 0x100000000;

/**
 * EDX:EAX = the time-stamp counter. It counts virtual time: one tick per instruction time, both
 * retired (cpu.retired, which does not yet include the running one) and halted (the time HLT
 * skipped, so the TSC keeps pace with the timers across idle periods), plus the 64-bit offset
 * that writes to MSR 0x10 leave in TSC_OFFSET_LO/HI.
 */
function readTsc(cpu: Cpu): void {
  const st = cpu.st;
  const ticks = cpu.tscTicks;
  const lo = (ticks % TWO_32) + (st[S.TSC_OFFSET_LO] >>> 0);
  st[Reg.EAX] = lo;
  st[Reg.EDX] = Math.floor(ticks / TWO_32) + st[S.TSC_OFFSET_HI] + (lo >= TWO_32 ? 1 : 0);
}

/**
 * WRMSR to the TSC. P6 processors write only its low 32 bits and clear the high 32 (SDM
 * Vol. 3B, "Time-Stamp Counter"), so the counter becomes 0:lo.
 */
function writeTsc(cpu: Cpu, lo: number): void {
  const ticks = cpu.tscTicks;
  const low = (lo >>> 0) - (ticks % TWO_32);
  cpu.st[S.TSC_OFFSET_LO] = low;
  cpu.st[S.TSC_OFFSET_HI] = -Math.floor(ticks / TWO_32) - (low < 0 ? 1 : 0);
}

function rdmsr(cpu: Cpu): void {
  const st = cpu.st;
  const msr = st[Reg.ECX] >>> 0;
  if (msr === MSR_TSC) { readTsc(cpu); return; }
  const word = MSR_WORDS.get(msr);
  let lo: number, hi = 0;
  if (word !== undefined) lo = st[word];
  else if (msr === MSR_APIC_BASE) lo = cpu.apicBase;
  else if (msr === MSR_MTRRCAP) lo = MTRRCAP;
  else if (isMtrr(msr)) [lo, hi] = cpu.modelRegisters.get(msr) ?? [0, 0];
  else fault(Vec.GP, 0);
  st[Reg.EAX] = lo;
  st[Reg.EDX] = hi;
}

function wrmsr(cpu: Cpu): void {
  const st = cpu.st;
  const msr = st[Reg.ECX] >>> 0;
  const lo = st[Reg.EAX], hi = st[Reg.EDX];
  if (msr === MSR_TSC) { writeTsc(cpu, lo); return; }
  const word = MSR_WORDS.get(msr);
  if (word !== undefined) st[word] = lo;
  else if (msr === MSR_APIC_BASE) {
    // The base is stored and read back; the APIC's registers stay at 0xFEE00000.
    if ((lo & ~APIC_BASE_WRITABLE & ~APIC_BSP) !== 0 || hi !== 0) fault(Vec.GP, 0);
    cpu.apicBase = (lo & APIC_BASE_WRITABLE) | (APIC_BASE_RESET & APIC_BSP);
  } else if (isMtrr(msr)) {
    if (!validMtrr(msr, lo, hi)) fault(Vec.GP, 0);
    cpu.modelRegisters.set(msr, [lo, hi]);
  } else fault(Vec.GP, 0);
}

// ---- MTRRs (SDM Vol. 3A 11.11): stored and read back; memory types do not change how we access memory ----

/** MTRRCAP: 8 variable ranges (VCNT), fixed ranges (FIX, bit 8), no write-combining (WC, bit 10 clear). */
const MTRRCAP = 0x108;
const MTRR_PHYS_FIRST = 0x200, MTRR_PHYS_LAST = 0x20f, MTRR_DEF_TYPE = 0x2ff;
const FIXED_MTRRS = new Set([0x250, 0x258, 0x259, 0x268, 0x269, 0x26a, 0x26b, 0x26c, 0x26d, 0x26e, 0x26f]);
/** UC, WT, WP, WB: the memory types an MTRR may hold (WC is not offered, per MTRRCAP). */
const MEMORY_TYPES = new Set([0, 4, 5, 6]);
/** Physical address bits above 32 a base or mask may hold: the P6's 36-bit physical addresses. */
const HIGH_ADDRESS_BITS = 0xf;

function isMtrr(msr: number): boolean {
  return (msr >= MTRR_PHYS_FIRST && msr <= MTRR_PHYS_LAST) || msr === MTRR_DEF_TYPE || FIXED_MTRRS.has(msr);
}

/** Writes with reserved bits set or an unsupported memory type are #GP. */
function validMtrr(msr: number, lo: number, hi: number): boolean {
  if (FIXED_MTRRS.has(msr)) return [lo, lo >> 8, lo >> 16, lo >> 24, hi, hi >> 8, hi >> 16, hi >> 24].every((t) => MEMORY_TYPES.has(t & 0xff));
  // IA32_MTRR_DEF_TYPE: type (bits 0-7), FE (bit 10), E (bit 11).
  if (msr === MTRR_DEF_TYPE) return hi === 0 && (lo & ~0xcff) === 0 && MEMORY_TYPES.has(lo & 0xff);
  if ((hi & ~HIGH_ADDRESS_BITS) !== 0) return false;
  // PHYSBASEn: type in bits 0-7, base from bit 12; PHYSMASKn: valid (bit 11), mask from bit 12.
  return (msr & 1) === 0 ? (lo & 0xf00) === 0 && MEMORY_TYPES.has(lo & 0xff) : (lo & 0x7ff) === 0;
}

// ---- SYSENTER / SYSEXIT ----

/** Flat 4 GiB segment attributes (G, D/B, P, S) with the DPL; code is execute/read, data read/write, both accessed. */
const FLAT_CODE = 0xc09b, FLAT_DATA = 0xc093;

/** Fast entry to CPL 0 at SYSENTER_CS:SYSENTER_EIP with SS = CS + 8 and ESP = SYSENTER_ESP. */
function sysenter(cpu: Cpu): void {
  const st = cpu.st;
  const cs = st[S.SYSENTER_CS] & 0xfffc;
  if (!cpu.protectedMode || cs === 0) fault(Vec.GP, 0);
  cpu.setEflags(0, VM | IF | RF);
  // The SDM's fixed flat segments: the GDT is not read.
  setSegmentCache(cpu, Seg.CS, cs, 0, -1, FLAT_CODE);
  setSegmentCache(cpu, Seg.SS, cs + 8, 0, -1, FLAT_DATA);
  st[S.CPL] = 0;
  st[Reg.ESP] = st[S.SYSENTER_ESP];
  st[S.EIP] = st[S.SYSENTER_EIP];
}

/** Fast return to CPL 3 at CS = SYSENTER_CS + 16, SS = + 24, EIP = EDX, ESP = ECX. CPL 0 is checked by the table. */
function sysexit(cpu: Cpu): void {
  const st = cpu.st;
  const cs = st[S.SYSENTER_CS];
  if (!cpu.protectedMode || (cs & 0xfffc) === 0) fault(Vec.GP, 0);
  const dpl3 = 3 << 5;
  setSegmentCache(cpu, Seg.CS, ((cs + 16) | 3) & 0xffff, 0, -1, FLAT_CODE | dpl3);
  setSegmentCache(cpu, Seg.SS, ((cs + 24) | 3) & 0xffff, 0, -1, FLAT_DATA | dpl3);
  st[S.CPL] = 3;
  st[Reg.ESP] = st[Reg.ECX];
  st[S.EIP] = st[Reg.EDX];
}

// ---- control and debug registers (the register is always ModRM r/m; mod is ignored) ----

function controlRegister(n: number): number {
  const word = CONTROL_REGISTER[n] ?? -1;
  if (word < 0) fault(Vec.UD);
  return word;
}

function writeCr0(cpu: Cpu, v: number): void {
  if ((v & CR0_PG) !== 0 && (v & CR0_PE) === 0) fault(Vec.GP, 0);
  if ((v & CR0_NW) !== 0 && (v & CR0_CD) === 0) fault(Vec.GP, 0);
  const old = cpu.st[S.CR0];
  const cr0 = (v & CR0_WRITABLE) | CR0_ET;
  if (((old ^ cr0) & CR0_PDPTE_RELOAD) !== 0 && Paging.paeActive(cr0, cpu.st[S.CR4])) cpu.paging.loadPdptes(cpu.st[S.CR3]);
  cpu.st[S.CR0] = cr0;
  if (((old ^ v) & CR0_PAGING) !== 0) cpu.pagingChanged();
}

function writeCr4(cpu: Cpu, v: number): void {
  if ((v & ~CR4_WRITABLE) !== 0) fault(Vec.GP, 0);
  const old = cpu.st[S.CR4];
  if (((old ^ v) & CR4_PDPTE_RELOAD) !== 0 && Paging.paeActive(cpu.st[S.CR0], v)) cpu.paging.loadPdptes(cpu.st[S.CR3]);
  cpu.st[S.CR4] = v;
  if (((old ^ v) & CR4_PAGING) !== 0) cpu.pagingChanged();
  if (((old ^ v) & CR4_DE) !== 0) cpu.debugChanged();
}

const readControl: Exec = (cpu, i) => { cpu.st[i.rm] = cpu.st[controlRegister(i.reg)]; };

const writeControl: Exec = (cpu, i) => {
  const word = controlRegister(i.reg);
  const v = cpu.st[i.rm];
  if (word === S.CR0) writeCr0(cpu, v);
  else if (word === S.CR4) writeCr4(cpu, v);
  else if (word === S.CR3) cpu.paging.loadCr3(v);
  else cpu.st[word] = v;
};

/**
 * DR4 and DR5 are #UD with CR4.DE set, and aliases of DR6 and DR7 without it. With DR7.GD set,
 * any MOV DR is a #DB fault with DR6.BD, and GD is cleared for the handler (SDM 17.2.4).
 */
function debugRegister(cpu: Cpu, n: number): number {
  if ((cpu.st[S.DR0 + 7] & DR7_GD) !== 0) {
    cpu.st[S.DR0 + 7] &= ~DR7_GD;
    cpu.st[S.DR0 + 6] |= DR6_BD;
    fault(Vec.DB);
  }
  if (n === 4 || n === 5) {
    if ((cpu.st[S.CR4] & CR4_DE) !== 0) fault(Vec.UD);
    n += 2;
  }
  return S.DR0 + n;
}

const readDebug: Exec = (cpu, i) => { cpu.st[i.rm] = cpu.st[debugRegister(cpu, i.reg)]; };

const writeDebug: Exec = (cpu, i) => {
  const word = debugRegister(cpu, i.reg);
  const v = cpu.st[i.rm];
  if (word === S.DR0 + 6) cpu.st[word] = (v & DR6_WRITABLE) | DR6_FIXED;
  else if (word === S.DR0 + 7) cpu.st[word] = (v & DR7_WRITABLE) | DR7_FIXED;
  else cpu.st[word] = v;
  if (word !== S.DR0 + 6) cpu.debugChanged();
};

/** The executor of MOV to or from a control or debug register, or undefined for the other MOV forms. */
export function controlRegisterMove(entry: OpcodeEntry): Exec | undefined {
  const [dst, src] = entry.operands;
  if (src.method === 'C') return readControl;
  if (dst.method === 'C') return writeControl;
  if (src.method === 'D') return readDebug;
  if (dst.method === 'D') return writeDebug;
  return undefined;
}

const invalid: Exec = () => fault(Vec.UD);
const nothing: Exec = () => {};

/**
 * System instructions: HLT, CPUID, the TSC and MSRs, SYSENTER/SYSEXIT, control and debug
 * registers, the machine status word, caches and TLB, the undefined opcodes (the x87 is ops/x87.ts).
 * Privilege (`priv`) and mode (`pm`) checks are the interpreter's, from the table.
 */
export const SYSTEM_OPS: HandlerMap = {
  HLT: () => (cpu) => { cpu.st[S.HALTED] = 1; },
  CPUID: () => cpuid,
  RDTSC: () => (cpu) => {
    if ((cpu.st[S.CR4] & CR4_TSD) !== 0 && cpu.st[S.CPL] !== 0) fault(Vec.GP, 0);
    readTsc(cpu);
  },
  RDMSR: () => rdmsr,
  WRMSR: () => wrmsr,
  SYSENTER: () => sysenter,
  SYSEXIT: () => sysexit,
  CLTS: () => (cpu) => { cpu.st[S.CR0] &= ~CR0_TS; },
  /** LMSW loads PE, MP, EM and TS; it can set PE but not clear it. */
  LMSW: () => (cpu, i) => {
    const v = cpu.readE(i, 16);
    const cr0 = cpu.st[S.CR0];
    cpu.st[S.CR0] = (cr0 & ~0xf) | (v & 0xf) | (cr0 & CR0_PE);
  },
  SMSW: (_e, o32) => (cpu, i) => storeSystemWord(cpu, i, o32, cpu.st[S.CR0]),
  INVD: () => nothing,
  WBINVD: () => nothing,
  /** Drops the page's translation, global or not; no limit check or access (the table makes it CPL 0 and memory-only). */
  INVLPG: () => (cpu, i) => cpu.paging.flushPage(cpu.st[S.SEG_BASE + i.seg] + cpu.ea(i)),
  UD0: () => invalid,
  UD1: () => invalid,
  UD2: () => invalid,
};
