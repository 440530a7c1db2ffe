import type { Device } from './device.js';
import type { IoBus } from './bus/io-bus.js';
import type { IrqLine } from './bus/irq-line.js';
import type { Scheduler } from '../core/machine/scheduler.js';
import { fromBcd, toBcd } from './bcd.js';

const PORT_INDEX = 0x70;
const PORT_DATA = 0x71;
const CMOS_SIZE = 128;
const INDEX_MASK = 0x7f;
const NMI_MASK_BIT = 0x80;

const SECONDS = 0x00;
const SECONDS_ALARM = 0x01;
const MINUTES = 0x02;
const MINUTES_ALARM = 0x03;
const HOURS = 0x04;
const HOURS_ALARM = 0x05;
const DAY_OF_WEEK = 0x06;
const DATE = 0x07;
const MONTH = 0x08;
const YEAR = 0x09;
const REG_A = 0x0a;
const REG_B = 0x0b;
const REG_C = 0x0c;
const REG_D = 0x0d;

const A_UIP = 0x80;
const A_DIVIDER = 0x70;
const A_RATE = 0x0f;
/** DV2-0 = 010: the 32.768 kHz time base every PC uses; any other value holds the chain still. */
const DIVIDER_32K = 0x20;

const B_SET = 0x80;
const B_PIE = 0x40;
const B_AIE = 0x20;
const B_UIE = 0x10;
const B_SQWE = 0x08;
const B_DM_BINARY = 0x04;
const B_24_HOUR = 0x02;

const C_IRQF = 0x80;
const C_PF = 0x40;
const C_AF = 0x20;
const C_UF = 0x10;

const D_VRT = 0x80;
const HOURS_PM = 0x80;
/** Alarm bytes 0xC0-0xFF match any value. */
const ALARM_DONT_CARE = 0xc0;

/** What a PC BIOS leaves in A and B: 32.768 kHz, 1024 Hz periodic rate; 24-hour BCD, no interrupts. */
const POWER_ON_A = 0x26;
const POWER_ON_B = 0x02;

const BASE_MEMORY = 0x15;
const EXTENDED_MEMORY = 0x17;
const CHECKSUM_FIRST = 0x10;
const CHECKSUM_LAST = 0x2d;
const CHECKSUM = 0x2e;
const EXTENDED_MEMORY_COPY = 0x30;
const CENTURY = 0x32;
const MEMORY_ABOVE_16M = 0x34;

const KIB = 1024;
const MIB = 1024 * KIB;
const BASE_MEMORY_KIB = 640;
const WORD_MAX = 0xffff;

const NS_PER_SECOND = 1_000_000_000;
const TIME_BASE_HZ = 32_768;
const HALF_SECOND_NS = NS_PER_SECOND / 2;
/** tBUC: UIP rises this long before an update cycle (datasheet table 6). */
const UIP_LEAD_NS = 244_000;
/** tUC for the 32.768 kHz time base: UIP stays high this long, then UF (and AF) are set. */
const UPDATE_CYCLE_NS = 1_984_000;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

export interface RtcCmosOptions {
  /** What the clock shows at the virtual time of construction: a Date or ms since the epoch (UTC). */
  startTime: Date | number;
  /** Guest RAM, for the memory-size bytes. */
  memorySizeBytes: number;
}

interface RtcSnapshot {
  cmos: number[];
  index: number;
  nmiMasked: boolean;
  originNs: number;
  nextUpdateNs: number | null;
  updateEndNs: number | null;
  periodicSinceNs: number;
  savedAtNs: number;
}

/** Calendar fields as plain numbers: hours 0-23, dayOfWeek 1-7 (Sunday = 1), year 0-99. */
interface ClockFields {
  seconds: number;
  minutes: number;
  hours: number;
  dayOfWeek: number;
  date: number;
  month: number;
  year: number;
}



/** Time-base cycles of the divider chain, `ns` after its origin (cycle k at ceil(k·10⁹/32768) ns). */
function timeBaseCyclesAt(ns: number): number {
  const seconds = Math.floor(ns / NS_PER_SECOND);
  const rest = ns - seconds * NS_PER_SECOND;
  return seconds * TIME_BASE_HZ + Math.floor((rest * TIME_BASE_HZ) / NS_PER_SECOND);
}

