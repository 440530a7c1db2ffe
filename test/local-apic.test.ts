import { expect } from 'chai';
import { Scheduler } from '../core/machine/scheduler.js';
import { LocalApic } from '../devices/local-apic.js';

const ID = 0x20;
const VERSION = 0x30;
const TPR = 0x80;
const APR = 0x90;
const PPR = 0xa0;
const EOI = 0xb0;
const LDR = 0xd0;
const DFR = 0xe0;
const SVR = 0xf0;
const ISR = 0x100;
const TMR = 0x180;
const IRR = 0x200;
const ESR = 0x280;
const ICR_LOW = 0x300;
const ICR_HIGH = 0x310;
const LVT_TIMER = 0x320;
const LVT_THERMAL = 0x330;
const LVT_PERF = 0x340;
const LVT_LINT0 = 0x350;
const LVT_LINT1 = 0x360;
const LVT_ERROR = 0x370;
const TIMER_INITIAL = 0x380;
const TIMER_CURRENT = 0x390;
const TIMER_DIVIDE = 0x3e0;

const ENABLED = 0x100;
const MASKED = 0x10000;
const PERIODIC = 0x20000;
const APIC_BASE = 0xfee00000;

/** Divide configuration register encodings (SDM figure 10-10) by divisor. */
const DIVIDE_CODES: Record<number, number> = { 1: 0xb, 2: 0x0, 4: 0x1, 8: 0x2, 16: 0x3, 32: 0x8, 64: 0x9, 128: 0xa };

function setup(options?: { id?: number; busHz?: number }) {
  const scheduler = new Scheduler();
  const apic = new LocalApic(scheduler, options);
  const changes: boolean[] = [];
  apic.onInterruptChange((pending) => changes.push(pending));
  return { scheduler, apic, changes };
}

/** An APIC that is software-enabled with spurious vector 0xFF. */
function enabled(options?: { id?: number; busHz?: number }) {
  const parts = setup(options);
  parts.apic.write32(SVR, ENABLED | 0xff);
  return parts;
}

/** MMIO as the memory bus issues it: four byte accesses, lowest address first. */
function mmioWrite32(apic: LocalApic, offset: number, value: number): void {
  for (let i = 0; i < 4; i++) apic.mmio.write8(APIC_BASE + offset + i, (value >>> (8 * i)) & 0xff);
}
function mmioRead32(apic: LocalApic, offset: number): number {
  let value = 0;
  for (let i = 0; i < 4; i++) value |= apic.mmio.read8(APIC_BASE + offset + i) << (8 * i);
  return value >>> 0;
}

function bitOf(apic: LocalApic, base: number, vector: number): boolean {
  return ((apic.read32(base + (vector >>> 5) * 0x10) >>> (vector & 31)) & 1) === 1;
}

