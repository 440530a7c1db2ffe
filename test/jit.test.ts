import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createMachine, Machine } from '../index.js';
import { enterFlatProtectedMode } from '../core/cpu/segments.js';
import { Reg, S } from '../core/cpu/state-layout.js';
import { getEflags } from '../core/cpu/flags.js';
import { Block, discoverBlock, modeKey } from '../core/jit/block.js';
import { translateGroup } from '../core/jit/translate.js';
import { Bytes } from '../core/jit/wasm-emitter.js';
import { ROOT, runCli } from './support/cli.js';
import { BENCH_INSTRUCTIONS } from './support/jit-env.js';

interface Outcome { output: string; reason: string; exitValue?: number; instructions: number; registers: number[]; eflags: number }

function run(machine: Machine, maxInstructions = 2e9): Outcome {
  const chunks: Uint8Array[] = [];
  machine.onSerialOutput((b) => chunks.push(b));
  machine.onDebugOutput((b) => chunks.push(b));
  const result = machine.runSync({ maxInstructions });
  expect(result.error?.message).to.equal(undefined);
  const st = machine.cpu.st;
  return {
    output: Buffer.concat(chunks).toString('latin1'), reason: result.reason, exitValue: result.exitValue,
    instructions: result.instructions, registers: Array.from(st.subarray(0, 9)), eflags: getEflags(st),
  };
}

function boot(path: string, jit: boolean, format?: 'flat'): { machine: Machine; outcome: Outcome } {
  const machine = createMachine({ memoryMiB: 64, jit: { enabled: jit, threshold: 0 } });
  machine.loadImage({ name: path, bytes: new Uint8Array(readFileSync(join(ROOT, path))) }, { format });
  return { machine, outcome: run(machine) };
}

function flat(bytes: number[], jit: boolean): { machine: Machine; outcome: Outcome } {
  const machine = createMachine({ memoryMiB: 1, jit: { enabled: jit, threshold: 0 } });
  machine.loadImage({ name: 'smc.bin', bytes: Uint8Array.from(bytes) }, { format: 'flat' });
  return { machine, outcome: run(machine, 1e6) };
}

/** A small deterministic PRNG (xorshift32) so a failing program can be reproduced from its seed. */
function rng(seed: number): (n: number) => number {
  let x = seed | 1;
  return (n) => {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    return (x >>> 0) % n;
  };
}

/**
 * A random straight-line program for flat 32-bit code: the instruction forms the JIT emits
 * inline (register and [ESI+d8] memory operands, 8/16/32-bit) mixed with short forward Jcc
 * (fused with the flag writer before it), ending in HLT. ESI and ESP are never destinations.
 */
function randomProgram(seed: number, loop = false): number[] {
  const r = rng(seed);
  // In a loop ECX counts the passes: never a destination.
  const dst = (): number => (loop ? [0, 2, 3, 5, 7][r(5)] : [0, 1, 2, 3, 5, 7][r(6)]);
  const any = (): number => r(8);
  const out: number[] = [0xbe, 0x00, 0x00, 0x02, 0x00]; // mov esi, 0x20000
  const body = (): number[] => {
    const o16 = r(4) === 0 ? [0x66] : [];
    switch (r(13)) {
      case 0: return [...o16, [0x01, 0x09, 0x11, 0x19, 0x21, 0x29, 0x31, 0x39, 0x85][r(9)], 0xc0 | (any() << 3) | dst()];
      case 1: return [[0x00, 0x08, 0x10, 0x18, 0x20, 0x28, 0x30, 0x38, 0x84][r(9)], 0xc0 | (any() << 3) | r(8)];
      case 2: return [...o16, 0x83, 0xc0 | (r(8) << 3) | dst(), r(256)];
      case 3: return [...o16, [0x40, 0x48][r(2)] | dst()];
      case 4: {
        const byOne = r(2) === 0; // D1: shift by 1; C1: by an immediate (also 0 and above 31)
        return [...o16, byOne ? 0xd1 : 0xc1, 0xc0 | ([4, 5, 7][r(3)] << 3) | dst(), ...(byOne ? [] : [r(40)])];
      }
      case 5: return [0xd0, 0xc0 | ([4, 5, 7][r(3)] << 3) | r(8)];
      case 6: return [...o16, 0x0f, [0xb6, 0xb7, 0xbe, 0xbf][r(4)], 0xc0 | (dst() << 3) | any()];
      case 7: return [0x50 | any(), 0x58 | dst()];
      case 8: return [...o16, [0x01, 0x09, 0x11, 0x19, 0x21, 0x29, 0x31, 0x39, 0x03, 0x2b, 0x89, 0x8b][r(12)], 0x46 | (dst() << 3), r(64)];
      case 9: return [0xb8 | dst(), r(256), r(256), r(256), r(256)];
      case 10: return [0x8d, 0x44 | (dst() << 3), (r(4) << 6) | (any() << 3) | any(), r(256)];
      case 11: return [...o16, 0xff, 0x46 | (r(2) << 3), r(64)];
      default: return [0x70 | r(16), 0x02, 0x31, 0xc0 | (any() << 3) | dst()];
    }
  };
  if (!loop) {
    for (let k = 0; k < 40; k++) out.push(...body());
    out.push(0xf4);
    return out;
  }
  // mov ecx, 37 / top: 12 forms without Jcc (one block) / dec ecx / jnz top / hlt
  out.push(0xb9, 37, 0, 0, 0);
  const top = out.length;
  for (let k = 0; k < 12;) {
    const insn = body();
    if ((insn[0] & 0xf0) === 0x70) continue;
    out.push(...insn);
    k++;
  }
  out.push(0x49, 0x75, (top - (out.length + 3)) & 0xff, 0xf4);
  return out;
}

