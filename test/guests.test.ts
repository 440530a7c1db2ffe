import { expect } from 'chai';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_INSTRUCTIONS, testMachine } from './support/jit-env.js';
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

function expectedOutput(folder: string): string | undefined {
  const path = join(ROOT, 'guests', folder, 'expected.txt');
  return existsSync(path) ? readFileSync(path, 'latin1') : undefined;
}

describe('test kernels', () => {
  it('hello prints its line and exits with value 0', () => {
    const { result, output } = bootGuest('guests/hello/hello.elf');
    expect(result.error?.message).to.equal(undefined);
    expect(output).to.equal(expectedOutput('hello'));
    expect(result.reason).to.equal('exit');
    expect(result.exitValue).to.equal(0);
  });

  it('selftest passes every case in real mode and in 32-bit protected mode', () => {
    const { result, output } = bootGuest('guests/selftest/selftest.bin');
    expect(result.error?.message).to.equal(undefined);
    const failures = output.split('\n').filter((l) => l.startsWith('FAIL'));
    expect(failures, output).to.deep.equal([]);
    expect(output).to.match(/selftest: \d+ passed, 0 failed/);
    const expected = expectedOutput('selftest');
    if (expected !== undefined) expect(output).to.equal(expected);
    expect(result.reason).to.equal('exit');
    expect(result.exitValue).to.equal(0);
  });

  it('bench computes the same checksums as real hardware and exits 0', function () {
    this.timeout(300000);
    const { result, output } = bootGuest('guests/bench/bench.bin', 5e9);
    expect(result.error?.message).to.equal(undefined);
    expect(output).to.equal(expectedOutput('bench'));
    expect(result.instructions).to.equal(BENCH_INSTRUCTIONS);
    expect(result.reason).to.equal('exit');
    expect(result.exitValue).to.equal(0);
  });

  it('paging passes every case (faults with error code, CR2 and EIP; A/D; PSE; PGE; WP; INVLPG)', () => {
    const { result, output } = bootGuest('guests/paging/paging.bin');
    expect(result.error?.message).to.equal(undefined);
    const failures = output.split('\n').filter((l) => l.startsWith('FAIL'));
    expect(failures, output).to.deep.equal([]);
    expect(output).to.match(/paging: \d+ passed, 0 failed/);
    expect(output).to.equal(expectedOutput('paging'));
    expect(result.reason).to.equal('exit');
    expect(result.exitValue).to.equal(0);
  });

  it('protected passes every case (segment loads, far transfers, call gates, ring 3 and back, I/O bitmap)', () => {
    const { result, output } = bootGuest('guests/protected/protected.bin');
    expect(result.error?.message).to.equal(undefined);
    const failures = output.split('\n').filter((l) => l.startsWith('FAIL'));
    expect(failures, output).to.deep.equal([]);
    expect(output).to.match(/prot: \d+ passed, 0 failed/);
    expect(output).to.equal(expectedOutput('protected'));
    expect(result.reason).to.equal('exit');
    expect(result.exitValue).to.equal(0);
  });
});