describe('LocalApic registers', () => {
  it('comes out of reset with the documented values', () => {
    const { apic } = setup({ id: 3 });
    expect(apic.name).to.equal('local-apic');
    expect(apic.read32(ID)).to.equal(0x03000000);
    expect(apic.read32(VERSION)).to.equal(0x00050014);
    expect(apic.read32(TPR)).to.equal(0);
    expect(apic.read32(PPR)).to.equal(0);
    expect(apic.read32(LDR)).to.equal(0);
    expect(apic.read32(DFR)).to.equal(0xffffffff);
    expect(apic.read32(SVR)).to.equal(0xff);
    for (const lvt of [LVT_TIMER, LVT_THERMAL, LVT_PERF, LVT_LINT0, LVT_LINT1, LVT_ERROR]) {
      expect(apic.read32(lvt)).to.equal(MASKED);
    }
    expect(apic.read32(TIMER_INITIAL)).to.equal(0);
    expect(apic.read32(TIMER_CURRENT)).to.equal(0);
    expect(apic.read32(TIMER_DIVIDE)).to.equal(0);
    expect(apic.softwareEnabled).to.equal(false);
  });

  it('keeps only the writable bits of each register', () => {
    const { apic } = enabled();
    apic.write32(ID, 0xffffffff);
    expect(apic.read32(ID)).to.equal(0xff000000);
    apic.write32(TPR, 0xffffffff);
    expect(apic.read32(TPR)).to.equal(0xff);
    apic.write32(LDR, 0xffffffff);
    expect(apic.read32(LDR)).to.equal(0xff000000);
    apic.write32(DFR, 0);
    expect(apic.read32(DFR)).to.equal(0x0fffffff);
    apic.write32(SVR, 0xffffffff);
    expect(apic.read32(SVR)).to.equal(0x3ff);
    apic.write32(LVT_TIMER, 0xffffffff);
    expect(apic.read32(LVT_TIMER)).to.equal(0x000300ff); // no TSC-deadline mode, status bit read-only
    apic.write32(LVT_THERMAL, 0xffffffff);
    expect(apic.read32(LVT_THERMAL)).to.equal(0x000107ff);
    apic.write32(LVT_PERF, 0xffffffff);
    expect(apic.read32(LVT_PERF)).to.equal(0x000107ff);
    apic.write32(LVT_LINT0, 0xffffffff);
    expect(apic.read32(LVT_LINT0)).to.equal(0x0001a7ff); // remote IRR and delivery status read-only
    apic.write32(LVT_LINT1, 0xffffffff);
    expect(apic.read32(LVT_LINT1)).to.equal(0x0001a7ff);
    apic.write32(LVT_ERROR, 0xffffffff);
    expect(apic.read32(LVT_ERROR)).to.equal(0x000100ff);
    apic.write32(TIMER_DIVIDE, 0xffffffff);
    expect(apic.read32(TIMER_DIVIDE)).to.equal(0xb);
    apic.write32(ICR_HIGH, 0xffffffff);
    expect(apic.read32(ICR_HIGH)).to.equal(0xff000000);
  });

  it('ignores writes to the read-only registers', () => {
    const { apic } = enabled();
    apic.accept(0x41);
    for (const offset of [VERSION, APR, PPR, ISR + 0x20, TMR, IRR + 0x20, TIMER_CURRENT]) {
      const before = apic.read32(offset);
      apic.write32(offset, 0x12345678);
      expect(apic.read32(offset), `offset 0x${offset.toString(16)}`).to.equal(before);
    }
    expect(bitOf(apic, IRR, 0x41)).to.equal(true);
    expect(apic.read32(EOI)).to.equal(0);
    expect(apic.read32(ESR)).to.equal(0);
  });

  it('logs reserved offsets as illegal register addresses in the ESR, latched by an ESR write', () => {
    const { apic } = enabled();
    expect(apic.read32(0x40)).to.equal(0);
    apic.write32(0x3f0, 1);
    expect(apic.read32(ESR)).to.equal(0); // not latched yet
    apic.write32(ESR, 0);
    expect(apic.read32(ESR)).to.equal(0x80);
    apic.write32(ESR, 0);
    expect(apic.read32(ESR)).to.equal(0);
    expect(() => apic.read32(0x24)).to.throw(RangeError, /0x24/);
    expect(() => apic.write32(0x1000, 0)).to.throw(RangeError);
  });

  it('serves byte accesses through MMIO and commits a dword when its highest byte is written', () => {
    const { apic } = enabled();
    mmioWrite32(apic, LVT_TIMER, 0x00020031);
    expect(apic.read32(LVT_TIMER)).to.equal(0x00020031);
    expect(mmioRead32(apic, VERSION)).to.equal(0x00050014);
    expect(apic.mmio.read8(APIC_BASE + VERSION + 2)).to.equal(0x05);
    expect(apic.mmio.read8(APIC_BASE + VERSION + 4)).to.equal(0); // padding of the 16-byte slot
    // Lower bytes alone do not write; the highest byte commits what was gathered.
    apic.mmio.write8(APIC_BASE + TPR, 0x50);
    expect(apic.read32(TPR)).to.equal(0);
    apic.mmio.write8(APIC_BASE + TPR + 3, 0);
    expect(apic.read32(TPR)).to.equal(0x50);
    // Bytes of another dword start a new gathering; padding writes are ignored.
    apic.mmio.write8(APIC_BASE + TPR, 0x20);
    apic.mmio.write8(APIC_BASE + LDR + 3, 0x04);
    apic.mmio.write8(APIC_BASE + LDR + 5, 0x99);
    expect(apic.read32(TPR)).to.equal(0x50);
    expect(apic.read32(LDR)).to.equal(0x04000000);
    // The bus address is taken modulo the page, so the APIC works wherever it is mapped.
    apic.mmio.write8(0xfec00000 + TPR + 3, 0);
    expect(apic.read32(TPR)).to.equal(0);
  });
});

