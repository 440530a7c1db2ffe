import type { Device } from './device.js';
import type { MmioHandlers } from '../core/mmu/memory-bus.js';
import type { Scheduler } from '../core/machine/scheduler.js';

// Register offsets inside the 4 KiB xAPIC page (Intel SDM vol. 3A, table 10-1).
const REG_ID = 0x20;
const REG_VERSION = 0x30;
const REG_TPR = 0x80;
const REG_APR = 0x90;
const REG_PPR = 0xa0;
const REG_EOI = 0xb0;
const REG_LDR = 0xd0;
const REG_DFR = 0xe0;
const REG_SVR = 0xf0;
const REG_ISR = 0x100;
const REG_TMR = 0x180;
const REG_IRR = 0x200;
const REG_ESR = 0x280;
const REG_ICR_LOW = 0x300;
const REG_ICR_HIGH = 0x310;
const REG_LVT_FIRST = 0x320;
const REG_LVT_LAST = 0x370;
const REG_TIMER_INITIAL = 0x380;
const REG_TIMER_CURRENT = 0x390;
const REG_TIMER_DIVIDE = 0x3e0;

/** Integrated xAPIC (version 0x14) with six LVT entries: timer, thermal, perf, LINT0, LINT1, error. */
export const LOCAL_APIC_VERSION = 0x00050014;

// LVT entries in register order (0x320 + 0x10 * index) and the bits software may write in each.
const LVT_TIMER = 0;
const LVT_LINT0 = 3;
const LVT_ERROR = 5;
const DELIVERY_EXTINT = 7;
const LVT_COUNT = 6;
const LVT_WRITABLE = [
  0x000300ff, // timer: vector, mask, periodic (no TSC-deadline mode)
  0x000107ff, // thermal: vector, delivery mode, mask
  0x000107ff, // performance counter
  0x0001a7ff, // LINT0: vector, delivery mode, polarity, trigger, mask
  0x0001a7ff, // LINT1
  0x000100ff, // error: vector, mask
];
const LVT_MASKED = 1 << 16;
const LVT_TIMER_PERIODIC = 1 << 17;

const SVR_WRITABLE = 0x3ff; // vector (all 8 bits on an xAPIC), software enable, focus checking
const SVR_ENABLED = 1 << 8;
const DFR_WRITABLE = 0xf0000000; // the model; bits 0-27 read as ones
const DIVIDE_WRITABLE = 0xb;

const ICR_LOW_WRITABLE = 0x000ccfff; // vector, delivery mode, destination mode, level, trigger, shorthand
const ICR_LOGICAL = 1 << 11;
const ICR_LEVEL_ASSERT = 1 << 14;
const ICR_LEVEL_TRIGGERED = 1 << 15;
const MODE_FIXED = 0;
const MODE_LOWEST_PRIORITY = 1;
const MODE_NMI = 4;
const MODE_INIT = 5;
const MODE_STARTUP = 6;
const SHORTHAND_NONE = 0;
const SHORTHAND_SELF = 1;
const SHORTHAND_ALL_INCLUDING_SELF = 2;
const BROADCAST_ID = 0xff;

// Error status bits this APIC can detect.
const ESR_SEND_ILLEGAL_VECTOR = 1 << 5;
const ESR_RECEIVE_ILLEGAL_VECTOR = 1 << 6;
const ESR_ILLEGAL_REGISTER = 1 << 7;

/** Registers a reset restores. Plain data, so with the timer it is also the snapshot. */
interface ApicRegisters {
  /** Register values as read (ID in bits 24-31, LDR in bits 24-31, ...). */
  id: number;
  tpr: number;
  ldr: number;
  dfr: number;
  svr: number;
  lvt: number[];
  icrLow: number;
  icrHigh: number;
  divideConfig: number;
  initialCount: number;
  /** 256-bit vector sets as eight 32-bit words, vector v at word v >> 5, bit v & 31. */
  irr: number[];
  isr: number[];
  tmr: number[];
  /** ESR as last latched, and errors detected since (latched by the next ESR write). */
  esr: number;
  pendingErrors: number;
}

