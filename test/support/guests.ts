import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MachineOptions } from '../../index.js';
import { ROOT } from './cli.js';
import { testMachine } from './jit-env.js';

/**
 * Boots a guest image through the library API (the JIT as the environment asks, see jit-env.ts)
 * and returns its serial and debug-console output and how it ended.
 */
export function bootGuest(relativePath: string, maxInstructions = 2e9, options: MachineOptions = {}) {
  const machine = testMachine({ memoryMiB: 64, ...options });
  const chunks: Uint8Array[] = [];
  machine.onSerialOutput((bytes) => chunks.push(bytes));
  machine.onDebugOutput((bytes) => chunks.push(bytes));
  const path = join(ROOT, relativePath);
  machine.loadImage({ name: relativePath, bytes: new Uint8Array(readFileSync(path)) });
  const result = machine.runSync({ maxInstructions });
  const output = Buffer.concat(chunks).toString('latin1');
  return { result, output, machine };
}

/** The exact serial output a test kernel must print (guests/<folder>/expected.txt), if recorded. */
export function expectedOutput(folder: string): string | undefined {
  const path = join(ROOT, 'guests', folder, 'expected.txt');
  return existsSync(path) ? readFileSync(path, 'latin1') : undefined;
}
