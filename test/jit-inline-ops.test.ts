import { expect } from 'chai';
import { createMachine, Machine } from '../index.js';
import { enterFlatProtectedMode } from '../core/cpu/segments.js';
import { Reg, S } from '../core/cpu/state-layout.js';
import { getEflags } from '../core/cpu/flags.js';

const imm = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
const CODE = 0x10000, HANDLER = 0x11000, GDT = 0x3000, IDT = 0x4000, PD = 0x1000, PT0 = 0x2000;

interface Outcome { regs: number[]; eflags: number; instructions: number; reason: string; memory: Buffer; translated: number }

/**
 * Flat 32-bit `code` at CODE, compiled at first sight, with a GDT and an IDT whose every vector
 * enters HANDLER (`mov ebp, 0xdead; hlt`), and with `paging` the first 2 MiB identity-mapped
 * (set up by `setup` bytes run first). EFLAGS, registers and memory at the end, as interpreted
 * or translated.
 */
function run(code: number[], jit: boolean, options: { paging?: boolean; limit?: number; regs?: Partial<Record<Reg, number>> } = {}): Outcome {
  const machine: Machine = createMachine({ memoryMiB: 4, jit: { enabled: jit, threshold: 0 } });
  const cpu = machine.cpu;
  enterFlatProtectedMode(cpu);
  const mem = machine.mem;
  mem.writeBytes(GDT, Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0x9b, 0xcf, 0, 0xff, 0xff, 0, 0, 0, 0x93, 0xcf, 0]));
  for (let v = 0; v < 32; v++) mem.writeBytes(IDT + v * 8, Uint8Array.from([HANDLER & 0xff, (HANDLER >> 8) & 0xff, 0x08, 0, 0, 0x8e, HANDLER >>> 16, 0]));
  mem.writeBytes(HANDLER, Uint8Array.from([0xbd, ...imm(0xdead), 0xf4]));
  mem.writeBytes(PD, Uint8Array.from(imm(PT0 | 3)));
  for (let page = 0; page < 512; page++) mem.writeBytes(PT0 + page * 4, Uint8Array.from(imm((page << 12) | 3)));
  const prologue = options.paging ? [0xb8, ...imm(PD), 0x0f, 0x22, 0xd8, 0x0f, 0x20, 0xc0, 0x0d, ...imm(0x80000000), 0x0f, 0x22, 0xc0] : [];
  mem.writeBytes(CODE, Uint8Array.from([...prologue, ...code]));
  mem.writeBytes(0x20000, Uint8Array.from({ length: 0x2000 }, (_, k) => (k * 37 + (k >> 5)) & 0xff));
  const st = cpu.st;
  st[S.GDTR_BASE] = GDT; st[S.GDTR_LIMIT] = 0x17;
  st[S.IDTR_BASE] = IDT; st[S.IDTR_LIMIT] = 0xff;
  st[S.EIP] = CODE;
  st[Reg.ESP] = 0x80000;
  for (const [r, v] of Object.entries(options.regs ?? {})) st[Number(r)] = v!;
  const result = machine.runSync({ maxInstructions: options.limit ?? 1e5 });
  return {
    regs: Array.from(st.subarray(0, 9)), eflags: getEflags(st), instructions: result.instructions, reason: result.reason,
    memory: Buffer.from(mem.readBytes(0x20000, 0x2000)), translated: jit ? machine.stats().jit!.translatedInstructions : 0,
  };
}

function same(code: number[], options: Parameters<typeof run>[2] = {}, minTranslated = 1): Outcome {
  const interpreted = run(code, false, options);
  const translated = run(code, true, options);
  expect(translated.translated, 'ran translated').to.be.at.least(minTranslated);
  expect({ ...translated, translated: 0 }).to.deep.equal({ ...interpreted, translated: 0 });
  return interpreted;
}

