// Benchmark: Debian's i686 kernel booting a busybox initramfs and running a shell loop, under our
// interpreter, our JIT, v86 (npm, its JIT on) and QEMU's TCG, in the same run. Usage (after
// `npm run build`, or `npm run perf:linux -- ...`):
//
//   node dist/perf/linux-vs-peers.js [--runs N] [--engines interp,jit,v86,qemu] [--timeout S]
//
// Every engine gets the same bzImage, initramfs (guests/linux/bench-init), command line
// (LINUX_BOOT_CMDLINE) and 128 MiB of RAM. The init prints WASMVISOR-BENCH-BOOTED, runs 20000
// iterations of a busybox ash loop, prints WASMVISOR-BENCH-DONE loop=20000 and powers off.
// Times are host wall time, stamped as the serial bytes reach us: boot = engine start to the
// first marker, loop = first marker to the second. A run whose output lacks either marker or the
// loop's count fails instead of giving a number (exit status 1).
// Rounds are sequential, the engine order rotated each round; the interpreter takes minutes.

import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { type DebianGuest, prepareDebianGuest } from '../host/debian-guest.js';
import { bootLinux, LINUX_BOOT_CMDLINE } from '../host/linux-boot.js';
import {
  BENCH_INIT, BENCH_MARKERS, type Engine, ENGINE_LABELS, engineTable, parseEngines, phaseRun, type PhaseRun, ratioTable,
  roundOrder, summarize, type EngineSummary,
} from './linux-workload.js';
import { qemuAvailable, runLinuxOnQemu } from './qemu-runner.js';
import { positiveInteger } from './stats.js';
import { findSeabios, runLinuxOnV86 } from './v86-runner.js';

const MEMORY_MIB = 128;

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    engines: { type: 'string', default: 'interp,jit,v86,qemu' },
    timeout: { type: 'string', default: '1800' },
  },
});
const runs = positiveInteger('--runs', values.runs);
const timeoutMs = positiveInteger('--timeout', values.timeout) * 1000;
const notes: string[] = [];

/** The engines asked for that can run here; a missing peer is skipped with a note. */
function availableEngines(asked: Engine[]): Engine[] {
  return asked.filter((engine) => {
    if (engine === 'qemu' && !qemuAvailable()) {
      notes.push('QEMU skipped: qemu-system-i386 is not installed (Debian package qemu-system-x86).');
      return false;
    }
    if (engine === 'v86') {
      try {
        findSeabios();
      } catch (err) {
        notes.push(`v86 skipped: ${(err as Error).message}`);
        return false;
      }
    }
    return true;
  });
}

async function runEngine(engine: Engine, guest: DebianGuest): Promise<PhaseRun> {
  const boot = { bzimage: guest.kernel, initrd: guest.initrd, cmdline: LINUX_BOOT_CMDLINE, memoryMiB: MEMORY_MIB, markers: BENCH_MARKERS, timeoutMs };
  switch (engine) {
    case 'interp':
    case 'jit': {
      const run = bootLinux({ kernel: guest.kernel, initrd: guest.initrd, cmdline: LINUX_BOOT_CMDLINE, memoryMiB: MEMORY_MIB,
        jit: engine === 'jit', markers: BENCH_MARKERS });
      if (run.error !== undefined) throw new Error(`${run.reason}: ${run.error}; serial ends ${JSON.stringify(run.output.slice(-1500))}`);
      return phaseRun(run.atMarkers, run.output);
    }
    case 'v86': {
      const run = await runLinuxOnV86(boot);
      return phaseRun(run.hits, run.serial);
    }
    case 'qemu': {
      const run = await runLinuxOnQemu(boot);
      return phaseRun(run.hits, run.serial);
    }
  }
}

const load = (): string => loadavg().map((x) => x.toFixed(2)).join(' ');
const loadAtStart = load();
const guest = await prepareDebianGuest({ init: BENCH_INIT, log: (line) => process.stderr.write(`${line}\n`) });
const engines = availableEngines(parseEngines(values.engines));
const results = new Map<Engine, PhaseRun[]>(engines.map((e) => [e, []]));
let failures = 0;
for (let round = 0; round < runs; round++) {
  for (const engine of roundOrder(engines, round)) {
    try {
      const run = await runEngine(engine, guest);
      results.get(engine)!.push(run);
      process.stderr.write(`round ${round + 1} ${ENGINE_LABELS[engine]}: boot ${(run.bootMs / 1e3).toFixed(2)} s, loop ${(run.loopMs / 1e3).toFixed(2)} s\n`);
    } catch (err) {
      failures++;
      process.stderr.write(`round ${round + 1} ${ENGINE_LABELS[engine]}: FAILED: ${(err as Error).message}\n`);
    }
  }
}

const summaries = new Map<Engine, EngineSummary>();
for (const [engine, rs] of results) if (rs.length > 0) summaries.set(engine, summarize(rs));
const cpu = cpus();
console.log(`Debian ${guest.manifest.kernel.file} + busybox ${BENCH_INIT}, "${LINUX_BOOT_CMDLINE}", ${MEMORY_MIB} MiB, ${runs} round(s), engine order rotated per round`);
console.log(`host: ${cpu.length} x ${cpu[0]?.model ?? 'unknown CPU'}, Node ${process.version}; load average (1/5/15 min) ${loadAtStart} at start, ${load()} at end`);
console.log('');
console.log(engineTable(summaries));
const ratios = ratioTable(summaries);
if (ratios !== undefined) console.log(`\n${ratios}`);
console.log(`
Medians. boot: engine start (createMachine / new V86 / spawning QEMU) to ${BENCH_MARKERS[0]}; all
include loading and decompressing the kernel; v86 and QEMU also run SeaBIOS and a loader option
ROM, v86 its wasm set-up and QEMU its process start. loop: ${BENCH_MARKERS[0]} to ${BENCH_MARKERS[1]}.
Instructions: ours exact; v86's own counter since reset (SeaBIOS included); QEMU counts none.
Ours skips virtual time while the guest idles (HLT); v86 and QEMU wait for the host clock.
Time ratio above 1: the first engine is slower.`);
for (const note of notes) console.log(note);
if (failures > 0) {
  console.log(`${failures} run(s) failed (see above); their engines' medians leave them out.`);
  process.exitCode = 1;
}
