import type { Device } from './device.js';
import type { IoBus } from './bus/io-bus.js';
import type { IrqLine } from './bus/irq-line.js';

/** Writing any value here clears the latched FPU error interrupt (PC/AT "clear math coprocessor busy"). */
export const FPU_ERROR_CLEAR_PORT = 0xf0;

/**
 * The PC/AT path for x87 errors with CR0.NE clear (SDM Vol. 1 appendix D): the processor asserts
 * FERR#, the chipset latches it onto IRQ 13, and the handler's write to port 0xF0 clears the
 * latch (and asserts IGNNE#, so the waiting instruction may go on — the CPU already continues as
 * if IGNNE# were asserted). FNCLEX deasserting FERR# does not clear the latch.
 */
export class FpuErrorLatch implements Device {
  readonly name = 'fpu-error';
  private latched = false;

  constructor(io: IoBus, private readonly irq: IrqLine) {
    const clear = (): void => this.set(false);
    io.register(FPU_ERROR_CLEAR_PORT, 1, { write8: clear, write16: clear, write32: clear }, this.name);
  }

  /** FERR# from the processor: a rising edge latches IRQ 13. */
  ferr(asserted: boolean): void {
    if (asserted) this.set(true);
  }

  reset(): void {
    this.set(false);
  }

  saveState(): { latched: boolean } {
    return { latched: this.latched };
  }

  loadState(state: unknown): void {
    const latched = (state as { latched?: unknown } | null)?.latched;
    if (typeof latched !== 'boolean') throw new Error(`${this.name}: state has no boolean "latched"`);
    this.set(latched);
  }

  private set(latched: boolean): void {
    this.latched = latched;
    this.irq.set(latched);
  }
}