describe('LocalApic interrupt priority', () => {
  it('computes PPR from TPR and the highest in-service vector', () => {
    const { apic } = enabled();
    apic.write32(TPR, 0x35);
    expect(apic.read32(PPR)).to.equal(0x35);
    apic.accept(0x62);
    expect(apic.acknowledge()).to.equal(0x62);
    expect(apic.read32(PPR)).to.equal(0x60);
    apic.write32(TPR, 0x6a); // same class as the in-service vector: TPR wins, low bits kept
    expect(apic.read32(PPR)).to.equal(0x6a);
    apic.write32(TPR, 0x10);
    apic.write32(EOI, 0);
    expect(apic.read32(PPR)).to.equal(0x10);
  });

  it('computes APR from TPR, the highest request and the highest in-service vector', () => {
    const { apic } = enabled();
    apic.write32(TPR, 0x45);
    expect(apic.read32(APR)).to.equal(0x45);
    apic.accept(0x30);
    expect(apic.read32(APR)).to.equal(0x45);
    apic.accept(0x52);
    expect(apic.read32(APR)).to.equal(0x50);
    apic.write32(TPR, 0x75);
    expect(apic.read32(APR)).to.equal(0x75);
  });

  it('masks requests whose class is not above the TPR class', () => {
    const { apic, changes } = enabled();
    apic.write32(TPR, 0x40);
    apic.accept(0x4f);
    expect(apic.hasInterrupt()).to.equal(false);
    expect(changes).to.deep.equal([]);
    apic.write32(TPR, 0x3f);
    expect(apic.hasInterrupt()).to.equal(true);
    expect(changes).to.deep.equal([true]);
    apic.write32(TPR, 0x40);
    expect(changes).to.deep.equal([true, false]);
  });

  it('moves IRR to ISR on acknowledge and retires nested vectors highest first on EOI', () => {
    const { apic, changes } = enabled();
    apic.accept(0x30);
    expect(bitOf(apic, IRR, 0x30)).to.equal(true);
    expect(apic.acknowledge()).to.equal(0x30);
    expect(bitOf(apic, IRR, 0x30)).to.equal(false);
    expect(bitOf(apic, ISR, 0x30)).to.equal(true);
    expect(apic.hasInterrupt()).to.equal(false);

    apic.accept(0x31); // same class as the one in service: waits
    expect(apic.hasInterrupt()).to.equal(false);
    apic.accept(0x50); // higher class nests
    expect(apic.hasInterrupt()).to.equal(true);
    expect(apic.acknowledge()).to.equal(0x50);
    apic.accept(0x40); // below the new in-service class
    expect(apic.hasInterrupt()).to.equal(false);
    expect(apic.read32(PPR)).to.equal(0x50);

    apic.write32(EOI, 0); // retires 0x50
    expect(bitOf(apic, ISR, 0x50)).to.equal(false);
    expect(bitOf(apic, ISR, 0x30)).to.equal(true);
    expect(apic.hasInterrupt()).to.equal(true);
    expect(apic.acknowledge()).to.equal(0x40);
    apic.write32(EOI, 0); // retires 0x40
    expect(apic.hasInterrupt()).to.equal(false); // 0x31 still blocked by 0x30 in service
    apic.write32(EOI, 0); // retires 0x30
    expect(apic.acknowledge()).to.equal(0x31);
    apic.write32(EOI, 0);
    expect(apic.read32(ISR + 0x10)).to.equal(0);
    expect(apic.read32(IRR + 0x10)).to.equal(0);
    apic.write32(EOI, 0); // nothing in service: no effect
    expect(changes).to.deep.equal([true, false, true, false, true, false, true, false]);
  });

  it('answers the spurious vector when the TPR rises before the acknowledge, without touching ISR', () => {
    const { apic } = enabled();
    apic.write32(SVR, ENABLED | 0x3f);
    apic.accept(0x61);
    expect(apic.hasInterrupt()).to.equal(true);
    apic.write32(TPR, 0x80);
    expect(apic.acknowledge()).to.equal(0x3f);
    expect(bitOf(apic, IRR, 0x61)).to.equal(true);
    expect(apic.read32(ISR + 0x30)).to.equal(0);
    expect(apic.acknowledge()).to.equal(0x3f); // and when nothing is pending at all
  });

  it('records the trigger mode in the TMR', () => {
    const { apic } = enabled();
    apic.accept(0x45, true);
    apic.accept(0x46);
    expect(bitOf(apic, TMR, 0x45)).to.equal(true);
    expect(bitOf(apic, TMR, 0x46)).to.equal(false);
  });

  it('refuses illegal vectors 0-15 with a receive error and raises the error LVT entry', () => {
    const { apic } = enabled();
    apic.write32(LVT_ERROR, 0xee);
    apic.accept(0x0e);
    expect(apic.read32(IRR)).to.equal(0);
    apic.write32(ESR, 0);
    expect(apic.read32(ESR)).to.equal(0x40);
    expect(apic.acknowledge()).to.equal(0xee);
  });
});