interface ApicSnapshot extends ApicRegisters {
  /** A running countdown: the count it started from and the virtual time elapsed since. */
  timer: { count: number; elapsedNs: number } | null;
}

function powerOnRegisters(id: number): ApicRegisters {
  return {
    id: id << 24,
    tpr: 0,
    ldr: 0,
    dfr: 0xffffffff,
    svr: 0xff,
    lvt: new Array<number>(LVT_COUNT).fill(LVT_MASKED),
    icrLow: 0,
    icrHigh: 0,
    divideConfig: 0,
    initialCount: 0,
    irr: new Array<number>(8).fill(0),
    isr: new Array<number>(8).fill(0),
    tmr: new Array<number>(8).fill(0),
    esr: 0,
    pendingErrors: 0,
  };
}

/** Highest vector in a 256-bit set, or -1 when it is empty. */
function highestVector(words: number[]): number {
  for (let word = 7; word >= 0; word--) {
    if (words[word] !== 0) return word * 32 + 31 - Math.clz32(words[word]);
  }
  return -1;
}

function setBit(words: number[], vector: number, on: boolean): void {
  const bit = 1 << (vector & 31);
  words[vector >>> 5] = on ? words[vector >>> 5] | bit : words[vector >>> 5] & ~bit;
}

function testBit(words: number[], vector: number): boolean {
  return (words[vector >>> 5] & (1 << (vector & 31))) !== 0;
}

/** Direct register access is for the machine and tests; a bad offset is a host bug, not guest behaviour. */
function checkAligned(offset: number): void {
  if ((offset & 0xf) !== 0 || offset < 0 || offset > 0xff0) {
    throw new RangeError(`local APIC: register offset 0x${offset.toString(16)} is not a 16-byte aligned offset in the page`);
  }
}

/** Priority class: the upper nibble of a vector or priority (none = class 0). */
function priorityClass(value: number): number {
  return value < 0 ? 0 : value >>> 4;
}

/**
 * The local APIC of a uniprocessor i686, memory-mapped in xAPIC mode (Intel SDM vol. 3A, ch. 10).
 *
 * MMIO: registers are 32 bits at 16-byte aligned offsets. Byte reads return the matching byte
 * (bytes 4-15 of each slot read 0). Byte writes are gathered in a latch and the register is
 * written when the dword's highest byte arrives, so the low-to-high byte stores MemoryBus makes
 * of a 32-bit store act as one write; bytes not written since the last commit count as 0.
 * Reserved offsets read 0, ignore writes and log "illegal register address" in the ESR.
 *
 * Interrupts: `hasInterrupt()` is the INTR request towards the CPU and `acknowledge()` is the
 * INTA cycle. Delivery to other processors does not exist: IPIs reach only this APIC, when their
 * destination includes it. The timer runs on the virtual clock from the bus clock, and its
 * current count is computed from elapsed virtual time rather than decremented.
 */
export class LocalApic implements Device {
  readonly name = 'local-apic';
  readonly mmio: MmioHandlers;
  /** Told about INIT and start-up IPIs addressed to this processor; the machine decides what they do. */
  onInitOrStartup?: (kind: 'init' | 'startup', vector: number) => void;
  /** Told about NMI IPIs addressed to this processor. */
  onNmi?: () => void;
  /** Told when `passesExtInt()` may have changed (LINT0 or the software enable written). */
  onExtIntGateChange?: () => void;
  /** Told when software ends a level-triggered vector, so the I/O APIC can clear its remote IRR. */
  onLevelEndOfInterrupt?: (vector: number) => void;

