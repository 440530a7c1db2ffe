import type { Device } from './device.js';
import type { MmioHandlers } from '../core/mmu/memory-bus.js';
import { IrqLine } from './bus/irq-line.js';

/** Where PC chipsets put the first I/O APIC; the machine maps one 4 KiB page there. */
export const IO_APIC_BASE = 0xfec00000;
export const IO_APIC_PINS = 24;

// Memory-mapped registers (82093AA datasheet): the index register and the data window.
const IOREGSEL = 0x00;
const IOWIN = 0x10;

// Indirect registers.
const REG_ID = 0x00;
const REG_VERSION = 0x01;
const REG_ARBITRATION = 0x02;
const REG_REDIRECTION_FIRST = 0x10;
const REG_REDIRECTION_LAST = REG_REDIRECTION_FIRST + 2 * IO_APIC_PINS - 1;

/** Version 0x11 with 24 redirection entries (maximum entry index 0x17 in bits 23-16). */
export const IO_APIC_VERSION = 0x00170011;
const ID_WRITABLE = 0x0f000000;

// Redirection entry, low dword.
const VECTOR_MASK = 0xff;
const DELIVERY_MODE_SHIFT = 8;
const POLARITY_LOW = 1 << 13;
const REMOTE_IRR = 1 << 14;
const LEVEL_TRIGGERED = 1 << 15;
const MASKED = 1 << 16;
/** Vector, delivery mode, destination mode, polarity, trigger mode, mask; delivery status and remote IRR are read-only. */
const LOW_WRITABLE = 0x0001afff;
/** Redirection entry, high dword: the destination field. */
const HIGH_WRITABLE = 0xff000000;

const MODE_FIXED = 0;
const MODE_LOWEST_PRIORITY = 1;
const MODE_NMI = 4;
const MODE_EXTINT = 7;

/** Where fixed and lowest-priority interrupts go: the machine connects it to `LocalApic.accept`. */
export type IoApicSink = (vector: number, levelTriggered: boolean) => void;

/** Registers a reset restores. Plain data, so with the pin levels it is also the snapshot. */
interface IoApicRegisters {
  /** The ID register as read (APIC ID in bits 27-24). */
  id: number;
  /** IOREGSEL. */
  select: number;
  /** Redirection entries: low and high dwords by pin. */
  low: number[];
  high: number[];
}

interface IoApicSnapshot extends IoApicRegisters {
  /** Electrical input levels, bit per pin. */
  inputs: number;
}

function powerOnRegisters(): IoApicRegisters {
  return {
    id: 0,
    select: 0,
    low: new Array<number>(IO_APIC_PINS).fill(MASKED),
    high: new Array<number>(IO_APIC_PINS).fill(0),
  };
}

function isEntryList(value: unknown): value is number[] {
  return Array.isArray(value) && value.length === IO_APIC_PINS && value.every((entry) => typeof entry === 'number');
}

/**
 * An 82093AA-style I/O APIC with 24 inputs, memory-mapped at 0xFEC00000: IOREGSEL at offset
 * 0x00 selects a register, IOWIN at 0x10 reads or writes it.
 *
 * MMIO: the window is read a byte at a time (reads have no side effects). Byte writes to IOWIN
 * are gathered, starting from the selected register's value, and the register is written when
 * the window's highest byte arrives, so the low-to-high byte stores MemoryBus makes of a dword
 * store act as one write; the datasheet allows dword accesses only. Other offsets read 0.
 *
 * Inputs are the pins' electrical levels: an entry with active-low polarity sees its interrupt
 * asserted while the line is low, so a PCI INTx# source must hold its line high when idle.
 * Edge-triggered entries send on each assertion while unmasked; an edge on a masked pin is lost
 * (the datasheet: "not delivered or held pending"). Level-triggered entries send while the
 * input is asserted, unmasked and remote IRR is clear, and set remote IRR; `endOfInterrupt`
 * (the local APIC's EOI of a level-triggered vector) clears it and sends again if the input is
 * still asserted. Switching an entry to edge clears its remote IRR, which Linux relies on for
 * version 0x11 I/O APICs that have no EOI register.
 *
 * Delivery is immediate, so the delivery status bit always reads idle. Fixed and lowest-priority
 * messages go to the sink whatever their destination (there is one processor); NMI and ExtINT
 * messages go to `onNmi` and `onExtInt`; SMI, INIT and the reserved modes reach nothing. The
 * arbitration ID reads as the APIC ID, which every INIT level de-assert copies into it.
 */
export class IoApic implements Device {
  readonly name = 'I/O APIC';
  readonly mmio: MmioHandlers;
  /** Told about NMI messages; the machine raises the processor's NMI. */
  onNmi?: () => void;
  /** Told about ExtINT messages; the vector then comes from the 8259A's acknowledge cycle. */
  onExtInt?: () => void;

  private regs = powerOnRegisters();
  private inputs = 0;
  private readonly lines: IrqLine[] = [];
  /** Byte-write gathering for IOWIN: the register being gathered (-1 for none) and its value so far. */
  private latchRegister = -1;
  private latchValue = 0;

  constructor(private readonly sink: IoApicSink) {
    for (let pin = 0; pin < IO_APIC_PINS; pin++) {
      const line = new IrqLine(`I/O APIC pin ${pin}`);
      line.onChange((level) => this.setInput(pin, level));
      this.lines.push(line);
    }
    this.mmio = {
      read8: (address) => this.readByte(address & 0xfff),
      write8: (address, value) => this.writeByte(address & 0xfff, value),
    };
  }

  /** The input wire of pin 0-23. */
  input(pin: number): IrqLine {
    const line = this.lines[pin];
    if (!Number.isInteger(pin) || line === undefined) throw new Error(`I/O APIC: there is no pin ${pin}; pins run from 0 to ${IO_APIC_PINS - 1}`);
    return line;
  }