describe('JIT inline DIV, BSWAP, BT on memory, CLD/STD, RDTSC and instructions across a page', () => {
  it('DIV by a register: quotient and remainder, flags unchanged; a zero divisor and a quotient past 32 bits raise #DE', () => {
    // stc / div ebx / hlt (CF must survive), over dividends and divisors of every shape
    const cases: [number, number, number][] = [[0, 100, 7], [1, 0, 3], [0x1234, 0x56789abc, 0x7fffffff], [0xfffffffe, 0xffffffff, 0xffffffff],
      [0, 0xffffffff, 1], [5, 5, 0], [7, 0, 7], [8, 1, 7]];
    for (const [edx, eax, ebx] of cases) {
      const outcome = same([0xf9, 0xf7, 0xf3, 0xf4], { regs: { [Reg.EDX]: edx | 0, [Reg.EAX]: eax | 0, [Reg.EBX]: ebx | 0 } });
      const faults = ebx === 0 || edx >>> 0 >= ebx >>> 0;
      expect(outcome.regs[Reg.EBP], `${edx}:${eax} / ${ebx}`).to.equal(faults ? 0xdead : 0);
    }
  });

  it('BSWAP of every register', () => {
    const code: number[] = [];
    for (let r = 0; r < 8; r++) if (r !== Reg.ESP) code.push(0x0f, 0xc8 + r);
    code.push(0xf4);
    same(code, { regs: { [Reg.EAX]: 0x11223344, [Reg.ECX]: 0x8899aabb | 0, [Reg.EDX]: 0x01020304, [Reg.EBX]: -1, [Reg.EBP]: 0x00ff00ff, [Reg.ESI]: 0x12, [Reg.EDI]: 0x80000000 | 0 } });
  });

  it('BT on memory by an immediate and by a signed register offset (16 and 32 bits), CF only', () => {
    // esi = 0x21000. Per offset: mov ecx, offset / bt [esi], ecx / setc [0x20000 + n]; then bt dword [esi+3], 13 and
    // bt word [esi], 21 (modulo 16) / setc; the arithmetic flags of a CMP before stay otherwise.
    const code: number[] = [0xbe, ...imm(0x21000), 0x39, 0xc0];
    [0, 5, 31, 32, 100, -1, -33, -200].forEach((offset, n) => {
      code.push(0xb9, ...imm(offset), 0x0f, 0xa3, 0x0e, 0x0f, 0x92, 0x05, ...imm(0x20000 + n));
      code.push(0x66, 0x0f, 0xa3, 0x0e, 0x0f, 0x92, 0x05, ...imm(0x20100 + n));
    });
    code.push(0x0f, 0xba, 0x66, 0x03, 13, 0x0f, 0x92, 0x05, ...imm(0x20200));
    code.push(0x66, 0x0f, 0xba, 0x26, 21, 0x0f, 0x92, 0x05, ...imm(0x20201), 0xf4);
    same(code, {}, 30);
  });

  it('CLD and STD around string instructions', () => {
    // mov esi, 0x20100 / mov edi, 0x20800 / std / movsd / movsb / cld / movsd / lodsb / std / stosb / hlt
    same([0xbe, ...imm(0x20100), 0xbf, ...imm(0x20800), 0xfd, 0xa5, 0xa4, 0xfc, 0xa5, 0xac, 0xfd, 0xaa, 0xf4]);
  });

  it('RDTSC: the interpreter\'s counter in every instruction of a block, also after TSC writes and a halt', () => {
    // rdtsc / mov esi, eax / mov edi, edx / nop / rdtsc / sub eax, esi / wrmsr TSC (ecx = 0x10) / rdtsc / hlt
    const code = [0x0f, 0x31, 0x89, 0xc6, 0x89, 0xd7, 0x90, 0x0f, 0x31, 0x29, 0xf0, 0xb9, 0x10, 0, 0, 0,
      0xb8, ...imm(0xfffffff0), 0xba, ...imm(7), 0x0f, 0x30, 0x0f, 0x31, 0x89, 0xc5, 0x0f, 0x31, 0xf4];
    const outcome = same(code);
    expect(outcome.regs[Reg.EBP] >>> 0).to.be.at.least(0xfffffff0);
  });

  it('PAUSE runs through the helper: the stall it adds reaches a later RDTSC of the block', () => {
    // rdtsc / mov esi, eax / pause / rdtsc / sub eax, esi / hlt
    const outcome = same([0x0f, 0x31, 0x89, 0xc6, 0xf3, 0x90, 0x0f, 0x31, 0x29, 0xf0, 0xf4]);
    expect(outcome.regs[Reg.EAX]).to.equal(3 + 140);
  });

  it('a loop of PAUSEs stops where the interpreter does, at any instruction limit', () => {
    // mov ecx, 50 / l: pause / rdtsc / dec ecx / jnz l / hlt
    const code = [0xb9, ...imm(50), 0xf3, 0x90, 0x0f, 0x31, 0x49, 0x75, 0xf9, 0xf4];
    for (const limit of [2, 3, 7, 37, 100, 1000]) {
      const outcome = same(code, { limit }, limit > 20 ? 1 : 0);
      expect(outcome.instructions, `limit ${limit}`).to.equal(Math.min(limit, 1 + 50 * 4 + 1));
    }
  });

  it('RDTSC with CR4.TSD at CPL 0 runs; the check is for other privilege levels', () => {
    // mov eax, cr4 / or eax, 4 / mov cr4, eax / rdtsc / hlt
    same([0x0f, 0x20, 0xe0, 0x83, 0xc8, 0x04, 0x0f, 0x22, 0xe0, 0x0f, 0x31, 0xf4]);
  });

  for (const paging of [false, true]) {
    it(`an instruction across a page boundary runs inline ${paging ? 'while the TLB maps the next page' : 'without paging'}`, () => {
      // At 0x10ffd: add eax, 0x12345678 (5 bytes, 2 of them in the next page); then inc ebx / cmp ebx, 5 /
      // jne 0x10ffd / hlt. CODE jumps there (after the paging set-up, 19 bytes).
      const start = paging ? 19 : 0;
      const full = new Array<number>(0x1000 - start + 16).fill(0x90);
      full.splice(0, 5, 0xe9, ...imm(0x10ffd - (CODE + start + 5)));
      full.splice(0xffd - start, 13, 0x05, ...imm(0x12345678), 0x43, 0x83, 0xfb, 0x05, 0x75, 0xf5, 0xf4);
      const outcome = same(full, { paging, regs: { [Reg.EAX]: 0x0fffffff, [Reg.EBX]: 0 } }, 15);
      expect(outcome.regs[Reg.EBX]).to.equal(5);
    });
  }
});
