import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createMachine } from '../index.js';
import { ROOT } from './support/cli.js';

/** Boots guests/smc/smc.bin with the given JIT setting; returns its serial output and end. */
function bootSmc(jit: { enabled: boolean; threshold?: number }) {
  const machine = createMachine({ memoryMiB: 16, jit });
  const chunks: Uint8Array[] = [];
  machine.onSerialOutput((bytes) => chunks.push(bytes));
  machine.loadImage({ name: 'smc.bin', bytes: new Uint8Array(readFileSync(join(ROOT, 'guests/smc/smc.bin'))) });
  const result = machine.runSync({ maxInstructions: 1e8 });
  return { result, output: Buffer.concat(chunks).toString('latin1'), stats: machine.stats() };
}

describe('smc test kernel (self-modifying code)', () => {
  const expected = readFileSync(join(ROOT, 'guests/smc/expected.txt'), 'latin1');
  const modes: [string, { enabled: boolean; threshold?: number }][] = [
    ['interpreted', { enabled: false }],
    ['with the JIT at its default threshold', { enabled: true }],
  ];
  for (const [name, jit] of modes) {
    it(`passes every case ${name} (next instruction, current block, called function, a page mapped twice)`, () => {
      const { result, output, stats } = bootSmc(jit);
      expect(result.error?.message).to.equal(undefined);
      expect(output.split('\n').filter((l) => l.startsWith('FAIL')), output).to.deep.equal([]);
      expect(output).to.equal(expected);
      expect(result.reason).to.equal('exit');
      expect(result.exitValue).to.equal(0);
      // hot_function and the alias cases rewrite code after it was translated and run.
      // (test/jit.test.ts runs the kernel with every block compiled against the interpreter.)
      if (jit.enabled) expect(stats.jit!.invalidations).to.be.at.least(2);
    });
  }
});
