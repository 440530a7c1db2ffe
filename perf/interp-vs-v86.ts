// Benchmark: our interpreter and our JIT against v86's interpreter, measured in the same run
// (design.md, "Performance method"). `npm run perf:kernel`, or after `npm run build`:
//
//   node dist/perf/interp-vs-v86.js [--runs N] [--image PATH] [--skip-v86] [--v86-jit]
//                                   [--qemu] [--max-instructions N]
//
// Each run executes ours (interpreter, then JIT), then v86 (interleaved, so machine noise hits
// all engines alike), then with --qemu QEMU's TCG on the kernel and on guests/hello (whose time
// — firmware, loader, process start — is subtracted to estimate QEMU's kernel time).
// Ours starts the Multiboot kernel directly; v86 must first boot SeaBIOS, so the headline
// comparison uses v86's time from kernel entry to the done marker ("kernel"), and the
// "total" rows compare the whole cost of a run including setup and, for v86, its BIOS.
// Exit status 1 when an engine did not reach the done marker or the two engines print
// different `bench: crc=... primes=...` lines.

import { existsSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { createMachine } from '../index.js';
import { formatTable, median } from './stats.js';
import { runOnV86, type V86RunResult } from './v86-runner.js';
import { qemuAvailable, runOnQemu, type QemuRunResult } from './qemu-runner.js';

const DONE_MARKER = 'bench: done';
/** Generous: the machines that run this are shared and noisy. */
const V86_TIMEOUT_MS = 900_000;

interface Options {
  runs: number;
  image: string;
  skipV86: boolean;
  v86Jit: boolean;
  qemu: boolean;
  maxInstructions: number;
}

interface OursRun {
  runMs: number;
  totalMs: number;
  instructions: number;
  reason: string;
  exitValue: number | undefined;
  error: string | undefined;
  serial: string;
}

/** The repository root: dist/perf/ → ../.. (falls back to the working directory). */
function repoRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const candidate of [resolve(here, '..', '..'), resolve(here, '..')]) {
    if (existsSync(join(candidate, 'package.json'))) return candidate;
  }
  return process.cwd();
}

function usage(): string {
  return (
    'usage: interp-vs-v86 [--runs N] [--image PATH] [--skip-v86] [--v86-jit] [--qemu] [--max-instructions N]\n' +
    '  --runs N              runs per engine (default 5)\n' +
    '  --image PATH          Multiboot kernel (default guests/bench/bench.bin)\n' +
    '  --skip-v86            run only our emulator\n' +
    "  --v86-jit             also run v86 with its JIT, as a reference row\n" +
    '  --qemu                also run QEMU TCG (qemu-system-i386), as a reference row\n' +
    '  --max-instructions N  stop our run after N instructions (default: unlimited)'
  );
}