describe('LocalApic software enable', () => {
  it('delivers nothing while disabled and keeps every LVT entry masked', () => {
    const { apic, scheduler, changes } = enabled();
    apic.accept(0x50);
    expect(changes).to.deep.equal([true]);
    apic.write32(SVR, 0xff); // software disable
    expect(changes).to.deep.equal([true, false]);
    expect(apic.hasInterrupt()).to.equal(false);
    expect(apic.acknowledge()).to.equal(0xff);
    expect(bitOf(apic, IRR, 0x50)).to.equal(true); // held, not lost
    apic.accept(0x60); // not accepted while disabled
    expect(bitOf(apic, IRR, 0x60)).to.equal(false);

    apic.write32(LVT_TIMER, 0x40); // mask bit cannot be cleared
    expect(apic.read32(LVT_TIMER)).to.equal(MASKED | 0x40);
    apic.write32(TIMER_DIVIDE, DIVIDE_CODES[1]);
    apic.write32(TIMER_INITIAL, 10);
    scheduler.advanceTo(1000);
    expect(bitOf(apic, IRR, 0x40)).to.equal(false);

    apic.write32(SVR, ENABLED | 0xff); // enabling again leaves the LVT masked, delivers what was held
    expect(apic.read32(LVT_TIMER)).to.equal(MASKED | 0x40);
    expect(apic.hasInterrupt()).to.equal(true);
    expect(apic.acknowledge()).to.equal(0x50);
  });

  it('masks the LVT entries when disabled after they were programmed', () => {
    const { apic } = enabled();
    apic.write32(LVT_LINT0, 0x700);
    apic.write32(LVT_TIMER, 0x20030);
    apic.write32(SVR, 0);
    expect(apic.read32(LVT_LINT0)).to.equal(MASKED | 0x700);
    expect(apic.read32(LVT_TIMER)).to.equal(MASKED | 0x20030);
  });
});

