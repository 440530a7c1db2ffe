// The Linux benchmark's workload and its arithmetic (perf/linux-vs-peers.ts): the markers
// guests/linux/bench-init prints, the check that a run really ran the loop, medians per engine,
// and the tables. No emulator runs here, so all of it is unit-tested (test/linux-workload.test.ts).
import { markerLine } from '../host/serial-markers.js';
import { formatTable, median } from './stats.js';

/** The init script in guests/linux/ and what it prints. */
export const BENCH_INIT = 'bench-init';
export const BOOTED_MARKER = 'WASMVISOR-BENCH-BOOTED';
export const DONE_MARKER = 'WASMVISOR-BENCH-DONE';
export const BENCH_MARKERS: readonly string[] = [BOOTED_MARKER, DONE_MARKER];
export const LOOP_ITERATIONS = 20_000;

/** What a peer runner (v86, QEMU) boots: the kernel, initramfs and command line, RAM, markers, a time limit. */
export interface LinuxRunOptions {
  bzimage: string;
  initrd: string;
  cmdline: string;
  memoryMiB: number;
  /** Serial output whose first appearance is timed (ms from the engine's start). */
  markers: readonly string[];
  timeoutMs: number;
}

export const ENGINES = ['interp', 'jit', 'v86', 'qemu'] as const;
export type Engine = (typeof ENGINES)[number];
export const ENGINE_LABELS: Record<Engine, string> = {
  interp: 'wasmvisor interpreter', jit: 'wasmvisor JIT', v86: 'v86 (JIT)', qemu: 'QEMU TCG',
};

/** `--engines a,b,...`: known names only, each once, in the order given. */
export function parseEngines(text: string): Engine[] {
  const names = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (names.length === 0) throw new Error(`--engines: no engine named (choose from ${ENGINES.join(',')})`);
  const engines: Engine[] = [];
  for (const name of names) {
    if (!(ENGINES as readonly string[]).includes(name)) throw new Error(`--engines: unknown engine '${name}' (choose from ${ENGINES.join(',')})`);
    if (!engines.includes(name as Engine)) engines.push(name as Engine);
  }
  return engines;
}

/** The engines in round `round`'s order: rotated by one each round, so none always runs first. */
export function roundOrder<T>(items: readonly T[], round: number): T[] {
  if (items.length === 0) return [];
  const k = round % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

/** When an engine passed a marker: ms from the engine's start, and the instructions it had retired if it counts them. */
export interface MarkerTime { wallMs: number; instructions?: number | null }

/** One run reduced to its two phases. */
export interface PhaseRun {
  bootMs: number;
  loopMs: number;
  /** null when the engine counts no instructions. */
  bootInstructions: number | null;
  loopInstructions: number | null;
}

/**
 * Checks that the run printed both markers and the loop's full count on the done line, and
 * splits it into boot (start to BOOTED) and loop (BOOTED to DONE). Throws otherwise: a run that
 * did not run the loop must not produce a number.
 */
export function phaseRun(hits: readonly (MarkerTime | undefined)[], serial: string): PhaseRun {
  const [booted, done] = hits;
  if (booted === undefined || done === undefined) {
    const missing = BENCH_MARKERS.filter((_, i) => hits[i] === undefined).join(', ');
    throw new Error(`the guest never printed ${missing}; serial ends ${JSON.stringify(serial.slice(-1500))}`);
  }
  const line = markerLine(serial, DONE_MARKER);
  const want = `${DONE_MARKER} loop=${LOOP_ITERATIONS}`;
  if (line !== want) throw new Error(`the done line is ${JSON.stringify(line)}, not "${want}"`);
  const count = (t: MarkerTime): number | null => (typeof t.instructions === 'number' ? t.instructions : null);
  const b = count(booted);
  const d = count(done);
  return { bootMs: booted.wallMs, loopMs: done.wallMs - booted.wallMs, bootInstructions: b, loopInstructions: b !== null && d !== null ? d - b : null };
}

/** Medians over an engine's runs (seconds; instructions null unless every run counted them). */
export interface EngineSummary { runs: number; bootS: number; loopS: number; totalS: number; bootInstructions: number | null; loopInstructions: number | null }

export function summarize(runs: readonly PhaseRun[]): EngineSummary {
  const counted = (xs: (number | null)[]): number | null => (xs.every((x) => x !== null) ? median(xs as number[]) : null);
  return {
    runs: runs.length,
    bootS: median(runs.map((r) => r.bootMs / 1e3)),
    loopS: median(runs.map((r) => r.loopMs / 1e3)),
    totalS: median(runs.map((r) => (r.bootMs + r.loopMs) / 1e3)),
    bootInstructions: counted(runs.map((r) => r.bootInstructions)),
    loopInstructions: counted(runs.map((r) => r.loopInstructions)),
  };
}

const NONE = '-';

/** Per engine: median phase times, instructions (millions) and MIPS (median instructions / median seconds). */
export function engineTable(summaries: ReadonlyMap<Engine, EngineSummary>): string {
  const millions = (n: number | null): number | string => (n === null ? NONE : n / 1e6);
  const mips = (n: number | null, s: number): number | string => (n === null ? NONE : n / s / 1e6);
  const rows = [...summaries].map(([engine, s]) => [ENGINE_LABELS[engine], s.runs, s.bootS, s.loopS, s.totalS,
    millions(s.bootInstructions), millions(s.loopInstructions), mips(s.bootInstructions, s.bootS), mips(s.loopInstructions, s.loopS)]);
  return formatTable(['engine', 'runs', 'boot s', 'loop s', 'total s', 'boot Minstr', 'loop Minstr', 'boot MIPS', 'loop MIPS'], rows);
}

/** Time ratios of our engines to the peers and of the interpreter to the JIT, for the engines that ran. */
export function ratioTable(summaries: ReadonlyMap<Engine, EngineSummary>): string | undefined {
  const pairs: [Engine, Engine, string][] = [
    ['jit', 'v86', 'JIT / v86'], ['jit', 'qemu', 'JIT / QEMU'], ['interp', 'v86', 'interpreter / v86'],
    ['interp', 'qemu', 'interpreter / QEMU'], ['interp', 'jit', 'interpreter / JIT (JIT speed-up)'],
  ];
  const rows = pairs.flatMap(([a, b, label]) => {
    const x = summaries.get(a);
    const y = summaries.get(b);
    return x && y ? [[label, x.bootS / y.bootS, x.loopS / y.loopS, x.totalS / y.totalS]] : [];
  });
  return rows.length === 0 ? undefined : formatTable(['time ratio', 'boot', 'loop', 'total'], rows);
}
