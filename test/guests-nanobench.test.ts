import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NANOBENCH_IMAGE, runNanobench, type NanobenchRun } from '../perf/nanobench-run.js';
import { expectedOutput } from './support/guests.js';
import { jitFromEnv } from './support/jit-env.js';
import { ROOT } from './support/cli.js';

const NAMES = ['syscall-int80', 'syscall-sysenter', 'in', 'cr-write', 'call-ret', 'pgfault', 'divzero', 'ptemod'];

describe('nanobench kernel', function () {
  const bytes = new Uint8Array(readFileSync(join(ROOT, NANOBENCH_IMAGE)));
  let direct: NanobenchRun, deprivileged: NanobenchRun;
  before(() => {
    direct = runNanobench(bytes, { virt: 'direct', jit: jitFromEnv() });
    deprivileged = runNanobench(bytes, { virt: 'deprivileged', jit: jitFromEnv() });
  });

  it('passes every benchmark with the recorded virtual cycles under --virt direct', () => {
    expect(direct.output).to.equal(expectedOutput('nanobench'));
    expect(direct.benchmarks.map((b) => b.name)).to.deep.equal(NAMES);
    expect(direct.benchmarks.every((b) => b.passed)).to.equal(true);
    expect(direct.result.reason).to.equal('exit');
    expect(direct.result.exitValue).to.equal(0);
  });

  it('prints the same cycles under --virt deprivileged: the monitor is invisible to RDTSC', () => {
    expect(deprivileged.output).to.equal(direct.output);
    expect(deprivileged.result.exitValue).to.equal(0);
    expect(deprivileged.result.instructions).to.equal(direct.result.instructions);
  });

  it('marks each benchmark on port 0xE9 while its OUT executes (host time is taken at the guest instruction)', () => {
    for (const run of [direct, deprivileged]) {
      // From the start OUT (not yet retired) to RDTSC, and from RDTSC through the 3 instructions before the end OUT.
      expect(run.benchmarks.map((b) => b.markedInstructions - b.cycles)).to.deep.equal(NAMES.map(() => 5));
      for (const b of run.benchmarks) expect(b.hostNsPerIteration, b.name).to.be.greaterThan(0);
    }
  });

  it('makes the monitor do per iteration what each benchmark is about', () => {
    // A privileged instruction is emulated after a trap when interpreted, through a callout once translated.
    const per = Object.fromEntries(deprivileged.benchmarks.map((b) => {
      const v = b.vmm!;
      return [b.name, [v.traps + v.callouts, v.hooks, v.deliveries].map((n) => Math.round(n / b.iterations))];
    }));
    expect(per).to.deep.equal({
      'syscall-int80': [0, 2, 1],      // INT and IRETD hooked, vector 0x80 delivered
      'syscall-sysenter': [1, 1, 0],   // SYSEXIT emulated, SYSENTER hooked
      'in': [1, 0, 0],
      'cr-write': [1, 0, 0],
      'call-ret': [0, 0, 0],
      'pgfault': [3, 1, 1],            // MOV from CR2 and two INVLPGs emulated; IRETD; #PF delivered
      'divzero': [0, 1, 1],            // IRETD; #DE delivered
      'ptemod': [1, 0, 0],             // INVLPG
    });
    expect(direct.benchmarks.every((b) => b.vmm === undefined)).to.equal(true);
  });

  it('emulates the hot privileged instructions through callouts once translated', () => {
    const inBench = deprivileged.benchmarks.find((b) => b.name === 'in')!.vmm!;
    // Interpreted until hot (or always, with the JIT off); then a callout per iteration.
    if (jitFromEnv()?.enabled === false) expect(inBench.callouts).to.equal(0);
    else expect(inBench.callouts).to.be.greaterThan(inBench.traps);
  });
});
