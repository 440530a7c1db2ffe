// Boots a Linux kernel + initrd to the end (power-off halt, exit, or an instruction limit) and
// returns everything the boot test and the boot benchmark look at. Runs in a worker thread too
// (linux-boot-worker.ts), so that two boots can be compared side by side on two cores.
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { createMachine } from '../index.js';
import type { RunEnd } from '../index.js';
import type { VirtMode } from '../core/machine/machine.js';
import { SerialMarkers } from './serial-markers.js';

/**
 * The kernel command line of `npm run linux`, the boot test and the boot benchmark.
 * `cryptomgr.notests` skips the crypto API's self-tests: Debian's kernel runs a Diffie-Hellman
 * test in a kernel thread that never yields (no preemption points in mpi_powm), costing several
 * billion guest instructions before init can run — seconds on hardware, minutes here.
 */
export const LINUX_BOOT_CMDLINE = 'console=ttyS0 cryptomgr.notests';

/** What the test init prints once it has run everything the boot test checks. */
export const BOOT_MARKER = 'WASMVISOR-BOOT-OK';

/** The epoch the boot test and the benchmark give the RTC, so that runs are reproducible. */
export const BOOT_TEST_EPOCH = '2026-01-01T00:00:00Z';

export interface LinuxBootOptions {
  kernel: string;
  initrd?: string;
  cmdline: string;
  memoryMiB?: number;
  rtcEpoch?: string;
  /** Where guest ring 0 runs (default: the machine's, deprivileged). */
  virt?: VirtMode;
  maxInstructions?: number;
  /** false: interpret only (the JIT is on by default). */
  jit?: boolean;
  /** Executions of a block before the JIT compiles it (default: the machine's; 0 compiles on first sight). */
  jitThreshold?: number;
  /** Guest output whose first appearance is recorded: instruction count and virtual and wall time. */
  markers?: readonly string[];
}

/** Where the run was when a marker's last byte was printed. */
export interface MarkerHit { instructions: number; virtualNs: number; wallMs: number }

/** Plain data, so that it crosses from a worker thread unchanged. */
export interface LinuxBoot {
  output: string;
  reason: RunEnd;
  /** The guest error that ended the run (triple fault, unsupported instruction). */
  error?: string;
  instructions: number;
  virtualNs: number;
  wallMs: number;
  /** One per marker, in the order given; undefined for a marker never printed. */
  atMarkers: (MarkerHit | undefined)[];
}

export function bootLinux(options: LinuxBootOptions): LinuxBoot {
  const started = performance.now();
  const machine = createMachine({
    memoryMiB: options.memoryMiB ?? 128, rtcStartTime: Date.parse(options.rtcEpoch ?? BOOT_TEST_EPOCH), virt: options.virt,
    jit: { enabled: options.jit, threshold: options.jitThreshold },
  });
  const chunks: Buffer[] = [];
  const markers = new SerialMarkers<MarkerHit>(options.markers ?? [],
    () => ({ instructions: machine.cpu.retired, virtualNs: machine.virtualNs, wallMs: performance.now() - started }));
  machine.onSerialOutput((bytes) => {
    const chunk = Buffer.from(bytes);
    chunks.push(chunk);
    markers.feed(chunk.toString('latin1'));
  });
  machine.loadImage({ name: options.kernel, bytes: new Uint8Array(readFileSync(options.kernel)) }, {
    cmdline: options.cmdline,
    initrd: options.initrd === undefined ? undefined : { name: options.initrd, bytes: new Uint8Array(readFileSync(options.initrd)) },
  });
  const result = machine.runSync({ maxInstructions: options.maxInstructions ?? 3e10 });
  return {
    output: Buffer.concat(chunks).toString('latin1'), reason: result.reason, error: result.error?.message,
    instructions: result.instructions, virtualNs: result.virtualNs, wallMs: performance.now() - started, atMarkers: markers.hits,
  };
}

/** The same boot in a worker thread: several run in parallel on as many cores. */
export function bootLinuxInWorker(options: LinuxBootOptions): Promise<LinuxBoot> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./linux-boot-worker.js', import.meta.url), { workerData: options });
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => { if (code !== 0) reject(new Error(`Linux boot worker exited with status ${code}`)); });
  });
}