  private regs: ApicRegisters;
  private readonly initialId: number;
  private readonly busHz: number;
  private readonly interruptListeners: ((pending: boolean) => void)[] = [];
  private pending = false;
  /** Countdown: the count at `timerBaseNs`, the scheduler event of its expiry (0 when stopped). */
  private timerBaseCount = 0;
  private timerBaseNs = 0;
  private timerEvent = 0;
  /** Byte-write latch: the dword offset being gathered (-1 for none) and its bytes so far. */
  private latchOffset = -1;
  private latchValue = 0;

  constructor(
    private readonly scheduler: Scheduler,
    options: { id?: number; busHz?: number } = {},
  ) {
    const { id = 0, busHz = 100_000_000 } = options;
    if (!Number.isInteger(id) || id < 0 || id > 0xff) throw new Error(`local APIC: ID ${id} is not in 0-255`);
    if (!(busHz > 0) || !Number.isFinite(busHz)) throw new Error(`local APIC: bus clock ${busHz} Hz is not a positive rate`);
    this.initialId = id;
    this.busHz = busHz;
    this.regs = powerOnRegisters(id);
    this.mmio = {
      read8: (address) => this.readByte(address & 0xfff),
      write8: (address, value) => this.writeByte(address & 0xfff, value),
    };
  }

  /** Listeners hear every change of `hasInterrupt()`, e.g. to drive the CPU's INTR line. */
  onInterruptChange(listener: (pending: boolean) => void): void {
    this.interruptListeners.push(listener);
  }

  get softwareEnabled(): boolean {
    return (this.regs.svr & SVR_ENABLED) !== 0;
  }

  /** True when the highest requested vector's priority class is above the processor priority. */
  hasInterrupt(): boolean {
    const requested = highestVector(this.regs.irr);
    return this.softwareEnabled && requested >= 0 && priorityClass(requested) > priorityClass(this.processorPriority());
  }

  /**
   * Whether the 8259A's INTR on LINT0 reaches the processor: while the APIC is software-disabled
   * (the power-on virtual-wire state) or while LINT0 is unmasked in ExtINT delivery mode.
   */
  passesExtInt(): boolean {
    const lint0 = this.regs.lvt[LVT_LINT0];
    return !this.softwareEnabled || ((lint0 & LVT_MASKED) === 0 && ((lint0 >>> 8) & 7) === DELIVERY_EXTINT);
  }

  /** The INTA cycle: moves the highest deliverable vector into service, or answers the spurious vector. */
  acknowledge(): number {
    if (!this.hasInterrupt()) return this.regs.svr & 0xff;
    const vector = highestVector(this.regs.irr);
    setBit(this.regs.irr, vector, false);
    setBit(this.regs.isr, vector, true);
    this.updateInterrupt();
    return vector;
  }

  /** A fixed interrupt arriving from the bus (or locally): requests `vector` unless it is illegal. */
  accept(vector: number, levelTriggered = false): void {
    if (!this.softwareEnabled) return;
    if (vector < 16) {
      this.logErrors(ESR_RECEIVE_ILLEGAL_VECTOR);
      return;
    }
    setBit(this.regs.irr, vector, true);
    setBit(this.regs.tmr, vector, levelTriggered);
    this.updateInterrupt();
  }

