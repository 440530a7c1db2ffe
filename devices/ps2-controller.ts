import type { Device } from './device.js';
import type { IoBus } from './bus/io-bus.js';
import type { IrqLine } from './bus/irq-line.js';
import { BREAK_PREFIX, translateToSet1, type Ps2Keyboard } from './ps2-keyboard.js';

const PORT_DATA = 0x60;
const PORT_COMMAND = 0x64;
/** System Control Port A (PS/2 and PIIX): fast A20 gate and fast CPU reset. */
const PORT_CONTROL_A = 0x92;

const STATUS_OUTPUT_FULL = 0x01;
const STATUS_SYSTEM_FLAG = 0x04;
const STATUS_LAST_WRITE_COMMAND = 0x08;
/** Keylock switch open: the keyboard is never inhibited. */
const STATUS_UNLOCKED = 0x10;
const STATUS_AUX_OUTPUT_FULL = 0x20;

const CONFIG_KEYBOARD_IRQ = 0x01;
const CONFIG_AUX_IRQ = 0x02;
const CONFIG_SYSTEM_FLAG = 0x04;
const CONFIG_KEYBOARD_DISABLED = 0x10;
const CONFIG_AUX_DISABLED = 0x20;
const CONFIG_TRANSLATE = 0x40;
/** What a BIOS leaves after POST: keyboard IRQ on, POST passed, translation to set 1; aux IRQ off. */
const CONFIG_AFTER_POST = CONFIG_KEYBOARD_IRQ | CONFIG_SYSTEM_FLAG | CONFIG_TRANSLATE;

const CMD_READ_RAM = 0x20;
const CMD_WRITE_RAM = 0x60;
const RAM_INDEX_MASK = 0x1f;
const CMD_DISABLE_AUX = 0xa7;
const CMD_ENABLE_AUX = 0xa8;
const CMD_TEST_AUX = 0xa9;
const CMD_SELF_TEST = 0xaa;
const CMD_TEST_KEYBOARD = 0xab;
const CMD_DISABLE_KEYBOARD = 0xad;
const CMD_ENABLE_KEYBOARD = 0xae;
const CMD_READ_INPUT_PORT = 0xc0;
const CMD_READ_OUTPUT_PORT = 0xd0;
const CMD_WRITE_OUTPUT_PORT = 0xd1;
const CMD_WRITE_KEYBOARD_OUTPUT = 0xd2;
const CMD_WRITE_AUX_OUTPUT = 0xd3;
const CMD_WRITE_AUX = 0xd4;
const CMD_PULSE_OUTPUT_LINES = 0xf0;

const SELF_TEST_PASSED = 0x55;
const INTERFACE_TEST_PASSED = 0x00;
/** Input port: keylock open (bit 7), no manufacturing jumper (bit 5), colour display (bit 6 clear). */
const INPUT_PORT = 0xa0;

const OUTPUT_PORT_RESET = 0x01;
const OUTPUT_PORT_A20 = 0x02;
const OUTPUT_PORT_KEYBOARD_FULL = 0x10;
const OUTPUT_PORT_AUX_FULL = 0x20;
/** Line 0 released (no reset), A20 on, idle clock and data lines of both ports high. */
const OUTPUT_PORT_POWER_ON = 0xcf;

const CONTROL_A_FAST_RESET = 0x01;
const CONTROL_A_A20 = 0x02;

const NO_COMMAND = -1;
const RAM_SIZE = 32;

/** A byte in the output buffer and whether it came from the aux port (status bit 5, IRQ 12). */
type OutputByte = [byte: number, fromAux: boolean];

interface ControllerState {
  /** Internal RAM; byte 0 is the configuration ("command") byte. */
  ram: number[];
  outputPort: number;
  controlA: number;
  /** A command waiting for its data byte on port 0x60, else -1. */
  pendingCommand: number;
  lastWriteWasCommand: boolean;
  /** The output buffer is the head; the rest wait behind it. */
  output: OutputByte[];
  /** What port 0x60 shows once the buffer is empty: the last byte read. */
  lastRead: number;
  /** Translation saw F0 and sets bit 7 of the next keyboard byte. */
  breakPending: boolean;
}

function powerOnState(): ControllerState {
  const ram = new Array<number>(RAM_SIZE).fill(0);
  ram[0] = CONFIG_AFTER_POST;
  return {
    ram,
    outputPort: OUTPUT_PORT_POWER_ON,
    controlA: 0,
    pendingCommand: NO_COMMAND,
    lastWriteWasCommand: false,
    output: [],
    lastRead: 0,
    breakPending: false,
  };
}

