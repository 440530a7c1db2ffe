import type { Device } from './device.js';
import type { IoBus } from './bus/io-bus.js';
import type { IrqLine } from './bus/irq-line.js';
import type { Scheduler } from '../core/machine/scheduler.js';
import { fromBcd, toBcd } from './bcd.js';

/** The PC's PIT input clock: 14.31818 MHz / 12. */
export const PIT_HZ = 1_193_182;
const NS_PER_SECOND = 1_000_000_000;
/** Port 0x61 bit 4 follows the DRAM refresh request, one flip per 15.085 µs on every PC since the AT. */
export const REFRESH_TOGGLE_NS = 15_085;

const PORT_COUNTER0 = 0x40;
const PORT_CONTROL = 0x43;
const PORT_B = 0x61;

const CONTROL_READ_BACK = 0xc0;
const READ_BACK_NO_COUNT = 0x20;
const READ_BACK_NO_STATUS = 0x10;
const STATUS_OUTPUT = 0x80;
const STATUS_NULL_COUNT = 0x40;

const RW_LSB = 1;
const RW_MSB = 2;
const RW_WORD = 3;

const PORT_B_GATE2 = 0x01;
const PORT_B_WRITABLE = 0x0f;
const PORT_B_REFRESH = 0x10;
const PORT_B_OUT2 = 0x20;

/** Input clocks that have happened by virtual time `ns`; clock k falls at ceil(k·10⁹ / PIT_HZ) ns. */
export function pitTicksAt(ns: number): number {
  // Split off whole seconds so every product stays an exact integer below 2^53.
  const whole = Math.floor(ns);
  const seconds = Math.floor(whole / NS_PER_SECOND);
  const rest = whole - seconds * NS_PER_SECOND;
  return seconds * PIT_HZ + Math.floor((rest * PIT_HZ) / NS_PER_SECOND);
}

/** Virtual time (ns) of input clock `tick`: the first nanosecond at which pitTicksAt reaches it. */
export function pitTickTimeNs(tick: number): number {
  const seconds = Math.floor(tick / PIT_HZ);
  const rest = tick - seconds * PIT_HZ;
  return seconds * NS_PER_SECOND + Math.ceil((rest * NS_PER_SECOND) / PIT_HZ);
}



/** Modes 6 and 7 are aliases of 2 and 3. */
function modeOf(control: number): number {
  const mode = (control >> 1) & 7;
  return mode > 5 ? mode - 4 : mode;
}

/**
 * OUT of a counter whose counting element took `value` at its load clock, `e` >= 0 clocks later.
 * `phase` starts mode 3 part-way into its period; `tcPending` says a one-shot has not yet fired.
 */
function outputAt(mode: number, value: number, phase: number, tcPending: boolean, e: number): boolean {
  switch (mode) {
    case 0:
    case 1:
      return !tcPending || e >= value;
    case 2:
      return e % value !== value - 1;
    case 3:
      return (e + phase) % value < (value + 1) >> 1;
    default:
      return !tcPending || e !== value;
  }
}

/** The counting element `e` clocks after its load (0 <= result < modulus; 65536 and 10000 read as 0). */
function countAt(mode: number, value: number, phase: number, modulus: number, e: number): number {
  if (mode === 2) return (value - (e % value)) % modulus;
  if (mode === 3) {
    const p = (e + phase) % value;
    const high = (value + 1) >> 1;
    // Odd counts load N-1 and spend one extra clock at 0 before going low (datasheet, mode 3).
    if (value & 1) return p < high ? value - 1 - 2 * p : value - 1 - 2 * (p - high);
    return (value - 2 * (p % (value / 2))) % modulus;
  }
  return (((value - e) % modulus) + modulus) % modulus;
}

/** The first e' > e at which OUT differs from OUT at e, or null if it never changes. */
function nextOutputChange(mode: number, value: number, phase: number, tcPending: boolean, e: number): number | null {
  switch (mode) {
    case 0:
    case 1:
      return tcPending && e < value ? value : null;
    case 2: {
      if (value === 1) return null;
      const p = e % value;
      return p < value - 1 ? e + value - 1 - p : e + 1;
    }
    case 3: {
      if (value === 1) return null;
      const p = (e + phase) % value;
      const high = (value + 1) >> 1;
      return p < high ? e + high - p : e + value - p;
    }
    default:
      if (!tcPending || e > value) return null;
      return e < value ? value : value + 1;
  }
}

