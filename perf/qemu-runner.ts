// Runs guests under QEMU's TCG (qemu-system-i386, as Debian ships it) for the performance
// comparisons: a Multiboot kernel (runOnQemu, for perf/interp-vs-v86.ts; COM1 on stdout, the
// isa-debug-exit device at port 0xF4 ending the run) and a Linux bzImage + initrd (runLinuxOnQemu,
// for perf/linux-vs-peers.ts; the guest's power-off ends QEMU). Serial output is timestamped with
// performance.now() as it arrives on QEMU's stdout.
// QEMU has no instruction counter we can read cheaply, so for a Multiboot kernel the caller
// subtracts the time of a trivial kernel's run (firmware, loader and process start) to estimate
// the kernel's own time.

import { spawn, spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { SerialMarkers } from '../host/serial-markers.js';
import type { LinuxRunOptions } from './linux-workload.js';

export interface QemuRunResult {
  /** From spawning QEMU to its exit. */
  wallMs: number;
  serial: string;
  /** The guest's exit value (status (V << 1) | 1), or null when it did not exit through port 0xF4. */
  exitValue: number | null;
}

const QEMU = 'qemu-system-i386';

export function qemuAvailable(): boolean {
  const r = spawnSync(QEMU, ['--version'], { stdio: 'ignore' });
  return r.status === 0;
}

interface QemuProcess { wallMs: number; serial: string; stderr: string; status: number }

/** Spawns QEMU with `args`, calls `onSerial` with each stdout chunk as it arrives, and resolves at its exit. */
function spawnQemu(args: string[], timeoutMs: number, onSerial: (chunk: string) => void = () => {}): Promise<QemuProcess> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(QEMU, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let serial = '';
    let stderr = '';
    child.stdout.setEncoding('latin1').on('data', (s: string) => { serial += s; onSerial(s); });
    child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (status) => {
      clearTimeout(timer);
      const wallMs = performance.now() - started;
      if (status === null) {
        reject(new Error(`qemu timed out after ${timeoutMs} ms; serial so far: ${JSON.stringify(serial.slice(-2000))}`));
        return;
      }
      resolve({ wallMs, serial, stderr: stderr.trim(), status });
    });
  });
}

export async function runOnQemu(image: string, timeoutMs: number): Promise<QemuRunResult> {
  const run = await spawnQemu(['-accel', 'tcg', '-display', 'none', '-vga', 'none', '-nic', 'none', '-no-reboot', '-m', '128',
    '-serial', 'stdio', '-device', 'isa-debug-exit,iobase=0xf4,iosize=4', '-kernel', image], timeoutMs);
  if (run.status % 2 !== 1) throw new Error(`qemu exited with status ${run.status} without a guest exit: ${run.stderr}`);
  return { wallMs: run.wallMs, serial: run.serial, exitValue: (run.status - 1) / 2 };
}

/** Boots Linux with QEMU's own loader (-kernel/-initrd/-append, SeaBIOS and its linuxboot option ROM) until the guest powers off. */
export async function runLinuxOnQemu(options: LinuxRunOptions): Promise<{ serial: string; hits: ({ wallMs: number } | undefined)[] }> {
  const started = performance.now();
  const markers = new SerialMarkers(options.markers, () => ({ wallMs: performance.now() - started }));
  const run = await spawnQemu(['-accel', 'tcg', '-kernel', options.bzimage, '-initrd', options.initrd, '-append', options.cmdline,
    '-nographic', '-m', String(options.memoryMiB), '-no-reboot'], options.timeoutMs, (chunk) => markers.feed(chunk));
  if (run.status !== 0) throw new Error(`qemu exited with status ${run.status}: ${run.stderr}; serial: ${JSON.stringify(run.serial.slice(-2000))}`);
  return { serial: run.serial, hits: markers.hits };
}
