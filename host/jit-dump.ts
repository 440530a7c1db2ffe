// --jit-dump DIR: each compiled module as DIR/module-NNNNN.wasm and, readable, module-NNNNN.wat —
// wabt's text of the module, headed by the guest instructions of each block it holds (b<k>
// numbers them; the module exports one function g<n> per group of blocks of one page and mode,
// blocks in address order). wabt is a development dependency, loaded only for this debugging aid.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatInsn } from '../core/decoder/disassembler.js';
import type { JitOptions } from '../core/jit/jit.js';
import { UsageError } from './node-host.js';

type OnModule = NonNullable<JitOptions['onModule']>;

const hex = (n: number): string => (n >>> 0).toString(16).padStart(8, '0');

/** The guest side of a module: one comment block per translated block. */
export function describeBlocks(blocks: Parameters<OnModule>[2]): string {
  return blocks.map((b, k) => [`;; b${k}: EIP ${hex(b.eip)}, physical ${hex(b.phys)}, mode key 0x${b.key.toString(16)}`,
    ...b.insns.map((insn, n) => `;;   ${hex(b.eips[n])}  ${formatInsn(insn)}`)].join('\n')).join('\n') + '\n';
}

/** A module callback writing both files into `dir` (created if needed). */
export async function jitDumpWriter(dir: string): Promise<OnModule> {
  let wabtInit: () => Promise<{ readWasm(bytes: Uint8Array, options: object): { toText(options: object): string; destroy(): void } }>;
  try {
    wabtInit = (await import('wabt')).default;
  } catch {
    throw new UsageError('--jit-dump: writing the modules as text needs the wabt package (a development dependency: npm ci)');
  }
  const wabt = await wabtInit();
  mkdirSync(dir, { recursive: true });
  return (bytes, index, blocks) => {
    const name = join(dir, `module-${String(index).padStart(5, '0')}`);
    writeFileSync(`${name}.wasm`, bytes);
    const module = wabt.readWasm(bytes, { readDebugNames: false, tail_call: true });
    try {
      writeFileSync(`${name}.wat`, describeBlocks(blocks) + module.toText({ foldExprs: false, inlineExport: true }));
    } finally {
      module.destroy();
    }
  };
}
