import { decode, ByteSource, Insn } from '../decoder/decoder.js';
import { MemoryBus } from '../mmu/memory-bus.js';
import { mappingsMoved, Paging } from '../mmu/paging.js';
import type { IoBus } from '../../devices/bus/io-bus.js';
import { Reg, S, Seg, STATE_BASE } from './state-layout.js';
import { fault, Vec } from './faults.js';
import { segmentLinear } from './segments.js';
import { getEflags, setEflags, EFLAGS_FIXED, VM } from './flags.js';
import { resetFpu } from './x87/fpu-state.js';
import { DebugRegisters } from './debug-registers.js';
import type { DescriptorShadow, InterruptMonitor } from './monitor-hooks.js';

/** Descriptor type bits S, code and writable (flags word), and their value for a writable data segment. */
const SEGMENT_TYPE_BITS = 0x1a, WRITABLE_DATA = 0x12;

/** Family 6 (P6), model 3, stepping 3: what RESET leaves in EDX and CPUID leaf 1 reports. */
export const CPU_SIGNATURE = 0x0633;

/** IA32_APIC_BASE after RESET: base 0xFEE00000, enabled (bit 11), bootstrap processor (bit 8). */
export const APIC_BASE_RESET = 0xfee00900 | 0, APIC_GLOBAL_ENABLE = 0x800;

/** CR4.DE: debugging extensions (I/O breakpoints; DR4/DR5 are #UD). */
export const CR4_DE = 0x8;

export const CR0_PE = 0x1, CR0_MP = 0x2, CR0_EM = 0x4, CR0_TS = 0x8, CR0_ET = 0x10, CR0_NE = 0x20, CR0_WP = 0x10000, CR0_PG = 0x80000000;

/**
 * The architectural state and the primitive operations every instruction family uses:
 * register access by size, segmented memory access with limit checks, the stack.
 * State sits in the machine's WebAssembly.Memory; these are views of it.
 */
export class Cpu implements ByteSource {
  readonly st: Int32Array;
  readonly r16: Uint16Array;
  readonly r8: Uint8Array;
  /** Linear address of the last ModRM memory operand, for read-modify-write. */
  opLin = 0;
  /** Instructions retired, kept in a number (exact to 2^53) and mirrored into the state block. */
  retired = 0;
  /**
   * Instruction times spent idle, for the TSC: halted (the machine skipped them to the next
   * timer event) or stalled in PAUSE (onPause).
   */
  idleTicks = 0;
  /** The retired count at which the running budget ends (Interpreter.run, Jit.run); a PAUSE stall uses budget too. */
  runEnd = 0;
  /** PAUSE (the spin-wait hint): the machine stalls the CPU for a while; without a machine it is a NOP. */
  onPause: (() => void) | null = null;
  readonly insn = new Insn();

  /** Time-stamp counter ticks before offset: one per instruction time, running or halted. */
  get tscTicks(): number {
    return this.retired + this.idleTicks;
  }

  readonly paging: Paging;
  /** CR0.PG, cached so that linear accesses without paging cost one field test (see pagingChanged). */
  pagingOn = false;
  /** Whether DR7 enables a breakpoint, cached so that linear accesses without one cost one field test (see debugChanged). */
  debugActive = false;
  readonly debug = new DebugRegisters();
  /** Set by INT n, INT3, INTO and INT1: no single-step trap follows them (their handler starts with TF clear). */
  interruptInstruction = false;
  /** Told when FERR# is asserted (an unmasked x87 error reported with CR0.NE clear); the chipset latches IRQ 13. */
  onFpuError: (() => void) | null = null;
  /** IA32_APIC_BASE: the local APIC's base (it stays mapped at 0xFEE00000), bit 11 global enable, bit 8 BSP. */
  apicBase = APIC_BASE_RESET;
  /** Stored model-specific registers (the MTRRs) as [low, high]; absent ones read as 0. */
  readonly modelRegisters = new Map<number, [number, number]>();
  /** The deprivileging monitor's interrupt entry (core/vmm), or null in direct mode. */
  monitor: InterruptMonitor | null = null;
  /** The monitor's shadow descriptor tables while deprivileged guest code runs, else null (descriptors come from memory). */
  shadow: DescriptorShadow | null = null;

  constructor(memory: WebAssembly.Memory, readonly mem: MemoryBus, readonly io: IoBus) {
    this.st = new Int32Array(memory.buffer, STATE_BASE, 0x400);
    this.r16 = new Uint16Array(memory.buffer, STATE_BASE, 16);
    this.r8 = new Uint8Array(memory.buffer, STATE_BASE, 32);
    this.paging = new Paging(memory, this.st, mem);
    this.reset();
  }

