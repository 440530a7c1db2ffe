import { expect } from 'chai';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './support/cli.js';

describe('wasmvisor boot --jit-dump', () => {
  it('writes each compiled module as .wasm and as text headed by its blocks\' guest instructions', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wasmvisor-dump-'));
    try {
      const r = runCli(['boot', 'guests/hello/hello.elf', '--jit-threshold', '0', '--jit-dump', dir, '--expect-exit', '0']);
      expect(r.status, r.stderr).to.equal(0);
      const files = readdirSync(dir).sort();
      const wasm = files.filter((f) => f.endsWith('.wasm'));
      expect(wasm.length).to.be.greaterThan(0);
      expect(files.filter((f) => f.endsWith('.wat'))).to.deep.equal(wasm.map((f) => f.replace(/\.wasm$/, '.wat')));
      const text = readFileSync(join(dir, 'module-00000.wat'), 'latin1');
      expect(text).to.match(/^;; b0: EIP [0-9a-f]{8}, physical [0-9a-f]{8}, mode key 0x[0-9a-f]+\n;; {3}[0-9a-f]{8} {2}\S/);
      expect(text).to.include('(module');
      expect(text).to.include('(export "g0")');
      expect(new Uint8Array(readFileSync(join(dir, wasm[0]))).subarray(0, 4)).to.deep.equal(new Uint8Array([0, 0x61, 0x73, 0x6d]));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