  /** Register read at a 16-byte aligned offset; the value is unsigned. */
  read32(offset: number): number {
    checkAligned(offset);
    const regs = this.regs;
    if (offset >= REG_ISR && offset < REG_ESR) {
      const set = offset < REG_TMR ? regs.isr : offset < REG_IRR ? regs.tmr : regs.irr;
      return set[(offset >>> 4) & 7] >>> 0;
    }
    if (offset >= REG_LVT_FIRST && offset <= REG_LVT_LAST) return regs.lvt[(offset - REG_LVT_FIRST) >>> 4] >>> 0;
    switch (offset) {
      case REG_ID: return regs.id >>> 0;
      case REG_VERSION: return LOCAL_APIC_VERSION;
      case REG_TPR: return regs.tpr;
      case REG_APR: return this.arbitrationPriority();
      case REG_PPR: return this.processorPriority();
      case REG_EOI: return 0;
      case REG_LDR: return regs.ldr >>> 0;
      case REG_DFR: return regs.dfr >>> 0;
      case REG_SVR: return regs.svr;
      case REG_ESR: return regs.esr;
      case REG_ICR_LOW: return regs.icrLow; // delivery status (bit 12) is always idle
      case REG_ICR_HIGH: return regs.icrHigh >>> 0;
      case REG_TIMER_INITIAL: return regs.initialCount;
      case REG_TIMER_CURRENT: return this.currentCount();
      case REG_TIMER_DIVIDE: return regs.divideConfig;
    }
    this.logErrors(ESR_ILLEGAL_REGISTER);
    return 0;
  }

  /** Register write at a 16-byte aligned offset; read-only registers ignore it. */
  write32(offset: number, value: number): void {
    checkAligned(offset);
    const regs = this.regs;
    value >>>= 0;
    if (offset >= REG_ISR && offset < REG_ESR) return;
    if (offset >= REG_LVT_FIRST && offset <= REG_LVT_LAST) {
      const index = (offset - REG_LVT_FIRST) >>> 4;
      // A software-disabled APIC keeps every LVT entry masked.
      regs.lvt[index] = (value & LVT_WRITABLE[index]) | (this.softwareEnabled ? 0 : LVT_MASKED);
      if (index === LVT_LINT0) this.onExtIntGateChange?.();
      return;
    }
    switch (offset) {
      case REG_ID: regs.id = value & 0xff000000; return;
      case REG_TPR: regs.tpr = value & 0xff; this.updateInterrupt(); return;
      case REG_EOI: this.endOfInterrupt(); return;
      case REG_LDR: regs.ldr = value & 0xff000000; return;
      case REG_DFR: regs.dfr = (value | ~DFR_WRITABLE) >>> 0; return;
      case REG_SVR: this.writeSpuriousVector(value); return;
      case REG_ESR: regs.esr = regs.pendingErrors; regs.pendingErrors = 0; return;
      case REG_ICR_LOW: regs.icrLow = value & ICR_LOW_WRITABLE; this.sendIpi(); return;
      case REG_ICR_HIGH: regs.icrHigh = value & 0xff000000; return;
      case REG_TIMER_INITIAL: regs.initialCount = value; this.startTimer(value); return;
      case REG_TIMER_DIVIDE: this.writeDivideConfig(value); return;
      case REG_VERSION: case REG_APR: case REG_PPR: case REG_TIMER_CURRENT: return;
    }
    this.logErrors(ESR_ILLEGAL_REGISTER);
  }

  /** Power-on/RESET state: software-disabled, all LVT entries masked, timer stopped. */
  reset(): void {
    this.stopTimer();
    this.regs = powerOnRegisters(this.initialId);
    this.latchOffset = -1;
    this.updateInterrupt();
  }

  saveState(): ApicSnapshot {
    const regs = this.regs;
    return {
      ...regs,
      lvt: [...regs.lvt],
      irr: [...regs.irr],
      isr: [...regs.isr],
      tmr: [...regs.tmr],
      timer: this.timerEvent === 0 ? null : { count: this.timerBaseCount, elapsedNs: this.scheduler.nowNs - this.timerBaseNs },
    };
  }

  /** Restores a snapshot; a running countdown resumes with the time it had left when saved. */
  loadState(state: unknown): void {
    const snapshot = state as Partial<ApicSnapshot> | null;
    const sets = snapshot === null || typeof snapshot !== 'object' ? [] : [snapshot.lvt, snapshot.irr, snapshot.isr, snapshot.tmr];
    if (sets.length === 0 || !sets.every(Array.isArray) || snapshot!.timer === undefined) {
      throw new Error(`${this.name}: snapshot is not a local APIC state`);
    }
    const { timer, ...regs } = snapshot as ApicSnapshot;
    this.stopTimer();
    this.regs = { ...regs, lvt: [...regs.lvt], irr: [...regs.irr], isr: [...regs.isr], tmr: [...regs.tmr] };
    this.latchOffset = -1;
    if (timer !== null) this.runTimer(timer.count, this.scheduler.nowNs - timer.elapsedNs);
    this.updateInterrupt();
  }

