import type { Device } from './device.js';
import type { IoBus } from './bus/io-bus.js';

/** The value a read of the port returns, so a guest can tell the console is there (Bochs, QEMU). */
const DEBUG_CONSOLE_SIGNATURE = 0xe9;

/**
 * The Bochs/QEMU "port E9 hack": every byte the guest writes goes straight to the host. Test
 * kernels use it before (or instead of) setting up a UART.
 */
export class DebugConsole implements Device {
  readonly name = 'debug-console';
  private readonly listeners: ((byte: number) => void)[] = [];

  constructor(io: IoBus, port = 0xe9) {
    io.register(
      port,
      1,
      {
        read8: () => DEBUG_CONSOLE_SIGNATURE,
        write8: (_port, value) => {
          for (const listener of this.listeners) listener(value);
        },
      },
      this.name,
    );
  }

  onOutput(listener: (byte: number) => void): void {
    this.listeners.push(listener);
  }

  // The console has no registers, so reset and snapshots have nothing to hold.
  reset(): void {}

  saveState(): unknown {
    return {};
  }

  loadState(_state: unknown): void {}
}
