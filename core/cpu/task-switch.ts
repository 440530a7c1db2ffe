import { Paging } from '../mmu/paging.js';
import { CR0_TS, type Cpu } from './cpu.js';
import { CpuFault, fault, Vec } from './faults.js';
import { EFLAGS_WRITABLE, NT, VM } from './flags.js';
import { deliverException } from './interrupts.js';
import { TSS_32BIT } from './privilege.js';
import {
  checkDataSegment, checkStackSegment, Descriptor, DESC_PRESENT, DESC_SEGMENT, dplOf, isCode, isConformingCode,
  loadCodeDescriptor, loadDescriptor, readDescriptor, setSegmentCache,
} from './segments.js';
import { Reg, S, Seg } from './state-layout.js';
import { loadV86Segments } from './v86.js';

/**
 * Hardware task switching (SDM Vol. 3A ch. 7): far JMP/CALL to a TSS or through a task gate,
 * interrupts and exceptions through an IDT task gate, and IRET with NT set back to the task
 * named by the back-link. The debug trap bit T of the new TSS is ignored (no #DB on entry yet).
 */

/** What started the switch: it decides the busy bits, NT and the back-link (SDM 7.3, table 7-2). */
const enum Switch { JMP, CALL, IRET, INTERRUPT }

/** System descriptor types (S = 0): the task gate, and the TSS types' busy bit (1/9 available, 3/11 busy). */
const TASK_GATE = 0x5, TSS_BUSY = 0x2;
const LDT_TYPE = 0x2;
/** The smallest TSS limits (SDM 7.2.1, 7.6). */
const TSS32_MIN_LIMIT = 0x67, TSS16_MIN_LIMIT = 0x2b;
/** Segment registers in TSS order (ES, CS, SS, DS, FS, GS: the encoding order). */
const TSS32_SEGS = 0x48, TSS16_SEGS = 0x22;

/** The dynamic fields of a TSS: what a switch saves in the old task and loads from the new one. */
interface TaskState {
  cr3: number;
  eip: number;
  eflags: number;
  /** EAX..EDI in encoding order. */
  regs: number[];
  /** ES, CS, SS, DS, FS, GS selectors. */
  segs: number[];
  ldt: number;
}

function isTss(flags: number): boolean {
  return (flags & (DESC_SEGMENT | 0x5)) === 0x1;
}

/**
 * Far JMP or CALL whose selector names a TSS descriptor or a task gate (SDM JMP, CALL): its DPL
 * must be >= CPL and >= RPL (#GP), a gate present (#NP); the TSS must be available (#GP).
 */
export function farTaskTransfer(cpu: Cpu, selector: number, d: Descriptor, call: boolean): void {
  const error = selector & 0xfffc;
  const dpl = dplOf(d.flags);
  if (dpl < cpu.st[S.CPL] || dpl < (selector & 3)) fault(Vec.GP, error);
  if ((d.flags & 0xf) !== TASK_GATE) {
    checkAvailableTss(selector, d);
    switchTask(cpu, selector, d, call ? Switch.CALL : Switch.JMP, -1);
    return;
  }
  if ((d.flags & DESC_PRESENT) === 0) fault(Vec.NP, error);
  const tss = d.lo >>> 16;
  switchTask(cpu, tss, readGdtTss(cpu, tss), call ? Switch.CALL : Switch.JMP, -1);
}

/**
 * An interrupt or exception through an IDT task gate (SDM 6.12.2) to the TSS it names; an error
 * code is pushed on the new task's stack, sized by the new TSS.
 */
export function interruptTask(cpu: Cpu, tssSelector: number, errorCode: number): void {
  switchTask(cpu, tssSelector, readGdtTss(cpu, tssSelector), Switch.INTERRUPT, errorCode);
}

/** IRET with NT set: back to the task named by the current TSS's back-link, which must be a busy TSS in the GDT (#TS). */
export function returnFromNestedTask(cpu: Cpu): void {
  const link = cpu.readSystem(16, cpu.st[S.TR_BASE]);
  const error = link & 0xfffc;
  if ((link & 4) !== 0) fault(Vec.TS, error);
  const d = readDescriptor(cpu, link, Vec.TS);
  if (!isTss(d.flags) || (d.flags & TSS_BUSY) === 0) fault(Vec.TS, error);
  if ((d.flags & DESC_PRESENT) === 0) fault(Vec.NP, error);
  switchTask(cpu, link, d, Switch.IRET, -1);
}

/** The TSS a task gate names: in the GDT (#GP), then checked as an available TSS. */
function readGdtTss(cpu: Cpu, selector: number): Descriptor {
  if ((selector & 4) !== 0) fault(Vec.GP, selector & 0xfffc);
  const d = readDescriptor(cpu, selector);
  checkAvailableTss(selector, d);
  return d;
}