  private readByte(offset: number): number {
    const byte = offset & 0xf;
    if (byte >= 4) return 0;
    return (this.read32(offset - byte) >>> (byte * 8)) & 0xff;
  }

  private writeByte(offset: number, value: number): void {
    const byte = offset & 0xf;
    if (byte >= 4) return;
    const dword = offset - byte;
    if (this.latchOffset !== dword) {
      this.latchOffset = dword;
      this.latchValue = 0;
    }
    const shift = byte * 8;
    this.latchValue = (this.latchValue & ~(0xff << shift)) | ((value & 0xff) << shift);
    if (byte === 3) {
      this.latchOffset = -1;
      this.write32(dword, this.latchValue);
    }
  }

  /** PPR: the TPR, or the class of the highest in-service vector when that is higher (SDM 10.8.3.1). */
  private processorPriority(): number {
    const tpr = this.regs.tpr;
    const inService = highestVector(this.regs.isr);
    return priorityClass(tpr) >= priorityClass(inService) ? tpr : priorityClass(inService) << 4;
  }

  /** APR (SDM 10.8.3.1): the TPR unless a pending or in-service class is at or above it. */
  private arbitrationPriority(): number {
    const tprClass = priorityClass(this.regs.tpr);
    const requestedClass = priorityClass(highestVector(this.regs.irr));
    const inServiceClass = priorityClass(highestVector(this.regs.isr));
    if (tprClass >= requestedClass && tprClass > inServiceClass) return this.regs.tpr;
    return Math.max(tprClass, requestedClass, inServiceClass) << 4;
  }

  private endOfInterrupt(): void {
    const vector = highestVector(this.regs.isr);
    if (vector < 0) return;
    setBit(this.regs.isr, vector, false);
    this.updateInterrupt();
    if (testBit(this.regs.tmr, vector)) this.onLevelEndOfInterrupt?.(vector);
  }

  private writeSpuriousVector(value: number): void {
    const regs = this.regs;
    regs.svr = value & SVR_WRITABLE;
    // Software disable sets every LVT mask bit; enabling again leaves them set (SDM 10.4.7.2).
    if (!this.softwareEnabled) regs.lvt = regs.lvt.map((entry) => entry | LVT_MASKED);
    this.updateInterrupt();
    this.onExtIntGateChange?.();
  }

  /** Errors go to the pending ESR bits and raise the error LVT entry, unless it is masked. */
  private logErrors(bits: number): void {
    const regs = this.regs;
    regs.pendingErrors |= bits;
    const entry = regs.lvt[LVT_ERROR];
    if (entry & LVT_MASKED) return;
    // An illegal error vector is itself a receive error; logging it again would only loop.
    if ((entry & 0xff) < 16) regs.pendingErrors |= ESR_RECEIVE_ILLEGAL_VECTOR;
    else this.accept(entry & 0xff);
  }