  /** Power-on state, as after RESET: real mode, CS:IP = F000:FFF0 with base FFFF0000. */
  reset(): void {
    // The mapping epochs only ever move on: a translation remembered before the reset must not match after it.
    const epoch = this.st[S.MAPPING_EPOCH], globalEpoch = this.st[S.GLOBAL_EPOCH];
    this.st.fill(0);
    this.st[S.MAPPING_EPOCH] = epoch;
    this.st[S.GLOBAL_EPOCH] = globalEpoch;
    mappingsMoved(this.st);
    this.st[S.EFLAGS] = EFLAGS_FIXED;
    this.st[S.CR0] = CR0_ET | 0x60000000;
    this.st[S.A20_MASK] = -1;
    for (let s = 0; s < 6; s++) {
      this.st[S.SEG_LIMIT + s] = 0xffff;
      this.st[S.SEG_FLAGS + s] = 0x93;
    }
    this.st[S.SEG_FLAGS + Seg.CS] = 0x9b;
    this.st[S.SEL + Seg.CS] = 0xf000;
    this.st[S.SEG_BASE + Seg.CS] = 0xffff0000 | 0;
    this.st[S.EIP] = 0xfff0;
    this.st[S.GDTR_LIMIT] = 0xffff;
    this.st[S.IDTR_LIMIT] = 0xffff;
    this.st[Reg.EDX] = CPU_SIGNATURE;
    this.st[S.DR0 + 6] = 0xffff0ff0 | 0;
    this.st[S.DR0 + 7] = 0x400;
    resetFpu(this.st);
    this.retired = 0;
    this.idleTicks = 0;
    this.apicBase = APIC_BASE_RESET;
    this.modelRegisters.clear();
    this.pagingChanged();
    this.debugChanged();
  }

  /** After a write to CR0.PG/WP or CR4.PSE/PGE: refreshes the cached flag and empties the TLB. */
  pagingChanged(): void {
    this.pagingOn = (this.st[S.CR0] & CR0_PG) !== 0;
    this.paging.flushAll();
  }

  /** After a write to DR0-DR3, DR7 or CR4.DE: rebuilds the breakpoints and the cached flag. */
  debugChanged(): void {
    this.debugActive = this.debug.update(this.st.subarray(S.DR0, S.DR0 + 4), this.st[S.DR0 + 7], (this.st[S.CR4] & CR4_DE) !== 0);
  }
  /** Whether the local APIC is enabled in IA32_APIC_BASE. */
  get apicEnabled(): boolean { return (this.apicBase & APIC_GLOBAL_ENABLE) !== 0; }

  get eip(): number { return this.st[S.EIP] >>> 0; }
  set eip(v: number) { this.st[S.EIP] = v; }
  get protectedMode(): boolean { return (this.st[S.CR0] & CR0_PE) !== 0; }
  get code32(): boolean { return this.st[S.CS_DEFAULT32] !== 0; }
  get eflags(): number { return getEflags(this.st); }
  setEflags(value: number, mask: number): void { setEflags(this.st, value, mask); }

  // ---- registers by size (8-bit: 0-3 low bytes of EAX..EBX, 4-7 high bytes) ----
  getReg8(r: number): number { return this.r8[((r & 3) << 2) | (r >> 2)]; }
  setReg8(r: number, v: number): void { this.r8[((r & 3) << 2) | (r >> 2)] = v; }
  getReg16(r: number): number { return this.r16[r << 1]; }
  setReg16(r: number, v: number): void { this.r16[r << 1] = v; }
  getReg(size: number, r: number): number {
    return size === 32 ? this.st[r] : size === 16 ? this.r16[r << 1] : this.r8[((r & 3) << 2) | (r >> 2)];
  }
  setReg(size: number, r: number, v: number): void {
    if (size === 32) this.st[r] = v;
    else if (size === 16) this.r16[r << 1] = v;
    else this.r8[((r & 3) << 2) | (r >> 2)] = v;
  }