/** One counter. Plain data, so it is also the snapshot. */
interface Counter {
  /** Control word bits 5-0 as last written (RW, mode, BCD): the status byte shows them verbatim. */
  control: number;
  countRegister: number;
  /** A whole count has been written since the control word (triggers in modes 1, 2, 3, 5 need one). */
  countWritten: boolean;
  /** LSB-then-MSB writes: the LSB is in and the MSB is next. */
  writeMsbNext: boolean;
  pendingLsb: number;
  readMsbNext: boolean;
  latchedCount: number;
  /** Bytes of latchedCount still to read; 0 when the output latch follows the counting element. */
  latchedBytes: number;
  latchedStatus: number | null;
  gate: boolean;
  /** The counting element holds a count given since the control word; otherwise it shows heldCount and idleOut. */
  loaded: boolean;
  /** Counting (modes 0 and 4 stop while GATE is low; modes 2 and 3 then fall back to not loaded). */
  running: boolean;
  /** Load clock: the CE holds `value` at this clock and counts from the next one. */
  baseTick: number;
  value: number;
  phase: number;
  tcPending: boolean;
  /** OUT between the write or trigger and the load clock. */
  outBeforeLoad: boolean;
  heldCount: number;
  idleOut: boolean;
  nullCount: boolean;
  /** Clock at which the count register reaches the CE and NULL COUNT clears; null: when a trigger comes. */
  nullCountClearTick: number | null;
  /** Modes 2 and 3: a new count written while counting takes over at this clock. */
  reloadTick: number | null;
  /** Mode 3: that reload ends a high half-cycle, so the new count starts in its low half. */
  reloadIntoLowHalf: boolean;
}

interface PitSnapshot {
  counters: Counter[];
  portB: number;
  savedAtTick: number;
}

/** Power-on state is undefined; we choose mode 0 with no count, so OUT is low and nothing counts. */
function powerOnCounter(gate: boolean): Counter {
  return {
    control: 0x30,
    countRegister: 0,
    countWritten: false,
    writeMsbNext: false,
    pendingLsb: 0,
    readMsbNext: false,
    latchedCount: 0,
    latchedBytes: 0,
    latchedStatus: null,
    gate,
    loaded: false,
    running: false,
    baseTick: 0,
    value: 1,
    phase: 0,
    tcPending: false,
    outBeforeLoad: false,
    heldCount: 0,
    idleOut: false,
    nullCount: false,
    nullCountClearTick: null,
    reloadTick: null,
    reloadIntoLowHalf: false,
  };
}

/**
 * Intel 8254 programmable interval timer as wired in a PC: counters 0-2 at ports 0x40-0x42, the
 * control word at 0x43; counter 0 drives IRQ 0, counters 0 and 1 have GATE tied high, counter 2's
 * GATE and OUT sit in port 0x61 (bits 0 and 5) next to the speaker data enable (bit 1).
 *
 * Nothing ticks: each counter remembers the input clock at which its counting element was
 * loaded and computes count and OUT from the virtual clock when asked. Only counter 0 schedules
 * events, one per OUT edge, so IRQ 0 rises exactly when OUT goes high. Between a count write and
 * the load clock (under 0.84 µs) the count reads as the new value, where the chip shows the old
 * or an undefined one.
 */
export class Pit8254 implements Device {
  readonly name = 'PIT';
  private counters: Counter[] = [];
  private portB = 0;
  private irqEvent: number | null = null;

  constructor(
    io: IoBus,
    private readonly scheduler: Scheduler,
    private readonly irq0: IrqLine,
  ) {
    io.register(
      PORT_COUNTER0,
      4,
      {
        // The control register is write-only: reading it finds the data bus floating.
        read8: (port) => (port === PORT_CONTROL ? 0xff : this.readCounter(port - PORT_COUNTER0)),
        write8: (port, value) => {
          if (port === PORT_CONTROL) this.writeControl(value);
          else this.writeCounter(port - PORT_COUNTER0, value);
        },
      },
      this.name,
    );
    io.register(PORT_B, 1, { read8: () => this.readPortB(), write8: (_port, value) => this.writePortB(value) }, this.name);
    this.reset();
  }

  reset(): void {
    this.counters = [powerOnCounter(true), powerOnCounter(true), powerOnCounter(false)];
    this.portB = 0;
    this.updateIrq0();
  }

  /** Ticks are absolute; loadState shifts them if the clock then differs from the clock now. */
  saveState(): PitSnapshot {
    const tick = this.nowTick();
    this.counters.forEach((counter) => this.catchUp(counter, tick));
    return { counters: this.counters.map((counter) => ({ ...counter })), portB: this.portB, savedAtTick: tick };
  }

