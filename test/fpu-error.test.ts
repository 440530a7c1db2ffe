import { expect } from 'chai';
import { IoBus } from '../devices/bus/io-bus.js';
import { IrqLine } from '../devices/bus/irq-line.js';
import { FPU_ERROR_CLEAR_PORT, FpuErrorLatch } from '../devices/fpu-error.js';

describe('FPU error latch (FERR# to IRQ 13, port 0xF0)', () => {
  const make = () => {
    const io = new IoBus();
    const irq = new IrqLine('IRQ 13');
    return { io, irq, latch: new FpuErrorLatch(io, irq) };
  };

  it('latches FERR# onto IRQ 13 until a write of any width to port 0xF0', () => {
    const { io, irq, latch } = make();
    latch.ferr(true);
    expect(irq.level).to.equal(true);
    latch.ferr(false); // FNCLEX deasserts FERR#, the latch stays
    expect(irq.level).to.equal(true);
    io.write8(FPU_ERROR_CLEAR_PORT, 0);
    expect(irq.level).to.equal(false);
    latch.ferr(true);
    io.write16(FPU_ERROR_CLEAR_PORT, 0);
    expect(irq.level).to.equal(false);
  });

  it('resets clear and saves/loads the latch through JSON', () => {
    const { irq, latch } = make();
    latch.ferr(true);
    const saved = JSON.parse(JSON.stringify(latch.saveState()));
    latch.reset();
    expect(irq.level).to.equal(false);
    latch.loadState(saved);
    expect(irq.level).to.equal(true);
    expect(() => latch.loadState({})).to.throw(/latched/);
  });
});
