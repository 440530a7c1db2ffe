import { expect } from 'chai';
import { IoApic, IO_APIC_BASE, IO_APIC_PINS } from '../devices/io-apic.js';
import { MemoryBus } from '../core/mmu/memory-bus.js';

const IOREGSEL = 0x00;
const IOWIN = 0x10;
const ID = 0x00;
const VERSION = 0x01;
const ARBITRATION = 0x02;
const REDIRECTION = 0x10;

const NMI_MODE = 4 << 8;
const EXTINT_MODE = 7 << 8;
const LOGICAL = 1 << 11;
const DELIVERY_PENDING = 1 << 12;
const ACTIVE_LOW = 1 << 13;
const REMOTE_IRR = 1 << 14;
const LEVEL = 1 << 15;
const MASKED = 1 << 16;

function setup() {
  const delivered: [number, boolean][] = [];
  const ioApic = new IoApic((vector, levelTriggered) => delivered.push([vector, levelTriggered]));
  // Through a real memory bus, so 32-bit accesses arrive as four byte accesses, low first.
  const memory = new WebAssembly.Memory({ initial: 2 });
  const bus = new MemoryBus(memory, 0x1000);
  bus.mapMmio(IO_APIC_BASE, 0x1000, ioApic.mmio, 'I/O APIC');
  return { ioApic, bus, delivered };
}

type Parts = ReturnType<typeof setup>;

/** Linux's io_apic_read/io_apic_write: select with a dword store to IOREGSEL, then the window. */
function read(parts: Parts, register: number): number {
  parts.bus.write32(IO_APIC_BASE + IOREGSEL, register);
  return parts.bus.read32(IO_APIC_BASE + IOWIN) >>> 0;
}
function write(parts: Parts, register: number, value: number): void {
  parts.bus.write32(IO_APIC_BASE + IOREGSEL, register);
  parts.bus.write32(IO_APIC_BASE + IOWIN, value);
}
function program(parts: Parts, pin: number, low: number, destination = 0): void {
  write(parts, REDIRECTION + 2 * pin + 1, destination << 24);
  write(parts, REDIRECTION + 2 * pin, low);
}
function entry(parts: Parts, pin: number): number {
  return read(parts, REDIRECTION + 2 * pin);
}

