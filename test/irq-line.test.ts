import { expect } from 'chai';
import { IrqLine } from '../devices/bus/irq-line.js';

describe('IrqLine', () => {
  it('starts low and tracks its level', () => {
    const line = new IrqLine('irq4');
    expect(line.name).to.equal('irq4');
    expect(line.level).to.equal(false);
    line.raise();
    expect(line.level).to.equal(true);
    line.lower();
    expect(line.level).to.equal(false);
    line.set(true);
    expect(line.level).to.equal(true);
  });

  it('notifies every listener only on a change of level', () => {
    const line = new IrqLine('irq1');
    const first: boolean[] = [];
    const second: boolean[] = [];
    line.onChange((level) => first.push(level));
    line.onChange((level) => second.push(level));
    line.raise();
    line.raise();
    line.set(true);
    line.lower();
    line.set(false);
    expect(first).to.deep.equal([true, false]);
    expect(second).to.deep.equal([true, false]);
  });

  it('pulses as a raise followed by a lower', () => {
    const line = new IrqLine('irq0');
    const seen: boolean[] = [];
    line.onChange((level) => seen.push(level));
    line.pulse();
    expect(seen).to.deep.equal([true, false]);
    expect(line.level).to.equal(false);
    line.raise();
    line.pulse();
    expect(seen).to.deep.equal([true, false, true, false]);
  });
});
