import { expect } from 'chai';
import { IoBus } from '../devices/bus/io-bus.js';
import { IrqLine } from '../devices/bus/irq-line.js';
import { Scheduler } from '../core/machine/scheduler.js';
import { Pit8254, PIT_HZ, REFRESH_TOGGLE_NS, pitTickTimeNs, pitTicksAt } from '../devices/pit-8254.js';

const COUNTER0 = 0x40;
const COUNTER1 = 0x41;
const COUNTER2 = 0x42;
const CONTROL = 0x43;
const PORT_B = 0x61;
const PORT_B_REFRESH = 0x10;
const PORT_B_OUT2 = 0x20;

function setup() {
  const io = new IoBus();
  const scheduler = new Scheduler();
  const irq = new IrqLine('IRQ0');
  const pit = new Pit8254(io, scheduler, irq);
  const edges: string[] = [];
  const edgeTimesNs: number[] = [];
  irq.onChange((level) => {
    edges.push(`${level ? 'rise' : 'fall'}@${pitTicksAt(scheduler.nowNs)}`);
    edgeTimesNs.push(scheduler.nowNs);
  });
  /** Moves the virtual clock to the instant input clock `tick` happens. */
  const at = (tick: number) => scheduler.advanceTo(pitTickTimeNs(tick));
  const program = (control: number, ...bytes: number[]) => {
    io.write8(CONTROL, control);
    for (const byte of bytes) io.write8(COUNTER0 + (control >> 6), byte);
  };
  /** Two reads, LSB then MSB, as in read/write mode 3. */
  const readWord = (port: number) => io.read8(port) | (io.read8(port) << 8);
  const out2 = () => (io.read8(PORT_B) & PORT_B_OUT2) !== 0;
  const status = (counter: number) => {
    io.write8(CONTROL, 0xe0 | (2 << counter)); // read-back: status only
    return io.read8(COUNTER0 + counter);
  };
  return { io, scheduler, irq, pit, edges, edgeTimesNs, at, program, readWord, out2, status };
}