  /** Writing ICR low sends the IPI at once; only this processor can be its target. */
  private sendIpi(): void {
    const icr = this.regs.icrLow;
    const vector = icr & 0xff;
    const mode = (icr >>> 8) & 7;
    const shorthand = (icr >>> 18) & 3;
    const toSelf =
      shorthand === SHORTHAND_SELF ||
      shorthand === SHORTHAND_ALL_INCLUDING_SELF ||
      (shorthand === SHORTHAND_NONE && this.isDestination(this.regs.icrHigh >>> 24, (icr & ICR_LOGICAL) !== 0));
    switch (mode) {
      case MODE_FIXED:
      case MODE_LOWEST_PRIORITY:
        if (vector < 16) this.logErrors(ESR_SEND_ILLEGAL_VECTOR);
        else if (toSelf) this.accept(vector, (icr & ICR_LEVEL_TRIGGERED) !== 0);
        return;
      case MODE_NMI:
        if (toSelf) this.onNmi?.();
        return;
      case MODE_INIT:
        // INIT level de-assert only synchronises arbitration IDs; it reaches no processor.
        if (toSelf && !((icr & ICR_LEVEL_TRIGGERED) !== 0 && (icr & ICR_LEVEL_ASSERT) === 0)) this.onInitOrStartup?.('init', 0);
        return;
      case MODE_STARTUP:
        if (toSelf) this.onInitOrStartup?.('startup', vector);
        return;
    }
    // SMI (no SMM here) and the reserved mode reach nothing.
  }

  /** Destination match: physical ID, or the flat/cluster logical models of the DFR (SDM 10.6.2). */
  private isDestination(destination: number, logical: boolean): boolean {
    if (destination === BROADCAST_ID) return true;
    if (!logical) return destination === this.regs.id >>> 24;
    const logicalId = this.regs.ldr >>> 24;
    if (this.regs.dfr >>> 28 === 0xf) return (destination & logicalId) !== 0;
    const cluster = destination >>> 4;
    return (cluster === 0xf || cluster === logicalId >>> 4) && (destination & logicalId & 0xf) !== 0;
  }

  // ---- timer ----

  /** Virtual nanoseconds per count at the current divide configuration (1, 2, 4, ... 128). */
  private nsPerCount(): number {
    const code = ((this.regs.divideConfig >>> 1) & 4) | (this.regs.divideConfig & 3);
    const divisor = code === 7 ? 1 : 2 << code;
    return (divisor * 1e9) / this.busHz;
  }

  private currentCount(): number {
    if (this.timerEvent === 0) return 0;
    const elapsedCounts = Math.floor((this.scheduler.nowNs - this.timerBaseNs) / this.nsPerCount());
    return Math.max(this.timerBaseCount - elapsedCounts, 0);
  }

  /** Writing the initial count restarts the countdown from it; 0 stops the timer. */
  private startTimer(count: number): void {
    this.stopTimer();
    if (count !== 0) this.runTimer(count, this.scheduler.nowNs);
  }

  /** A new divisor applies from now on to the count reached so far. */
  private writeDivideConfig(value: number): void {
    const count = this.currentCount();
    const running = this.timerEvent !== 0;
    this.regs.divideConfig = value & DIVIDE_WRITABLE;
    if (!running) return;
    this.stopTimer();
    this.runTimer(count, this.scheduler.nowNs);
  }

  private runTimer(count: number, fromNs: number): void {
    this.timerBaseCount = count;
    this.timerBaseNs = fromNs;
    this.timerEvent = this.scheduler.schedule(fromNs + count * this.nsPerCount(), this.timerExpired, 'local-apic timer');
  }

  private stopTimer(): void {
    if (this.timerEvent !== 0) this.scheduler.cancel(this.timerEvent);
    this.timerEvent = 0;
  }

  /** The count reached 0: interrupt unless masked, and reload in periodic mode. */
  private readonly timerExpired = (atNs: number): void => {
    this.timerEvent = 0;
    const entry = this.regs.lvt[LVT_TIMER];
    if (entry & LVT_TIMER_PERIODIC) this.runTimer(this.regs.initialCount, atNs);
    if ((entry & LVT_MASKED) === 0) this.accept(entry & 0xff);
  };

  private updateInterrupt(): void {
    const pending = this.hasInterrupt();
    if (pending === this.pending) return;
    this.pending = pending;
    for (const listener of this.interruptListeners) listener(pending);
  }
}