  loadState(state: unknown): void {
    const snapshot = state as Partial<PitSnapshot> | null;
    if (
      typeof snapshot !== 'object' ||
      snapshot === null ||
      !Array.isArray(snapshot.counters) ||
      snapshot.counters.length !== 3 ||
      !snapshot.counters.every((counter: Partial<Counter> | null) => typeof counter?.baseTick === 'number') ||
      typeof snapshot.portB !== 'number' ||
      typeof snapshot.savedAtTick !== 'number'
    ) {
      throw new Error(`${this.name}: snapshot is not an 8254 PIT state`);
    }
    const shift = this.nowTick() - snapshot.savedAtTick;
    const moved = (tick: number | null) => (tick === null ? null : tick + shift);
    this.counters = snapshot.counters.map((counter) => ({
      ...counter,
      baseTick: counter.baseTick + shift,
      nullCountClearTick: moved(counter.nullCountClearTick),
      reloadTick: moved(counter.reloadTick),
    }));
    this.portB = snapshot.portB;
    this.updateIrq0();
  }

  private nowTick(): number {
    return pitTicksAt(this.scheduler.nowNs);
  }

  private modulus(counter: Counter): number {
    return counter.control & 1 ? 10_000 : 0x10000;
  }

  /** The count register as the CE takes it: 0 stands for 2^16, or 10^4 in BCD. */
  private initialCount(counter: Counter): number {
    const raw = counter.countRegister;
    return counter.control & 1 ? fromBcd(raw, 4) || 10_000 : raw || 0x10000;
  }

  /** Applies a mode 2/3 reload that has come due. */
  private catchUp(counter: Counter, tick: number): void {
    if (counter.reloadTick === null || tick < counter.reloadTick) return;
    const value = this.initialCount(counter);
    counter.baseTick = counter.reloadTick;
    counter.value = value;
    counter.phase = counter.reloadIntoLowHalf ? (value + 1) >> 1 : 0;
    counter.reloadTick = null;
  }

  private elapsed(counter: Counter, tick: number): number {
    return counter.running ? Math.max(0, tick - counter.baseTick) : 0;
  }

  private output(counter: Counter, tick: number): boolean {
    if (!counter.loaded) return counter.idleOut;
    if (counter.running && tick < counter.baseTick) return counter.outBeforeLoad;
    const mode = modeOf(counter.control);
    return outputAt(mode, counter.value, counter.phase, counter.tcPending, this.elapsed(counter, tick));
  }

  /** The counting element as a binary number (BCD conversion happens on the way out). */
  private count(counter: Counter, tick: number): number {
    if (!counter.loaded) return counter.heldCount;
    const mode = modeOf(counter.control);
    return countAt(mode, counter.value, counter.phase, this.modulus(counter), this.elapsed(counter, tick));
  }

  private nullCountAt(counter: Counter, tick: number): boolean {
    return counter.nullCount && (counter.nullCountClearTick === null || tick < counter.nullCountClearTick);
  }

  private status(counter: Counter, tick: number): number {
    return (
      (this.output(counter, tick) ? STATUS_OUTPUT : 0) | (this.nullCountAt(counter, tick) ? STATUS_NULL_COUNT : 0) | counter.control
    );
  }

  /** The next clock at which OUT may change, or null while it holds still. */
  private nextChangeTick(counter: Counter, tick: number): number | null {
    if (!counter.loaded || !counter.running) return null;
    const mode = modeOf(counter.control);
    const { value, phase, tcPending, baseTick } = counter;
    let next: number | null;
    if (tick < baseTick && outputAt(mode, value, phase, tcPending, 0) !== counter.outBeforeLoad) {
      next = baseTick;
    } else {
      const after = nextOutputChange(mode, value, phase, tcPending, Math.max(0, tick - baseTick));
      next = after === null ? null : baseTick + after;
    }
    if (counter.reloadTick !== null && (next === null || counter.reloadTick < next)) next = counter.reloadTick;
    return next;
  }

  /** Mirrors OUT0 onto IRQ 0 and sleeps until its next edge. */
  private updateIrq0(): void {
    const counter = this.counters[0];
    const tick = this.nowTick();
    this.catchUp(counter, tick);
    this.irq0.set(this.output(counter, tick));
    if (this.irqEvent !== null) this.scheduler.cancel(this.irqEvent);
    this.irqEvent = null;
    const next = this.nextChangeTick(counter, tick);
    if (next === null) return;
    this.irqEvent = this.scheduler.schedule(
      pitTickTimeNs(next),
      () => {
        this.irqEvent = null;
        this.updateIrq0();
      },
      'PIT counter 0 OUT edge',
    );
  }