describe('LocalApic timer', () => {
  for (const divisor of [1, 2, 16, 128]) {
    it(`fires once after count x ${divisor} bus clocks (one-shot, divide by ${divisor})`, () => {
      const { apic, scheduler, changes } = enabled();
      apic.write32(TIMER_DIVIDE, DIVIDE_CODES[divisor]);
      apic.write32(LVT_TIMER, 0x40);
      scheduler.advanceTo(500);
      apic.write32(TIMER_INITIAL, 1000);
      const deadline = 500 + 1000 * divisor * 10; // 100 MHz bus: 10 ns per clock
      expect(scheduler.nextDeadlineNs()).to.equal(deadline);
      scheduler.advanceTo(deadline - 1);
      expect(apic.hasInterrupt()).to.equal(false);
      expect(apic.read32(TIMER_CURRENT)).to.equal(1);
      scheduler.advanceTo(deadline);
      expect(changes).to.deep.equal([true]);
      expect(apic.read32(TIMER_CURRENT)).to.equal(0);
      expect(apic.read32(TIMER_INITIAL)).to.equal(1000);
      expect(apic.acknowledge()).to.equal(0x40);
      scheduler.advanceTo(deadline * 10);
      expect(apic.read32(IRR + 0x20)).to.equal(0);
      expect(scheduler.pending()).to.equal(0);
    });
  }

  for (const divisor of [4, 32]) {
    it(`fires every count x ${divisor} bus clocks in periodic mode (divide by ${divisor})`, () => {
      const { apic, scheduler } = enabled();
      apic.write32(TIMER_DIVIDE, DIVIDE_CODES[divisor]);
      apic.write32(LVT_TIMER, PERIODIC | 0x41);
      apic.write32(TIMER_INITIAL, 250);
      const period = 250 * divisor * 10;
      const fired: number[] = [];
      for (let n = 1; n <= 4; n++) {
        scheduler.advanceTo(n * period - 1);
        expect(apic.hasInterrupt()).to.equal(false);
        scheduler.advanceTo(n * period);
        expect(apic.hasInterrupt()).to.equal(true);
        fired.push(scheduler.nowNs);
        expect(apic.read32(TIMER_CURRENT)).to.equal(250); // reloaded
        expect(apic.acknowledge()).to.equal(0x41);
        apic.write32(EOI, 0);
      }
      expect(fired).to.deep.equal([period, 2 * period, 3 * period, 4 * period]);
    });
  }

  it('derives the current count from elapsed virtual time, including halfway', () => {
    const { apic, scheduler } = enabled({ busHz: 50_000_000 }); // 20 ns per clock
    apic.write32(TIMER_DIVIDE, DIVIDE_CODES[8]); // 160 ns per count
    apic.write32(TIMER_INITIAL, 0x10000);
    scheduler.advanceTo(0x8000 * 160);
    expect(apic.read32(TIMER_CURRENT)).to.equal(0x8000);
    scheduler.advanceTo(0x8000 * 160 + 159);
    expect(apic.read32(TIMER_CURRENT)).to.equal(0x8000);
    scheduler.advanceTo(0x8000 * 160 + 160);
    expect(apic.read32(TIMER_CURRENT)).to.equal(0x7fff);
    expect(mmioRead32(apic, TIMER_CURRENT)).to.equal(0x7fff);
  });

  it('applies a new divisor to the count reached so far', () => {
    const { apic, scheduler } = enabled();
    apic.write32(LVT_TIMER, 0x40);
    apic.write32(TIMER_DIVIDE, DIVIDE_CODES[1]);
    apic.write32(TIMER_INITIAL, 100);
    scheduler.advanceTo(400); // 40 counts gone
    apic.write32(TIMER_DIVIDE, DIVIDE_CODES[4]);
    expect(apic.read32(TIMER_CURRENT)).to.equal(60);
    expect(scheduler.nextDeadlineNs()).to.equal(400 + 60 * 40);
  });

  it('keeps counting while masked but raises nothing', () => {
    const { apic, scheduler, changes } = enabled();
    apic.write32(TIMER_DIVIDE, DIVIDE_CODES[1]);
    apic.write32(LVT_TIMER, MASKED | PERIODIC | 0x40);
    apic.write32(TIMER_INITIAL, 100);
    scheduler.advanceTo(250);
    expect(apic.read32(TIMER_CURRENT)).to.equal(75);
    scheduler.advanceTo(1000);
    expect(apic.read32(IRR + 0x20)).to.equal(0);
    expect(apic.read32(TIMER_CURRENT)).to.equal(100);
    apic.write32(LVT_TIMER, PERIODIC | 0x40); // unmasked: the next expiry raises
    scheduler.advanceTo(2000);
    expect(changes).to.deep.equal([true]);
    expect(apic.acknowledge()).to.equal(0x40);
  });

  it('stops when the initial count is written with 0, and restarts on a new count', () => {
    const { apic, scheduler } = enabled();
    apic.write32(TIMER_DIVIDE, DIVIDE_CODES[1]);
    apic.write32(LVT_TIMER, PERIODIC | 0x40);
    apic.write32(TIMER_INITIAL, 100);
    scheduler.advanceTo(500);
    apic.write32(TIMER_INITIAL, 0);
    expect(apic.read32(TIMER_CURRENT)).to.equal(0);
    expect(scheduler.pending()).to.equal(0);
    scheduler.advanceTo(5000);
    expect(apic.hasInterrupt()).to.equal(false);
    apic.write32(TIMER_INITIAL, 30); // restart from now
    apic.write32(TIMER_INITIAL, 20); // and again: the first countdown is replaced
    expect(scheduler.pending()).to.equal(1);
    scheduler.advanceTo(5199);
    expect(apic.hasInterrupt()).to.equal(false);
    scheduler.advanceTo(5200);
    expect(apic.hasInterrupt()).to.equal(true);
  });
});

