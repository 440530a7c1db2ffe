import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { bootGuest, expectedOutput } from './support/guests.js';
import { ROOT, runCli } from './support/cli.js';

/** Boots guests/<name>/<name>.bin and expects every case to pass, the exact expected output and exit value 0. */
function expectAllPass(name: string, summary: string): void {
  const { result, output } = bootGuest(`guests/${name}/${name}.bin`);
  expect(result.error?.message).to.equal(undefined);
  const failures = output.split('\n').filter((l) => l.startsWith('FAIL'));
  expect(failures, output).to.deep.equal([]);
  expect(output).to.match(new RegExp(`${summary}: \\d+ passed, 0 failed`));
  expect(output).to.equal(expectedOutput(name));
  expect(result.reason).to.equal('exit');
  expect(result.exitValue).to.equal(0);
}

describe('system test kernels', () => {
  it('tasks passes every case (JMP/CALL/INT/exceptions to tasks, IRET back, busy bits, TSS faults, LDT, CR3, 16-bit TSS)', () => {
    expectAllPass('tasks', 'tasks');
  });

  it('tasks runs its grand tour through the CLI (real mode and back, paging, ring 3, gates, a task switch) and exits 0', () => {
    const r = runCli(['boot', 'guests/tasks/tasks.bin']);
    expect(r.stdout).to.equal(readFileSync(join(ROOT, 'guests/tasks/expected.txt'), 'latin1'));
    expect(r.stdout).to.include('PASS tasks.tour');
    expect(r.status, r.stderr).to.equal(1); // (exit value 0 << 1) | 1
  });

  it('debug passes every case (TF single-step and the SS shadow, INT3/ICEBP, execute/data/I-O breakpoints, RF, DR7.GD, DR6)', () => {
    expectAllPass('debug', 'debug');
  });

  it('apic passes every case (ID/version, SVR, TPR/PPR, timer one-shot/periodic/masked and its divider, self-IPI, ISR/IRR, EOI, priorities)', () => {
    expectAllPass('apic', 'apic');
  });
});
