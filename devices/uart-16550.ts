import type { Device } from './device.js';
import type { IoBus } from './bus/io-bus.js';
import type { IrqLine } from './bus/irq-line.js';
import { ByteQueue } from './byte-queue.js';

// Register offsets from the base port; 0 and 1 are the divisor latch while LCR.DLAB is set.
const REG_DATA = 0;
const REG_IER = 1;
const REG_IIR_FCR = 2;
const REG_LCR = 3;
const REG_MCR = 4;
const REG_LSR = 5;
const REG_MSR = 6;

const IER_RX_DATA = 0x01;
const IER_THR_EMPTY = 0x02;
const IER_LINE_STATUS = 0x04;
const IER_MODEM_STATUS = 0x08;

const IIR_NO_INTERRUPT = 0x01;
const IIR_MODEM_STATUS = 0x00;
const IIR_THR_EMPTY = 0x02;
const IIR_RX_DATA = 0x04;
const IIR_LINE_STATUS = 0x06;
const IIR_CHAR_TIMEOUT = 0x0c;
const IIR_FIFOS_ENABLED = 0xc0;

const FCR_FIFO_ENABLE = 0x01;
const FCR_CLEAR_RX = 0x02;
const FCR_DMA_MODE = 0x08;
const FCR_TRIGGER_MASK = 0xc0;
const RX_TRIGGER_LEVELS = [1, 4, 8, 14];

const LCR_DLAB = 0x80;

const MCR_DTR = 0x01;
const MCR_RTS = 0x02;
const MCR_OUT1 = 0x04;
const MCR_OUT2 = 0x08;
const MCR_LOOPBACK = 0x10;

const LSR_DATA_READY = 0x01;
const LSR_OVERRUN = 0x02;
const LSR_THR_EMPTY = 0x20;
const LSR_TRANSMITTER_EMPTY = 0x40;

const MSR_DELTA_CTS = 0x01;
const MSR_DELTA_DSR = 0x02;
const MSR_TRAILING_RI = 0x04;
const MSR_DELTA_DCD = 0x08;
const MSR_CTS = 0x10;
const MSR_DSR = 0x20;
const MSR_RI = 0x40;
const MSR_DCD = 0x80;

const RX_FIFO_SIZE = 16;
/** Host input waiting for the guest; beyond this the guest is clearly not reading at all. */
const HOST_INPUT_LIMIT = 1 << 20;
/** Divisor after reset: 115200 / 12 = 9600 baud (only reported back, never used for timing). */
const RESET_DIVISOR = 12;

/** Chip registers and receiver contents: everything a reset restores. Plain data, so it is also the snapshot. */
interface UartRegisters {
  divisor: number;
  ier: number;
  lcr: number;
  mcr: number;
  /** Programmed FCR bits: enable, DMA mode, trigger level (the clear bits self-reset). */
  fcr: number;
  scratch: number;
  rxFifo: number[];
  /** What RBR shows when the receiver is empty: the holding register keeps its last byte. */
  lastReceived: number;
  /** LSR error bits (overrun); cleared by reading LSR. */
  lineErrors: number;
  /** MSR bits 4-7 as last seen, and the latched delta bits 0-3. */
  modemLines: number;
  modemDeltas: number;
  thrInterruptPending: boolean;
}

interface UartSnapshot extends UartRegisters {
  hostModemLines: number;
  hostInput: number[];
}

function powerOnRegisters(modemLines: number): UartRegisters {
  return {
    divisor: RESET_DIVISOR,
    ier: 0,
    lcr: 0,
    mcr: 0,
    fcr: 0,
    scratch: 0,
    rxFifo: [],
    lastReceived: 0,
    lineErrors: 0,
    modemLines,
    modemDeltas: 0,
    thrInterruptPending: false,
  };
}

