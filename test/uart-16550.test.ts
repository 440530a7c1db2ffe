import { expect } from 'chai';
import { IoBus } from '../devices/bus/io-bus.js';
import { IrqLine } from '../devices/bus/irq-line.js';
import { Uart16550 } from '../devices/uart-16550.js';

const COM1 = 0x3f8;
const DATA = COM1;
const IER = COM1 + 1;
const IIR = COM1 + 2;
const FCR = COM1 + 2;
const LCR = COM1 + 3;
const MCR = COM1 + 4;
const LSR = COM1 + 5;
const MSR = COM1 + 6;
const SCR = COM1 + 7;

const MCR_OUT2 = 0x08;
const MCR_LOOPBACK = 0x10;
const IIR_NONE = 0x01;
const IIR_MODEM = 0x00;
const IIR_THRE = 0x02;
const IIR_RX = 0x04;
const IIR_LINE = 0x06;
const IIR_TIMEOUT = 0x0c;

function setup() {
  const io = new IoBus();
  const irq = new IrqLine('irq4');
  const uart = new Uart16550(io, COM1, irq);
  const sent: number[] = [];
  uart.onTransmit((byte) => sent.push(byte));
  const drain = (): number[] => {
    const bytes: number[] = [];
    while (io.read8(LSR) & 0x01) bytes.push(io.read8(DATA));
    return bytes;
  };
  return { io, irq, uart, sent, drain };
}