  /** The local APIC ended level-triggered `vector`: clears remote IRR of the entries using it. */
  endOfInterrupt(vector: number): void {
    const low = this.regs.low;
    for (let pin = 0; pin < IO_APIC_PINS; pin++) {
      if ((low[pin] & VECTOR_MASK) !== vector || (low[pin] & REMOTE_IRR) === 0) continue;
      low[pin] &= ~REMOTE_IRR;
      this.serviceLevel(pin);
    }
  }

  /** Sets the APIC ID as firmware does at start-up, so that it matches the MP table. */
  setId(id: number): void {
    this.regs.id = (id << 24) & ID_WRITABLE;
  }

  /** Input levels are the devices' business, so they survive a reset; every entry comes back masked. */
  reset(): void {
    this.regs = powerOnRegisters();
    this.latchRegister = -1;
  }

  saveState(): IoApicSnapshot {
    const regs = this.regs;
    return { ...regs, low: [...regs.low], high: [...regs.high], inputs: this.inputs };
  }

  /** Restores a snapshot without sending anything: what was in flight is in the local APIC's snapshot. */
  loadState(state: unknown): void {
    const snapshot = state as Partial<IoApicSnapshot> | null;
    if (
      typeof snapshot !== 'object' || snapshot === null || !isEntryList(snapshot.low) || !isEntryList(snapshot.high) ||
      typeof snapshot.id !== 'number' || typeof snapshot.select !== 'number' || typeof snapshot.inputs !== 'number'
    ) {
      throw new Error('I/O APIC: snapshot is not an I/O APIC state');
    }
    const { id, select, low, high, inputs } = snapshot as IoApicSnapshot;
    this.regs = { id, select, low: [...low], high: [...high] };
    this.inputs = inputs;
    this.latchRegister = -1;
  }

  private readRegister(index: number): number {
    const regs = this.regs;
    if (index >= REG_REDIRECTION_FIRST && index <= REG_REDIRECTION_LAST) {
      const pin = (index - REG_REDIRECTION_FIRST) >>> 1;
      return (index & 1 ? regs.high[pin] : regs.low[pin]) >>> 0;
    }
    switch (index) {
      case REG_ID:
      case REG_ARBITRATION:
        return regs.id;
      case REG_VERSION:
        return IO_APIC_VERSION;
    }
    return 0;
  }

  private writeRegister(index: number, value: number): void {
    const regs = this.regs;
    if (index === REG_ID) {
      regs.id = value & ID_WRITABLE;
      return;
    }
    if (index < REG_REDIRECTION_FIRST || index > REG_REDIRECTION_LAST) return;
    const pin = (index - REG_REDIRECTION_FIRST) >>> 1;
    if (index & 1) {
      regs.high[pin] = (value & HIGH_WRITABLE) >>> 0;
      return;
    }
    const entry = (value & LOW_WRITABLE) | (regs.low[pin] & REMOTE_IRR);
    regs.low[pin] = entry & LEVEL_TRIGGERED ? entry : entry & ~REMOTE_IRR;
    this.serviceLevel(pin);
  }

  private readByte(offset: number): number {
    const byte = offset & 3;
    switch (offset - byte) {
      case IOREGSEL:
        return byte === 0 ? this.regs.select : 0;
      case IOWIN:
        return (this.readRegister(this.regs.select) >>> (8 * byte)) & 0xff;
    }
    return 0;
  }

  private writeByte(offset: number, value: number): void {
    if (offset === IOREGSEL) {
      this.regs.select = value;
      this.latchRegister = -1;
      return;
    }
    if (offset < IOWIN || offset > IOWIN + 3) return;
    const select = this.regs.select;
    if (this.latchRegister !== select) {
      this.latchRegister = select;
      this.latchValue = this.readRegister(select);
    }
    const shift = 8 * (offset - IOWIN);
    this.latchValue = (this.latchValue & ~(0xff << shift)) | (value << shift);
    if (offset === IOWIN + 3) {
      this.latchRegister = -1;
      this.writeRegister(select, this.latchValue);
    }
  }

  /** Whether the pin's input is asserted under its entry's polarity. */
  private asserted(pin: number): boolean {
    const high = ((this.inputs >>> pin) & 1) !== 0;
    return (this.regs.low[pin] & POLARITY_LOW) === 0 ? high : !high;
  }

  private setInput(pin: number, level: boolean): void {
    this.inputs = level ? this.inputs | (1 << pin) : this.inputs & ~(1 << pin);
    const entry = this.regs.low[pin];
    if (entry & LEVEL_TRIGGERED) this.serviceLevel(pin);
    else if (this.asserted(pin) && (entry & MASKED) === 0) this.send(pin);
  }

  /** A level-triggered entry sends while asserted, unmasked and not awaiting its EOI. */
  private serviceLevel(pin: number): void {
    const low = this.regs.low;
    if ((low[pin] & (LEVEL_TRIGGERED | MASKED | REMOTE_IRR)) !== LEVEL_TRIGGERED || !this.asserted(pin)) return;
    low[pin] |= REMOTE_IRR;
    this.send(pin);
  }

  private send(pin: number): void {
    const entry = this.regs.low[pin];
    switch ((entry >>> DELIVERY_MODE_SHIFT) & 7) {
      case MODE_FIXED:
      case MODE_LOWEST_PRIORITY:
        this.sink(entry & VECTOR_MASK, (entry & LEVEL_TRIGGERED) !== 0);
        return;
      case MODE_NMI:
        this.onNmi?.();
        return;
      case MODE_EXTINT:
        this.onExtInt?.();
        return;
    }
  }
}
