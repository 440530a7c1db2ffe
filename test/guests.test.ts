import { expect } from 'chai';
import { BENCH_INSTRUCTIONS } from './support/jit-env.js';
import { bootGuest, expectedOutput } from './support/guests.js';

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
