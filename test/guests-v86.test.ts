import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { bootGuest } from './support/guests.js';
import { ROOT } from './support/cli.js';

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