describe('IoApic registers', () => {
  it('reads the ID, version and arbitration registers', () => {
    const parts = setup();
    expect(read(parts, ID)).to.equal(0);
    expect(read(parts, VERSION)).to.equal(0x00170011);
    expect(read(parts, ARBITRATION)).to.equal(0);
    write(parts, ID, 0xffffffff);
    expect(read(parts, ID)).to.equal(0x0f000000);
    expect(read(parts, ARBITRATION)).to.equal(0x0f000000);
    write(parts, VERSION, 0);
    write(parts, ARBITRATION, 0);
    expect(read(parts, VERSION)).to.equal(0x00170011);
    expect(read(parts, ARBITRATION)).to.equal(0x0f000000);
  });

  it('reads IOREGSEL back, undefined registers and offsets as 0, and the window a byte at a time', () => {
    const parts = setup();
    parts.bus.write8(IO_APIC_BASE + IOREGSEL, VERSION);
    expect(parts.bus.read32(IO_APIC_BASE + IOREGSEL)).to.equal(VERSION);
    expect([0, 1, 2, 3].map((byte) => parts.bus.read8(IO_APIC_BASE + IOWIN + byte))).to.deep.equal([0x11, 0x00, 0x17, 0x00]);
    expect(parts.bus.read16(IO_APIC_BASE + IOWIN + 2)).to.equal(0x0017);
    expect(read(parts, 0x03)).to.equal(0);
    expect(read(parts, 0x40)).to.equal(0);
    expect(parts.bus.read32(IO_APIC_BASE + 0x20)).to.equal(0);
    parts.bus.write32(IO_APIC_BASE + 0x40, 0xffffffff);
    expect(read(parts, 0x40)).to.equal(0);
  });

  it('comes out of reset with 24 masked redirection entries', () => {
    const parts = setup();
    for (let pin = 0; pin < IO_APIC_PINS; pin++) {
      expect(entry(parts, pin)).to.equal(MASKED);
      expect(read(parts, REDIRECTION + 2 * pin + 1)).to.equal(0);
    }
  });

  it('keeps the writable bits of each redirection entry; delivery status and remote IRR are read-only', () => {
    const parts = setup();
    write(parts, REDIRECTION + 2 * 23, 0xffffffff);
    expect(entry(parts, 23)).to.equal(0x0001afff);
    write(parts, REDIRECTION + 2 * 23 + 1, 0xffffffff);
    expect(read(parts, REDIRECTION + 2 * 23 + 1)).to.equal(0xff000000);
    program(parts, 5, 0x31 | LOGICAL | DELIVERY_PENDING | REMOTE_IRR, 0x01);
    expect(entry(parts, 5)).to.equal(0x31 | LOGICAL);
    expect(read(parts, REDIRECTION + 11)).to.equal(0x01000000);
  });

  it('gathers byte writes to the window into one register write at its highest byte', () => {
    const parts = setup();
    parts.bus.write8(IO_APIC_BASE + IOREGSEL, REDIRECTION + 2 * 4);
    parts.bus.write8(IO_APIC_BASE + IOWIN, 0x41);
    expect(entry(parts, 4)).to.equal(MASKED);
    parts.bus.write8(IO_APIC_BASE + IOREGSEL, REDIRECTION + 2 * 4);
    parts.bus.write8(IO_APIC_BASE + IOWIN, 0x41);
    parts.bus.write8(IO_APIC_BASE + IOWIN + 3, 0x00);
    expect(entry(parts, 4)).to.equal(MASKED | 0x41);
    // A lone high-byte store changes only that byte (here the destination).
    parts.bus.write8(IO_APIC_BASE + IOREGSEL, REDIRECTION + 2 * 4 + 1);
    parts.bus.write8(IO_APIC_BASE + IOWIN + 3, 0x0f);
    expect(read(parts, REDIRECTION + 2 * 4 + 1)).to.equal(0x0f000000);
  });

  it('refuses a pin that does not exist', () => {
    const { ioApic } = setup();
    expect(() => ioApic.input(24)).to.throw(/no pin 24/);
  });
});