/**
 * National 16550A UART as wired in a PC: eight ports at `base`, interrupt output gated by MCR.OUT2.
 *
 * Timing is not modelled, which keeps runs deterministic: a byte written to THR reaches the host
 * (or, in loopback, the receiver) at once, so THR and the transmitter are always empty and the TX
 * FIFO never holds anything. Host input waits on "the wire", a queue of up to 1 MiB, and moves
 * into the 16-byte RX FIFO (1 byte when FIFOs are off) whenever the guest frees room; only input
 * beyond that megabyte, from a guest that never reads, is dropped and flagged as an overrun.
 * Without a clock there is no 4-character timeout either: with FIFOs on, data below the trigger
 * level raises the character-timeout interrupt at once. The line is error-free: parity, framing
 * and break conditions never occur, and the break bit of LCR has no effect.
 */
export class Uart16550 implements Device {
  private regs: UartRegisters;
  /** The host side's CTS/DSR/RI/DCD (MSR bit positions); default: a terminal that is connected and ready. */
  private hostModemLines = MSR_CTS | MSR_DSR | MSR_DCD;
  private hostInput = new ByteQueue();
  private readonly transmitListeners: ((byte: number) => void)[] = [];

  constructor(
    io: IoBus,
    private readonly base: number,
    private readonly irq: IrqLine,
    readonly name = 'COM1',
  ) {
    this.regs = powerOnRegisters(this.hostModemLines);
    io.register(
      base,
      8,
      {
        read8: (port) => this.readRegister(port - this.base),
        write8: (port, value) => this.writeRegister(port - this.base, value),
      },
      name,
    );
  }

  /** Called with every byte the guest transmits (not in loopback mode, where the byte stays inside). */
  onTransmit(listener: (byte: number) => void): void {
    this.transmitListeners.push(listener);
  }

  /** Host to guest input. */
  receive(bytes: Uint8Array | number[]): void {
    const room = HOST_INPUT_LIMIT - this.hostInput.length;
    if (bytes.length > room) {
      this.regs.lineErrors |= LSR_OVERRUN;
      bytes = bytes.slice(0, room);
    }
    this.hostInput.push(bytes);
    this.pullHostInput();
    this.updateInterrupt();
  }

  /** Host-side modem control inputs; omitted lines keep their level. */
  setModemInputs(lines: { cts?: boolean; dsr?: boolean; ri?: boolean; dcd?: boolean }): void {
    const levels: [boolean | undefined, number][] = [
      [lines.cts, MSR_CTS],
      [lines.dsr, MSR_DSR],
      [lines.ri, MSR_RI],
      [lines.dcd, MSR_DCD],
    ];
    for (const [level, bit] of levels) {
      if (level !== undefined) this.hostModemLines = level ? this.hostModemLines | bit : this.hostModemLines & ~bit;
    }
    this.updateModemLines();
    this.updateInterrupt();
  }

  /** Master reset. Host-side input still on the wire survives: it belongs to the host, not the chip. */
  reset(): void {
    this.regs = powerOnRegisters(this.hostModemLines);
    this.pullHostInput();
    this.updateInterrupt();
  }

  saveState(): UartSnapshot {
    return {
      ...this.regs,
      rxFifo: [...this.regs.rxFifo],
      hostModemLines: this.hostModemLines,
      hostInput: this.hostInput.toArray(),
    };
  }

  loadState(state: unknown): void {
    const snapshot = state as Partial<UartSnapshot> | null;
    if (typeof snapshot !== 'object' || snapshot === null || !Array.isArray(snapshot.rxFifo) || !Array.isArray(snapshot.hostInput)) {
      throw new Error(`${this.name}: snapshot is not a 16550 UART state`);
    }
    const { hostModemLines, hostInput, ...regs } = snapshot as UartSnapshot;
    this.regs = { ...regs, rxFifo: [...regs.rxFifo] };
    this.hostModemLines = hostModemLines;
    this.hostInput = new ByteQueue();
    this.hostInput.push(hostInput);
    this.updateInterrupt();
  }

  private get fifoEnabled(): boolean {
    return (this.regs.fcr & FCR_FIFO_ENABLE) !== 0;
  }

  private get loopback(): boolean {
    return (this.regs.mcr & MCR_LOOPBACK) !== 0;
  }