  // ---- linear memory: through the TLB when paging is on; accesses that cross a page are split ----
  readLin8(lin: number): number {
    if (this.debugActive) this.debug.access(lin, 1, false);
    if (!this.pagingOn) return this.mem.read8(lin & this.st[S.A20_MASK]);
    return this.mem.read8(this.paging.translate(lin, false) & this.st[S.A20_MASK]);
  }
  readLin16(lin: number): number {
    if (this.debugActive) this.debug.access(lin, 2, false);
    if ((lin & 0xfff) === 0xfff) return this.readLin8(lin) | (this.readLin8(lin + 1) << 8);
    if (!this.pagingOn) return this.mem.read16(lin & this.st[S.A20_MASK]);
    return this.mem.read16(this.paging.translate(lin, false) & this.st[S.A20_MASK]);
  }
  readLin32(lin: number): number {
    if (this.debugActive) this.debug.access(lin, 4, false);
    if ((lin & 0xfff) > 0xffc) return this.readLin16(lin) | (this.readLin16(lin + 2) << 16);
    if (!this.pagingOn) return this.mem.read32(lin & this.st[S.A20_MASK]);
    return this.mem.read32(this.paging.translate(lin, false) & this.st[S.A20_MASK]);
  }
  writeLin8(lin: number, v: number): void {
    if (this.debugActive) this.debug.access(lin, 1, true);
    if (!this.pagingOn) this.mem.write8(lin & this.st[S.A20_MASK], v);
    else this.mem.write8(this.paging.translate(lin, true) & this.st[S.A20_MASK], v);
  }
  writeLin16(lin: number, v: number): void {
    if (this.debugActive) this.debug.access(lin, 2, true);
    if ((lin & 0xfff) === 0xfff) { this.writeCrossing(lin, 2, v); return; }
    if (!this.pagingOn) this.mem.write16(lin & this.st[S.A20_MASK], v);
    else this.mem.write16(this.paging.translate(lin, true) & this.st[S.A20_MASK], v);
  }
  writeLin32(lin: number, v: number): void {
    if (this.debugActive) this.debug.access(lin, 4, true);
    if ((lin & 0xfff) > 0xffc) { this.writeCrossing(lin, 4, v); return; }
    if (!this.pagingOn) this.mem.write32(lin & this.st[S.A20_MASK], v);
    else this.mem.write32(this.paging.translate(lin, true) & this.st[S.A20_MASK], v);
  }
  /**
   * A write that crosses into the next page: both pages are checked before any byte is
   * written, so a fault leaves memory unchanged (CR2 is then the second page's first byte).
   */
  private writeCrossing(lin: number, bytes: number, v: number): void {
    if (this.pagingOn) this.probeWrite(lin, bytes);
    for (let k = 0; k < bytes; k++) this.writeLin8(lin + k, v >> (k << 3));
  }
  /**
   * Reads a descriptor table or the TSS as the processor does: a supervisor access at any CPL
   * (with paging, a kernel may map them supervisor-only).
   */
  readSystem(size: number, lin: number): number {
    if (!this.pagingOn) return this.readLin(size, lin);
    this.paging.systemAccess = true;
    try { return this.readLin(size, lin); } finally { this.paging.systemAccess = false; }
  }
  /** Writes a descriptor byte (accessed and busy bits) as a supervisor access. */
  writeSystem8(lin: number, v: number): void {
    if (!this.pagingOn) { this.writeLin8(lin, v); return; }
    this.paging.systemAccess = true;
    try { this.writeLin8(lin, v); } finally { this.paging.systemAccess = false; }
  }
  /** Checks (with paging on) that `bytes` bytes at `lin` may be written, setting D, without writing. */
  probeWrite(lin: number, bytes: number): void {
    this.paging.translate(lin, true);
    if ((lin & 0xfff) + bytes > 0x1000) this.paging.translate((lin + bytes - 1) & ~0xfff, true);
  }
  readLin(size: number, lin: number): number {
    return size === 32 ? this.readLin32(lin) : size === 16 ? this.readLin16(lin) : this.readLin8(lin);
  }
  writeLin(size: number, lin: number, v: number): void {
    if (size === 32) this.writeLin32(lin, v); else if (size === 16) this.writeLin16(lin, v); else this.writeLin8(lin, v);
  }

  // ---- segmentation ----
  /** Linear address of seg:offset for an access of `bytes` bytes, after the limit check. */
  linear(seg: number, offset: number, bytes: number): number {
    const off = offset >>> 0;
    // Fast path for present expand-up segments; expand-down, unusable (null) segments and limit
    // violations take the full check.
    if (off + bytes - 1 > this.st[S.SEG_LIMIT + seg] >>> 0 || (this.st[S.SEG_FLAGS + seg] & 0x84) !== 0x80) {
      return segmentLinear(this, seg, off, bytes);
    }
    return (this.st[S.SEG_BASE + seg] + off) | 0;
  }
  /**
   * linear() for a write: in protected mode a read-only data segment or a code segment cannot be
   * written (#GP(0), #SS(0) for SS). Real and V86 mode do not check the type, so a CS override
   * writes there as on hardware.
   */
  linearWrite(seg: number, offset: number, bytes: number): number {
    if ((this.st[S.SEG_FLAGS + seg] & SEGMENT_TYPE_BITS) !== WRITABLE_DATA && this.protectedMode && (this.st[S.EFLAGS] & VM) === 0) {
      fault(seg === Seg.SS ? Vec.SS : Vec.GP, 0);
    }
    return this.linear(seg, offset, bytes);
  }
  /** Effective address (offset) of the decoded ModRM memory operand. */
  ea(i: Insn): number {
    let off = i.disp;
    if (i.eaBase >= 0) off += this.st[i.eaBase];
    if (i.eaIndex >= 0) off += this.st[i.eaIndex] << i.eaScale;
    return i.a32 ? off | 0 : off & 0xffff;
  }
  /** Linear address of the ModRM memory operand, remembered for a later write-back. */
  eaLinear(i: Insn, bytes: number): number {
    return (this.opLin = this.linear(i.seg, this.ea(i), bytes));
  }

