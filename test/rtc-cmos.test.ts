import { expect } from 'chai';
import { IoBus } from '../devices/bus/io-bus.js';
import { IrqLine } from '../devices/bus/irq-line.js';
import { Scheduler } from '../core/machine/scheduler.js';
import { RtcCmos } from '../devices/rtc-cmos.js';

const INDEX = 0x70;
const DATA = 0x71;
const REG_A = 0x0a;
const REG_B = 0x0b;
const REG_C = 0x0c;
const REG_D = 0x0d;
const UIP = 0x80;
const MIB = 1024 * 1024;
const SECOND = 1_000_000_000;
const UIP_LEAD = 244_000;
const UPDATE_CYCLE = 1_984_000;
/** Clock bytes in the order seconds, minutes, hours, day of week, date, month, year. */
const CLOCK_REGISTERS = [0, 2, 4, 6, 7, 8, 9];

/** 2024-03-15 13:45:30 UTC, a Friday (day of week 6). */
const FRIDAY = Date.UTC(2024, 2, 15, 13, 45, 30);

function setup(startTime: Date | number = FRIDAY, memorySizeBytes = 64 * MIB, scheduler = new Scheduler()) {
  const io = new IoBus();
  const irq = new IrqLine('IRQ8');
  const rtc = new RtcCmos(io, scheduler, irq, { startTime, memorySizeBytes });
  const rises: number[] = [];
  irq.onChange((level) => {
    if (level) rises.push(scheduler.nowNs);
  });
  const read = (index: number) => {
    io.write8(INDEX, index);
    return io.read8(DATA);
  };
  const write = (index: number, value: number) => {
    io.write8(INDEX, index);
    io.write8(DATA, value);
  };
  const clock = () => CLOCK_REGISTERS.map(read);
  const at = (ns: number) => scheduler.advanceTo(ns);
  const uip = () => (read(REG_A) & UIP) !== 0;
  return { io, scheduler, irq, rtc, rises, read, write, clock, at, uip };
}

const bcd = (value: number) => ((value / 10) | 0) * 16 + (value % 10);

/** What the clock bytes should say at `ms` in 24-hour BCD, from JavaScript's own calendar. */
function expectedBcd(ms: number): number[] {
  const d = new Date(ms);
  return [
    d.getUTCSeconds(),
    d.getUTCMinutes(),
    d.getUTCHours(),
    d.getUTCDay() + 1,
    d.getUTCDate(),
    d.getUTCMonth() + 1,
    d.getUTCFullYear() % 100,
  ].map(bcd);
}