function timeBaseCycleNs(cycle: number): number {
  const seconds = Math.floor(cycle / TIME_BASE_HZ);
  const rest = cycle - seconds * TIME_BASE_HZ;
  return seconds * NS_PER_SECOND + Math.ceil((rest * NS_PER_SECOND) / TIME_BASE_HZ);
}

/** Time-base cycles per periodic interrupt; RS 1 and 2 repeat rates 8 and 9 at 32.768 kHz. */
function periodCycles(rate: number): number {
  return rate <= 2 ? 1 << (rate + 6) : 1 << (rate - 1);
}

/** The chip's leap rule: every year divisible by 4, right for 1901-2099. */
function daysInMonth(month: number, year: number): number {
  if (month === 2 && year % 4 === 0) return 29;
  return DAYS_IN_MONTH[month - 1] ?? 31;
}

/** One second on, with the chip's carries; out-of-range bytes carry as soon as they pass the limit. */
function addSecond(time: ClockFields): void {
  if (++time.seconds < 60) return;
  time.seconds = 0;
  if (++time.minutes < 60) return;
  time.minutes = 0;
  if (++time.hours < 24) return;
  time.hours = 0;
  time.dayOfWeek = time.dayOfWeek >= 7 ? 1 : time.dayOfWeek + 1;
  if (++time.date <= daysInMonth(time.month, time.year)) return;
  time.date = 1;
  if (++time.month <= 12) return;
  time.month = 1;
  time.year = time.year >= 99 ? 0 : time.year + 1;
}

/**
 * Motorola MC146818 real-time clock with the PC's 128 bytes of CMOS RAM: index at port 0x70
 * (bit 7 masks NMI), data at 0x71, IRQ 8. Bytes 0-9 hold time, date and alarms; A-D control.
 *
 * The clock runs on virtual time only. The divider chain has an origin (a virtual time on a
 * second boundary); an event at every boundary starts an update cycle, which advances the time
 * bytes at once and sets UF (and AF on an alarm match) when it ends 1984 µs later. UIP is high
 * from 244 µs before the cycle to its end. PF is worked out from the origin when read, so the
 * periodic rate costs events only while PIE asks for interrupts. The daylight-saving bit (DSE)
 * is stored but ignored, and SQWE too: the PC does not wire the square-wave pin.
 */
export class RtcCmos implements Device {
  readonly name = 'RTC';
  private readonly cmos = new Uint8Array(CMOS_SIZE);
  private index = 0;
  private nmiMaskBit = false;
  private originNs = 0;
  private nextUpdateNs: number | null = null;
  private updateEndNs: number | null = null;
  /** PF counts periodic edges after this time (C read, rate or divider change). */
  private periodicSinceNs = 0;
  private updateEvent: number | null = null;
  private updateEndEvent: number | null = null;
  private periodicEvent: number | null = null;

  constructor(
    io: IoBus,
    private readonly scheduler: Scheduler,
    private readonly irq8: IrqLine,
    options: RtcCmosOptions,
  ) {
    const startMs = typeof options.startTime === 'number' ? options.startTime : options.startTime.getTime();
    if (!Number.isFinite(startMs)) throw new Error(`${this.name}: start time ${String(options.startTime)} is not a valid date`);
    const memory = options.memorySizeBytes;
    if (!Number.isSafeInteger(memory) || memory < 0) throw new Error(`${this.name}: memory size ${memory} is not a byte count`);
    // Port 0x70 is write-only on the AT: reads find the bus floating.
    io.register(
      PORT_INDEX,
      2,
      {
        read8: (port) => (port === PORT_DATA ? this.readRegister(this.index) : 0xff),
        write8: (port, value) => {
          if (port === PORT_DATA) this.writeRegister(this.index, value);
          else this.writeIndex(value);
        },
      },
      this.name,
    );
    this.powerOn(startMs, memory);
  }

  /** Port 0x70 bit 7 as last written: the machine holds NMI off while it is set. */
  get nmiMasked(): boolean {
    return this.nmiMaskBit;
  }

  /**
   * The RESET pin (tied to power-good on a PC): clears PIE, AIE, UIE, SQWE and the flags in C.
   * Time, alarms, A, the rest of B and the CMOS RAM are battery-backed and stay, as does the
   * divider's phase. The NMI mask comes up clear, as a BIOS leaves it.
   */
  reset(): void {
    const now = this.scheduler.nowNs;
    this.cmos[REG_B] &= ~(B_PIE | B_AIE | B_UIE | B_SQWE);
    this.cmos[REG_C] = 0;
    this.periodicSinceNs = now;
    this.index = 0;
    this.nmiMaskBit = false;
    this.rescheduleAll();
    this.updateIrq();
  }

