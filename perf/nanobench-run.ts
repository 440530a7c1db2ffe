// One run of the nanobenchmark kernel (guests/nanobench) with host wall-clock time per
// benchmark: the kernel writes its benchmark's number to port 0xE9 just before its first
// RDTSC and the number | 0x80 just after its second. The debug console calls its listeners
// from inside the OUT (Machine.onDebugOutput batches per run slice, the device does not), so
// each timestamp is taken while the guest's OUT executes, in translated code as well.

import { performance } from 'node:perf_hooks';
import { createMachine, type MachineOptions, type RunResult, type VmmStats } from '../index.js';
import type { VmmCounters } from '../core/vmm/stats.js';

export const NANOBENCH_IMAGE = 'guests/nanobench/nanobench.bin';

/** One benchmark of one run. */
export interface BenchResult {
  name: string;
  iterations: number;
  /** The kernel's RDTSC delta over the loop: virtual cycles (retired instructions). */
  cycles: number;
  /**
   * Instructions retired between the two markers' OUTs as the listener saw them: the cycles
   * plus the 5 instructions around the two RDTSCs when the listener runs at the OUT itself.
   */
  markedInstructions: number;
  /** Host wall time between the two markers, in ns per iteration. */
  hostNsPerIteration: number;
  passed: boolean;
  /** What the monitor did during the benchmark (deprivileged runs only). */
  vmm?: VmmDelta;
}

/** The monitor's counters over one benchmark: entries (traps + callouts + hooks + deliveries) and host time. */
export interface VmmDelta {
  traps: number;
  /** Privileged instructions translated code handed to the monitor without a trap. */
  callouts: number;
  hooks: number;
  deliveries: number;
  hostMs: number;
}

export interface NanobenchRun {
  /** The exact COM1 output. */
  output: string;
  result: RunResult;
  benchmarks: BenchResult[];
  /** Machine.stats().vmm at the end of a deprivileged run. */
  vmm?: VmmStats;
}

const CYCLE_LINE = /^ {2}(\S+): (\d+) iterations in (\d+) cycles, [\d.]+ cycles\/iteration$/;
const END_MARK = 0x80;

function total(counts: Float64Array): number {
  let n = 0;
  for (const c of counts) n += c;
  return n;
}

/** The monitor's running totals (cheap: read from inside the marker's OUT, which the monitor emulates). */
function totals(counters: VmmCounters): VmmDelta {
  return {
    traps: total(counters.traps), callouts: total(counters.callouts), hooks: total(counters.hooks),
    deliveries: total(counters.deliveries), hostMs: counters.hostMs,
  };
}

function delta(before: VmmDelta, after: VmmDelta): VmmDelta {
  return {
    traps: after.traps - before.traps, callouts: after.callouts - before.callouts, hooks: after.hooks - before.hooks,
    deliveries: after.deliveries - before.deliveries, hostMs: after.hostMs - before.hostMs,
  };
}

/** Boots the kernel image `bytes` once with the given machine options and times each benchmark. */
export function runNanobench(bytes: Uint8Array, options: MachineOptions): NanobenchRun {
  const machine = createMachine({ memoryMiB: 64, ...options });
  const chunks: Uint8Array[] = [];
  machine.onSerialOutput((b) => chunks.push(b));
  const counters = machine.monitor?.counters;
  const marks: { byte: number; ms: number; retired: number; vmm?: VmmDelta }[] = [];
  machine.debugConsole.onOutput((byte) => {
    // The monitor's counters are read outside the timed interval: before the start stamp, after the end one.
    if ((byte & END_MARK) === 0) {
      const vmm = counters && totals(counters);
      marks.push({ byte, ms: performance.now(), retired: machine.cpu.retired, vmm });
    } else {
      const ms = performance.now();
      marks.push({ byte, ms, retired: machine.cpu.retired, vmm: counters && totals(counters) });
    }
  });
  machine.loadImage({ name: NANOBENCH_IMAGE, bytes });
  const result = machine.runSync({ maxInstructions: 1e10 });
  const output = Buffer.concat(chunks).toString('latin1');
  const lines = output.split('\r\n');
  const benchmarks: BenchResult[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = CYCLE_LINE.exec(lines[i]!);
    if (m === null) continue;
    const n = benchmarks.length + 1;
    const start = marks[2 * (n - 1)], end = marks[2 * (n - 1) + 1];
    if (start?.byte !== n || end?.byte !== (n | END_MARK)) {
      throw new Error(`nanobench: benchmark ${n} (${m[1]}) has no start/end marks on port 0xE9 (marks: ${marks.map((k) => k.byte.toString(16)).join(' ')})`);
    }
    const iterations = Number(m[2]);
    const bench: BenchResult = {
      name: m[1]!, iterations, cycles: Number(m[3]), markedInstructions: end.retired - start.retired,
      hostNsPerIteration: ((end.ms - start.ms) * 1e6) / iterations,
      passed: lines[i + 1] === `PASS nano.${m[1]}`,
    };
    if (start.vmm !== undefined && end.vmm !== undefined) bench.vmm = delta(start.vmm, end.vmm);
    benchmarks.push(bench);
  }
  if (marks.length !== 2 * benchmarks.length) throw new Error(`nanobench: ${marks.length} marks on port 0xE9 for ${benchmarks.length} benchmarks`);
  const run: NanobenchRun = { output, result, benchmarks };
  const vmm = machine.stats().vmm;
  if (vmm !== undefined) run.vmm = vmm;
  return run;
}