describe('RtcCmos', () => {
  describe('ports and power-on state', () => {
    it('claims 0x70-0x71 and comes up as a BIOS leaves it: 32.768 kHz, 1024 Hz rate, 24-hour BCD', () => {
      const { io, read, irq } = setup();
      expect(io.ownerOf(0x70)).to.equal('RTC');
      expect(io.ownerOf(0x71)).to.equal('RTC');
      expect(io.ownerOf(0x72)).to.equal(undefined);
      expect(io.read8(INDEX)).to.equal(0xff);
      expect(read(REG_A)).to.equal(0x26);
      expect(read(REG_B)).to.equal(0x02);
      expect(read(REG_C)).to.equal(0x00);
      expect(read(REG_D)).to.equal(0x80);
      expect(irq.level).to.equal(false);
    });

    it('keeps the NMI mask bit of the index port and still selects the register', () => {
      const { io, rtc } = setup();
      expect(rtc.nmiMasked).to.equal(false);
      io.write8(INDEX, 0x80 | REG_D);
      expect(rtc.nmiMasked).to.equal(true);
      expect(io.read8(DATA)).to.equal(0x80);
      io.write8(INDEX, REG_A);
      expect(rtc.nmiMasked).to.equal(false);
      expect(io.read8(DATA)).to.equal(0x26);
    });

    it('rejects an invalid start time or memory size', () => {
      expect(() => setup(new Date('not a date'))).to.throw(/not a valid date/);
      expect(() => setup(FRIDAY, -1)).to.throw(/memory size/);
    });
  });

  describe('time and date registers', () => {
    it('reads the start time in BCD, with the century byte', () => {
      const { clock, read } = setup();
      expect(clock()).to.deep.equal([0x30, 0x45, 0x13, 0x06, 0x15, 0x03, 0x24]);
      expect(read(0x32)).to.equal(0x20);
    });

    it('reads and keeps counting in binary when DM is set', () => {
      const { clock, write, at } = setup(Date.UTC(2021, 11, 31, 23, 59, 59));
      write(REG_B, 0x86); // SET, binary, 24-hour
      [59, 59, 23, 6, 31, 12, 21].forEach((value, i) => write(CLOCK_REGISTERS[i], value));
      write(REG_B, 0x06);
      expect(clock()).to.deep.equal([59, 59, 23, 6, 31, 12, 21]);
      at(SECOND);
      expect(clock()).to.deep.equal([0, 0, 0, 7, 1, 1, 22]);
    });

    it('counts 12-hour time with the PM bit, through noon and midnight, in BCD and binary', () => {
      const { read, write, at } = setup(Date.UTC(2024, 0, 1, 0, 0, 0));
      write(REG_B, 0x80); // SET, BCD, 12-hour
      write(0, 0x59);
      write(2, 0x59);
      write(4, 0x11); // 11 AM
      write(REG_B, 0x00);
      at(SECOND);
      expect(read(4)).to.equal(0x92); // 12 PM
      expect(read(7)).to.equal(0x01);
      write(REG_B, 0x80);
      write(0, 0x59);
      write(2, 0x59);
      write(4, 0x91); // 11 PM
      write(REG_B, 0x00);
      at(2 * SECOND);
      expect(read(4)).to.equal(0x12); // 12 AM, next day
      expect(read(7)).to.equal(0x02);
      write(REG_B, 0x84); // SET, binary, 12-hour
      write(0, 59);
      write(2, 59);
      write(4, 0x80 | 12); // 12 PM
      write(REG_B, 0x04);
      at(3 * SECOND);
      expect(read(4)).to.equal(0x80 | 1); // 1 PM
    });

    it('changing DM converts nothing: the bytes are read in the new format', () => {
      const { read, write } = setup();
      write(REG_B, 0x06);
      expect(read(0)).to.equal(0x30);
      expect(read(REG_B)).to.equal(0x06);
    });
  });

  describe('the clock advancing with virtual time', () => {
    for (const [label, start] of [
      ['minute, hour, day, month and year', Date.UTC(2023, 11, 31, 23, 59, 58)],
      ['February 28 into the leap day', Date.UTC(2024, 1, 28, 23, 59, 59)],
      ['the leap day into March', Date.UTC(2024, 1, 29, 23, 59, 59)],
      ['February 28 into March in a common year', Date.UTC(2023, 1, 28, 23, 59, 59)],
      ['30-day April into May', Date.UTC(2024, 3, 30, 23, 59, 59)],
    ] as const) {
      it(`rolls over ${label} exactly as the calendar does`, () => {
        const { clock, at } = setup(start);
        for (let second = 0; second <= 4; second++) {
          at(second * SECOND);
          expect(clock(), `+${second} s`).to.deep.equal(expectedBcd(start + second * SECOND / 1e6));
        }
      });
    }

    it('follows the calendar second by second across a whole leap-year February', () => {
      const start = Date.UTC(2024, 1, 27, 22, 0, 0);
      const { clock, at } = setup(start);
      for (let second = 0; second <= 3 * 86_400; second += 61) {
        at(second * SECOND);
        expect(clock(), `+${second} s`).to.deep.equal(expectedBcd(start + second * 1000));
      }
    });

    it('wraps year 99 to 00 and leaves the century byte alone, as the chip does', () => {
      const { read, at } = setup(Date.UTC(2099, 11, 31, 23, 59, 59));
      at(SECOND);
      expect(read(9)).to.equal(0x00);
      expect(read(8)).to.equal(0x01);
      expect(read(0x32)).to.equal(0x20);
    });

    it('keeps the start time fraction: from .250 s the first update comes 750 ms later', () => {
      const { read, at } = setup(FRIDAY + 250);
      at(750_000_000 - 1);
      expect(read(0)).to.equal(0x30);
      at(750_000_000);
      expect(read(0)).to.equal(0x31);
      at(1_750_000_000);
      expect(read(0)).to.equal(0x32);
    });

    it('advances only with the scheduler: no update is due before its virtual second', () => {
      const { clock, scheduler } = setup();
      expect(scheduler.nextDeadlineNs()).to.equal(SECOND);
      expect(clock()).to.deep.equal(expectedBcd(FRIDAY));
    });
  });

  describe('update cycle and UIP', () => {
    it('raises UIP 244 µs before the update and holds it through the 1984 µs cycle', () => {
      const { uip, read, write, at } = setup();
      write(REG_A, 0x20); // no periodic flag in C
      at(SECOND - UIP_LEAD - 1);
      expect(uip()).to.equal(false);
      at(SECOND - UIP_LEAD);
      expect(uip()).to.equal(true);
      at(SECOND - 1);
      expect(read(0)).to.equal(0x30);
      at(SECOND);
      expect(uip()).to.equal(true);
      expect(read(0)).to.equal(0x31);
      at(SECOND + UPDATE_CYCLE - 1);
      expect(uip()).to.equal(true);
      expect(read(REG_C)).to.equal(0x00);
      at(SECOND + UPDATE_CYCLE);
      expect(uip()).to.equal(false);
      expect(read(REG_C)).to.equal(0x10); // UF, no IRQF: UIE is off
    });

    it('lets a guest that waits for UIP to fall read the new second', () => {
      const { uip, read, at, scheduler } = setup();
      let ns = 0;
      while (!uip()) at((ns += 10_000));
      while (uip()) at((ns += 10_000));
      expect(scheduler.nowNs).to.be.within(SECOND + UPDATE_CYCLE, SECOND + UPDATE_CYCLE + 10_000);
      expect(read(0)).to.equal(0x31);
    });

    it('SET freezes the clock, clears UIP and UIE; written time runs on from the next update', () => {
      const { clock, read, write, at, uip } = setup();
      write(REG_A, 0x20);
      write(REG_B, 0x12); // UIE
      write(REG_B, 0x92); // SET clears UIE
      expect(read(REG_B)).to.equal(0x82);
      at(5 * SECOND - 100_000);
      expect(uip()).to.equal(false);
      at(5 * SECOND + 500_000_000);
      expect(clock()).to.deep.equal(expectedBcd(FRIDAY));
      expect(read(REG_C)).to.equal(0x00); // no update cycle, no UF
      [0x58, 0x59, 0x23, 0x07, 0x31, 0x12, 0x25].forEach((value, i) => write(CLOCK_REGISTERS[i], value));
      write(REG_B, 0x02);
      at(6 * SECOND - 1);
      expect(clock()).to.deep.equal([0x58, 0x59, 0x23, 0x07, 0x31, 0x12, 0x25]);
      at(7 * SECOND);
      expect(clock()).to.deep.equal([0x00, 0x00, 0x00, 0x01, 0x01, 0x01, 0x26]);
    });

    it('setting SET during an update cycle aborts it: no UF', () => {
      const { read, write, at } = setup();
      write(REG_A, 0x20);
      at(SECOND + 1000);
      write(REG_B, 0x82);
      write(REG_B, 0x02);
      at(SECOND + UPDATE_CYCLE);
      expect(read(REG_C)).to.equal(0x00);
    });

    it('a divider in reset stops the clock; releasing it puts the first update 500 ms later', () => {
      const { clock, read, write, at, uip } = setup();
      at(300_000_000);
      read(REG_C);
      write(REG_A, 0x66); // DV = 110: divider reset, rate 6
      at(10 * SECOND);
      expect(clock()).to.deep.equal(expectedBcd(FRIDAY));
      expect(uip()).to.equal(false);
      expect(read(REG_C)).to.equal(0x00); // no periodic flag either
      write(REG_A, 0x26);
      at(10 * SECOND + 500_000_000 - 1);
      expect(read(0)).to.equal(0x30);
      at(10 * SECOND + 500_000_000);
      expect(read(0)).to.equal(0x31);
      at(11 * SECOND + 500_000_000);
      expect(read(0)).to.equal(0x32);
      write(REG_A, 0x06); // DV = 000: not the PC's crystal, nothing counts
      at(20 * SECOND);
      expect(read(0)).to.equal(0x32);
    });

    it('ignores writes to UIP, C and D', () => {
      const { read, write, at } = setup();
      at(SECOND - 1000);
      write(REG_A, 0xa6);
      expect(read(REG_A)).to.equal(0xa6); // UIP is set now by the clock, not by the write
      at(3 * SECOND + 100_000_000);
      expect(read(REG_A)).to.equal(0x26);
      write(REG_C, 0xff);
      write(REG_D, 0x00);
      expect(read(REG_C)).to.equal(0x50); // PF and UF
      expect(read(REG_D)).to.equal(0x80);
    });
  });

  describe('interrupts on IRQ 8', () => {
    it('update-ended: IRQ at the end of each cycle; reading C returns IRQF|UF, clears it and lowers IRQ', () => {
      const { irq, read, write, at, rises } = setup();
      write(REG_A, 0x20);
      write(REG_B, 0x12);
      at(SECOND + UPDATE_CYCLE - 1);
      expect(irq.level).to.equal(false);
      at(SECOND + UPDATE_CYCLE);
      expect(irq.level).to.equal(true);
      expect(read(REG_C)).to.equal(0x90);
      expect(irq.level).to.equal(false);
      expect(read(REG_C)).to.equal(0x00);
      at(2 * SECOND + UPDATE_CYCLE);
      expect(irq.level).to.equal(true);
      expect(rises).to.deep.equal([SECOND + UPDATE_CYCLE, 2 * SECOND + UPDATE_CYCLE]);
    });

    it('flags set while their interrupt is off raise IRQ as soon as it is enabled', () => {
      const { irq, read, write, at } = setup();
      write(REG_A, 0x20);
      at(SECOND + UPDATE_CYCLE);
      expect(irq.level).to.equal(false);
      write(REG_B, 0x12);
      expect(irq.level).to.equal(true);
      write(REG_B, 0x02);
      expect(irq.level).to.equal(false);
      expect(read(REG_C)).to.equal(0x10);
    });

    for (const [rate, hz] of [
      [6, 1024],
      [3, 8192],
      [1, 256],
      [2, 128],
      [15, 2],
    ] as const) {
      it(`periodic: RS=${rate} interrupts at ${hz} Hz at exact virtual times`, () => {
        const { irq, read, write, at, rises } = setup();
        write(REG_A, 0x20 | rate);
        write(REG_B, 0x42);
        const count = Math.min(hz, 20);
        const times = Array.from({ length: count }, (_, k) => Math.ceil(((k + 1) * SECOND) / hz));
        for (const t of times) {
          at(t - 1);
          expect(irq.level, `before ${t}`).to.equal(false);
          at(t);
          expect(irq.level, `at ${t}`).to.equal(true);
          expect(read(REG_C) & 0xc0).to.equal(0xc0);
        }
        expect(rises).to.deep.equal(times);
      });
    }

    it('RS=6 puts edges 976562.5 ns apart, rounded up to the nanosecond', () => {
      const { write, at, rises, read } = setup();
      write(REG_B, 0x42);
      for (let k = 1; k <= 4; k++) {
        at(Math.ceil(k * 976_562.5));
        read(REG_C);
      }
      expect(rises).to.deep.equal([976_563, 1_953_125, 2_929_688, 3_906_250]);
    });

    it('with PIE off PF still shows in C, costing no events; RS=0 turns it off', () => {
      const { irq, read, write, at, scheduler } = setup();
      expect(scheduler.pending()).to.equal(1); // the update cycle only
      at(976_563);
      expect(irq.level).to.equal(false);
      expect(read(REG_C)).to.equal(0x40);
      expect(read(REG_C)).to.equal(0x00);
      at(976_563 + 976_561);
      expect(read(REG_C)).to.equal(0x00); // next edge not reached
      write(REG_A, 0x20);
      at(10_000_000);
      expect(read(REG_C)).to.equal(0x00);
    });

    it('a new rate takes effect at once on the same divider chain', () => {
      const { write, at, rises, read } = setup();
      write(REG_B, 0x42);
      at(976_563);
      read(REG_C);
      write(REG_A, 0x2f); // 2 Hz
      at(SECOND / 2);
      expect(rises).to.deep.equal([976_563, SECOND / 2]);
    });

    it('alarm with don\'t-care hours and minutes fires once a minute, at the end of the matching update', () => {
      const { irq, read, write, at, rises } = setup();
      write(REG_A, 0x20);
      write(1, 0x35); // seconds alarm: :35
      write(3, 0xc0);
      write(5, 0xff);
      write(REG_B, 0x22);
      const firstMatch = 5 * SECOND + UPDATE_CYCLE; // 13:45:35
      at(firstMatch - 1);
      expect(irq.level).to.equal(false);
      expect(read(REG_C)).to.equal(0x10); // updates happened, no alarm
      at(firstMatch);
      expect(irq.level).to.equal(true);
      expect(read(REG_C)).to.equal(0xb0); // IRQF, AF, UF
      at(firstMatch + 60 * SECOND);
      expect(rises).to.deep.equal([firstMatch, firstMatch + 60 * SECOND]);
    });

    it('alarm with every byte don\'t-care fires every second; an exact alarm fires once', () => {
      const { read, write, at, rises } = setup();
      write(REG_A, 0x20);
      write(1, 0xc0);
      write(3, 0xc0);
      write(5, 0xc0);
      write(REG_B, 0x22);
      for (let s = 1; s <= 3; s++) {
        at(s * SECOND + UPDATE_CYCLE);
        read(REG_C);
      }
      expect(rises).to.deep.equal([1, 2, 3].map((s) => s * SECOND + UPDATE_CYCLE));
      rises.length = 0;
      write(1, 0x45);
      write(3, 0x46);
      write(5, 0x13); // 13:46:45, 75 s after the start
      at(200 * SECOND);
      expect(rises).to.deep.equal([75 * SECOND + UPDATE_CYCLE]);
    });
  });

  describe('CMOS memory', () => {
    const word = (read: (index: number) => number, low: number) => read(low) | (read(low + 1) << 8);

    it('describes 64 MiB: 640 KiB base, 63 MiB extended, 48 MiB above 16 MiB', () => {
      const { read } = setup(FRIDAY, 64 * MIB);
      expect(word(read, 0x15)).to.equal(640);
      expect(word(read, 0x17)).to.equal(63 * 1024);
      expect(word(read, 0x30)).to.equal(63 * 1024);
      expect(word(read, 0x34)).to.equal(768);
      expect([read(0x2e), read(0x2f)]).to.deep.equal([0x01, 0x7e]); // 0x80+0x02+0x00+0xfc
    });

    it('describes 1 GiB with the extended size capped at 0xFFFF KiB', () => {
      const { read } = setup(FRIDAY, 1024 * MIB);
      expect(word(read, 0x17)).to.equal(0xffff);
      expect(word(read, 0x30)).to.equal(0xffff);
      expect(word(read, 0x34)).to.equal(1008 * 16);
    });

    it('caps memory above 16 MiB at 0xFFFF blocks and describes small machines', () => {
      expect(word(setup(FRIDAY, 5 * 1024 * MIB).read, 0x34)).to.equal(0xffff);
      const small = setup(FRIDAY, 512 * 1024).read;
      expect([word(small, 0x15), word(small, 0x17), word(small, 0x34)]).to.deep.equal([512, 0, 0]);
    });

    for (const size of [64 * MIB, 1024 * MIB, 3 * MIB]) {
      it(`has a valid AT checksum over 0x10-0x2D for ${size / MIB} MiB`, () => {
        const { read } = setup(FRIDAY, size);
        let sum = 0;
        for (let i = 0x10; i <= 0x2d; i++) sum += read(i);
        expect((read(0x2e) << 8) | read(0x2f)).to.equal(sum);
      });
    }

    it('reads back what was written to every RAM byte 0x0E-0x7F and to the alarm bytes', () => {
      const { read, write } = setup();
      const indices = [1, 3, 5, ...Array.from({ length: 0x72 }, (_, i) => 0x0e + i)];
      for (const i of indices) write(i, (i * 37 + 11) & 0xff);
      for (const i of indices) expect(read(i), `byte ${i.toString(16)}`).to.equal((i * 37 + 11) & 0xff);
      write(0x80 | 0x40, 0x5a); // index bit 7 is the NMI mask, not an address bit
      expect(read(0x40)).to.equal(0x5a);
    });
  });

  describe('reproducibility, reset and snapshots', () => {
    it('two devices started from the same epoch read identical bytes at identical virtual times', () => {
      const epoch = Date.UTC(2000, 0, 1, 0, 0, 0) + 123;
      const runs = [setup(epoch), setup(epoch)].map(({ read, write, at }) => {
        const seen: number[] = [];
        write(REG_B, 0x52); // PIE and UIE
        for (let ns = 0; ns < 5 * SECOND; ns += 7_654_321) {
          at(ns);
          seen.push(...CLOCK_REGISTERS.map(read), read(REG_A), read(REG_C));
        }
        return seen;
      });
      expect(runs[0]).to.deep.equal(runs[1]);
      expect(runs[0].slice(0, 7)).to.deep.equal(expectedBcd(epoch));
    });

    it('reset clears the interrupt enables and flags, keeps time, RAM and the divider phase', () => {
      const { rtc, irq, clock, read, write, at } = setup();
      write(0x40, 0x99);
      write(REG_B, 0x7a);
      at(SECOND + UPDATE_CYCLE);
      expect(irq.level).to.equal(true);
      rtc.reset();
      expect(irq.level).to.equal(false);
      expect(read(REG_B)).to.equal(0x02);
      expect(read(REG_C)).to.equal(0x00);
      expect(read(0x40)).to.equal(0x99);
      expect(clock()).to.deep.equal(expectedBcd(FRIDAY + 1000));
      at(2 * SECOND);
      expect(read(0)).to.equal(0x32);
    });

    it('saves and restores mid-cycle, shifting times to the new clock', () => {
      const first = setup();
      first.write(REG_B, 0x52); // PIE, UIE
      first.write(0x50, 0xab);
      first.io.write8(INDEX, 0x80 | REG_C);
      first.at(SECOND + 1000); // inside the update cycle
      const snapshot = JSON.parse(JSON.stringify(first.rtc.saveState()));
      const scheduler = new Scheduler();
      scheduler.advanceTo(7 * SECOND);
      const second = setup(Date.UTC(1999, 0, 1), 16 * MIB, scheduler);
      second.rtc.loadState(snapshot);
      expect(second.rtc.nmiMasked).to.equal(true);
      expect(second.clock()).to.deep.equal(first.clock());
      expect(second.read(0x50)).to.equal(0xab);
      expect(second.read(0x17) | (second.read(0x18) << 8)).to.equal(63 * 1024);
      const shift = 7 * SECOND - (SECOND + 1000); // load time minus save time
      // Step both through every event of the first, acknowledging as a driver would.
      while (first.scheduler.nowNs < 3 * SECOND) {
        const t = first.scheduler.nextDeadlineNs();
        first.at(t);
        second.at(t + shift);
        expect(second.scheduler.nextDeadlineNs()).to.equal(first.scheduler.nextDeadlineNs() + shift);
        expect([second.irq.level, second.read(REG_A), second.read(REG_C)]).to.deep.equal([
          first.irq.level,
          first.read(REG_A),
          first.read(REG_C),
        ]);
        expect(second.clock()).to.deep.equal(first.clock());
      }
      expect(() => second.rtc.loadState({ cmos: [] })).to.throw(/not an MC146818/);
    });
  });
});