describe('LocalApic interprocessor interrupts', () => {
  it('delivers fixed self-IPIs by shorthand and by physical or logical destination, with idle status', () => {
    const { apic } = enabled({ id: 2 });
    apic.write32(ICR_LOW, 0x40000 | 0x51); // shorthand self
    expect(bitOf(apic, IRR, 0x51)).to.equal(true);
    expect(apic.read32(ICR_LOW)).to.equal(0x40051); // delivery status bit 12 reads idle
    apic.write32(ICR_HIGH, 0x02000000);
    apic.write32(ICR_LOW, 0x52); // physical destination = own ID
    expect(bitOf(apic, IRR, 0x52)).to.equal(true);
    apic.write32(ICR_HIGH, 0x03000000);
    apic.write32(ICR_LOW, 0x53); // another ID: nobody
    expect(bitOf(apic, IRR, 0x53)).to.equal(false);
    apic.write32(ICR_LOW, 0xc0000 | 0x54); // all excluding self: nobody
    expect(bitOf(apic, IRR, 0x54)).to.equal(false);
    apic.write32(ICR_LOW, 0x80000 | 0x8000 | 0x4000 | 0x55); // all including self, level
    expect(bitOf(apic, IRR, 0x55)).to.equal(true);
    expect(bitOf(apic, TMR, 0x55)).to.equal(true);

    apic.write32(LDR, 0x24000000); // flat model: bit match
    apic.write32(ICR_HIGH, 0x04000000);
    apic.write32(ICR_LOW, 0x800 | 0x56);
    expect(bitOf(apic, IRR, 0x56)).to.equal(true);
    apic.write32(DFR, 0x0fffffff); // cluster model: cluster 2, member bit 2
    apic.write32(ICR_HIGH, 0x14000000);
    apic.write32(ICR_LOW, 0x800 | 0x57);
    expect(bitOf(apic, IRR, 0x57)).to.equal(false);
    apic.write32(ICR_HIGH, 0x24000000);
    apic.write32(ICR_LOW, 0x800 | 0x58);
    expect(bitOf(apic, IRR, 0x58)).to.equal(true);
    expect(apic.acknowledge()).to.equal(0x58);
  });

  it('reports a send error for an illegal vector and delivers nothing', () => {
    const { apic } = enabled();
    apic.write32(ICR_LOW, 0x40000 | 0x05);
    expect(apic.read32(IRR)).to.equal(0);
    apic.write32(ESR, 0);
    expect(apic.read32(ESR)).to.equal(0x20);
  });

  it('reports INIT, start-up and NMI IPIs to self to the machine', () => {
    const { apic } = enabled({ id: 1 });
    const seen: string[] = [];
    apic.onInitOrStartup = (kind, vector) => seen.push(`${kind} ${vector.toString(16)}`);
    apic.onNmi = () => seen.push('nmi');
    apic.write32(ICR_HIGH, 0x01000000);
    apic.write32(ICR_LOW, 0x4500); // INIT, level assert
    apic.write32(ICR_LOW, 0x8500); // INIT level de-assert: no processor sees it
    apic.write32(ICR_LOW, 0x069f); // SIPI, start at 9F000
    apic.write32(ICR_LOW, 0x0400); // NMI
    apic.write32(ICR_LOW, 0xc0000 | 0x0500); // INIT to all but self: nobody here
    expect(seen).to.deep.equal(['init 0', 'startup 9f', 'nmi']);
    expect(apic.read32(IRR + 0x40)).to.equal(0); // a start-up vector is no interrupt request
  });
});

