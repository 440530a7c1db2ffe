// Nanobenchmarks of the deprivileging monitor (`npm run bench`): runs guests/nanobench, after
// Adams & Agesen (ASPLOS 2006), under --virt direct and --virt deprivileged, interleaved, and
// prints per benchmark its virtual cycles per iteration (the same in both modes, or the run
// fails) and the median host time per iteration in each mode, then what the monitor did.
//
//   node dist/perf/nanobench.js [--runs N] [--jit on|off]
//
// Exit status 1 when a benchmark fails its checks, the kernel does not exit 0, or the two
// modes disagree on the output.

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../guests/build.js';
import type { VirtMode, VmmStats } from '../index.js';
import { NANOBENCH_IMAGE, runNanobench, type NanobenchRun } from './nanobench-run.js';
import { formatTable, median, positiveInteger } from './stats.js';

interface Options {
  runs: number;
  jit: boolean;
}

const USAGE = 'usage: nanobench [--runs N] [--jit on|off]\n' +
  '  --runs N       runs per virtualization mode, interleaved (default 5)\n' +
  '  --jit on|off   translate hot blocks (default on)';

function options(argv: string[]): Options {
  const { values } = parseArgs({ args: argv, options: { runs: { type: 'string', default: '5' }, jit: { type: 'string', default: 'on' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  if (values.jit !== 'on' && values.jit !== 'off') throw new Error(`--jit wants on or off\n${USAGE}`);
  return { runs: positiveInteger('--runs', values.runs), jit: values.jit === 'on' };
}

/** Problems with one run: failures, a bad exit, output unlike the reference run's. */
function complaints(mode: VirtMode, run: NanobenchRun, reference: string | undefined): string[] {
  const out: string[] = [];
  for (const b of run.benchmarks) if (!b.passed) out.push(`${mode}: ${b.name} failed its checks`);
  if (run.result.reason !== 'exit' || run.result.exitValue !== 0) {
    out.push(`${mode}: ended with ${run.result.reason}${run.result.error ? ` (${run.result.error.message})` : ''}, exit value ${run.result.exitValue}`);
  }
  if (reference !== undefined && run.output !== reference) out.push(`${mode}: output differs from the first direct run's`);
  return out;
}


function byName(r: Record<string, number>): string {
  return Object.entries(r).map(([k, v]) => `${k} ${v}`).join(', ') || '-';
}

function printMonitor(vmm: VmmStats, last: NanobenchRun): void {
  console.log('');
  console.log('monitor (last deprivileged run, whole kernel):');
  console.log(`  traps:        ${byName(vmm.traps)}`);
  console.log(`  callouts:     ${byName(vmm.callouts)}`);
  console.log(`  hooks:        ${byName(vmm.hooks)}`);
  console.log(`  deliveries:   ${byName(vmm.deliveries)}`);
  console.log(`  instructions: ${vmm.instructions} (traps + callouts + hooks)`);
  console.log(`  host ms:      ${vmm.hostMs.toFixed(1)} in the monitor (sampled 1 entry in 64)`);
  console.log(`  shadows:      ${vmm.shadowFills} descriptors filled, ${vmm.shadowWriteFlushes} write flushes`);
  console.log('');
  console.log('monitor per benchmark (last deprivileged run, per iteration):');
  const rows = last.benchmarks.map((b) => {
    const d = b.vmm!;
    const perIteration = (events: number): number => Math.round((events / b.iterations) * 100) / 100;
    const monitorNs = (d.hostMs * 1e6) / b.iterations;
    return [b.name, perIteration(d.traps), perIteration(d.callouts), perIteration(d.hooks), perIteration(d.deliveries), monitorNs, b.hostNsPerIteration,
      `${((100 * monitorNs) / b.hostNsPerIteration).toFixed(0)}%`];
  });
  console.log(formatTable(['benchmark', 'traps', 'callouts', 'hooks', 'deliveries', 'monitor ns', 'total ns', 'in monitor'], rows));
  console.log('(monitor ns: Machine.stats().vmm.hostMs, which times one outermost monitor entry in 64: a loop with');
  console.log(' two entries per iteration always samples the same one of them)');
}

function main(): number {
  const opts = options(process.argv.slice(2));
  const bytes = new Uint8Array(readFileSync(join(repoRoot(), NANOBENCH_IMAGE)));
  console.log(`image:  ${NANOBENCH_IMAGE} (${bytes.length} bytes)`);
  console.log(`host:   Node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'}`);
  console.log(`runs:   ${opts.runs} per mode, interleaved (direct, then deprivileged); JIT ${opts.jit ? 'on' : 'off'}`);
  const runs: Record<VirtMode, NanobenchRun[]> = { direct: [], deprivileged: [] };
  const problems: string[] = [];
  for (let r = 0; r < opts.runs; r++) {
    for (const virt of ['direct', 'deprivileged'] as const) {
      const run = runNanobench(bytes, { virt, jit: { enabled: opts.jit } });
      problems.push(...complaints(virt, run, runs.direct[0]?.output));
      runs[virt].push(run);
    }
    process.stdout.write(`run ${r + 1}/${opts.runs} done\n`);
  }
  const first = runs.direct[0]!;
  const column = (virt: VirtMode, i: number) => median(runs[virt].map((run) => run.benchmarks[i]!.hostNsPerIteration));
  const rows = first.benchmarks.map((b, i) => {
    const direct = column('direct', i), deprivileged = column('deprivileged', i);
    return [b.name, b.iterations, b.cycles / b.iterations, direct, deprivileged, deprivileged / direct];
  });
  console.log('');
  console.log('host ns per iteration: median of the runs; virtual cycles: RDTSC delta / iterations (the same in both modes)');
  console.log(formatTable(['benchmark', 'iterations', 'cycles/iter', 'direct ns/iter', 'deprivileged ns/iter', 'deprivileged/direct'], rows));
  const last = runs.deprivileged[runs.deprivileged.length - 1]!;
  printMonitor(last.vmm!, last);
  for (const p of problems) console.log(`problem: ${p}`);
  return problems.length === 0 ? 0 : 1;
}

try {
  process.exitCode = main();
} catch (err) {
  console.error(`nanobench: ${(err as Error).message}`);
  process.exitCode = 1;
}