describe('IoApic delivery', () => {
  it('sends an edge-triggered entry on each rising edge, not while held', () => {
    const parts = setup();
    program(parts, 1, 0x31);
    const line = parts.ioApic.input(1);
    line.raise();
    line.raise();
    expect(parts.delivered).to.deep.equal([[0x31, false]]);
    line.lower();
    line.pulse();
    expect(parts.delivered).to.deep.equal([[0x31, false], [0x31, false]]);
    expect(entry(parts, 1) & (REMOTE_IRR | DELIVERY_PENDING)).to.equal(0);
  });

  it('loses edges on a masked pin', () => {
    const parts = setup();
    program(parts, 1, 0x31 | MASKED);
    parts.ioApic.input(1).pulse();
    parts.ioApic.input(1).raise();
    program(parts, 1, 0x31);
    expect(parts.delivered).to.deep.equal([]);
  });

  it('sends a level-triggered entry once, holds it with remote IRR and sends again at EOI while asserted', () => {
    const parts = setup();
    program(parts, 16, 0x51 | LEVEL);
    const line = parts.ioApic.input(16);
    line.raise();
    expect(parts.delivered).to.deep.equal([[0x51, true]]);
    expect(entry(parts, 16) & REMOTE_IRR).to.equal(REMOTE_IRR);
    parts.ioApic.endOfInterrupt(0x52);
    expect(entry(parts, 16) & REMOTE_IRR).to.equal(REMOTE_IRR);
    parts.ioApic.endOfInterrupt(0x51);
    expect(parts.delivered).to.deep.equal([[0x51, true], [0x51, true]]);
    expect(entry(parts, 16) & REMOTE_IRR).to.equal(REMOTE_IRR);
    line.lower();
    parts.ioApic.endOfInterrupt(0x51);
    expect(entry(parts, 16) & REMOTE_IRR).to.equal(0);
    expect(parts.delivered).to.have.length(2);
    line.raise();
    expect(parts.delivered).to.have.length(3);
  });

  it('holds a masked level request until the entry is unmasked', () => {
    const parts = setup();
    program(parts, 9, 0x39 | LEVEL | MASKED);
    parts.ioApic.input(9).raise();
    expect(parts.delivered).to.deep.equal([]);
    expect(entry(parts, 9) & REMOTE_IRR).to.equal(0);
    program(parts, 9, 0x39 | LEVEL);
    expect(parts.delivered).to.deep.equal([[0x39, true]]);
  });

  it('clears remote IRR when an entry is switched to edge (the Linux EOI workaround for version 0x11)', () => {
    const parts = setup();
    program(parts, 10, 0x3a | LEVEL);
    parts.ioApic.input(10).raise();
    expect(entry(parts, 10) & REMOTE_IRR).to.equal(REMOTE_IRR);
    program(parts, 10, 0x3a | MASKED);
    expect(entry(parts, 10) & REMOTE_IRR).to.equal(0);
    program(parts, 10, 0x3a | LEVEL);
    expect(parts.delivered).to.deep.equal([[0x3a, true], [0x3a, true]]);
  });

  it('treats a low input as asserted on an active-low entry', () => {
    const parts = setup();
    const line = parts.ioApic.input(17);
    line.raise(); // an idle PCI INTx# line is high
    program(parts, 17, 0x61 | LEVEL | ACTIVE_LOW);
    expect(parts.delivered).to.deep.equal([]);
    line.lower();
    expect(parts.delivered).to.deep.equal([[0x61, true]]);
    line.raise();
    parts.ioApic.endOfInterrupt(0x61);
    expect(parts.delivered).to.have.length(1);

    program(parts, 18, 0x62 | ACTIVE_LOW);
    const edge = parts.ioApic.input(18);
    edge.raise();
    expect(parts.delivered).to.have.length(1);
    edge.lower();
    expect(parts.delivered).to.deep.equal([[0x61, true], [0x62, false]]);
  });

  it('passes NMI and ExtINT messages to their hooks', () => {
    const parts = setup();
    const events: string[] = [];
    parts.ioApic.onNmi = () => events.push('nmi');
    parts.ioApic.onExtInt = () => events.push('extint');
    program(parts, 0, EXTINT_MODE);
    program(parts, 3, NMI_MODE);
    parts.ioApic.input(0).pulse();
    parts.ioApic.input(3).pulse();
    expect(events).to.deep.equal(['extint', 'nmi']);
    expect(parts.delivered).to.deep.equal([]);
  });
});

describe('IoApic state', () => {
  it('resets the registers and keeps the input levels', () => {
    const parts = setup();
    write(parts, ID, 0x02000000);
    program(parts, 16, 0x51 | LEVEL);
    parts.ioApic.input(16).raise();
    parts.ioApic.reset();
    expect(read(parts, ID)).to.equal(0);
    expect(entry(parts, 16)).to.equal(MASKED);
    program(parts, 16, 0x51 | LEVEL);
    expect(parts.delivered).to.deep.equal([[0x51, true], [0x51, true]]);
  });

  it('saves and loads registers, remote IRR and input levels through JSON', () => {
    const first = setup();
    write(first, ID, 0x03000000);
    program(first, 16, 0x51 | LEVEL, 0x01);
    program(first, 2, 0x30);
    first.ioApic.input(16).raise();
    const saved = JSON.parse(JSON.stringify(first.ioApic.saveState()));

    const second = setup();
    second.ioApic.loadState(saved);
    expect(second.delivered).to.deep.equal([]);
    expect(read(second, ID)).to.equal(0x03000000);
    expect(entry(second, 16)).to.equal(0x51 | LEVEL | REMOTE_IRR);
    expect(read(second, REDIRECTION + 33)).to.equal(0x01000000);
    expect(entry(second, 2)).to.equal(0x30);
    // The input stayed asserted, so the EOI sends again.
    second.ioApic.endOfInterrupt(0x51);
    expect(second.delivered).to.deep.equal([[0x51, true]]);
    expect(() => second.ioApic.loadState({ low: [] })).to.throw(/not an I\/O APIC state/);
  });
});