  private readRegister(offset: number): number {
    const regs = this.regs;
    const dlab = (regs.lcr & LCR_DLAB) !== 0;
    switch (offset) {
      case REG_DATA:
        return dlab ? regs.divisor & 0xff : this.readReceiveBuffer();
      case REG_IER:
        return dlab ? regs.divisor >>> 8 : regs.ier;
      case REG_IIR_FCR:
        return this.readInterruptIdentification();
      case REG_LCR:
        return regs.lcr;
      case REG_MCR:
        return regs.mcr;
      case REG_LSR:
        return this.readLineStatus();
      case REG_MSR:
        return this.readModemStatus();
      default:
        return regs.scratch;
    }
  }

  private writeRegister(offset: number, value: number): void {
    const regs = this.regs;
    const dlab = (regs.lcr & LCR_DLAB) !== 0;
    switch (offset) {
      case REG_DATA:
        if (dlab) regs.divisor = (regs.divisor & 0xff00) | value;
        else this.transmit(value);
        return;
      case REG_IER:
        if (dlab) regs.divisor = (regs.divisor & 0x00ff) | (value << 8);
        else this.writeInterruptEnable(value);
        return;
      case REG_IIR_FCR:
        this.writeFifoControl(value);
        return;
      case REG_LCR:
        regs.lcr = value;
        return;
      case REG_MCR:
        this.writeModemControl(value);
        return;
      case REG_LSR:
      case REG_MSR:
        return; // status registers; writes exist only for factory testing
      default:
        regs.scratch = value;
    }
  }

  private readReceiveBuffer(): number {
    const regs = this.regs;
    if (regs.rxFifo.length > 0) regs.lastReceived = regs.rxFifo.shift() as number;
    this.pullHostInput();
    this.updateInterrupt();
    return regs.lastReceived;
  }

  /** Reporting THR-empty as the source acknowledges it. */
  private readInterruptIdentification(): number {
    const source = this.interruptSource();
    if (source === IIR_THR_EMPTY) {
      this.regs.thrInterruptPending = false;
      this.updateInterrupt();
    }
    return source | (this.fifoEnabled ? IIR_FIFOS_ENABLED : 0);
  }

  private readLineStatus(): number {
    const regs = this.regs;
    let status = regs.lineErrors | LSR_THR_EMPTY | LSR_TRANSMITTER_EMPTY;
    if (regs.rxFifo.length > 0) status |= LSR_DATA_READY;
    regs.lineErrors = 0;
    this.updateInterrupt();
    return status;
  }

  private readModemStatus(): number {
    const regs = this.regs;
    const status = regs.modemLines | regs.modemDeltas;
    regs.modemDeltas = 0;
    this.updateInterrupt();
    return status;
  }

  private transmit(byte: number): void {
    // Writing THR drops the THR-empty interrupt; the instantaneous send empties THR again and
    // re-arms it, so the IRQ line shows a fresh edge per byte, as it would after a real send.
    this.regs.thrInterruptPending = false;
    this.updateInterrupt();
    if (this.loopback) this.receiveFromLine(byte);
    else for (const listener of this.transmitListeners) listener(byte);
    this.regs.thrInterruptPending = true;
    this.updateInterrupt();
  }

  private writeInterruptEnable(value: number): void {
    const regs = this.regs;
    const enablingThrEmpty = (value & IER_THR_EMPTY) !== 0 && (regs.ier & IER_THR_EMPTY) === 0;
    regs.ier = value & 0x0f;
    // THR is always empty here, so enabling its interrupt raises it at once.
    if (enablingThrEmpty) regs.thrInterruptPending = true;
    else if ((regs.ier & IER_THR_EMPTY) === 0) regs.thrInterruptPending = false;
    this.updateInterrupt();
  }

