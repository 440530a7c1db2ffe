import type { Cpu } from './cpu.js';
import { fault, Vec } from './faults.js';
import { VM } from './flags.js';
import { S, Seg } from './state-layout.js';

/** A segment or gate descriptor as read from the GDT or LDT. */
export interface Descriptor {
  base: number;
  /** Limit in bytes (granularity applied). */
  limit: number;
  /** Descriptor bits 8-23 of the high word: type, S, DPL, P, AVL, D/B, G. */
  flags: number;
  /** The raw words, for gates (whose selector, offset and parameter count sit where a segment has base and limit). */
  lo: number;
  hi: number;
  /** Linear address of the descriptor, for the accessed and busy bits. */
  address: number;
}

export const DESC_PRESENT = 0x80;
export const DESC_SEGMENT = 0x10;
export const DESC_CODE = 0x08;
export const DESC_BIG = 0x4000;
/** Type bit 2: conforming for code, expand-down for data. Type bit 1: readable for code, writable for data. */
export const DESC_CONFORMING = 0x04;
export const DESC_EXPAND_DOWN = 0x04;
export const DESC_READ_WRITE = 0x02;
export const DESC_ACCESSED = 0x01;

export function realOrV86(cpu: Cpu): boolean {
  return !cpu.protectedMode || (cpu.st[S.EFLAGS] & VM) !== 0;
}

export function dplOf(flags: number): number {
  return (flags >> 5) & 3;
}

export function isCode(flags: number): boolean {
  return (flags & (DESC_SEGMENT | DESC_CODE)) === (DESC_SEGMENT | DESC_CODE);
}

export function isConformingCode(flags: number): boolean {
  return isCode(flags) && (flags & DESC_CONFORMING) !== 0;
}

function isWritableData(flags: number): boolean {
  return (flags & (DESC_SEGMENT | DESC_CODE | DESC_READ_WRITE)) === (DESC_SEGMENT | DESC_READ_WRITE);
}

/** Whether a selector's descriptor lies inside its table (the GDT, or the LDT when TI is set and LDTR is not null). */
export function selectorInTable(cpu: Cpu, selector: number): boolean {
  const st = cpu.st;
  const last = (selector & 0xfff8) + 7;
  if ((selector & 4) !== 0) return (st[S.LDTR] & 0xfffc) !== 0 && last <= st[S.LDTR_LIMIT] >>> 0;
  return last <= st[S.GDTR_LIMIT] >>> 0;
}

/**
 * Reads the descriptor a selector names; outside its table that is `vector`(selector), #GP
 * unless the caller says otherwise (the TSS stack selector is checked with #TS).
 */
export function readDescriptor(cpu: Cpu, selector: number, vector: number = Vec.GP): Descriptor {
  if (!selectorInTable(cpu, selector)) fault(vector, selector & 0xfffc);
  const st = cpu.st;
  const address = ((selector & 4) !== 0 ? st[S.LDTR_BASE] : st[S.GDTR_BASE]) + (selector & 0xfff8);
  // While the deprivileging monitor runs guest code, descriptors come from its shadow tables.
  const shadow = cpu.shadow;
  const d = shadow !== null ? shadow.descriptor(address) : decodeDescriptor(cpu.readSystem(32, address), cpu.readSystem(32, address + 4));
  d.address = address;
  return d;
}

export function decodeDescriptor(lo: number, hi: number): Descriptor {
  const base = ((lo >>> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000)) >>> 0;
  let limit = (lo & 0xffff) | (hi & 0xf0000);
  if (hi & 0x800000) limit = ((limit << 12) | 0xfff) >>> 0;
  return { base, limit, flags: (hi >>> 8) & 0xf0ff, lo, hi, address: 0 };
}

/** Sets the accessed bit of a segment descriptor in memory, as the processor does on a load. */
export function markAccessed(cpu: Cpu, d: Descriptor): void {
  if ((d.flags & DESC_ACCESSED) !== 0) return;
  d.flags |= DESC_ACCESSED;
  cpu.writeSystem8(d.address + 5, cpu.readSystem(8, d.address + 5) | DESC_ACCESSED);
}

/** Fills a segment register's selector and descriptor cache directly; CS and SS also set the default sizes. */
export function setSegmentCache(cpu: Cpu, seg: number, selector: number, base: number, limit: number, flags: number): void {
  const st = cpu.st;
  st[S.SEL + seg] = selector;
  st[S.SEG_BASE + seg] = base;
  st[S.SEG_LIMIT + seg] = limit;
  st[S.SEG_FLAGS + seg] = flags;
  if (seg === Seg.CS) st[S.CS_DEFAULT32] = (flags & DESC_BIG) ? 1 : 0;
  else if (seg === Seg.SS) st[S.SS_DEFAULT32] = (flags & DESC_BIG) ? 1 : 0;
}

/** Loads a checked descriptor into a segment register's cache, setting its accessed bit first. */
export function loadDescriptor(cpu: Cpu, seg: number, selector: number, d: Descriptor): void {
  markAccessed(cpu, d);
  setSegmentCache(cpu, seg, selector & 0xffff, d.base, d.limit, d.flags);
}

/** Loads CS from a checked code descriptor: RPL becomes the new CPL, which the CPU keeps in S.CPL. */
export function loadCodeDescriptor(cpu: Cpu, selector: number, d: Descriptor, cpl: number): void {
  loadDescriptor(cpu, Seg.CS, (selector & 0xfffc) | cpl, d);
  cpu.st[S.CPL] = cpl;
}

/**
 * The checks of a stack segment for privilege level `cpl` (MOV/POP/LSS to SS, and the SS a far
 * return pops): RPL = DPL = CPL, a writable data segment, present. `vector` is #GP for loads and
 * returns, #TS for the stack a privilege change takes from the TSS; absent is always #SS.
 */