/**
 * Intel 8042 keyboard controller as wired in a PC: data port 0x60, status/command port 0x64, the
 * keyboard on the first port (IRQ 1), the aux port (IRQ 12), and the A20 gate and reset line on
 * its output port, next to System Control Port A at 0x92 which gates A20 and resets too.
 *
 * Commands complete at once, so the input buffer is never full and there are no timeouts or
 * parity errors. Controller replies queue behind the output buffer; keyboard bytes are pulled one
 * at a time when it empties and the keyboard clock is enabled, so a disabled port holds them back
 * in the keyboard (commands still reach it; its replies wait like key codes). Each byte entering
 * the buffer raises IRQ 1 (replies and keyboard bytes) or IRQ 12 (aux bytes) if the configuration
 * enables it; reading port 0x60 drops the line, so the next byte makes a fresh edge.
 *
 * No mouse is attached: the aux port passes its interface test and the D3 loopback works, but
 * bytes sent to the aux device with D4 vanish and nothing answers, so a driver's mouse probe times
 * out. The self-test (AA) answers 0x55, sets the system flag and otherwise keeps the
 * configuration. A20 is on when output port bit 1 or port 0x92 bit 1 is set (PIIX ORs the two);
 * at power-on it is on, as in QEMU.
 */
export class Ps2Controller implements Device {
  private s = powerOnState();
  private a20Listeners: ((enabled: boolean) => void)[] = [];
  private resetListeners: (() => void)[] = [];
  /** The A20 level listeners last heard about. */
  private reportedA20 = true;

  constructor(
    io: IoBus,
    private readonly keyboard: Ps2Keyboard,
    private readonly keyboardIrq: IrqLine,
    private readonly auxIrq: IrqLine,
    readonly name = '8042',
  ) {
    io.register(PORT_DATA, 1, { read8: () => this.readData(), write8: (_port, value) => this.writeData(value) }, name);
    io.register(
      PORT_COMMAND,
      1,
      { read8: () => this.readStatus(), write8: (_port, value) => this.writeCommand(value) },
      name,
    );
    io.register(
      PORT_CONTROL_A,
      1,
      { read8: () => this.readControlA(), write8: (_port, value) => this.writeControlA(value) },
      `${name} port A`,
    );
    keyboard.connect(() => this.pullKeyboard());
  }

  /** Called with the new level whenever the A20 gate changes. */
  onA20Change(listener: (enabled: boolean) => void): void {
    this.a20Listeners.push(listener);
  }

  /** Called when the guest asks for a CPU reset (0x64 command FE, output port bit 0, port 0x92 bit 0). */
  onResetRequest(listener: () => void): void {
    this.resetListeners.push(listener);
  }

  get a20Enabled(): boolean {
    return (this.s.outputPort & OUTPUT_PORT_A20) !== 0 || (this.s.controlA & CONTROL_A_A20) !== 0;
  }

  get configuration(): number {
    return this.s.ram[0];
  }

  reset(): void {
    this.s = powerOnState();
    this.pullKeyboard();
    this.settle();
  }

  saveState(): ControllerState {
    return { ...this.s, ram: [...this.s.ram], output: this.s.output.map(([byte, fromAux]) => [byte, fromAux]) };
  }

  loadState(state: unknown): void {
    const snapshot = state as Partial<ControllerState> | null;
    if (typeof snapshot !== 'object' || snapshot === null || !Array.isArray(snapshot.ram) || !Array.isArray(snapshot.output)) {
      throw new Error(`${this.name}: snapshot is not an 8042 controller state`);
    }
    const full = snapshot as ControllerState;
    this.s = { ...full, ram: [...full.ram], output: full.output.map(([byte, fromAux]) => [byte, fromAux]) };
    this.settle();
  }

  private get config(): number {
    return this.s.ram[0];
  }

  private readStatus(): number {
    const head = this.s.output[0];
    let status = STATUS_UNLOCKED;
    if (head !== undefined) status |= head[1] ? STATUS_OUTPUT_FULL | STATUS_AUX_OUTPUT_FULL : STATUS_OUTPUT_FULL;
    if (this.config & CONFIG_SYSTEM_FLAG) status |= STATUS_SYSTEM_FLAG;
    if (this.s.lastWriteWasCommand) status |= STATUS_LAST_WRITE_COMMAND;
    return status;
  }

  private readData(): number {
    const head = this.s.output.shift();
    if (head === undefined) return this.s.lastRead;
    this.s.lastRead = head[0];
    this.keyboardIrq.lower();
    this.auxIrq.lower();
    this.pullKeyboard();
    this.updateIrqs();
    return head[0];
  }

  private writeData(value: number): void {
    this.s.lastWriteWasCommand = false;
    const command = this.s.pendingCommand;
    this.s.pendingCommand = NO_COMMAND;
    if (command === NO_COMMAND) {
      this.keyboard.write(value);
    } else if ((command & ~RAM_INDEX_MASK) === CMD_WRITE_RAM) {
      this.s.ram[command & RAM_INDEX_MASK] = value;
    } else if (command === CMD_WRITE_OUTPUT_PORT) {
      this.writeOutputPort(value);
    } else if (command === CMD_WRITE_KEYBOARD_OUTPUT) {
      this.s.output.push([value, false]);
    } else if (command === CMD_WRITE_AUX_OUTPUT) {
      this.s.output.push([value, true]);
    }
    // CMD_WRITE_AUX: no aux device is attached, so the byte goes nowhere.
    this.pullKeyboard();
    this.updateIrqs();
  }

