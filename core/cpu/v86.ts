import type { Cpu } from './cpu.js';
import { fault, Vec } from './faults.js';
import { EFLAGS_WRITABLE, IF, IOPL, NT, RF, TF, VM } from './flags.js';
import { enterInnerStack, frameAddresses, innerStack, writeFrame } from './privilege.js';
import { Descriptor, loadCodeDescriptor, setSegmentCache } from './segments.js';
import { Reg, S, Seg } from './state-layout.js';

/**
 * Virtual-8086 mode (SDM Vol. 3A ch. 20) without the virtual-mode extensions: CR4.VME and PVI
 * are not offered (CPUID leaf 1 has no VME bit, setting them is #GP), so every IOPL-sensitive
 * instruction traps to the monitor when IOPL < 3. The mode is EFLAGS.VM with PE set; S.CPL is
 * kept at 3 while it runs, so privileged instructions are #GP(0) and paging checks user access.
 * Entered by IRETD at CPL 0 or a task switch, left by any interrupt or exception.
 */

/** The descriptor cache of every V86 segment: present, DPL 3, read/write data, accessed; limit 0xFFFF, 16-bit. */
const V86_SEGMENT = 0xf3;

/** Loads the six segment registers as V86 does (base = selector × 16, limit 0xFFFF) and makes CPL 3. */
export function loadV86Segments(cpu: Cpu, selectors: readonly number[]): void {
  for (let seg = Seg.ES; seg <= Seg.GS; seg++) {
    const selector = selectors[seg] & 0xffff;
    setSegmentCache(cpu, seg, selector, selector << 4, 0xffff, V86_SEGMENT);
  }
  cpu.st[S.CPL] = 3;
}

/** INT n, PUSHF, POPF and IRET in V86 mode need IOPL 3, else #GP(0) to the monitor (before any memory is touched). */
export function checkV86Iopl(cpu: Cpu): void {
  const flags = cpu.st[S.EFLAGS];
  if ((flags & VM) !== 0 && (flags & IOPL) !== IOPL && cpu.protectedMode) fault(Vec.GP, 0);
}

/**
 * IRETD at CPL 0 whose EFLAGS image has VM set (SDM IRET, RETURN-TO-VIRTUAL-8086-MODE): after
 * EIP, CS and EFLAGS it pops ESP, SS, ES, DS, FS and GS (dwords, high words ignored). Everything
 * is read, and EIP checked against the 64 KiB V86 code segment (#GP(0)), before state changes.
 */
export function returnToV86(cpu: Cpu, eip: number, cs: number, eflags: number): void {
  const st = cpu.st;
  const [esp, ss, es, ds, fs, gs] = [12, 16, 20, 24, 28, 32].map((offset) => cpu.peek(32, offset));
  if (eip >>> 0 > 0xffff) fault(Vec.GP, 0);
  cpu.setEflags(eflags, EFLAGS_WRITABLE);
  const selectors = [0, 0, 0, 0, 0, 0];
  selectors[Seg.ES] = es; selectors[Seg.CS] = cs; selectors[Seg.SS] = ss;
  selectors[Seg.DS] = ds; selectors[Seg.FS] = fs; selectors[Seg.GS] = gs;
  loadV86Segments(cpu, selectors);
  st[Reg.ESP] = esp;
  st[S.EIP] = eip;
}

/**
 * An interrupt or exception in V86 mode through an interrupt or trap gate whose code segment is
 * non-conforming with DPL 0 (the caller checked that): on the ring-0 stack from the TSS it pushes
 * GS, FS, DS, ES, SS, ESP, EFLAGS, CS, EIP and the error code (words through a 16-bit gate),
 * then clears VM, TF, RF, NT (and IF through an interrupt gate) and nulls DS, ES, FS and GS
 * (SDM INT n, INTERRUPT-FROM-VIRTUAL-8086-MODE). The frame is written before anything changes.
 */
export function interruptFromV86(cpu: Cpu, selector: number, code: Descriptor, eip: number, size: number, errorCode: number, interruptGate: boolean): void {
  const st = cpu.st;
  const stack = innerStack(cpu, 0);
  const frame = [Seg.GS, Seg.FS, Seg.DS, Seg.ES, Seg.SS].map((seg) => st[S.SEL + seg]);
  frame.push(st[Reg.ESP], cpu.eflags, st[S.SEL + Seg.CS], st[S.EIP]);
  if (errorCode >= 0) frame.push(errorCode);
  const bytes = size >> 3;
  writeFrame(cpu, 0, size, frameAddresses(stack.d, stack.selector, stack.pointer, frame.length, bytes), frame);
  enterInnerStack(cpu, stack, frame.length * bytes);
  for (const seg of [Seg.ES, Seg.DS, Seg.FS, Seg.GS]) setSegmentCache(cpu, seg, 0, 0, 0, 0);
  loadCodeDescriptor(cpu, selector, code, 0);
  st[S.EIP] = eip;
  cpu.setEflags(0, VM | TF | RF | NT | (interruptGate ? IF : 0));
}