export function checkStackSegment(cpu: Cpu, selector: number, cpl: number, vector: number): Descriptor {
  if ((selector & 0xfffc) === 0) fault(vector, 0);
  const d = readDescriptor(cpu, selector, vector);
  const error = selector & 0xfffc;
  if ((selector & 3) !== cpl || !isWritableData(d.flags) || dplOf(d.flags) !== cpl) fault(vector, error);
  if ((d.flags & DESC_PRESENT) === 0) fault(Vec.SS, error);
  return d;
}

/**
 * DS, ES, FS, GS (non-null): data or readable code, DPL >= max(CPL, RPL) unless conforming code,
 * present. `vector` is #GP for loads, #TS for the selectors a task switch loads; absent is #NP.
 */
export function checkDataSegment(cpu: Cpu, selector: number, vector: number = Vec.GP): Descriptor {
  const d = readDescriptor(cpu, selector, vector);
  const error = selector & 0xfffc;
  const flags = d.flags;
  if ((flags & DESC_SEGMENT) === 0) fault(vector, error);
  if (isCode(flags) && (flags & DESC_READ_WRITE) === 0) fault(vector, error);
  if (!isConformingCode(flags)) {
    const dpl = dplOf(flags);
    if ((selector & 3) > dpl || cpu.st[S.CPL] > dpl) fault(vector, error);
  }
  if ((flags & DESC_PRESENT) === 0) fault(Vec.NP, error);
  return d;
}

/**
 * Loads a data or stack segment register (MOV, POP, LDS..LSS). Real and V86 mode change only
 * selector and base, so limits and sizes set in protected mode survive ("unreal" mode), as on
 * hardware. Protected mode checks the descriptor (SDM Vol. 3A 5.5-5.7) and sets its accessed
 * bit; a null selector leaves DS..GS unusable (the next access through it is #GP(0)).
 * CS is loaded by far transfers only (far-transfer.ts), except in real mode.
 */
export function loadSegment(cpu: Cpu, seg: number, selector: number): void {
  selector &= 0xffff;
  const st = cpu.st;
  if (realOrV86(cpu)) {
    st[S.SEL + seg] = selector;
    st[S.SEG_BASE + seg] = selector << 4;
    // A segment left unusable by a null load in protected mode becomes usable again.
    if ((st[S.SEG_FLAGS + seg] & DESC_PRESENT) === 0) st[S.SEG_FLAGS + seg] |= DESC_PRESENT | DESC_SEGMENT | DESC_READ_WRITE;
    return;
  }
  if (seg === Seg.SS) {
    loadDescriptor(cpu, seg, selector, checkStackSegment(cpu, selector, st[S.CPL], Vec.GP));
    return;
  }
  if ((selector & 0xfffc) === 0) {
    setSegmentCache(cpu, seg, selector, 0, 0, 0);
    return;
  }
  loadDescriptor(cpu, seg, selector, checkDataSegment(cpu, selector));
}

/** Whether a data segment register's descriptor is too privileged for `cpl` (IRET and RETF to an outer level null those). */
export function inaccessibleAt(cpu: Cpu, seg: number, cpl: number): boolean {
  const flags = cpu.st[S.SEG_FLAGS + seg];
  return (flags & DESC_PRESENT) !== 0 && !isConformingCode(flags) && dplOf(flags) < cpl;
}

/**
 * Whether `bytes` bytes at `offset` lie inside a segment: at or below the limit, or for an
 * expand-down data segment above it, up to 0xFFFF or, with the B bit, 0xFFFFFFFF (SDM 3.4.5.1).
 */
export function withinLimit(flags: number, limit: number, offset: number, bytes: number): boolean {
  const last = (offset >>> 0) + bytes - 1;
  if ((flags & (DESC_SEGMENT | DESC_CODE | DESC_EXPAND_DOWN)) !== (DESC_SEGMENT | DESC_EXPAND_DOWN)) return last <= limit >>> 0;
  return offset >>> 0 > limit >>> 0 && last <= ((flags & DESC_BIG) !== 0 ? 0xffffffff : 0xffff);
}

/**
 * Linear address of seg:offset for an access of `bytes` bytes, with every limit rule of the
 * descriptor cache (withinLimit); an unusable (null-loaded) segment is #GP(0) in protected mode.
 * A violation is #SS(0) for SS and #GP(0) otherwise. Meant as Cpu.linear's slow path: its inline
 * check covers ordinary segments, and must defer here when the offset fails it, the cache's P
 * bit is clear, or type bit 2 (expand-down) is set.
 */
export function segmentLinear(cpu: Cpu, seg: number, offset: number, bytes: number): number {
  const st = cpu.st;
  const off = offset >>> 0;
  const flags = st[S.SEG_FLAGS + seg];
  const vector = seg === Seg.SS ? Vec.SS : Vec.GP;
  if ((flags & DESC_PRESENT) === 0 && !realOrV86(cpu)) fault(vector, 0);
  if (!withinLimit(flags, st[S.SEG_LIMIT + seg], off, bytes)) fault(vector, 0);
  return (st[S.SEG_BASE + seg] + off) | 0;
}

/** Enters flat 32-bit protected mode directly (boot protocols that start there, like Multiboot). */
export function enterFlatProtectedMode(cpu: Cpu): void {
  const st = cpu.st;
  st[S.CR0] |= 1;
  const code = 0xcf9b, data = 0xcf93;
  setSegmentCache(cpu, Seg.CS, 0x08, 0, -1, code);
  for (const seg of [Seg.ES, Seg.SS, Seg.DS, Seg.FS, Seg.GS]) setSegmentCache(cpu, seg, 0x10, 0, -1, data);
}
