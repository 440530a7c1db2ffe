import type { Device } from './device.js';
import type { IoBus } from './bus/io-bus.js';

/** Configuration mechanism #1 (PCI Local Bus Specification 3.0, 3.2.2.3.2). */
const CONFIG_ADDRESS_PORT = 0xcf8;
const CONFIG_DATA_PORT = 0xcfc;
const CONFIG_ENABLE = 0x80000000;
/** Enable, bus, device, function and dword register; bits 30-24 are reserved and bits 1-0 read as 0. */
const CONFIG_ADDRESS_WRITABLE = 0x80fffffc;

const CONFIG_SPACE_SIZE = 256;
const DEVICES_PER_BUS = 32;
const FUNCTIONS_PER_DEVICE = 8;

// Type 0 header offsets.
const VENDOR_ID = 0x00;
const DEVICE_ID = 0x02;
const COMMAND = 0x04;
const STATUS = 0x06;
/** Revision ID, then the class code's programming interface, subclass and base class. */
const REVISION = 0x08;
const HEADER_TYPE = 0x0e;
const BAR_FIRST = 0x10;
const BAR_COUNT = 6;
const BAR_IO_SPACE = 0x1;
const BAR_PREFETCHABLE = 0x8;
/** Low BAR bits that hold the type rather than the address. */
const BAR_IO_FLAGS = 0x3;
const BAR_MEMORY_FLAGS = 0xf;

/** What identifies a function and its fixed header registers; everything else is 0 and read-only until defined. */
export interface PciIdentity {
  vendorId: number;
  deviceId: number;
  /** Class, subclass and programming interface as one 24-bit value, e.g. 0x060000 for a host bridge. */
  classCode: number;
  revision: number;
  /** Header type byte; bit 7 set announces a multi-function device. Default 0. */
  headerType?: number;
  /** Command register value at reset and the bits software may change. Default 0 and 0. */
  command?: number;
  commandWritable?: number;
  /** Status register value (read-only here: nothing sets the error bits they would clear). Default 0. */
  status?: number;
}

function checkRange(owner: string, offset: number, size: number): void {
  if (!Number.isInteger(offset) || offset < 0 || offset + size > CONFIG_SPACE_SIZE || ![1, 2, 4].includes(size)) {
    throw new RangeError(`${owner}: ${size}-byte configuration access at 0x${offset.toString(16)} is outside the 256-byte space`);
  }
}

/**
 * One PCI function's 256-byte configuration space. Each byte has a power-on value and a mask of
 * the bits software may write; the rest are read-only. Base address registers follow from the
 * masks: a BAR of size 2^n has its n low address bits read-only 0, so writing all ones reads back
 * the size mask with the type bits, as the PCI sizing protocol expects.
 */
export class PciFunction implements Device {
  private readonly config = new Uint8Array(CONFIG_SPACE_SIZE);
  private readonly powerOn = new Uint8Array(CONFIG_SPACE_SIZE);
  private readonly writable = new Uint8Array(CONFIG_SPACE_SIZE);
  private readonly writeListeners: ((offset: number, size: number) => void)[] = [];

  constructor(
    readonly name: string,
    identity: PciIdentity,
  ) {
    this.define(VENDOR_ID, 2, identity.vendorId);
    this.define(DEVICE_ID, 2, identity.deviceId);
    this.define(COMMAND, 2, identity.command ?? 0, identity.commandWritable ?? 0);
    this.define(STATUS, 2, identity.status ?? 0);
    this.define(REVISION, 4, identity.revision | (identity.classCode << 8));
    this.define(HEADER_TYPE, 1, identity.headerType ?? 0);
  }

  /** Sets a register's power-on value and the bits software may write (little-endian over `size` bytes). */
  define(offset: number, size: number, value: number, writableMask = 0): void {
    checkRange(this.name, offset, size);
    for (let i = 0; i < size; i++) {
      this.powerOn[offset + i] = this.config[offset + i] = value >>> (8 * i);
      this.writable[offset + i] = writableMask >>> (8 * i);
    }
  }

  /** Declares BAR `index` (0-5) as a 32-bit region of `size` bytes (a power of two) in memory or I/O space. */
  defineBar(index: number, size: number, space: 'memory' | 'io', prefetchable = false): void {
    const minimum = space === 'io' ? 4 : 16;
    if (!Number.isInteger(index) || index < 0 || index >= BAR_COUNT) throw new RangeError(`${this.name}: there is no BAR ${index}; BARs run from 0 to 5`);
    if (!Number.isInteger(size) || size < minimum || size > 0x80000000 || (size & (size - 1)) !== 0) {
      throw new RangeError(`${this.name}: BAR ${index} size ${size} is not a power of two of at least ${minimum} bytes`);
    }
    const flags = space === 'io' ? BAR_IO_SPACE : prefetchable ? BAR_PREFETCHABLE : 0;
    const addressBits = space === 'io' ? ~BAR_IO_FLAGS : ~BAR_MEMORY_FLAGS;
    this.define(BAR_FIRST + 4 * index, 4, flags, -size & addressBits);
  }

  /** The base address BAR `index` holds now, without its type bits. */
  barAddress(index: number): number {
    const bar = this.read(BAR_FIRST + 4 * index, 4);
    return (bar & BAR_IO_SPACE ? bar & ~BAR_IO_FLAGS : bar & ~BAR_MEMORY_FLAGS) >>> 0;
  }

  /** Reads `size` (1, 2 or 4) bytes at `offset`, little-endian and unsigned. */
  read(offset: number, size: number): number {
    checkRange(this.name, offset, size);
    let value = 0;
    for (let i = 0; i < size; i++) value |= this.config[offset + i] << (8 * i);
    return value >>> 0;
  }