/** An available (not busy) TSS descriptor from the GDT, else #GP(selector); absent is #NP(selector). */
function checkAvailableTss(selector: number, d: Descriptor): void {
  const error = selector & 0xfffc;
  if ((selector & 4) !== 0 || !isTss(d.flags) || (d.flags & TSS_BUSY) !== 0) fault(Vec.GP, error);
  if ((d.flags & DESC_PRESENT) === 0) fault(Vec.NP, error);
}

/**
 * The switch itself (SDM 7.3). Everything that can fault in the old task's context comes first:
 * the new TSS's limit, reading its state, writing the old task's state, the back-link and the busy
 * bits. Then the new state is committed, and faults while its LDT and segments are checked and
 * loaded (or the error code pushed) are delivered in the new task, at its first instruction.
 */
function switchTask(cpu: Cpu, selector: number, d: Descriptor, kind: Switch, errorCode: number): void {
  const st = cpu.st;
  const tss32 = (d.flags & TSS_32BIT) !== 0;
  if (d.limit >>> 0 < (tss32 ? TSS32_MIN_LIMIT : TSS16_MIN_LIMIT)) fault(Vec.TS, selector & 0xfffc);
  const next = readTaskState(cpu, d.base, tss32);
  const loadsCr3 = tss32 && cpu.pagingOn;
  // Bad PDPTEs under PAE: #GP(0) in the old task, nothing changed (the SDM leaves the case open).
  if (loadsCr3 && Paging.paeActive(st[S.CR0], st[S.CR4])) cpu.paging.checkPdpt(next.cr3);
  const oldSelector = st[S.TR] & 0xffff;
  // IRET saves the old task with NT clear: it is no longer nested.
  const eflags = kind === Switch.IRET ? cpu.eflags & ~NT : cpu.eflags;
  saveTaskState(cpu, st[S.TR_BASE], (st[S.TR_FLAGS] & TSS_32BIT) !== 0, eflags);
  if (kind === Switch.JMP || kind === Switch.IRET) setBusy(cpu, oldSelector, false);
  if (kind === Switch.CALL || kind === Switch.INTERRUPT) {
    writeSystem(cpu, 16, d.base, oldSelector);
    next.eflags |= NT;
  }
  if (kind !== Switch.IRET) setBusy(cpu, selector, true);

  st[S.TR] = selector;
  st[S.TR_BASE] = d.base;
  st[S.TR_LIMIT] = d.limit;
  st[S.TR_FLAGS] = d.flags | TSS_BUSY;
  st[S.CR0] |= CR0_TS;
  st[S.EIP] = next.eip;
  cpu.setEflags(next.eflags, EFLAGS_WRITABLE);
  for (let r = Reg.EAX; r <= Reg.EDI; r++) st[r] = next.regs[r];
  // Until each selector is checked its segment is unusable, so a fault in between cannot use a stale cache.
  for (let seg = Seg.ES; seg <= Seg.GS; seg++) setSegmentCache(cpu, seg, next.segs[seg], 0, 0, 0);
  st[S.CPL] = (next.eflags & VM) !== 0 ? 3 : next.segs[Seg.CS] & 3;
  st[S.LDTR] = next.ldt;
  st[S.LDTR_BASE] = 0;
  st[S.LDTR_LIMIT] = 0;
  // CR3 is read only from a 32-bit TSS and only with paging on (as Bochs does); a 16-bit task keeps
  // the address space. Under PAE the new PDPTEs were checked before the commit point, so this cannot fault.
  if (loadsCr3) cpu.paging.loadCr3(next.cr3);
  try {
    loadTaskSegments(cpu, next);
    if (errorCode >= 0) cpu.push(tss32 ? 32 : 16, errorCode);
  } catch (e) {
    if (!(e instanceof CpuFault)) throw e;
    deliverException(cpu, e);
  }
}

/**
 * Reads the new task's state. A 16-bit TSS has no CR3, FS or GS (they become null); the upper
 * halves of the general registers become 0xFFFF and those of EIP and EFLAGS zero, as Bochs and QEMU model it.
 */