describe('JIT', () => {
  describe('differential: test kernels with every block compiled on first sight (threshold 0)', () => {
    const kernels = ['hello/hello.elf', 'selftest/selftest.bin', 'paging/paging.bin', 'protected/protected.bin', 'v86/v86.bin',
      'tasks/tasks.bin', 'debug/debug.bin', 'apic/apic.bin', 'smc/smc.bin'].map((k) => `guests/${k}`);
    for (const image of kernels) {
      it(`${image}: the interpreter's output, exit value, instruction count and registers`, function () {
        this.timeout(120000);
        const interpreted = boot(image, false).outcome;
        const { machine, outcome } = boot(image, true);
        expect(outcome).to.deep.equal(interpreted);
        const stats = machine.stats().jit!;
        // Not vacuous: nearly everything ran translated.
        expect(stats.translatedInstructions).to.be.greaterThan(0.9 * outcome.instructions);
      });
    }

    it('guests/bench/bench.bin: the expected output and the interpreter\'s instruction count (guests.test.ts checks it interpreted)', function () {
      this.timeout(300000);
      const { outcome } = boot('guests/bench/bench.bin', true);
      expect(outcome.output).to.equal(readFileSync(join(ROOT, 'guests/bench/expected.txt'), 'latin1'));
      expect(outcome.exitValue).to.equal(0);
      expect(outcome.instructions).to.equal(BENCH_INSTRUCTIONS);
    });
  });

  for (const loop of [false, true]) {
    it(`random ${loop ? 'loops' : 'programs'} of inlined instruction forms reach the interpreter's registers, flags and memory`, function () {
      this.timeout(120000);
      for (let seed = 1; seed <= (loop ? 60 : 150); seed++) {
        const code = randomProgram(seed, loop);
        // A loop also stops part-way: the budget runs out inside the translated loop.
        for (const limit of loop ? [10000, 100 + seed * 7] : [10000]) {
          const results = [false, true].map((jit) => {
            const machine = createMachine({ memoryMiB: 1, jit: { enabled: jit, threshold: 0 } });
            enterFlatProtectedMode(machine.cpu);
            machine.mem.writeBytes(0x10000, Uint8Array.from(code));
            const st = machine.cpu.st;
            st[S.EIP] = 0x10000;
            st[Reg.ESP] = 0x80000;
            for (const reg of [Reg.EAX, Reg.ECX, Reg.EDX, Reg.EBX, Reg.EBP, Reg.EDI]) st[reg] = (seed * 0x9e3779b9 * (reg + 1)) | 0;
            const outcome = run(machine, limit);
            if (jit) expect(machine.stats().jit!.translatedInstructions).to.be.greaterThan(loop && limit === 10000 ? 0.9 * outcome.instructions : 20);
            return { ...outcome, data: Array.from(machine.mem.readBytes(0x20000, 72)) };
          });
          expect(results[1], `seed ${seed}, limit ${limit}: ${Buffer.from(code).toString('hex')}`).to.deep.equal(results[0]);
        }
      }
    });
  }

  describe('self-modifying code', () => {
    it('a store into the running block ends it; the next instruction runs as rewritten', () => {
      // mov byte [next+1], 5 / next: mov al, 1 / out 0xF4, al  (real mode at 0000:7C00)
      const code = [0xc6, 0x06, 0x06, 0x7c, 0x05, 0xb0, 0x01, 0xe6, 0xf4];
      const interpreted = flat(code, false).outcome;
      const { machine, outcome } = flat(code, true);
      expect(interpreted.exitValue).to.equal(5);
      expect(outcome).to.deep.equal(interpreted);
      expect(machine.stats().jit!.translatedInstructions).to.be.greaterThan(0);
    });

    it('a compiled function rewritten between calls is translated afresh each time', () => {
      // xor bx,bx / mov si,10 / l: call f / add bx,ax / inc byte [f+1] / dec si / jnz l
      // mov al,bl / out 0xF4,al / f: mov ax,1 / ret      -> 1 + 2 + ... + 10 = 55
      const code = [0x31, 0xdb, 0xbe, 0x0a, 0x00, 0xe8, 0x0d, 0x00, 0x01, 0xc3, 0xfe, 0x06, 0x16, 0x7c, 0x4e, 0x75, 0xf4,
        0x88, 0xd8, 0xe6, 0xf4, 0xb8, 0x01, 0x00, 0xc3];
      const interpreted = flat(code, false).outcome;
      const { machine, outcome } = flat(code, true);
      expect(interpreted.exitValue).to.equal(55);
      expect(outcome).to.deep.equal(interpreted);
      expect(machine.stats().jit!.invalidations).to.be.at.least(9);
    });
  });

  describe('CLI', () => {
    it('--jit on runs translated (--stats shows the JIT counters); --jit off runs the interpreter alone', () => {
      const on = runCli(['boot', 'guests/hello/hello.elf', '--stats', '--jit', 'on']);
      expect(on.stderr).to.match(/JIT: \d+ blocks in \d+ modules/);
      const off = runCli(['boot', 'guests/hello/hello.elf', '--stats', '--jit', 'off']);
      expect(off.stdout).to.equal(on.stdout);
      expect(off.stderr).to.not.include('JIT:');
      const forced = runCli(['boot', 'guests/hello/hello.elf', '--stats', '--jit', 'on', '--jit-threshold', '0']);
      expect(forced.stderr).to.include('100.0% of instructions translated');
      const bad = runCli(['boot', 'guests/hello/hello.elf', '--jit', 'off', '--jit-threshold', '0']);
      expect(bad.status).to.equal(2);
      expect(bad.stderr).to.include('need the JIT on');
    });
  });

  describe('generated code', () => {
    /** add eax, ebx / jnz $-2 (back to the add), in flat 32-bit mode at 0x10000. */
    function loopMachine(jit: boolean): Machine {
      const machine = createMachine({ memoryMiB: 1, jit: { enabled: jit, threshold: 0 } });
      enterFlatProtectedMode(machine.cpu);
      machine.mem.writeBytes(0x10000, Uint8Array.from([0x01, 0xd8, 0x75, 0xfc, 0xf4]));
      const st = machine.cpu.st;
      st[S.EIP] = 0x10000;
      st[Reg.EAX] = 0xfffffff0 | 0;
      st[Reg.EBX] = 1;
      return machine;
    }

    it('golden: ADD fused with JNZ looping in the group function, registers loaded where used and stored at each exit, flags stored only where visible (not on the back edge)', () => {
      const machine = loopMachine(true);
      const cpu = machine.cpu;
      const block = discoverBlock(cpu, machine.interpreter, 0x10000, 0x10000, modeKey(cpu));
      expect(block.insns.map((i) => i.entry!.mnemonic32)).to.deep.equal(['ADD', 'JNE']);
      const out = new Bytes();
      // The taken branch goes back to the block inside its group function; the fall-through would chain through slot 7.
      translateGroup([block], [0], machine.mem.tablesOffset, (_from, eip) => (eip === 0x10004 ? { slot: 7, frame: null } : null)).fb.encode(out);
      const hex = Buffer.from(out.toUint8Array()).toString('hex');
      expect(hex).to.equal(GOLDEN_ADD_JNZ);
    });

    it('the blocks of a hot loop share one group function: forward branches, a back edge, the interpreter\'s state', () => {
      // mov ecx, 20 / top: inc eax / test eax, 1 / jz skip / inc ebx / skip: dec ecx / jnz top / hlt
      const code = [0xb9, 20, 0, 0, 0, 0x40, 0xa9, 1, 0, 0, 0, 0x74, 0x01, 0x43, 0x49, 0x75, 0xf4, 0xf4];
      const start = (jit: boolean, onModule?: NonNullable<Parameters<typeof createMachine>[0]>['jit']): Machine => {
        const machine = createMachine({ memoryMiB: 1, jit: { enabled: jit, threshold: 8, ...onModule } });
        enterFlatProtectedMode(machine.cpu);
        machine.mem.writeBytes(0x10000, Uint8Array.from(code));
        machine.cpu.st[S.EIP] = 0x10000;
        return machine;
      };
      const compiled: Block[] = [];
      const translated = start(true, { onModule: (_bytes, _index, blocks) => compiled.push(...blocks) });
      expect(run(translated)).to.deep.equal(run(start(false)));
      expect(new Set(compiled).size, 'no block compiled twice (a page mate is warm too)').to.equal(compiled.length);
      const loop = [0x10005, 0x1000d, 0x1000e].map((eip) => compiled.find((b) => b.eip === eip)!);
      expect(loop.every((b) => b !== undefined && b.group === loop[0].group), 'one group').to.equal(true);
      expect(translated.stats().jit!.translatedInstructions).to.be.greaterThan(40);
    });

    it('a group function runs the block at EIP\'s page offset, and returns at once for an EIP at no block\'s start', () => {
      // mov ecx, 20 / top: inc eax / test eax, 1 / jz skip / inc ebx / skip: dec ecx / jnz top / hlt
      const code = [0xb9, 20, 0, 0, 0, 0x40, 0xa9, 1, 0, 0, 0, 0x74, 0x01, 0x43, 0x49, 0x75, 0xf4, 0xf4];
      const compiled: Block[] = [];
      const machine = createMachine({ memoryMiB: 1, jit: { enabled: true, threshold: 8, onModule: (_b, _i, blocks) => compiled.push(...blocks) } });
      enterFlatProtectedMode(machine.cpu);
      machine.mem.writeBytes(0x10000, Uint8Array.from(code));
      machine.cpu.st[S.EIP] = 0x10000;
      machine.runSync({ maxInstructions: 1000 });
      const group = compiled.find((b) => b.eip === 0x1000e)!.group;
      expect(group.length, 'blocks sharing the group function').to.be.at.least(2);
      const st = machine.cpu.st;
      const ebx = compiled.find((b) => b.eip === 0x1000d)!;
      // Entered at `inc ebx / dec ecx / jnz top` with ECX = 1 and a budget of that block: EBX + 1, ECX to 0, out at the hlt.
      expect(ebx.insns.length).to.equal(3);
      st[S.EIP] = 0x1000d; st[Reg.EBX] = 5; st[Reg.ECX] = 1;
      expect(ebx.fn!(3)).to.equal(0);
      expect([st[S.EIP], st[Reg.EBX], st[Reg.ECX]]).to.deep.equal([0x10011, 6, 0]);
      // Inside `test eax, 1`'s bytes: not a block start, nothing runs.
      st[S.EIP] = 0x10007;
      expect(ebx.fn!(50)).to.equal(50);
      expect([st[S.EIP], st[Reg.EBX], st[Reg.ECX]]).to.deep.equal([0x10007, 6, 0]);
    });

    it('a group holding blocks of two code segments in one page branches by physical address, not EIP alone', () => {
      // Real mode. 0000:7C00 jmp far 07C1:0000. A (07C1:0000, physical 7C10): inc ax / test al, 1 /
      // jz A:0000 / jmp far 07C2:0000. B (07C2:0000, physical 7C20): inc bx / cmp bx, 20 / jne B:0008 /
      // hlt / nop / B:0008 jmp far 07C1:0000. A's blocks and B's share a page and a mode, and A:0000
      // and B:0000 have the same EIP.
      const image = new Uint8Array(0x30);
      image.set([0xea, 0x00, 0x00, 0xc1, 0x07], 0);
      image.set([0x40, 0xa8, 0x01, 0x74, 0xfb, 0xea, 0x00, 0x00, 0xc2, 0x07], 0x10);
      image.set([0x43, 0x83, 0xfb, 0x14, 0x75, 0x02, 0xf4, 0x90, 0xea, 0x00, 0x00, 0xc1, 0x07], 0x20);
      const start = (jit: boolean, onModule?: NonNullable<Parameters<typeof createMachine>[0]>['jit']): Machine => {
        const machine = createMachine({ memoryMiB: 1, jit: { enabled: jit, threshold: 8, ...onModule } });
        machine.loadImage({ name: 'segments.bin', bytes: image }, { format: 'flat' });
        return machine;
      };
      const compiled: Block[] = [];
      const translated = start(true, { onModule: (_bytes, _index, blocks) => compiled.push(...blocks) });
      expect(run(translated)).to.deep.equal(run(start(false)));
      const a = compiled.find((b) => b.phys === 0x7c10), b = compiled.find((x) => x.phys === 0x7c20);
      expect(a !== undefined && b !== undefined && a.eip === b.eip && a.group === b.group, 'A:0000 and B:0000 in one group').to.equal(true);
    });

    it('string instructions without REP run inline to the interpreter\'s registers, flags and memory, both directions, both address sizes', () => {
      // mov esi, 0x20000 / mov edi, 0x21000 / mov ecx, 40
      const head = [0xbe, 0, 0, 2, 0, 0xbf, 0, 0x10, 2, 0, 0xb9, 40, 0, 0, 0];
      // top: lodsb / add al, cl / stosb / scasb / movsb / lodsd / stosw / scasd / movsw / a16 lodsb / a16 stosb / dec ecx / jnz top
      const body = [0xac, 0x00, 0xc8, 0xaa, 0xae, 0xa4, 0xad, 0x66, 0xab, 0xaf, 0x66, 0xa5, 0x67, 0xac, 0x67, 0xaa, 0x49];
      // std / lodsb stosb scasb movsb lodsd stosd scasd movsd / cld / hlt
      const tail = [0xfd, 0xac, 0xaa, 0xae, 0xa4, 0xad, 0xab, 0xaf, 0xa5, 0xfc, 0xf4];
      const code = [...head, ...body, 0x75, (-(body.length + 2)) & 0xff, ...tail];
      const start = (jit: boolean): Machine => {
        const machine = createMachine({ memoryMiB: 1, jit: { enabled: jit, threshold: 0 } });
        enterFlatProtectedMode(machine.cpu);
        machine.mem.writeBytes(0x10000, Uint8Array.from(code));
        machine.mem.writeBytes(0x20000, Uint8Array.from({ length: 0x2000 }, (_, k) => (k * 13) & 0xff));
        machine.cpu.st[S.EIP] = 0x10000;
        return machine;
      };
      const interpreted = start(false), translated = start(true);
      expect(run(translated)).to.deep.equal(run(interpreted));
      expect(Buffer.from(translated.mem.readBytes(0, 0x22000)).equals(Buffer.from(interpreted.mem.readBytes(0, 0x22000)))).to.equal(true);
      expect(translated.stats().jit!.translatedInstructions).to.be.greaterThan(500);
    });

    it('the loop runs translated to the same state as interpreted', () => {
      const a = loopMachine(false), b = loopMachine(true);
      expect(run(b)).to.deep.equal(run(a));
      // 16 iterations until EAX wraps to 0, then HLT.
      expect(b.stats().jit!.translatedInstructions).to.equal(33);
    });
  });
});

