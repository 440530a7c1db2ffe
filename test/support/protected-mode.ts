import { CpuHarness, Reg, S, Seg } from './cpu-harness.js';
import { readDescriptor, loadDescriptor } from '../../core/cpu/segments.js';

/**
 * A ring-aware protected-mode test machine built in RAM: a GDT, an IDT whose fault vectors
 * lead to a HLT each, and a 32-bit TSS with ring 0-2 stacks and an I/O bitmap.
 */

export const GDT = 0x800, IDT = 0x1000, TSS = 0x3000;
/** The TSS's I/O bitmap starts at this offset; it covers ports 0-0x3ff and ends with the 0xFF byte. */
export const IO_MAP = 0x68, IO_MAP_BYTES = 0x80;
export const TSS_LIMIT = IO_MAP + IO_MAP_BYTES;
export const STACK0 = 0x70000, STACK1 = 0x68000, STACK3 = 0x60000;
/** The 16-bit call gate's target (its offset has 16 bits). */
export const GATE16_TARGET = 0x7000;
/** Fault vector v's handler is a HLT at HANDLERS + v * 16, in ring-0 code. */
export const HANDLERS = 0x9000;

/** Selectors of the standard GDT. */
export const enum Sel {
  CODE0 = 0x08, DATA0 = 0x10, CODE3 = 0x1b, DATA3 = 0x23, TSS = 0x28, GATE3 = 0x33, GATE16 = 0x3b,
  CONFORMING0 = 0x40, READONLY0 = 0x48, EXECONLY0 = 0x50, ABSENT_DATA = 0x58, EXPAND_DOWN = 0x60,
  CODE16 = 0x68, DATA1 = 0x71, CODE1 = 0x79, ABSENT_CODE = 0x80, GATE0 = 0x88, ABSENT_GATE = 0x90, READCODE3 = 0x9b,
  DATA2 = 0xa2,
}

/** A code or data descriptor: `access` is descriptor byte 5 (P, DPL, S, type), `high` the G/D nibble. */
export function segment(base: number, limit: number, access: number, high = 0xc): number[] {
  return bytes32(((base & 0xffff) << 16) | (limit & 0xffff))
    .concat(bytes32((base & 0xff000000) | (high << 20) | (limit & 0xf0000) | (access << 8) | ((base >>> 16) & 0xff)));
}

/** A gate descriptor: `access` is byte 5 (P, DPL, type), `params` the call gate's parameter count. */
export function gate(selector: number, offset: number, access: number, params = 0): number[] {
  return bytes32((selector << 16) | (offset & 0xffff)).concat(bytes32((offset & 0xffff0000) | (access << 8) | params));
}

export function bytes32(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
}

/** Descriptors of the standard GDT, by selector index. */
function standardGdt(gateTarget: number): number[][] {
  return [
    [0, 0, 0, 0, 0, 0, 0, 0],
    segment(0, 0xfffff, 0x9a),            // 0x08 ring-0 code
    segment(0, 0xfffff, 0x92),            // 0x10 ring-0 data
    segment(0, 0xfffff, 0xfa),            // 0x18 ring-3 code
    segment(0, 0xfffff, 0xf2),            // 0x20 ring-3 data
    segment(TSS, TSS_LIMIT, 0x89, 0),     // 0x28 32-bit TSS
    gate(Sel.CODE0, gateTarget, 0xec, 2), // 0x30 32-bit call gate, DPL 3, two parameters
    gate(Sel.CODE0, GATE16_TARGET, 0xe4, 2), // 0x38 16-bit call gate, DPL 3, two parameters, to GATE16_TARGET
    segment(0, 0xfffff, 0x9e),            // 0x40 ring-0 conforming code
    segment(0, 0xfffff, 0x90),            // 0x48 ring-0 read-only data
    segment(0, 0xfffff, 0x98),            // 0x50 ring-0 execute-only code
    segment(0, 0xfffff, 0x12),            // 0x58 absent data
    segment(0, 0x0fff, 0x96, 0x4),        // 0x60 expand-down data, B=1, limit 0xFFF
    segment(0, 0xffff, 0x9a, 0),          // 0x68 16-bit ring-0 code
    segment(0, 0xfffff, 0xb2),            // 0x70 ring-1 data
    segment(0, 0xfffff, 0xba),            // 0x78 ring-1 code
    segment(0, 0xfffff, 0x1a),            // 0x80 absent code
    gate(Sel.CODE0, gateTarget, 0x8c),    // 0x88 32-bit call gate, DPL 0
    gate(Sel.CODE0, gateTarget, 0x6c),    // 0x90 absent call gate, DPL 3
    segment(0, 0xfffff, 0xfa),            // 0x98 ring-3 readable code
    segment(0, 0xfffff, 0xd2),            // 0xA0 ring-2 data
  ];
}