  /** Times are absolute; loadState shifts them by the difference between the two clocks. */
  saveState(): RtcSnapshot {
    return {
      cmos: [...this.cmos],
      index: this.index,
      nmiMasked: this.nmiMaskBit,
      originNs: this.originNs,
      nextUpdateNs: this.nextUpdateNs,
      updateEndNs: this.updateEndNs,
      periodicSinceNs: this.periodicSinceNs,
      savedAtNs: this.scheduler.nowNs,
    };
  }

  loadState(state: unknown): void {
    const snapshot = state as Partial<RtcSnapshot> | null;
    const timeOrNull = (value: unknown) => value === null || typeof value === 'number';
    if (
      typeof snapshot !== 'object' ||
      snapshot === null ||
      !Array.isArray(snapshot.cmos) ||
      snapshot.cmos.length !== CMOS_SIZE ||
      typeof snapshot.index !== 'number' ||
      typeof snapshot.nmiMasked !== 'boolean' ||
      typeof snapshot.originNs !== 'number' ||
      !timeOrNull(snapshot.nextUpdateNs) ||
      !timeOrNull(snapshot.updateEndNs) ||
      typeof snapshot.periodicSinceNs !== 'number' ||
      typeof snapshot.savedAtNs !== 'number'
    ) {
      throw new Error(`${this.name}: snapshot is not an MC146818 RTC state`);
    }
    const shift = this.scheduler.nowNs - snapshot.savedAtNs;
    const moved = (ns: number | null | undefined) => (ns === null || ns === undefined ? null : ns + shift);
    this.cmos.set(snapshot.cmos);
    this.index = snapshot.index & INDEX_MASK;
    this.nmiMaskBit = snapshot.nmiMasked;
    this.originNs = snapshot.originNs + shift;
    this.nextUpdateNs = moved(snapshot.nextUpdateNs);
    this.updateEndNs = moved(snapshot.updateEndNs);
    this.periodicSinceNs = snapshot.periodicSinceNs + shift;
    this.rescheduleAll();
    this.updateIrq();
  }

  private powerOn(startMs: number, memorySizeBytes: number): void {
    const now = this.scheduler.nowNs;
    const wholeSecondMs = Math.floor(startMs / 1000) * 1000;
    const start = new Date(wholeSecondMs);
    this.cmos.fill(0);
    this.cmos[REG_A] = POWER_ON_A;
    this.cmos[REG_B] = POWER_ON_B;
    this.writeClock({
      seconds: start.getUTCSeconds(),
      minutes: start.getUTCMinutes(),
      hours: start.getUTCHours(),
      dayOfWeek: start.getUTCDay() + 1,
      date: start.getUTCDate(),
      month: start.getUTCMonth() + 1,
      year: start.getUTCFullYear() % 100,
    });
    this.cmos[CENTURY] = toBcd(Math.floor(start.getUTCFullYear() / 100) % 100, 2);
    this.writeMemorySizes(memorySizeBytes);
    this.writeChecksum();
    // The chain sits part-way into the current second, as far as the start time's fraction says.
    this.originNs = now - Math.round((startMs - wholeSecondMs) * 1e6);
    this.nextUpdateNs = this.originNs + NS_PER_SECOND;
    this.updateEndNs = null;
    this.periodicSinceNs = now;
    this.index = 0;
    this.nmiMaskBit = false;
    this.rescheduleAll();
    this.updateIrq();
  }

  private writeWord(offset: number, value: number): void {
    this.cmos[offset] = value & 0xff;
    this.cmos[offset + 1] = value >> 8;
  }

  private writeMemorySizes(bytes: number): void {
    const extendedKib = Math.min(WORD_MAX, Math.floor(Math.max(0, bytes - MIB) / KIB));
    const above16MBlocks = Math.min(WORD_MAX, Math.floor(Math.max(0, bytes - 16 * MIB) / (64 * KIB)));
    this.writeWord(BASE_MEMORY, Math.min(BASE_MEMORY_KIB, Math.floor(bytes / KIB)));
    this.writeWord(EXTENDED_MEMORY, extendedKib);
    this.writeWord(EXTENDED_MEMORY_COPY, extendedKib);
    this.writeWord(MEMORY_ABOVE_16M, above16MBlocks);
  }