  /**
   * Linear address of a read-modify-write memory operand. Write access is checked before the
   * read, so an instruction whose write would fault (a read-only or copy-on-write page) faults
   * before it changes flags or registers, as on hardware.
   */
  rmwLinear(i: Insn, bytes: number): number {
    const lin = (this.opLin = this.linearWrite(i.seg, this.ea(i), bytes));
    if (this.pagingOn) this.probeWrite(lin, bytes);
    return lin;
  }

  // ---- ModRM operands ----
  readE(i: Insn, size: number): number {
    if (i.mod === 3) return this.getReg(size, i.rm);
    return this.readLin(size, this.eaLinear(i, size >> 3));
  }
  /** readE for an operand the instruction will write back (see rmwLinear). */
  readForUpdateE(i: Insn, size: number): number {
    if (i.mod === 3) return this.getReg(size, i.rm);
    return this.readLin(size, this.rmwLinear(i, size >> 3));
  }
  /** Writes the r/m operand after readE computed its address. */
  writeBackE(i: Insn, size: number, v: number): void {
    if (i.mod === 3) this.setReg(size, i.rm, v); else this.writeLin(size, this.opLin, v);
  }
  writeE(i: Insn, size: number, v: number): void {
    if (i.mod === 3) this.setReg(size, i.rm, v); else this.writeLin(size, this.linearWrite(i.seg, this.ea(i), size >> 3), v);
  }

  // ---- stack ----
  get stack32(): boolean { return this.st[S.SS_DEFAULT32] !== 0; }
  /** Stack pointer after moving it by `delta`, wrapped to the stack size. */
  private movedSp(delta: number): number {
    return this.st[S.SS_DEFAULT32] ? (this.st[Reg.ESP] + delta) | 0 : (this.st[Reg.ESP] + delta) & 0xffff;
  }
  private setSp(sp: number): void {
    if (this.st[S.SS_DEFAULT32]) this.st[Reg.ESP] = sp; else this.r16[Reg.ESP << 1] = sp;
  }
  push(size: number, v: number): void {
    const bytes = size >> 3;
    const sp = this.movedSp(-bytes);
    this.writeLin(size, this.linear(Seg.SS, sp, bytes), v);
    this.setSp(sp);
  }
  pop(size: number): number {
    const bytes = size >> 3;
    const sp = this.movedSp(0);
    const v = this.readLin(size, this.linear(Seg.SS, sp, bytes));
    this.setSp(this.movedSp(bytes));
    return v;
  }
  /** Reads the stack at ESP + offset without popping (for RET imm, IRET, far returns). */
  peek(size: number, offset: number): number {
    return this.readLin(size, this.linear(Seg.SS, this.movedSp(offset), size >> 3));
  }
  adjustSp(delta: number): void { this.setSp(this.movedSp(delta)); }

  // ---- instruction fetch (ByteSource for the decoder) ----
  /** Linear address of the code byte at CS:offset, after the CS limit check. */
  codeLinear(offset: number): number {
    const off = this.st[S.CS_DEFAULT32] ? offset >>> 0 : offset & 0xffff;
    if (off > this.st[S.SEG_LIMIT + Seg.CS] >>> 0) fault(Vec.GP, 0);
    return this.st[S.SEG_BASE + Seg.CS] + off;
  }
  /** A code byte; through the TLB with paging on (a fetch is checked like a read: no NX). */
  byteAt(offset: number): number {
    // Not readLin8: fetches do not hit data breakpoints.
    const lin = this.codeLinear(offset);
    return this.mem.read8((this.pagingOn ? this.paging.translate(lin, false) : lin) & this.st[S.A20_MASK]);
  }
  decodeAt(eip: number): Insn { return decode(this, eip, this.st[S.CS_DEFAULT32] !== 0, this.insn); }

  // ---- ports ----
  in(size: number, port: number): number {
    if (this.debugActive) this.debug.port(port, size >> 3);
    return size === 8 ? this.io.read8(port) : size === 16 ? this.io.read16(port) : this.io.read32(port);
  }
  out(size: number, port: number, v: number): void {
    if (this.debugActive) this.debug.port(port, size >> 3);
    if (size === 8) this.io.write8(port, v & 0xff); else if (size === 16) this.io.write16(port, v & 0xffff); else this.io.write32(port, v);
  }
}
