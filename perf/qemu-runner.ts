// Runs a Multiboot kernel under QEMU's TCG (qemu-system-i386, as Debian ships it) for the
// performance comparison: COM1 on stdout, the isa-debug-exit device at port 0xF4 ending the run.
// QEMU has no instruction counter we can read cheaply, so the caller subtracts the time of a
// trivial kernel's run (firmware, loader and process start) to estimate the kernel's own time.

import { spawn, spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';

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

export function runOnQemu(image: string, timeoutMs: number): Promise<QemuRunResult> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(QEMU, ['-accel', 'tcg', '-display', 'none', '-vga', 'none', '-nic', 'none', '-no-reboot', '-m', '128',
      '-serial', 'stdio', '-device', 'isa-debug-exit,iobase=0xf4,iosize=4', '-kernel', image], { stdio: ['ignore', 'pipe', 'pipe'] });
    let serial = '';
    let stderr = '';
    child.stdout.setEncoding('latin1').on('data', (s: string) => { serial += s; });
    child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (status) => {
      clearTimeout(timer);
      const wallMs = performance.now() - started;
      if (status === null) { reject(new Error(`qemu timed out after ${timeoutMs} ms`)); return; }
      if (status % 2 !== 1) { reject(new Error(`qemu exited with status ${status} without a guest exit: ${stderr.trim()}`)); return; }
      resolve({ wallMs, serial, exitValue: (status - 1) / 2 });
    });
  });
}