describe('Pit8254', () => {
  describe('virtual clock', () => {
    it('converts between nanoseconds and input clocks exactly, even after months', () => {
      for (const tick of [0, 1, 2, PIT_HZ - 1, PIT_HZ, PIT_HZ + 1, 123_456_789, 9_999_999_999_999]) {
        const ns = pitTickTimeNs(tick);
        expect(pitTicksAt(ns), `tick ${tick}`).to.equal(tick);
        if (tick > 0) expect(pitTicksAt(ns - 1), `before tick ${tick}`).to.equal(tick - 1);
      }
      expect(pitTickTimeNs(1)).to.equal(839); // 838.095 ns, rounded up to the next whole nanosecond
      expect(pitTicksAt(1_000_000_000)).to.equal(PIT_HZ);
    });

    it('claims 0x40-0x43 and 0x61, comes out of reset idle with IRQ 0 low', () => {
      const { io, irq, scheduler } = setup();
      for (const port of [0x40, 0x41, 0x42, 0x43, 0x61]) expect(io.ownerOf(port)).to.equal('PIT');
      expect(io.ownerOf(0x44)).to.equal(undefined);
      expect(irq.level).to.equal(false);
      expect(scheduler.pending()).to.equal(0);
      expect(io.read8(CONTROL)).to.equal(0xff);
    });
  });

  describe('mode 0: interrupt on terminal count', () => {
    it('raises IRQ 0 N+1 clocks after the count is written, then keeps counting down through 0xffff', () => {
      const { irq, edges, edgeTimesNs, at, program, readWord, scheduler } = setup();
      program(0x30, 100, 0); // counter 0, LSB then MSB, mode 0, binary; loads at clock 1
      expect(irq.level).to.equal(false);
      at(50);
      expect(readWord(COUNTER0)).to.equal(51);
      at(100);
      expect(readWord(COUNTER0)).to.equal(1);
      expect(irq.level).to.equal(false);
      at(101);
      expect(irq.level).to.equal(true);
      expect(edges).to.deep.equal(['rise@101']);
      expect(edgeTimesNs).to.deep.equal([pitTickTimeNs(101)]);
      at(102);
      expect(readWord(COUNTER0)).to.equal(0xffff);
      expect(scheduler.pending()).to.equal(0);
    });

    it('suspends counting while GATE is low (counter 2 via port 0x61) and resumes where it stopped', () => {
      const { io, at, program, out2, readWord } = setup();
      io.write8(PORT_B, 0x01);
      program(0xb0, 10, 0); // counter 2, mode 0, count 10 loads at clock 1
      expect(out2()).to.equal(false);
      at(5);
      io.write8(PORT_B, 0x00); // stopped with 10 - 4 = 6 left
      at(20);
      expect(readWord(COUNTER2)).to.equal(6);
      expect(out2()).to.equal(false);
      io.write8(PORT_B, 0x01);
      at(23);
      expect(readWord(COUNTER2)).to.equal(3);
      at(25);
      expect(out2()).to.equal(false);
      at(26);
      expect(out2()).to.equal(true);
    });

    it('stops on the first byte of a new two-byte count and starts the new count after the second', () => {
      const { io, irq, edges, at, program, readWord } = setup();
      program(0x30, 100, 0);
      at(10);
      io.write8(COUNTER0, 50); // counting stops at 100 - 9 = 91
      at(20);
      expect(readWord(COUNTER0)).to.equal(91);
      io.write8(COUNTER0, 0); // count 50 loads at clock 21
      at(70);
      expect(irq.level).to.equal(false);
      at(71);
      expect(edges).to.deep.equal(['rise@71']);
    });

    it('drives OUT low again when a new count is written after terminal count', () => {
      const { io, edges, at, program } = setup();
      program(0x10, 3); // counter 0, LSB only, mode 0
      at(4);
      io.write8(COUNTER0, 5); // at clock 4: loads at 5, fires at 10
      at(10);
      expect(edges).to.deep.equal(['rise@4', 'fall@4', 'rise@10']);
    });
  });

  describe('mode 1: hardware retriggerable one-shot', () => {
    it('drops OUT for N clocks from the clock after a GATE rising edge, and a retrigger restarts it', () => {
      const { io, at, program, out2, readWord } = setup();
      program(0xb2, 4, 0); // counter 2, mode 1, count 4
      at(5);
      expect(out2()).to.equal(true); // waits for a trigger
      at(10);
      io.write8(PORT_B, 0x01); // trigger: loads at 11
      expect(out2()).to.equal(true);
      at(11);
      expect(out2()).to.equal(false);
      expect(readWord(COUNTER2)).to.equal(4);
      at(14);
      expect(out2()).to.equal(false);
      at(15);
      expect(out2()).to.equal(true);

      at(20);
      io.write8(PORT_B, 0x00);
      io.write8(PORT_B, 0x01); // loads at 21
      at(22);
      io.write8(COUNTER2, 9); // a new count waits for the next trigger
      io.write8(COUNTER2, 0);
      io.write8(PORT_B, 0x00);
      at(23);
      io.write8(PORT_B, 0x01); // retrigger mid-pulse: 9 clocks from clock 24
      at(32);
      expect(out2()).to.equal(false);
      at(33);
      expect(out2()).to.equal(true);
      expect(readWord(COUNTER2)).to.equal(0);
    });

    it('does not let a new count cut the running one-shot short', () => {
      const { io, at, program, out2 } = setup();
      program(0xb2, 10, 0);
      io.write8(PORT_B, 0x01); // loads at 1, OUT high again at 11
      at(3);
      io.write8(COUNTER2, 2);
      io.write8(COUNTER2, 0);
      at(10);
      expect(out2()).to.equal(false);
      at(11);
      expect(out2()).to.equal(true);
    });
  });

  describe('mode 2: rate generator', () => {
    it('pulses OUT low for one clock every N clocks, scheduling one event per edge', () => {
      const { scheduler, edges, at, program, readWord } = setup();
      program(0x34, 5, 0); // OUT goes high at the control word
      expect(edges).to.deep.equal(['rise@0']);
      edges.length = 0;
      const counts: number[] = [];
      for (let tick = 1; tick <= 7; tick++) {
        at(tick);
        counts.push(readWord(COUNTER0));
        expect(scheduler.pending()).to.equal(1);
      }
      expect(counts).to.deep.equal([5, 4, 3, 2, 1, 5, 4]);
      at(21);
      expect(edges).to.deep.equal(['fall@5', 'rise@6', 'fall@10', 'rise@11', 'fall@15', 'rise@16', 'fall@20', 'rise@21']);
    });

    it('takes a new count at the end of the current period', () => {
      const { io, edges, at, program, status } = setup();
      program(0x34, 10, 0);
      edges.length = 0;
      at(4);
      io.write8(COUNTER0, 4);
      io.write8(COUNTER0, 0);
      expect(status(0) & 0x40).to.equal(0x40); // NULL COUNT until the reload
      at(10);
      expect(status(0) & 0x40).to.equal(0x40);
      at(11);
      expect(status(0) & 0x40).to.equal(0);
      at(20);
      expect(edges).to.deep.equal(['fall@10', 'rise@11', 'fall@14', 'rise@15', 'fall@18', 'rise@19']);
    });

    it('forces OUT high while GATE is low and restarts from the count register on the rising edge', () => {
      const { io, at, program, out2 } = setup();
      io.write8(PORT_B, 0x01);
      program(0xb4, 3, 0); // counter 2, mode 2, count 3: low at clock 3
      at(3);
      expect(out2()).to.equal(false);
      io.write8(PORT_B, 0x00);
      expect(out2()).to.equal(true);
      at(10);
      io.write8(PORT_B, 0x01); // reloads at 11: low at 13
      at(12);
      expect(out2()).to.equal(true);
      at(13);
      expect(out2()).to.equal(false);
    });
  });

  describe('mode 3: square wave', () => {
    it('gives an even count N/2 clocks high and N/2 low, counting down by two', () => {
      const { edges, at, program, readWord } = setup();
      program(0x36, 6, 0);
      edges.length = 0;
      const counts: number[] = [];
      for (let tick = 1; tick <= 7; tick++) {
        at(tick);
        counts.push(readWord(COUNTER0));
      }
      expect(counts).to.deep.equal([6, 4, 2, 6, 4, 2, 6]);
      at(13);
      expect(edges).to.deep.equal(['fall@4', 'rise@7', 'fall@10', 'rise@13']);
    });

    it('gives an odd count (N+1)/2 clocks high and (N-1)/2 low, counting N-1 down by two', () => {
      const { edges, at, program, readWord } = setup();
      program(0x36, 5, 0);
      edges.length = 0;
      const counts: number[] = [];
      for (let tick = 1; tick <= 6; tick++) {
        at(tick);
        counts.push(readWord(COUNTER0));
      }
      expect(counts).to.deep.equal([4, 2, 0, 4, 2, 4]);
      at(11);
      expect(edges).to.deep.equal(['fall@4', 'rise@6', 'fall@9', 'rise@11']);
    });

    it('takes a new count at the end of the current half-cycle', () => {
      const { io, edges, at, program, readWord } = setup();
      program(0x36, 10, 0); // high at clocks 1-5, low from 6
      edges.length = 0;
      at(3);
      io.write8(COUNTER0, 6);
      io.write8(COUNTER0, 0);
      at(6);
      expect(readWord(COUNTER0)).to.equal(6); // the low half of the new count begins
      at(12);
      expect(edges).to.deep.equal(['fall@6', 'rise@9', 'fall@12']);
    });

    it('runs the PC BIOS 18.2 Hz tick (count 0) with one IRQ every 65536 clocks', () => {
      const { edges, at, program } = setup();
      program(0x36, 0, 0);
      edges.length = 0;
      at(1 + 3 * 65536);
      expect(edges).to.deep.equal([
        `fall@${1 + 32768}`,
        `rise@${1 + 65536}`,
        `fall@${1 + 65536 + 32768}`,
        `rise@${1 + 2 * 65536}`,
        `fall@${1 + 2 * 65536 + 32768}`,
        `rise@${1 + 3 * 65536}`,
      ]);
    });
  });

  describe('mode 4: software triggered strobe', () => {
    it('strobes OUT low for one clock N+1 clocks after the write', () => {
      const { edges, at, program, scheduler } = setup();
      program(0x38, 3, 0);
      at(10);
      expect(edges).to.deep.equal(['rise@0', 'fall@4', 'rise@5']);
      expect(scheduler.pending()).to.equal(0);
    });

    it('loads a count written mid-count on the next clock (Linux one-shot clockevents)', () => {
      const { io, edges, at, program } = setup();
      program(0x38, 20, 0);
      edges.length = 0;
      at(2);
      io.write8(COUNTER0, 10);
      expect(edges).to.deep.equal([]); // the first byte changes nothing
      io.write8(COUNTER0, 0); // loads at 3, strobes at 13
      at(20);
      expect(edges).to.deep.equal(['fall@13', 'rise@14']);
    });

    it('holds the count while GATE is low without touching OUT', () => {
      const { io, at, program, out2, readWord } = setup();
      io.write8(PORT_B, 0x01);
      program(0xb8, 5, 0); // strobe due at clock 6
      at(3);
      io.write8(PORT_B, 0x00);
      at(30);
      expect(out2()).to.equal(true);
      expect(readWord(COUNTER2)).to.equal(3);
      io.write8(PORT_B, 0x01);
      at(32);
      expect(out2()).to.equal(true);
      at(33);
      expect(out2()).to.equal(false);
      at(34);
      expect(out2()).to.equal(true);
    });
  });

  describe('mode 5: hardware triggered strobe', () => {
    it('strobes OUT low N clocks after the clock that follows a GATE rising edge', () => {
      const { io, at, program, out2, readWord } = setup();
      program(0xba, 3, 0);
      at(10);
      expect(out2()).to.equal(true);
      io.write8(PORT_B, 0x01); // loads at 11
      at(13);
      expect(readWord(COUNTER2)).to.equal(1);
      expect(out2()).to.equal(true);
      at(14);
      expect(out2()).to.equal(false);
      at(15);
      expect(out2()).to.equal(true);
      at(40);
      expect(out2()).to.equal(true);
    });
  });

  describe('against a clock-by-clock model of the datasheet', () => {
    /** Steps one counter a clock at a time, as the datasheet describes it; returns [count, OUT] per clock from the load clock. */
    function reference(mode: number, n: number, clocks: number): [number, boolean][] {
      const trace: [number, boolean][] = [];
      const odd = mode === 3 && (n & 1) === 1;
      let ce = odd ? n - 1 : n % 0x10000;
      let out = mode === 0 ? false : mode === 2 ? n !== 1 : true;
      let strobed = false;
      for (let clock = 0; clock < clocks; clock++) {
        if (clock > 0) {
          if (mode === 0) {
            ce = (ce + 0xffff) & 0xffff;
            if (ce === 0) out = true;
          } else if (mode === 2) {
            ce = ce === 1 ? n : ce - 1;
            out = ce !== 1;
          } else if (mode === 4) {
            ce = (ce + 0xffff) & 0xffff;
            out = strobed || ce !== 0;
            strobed ||= ce === 0;
          } else if (odd && ce === 0 && out) {
            out = false; // the extra clock of an odd count's high half
            ce = n - 1;
          } else {
            ce -= 2;
            if (ce === 0 && (!odd || !out)) {
              out = !out;
              ce = odd ? n - 1 : n;
            }
          }
        }
        trace.push([ce & 0xffff, out]);
      }
      return trace;
    }

    for (const mode of [0, 2, 3, 4]) {
      it(`matches it in mode ${mode} for assorted counts`, () => {
        for (const n of [1, 2, 3, 4, 5, 7, 10, 99, 256, 301]) {
          if ((mode === 2 || mode === 3) && n === 1) continue; // illegal in modes 2 and 3
          const { io, irq, at, program } = setup();
          program(0x30 | (mode << 1), n & 0xff, n >> 8);
          const expected = reference(mode, n, 3 * n + 4);
          expected.forEach(([count, out], clock) => {
            at(1 + clock);
            io.write8(CONTROL, 0xc2); // read-back count and status of counter 0
            const status = io.read8(COUNTER0);
            const latched = io.read8(COUNTER0) | (io.read8(COUNTER0) << 8);
            expect([latched, (status & 0x80) !== 0, irq.level], `mode ${mode} count ${n} clock ${clock}`).to.deep.equal([count, out, out]);
          });
        }
      });
    }
  });

  describe('counting formats', () => {
    it('treats count 0 as 65536 in binary', () => {
      const { edges, at, program, readWord } = setup();
      program(0x30, 0, 0);
      at(1);
      expect(readWord(COUNTER0)).to.equal(0);
      at(2);
      expect(readWord(COUNTER0)).to.equal(0xffff);
      at(65536);
      expect(edges).to.deep.equal([]);
      at(65537);
      expect(edges).to.deep.equal(['rise@65537']);
    });

    it('counts in BCD, where count 0 means 10000', () => {
      const { edges, at, program, readWord } = setup();
      program(0x31, 0, 0);
      at(1);
      expect(readWord(COUNTER0)).to.equal(0x0000);
      at(2);
      expect(readWord(COUNTER0)).to.equal(0x9999);
      at(10_000);
      expect(readWord(COUNTER0)).to.equal(0x0001);
      at(10_001);
      expect(edges).to.deep.equal(['rise@10001']);
      program(0x31, 0x34, 0x12); // 1234 decimal, written at clock 10001
      at(10_012);
      expect(readWord(COUNTER0)).to.equal(0x1224);
    });

    it('reads and writes LSB only and MSB only', () => {
      const { io, at } = setup();
      io.write8(CONTROL, 0x50); // counter 1, LSB only, mode 0
      io.write8(COUNTER1, 0x20);
      at(5);
      expect(io.read8(COUNTER1)).to.equal(0x20 - 4);
      expect(io.read8(COUNTER1)).to.equal(0x20 - 4);
      io.write8(CONTROL, 0x60); // counter 1, MSB only: 0x0200
      io.write8(COUNTER1, 0x02);
      at(5 + 1 + 256);
      expect(io.read8(COUNTER1)).to.equal(0x01);
    });

    it('keeps separate read and write byte toggles, so reads and writes may interleave', () => {
      const { io, at, program } = setup();
      program(0x34, 0x00, 0x10); // 0x1000
      at(1);
      expect(io.read8(COUNTER0)).to.equal(0x00);
      io.write8(COUNTER0, 0x34);
      expect(io.read8(COUNTER0)).to.equal(0x10);
      io.write8(COUNTER0, 0x12);
      expect(io.read8(COUNTER0)).to.equal(0x00);
    });
  });

  describe('latch and read-back', () => {
    it('holds a latched count until it is read; a second latch before then is ignored', () => {
      const { io, at, program, readWord } = setup();
      program(0x34, 0xe8, 0x03); // 1000
      at(101);
      io.write8(CONTROL, 0x00);
      at(201);
      io.write8(CONTROL, 0x00);
      expect(readWord(COUNTER0)).to.equal(900);
      expect(readWord(COUNTER0)).to.equal(800);
    });

    it('latches with a one-byte read when the counter is in LSB-only mode', () => {
      const { io, at } = setup();
      io.write8(CONTROL, 0x94); // counter 2, LSB only, mode 2
      io.write8(COUNTER2, 200);
      io.write8(PORT_B, 0x01);
      at(11);
      io.write8(CONTROL, 0x80);
      at(51);
      expect(io.read8(COUNTER2)).to.equal(190);
      expect(io.read8(COUNTER2)).to.equal(150);
    });

    it('latches status and count of several counters, returning status first', () => {
      const { io, at, program, readWord } = setup();
      program(0x34, 100, 0);
      io.write8(PORT_B, 0x01);
      program(0xb1, 0x50, 0x00); // counter 2: mode 0, BCD, 50
      at(11);
      io.write8(CONTROL, 0xc0 | 0x08 | 0x02); // count and status of counters 0 and 2
      at(30);
      expect(io.read8(COUNTER0)).to.equal(0x80 | 0x34); // OUT high, count loaded, RW 3, mode 2, binary
      expect(readWord(COUNTER0)).to.equal(90);
      expect(io.read8(COUNTER2)).to.equal(0x00 | 0x31); // OUT low, count loaded, mode 0, BCD
      expect(readWord(COUNTER2)).to.equal(0x40);
      expect(readWord(COUNTER2)).to.equal(0x21); // live again
    });

    it('reports NULL COUNT from the control word until the count reaches the counting element', () => {
      const { io, at, program, status } = setup();
      io.write8(CONTROL, 0x30);
      expect(status(0)).to.equal(0x40 | 0x30);
      io.write8(COUNTER0, 5);
      expect(status(0)).to.equal(0x40 | 0x30);
      io.write8(COUNTER0, 0);
      expect(status(0)).to.equal(0x40 | 0x30);
      at(1);
      expect(status(0)).to.equal(0x30);
      at(6);
      expect(status(0)).to.equal(0x80 | 0x30);
      program(0xb2, 4, 0); // mode 1 takes its count only at a trigger
      at(10);
      expect(status(2)).to.equal(0x80 | 0x40 | 0x32);
      io.write8(PORT_B, 0x01);
      at(11);
      expect(status(2)).to.equal(0x32);
    });

    it('keeps the first latched status when read-back asks again, and reports modes 6 and 7 verbatim', () => {
      const { io, at, status } = setup();
      io.write8(CONTROL, 0x1c); // LSB only, "mode 6" = mode 2
      io.write8(COUNTER0, 4);
      io.write8(CONTROL, 0xe2);
      at(4);
      io.write8(CONTROL, 0xe2);
      expect(io.read8(COUNTER0)).to.equal(0x80 | 0x40 | 0x1c); // latched before the load clock
      expect(status(0)).to.equal(0x1c); // OUT low on clock 4 of a count of 4 in mode 2
    });
  });

  describe('port 0x61', () => {
    it('stores bits 0-3, shows OUT2 in bit 5 and a refresh toggle in bit 4 that flips every 15.085 µs', () => {
      const { io, scheduler } = setup();
      io.write8(PORT_B, 0xff);
      expect(io.read8(PORT_B) & 0xcf).to.equal(0x0f);
      io.write8(PORT_B, 0x02);
      expect(io.read8(PORT_B) & 0x0f).to.equal(0x02);
      const refreshAt = (ns: number) => {
        scheduler.advanceTo(ns);
        return io.read8(PORT_B) & PORT_B_REFRESH;
      };
      expect(refreshAt(0)).to.equal(0);
      expect(refreshAt(REFRESH_TOGGLE_NS - 1)).to.equal(0);
      expect(refreshAt(REFRESH_TOGGLE_NS)).to.equal(PORT_B_REFRESH);
      expect(refreshAt(2 * REFRESH_TOGGLE_NS - 1)).to.equal(PORT_B_REFRESH);
      expect(refreshAt(2 * REFRESH_TOGGLE_NS)).to.equal(0);
    });

    it("times Linux's pit_calibrate_tsc exactly: OUT2 rises 59660 clocks after the count is written", () => {
      const { io, scheduler } = setup();
      let now = 1_234_567;
      scheduler.advanceTo(now);
      const latch = Math.floor(PIT_HZ / 20); // 50 ms, as CAL_MS = 50
      io.write8(PORT_B, (io.read8(PORT_B) & ~0x02) | 0x01);
      io.write8(CONTROL, 0xb0);
      io.write8(COUNTER2, latch & 0xff);
      io.write8(COUNTER2, latch >> 8);
      const expiresNs = pitTickTimeNs(pitTicksAt(now) + latch + 1);
      while ((io.read8(PORT_B) & PORT_B_OUT2) === 0) {
        now += 10; // one instruction
        scheduler.advanceTo(now);
      }
      expect(now).to.be.at.least(expiresNs);
      expect(now - 10).to.be.below(expiresNs);
    });

    it("counts down the MSB one step per 256 clocks for Linux's quick_pit_calibrate", () => {
      const { io, scheduler } = setup();
      let now = 5_000_000;
      scheduler.advanceTo(now);
      io.write8(PORT_B, 0x01);
      io.write8(CONTROL, 0xb0);
      io.write8(COUNTER2, 0xff);
      io.write8(COUNTER2, 0xff);
      const loadTick = pitTicksAt(now) + 1;
      const msbChanges: number[] = [];
      let msb = 0xff;
      while (msb > 0xf0) {
        now += 20;
        scheduler.advanceTo(now);
        io.read8(COUNTER2);
        const read = io.read8(COUNTER2);
        if (read !== msb) {
          expect(read).to.equal(msb - 1);
          msbChanges.push(pitTicksAt(now) - loadTick);
          msb = read;
        }
      }
      expect(msbChanges).to.deep.equal([256, 512, 768, 1024, 1280, 1536, 1792, 2048, 2304, 2560, 2816, 3072, 3328, 3584, 3840]);
    });
  });

  describe('reset and snapshots', () => {
    it('resets to idle counters, cancels the IRQ timer and drops IRQ 0', () => {
      const { io, irq, pit, scheduler, program, at } = setup();
      program(0x34, 5, 0);
      io.write8(PORT_B, 0x03);
      at(3);
      pit.reset();
      expect(irq.level).to.equal(false);
      expect(scheduler.pending()).to.equal(0);
      expect(io.read8(PORT_B) & 0x2f).to.equal(0);
    });

    it('resumes from a JSON snapshot at the saved virtual time with latches and pending reloads intact', () => {
      const original = setup();
      original.program(0x34, 10, 0);
      original.at(4);
      original.io.write8(COUNTER0, 4); // new count pending for clock 11
      original.io.write8(COUNTER0, 0);
      original.io.write8(CONTROL, 0x00); // latch 7
      const snapshot = JSON.parse(JSON.stringify(original.pit.saveState()));

      const copy = setup();
      copy.at(4);
      copy.pit.loadState(snapshot);
      for (const run of [original, copy]) {
        run.edges.length = 0;
        expect(run.readWord(COUNTER0)).to.equal(7);
        run.at(20);
      }
      expect(copy.edges).to.deep.equal(['fall@10', 'rise@11', 'fall@14', 'rise@15', 'fall@18', 'rise@19']);
      expect(original.edges).to.deep.equal(copy.edges);
    });

    it('shifts the counters by whole clocks when loaded at a different virtual time', () => {
      const original = setup();
      original.program(0x36, 6, 0);
      original.at(2);
      const snapshot = original.pit.saveState();
      const copy = setup();
      copy.at(1000);
      copy.pit.loadState(snapshot);
      copy.edges.length = 0;
      copy.at(1011);
      expect(copy.edges).to.deep.equal(['fall@1002', 'rise@1005', 'fall@1008', 'rise@1011']);
    });

    it('rejects a snapshot of something else', () => {
      const { pit } = setup();
      expect(() => pit.loadState({ counters: [] })).to.throw(/PIT: snapshot is not an 8254 PIT state/);
    });
  });
});
