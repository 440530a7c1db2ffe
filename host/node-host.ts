import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { GuestImage } from '../core/machine/loaders/boot-plan.js';
import type { Machine } from '../core/machine/machine.js';

/** A command-line problem the user can fix; reported as one line. */
export class UsageError extends Error {}

/** Reads a guest file, turning file-system errors into one-line messages naming the file. */
export function readGuestFile(path: string): GuestImage {
  try {
    return { name: basename(path), bytes: new Uint8Array(readFileSync(path)) };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory'
      : code === 'EACCES' ? 'permission denied' : (e as Error).message;
    throw new UsageError(`cannot read ${path}: ${why}`);
  }
}

const CTRL_A = 0x01;

/**
 * Wires the process's stdin to the guest's COM1. On a terminal, raw mode passes every key to
 * the guest; Ctrl-A x quits and Ctrl-A c prints statistics (Ctrl-A Ctrl-A sends Ctrl-A).
 * Returns a function that detaches stdin so the process can exit.
 */
export function attachStdin(machine: Machine, onStatsRequest: () => void): () => void {
  const stdin = process.stdin;
  const tty = stdin.isTTY === true;
  let escape = false;
  const onData = (chunk: Buffer): void => {
    if (!tty) { machine.sendSerialInput(new Uint8Array(chunk)); return; }
    const out: number[] = [];
    for (const byte of chunk) {
      if (escape) {
        escape = false;
        if (byte === 0x78 /* x */) { machine.stop(); return; }
        if (byte === 0x63 /* c */) { onStatsRequest(); continue; }
        out.push(byte);
      } else if (byte === CTRL_A) {
        escape = true;
      } else {
        out.push(byte);
      }
    }
    if (out.length) machine.sendSerialInput(out);
  };
  if (tty) stdin.setRawMode(true);
  stdin.on('data', onData);
  stdin.on('error', () => {});
  return () => {
    stdin.off('data', onData);
    if (tty) stdin.setRawMode(false);
    stdin.pause();
    // A pipe or terminal would keep the process alive; a file or /dev/null has no unref.
    (stdin as { unref?: () => void }).unref?.();
  };
}

/** Parses a memory size: 64, 64M, 64MiB, 1G, 65536K (bare numbers are MiB). Returns MiB. */
export function parseMemorySize(text: string): number {
  const m = /^(\d+)\s*(k|kib|kb|m|mib|mb|g|gib|gb)?$/i.exec(text.trim());
  if (!m) throw new UsageError(`--mem: cannot read '${text}' as a size (examples: 64M, 1G)`);
  const n = Number(m[1]);
  const unit = (m[2] ?? 'm')[0].toLowerCase();
  const kib = unit === 'k' ? n : unit === 'm' ? n * 1024 : n * 1024 * 1024;
  if (kib % 1024 !== 0) throw new UsageError(`--mem: ${text} is not a whole number of MiB`);
  const mib = kib / 1024;
  if (mib < 1 || mib > 3072) throw new UsageError(`--mem: ${text} is out of range (1M to 3G)`);
  return mib;
}

/** Parses an integer option (decimal, or hex with 0x). */
export function parseInteger(option: string, text: string): number {
  const value = /^0x[0-9a-f]+$/i.test(text) ? parseInt(text, 16) : /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value)) throw new UsageError(`${option}: '${text}' is not a number`);
  return value;
}