function parseArgs(argv: string[]): Options {
  const opts: Options = {
    runs: 5,
    image: join(repoRoot(), 'guests', 'bench', 'bench.bin'),
    skipV86: false,
    v86Jit: false,
    qemu: false,
    maxInstructions: Infinity,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value\n${usage()}`);
      return v;
    };
    switch (arg) {
      case '--runs': {
        const n = Number(value());
        if (!Number.isInteger(n) || n < 1) throw new Error(`--runs wants a positive integer\n${usage()}`);
        opts.runs = n;
        break;
      }
      case '--image':
        opts.image = resolve(value());
        break;
      case '--skip-v86':
        opts.skipV86 = true;
        break;
      case '--v86-jit':
        opts.v86Jit = true;
        break;
      case '--qemu':
        opts.qemu = true;
        break;
      case '--max-instructions': {
        const n = Number(value());
        if (!(n > 0)) throw new Error(`--max-instructions wants a positive number\n${usage()}`);
        opts.maxInstructions = n;
        break;
      }
      case '-h':
      case '--help':
        console.log(usage());
        process.exit(0);
        break;
      default:
        throw new Error(`unknown option ${arg}\n${usage()}`);
    }
  }
  return opts;
}

function latin1(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return s;
}

function runOurs(image: string, bytes: Uint8Array, maxInstructions: number, jit: boolean): OursRun {
  const t0 = performance.now();
  const m = createMachine({ memoryMiB: 64, jit: { enabled: jit } });
  let serial = '';
  m.onSerialOutput((chunk: Uint8Array) => {
    serial += latin1(chunk);
  });
  m.loadImage({ name: basename(image), bytes });
  const t1 = performance.now();
  const r = m.runSync({ maxInstructions });
  const t2 = performance.now();
  return {
    runMs: t2 - t1,
    totalMs: t2 - t0,
    instructions: r.instructions,
    reason: r.reason,
    exitValue: r.exitValue,
    error: r.error?.message,
    serial,
  };
}

/** The `bench: crc=... primes=...` line(s): what both engines must agree on. */
function resultLines(serial: string): string[] {
  return serial
    .split(/\r?\n/)
    .map((l) => l.replace(/\r$/, ''))
    .filter((l) => /^bench: /.test(l) && l !== DONE_MARKER);
}

function mips(instructions: number | null, ms: number): string | number {
  if (instructions === null || !(ms > 0)) return '-';
  return instructions / (ms * 1000);
}

function fmtRuns(xs: number[]): string {
  return xs.map((x) => x.toFixed(0)).join(' ');
}

function fmtRatio(r: string | number): string {
  return typeof r === 'number' ? r.toFixed(2) : r;
}

function ratio(ours: number, theirs: number): string | number {
  return theirs > 0 ? ours / theirs : '-';
}

async function main(): Promise<number> {
  const opts = parseArgs(process.argv.slice(2));
  if (!existsSync(opts.image)) {
    console.error(
      `bench: kernel image not found: ${opts.image}\n` +
        '  build it first (guests/bench), or pass another Multiboot kernel with --image PATH',
    );
    return 1;
  }
  const bytes = new Uint8Array(readFileSync(opts.image));
  console.log(`image:  ${opts.image} (${bytes.length} bytes)`);
  console.log(`host:   Node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'}`);
  console.log(`runs:   ${opts.runs}, interleaved: ours, then v86${opts.v86Jit ? ' (interp), then v86 (JIT)' : ''}`);
  console.log('');

  const ours: OursRun[] = [];
  const oursJit: OursRun[] = [];
  const v86: V86RunResult[] = [];
  const v86Jit: V86RunResult[] = [];
  const qemu: QemuRunResult[] = [];
  const qemuBoot: QemuRunResult[] = [];
  const failures: string[] = [];
  const hello = join(repoRoot(), 'guests', 'hello', 'hello.elf');
  if (opts.qemu && !qemuAvailable()) {
    failures.push('--qemu: qemu-system-i386 is not installed');
    opts.qemu = false;
  }

  for (let run = 1; run <= opts.runs; run++) {
    let line = `run ${run}/${opts.runs}:`;
    try {
      const o = runOurs(opts.image, bytes, opts.maxInstructions, false);
      ours.push(o);
      line += ` ours ${o.runMs.toFixed(0)} ms (${o.reason})`;
    } catch (err) {
      failures.push(`ours, run ${run}: ${(err as Error).message}`);
      line += ' ours FAILED';
    }
    try {
      const o = runOurs(opts.image, bytes, opts.maxInstructions, true);
      oursJit.push(o);
      line += `, ours JIT ${o.runMs.toFixed(0)} ms (${o.reason})`;
    } catch (err) {
      failures.push(`ours JIT, run ${run}: ${(err as Error).message}`);
      line += ', ours JIT FAILED';
    }
    if (!opts.skipV86) {
      try {
        const v = await runOnV86(opts.image, { jit: false, doneMarker: DONE_MARKER, timeoutMs: V86_TIMEOUT_MS });
        v86.push(v);
        line += `, v86 ${v.kernelMs?.toFixed(0) ?? '?'} ms kernel / ${v.wallMs.toFixed(0)} ms with BIOS`;
      } catch (err) {
        failures.push(`v86 interp, run ${run}: ${(err as Error).message}`);
        line += ', v86 FAILED';
      }
      if (opts.v86Jit) {
        try {
          const v = await runOnV86(opts.image, { jit: true, doneMarker: DONE_MARKER, timeoutMs: V86_TIMEOUT_MS });
          v86Jit.push(v);
          line += `, v86 JIT ${v.kernelMs?.toFixed(0) ?? '?'} ms kernel`;
        } catch (err) {
          failures.push(`v86 JIT, run ${run}: ${(err as Error).message}`);
          line += ', v86 JIT FAILED';
        }
      }
    }
    if (opts.qemu) {
      try {
        const q = await runOnQemu(opts.image, V86_TIMEOUT_MS);
        qemu.push(q);
        const b = await runOnQemu(hello, V86_TIMEOUT_MS);
        qemuBoot.push(b);
        line += `, QEMU ${q.wallMs.toFixed(0)} ms total / ${b.wallMs.toFixed(0)} ms for hello`;
      } catch (err) {
        failures.push(`QEMU, run ${run}: ${(err as Error).message}`);
        line += ', QEMU FAILED';
      }
    }
    console.log(line);
  }
  console.log('');

  // ---- correctness: each engine reached the marker and printed the same results ----
  const oursLines = ours.length ? resultLines(ours[0]!.serial) : [];
  for (const [i, o] of ours.entries()) {
    if (!o.serial.includes(DONE_MARKER)) {
      failures.push(
        `ours, run ${i + 1}: no "${DONE_MARKER}" on serial (stopped: ${o.reason}` +
          `${o.error ? `: ${o.error}` : ''}, after ${o.instructions} instructions); ` +
          `serial: ${JSON.stringify(o.serial.slice(-300))}`,
      );
    }
    if (resultLines(o.serial).join('\n') !== oursLines.join('\n')) {
      failures.push(`ours, run ${i + 1}: results differ from run 1 (the emulator is not deterministic)`);
    }
  }
  for (const [i, o] of oursJit.entries()) {
    if (resultLines(o.serial).join('\n') !== oursLines.join('\n') || o.instructions !== ours[0]?.instructions) {
      failures.push(`ours JIT, run ${i + 1}: results or instruction count (${o.instructions}) differ from the interpreter's`);
    }
  }
  const checkV86 = (label: string, rs: V86RunResult[]): void => {
    for (const [i, v] of rs.entries()) {
      const lines = resultLines(v.serial);
      if (ours.length && lines.join('\n') !== oursLines.join('\n')) {
        failures.push(
          `${label}, run ${i + 1}: results differ from ours:\n` +
            `    ours: ${oursLines.join(' | ') || '(none)'}\n    v86:  ${lines.join(' | ') || '(none)'}`,
        );
      }
    }
  };
  checkV86('v86 interp', v86);
  checkV86('v86 JIT', v86Jit);
  for (const [i, q] of qemu.entries()) {
    if (ours.length && resultLines(q.serial).join('\n') !== oursLines.join('\n')) failures.push(`QEMU, run ${i + 1}: results differ from ours`);
  }

  // ---- the table ----
  const oursInstr = ours.length ? ours[0]!.instructions : null;
  if (ours.some((o) => o.instructions !== oursInstr)) {
    console.log('note: our instruction count differs between runs: ' + ours.map((o) => o.instructions).join(' '));
  }
  const rows: (string | number)[][] = [];
  const oursRun = ours.length ? median(ours.map((o) => o.runMs)) : NaN;
  const oursTotal = ours.length ? median(ours.map((o) => o.totalMs)) : NaN;
  const v86Kernel = v86.length && v86.every((v) => v.kernelMs !== null) ? median(v86.map((v) => v.kernelMs!)) : NaN;
  const v86Total = v86.length ? median(v86.map((v) => v.setupMs + v.wallMs)) : NaN;

  const v86Instr = (rs: V86RunResult[]): { n: number | null; label: string | number } => {
    const counted = rs.find((v) => v.instructions !== null)?.instructions ?? null;
    if (counted !== null) return { n: counted, label: counted };
    return { n: oursInstr, label: oursInstr === null ? '-' : `${oursInstr} (ours)` };
  };

  if (ours.length) {
    rows.push([
      'wasmvisor interp: run',
      oursRun,
      oursInstr ?? '-',
      mips(oursInstr, oursRun),
      Number.isNaN(v86Kernel) ? '-' : ratio(oursRun, v86Kernel),
      fmtRuns(ours.map((o) => o.runMs)),
    ]);
  }
  const jitRun = oursJit.length ? median(oursJit.map((o) => o.runMs)) : NaN;
  if (oursJit.length) {
    rows.push([
      'wasmvisor JIT: run',
      jitRun,
      oursJit[0]!.instructions,
      mips(oursJit[0]!.instructions, jitRun),
      Number.isNaN(v86Kernel) ? '-' : ratio(jitRun, v86Kernel),
      fmtRuns(oursJit.map((o) => o.runMs)),
    ]);
  }
  if (v86.length) {
    const vi = v86Instr(v86);
    rows.push(['v86 interp: kernel', v86Kernel, vi.label, mips(vi.n, v86Kernel), '', fmtRuns(v86.map((v) => v.kernelMs ?? NaN))]);
  }
  if (v86Jit.length) {
    const vi = v86Instr(v86Jit);
    const k = median(v86Jit.map((v) => v.kernelMs ?? NaN));
    rows.push(['v86 JIT: kernel (reference)', k, vi.label, mips(vi.n, k), ours.length ? ratio(oursRun, k) : '-', fmtRuns(v86Jit.map((v) => v.kernelMs ?? NaN))]);
  }
  const v86JitKernel = v86Jit.length ? median(v86Jit.map((v) => v.kernelMs ?? NaN)) : NaN;
  const qemuKernel = qemu.length ? median(qemu.map((q) => q.wallMs)) - median(qemuBoot.map((q) => q.wallMs)) : NaN;
  if (qemu.length) {
    rows.push(['QEMU TCG: kernel (total - hello)', qemuKernel, `${oursInstr ?? '-'} (ours)`, mips(oursInstr, qemuKernel), '',
      fmtRuns(qemu.map((q, i) => q.wallMs - qemuBoot[i]!.wallMs))]);
    rows.push(['QEMU TCG: total', median(qemu.map((q) => q.wallMs)), '', '', '', fmtRuns(qemu.map((q) => q.wallMs))]);
  }
  if (ours.length) {
    rows.push([
      'wasmvisor: create+load+run',
      oursTotal,
      '',
      '',
      Number.isNaN(v86Total) ? '-' : ratio(oursTotal, v86Total),
      fmtRuns(ours.map((o) => o.totalMs)),
    ]);
  }
  if (v86.length) {
    rows.push(['v86: setup+SeaBIOS+kernel', v86Total, '', '', '', fmtRuns(v86.map((v) => v.setupMs + v.wallMs))]);
    rows.push(['v86: SeaBIOS boot only', median(v86.map((v) => v.bootMs ?? NaN)), '', '', '', fmtRuns(v86.map((v) => v.bootMs ?? NaN))]);
  }
  if (rows.length) {
    console.log(formatTable(['engine', 'median ms', 'guest instructions', 'MIPS', 'ours/v86', 'runs (ms)'], rows));
    console.log('');
    console.log('ours/v86 < 1 means wasmvisor is faster. "kernel" = from v86 entering the Multiboot kernel');
    console.log(`(port 0xF4 option-ROM handoff) to "${DONE_MARKER}" on COM1; v86 instruction counts come from`);
    console.log("its own retired-instruction counter unless marked (ours).");
    if (oursJit.length && (v86Jit.length || qemu.length)) {
      const parts = [];
      if (v86Jit.length) parts.push(`v86 JIT ${fmtRatio(ratio(jitRun, v86JitKernel))}`);
      if (qemu.length) parts.push(`QEMU TCG ${fmtRatio(ratio(jitRun, qemuKernel))}`);
      console.log(`wasmvisor JIT / ${parts.join(', / ')} (< 1: wasmvisor JIT faster); JIT speed-up over our interpreter ${fmtRatio(ratio(oursRun, jitRun))}.`);
    }
    if (v86.length && oursInstr !== null) {
      const vi = v86Instr(v86);
      if (vi.n !== null && vi.n !== oursInstr) {
        console.log(`instruction counts differ by ${vi.n - oursInstr} (v86 - ours): where each engine starts/stops counting.`);
      }
    }
    console.log('');
  }

  console.log('results:');
  console.log(`  wasmvisor: ${oursLines.join(' | ') || '(none)'}`);
  if (v86.length) console.log(`  v86:       ${resultLines(v86[0]!.serial).join(' | ') || '(none)'}`);
  if (v86Jit.length) console.log(`  v86 JIT:   ${resultLines(v86Jit[0]!.serial).join(' | ') || '(none)'}`);

  if (failures.length) {
    console.log('');
    console.log('FAIL');
    for (const f of failures) console.log(`  - ${f}`);
    return 1;
  }
  console.log('');
  console.log('OK');
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`bench: ${(err as Error).message ?? String(err)}`);
    process.exitCode = 1;
  },
);