function readTaskState(cpu: Cpu, base: number, tss32: boolean): TaskState {
  const word = (offset: number) => cpu.readSystem(16, base + offset);
  if (tss32) {
    const dword = (offset: number) => cpu.readSystem(32, base + offset);
    return {
      cr3: dword(0x1c), eip: dword(0x20), eflags: dword(0x24),
      regs: Array.from({ length: 8 }, (_, r) => dword(0x28 + 4 * r)),
      segs: Array.from({ length: 6 }, (_, s) => word(TSS32_SEGS + 4 * s)),
      ldt: word(0x60),
    };
  }
  return {
    cr3: 0, eip: word(0x0e), eflags: word(0x10),
    regs: Array.from({ length: 8 }, (_, r) => 0xffff0000 | word(0x12 + 2 * r)),
    segs: [...Array.from({ length: 4 }, (_, s) => word(TSS16_SEGS + 2 * s)), 0, 0],
    ldt: word(0x2a),
  };
}

/** Saves the running task's EIP, EFLAGS, general registers and selectors into its TSS (the static fields stay). */
function saveTaskState(cpu: Cpu, base: number, tss32: boolean, eflags: number): void {
  const st = cpu.st;
  const size = tss32 ? 32 : 16;
  const bytes = tss32 ? 4 : 2;
  writeSystem(cpu, size, base + (tss32 ? 0x20 : 0x0e), st[S.EIP]);
  writeSystem(cpu, size, base + (tss32 ? 0x24 : 0x10), eflags);
  for (let r = Reg.EAX; r <= Reg.EDI; r++) writeSystem(cpu, size, base + (tss32 ? 0x28 : 0x12) + bytes * r, st[r]);
  const segments = tss32 ? 6 : 4;
  for (let seg = 0; seg < segments; seg++) writeSystem(cpu, 16, base + (tss32 ? TSS32_SEGS : TSS16_SEGS) + bytes * seg, st[S.SEL + seg]);
}

/** Sets or clears the busy bit of the TSS descriptor `selector` names in the GDT. */
function setBusy(cpu: Cpu, selector: number, busy: boolean): void {
  const typeByte = cpu.st[S.GDTR_BASE] + (selector & 0xfff8) + 5;
  const type = cpu.readSystem(8, typeByte);
  cpu.writeSystem8(typeByte, busy ? type | TSS_BUSY : type & ~TSS_BUSY);
}

/** A supervisor write of a TSS field. */
function writeSystem(cpu: Cpu, size: number, lin: number, v: number): void {
  for (let k = 0; k < size >> 3; k++) cpu.writeSystem8(lin + k, v >> (k << 3));
}

/**
 * Checks and loads the new task's LDT and segments (SDM table 7-1) at the CPL its CS selector
 * names: the LDT (#TS), CS (#TS, absent #NP), SS (#TS, absent #SS), then DS, ES, FS, GS (#TS,
 * absent #NP; null leaves them unusable). A V86 task (EFLAGS.VM, only in a 32-bit TSS) loads
 * them as paragraphs without descriptor checks, at CPL 3 (SDM 20.2.5).
 */
function loadTaskSegments(cpu: Cpu, next: TaskState): void {
  loadTaskLdt(cpu, next.ldt);
  if ((next.eflags & VM) !== 0) {
    loadV86Segments(cpu, next.segs);
    return;
  }
  const cs = next.segs[Seg.CS];
  const cpl = cs & 3;
  if ((cs & 0xfffc) === 0) fault(Vec.TS, 0);
  const code = readDescriptor(cpu, cs, Vec.TS);
  const dpl = dplOf(code.flags);
  if (!isCode(code.flags) || (isConformingCode(code.flags) ? dpl > cpl : dpl !== cpl)) fault(Vec.TS, cs & 0xfffc);
  const ss = next.segs[Seg.SS];
  loadDescriptor(cpu, Seg.SS, ss, checkStackSegment(cpu, ss, cpl, Vec.TS));
  if ((code.flags & DESC_PRESENT) === 0) fault(Vec.NP, cs & 0xfffc);
  loadCodeDescriptor(cpu, cs, code, cpl);
  for (const seg of [Seg.DS, Seg.ES, Seg.FS, Seg.GS]) {
    const selector = next.segs[seg];
    if ((selector & 0xfffc) !== 0) loadDescriptor(cpu, seg, selector, checkDataSegment(cpu, selector, Vec.TS));
  }
}

/** The new task's LDT: null, or an LDT descriptor in the GDT that is present, else #TS(selector). */
function loadTaskLdt(cpu: Cpu, selector: number): void {
  if ((selector & 0xfffc) === 0) return;
  const error = selector & 0xfffc;
  if ((selector & 4) !== 0) fault(Vec.TS, error);
  const d = readDescriptor(cpu, selector, Vec.TS);
  if ((d.flags & (DESC_SEGMENT | 0xf)) !== LDT_TYPE || (d.flags & DESC_PRESENT) === 0) fault(Vec.TS, error);
  cpu.st[S.LDTR_BASE] = d.base;
  cpu.st[S.LDTR_LIMIT] = d.limit;
}
