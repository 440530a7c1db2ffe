import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root, from dist/test/support/. */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CLI = join(ROOT, 'dist/bin/wasmvisor.js');

export interface CliResult { status: number | null; stdout: string; stderr: string }

/** Runs the built CLI with stdin closed. */
export function runCli(args: string[], timeoutMs = 60000): CliResult {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Writes bytes to a fresh temporary file and returns its path. */
export function tempFile(name: string, bytes: Uint8Array | number[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'wasmvisor-'));
  const path = join(dir, name);
  writeFileSync(path, Uint8Array.from(bytes));
  return path;
}
