import type { Device } from './device.js';
import type { IoBus } from './bus/io-bus.js';

/**
 * QEMU's isa-debug-exit: a guest write of V ends the run. QEMU calls exit((V << 1) | 1), so the
 * host process status is that value mod 256 and is always odd, which keeps "guest asked to exit"
 * apart from a clean QEMU exit of 0. Listeners get both V (unsigned 32-bit) and that status;
 * the run loop decides how to stop. A 32-bit write is the documented form; narrower writes
 * report the value written.
 */
export class ExitPort implements Device {
  readonly name = 'exit-port';
  private readonly listeners: ((value: number, status: number) => void)[] = [];

  constructor(io: IoBus, port = 0xf4) {
    const exit = (_port: number, value: number): void => this.exit(value);
    io.register(port, 1, { write8: exit, write16: exit, write32: exit }, this.name);
  }

  onExit(listener: (value: number, status: number) => void): void {
    this.listeners.push(listener);
  }

  // A write-only trigger: no registers, so reset and snapshots have nothing to hold.
  reset(): void {}

  saveState(): unknown {
    return {};
  }

  loadState(_state: unknown): void {}

  private exit(value: number): void {
    const unsignedValue = value >>> 0;
    const status = ((unsignedValue << 1) | 1) & 0xff;
    for (const listener of this.listeners) listener(unsignedValue, status);
  }
}