describe('Uart16550', () => {
  it('claims eight ports under its name', () => {
    const { io, uart } = setup();
    expect(uart.name).to.equal('COM1');
    expect(io.ownerOf(COM1)).to.equal('COM1');
    expect(io.ownerOf(COM1 + 7)).to.equal('COM1');
    expect(io.ownerOf(COM1 + 8)).to.equal(undefined);
    expect(() => new Uart16550(io, 0x3fc, new IrqLine('x'), 'COM9')).to.throw(/COM9.*COM1/);
  });

  it('comes out of reset with the documented register values', () => {
    const { io, irq } = setup();
    expect(io.read8(IER)).to.equal(0);
    expect(io.read8(IIR)).to.equal(IIR_NONE);
    expect(io.read8(LCR)).to.equal(0);
    expect(io.read8(MCR)).to.equal(0);
    expect(io.read8(LSR)).to.equal(0x60);
    expect(io.read8(MSR)).to.equal(0xb0); // CTS, DSR, DCD from a connected host, no deltas
    expect(irq.level).to.equal(false);
  });

  it('keeps a scratch register', () => {
    const { io } = setup();
    io.write8(SCR, 0x5a);
    expect(io.read8(SCR)).to.equal(0x5a);
  });

  it('swaps data and IER for the divisor latch while DLAB is set', () => {
    const { io, sent } = setup();
    io.write8(IER, 0x05);
    io.write8(LCR, 0x83);
    expect(io.read8(DATA)).to.equal(12);
    expect(io.read8(IER)).to.equal(0);
    io.write8(DATA, 0x01);
    io.write8(IER, 0x02);
    expect(io.read8(DATA)).to.equal(0x01);
    expect(io.read8(IER)).to.equal(0x02);
    expect(sent).to.deep.equal([]);
    io.write8(LCR, 0x03);
    expect(io.read8(LCR)).to.equal(0x03);
    expect(io.read8(IER)).to.equal(0x05);
    io.write8(DATA, 0x41);
    expect(sent).to.deep.equal([0x41]);
    io.write8(LCR, 0x80);
    expect(io.read8(DATA) | (io.read8(IER) << 8)).to.equal(0x0201);
  });

  it('transmits instantly, so THR and the transmitter always read empty', () => {
    const { io, sent } = setup();
    for (const ch of 'ok\n') io.write8(DATA, ch.charCodeAt(0));
    expect(String.fromCharCode(...sent)).to.equal('ok\n');
    expect(io.read8(LSR) & 0x60).to.equal(0x60);
  });

  it('delivers host input in order, with FIFOs off, losing nothing', () => {
    const { io, uart, drain } = setup();
    const input = Array.from({ length: 100 }, (_, i) => i + 1);
    uart.receive(input);
    expect(io.read8(LSR) & 0x03).to.equal(0x01);
    expect(drain()).to.deep.equal(input);
    expect(io.read8(LSR) & 0x03).to.equal(0x00);
    // An empty holding register still shows the last byte.
    expect(io.read8(DATA)).to.equal(100);
  });

  it('delivers host input in order with FIFOs on, even in several batches', () => {
    const { io, uart, drain } = setup();
    io.write8(FCR, 0x07);
    uart.receive(new Uint8Array([1, 2, 3]));
    uart.receive(Array.from({ length: 40 }, (_, i) => 10 + i));
    expect(drain()).to.deep.equal([1, 2, 3, ...Array.from({ length: 40 }, (_, i) => 10 + i)]);
  });

  it('flags an overrun only when host input exceeds its megabyte of buffering', () => {
    const { io, uart } = setup();
    io.write8(FCR, 0x01);
    const input = new Uint8Array((1 << 20) + 5).map((_, i) => i & 0xff);
    uart.receive(input);
    expect(io.read8(LSR) & 0x03).to.equal(0x03);
    expect(io.read8(LSR) & 0x03).to.equal(0x01); // reading LSR clears OE
    let count = 0;
    let inOrder = true;
    while (io.read8(LSR) & 0x01) {
      if (io.read8(DATA) !== (count & 0xff)) inOrder = false;
      count++;
    }
    expect(inOrder).to.equal(true);
    expect(count).to.equal(1 << 20);
  });

  it('reports FIFO mode in IIR bits 6-7', () => {
    const { io } = setup();
    io.write8(FCR, 0x01);
    expect(io.read8(IIR)).to.equal(0xc1);
    io.write8(FCR, 0x00);
    expect(io.read8(IIR)).to.equal(0x01);
  });

  it('clears the RX FIFO on request and refills it from waiting host input', () => {
    const { io, uart } = setup();
    io.write8(FCR, 0x01);
    uart.receive([1, 2, 3]);
    io.write8(FCR, 0x03);
    expect(io.read8(LSR) & 0x01).to.equal(0);
    uart.receive(Array.from({ length: 20 }, (_, i) => i));
    io.write8(FCR, 0x03);
    expect(io.read8(DATA)).to.equal(16);
  });

  it('empties the receiver when the FIFOs are switched on or off', () => {
    const { io, uart } = setup();
    uart.receive([7]);
    io.write8(FCR, 0x01);
    expect(io.read8(LSR) & 0x01).to.equal(0);
    uart.receive([8]);
    io.write8(FCR, 0x00);
    expect(io.read8(LSR) & 0x01).to.equal(0);
  });

  for (const [bits, level] of [
    [0x00, 1],
    [0x40, 4],
    [0x80, 8],
    [0xc0, 14],
  ] as const) {
    it(`raises RX-data at a trigger level of ${level} and character timeout below it`, () => {
      const { io, uart } = setup();
      io.write8(FCR, 0x01 | bits);
      io.write8(IER, 0x01);
      if (level > 1) {
        uart.receive(new Array(level - 1).fill(0x55));
        expect(io.read8(IIR)).to.equal(0xc0 | IIR_TIMEOUT);
      }
      uart.receive([0x66]);
      expect(io.read8(IIR)).to.equal(0xc0 | IIR_RX);
      io.read8(DATA);
      expect(io.read8(IIR)).to.equal(level > 1 ? 0xc0 | IIR_TIMEOUT : 0xc1);
    });
  }

  it('raises RX-data for a single byte when FIFOs are off', () => {
    const { io, uart } = setup();
    io.write8(IER, 0x01);
    expect(io.read8(IIR)).to.equal(IIR_NONE);
    uart.receive([0x61]);
    expect(io.read8(IIR)).to.equal(IIR_RX);
    io.read8(DATA);
    expect(io.read8(IIR)).to.equal(IIR_NONE);
  });

  it('reports sources by priority: line status, RX data, THR empty, modem status', () => {
    const { io } = setup();
    io.write8(IER, 0x0f);
    io.write8(MCR, MCR_LOOPBACK); // MSR lines drop from the host's to MCR's: modem deltas latch
    io.write8(DATA, 0x11);
    io.write8(DATA, 0x22); // the one-byte receiver is full: overrun, the new byte wins
    expect(io.read8(IIR)).to.equal(IIR_LINE);
    expect(io.read8(LSR)).to.equal(0x63);
    expect(io.read8(IIR)).to.equal(IIR_RX);
    expect(io.read8(DATA)).to.equal(0x22);
    expect(io.read8(IIR)).to.equal(IIR_THRE);
    expect(io.read8(IIR)).to.equal(IIR_MODEM); // reading IIR acknowledged THR empty
    expect(io.read8(MSR)).to.equal(0x0b);
    expect(io.read8(IIR)).to.equal(IIR_NONE);
  });

  it('keeps the FIFO and drops the new byte on a loopback overrun with FIFOs on', () => {
    const { io, drain } = setup();
    io.write8(FCR, 0x01);
    io.write8(MCR, MCR_LOOPBACK);
    for (let i = 0; i < 17; i++) io.write8(DATA, i);
    expect(io.read8(LSR) & 0x03).to.equal(0x03);
    expect(drain()).to.deep.equal([...Array(16).keys()]);
  });

  describe('THR-empty interrupt', () => {
    it('arms when ETBEI is set and clears when IIR reports it', () => {
      const { io, irq } = setup();
      io.write8(MCR, MCR_OUT2);
      io.write8(IER, 0x02);
      expect(irq.level).to.equal(true);
      expect(io.read8(IIR)).to.equal(IIR_THRE);
      expect(irq.level).to.equal(false);
      expect(io.read8(IIR)).to.equal(IIR_NONE);
    });

    it('does not re-arm on a rewrite of an unchanged IER, but does when ETBEI is toggled', () => {
      const { io } = setup();
      io.write8(IER, 0x02);
      io.read8(IIR);
      io.write8(IER, 0x02);
      expect(io.read8(IIR)).to.equal(IIR_NONE);
      io.write8(IER, 0x00);
      io.write8(IER, 0x02);
      expect(io.read8(IIR)).to.equal(IIR_THRE);
    });

    it('re-arms after every byte written, with a fresh IRQ edge per byte', () => {
      const { io, irq } = setup();
      let risingEdges = 0;
      irq.onChange((level) => (risingEdges += level ? 1 : 0));
      io.write8(MCR, MCR_OUT2);
      io.write8(IER, 0x02);
      expect(risingEdges).to.equal(1);
      io.write8(DATA, 0x41);
      io.write8(DATA, 0x42);
      expect(risingEdges).to.equal(3);
      expect(irq.level).to.equal(true);
      expect(io.read8(IIR)).to.equal(IIR_THRE);
    });

    it('survives an IIR read that reports a higher-priority source', () => {
      const { io, uart } = setup();
      io.write8(IER, 0x03);
      uart.receive([0x30]);
      expect(io.read8(IIR)).to.equal(IIR_RX);
      io.read8(DATA);
      expect(io.read8(IIR)).to.equal(IIR_THRE);
    });

    it('is forgotten when ETBEI is cleared', () => {
      const { io } = setup();
      io.write8(IER, 0x02);
      io.write8(IER, 0x00);
      io.write8(IER, 0x01);
      expect(io.read8(IIR)).to.equal(IIR_NONE);
    });
  });

  it('drives the IRQ line only while OUT2 is set and loopback is off', () => {
    const { io, irq, uart } = setup();
    io.write8(IER, 0x01);
    uart.receive([1]);
    expect(io.read8(IIR)).to.equal(IIR_RX);
    expect(irq.level).to.equal(false);
    io.write8(MCR, MCR_OUT2);
    expect(irq.level).to.equal(true);
    io.write8(MCR, MCR_OUT2 | MCR_LOOPBACK);
    expect(irq.level).to.equal(false);
    io.write8(MCR, MCR_OUT2);
    expect(irq.level).to.equal(true);
    io.read8(DATA);
    expect(irq.level).to.equal(false);
  });

  describe('loopback', () => {
    it('routes transmitted bytes to the receiver instead of the host', () => {
      const { io, sent, drain } = setup();
      io.write8(FCR, 0x01);
      io.write8(MCR, MCR_LOOPBACK);
      io.write8(DATA, 0xa5);
      io.write8(DATA, 0x5a);
      expect(sent).to.deep.equal([]);
      expect(drain()).to.deep.equal([0xa5, 0x5a]);
    });

    it('maps DTR, RTS, OUT1, OUT2 onto DSR, CTS, RI, DCD', () => {
      const { io } = setup();
      const lines = (mcr: number): number => {
        io.write8(MCR, MCR_LOOPBACK | mcr);
        return io.read8(MSR) & 0xf0;
      };
      expect(lines(0x00)).to.equal(0x00);
      expect(lines(0x01)).to.equal(0x20);
      expect(lines(0x02)).to.equal(0x10);
      expect(lines(0x04)).to.equal(0x40);
      expect(lines(0x08)).to.equal(0x80);
      expect(lines(0x0f)).to.equal(0xf0);
    });

    it('latches deltas, with RI reporting only its trailing edge', () => {
      const { io } = setup();
      io.write8(MCR, MCR_LOOPBACK);
      io.read8(MSR);
      io.write8(MCR, MCR_LOOPBACK | 0x04);
      expect(io.read8(MSR)).to.equal(0x40);
      io.write8(MCR, MCR_LOOPBACK);
      expect(io.read8(MSR)).to.equal(0x04);
      io.write8(MCR, MCR_LOOPBACK | 0x03);
      expect(io.read8(MSR)).to.equal(0x33);
      expect(io.read8(MSR)).to.equal(0x30);
    });

    it('holds host input until loopback ends', () => {
      const { io, uart, drain } = setup();
      io.write8(MCR, MCR_LOOPBACK);
      uart.receive([1, 2]);
      expect(io.read8(LSR) & 0x01).to.equal(0);
      io.write8(MCR, 0);
      expect(drain()).to.deep.equal([1, 2]);
    });
  });

  it('raises a modem-status interrupt when the host changes its lines', () => {
    const { io, irq, uart } = setup();
    io.write8(MCR, MCR_OUT2);
    io.write8(IER, 0x08);
    expect(irq.level).to.equal(false);
    uart.setModemInputs({ dcd: false, ri: true });
    expect(irq.level).to.equal(true);
    expect(io.read8(IIR)).to.equal(IIR_MODEM);
    expect(io.read8(MSR)).to.equal(0x78); // CTS, DSR, RI, delta DCD
    expect(irq.level).to.equal(false);
    uart.setModemInputs({ ri: false });
    expect(io.read8(MSR)).to.equal(0x34);
  });

  it('restores registers, receiver, host input and IRQ level from a snapshot', () => {
    const first = setup();
    const { io } = first;
    io.write8(LCR, 0x80);
    io.write8(DATA, 0x03);
    io.write8(LCR, 0x1b);
    io.write8(FCR, 0x81);
    io.write8(IER, 0x01);
    io.write8(MCR, MCR_OUT2 | 0x03);
    io.write8(SCR, 0x77);
    first.uart.setModemInputs({ cts: false });
    first.uart.receive(Array.from({ length: 30 }, (_, i) => 100 + i));
    expect(first.irq.level).to.equal(true);
    const snapshot = JSON.parse(JSON.stringify(first.uart.saveState()));

    const second = setup();
    second.uart.loadState(snapshot);
    expect(second.irq.level).to.equal(true);
    for (const port of [IER, IIR, LCR, MCR, SCR]) expect(second.io.read8(port)).to.equal(first.io.read8(port));
    expect(second.io.read8(MSR)).to.equal(0xa1); // DCD and DSR, CTS dropped with its delta latched
    second.io.write8(LCR, 0x9b);
    expect(second.io.read8(DATA)).to.equal(0x03);
    second.io.write8(LCR, 0x1b);
    expect(second.drain()).to.deep.equal(first.drain());
    expect(second.io.read8(DATA)).to.equal(129);
  });

  it('rejects a snapshot that is not a UART state', () => {
    const { uart } = setup();
    expect(() => uart.loadState({ ier: 1 })).to.throw(/COM1.*16550/);
    expect(() => uart.loadState(null)).to.throw(/COM1/);
  });

  it('resets the chip but keeps host input still on the wire', () => {
    const { io, irq, uart, drain } = setup();
    io.write8(FCR, 0x01);
    io.write8(IER, 0x0f);
    io.write8(MCR, MCR_OUT2);
    io.write8(LCR, 0x03);
    uart.receive(Array.from({ length: 20 }, (_, i) => i));
    uart.reset();
    expect(irq.level).to.equal(false);
    expect(io.read8(IER)).to.equal(0);
    expect(io.read8(LCR)).to.equal(0);
    expect(io.read8(IIR)).to.equal(IIR_NONE);
    expect(drain()).to.deep.equal([16, 17, 18, 19]);
  });
});
