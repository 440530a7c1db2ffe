// Micro-benchmarks of the interpreter's parts (benchmark.js): decoding, and the instruction
// loop on small hot loops, in guest instructions per second. For finding where time goes; the
// comparison against peers is interp-vs-v86 (npm run perf:kernel). Usage: npm run bench:micro
import Benchmark from 'benchmark';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decode, Insn } from '../core/decoder/decoder.js';
import { createMachine } from '../core/machine/machine.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const bench = new Uint8Array(readFileSync(join(ROOT, 'guests/bench/bench.bin')));

/** Offsets of every instruction of the bench kernel's code, found by one linear decode. */
function instructionOffsets(code: Uint8Array): number[] {
  const insn = new Insn();
  const src = { byteAt: (k: number) => code[k] ?? 0 };
  const offsets: number[] = [];
  for (let at = 0x40; at < code.length - 16; at += insn.length) {
    decode(src, at, true, insn);
    if (insn.entry === undefined) break;
    offsets.push(at);
  }
  return offsets;
}

/** A flat 32-bit machine looping `body` 100 000 times; returns a function running it once and its instruction count. */
function loopRunner(body: number[]): { run: () => void; perRun: number } {
  const machine = createMachine({ memoryMiB: 4 });
  const code = Uint8Array.from([...body, 0x49, 0x75, (256 - (body.length + 3)) & 0xff, 0xf4]); // dec ecx; jnz; hlt
  const run = (): number => {
    const before = machine.cpu.retired;
    machine.applyBootPlan({
      format: 'flat', description: 'micro-benchmark loop', writes: [{ address: 0x10000, bytes: code }],
      entry: { mode: 'protected32', eip: 0x10000, registers: { ecx: 100_000, esp: 0x80000 } },
    });
    const result = machine.runSync();
    if (result.reason !== 'halt') throw new Error(`micro-benchmark loop ended with ${result.reason}: ${result.error?.message}`);
    return machine.cpu.retired - before;
  };
  const perRun = run();
  return { run, perRun };
}

const offsets = instructionOffsets(bench);
const scratch = new Insn();
const source = { byteAt: (k: number) => bench[k] ?? 0 };
const loops: Record<string, number[]> = {
  'register ALU (add eax,ebx)': [0x01, 0xd8],
  'memory load/store': [0x89, 0x05, 0, 0, 0x20, 0, 0x8b, 0x05, 0, 0, 0x20, 0],
  'CRC step (shr, sbb, and, xor)': [0xd1, 0xe8, 0x19, 0xd2, 0x81, 0xe2, 0x20, 0x83, 0xb8, 0xed, 0x31, 0xd0],
};

const suite = new Benchmark.Suite();
suite.add(`decode ${offsets.length} bench-kernel instructions`, () => {
  for (const at of offsets) decode(source, at, true, scratch);
});
const perCycle = new Map<string, number>([[`decode ${offsets.length} bench-kernel instructions`, offsets.length]]);
for (const [name, body] of Object.entries(loops)) {
  const { run, perRun } = loopRunner(body);
  suite.add(`loop: ${name}`, run);
  perCycle.set(`loop: ${name}`, perRun);
}
suite.on('cycle', (event: Benchmark.Event) => {
  const b = event.target as unknown as Benchmark & { name: string };
  const millions = (b.hz! * perCycle.get(b.name)!) / 1e6;
  console.log(`${b.name.padEnd(44)} ${millions.toFixed(1).padStart(7)} M instructions/s  (±${b.stats!.rme.toFixed(1)}%, ${b.stats!.sample.length} samples)`);
});
suite.run();
