import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createMachine, VirtMode } from '../core/machine/machine.js';
import { S } from '../core/cpu/state-layout.js';
import { ROOT } from './support/cli.js';

const IMAGE = 'guests/transparency/transparency.bin';

/** Boots the transparency kernel; counts the instructions run at each real CPL when asked to. */
function boot(virt: VirtMode, sampleCpl = false) {
  const machine = createMachine({ memoryMiB: 64, virt });
  const chunks: Uint8Array[] = [];
  machine.onSerialOutput((bytes) => chunks.push(bytes));
  machine.loadImage({ name: IMAGE, bytes: new Uint8Array(readFileSync(join(ROOT, IMAGE))) });
  const atCpl = [0, 0, 0, 0];
  const result = machine.runSync({ maxInstructions: 1e7, beforeInstruction: sampleCpl ? (cpu) => { atCpl[cpu.st[S.CPL]]++; } : undefined });
  return { result, output: Buffer.concat(chunks).toString('latin1'), atCpl, stats: machine.stats() };
}

describe('transparency kernel', () => {
  const expected = readFileSync(join(ROOT, 'guests/transparency/expected.txt'), 'latin1');

  it('passes every case at ring 0 (--virt direct)', () => {
    const { result, output } = boot('direct');
    expect(output.split('\r\n').filter((l) => l.startsWith('FAIL'))).to.deep.equal([]);
    expect(output).to.equal(expected);
    expect(result.reason).to.equal('exit');
    expect(result.exitValue).to.equal(0);
  });

  it('sees exactly what ring 0 sees while it really runs at ring 1 (--virt deprivileged)', () => {
    const direct = boot('direct');
    const deprivileged = boot('deprivileged', true);
    expect(deprivileged.output).to.equal(direct.output);
    expect(deprivileged.result.reason).to.equal('exit');
    expect(deprivileged.result.exitValue).to.equal(0);
    expect(deprivileged.result.instructions).to.equal(direct.result.instructions);
    // Its ring-0 code never ran at ring 0: everything before ring 3 ran at ring 1.
    expect(deprivileged.atCpl[0]).to.equal(0);
    expect(deprivileged.atCpl[1]).to.be.greaterThan(40000);
    expect(deprivileged.atCpl[3]).to.be.greaterThan(10);
    const vmm = deprivileged.stats.vmm!;
    for (const trapped of ['LGDT', 'LIDT', 'LTR', 'LLDT', 'CLI', 'STI', 'OUT', 'IN', 'WRMSR', 'RDMSR', 'CLTS', 'WBINVD', 'INVLPG', 'RDTSC', 'SYSEXIT', 'LSS']) {
      expect(vmm.traps, trapped).to.have.property(trapped);
    }
    for (const hooked of ['PUSHFD', 'POPFD', 'IRETD', 'LAR', 'LSL', 'VERR', 'VERW', 'SGDT', 'SIDT', 'SLDT', 'STR', 'SMSW', 'SYSENTER', 'INT3', 'CALLF']) {
      expect(vmm.hooks, hooked).to.have.property(hooked);
    }
    expect(vmm.deliveries).to.include({ '0x06': 1, '0x0e': 2, '0x40': 1, '0x80': 1 });
  });
});