  private writeCommand(command: number): void {
    this.s.lastWriteWasCommand = true;
    this.s.pendingCommand = NO_COMMAND;
    const config = this.config;
    switch (command & ~RAM_INDEX_MASK) {
      case CMD_READ_RAM:
        this.reply(this.s.ram[command & RAM_INDEX_MASK]);
        return;
      case CMD_WRITE_RAM:
        this.s.pendingCommand = command;
        return;
    }
    if (command >= CMD_PULSE_OUTPUT_LINES) {
      // Bits 0-3 clear pulse output port lines 0-3; only line 0, the reset line, does anything lasting.
      if ((command & OUTPUT_PORT_RESET) === 0) this.requestReset();
      return;
    }
    switch (command) {
      case CMD_DISABLE_AUX:
        this.s.ram[0] = config | CONFIG_AUX_DISABLED;
        break;
      case CMD_ENABLE_AUX:
        this.s.ram[0] = config & ~CONFIG_AUX_DISABLED;
        break;
      case CMD_TEST_AUX:
      case CMD_TEST_KEYBOARD:
        this.reply(INTERFACE_TEST_PASSED);
        return;
      case CMD_SELF_TEST:
        this.s.ram[0] = config | CONFIG_SYSTEM_FLAG;
        this.reply(SELF_TEST_PASSED);
        return;
      case CMD_DISABLE_KEYBOARD:
        this.s.ram[0] = config | CONFIG_KEYBOARD_DISABLED;
        break;
      case CMD_ENABLE_KEYBOARD:
        this.s.ram[0] = config & ~CONFIG_KEYBOARD_DISABLED;
        break;
      case CMD_READ_INPUT_PORT:
        this.reply(INPUT_PORT);
        return;
      case CMD_READ_OUTPUT_PORT:
        this.reply(this.readOutputPort());
        return;
      case CMD_WRITE_OUTPUT_PORT:
      case CMD_WRITE_KEYBOARD_OUTPUT:
      case CMD_WRITE_AUX_OUTPUT:
      case CMD_WRITE_AUX:
        this.s.pendingCommand = command;
        return;
      // Other commands (vendor extensions, passwords, test inputs) are ignored, as by an 8042 without them.
    }
    this.pullKeyboard();
    this.updateIrqs();
  }

  private reply(byte: number): void {
    this.s.output.push([byte, false]);
    this.updateIrqs();
  }

  /** Bits 4 and 5 show the buffer's state; the rest are the latched lines. */
  private readOutputPort(): number {
    const head = this.s.output[0];
    let port = this.s.outputPort & ~(OUTPUT_PORT_KEYBOARD_FULL | OUTPUT_PORT_AUX_FULL);
    if (head !== undefined) port |= head[1] ? OUTPUT_PORT_AUX_FULL : OUTPUT_PORT_KEYBOARD_FULL;
    return port;
  }

  private writeOutputPort(value: number): void {
    this.s.outputPort = value;
    this.updateA20();
    if ((value & OUTPUT_PORT_RESET) === 0) this.requestReset();
  }

  private readControlA(): number {
    return this.s.controlA;
  }

  /** A20 follows bit 1; bit 0 going from 0 to 1 resets the CPU. */
  private writeControlA(value: number): void {
    const rising = value & ~this.s.controlA & CONTROL_A_FAST_RESET;
    this.s.controlA = value;
    this.updateA20();
    if (rising) this.requestReset();
  }

  private requestReset(): void {
    for (const listener of this.resetListeners) listener();
  }

  private updateA20(): void {
    const enabled = this.a20Enabled;
    if (enabled === this.reportedA20) return;
    this.reportedA20 = enabled;
    for (const listener of this.a20Listeners) listener(enabled);
  }

  /** Moves keyboard bytes into an empty buffer while the keyboard clock runs, translating if asked. */
  private pullKeyboard(): void {
    const s = this.s;
    while (s.output.length === 0 && (this.config & CONFIG_KEYBOARD_DISABLED) === 0 && this.keyboard.hasOutput) {
      const byte = this.keyboard.takeOutput();
      if ((this.config & CONFIG_TRANSLATE) === 0) {
        s.output.push([byte, false]);
      } else if (byte === BREAK_PREFIX) {
        s.breakPending = true;
      } else {
        s.output.push([translateToSet1(byte, s.breakPending), false]);
        s.breakPending = false;
      }
    }
    this.updateIrqs();
  }

  private updateIrqs(): void {
    const head = this.s.output[0];
    const config = this.config;
    this.keyboardIrq.set(head !== undefined && !head[1] && (config & CONFIG_KEYBOARD_IRQ) !== 0);
    this.auxIrq.set(head !== undefined && head[1] && (config & CONFIG_AUX_IRQ) !== 0);
  }

  /** After reset or load: the IRQ lines and A20 listeners catch up with the state. */
  private settle(): void {
    this.updateIrqs();
    this.updateA20();
  }
}