  /** The AT BIOS checksum: sum of 0x10-0x2D, high byte at 0x2E. */
  private writeChecksum(): void {
    let sum = 0;
    for (let offset = CHECKSUM_FIRST; offset <= CHECKSUM_LAST; offset++) sum += this.cmos[offset];
    this.cmos[CHECKSUM] = (sum >> 8) & 0xff;
    this.cmos[CHECKSUM + 1] = sum & 0xff;
  }

  private get running(): boolean {
    return (this.cmos[REG_A] & A_DIVIDER) === DIVIDER_32K;
  }

  private fromRegister(raw: number): number {
    return this.cmos[REG_B] & B_DM_BINARY ? raw : fromBcd(raw, 2);
  }

  private toRegister(value: number): number {
    return this.cmos[REG_B] & B_DM_BINARY ? value : toBcd(value, 2);
  }

  /** Time bytes are read in the format B selects now: changing DM or 24/12 converts nothing. */
  private readClock(): ClockFields {
    const rawHours = this.cmos[HOURS];
    const hours =
      this.cmos[REG_B] & B_24_HOUR
        ? this.fromRegister(rawHours)
        : (this.fromRegister(rawHours & ~HOURS_PM) % 12) + (rawHours & HOURS_PM ? 12 : 0);
    return {
      seconds: this.fromRegister(this.cmos[SECONDS]),
      minutes: this.fromRegister(this.cmos[MINUTES]),
      hours,
      dayOfWeek: this.fromRegister(this.cmos[DAY_OF_WEEK]),
      date: this.fromRegister(this.cmos[DATE]),
      month: this.fromRegister(this.cmos[MONTH]),
      year: this.fromRegister(this.cmos[YEAR]),
    };
  }

  private writeClock(time: ClockFields): void {
    const hours =
      this.cmos[REG_B] & B_24_HOUR
        ? this.toRegister(time.hours)
        : this.toRegister(time.hours % 12 || 12) | (time.hours >= 12 ? HOURS_PM : 0);
    this.cmos[SECONDS] = this.toRegister(time.seconds);
    this.cmos[MINUTES] = this.toRegister(time.minutes);
    this.cmos[HOURS] = hours;
    this.cmos[DAY_OF_WEEK] = this.toRegister(time.dayOfWeek);
    this.cmos[DATE] = this.toRegister(time.date);
    this.cmos[MONTH] = this.toRegister(time.month);
    this.cmos[YEAR] = this.toRegister(time.year);
  }

  private alarmMatches(): boolean {
    const matches = (alarm: number, current: number) => alarm >= ALARM_DONT_CARE || alarm === current;
    return (
      matches(this.cmos[SECONDS_ALARM], this.cmos[SECONDS]) &&
      matches(this.cmos[MINUTES_ALARM], this.cmos[MINUTES]) &&
      matches(this.cmos[HOURS_ALARM], this.cmos[HOURS])
    );
  }

  private uip(now: number): boolean {
    if (!this.running || this.cmos[REG_B] & B_SET) return false;
    if (this.updateEndNs !== null && now < this.updateEndNs) return true;
    return this.nextUpdateNs !== null && now >= this.nextUpdateNs - UIP_LEAD_NS;
  }

  private periodsAt(ns: number): number {
    return Math.floor(timeBaseCyclesAt(ns - this.originNs) / periodCycles(this.cmos[REG_A] & A_RATE));
  }

  /** Sets PF if a periodic edge has passed since the last look, then looks from `now` on. */
  private settlePeriodic(now: number): void {
    if (this.running && this.cmos[REG_A] & A_RATE && this.periodsAt(now) > this.periodsAt(this.periodicSinceNs)) {
      this.cmos[REG_C] |= C_PF;
    }
    this.periodicSinceNs = now;
  }

  /** IRQF = PF·PIE + AF·AIE + UF·UIE; each flag in C sits at the bit of its enable in B. */
  private irqFlag(): boolean {
    return (this.cmos[REG_C] & this.cmos[REG_B] & (C_PF | C_AF | C_UF)) !== 0;
  }

  /** IRQF drives the (inverted, active-low) IRQ pin, so IRQ 8 is high exactly while IRQF is set. */
  private updateIrq(): void {
    this.irq8.set(this.irqFlag());
  }

  private cancel(handle: number | null): null {
    if (handle !== null) this.scheduler.cancel(handle);
    return null;
  }