/**
 * The group function of `add eax, ebx; jnz` back to the add in flat 32-bit code (parameter:
 * the budget left): the block to run selected by the page offset of EIP (the only block's, 0,
 * else return), then the group's loop around a br_table; the block's entry
 * test (the budget only: a CS limit of 4 GiB is in the mode key; on failure EIP stored and
 * return); EAX and EBX loaded into their locals where the add first reads them; the add, its flag record kept in
 * locals, ZF from the result local (fused); the taken branch stores EAX, then the seven lazy-flag
 * words only if the budget left after 2 is below the block's length (the block overwrites every
 * flag before anything sees one, unless it leaves at once), charges 2 to the budget and branches
 * back to the loop with the block's index; the
 * fall-through stores EAX, the flag words and EIP, and tail-calls slot 7 (return_call_indirect,
 * 0x13) with the budget left.
 * Regenerate from the assertion's actual value when the translator changes on purpose, after
 * reading the difference.
 */
const GOLDEN_ADD_JNZ = '9102011c7f410028002041ff1f71210a200a410047044020000f0b410021010340024020010e0100000b2000410248044041004180800436002020000f0b410028000021022002210f410028000c210520052110200f20106a2111200f211720102118201121192011210220194545044041002002360000200041026b41024804404100410036002c41004120360030410020173600384100201836003c4100201936003441004100360040410041d5113600280b200041026b2100410021010c010b410020023600004100410036002c41004120360030410020173600384100201836003c4100201936003441004100360040410041d511360028410041848004360020200041026b4107130000000b000b';
