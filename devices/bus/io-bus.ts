/** A device's handlers for its ports; every size is optional. */
export interface IoHandlers {
  read8?(port: number): number;
  read16?(port: number): number;
  read32?(port: number): number;
  write8?(port: number, value: number): void;
  write16?(port: number, value: number): void;
  write32?(port: number, value: number): void;
}

const PORT_COUNT = 0x10000;
const PORT_MASK = 0xffff;

function hex(port: number): string {
  return '0x' + port.toString(16).padStart(4, '0');
}

/**
 * The x86 I/O port space. One handler slot per port keeps dispatch to an array load and a
 * call. A 16/32-bit access to a device without a handler of that size becomes byte accesses
 * on consecutive ports (little-endian), as the ISA bus does for 8-bit cards. Unclaimed ports
 * float high: reads give all ones, writes vanish.
 */
export class IoBus {
  private readonly handlers: (IoHandlers | undefined)[] = new Array<IoHandlers | undefined>(PORT_COUNT).fill(undefined);
  private readonly owners: (string | undefined)[] = new Array<string | undefined>(PORT_COUNT).fill(undefined);
  /** Accesses that hit no device; a quick hint when a guest probes hardware we lack. */
  unclaimedReads = 0;
  unclaimedWrites = 0;

  /** Claims ports [port, port+count) for `owner`; a clash with another owner is a wiring bug. */
  register(port: number, count: number, handlers: IoHandlers, owner: string): void {
    if (!Number.isInteger(port) || !Number.isInteger(count) || port < 0 || count < 1 || port + count > PORT_COUNT) {
      throw new Error(`${owner}: cannot claim ${count} I/O port(s) at ${hex(port)}; ports run from 0x0000 to 0xffff`);
    }
    for (let p = port; p < port + count; p++) {
      const holder = this.owners[p];
      if (holder !== undefined) {
        throw new Error(`${owner}: I/O port ${hex(p)} (range ${hex(port)}+${count}) is already claimed by ${holder}`);
      }
    }
    for (let p = port; p < port + count; p++) {
      this.handlers[p] = handlers;
      this.owners[p] = owner;
    }
  }

  /** Name of the device that claimed `port`, for diagnostics. */
  ownerOf(port: number): string | undefined {
    return this.owners[port & PORT_MASK];
  }

  read8(port: number): number {
    port &= PORT_MASK;
    const handlers = this.handlers[port];
    if (handlers === undefined) {
      this.unclaimedReads++;
      return 0xff;
    }
    return handlers.read8 === undefined ? 0xff : handlers.read8(port) & 0xff;
  }

  read16(port: number): number {
    port &= PORT_MASK;
    const handlers = this.handlers[port];
    if (handlers === undefined) {
      this.unclaimedReads++;
      return 0xffff;
    }
    if (handlers.read16 !== undefined) return handlers.read16(port) & 0xffff;
    return this.read8(port) | (this.read8(port + 1) << 8);
  }

  read32(port: number): number {
    port &= PORT_MASK;
    const handlers = this.handlers[port];
    if (handlers === undefined) {
      this.unclaimedReads++;
      return 0xffffffff;
    }
    if (handlers.read32 !== undefined) return handlers.read32(port) >>> 0;
    return (
      (this.read8(port) | (this.read8(port + 1) << 8) | (this.read8(port + 2) << 16) | (this.read8(port + 3) << 24)) >>> 0
    );
  }

  write8(port: number, value: number): void {
    port &= PORT_MASK;
    const handlers = this.handlers[port];
    if (handlers === undefined) {
      this.unclaimedWrites++;
      return;
    }
    handlers.write8?.(port, value & 0xff);
  }

  write16(port: number, value: number): void {
    port &= PORT_MASK;
    const handlers = this.handlers[port];
    if (handlers === undefined) {
      this.unclaimedWrites++;
      return;
    }
    if (handlers.write16 !== undefined) {
      handlers.write16(port, value & 0xffff);
      return;
    }
    this.write8(port, value);
    this.write8(port + 1, value >>> 8);
  }

  write32(port: number, value: number): void {
    port &= PORT_MASK;
    const handlers = this.handlers[port];
    if (handlers === undefined) {
      this.unclaimedWrites++;
      return;
    }
    if (handlers.write32 !== undefined) {
      handlers.write32(port, value >>> 0);
      return;
    }
    this.write8(port, value);
    this.write8(port + 1, value >>> 8);
    this.write8(port + 2, value >>> 16);
    this.write8(port + 3, value >>> 24);
  }
}
