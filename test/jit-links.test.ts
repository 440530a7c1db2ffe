import { expect } from 'chai';
import { createMachine, Machine } from '../index.js';
import { enterFlatProtectedMode } from '../core/cpu/segments.js';
import { Reg, S } from '../core/cpu/state-layout.js';
import { getEflags } from '../core/cpu/flags.js';
import type { Block } from '../core/jit/block.js';

const imm = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
const PD = 0x1000, PT0 = 0x2000;
/** Linear page 0x30000 maps to one of these (present, writable). */
const FIRST = 0x40000, SECOND = 0x41000;

/**
 * Flat 32-bit code at 0x10000 with paging on (the first 2 MiB identity-mapped, but linear
 * 0x30000 -> FIRST): 200 calls of 0x30000, then the page remapped to SECOND (PTE write and
 * INVLPG), then the same 200 calls again (the same call site, linked to FIRST by now). FIRST
 * holds `add ebx, 1 / ret`, SECOND `add edx, 1 / ret`.
 */
function remappingMachine(jit: boolean): { machine: Machine; compiled: Block[] } {
  const compiled: Block[] = [];
  const machine = createMachine({ memoryMiB: 4, jit: { enabled: jit, threshold: 8, onModule: (_b, _i, blocks) => compiled.push(...blocks) } });
  const cpu = machine.cpu;
  enterFlatProtectedMode(cpu);
  const code: number[] = [0xb8, ...imm(PD), 0x0f, 0x22, 0xd8, 0x0f, 0x20, 0xc0, 0x0d, ...imm(0x80000000), 0x0f, 0x22, 0xc0];
  const outer = code.length;
  code.push(0xbe, ...imm(2));                                               // mov esi, 2
  code.push(0xb9, ...imm(200));                                             // outer: mov ecx, 200
  const call = code.length;
  code.push(0xe8, ...imm(0x30000 - (0x10000 + call + 5)), 0x49, 0x75, 0xf8); // l: call 0x30000 / dec ecx / jnz l
  code.push(0xc7, 0x05, ...imm(PT0 + 0x30 * 4), ...imm(SECOND | 3));        // mov dword [pte], SECOND | P | RW
  code.push(0x0f, 0x01, 0x3d, ...imm(0x30000));                             // invlpg [0x30000]
  code.push(0x4e, 0x75, (outer + 5 - (code.length + 3)) & 0xff, 0xf4);      // dec esi / jnz outer / hlt
  machine.mem.writeBytes(0x10000, Uint8Array.from(code));
  machine.mem.writeBytes(FIRST, Uint8Array.from([0x83, 0xc3, 0x01, 0xc3]));
  machine.mem.writeBytes(SECOND, Uint8Array.from([0x83, 0xc2, 0x01, 0xc3]));
  const pd = new Uint8Array(imm(PT0 | 3));
  machine.mem.writeBytes(PD, pd);
  for (let page = 0; page < 512; page++) machine.mem.writeBytes(PT0 + page * 4, Uint8Array.from(imm(((page === 0x30 ? FIRST : page << 12) | 3) >>> 0)));
  cpu.st[S.EIP] = 0x10000;
  cpu.st[Reg.ESP] = 0x80000;
  cpu.st[Reg.EBX] = 0;
  cpu.st[Reg.EDX] = 0;
  return { machine, compiled };
}

describe('JIT links to another page', () => {
  it('a call into another page is linked while the TLB maps it there; after a remap and INVLPG it runs the new page', () => {
    const states = [false, true].map((jit) => {
      const { machine, compiled } = remappingMachine(jit);
      const result = machine.runSync({ maxInstructions: 1e6 });
      expect(result.reason).to.equal('halt');
      if (jit) {
        // Both call sites and both targets ran translated.
        expect(machine.stats().jit!.translatedInstructions).to.be.greaterThan(1200);
        expect(compiled.some((b) => b.phys === FIRST) && compiled.some((b) => b.phys === SECOND)).to.equal(true);
      }
      return [...machine.cpu.st.subarray(0, 9), getEflags(machine.cpu.st)];
    });
    expect(states[0][Reg.EBX]).to.equal(200);
    expect(states[0][Reg.EDX]).to.equal(200);
    expect(states[1]).to.deep.equal(states[0]);
  });
});