  private rescheduleAll(): void {
    this.updateEvent = this.cancel(this.updateEvent);
    this.updateEndEvent = this.cancel(this.updateEndEvent);
    if (this.nextUpdateNs !== null) this.scheduleUpdate(this.nextUpdateNs);
    if (this.updateEndNs !== null) this.scheduleUpdateEnd(this.updateEndNs);
    this.schedulePeriodic();
  }

  private scheduleUpdate(atNs: number): void {
    this.nextUpdateNs = atNs;
    this.updateEvent = this.scheduler.schedule(atNs, (ns) => this.startUpdateCycle(ns), 'RTC update cycle');
  }

  private scheduleUpdateEnd(atNs: number): void {
    this.updateEndNs = atNs;
    this.updateEndEvent = this.scheduler.schedule(atNs, () => this.endUpdateCycle(), 'RTC update ended');
  }

  /** A second boundary of the divider: advance the time unless SET holds it. */
  private startUpdateCycle(ns: number): void {
    this.updateEvent = null;
    if (!(this.cmos[REG_B] & B_SET)) {
      const time = this.readClock();
      addSecond(time);
      this.writeClock(time);
      this.scheduleUpdateEnd(ns + UPDATE_CYCLE_NS);
    }
    this.scheduleUpdate(ns + NS_PER_SECOND);
  }

  private endUpdateCycle(): void {
    this.updateEndEvent = null;
    this.updateEndNs = null;
    this.cmos[REG_C] |= C_UF | (this.alarmMatches() ? C_AF : 0);
    this.updateIrq();
  }

  /** One event per periodic edge, but only while PIE turns edges into interrupts. */
  private schedulePeriodic(): void {
    this.periodicEvent = this.cancel(this.periodicEvent);
    const rate = this.cmos[REG_A] & A_RATE;
    if (!this.running || rate === 0 || !(this.cmos[REG_B] & B_PIE)) return;
    const next = (this.periodsAt(this.scheduler.nowNs) + 1) * periodCycles(rate);
    this.periodicEvent = this.scheduler.schedule(
      this.originNs + timeBaseCycleNs(next),
      (ns) => {
        this.periodicEvent = null;
        this.settlePeriodic(ns);
        this.updateIrq();
        this.schedulePeriodic();
      },
      'RTC periodic interrupt',
    );
  }

  private writeIndex(value: number): void {
    this.index = value & INDEX_MASK;
    this.nmiMaskBit = (value & NMI_MASK_BIT) !== 0;
  }

  private readRegister(index: number): number {
    const now = this.scheduler.nowNs;
    switch (index) {
      case REG_A:
        return this.cmos[REG_A] | (this.uip(now) ? A_UIP : 0);
      case REG_C: {
        this.settlePeriodic(now);
        const value = this.cmos[REG_C] | (this.irqFlag() ? C_IRQF : 0);
        this.cmos[REG_C] = 0;
        this.updateIrq();
        return value;
      }
      case REG_D:
        return D_VRT;
      default:
        return this.cmos[index];
    }
  }

  private writeRegister(index: number, value: number): void {
    switch (index) {
      case REG_A:
        this.writeA(value);
        return;
      case REG_B:
        this.writeB(value);
        return;
      case REG_C:
      case REG_D:
        return; // read-only
      default:
        this.cmos[index] = value;
    }
  }

  /** Leaving divider reset starts the chain half a second before its first update (datasheet). */
  private writeA(value: number): void {
    const now = this.scheduler.nowNs;
    const wasRunning = this.running;
    this.settlePeriodic(now);
    this.cmos[REG_A] = value & ~A_UIP;
    if (this.running && !wasRunning) {
      this.originNs = now - HALF_SECOND_NS;
      this.scheduleUpdate(now + HALF_SECOND_NS);
    } else if (!this.running && wasRunning) {
      this.updateEvent = this.cancel(this.updateEvent);
      this.updateEndEvent = this.cancel(this.updateEndEvent);
      this.nextUpdateNs = null;
      this.updateEndNs = null;
    }
    this.schedulePeriodic();
  }

  /** SET aborts an update cycle in progress and clears UIE (datasheet, register B). */
  private writeB(value: number): void {
    this.settlePeriodic(this.scheduler.nowNs);
    if (value & B_SET) {
      value &= ~B_UIE;
      this.updateEndEvent = this.cancel(this.updateEndEvent);
      this.updateEndNs = null;
    }
    this.cmos[REG_B] = value;
    this.updateIrq();
    this.schedulePeriodic();
  }
}
