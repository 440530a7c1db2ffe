import { expect } from 'chai';
import { createMachine } from '../index.js';
import { enterFlatProtectedMode } from '../core/cpu/segments.js';
import { Reg, S } from '../core/cpu/state-layout.js';
import { getEflags } from '../core/cpu/flags.js';

const imm = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
const PD = 0x1000, PT0 = 0x2000;
const CODE = 0x10000;

interface RepCase { name: string; op: number[]; esi: number; edi: number; ecx: number; down?: boolean }

const MOVSB = [0xf3, 0xa4], MOVSD = [0xf3, 0xa5], STOSB = [0xf3, 0xaa], STOSW = [0xf3, 0x66, 0xab], STOSD = [0xf3, 0xab];
const CASES: RepCase[] = [
  { name: 'MOVSB within pages', op: MOVSB, esi: 0x20010, edi: 0x24020, ecx: 100 },
  { name: 'MOVSD within pages', op: MOVSD, esi: 0x20100, edi: 0x25204, ecx: 200 },
  { name: 'MOVSB, ECX 0', op: MOVSB, esi: 0x20010, edi: 0x24020, ecx: 0 },
  { name: 'MOVSB overlapping ahead (a pattern)', op: MOVSB, esi: 0x20010, edi: 0x20013, ecx: 60 },
  { name: 'MOVSB overlapping behind', op: MOVSB, esi: 0x20013, edi: 0x20010, ecx: 60 },
  { name: 'MOVSB across a page', op: MOVSB, esi: 0x20f80, edi: 0x24000, ecx: 300 },
  { name: 'MOVSB a whole page', op: MOVSB, esi: 0x21000, edi: 0x26000, ecx: 4096 },
  { name: 'MOVSB more than one execution does', op: MOVSB, esi: 0x21000, edi: 0x26000, ecx: 5000 },
  { name: 'MOVSB downwards', op: MOVSB, esi: 0x20400, edi: 0x24400, ecx: 50, down: true },
  { name: 'MOVSB into the code page', op: MOVSB, esi: 0x20000, edi: CODE + 0x200, ecx: 16 },
  { name: 'STOSB', op: STOSB, esi: 0, edi: 0x22003, ecx: 333 },
  { name: 'STOSW', op: STOSW, esi: 0, edi: 0x22003, ecx: 333 },
  { name: 'STOSD', op: STOSD, esi: 0, edi: 0x22004, ecx: 1000 },
  { name: 'STOSD across a page', op: STOSD, esi: 0, edi: 0x22ff0, ecx: 8 },
];

/**
 * `case` as a flat 32-bit program at CODE (with `paging`, the first 2 MiB identity-mapped
 * first), compiled at first sight. A byte moved from [esi] to [edi] first puts both pages in
 * the TLB, as a guest's earlier accesses would.
 */
function outcome(c: RepCase, jit: boolean, paging: boolean): { regs: number[]; eflags: number; memory: Buffer; instructions: number } {
  const machine = createMachine({ memoryMiB: 4, jit: { enabled: jit, threshold: 0 } });
  enterFlatProtectedMode(machine.cpu);
  const prologue = paging ? [0xb8, ...imm(PD), 0x0f, 0x22, 0xd8, 0x0f, 0x20, 0xc0, 0x0d, ...imm(0x80000000), 0x0f, 0x22, 0xc0] : [];
  // cld or std / mov esi / mov edi / mov ecx / mov bl, [esi] / mov [edi], bl / the REP instruction / hlt
  const code = [...prologue, c.down ? 0xfd : 0xfc, 0xbe, ...imm(c.esi), 0xbf, ...imm(c.edi), 0xb9, ...imm(c.ecx),
    0x8a, 0x1e, 0x88, 0x1f, ...c.op, 0xf4];
  machine.mem.writeBytes(CODE, Uint8Array.from(code));
  machine.mem.writeBytes(0x20000, Uint8Array.from({ length: 0x8000 }, (_, k) => (k * 7 + (k >> 8)) & 0xff));
  machine.mem.writeBytes(PD, Uint8Array.from(imm(PT0 | 3)));
  for (let page = 0; page < 512; page++) machine.mem.writeBytes(PT0 + page * 4, Uint8Array.from(imm((page << 12) | 3)));
  const st = machine.cpu.st;
  st[S.EIP] = CODE;
  st[Reg.ESP] = 0x80000;
  st[Reg.EAX] = 0x81828384 | 0;
  const result = machine.runSync({ maxInstructions: 1e5 });
  expect(result.reason, c.name).to.equal('halt');
  return {
    regs: Array.from(st.subarray(0, 9)), eflags: getEflags(st), instructions: result.instructions,
    memory: Buffer.from(machine.mem.readBytes(CODE, 0x18000)),
  };
}

describe('JIT REP MOVS/STOS in wasm', () => {
  for (const paging of [false, true]) {
    it(`reach the interpreter's registers, memory and instruction count ${paging ? 'with' : 'without'} paging: ${CASES.length} cases`, () => {
      for (const c of CASES) {
        const interpreted = outcome(c, false, paging);
        const translated = outcome(c, true, paging);
        expect(translated.regs, c.name).to.deep.equal(interpreted.regs);
        expect(translated.eflags, c.name).to.equal(interpreted.eflags);
        expect(translated.instructions, c.name).to.equal(interpreted.instructions);
        expect(translated.memory.equals(interpreted.memory), `${c.name}: memory`).to.equal(true);
      }
    });
  }
});
