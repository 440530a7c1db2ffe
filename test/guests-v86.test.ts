import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { testMachine } from './support/jit-env.js';
import { ROOT } from './support/cli.js';

/** Boots a guest image through the library API and returns its serial output and how it ended. */
function bootGuest(relativePath: string, maxInstructions = 2e9) {
  const machine = testMachine({ memoryMiB: 64 });
  const chunks: Uint8Array[] = [];
  machine.onSerialOutput((bytes) => chunks.push(bytes));
  machine.onDebugOutput((bytes) => chunks.push(bytes));
  const path = join(ROOT, relativePath);
  machine.loadImage({ name: relativePath, bytes: new Uint8Array(readFileSync(path)) });
  const result = machine.runSync({ maxInstructions });
  const output = Buffer.concat(chunks).toString('latin1');
  return { result, output };
}

describe('test kernel v86', () => {
  it('passes every case (entry by IRETD, IOPL-sensitive #GP, INT n to the IDT, I/O bitmap, #UD/#GP, #DE, #PF, a V86 task)', () => {
    const { result, output } = bootGuest('guests/v86/v86.bin');
    expect(result.error?.message).to.equal(undefined);
    const failures = output.split('\n').filter((l) => l.startsWith('FAIL'));
    expect(failures, output).to.deep.equal([]);
    expect(output).to.match(/v86: \d+ passed, 0 failed/);
    expect(output).to.equal(readFileSync(join(ROOT, 'guests/v86/expected.txt'), 'latin1'));
    expect(result.reason).to.equal('exit');
    expect(result.exitValue).to.equal(0);
  });
});