  private changed(index: number): void {
    if (index === 0) this.updateIrq0();
  }

  private writeControl(value: number): void {
    const tick = this.nowTick();
    if ((value & CONTROL_READ_BACK) === CONTROL_READ_BACK) {
      this.readBack(value, tick);
      return;
    }
    const index = value >> 6;
    const counter = this.counters[index];
    this.catchUp(counter, tick);
    if ((value & 0x30) === 0) {
      this.latchCount(counter, tick);
      return;
    }
    // A control word resets the counter's logic: the CE stops where it is until a count arrives.
    counter.heldCount = this.count(counter, tick);
    counter.control = value & 0x3f;
    counter.idleOut = modeOf(value) !== 0;
    counter.loaded = false;
    counter.running = false;
    counter.countWritten = false;
    counter.writeMsbNext = false;
    counter.readMsbNext = false;
    counter.latchedBytes = 0;
    counter.latchedStatus = null;
    counter.nullCount = true;
    counter.nullCountClearTick = null;
    counter.reloadTick = null;
    this.changed(index);
  }

  /** Counter latch command; a second one before the first is read is ignored. */
  private latchCount(counter: Counter, tick: number): void {
    if (counter.latchedBytes !== 0) return;
    counter.latchedCount = this.latchValue(counter, tick);
    counter.latchedBytes = ((counter.control >> 4) & 3) === RW_WORD ? 2 : 1;
  }

  private latchValue(counter: Counter, tick: number): number {
    const count = this.count(counter, tick);
    return counter.control & 1 ? toBcd(count, 4) : count;
  }

  /** Read-back command: bits 3-1 select counters, bit 5 clear latches counts, bit 4 clear latches status. */
  private readBack(value: number, tick: number): void {
    for (let index = 0; index < 3; index++) {
      if ((value & (2 << index)) === 0) continue;
      const counter = this.counters[index];
      this.catchUp(counter, tick);
      if ((value & READ_BACK_NO_COUNT) === 0) this.latchCount(counter, tick);
      if ((value & READ_BACK_NO_STATUS) === 0 && counter.latchedStatus === null) {
        counter.latchedStatus = this.status(counter, tick);
      }
    }
  }

  private readCounter(index: number): number {
    const counter = this.counters[index];
    const tick = this.nowTick();
    this.catchUp(counter, tick);
    if (counter.latchedStatus !== null) {
      const status = counter.latchedStatus;
      counter.latchedStatus = null;
      return status;
    }
    if (counter.latchedBytes !== 0) {
      const rw = (counter.control >> 4) & 3;
      const high = rw === RW_MSB || (rw === RW_WORD && counter.latchedBytes === 1);
      counter.latchedBytes--;
      return high ? counter.latchedCount >> 8 : counter.latchedCount & 0xff;
    }
    const value = this.latchValue(counter, tick);
    switch ((counter.control >> 4) & 3) {
      case RW_LSB:
        return value & 0xff;
      case RW_MSB:
        return value >> 8;
      default:
        counter.readMsbNext = !counter.readMsbNext;
        return counter.readMsbNext ? value & 0xff : value >> 8;
    }
  }

  private writeCounter(index: number, byte: number): void {
    const counter = this.counters[index];
    const tick = this.nowTick();
    this.catchUp(counter, tick);
    switch ((counter.control >> 4) & 3) {
      case RW_LSB:
        this.countArrived(counter, byte, tick);
        break;
      case RW_MSB:
        this.countArrived(counter, byte << 8, tick);
        break;
      default:
        if (counter.writeMsbNext) {
          counter.writeMsbNext = false;
          this.countArrived(counter, counter.pendingLsb | (byte << 8), tick);
        } else {
          counter.writeMsbNext = true;
          counter.pendingLsb = byte;
          if (modeOf(counter.control) === 0) this.stopForFirstByte(counter, tick);
        }
    }
    this.changed(index);
  }

  /** Mode 0: the first byte of a two-byte count stops counting and drives OUT low at once. */
  private stopForFirstByte(counter: Counter, tick: number): void {
    counter.heldCount = this.count(counter, tick);
    counter.loaded = false;
    counter.running = false;
    counter.idleOut = false;
    counter.nullCount = true;
    counter.nullCountClearTick = null;
  }