  /** Writes the writable bits of `size` bytes at `offset`, then tells the write listeners. */
  write(offset: number, size: number, value: number): void {
    checkRange(this.name, offset, size);
    for (let i = 0; i < size; i++) {
      const mask = this.writable[offset + i];
      this.config[offset + i] = (this.config[offset + i] & ~mask) | ((value >>> (8 * i)) & mask);
    }
    for (const listener of this.writeListeners) listener(offset, size);
  }

  /** Listeners hear every configuration write (after it took effect), e.g. to move a BAR's region. */
  onWrite(listener: (offset: number, size: number) => void): void {
    this.writeListeners.push(listener);
  }

  reset(): void {
    this.config.set(this.powerOn);
  }

  saveState(): { config: number[] } {
    return { config: Array.from(this.config) };
  }

  loadState(state: unknown): void {
    const config = (state as { config?: unknown } | null)?.config;
    if (!Array.isArray(config) || config.length !== CONFIG_SPACE_SIZE || !config.every((byte) => Number.isInteger(byte))) {
      throw new Error(`${this.name}: snapshot is not a PCI configuration space`);
    }
    this.config.set(config as number[]);
  }
}

/**
 * PCI bus 0 behind configuration mechanism #1: CONFIG_ADDRESS is a dword register at 0xCF8
 * (only dword accesses reach it, so byte accesses to 0xCF8-0xCFB stay ordinary I/O, like the
 * PIIX reset control register at 0xCF9, which this file leaves unclaimed) and CONFIG_DATA the
 * dword at 0xCFC, accessed as bytes, words or the dword at any offset inside it.
 *
 * Reads of a function nobody added, of any bus but 0 (there are no PCI-to-PCI bridges) or with
 * the enable bit clear return all ones; such writes vanish. Bytes of an access that run past
 * 0xCFF belong to other ports and read as all ones. The functions are devices of their own: the
 * machine resets and saves them, this bus keeps only CONFIG_ADDRESS.
 */
export class PciBus implements Device {
  readonly name = 'PCI';
  private configAddress = 0;
  /** Functions by device * 8 + function number. */
  private readonly functions: (PciFunction | undefined)[] = new Array<PciFunction | undefined>(DEVICES_PER_BUS * FUNCTIONS_PER_DEVICE);

  constructor(io: IoBus) {
    io.register(
      CONFIG_ADDRESS_PORT,
      1,
      {
        read32: () => this.configAddress >>> 0,
        write32: (_port, value) => {
          this.configAddress = value & CONFIG_ADDRESS_WRITABLE;
        },
      },
      'PCI configuration address',
    );
    io.register(
      CONFIG_DATA_PORT,
      4,
      {
        read8: (port) => this.readData(port, 1),
        read16: (port) => this.readData(port, 2),
        read32: (port) => this.readData(port, 4),
        write8: (port, value) => this.writeData(port, 1, value),
        write16: (port, value) => this.writeData(port, 2, value),
        write32: (port, value) => this.writeData(port, 4, value),
      },
      'PCI configuration data',
    );
  }

  /** Places `config` at bus 0, `device` (0-31), `fn` (0-7). */
  addFunction(device: number, fn: number, config: PciFunction): void {
    if (!Number.isInteger(device) || device < 0 || device >= DEVICES_PER_BUS || !Number.isInteger(fn) || fn < 0 || fn >= FUNCTIONS_PER_DEVICE) {
      throw new RangeError(`${config.name}: PCI address ${device}.${fn} is not a device 0-31, function 0-7`);
    }
    const slot = device * FUNCTIONS_PER_DEVICE + fn;
    const holder = this.functions[slot];
    if (holder !== undefined) throw new Error(`${config.name}: PCI 00:${device}.${fn} is already taken by ${holder.name}`);
    this.functions[slot] = config;
  }

  reset(): void {
    this.configAddress = 0;
  }

  saveState(): { configAddress: number } {
    return { configAddress: this.configAddress };
  }

  loadState(state: unknown): void {
    const configAddress = (state as { configAddress?: unknown } | null)?.configAddress;
    if (typeof configAddress !== 'number') throw new Error('PCI: snapshot is not a configuration mechanism #1 state');
    this.configAddress = configAddress & CONFIG_ADDRESS_WRITABLE;
  }

  /** The function CONFIG_ADDRESS selects, or undefined when disabled, on another bus or absent. */
  private selected(): PciFunction | undefined {
    const address = this.configAddress;
    if ((address & CONFIG_ENABLE) === 0 || ((address >>> 16) & 0xff) !== 0) return undefined;
    return this.functions[(address >>> 8) & 0xff];
  }

  private readData(port: number, size: number): number {
    const byteOffset = port - CONFIG_DATA_PORT;
    const register = this.configAddress & 0xfc;
    const fn = this.selected();
    let value = 0;
    for (let i = 0; i < size; i++) {
      const byte = fn !== undefined && byteOffset + i < 4 ? fn.read(register + byteOffset + i, 1) : 0xff;
      value |= byte << (8 * i);
    }
    return value >>> 0;
  }

  private writeData(port: number, size: number, value: number): void {
    const byteOffset = port - CONFIG_DATA_PORT;
    const offset = (this.configAddress & 0xfc) + byteOffset;
    const fn = this.selected();
    if (fn === undefined) return;
    if (byteOffset + size <= 4) {
      fn.write(offset, size, value);
      return;
    }
    // An access running past 0xCFF: only its bytes inside CONFIG_DATA reach the function.
    for (let i = 0; byteOffset + i < 4; i++) fn.write(offset + i, 1, value >>> (8 * i));
  }
}