/**
 * Flat protected mode at CPL 0 with the standard GDT, IDT and TSS loaded (TR = 0x28, SS0:ESP0 =
 * 0x10:STACK0, SS1:ESP1 = 0x71:STACK1); code at 0x10000; call gates lead to `gateTarget`.
 */
export function ringMachine(code: number[], gateTarget = 0x20000): CpuHarness {
  const h = new CpuHarness().flat32(code);
  const gdt = standardGdt(gateTarget);
  gdt.forEach((d, k) => h.load(GDT + k * 8, d));
  const st = h.cpu.st;
  st[S.GDTR_BASE] = GDT;
  st[S.GDTR_LIMIT] = gdt.length * 8 - 1;
  st[S.IDTR_BASE] = IDT;
  st[S.IDTR_LIMIT] = 0x7ff;
  for (let v = 0; v < 32; v++) {
    h.load(IDT + v * 8, gate(Sel.CODE0, HANDLERS + v * 16, 0x8e));
    h.load(HANDLERS + v * 16, [0xf4]);
  }
  h.load(TSS + 4, bytes32(STACK0).concat(bytes32(Sel.DATA0), bytes32(STACK1), bytes32(Sel.DATA1)));
  h.load(TSS + 0x66, [IO_MAP & 0xff, IO_MAP >> 8]);
  h.load(TSS + IO_MAP, new Array(IO_MAP_BYTES).fill(0xff).concat([0xff]));
  const tss = readDescriptor(h.cpu, Sel.TSS);
  st[S.TR] = Sel.TSS;
  st[S.TR_BASE] = tss.base;
  st[S.TR_LIMIT] = tss.limit;
  st[S.TR_FLAGS] = tss.flags;
  return h;
}

/** Puts the machine at CPL 3 with flat ring-3 code and data (as after an IRET to ring 3), ESP = STACK3. */
export function enterRing3(h: CpuHarness): CpuHarness {
  const st = h.cpu.st;
  st[S.CPL] = 3;
  loadDescriptor(h.cpu, Seg.CS, Sel.CODE3, readDescriptor(h.cpu, Sel.CODE3));
  for (const seg of [Seg.SS, Seg.DS, Seg.ES, Seg.FS, Seg.GS]) loadDescriptor(h.cpu, seg, Sel.DATA3, readDescriptor(h.cpu, Sel.DATA3));
  st[Reg.ESP] = STACK3;
  return h;
}

/** What a fault handler of the standard IDT found: the vector (from where it halted) and the frame on its stack. */
export interface Delivered {
  vector: number;
  errorCode: number;
  eip: number;
  cs: number;
}

/** Runs until a fault handler halts and reads its frame (with an error code for vectors 8 and 10-14). */
export function runToFault(h: CpuHarness, max = 1000): Delivered {
  h.run(max);
  const vector = (h.eip - 1 - HANDLERS) / 16;
  const esp = h.get(Reg.ESP);
  const withCode = vector === 8 || (vector >= 10 && vector <= 14);
  const at = withCode ? esp + 4 : esp;
  return { vector, errorCode: withCode ? h.read32(esp) : -1, eip: h.read32(at), cs: h.read32(at + 4) & 0xffff };
}