  /** Loads the count register into the CE at the next clock. */
  private loadNextClock(counter: Counter, tick: number, outBeforeLoad: boolean, running: boolean): void {
    counter.loaded = true;
    counter.running = running;
    counter.baseTick = tick + 1;
    counter.value = this.initialCount(counter);
    counter.phase = 0;
    counter.tcPending = true;
    counter.outBeforeLoad = outBeforeLoad;
    counter.reloadTick = null;
    if (counter.nullCount) counter.nullCountClearTick = tick + 1;
  }

  private countArrived(counter: Counter, countRegister: number, tick: number): void {
    counter.countRegister = countRegister;
    counter.countWritten = true;
    counter.nullCount = true;
    counter.nullCountClearTick = null;
    switch (modeOf(counter.control)) {
      case 0:
        this.loadNextClock(counter, tick, false, counter.gate);
        return;
      case 4:
        this.loadNextClock(counter, tick, this.output(counter, tick), counter.gate);
        return;
      case 2:
      case 3:
        this.newPeriodicCount(counter, tick);
        return;
      default:
        return; // modes 1 and 5 take the new count at the next trigger
    }
  }

  /** Modes 2 and 3: a running counter finishes its period (mode 3: its half-cycle) first. */
  private newPeriodicCount(counter: Counter, tick: number): void {
    if (!counter.loaded) {
      if (counter.gate) this.loadNextClock(counter, tick, true, true);
      return;
    }
    if (tick < counter.baseTick) {
      // Not loaded yet: the load clock takes the newest count.
      counter.value = this.initialCount(counter);
      counter.nullCountClearTick = counter.baseTick;
      return;
    }
    if (counter.reloadTick === null) {
      const e = tick - counter.baseTick;
      const { value, phase } = counter;
      if (modeOf(counter.control) === 2) {
        counter.reloadTick = counter.baseTick + e + value - (e % value);
        counter.reloadIntoLowHalf = false;
      } else {
        const p = (e + phase) % value;
        const high = (value + 1) >> 1;
        counter.reloadIntoLowHalf = p < high;
        counter.reloadTick = counter.baseTick + e + (p < high ? high - p : value - p);
      }
    }
    counter.nullCountClearTick = counter.reloadTick;
  }

  private setGate(index: number, level: boolean): void {
    const counter = this.counters[index];
    if (counter.gate === level) return;
    const tick = this.nowTick();
    this.catchUp(counter, tick);
    counter.gate = level;
    const mode = modeOf(counter.control);
    if (mode === 0 || mode === 4) {
      if (counter.loaded) {
        if (level) this.resume(counter, tick);
        else this.pause(counter, tick);
      }
    } else if (level) {
      // A rising GATE triggers modes 1 and 5 and restarts modes 2 and 3 from the count register.
      if (counter.countWritten) this.loadNextClock(counter, tick, mode === 2 || mode === 3 || this.output(counter, tick), true);
    } else if (mode === 2 || mode === 3) {
      // GATE low stops the count and forces OUT high; the next rising edge reloads anyway.
      counter.heldCount = this.count(counter, tick);
      counter.loaded = false;
      counter.running = false;
      counter.idleOut = true;
      counter.reloadTick = null;
      if (this.nullCountAt(counter, tick)) counter.nullCountClearTick = null;
    }
    this.changed(index);
  }

  /** Modes 0 and 4, GATE low: rebase the CE at this clock so it resumes where it stopped. */
  private pause(counter: Counter, tick: number): void {
    if (counter.running && tick >= counter.baseTick) {
      const e = tick - counter.baseTick;
      const mode = modeOf(counter.control);
      const pending = counter.tcPending && (mode === 0 ? e < counter.value : e <= counter.value);
      counter.value = pending ? counter.value - e : this.count(counter, tick);
      counter.tcPending = pending;
      counter.baseTick = tick;
    }
    counter.running = false;
  }

  private resume(counter: Counter, tick: number): void {
    counter.baseTick = Math.max(tick, counter.baseTick);
    counter.running = true;
  }

  private readPortB(): number {
    const refresh = Math.floor(this.scheduler.nowNs / REFRESH_TOGGLE_NS) & 1 ? PORT_B_REFRESH : 0;
    const counter2 = this.counters[2];
    const tick = this.nowTick();
    this.catchUp(counter2, tick);
    return this.portB | refresh | (this.output(counter2, tick) ? PORT_B_OUT2 : 0);
  }

  private writePortB(value: number): void {
    this.portB = value & PORT_B_WRITABLE;
    this.setGate(2, (value & PORT_B_GATE2) !== 0);
  }
}