describe('LocalApic reset and snapshots', () => {
  it('resets to the power-on state and stops the timer', () => {
    const { apic, scheduler, changes } = enabled({ id: 5 });
    apic.write32(ID, 0x07000000);
    apic.write32(LVT_TIMER, 0x40);
    apic.write32(TIMER_INITIAL, 1000);
    apic.accept(0x70);
    apic.reset();
    expect(changes).to.deep.equal([true, false]);
    expect(apic.read32(ID)).to.equal(0x05000000);
    expect(apic.read32(SVR)).to.equal(0xff);
    expect(apic.read32(IRR + 0x30)).to.equal(0);
    expect(apic.read32(TIMER_CURRENT)).to.equal(0);
    expect(scheduler.pending()).to.equal(0);
  });

  it('round-trips mid-countdown: the restored timer fires at the same virtual time', () => {
    const { apic, scheduler } = enabled();
    apic.write32(TPR, 0x20);
    apic.write32(TIMER_DIVIDE, DIVIDE_CODES[2]);
    apic.write32(LVT_TIMER, PERIODIC | 0x60);
    apic.accept(0x45, true);
    expect(apic.acknowledge()).to.equal(0x45);
    apic.accept(0x33);
    apic.write32(TIMER_INITIAL, 1000); // period 20000 ns
    scheduler.advanceTo(7000);
    const snapshot = JSON.parse(JSON.stringify(apic.saveState()));

    // A fresh APIC on another scheduler that is at the same virtual time.
    const other = new Scheduler();
    other.advanceTo(7000);
    const restored = new LocalApic(other);
    const changes: boolean[] = [];
    restored.onInterruptChange((pending) => changes.push(pending));
    restored.loadState(snapshot);
    expect(changes).to.deep.equal([]); // 0x33 is below the in-service 0x45
    for (const offset of [TPR, PPR, SVR, LVT_TIMER, TIMER_DIVIDE, TIMER_INITIAL, TIMER_CURRENT, ISR + 0x20, IRR + 0x10, TMR + 0x20]) {
      expect(restored.read32(offset), `offset 0x${offset.toString(16)}`).to.equal(apic.read32(offset));
    }
    expect(restored.read32(TIMER_CURRENT)).to.equal(650);
    expect(other.nextDeadlineNs()).to.equal(20000);
    other.advanceTo(19999);
    expect(restored.hasInterrupt()).to.equal(false);
    other.advanceTo(20000);
    expect(restored.hasInterrupt()).to.equal(true);
    expect(restored.acknowledge()).to.equal(0x60);
    other.advanceTo(40000); // still periodic after the restore
    expect(bitOf(restored, IRR, 0x60)).to.equal(true);

    // Loading over a running APIC replaces its countdown.
    apic.loadState(restored.saveState());
    expect(scheduler.pending()).to.equal(1);
    expect(() => restored.loadState({ lvt: [] })).to.throw(/not a local APIC state/);
  });
});