  private writeFifoControl(value: number): void {
    const regs = this.regs;
    const enable = value & FCR_FIFO_ENABLE;
    // Switching the FIFOs on or off empties them; with FCR0 clear the other bits are not programmed.
    if (enable !== (regs.fcr & FCR_FIFO_ENABLE) || (enable && value & FCR_CLEAR_RX)) regs.rxFifo = [];
    regs.fcr = enable ? value & (FCR_FIFO_ENABLE | FCR_DMA_MODE | FCR_TRIGGER_MASK) : 0;
    this.pullHostInput();
    this.updateInterrupt();
  }

  private writeModemControl(value: number): void {
    const leavingLoopback = this.loopback && (value & MCR_LOOPBACK) === 0;
    this.regs.mcr = value & 0x1f;
    this.updateModemLines();
    if (leavingLoopback) this.pullHostInput();
    this.updateInterrupt();
  }

  /** Recomputes MSR's line bits (from MCR in loopback, else from the host) and latches the deltas. */
  private updateModemLines(): void {
    const regs = this.regs;
    const mcr = regs.mcr;
    const lines = this.loopback
      ? (mcr & MCR_RTS ? MSR_CTS : 0) |
        (mcr & MCR_DTR ? MSR_DSR : 0) |
        (mcr & MCR_OUT1 ? MSR_RI : 0) |
        (mcr & MCR_OUT2 ? MSR_DCD : 0)
      : this.hostModemLines;
    const changed = lines ^ regs.modemLines;
    if (changed & MSR_CTS) regs.modemDeltas |= MSR_DELTA_CTS;
    if (changed & MSR_DSR) regs.modemDeltas |= MSR_DELTA_DSR;
    if (changed & MSR_DCD) regs.modemDeltas |= MSR_DELTA_DCD;
    if (changed & MSR_RI && (lines & MSR_RI) === 0) regs.modemDeltas |= MSR_TRAILING_RI;
    regs.modemLines = lines;
  }

  private rxCapacity(): number {
    return this.fifoEnabled ? RX_FIFO_SIZE : 1;
  }

  /** A character arrives at the receiver; a full receiver is an overrun. */
  private receiveFromLine(byte: number): void {
    const rxFifo = this.regs.rxFifo;
    if (rxFifo.length < this.rxCapacity()) {
      rxFifo.push(byte);
      return;
    }
    this.regs.lineErrors |= LSR_OVERRUN;
    // The FIFO keeps its contents and loses the new byte; a lone holding register is overwritten.
    if (!this.fifoEnabled) rxFifo[0] = byte;
  }

  /** Moves waiting host input into free receiver room; loopback disconnects the line, so it waits. */
  private pullHostInput(): void {
    if (this.loopback) return;
    const rxFifo = this.regs.rxFifo;
    const capacity = this.rxCapacity();
    while (this.hostInput.length > 0 && rxFifo.length < capacity) rxFifo.push(this.hostInput.shift());
  }

  /** The highest-priority pending interrupt, as IIR bits 0-3. */
  private interruptSource(): number {
    const regs = this.regs;
    if (regs.ier & IER_LINE_STATUS && regs.lineErrors !== 0) return IIR_LINE_STATUS;
    if (regs.ier & IER_RX_DATA && regs.rxFifo.length > 0) {
      const trigger = RX_TRIGGER_LEVELS[regs.fcr >>> 6];
      return !this.fifoEnabled || regs.rxFifo.length >= trigger ? IIR_RX_DATA : IIR_CHAR_TIMEOUT;
    }
    if (regs.ier & IER_THR_EMPTY && regs.thrInterruptPending) return IIR_THR_EMPTY;
    if (regs.ier & IER_MODEM_STATUS && regs.modemDeltas !== 0) return IIR_MODEM_STATUS;
    return IIR_NO_INTERRUPT;
  }

  /**
   * PC wiring: OUT2 enables the buffer between the chip and the interrupt controller. Loopback
   * forces the OUT pins inactive, so it cuts the IRQ too, even though IIR still reports sources.
   */
  private updateInterrupt(): void {
    const gateOpen = (this.regs.mcr & (MCR_OUT2 | MCR_LOOPBACK)) === MCR_OUT2;
    this.irq.set(gateOpen && this.interruptSource() !== IIR_NO_INTERRUPT);
  }
}
