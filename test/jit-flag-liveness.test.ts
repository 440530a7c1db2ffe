import { expect } from 'chai';
import { createMachine, Machine } from '../index.js';
import { enterFlatProtectedMode } from '../core/cpu/segments.js';
import { Reg, S } from '../core/cpu/state-layout.js';
import { ARITH_FLAGS, CF, getEflags } from '../core/cpu/flags.js';
import { discoverBlock, modeKey, type Block } from '../core/jit/block.js';
import { flagLiveness } from '../core/jit/flag-liveness.js';

function flatMachine(code: number[], jit: boolean, threshold = 0): Machine {
  const machine = createMachine({ memoryMiB: 1, jit: { enabled: jit, threshold } });
  enterFlatProtectedMode(machine.cpu);
  machine.mem.writeBytes(0x10000, Uint8Array.from(code));
  machine.cpu.st[S.EIP] = 0x10000;
  machine.cpu.st[Reg.ESP] = 0x80000;
  return machine;
}

/** The block at the start of `code` (flat 32-bit code at 0x10000). */
function blockOf(code: number[]): Block {
  const machine = flatMachine([...code, 0xf4], false);
  return discoverBlock(machine.cpu, machine.interpreter, 0x10000, 0x10000, modeKey(machine.cpu));
}

describe('JIT flag liveness', () => {
  it('a block that overwrites every flag with register-only instructions needs none on entry; INC before TEST needs no CF', () => {
    // inc edx / inc ebx / test bl, 1 / jnz $
    const { in: live, after } = flagLiveness(blockOf([0x42, 0x43, 0xf6, 0xc3, 0x01, 0x75, 0xfe]));
    expect(live).to.equal(0);
    expect(after[0] & CF).to.equal(0);
    expect(after[3], 'every flag is live at the exit').to.equal(ARITH_FLAGS);
  });

  it('needs what is read before it is written: CF of ADC, CF of a JB after DEC', () => {
    expect(flagLiveness(blockOf([0x11, 0xd8, 0x85, 0xc0, 0x75, 0xfe])).in).to.equal(CF); // adc eax, ebx / test eax, eax / jnz $
    expect(flagLiveness(blockOf([0x49, 0x72, 0xfe])).in & CF).to.equal(CF); // dec ecx / jb $
  });

  it('needs every flag before anything that may fault or call out: a memory operand, DIV, a shift by CL that may change none', () => {
    expect(flagLiveness(blockOf([0x03, 0x06, 0x85, 0xc0, 0x75, 0xfe])).in).to.equal(ARITH_FLAGS); // add eax, [esi] / test / jnz
    expect(flagLiveness(blockOf([0xf7, 0xf3, 0x85, 0xc0, 0x75, 0xfe])).in).to.equal(ARITH_FLAGS); // div ebx / test / jnz
    expect(flagLiveness(blockOf([0xd3, 0xe0, 0x75, 0xfe])).in).to.equal(ARITH_FLAGS); // shl eax, cl / jnz $
    expect(flagLiveness(blockOf([0xc1, 0xe0, 0x20, 0x75, 0xfe])).in, 'a count of 32 is 0').to.equal(ARITH_FLAGS);
  });

  it('translated code stopped by the budget at every point of a loop leaves the interpreter\'s flags (edges that skip the store)', () => {
    // mov ecx, 40 / top: add eax, esi / jc over / inc edx / inc ebx / test bl, 1 / jnz over / adc edi, 5 /
    // over: dec ecx / jnz top / hlt. The edge into `inc edx` and the back edge into `add` need no
    // flags; `adc` needs CF, `dec` keeps it.
    const code = [0xb9, 40, 0, 0, 0, 0x01, 0xf0, 0x72, 0x0a, 0x42, 0x43, 0xf6, 0xc3, 0x01, 0x75, 0x03, 0x83, 0xd7, 0x05,
      0x49, 0x75, 0xef, 0xf4];
    for (const slice of [1, 2, 3, 4, 5, 7, 9, 13, 1000]) {
      const trace = (jit: boolean): number[][] => {
        const machine = flatMachine(code, jit, 2);
        machine.cpu.st[Reg.EAX] = 0x12345678;
        machine.cpu.st[Reg.ESI] = 0x9e3779b9 | 0;
        const states: number[][] = [];
        for (let k = 0; k < 1000 && machine.cpu.st[S.HALTED] === 0; k++) {
          machine.runSync({ maxInstructions: slice });
          states.push([...machine.cpu.st.subarray(0, 9), getEflags(machine.cpu.st)]);
        }
        // Not vacuous: with a budget of 3 and more, most of the loop runs translated.
        if (jit && slice >= 3) expect(machine.stats().jit!.translatedInstructions, `slices of ${slice}`).to.be.greaterThan(100);
        return states;
      };
      expect(trace(true), `slices of ${slice}`).to.deep.equal(trace(false));
    }
  });
});
