import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { testMachine } from './support/jit-env.js';
import { ROOT } from './support/cli.js';

/** A flat 32-bit guest: `out 0x80, al` then a long run of NOPs and HLT. */
function guestWithPortWrite(): Uint8Array {
  return Uint8Array.from([0xe6, 0x80, ...new Array(1000).fill(0x90), 0xf4]);
}

function machineRunning(code: Uint8Array) {
  const machine = testMachine({ memoryMiB: 2, instructionsPerSecond: 100e6 });
  machine.applyBootPlan({
    format: 'flat', description: 'test guest', writes: [{ address: 0x10000, bytes: code }],
    entry: { mode: 'protected32', eip: 0x10000, registers: { esp: 0x80000 } },
  });
  return machine;
}

describe('machine run loop and virtual time', () => {
  it('devices read the time of the running instruction, not of the last slice end', () => {
    const machine = machineRunning(guestWithPortWrite());
    const seen: number[] = [];
    machine.io.register(0x80, 1, { write8: () => seen.push(machine.scheduler.nowNs) }, 'probe');
    machine.runSync();
    // The OUT is the first instruction: it runs at virtual time 0 (nothing retired before it).
    expect(seen).to.deep.equal([0]);
    expect(machine.virtualNs).to.equal(1002 * 10);
  });

  it('an event a device schedules mid-slice fires at its exact instruction', () => {
    const machine = machineRunning(guestWithPortWrite());
    let firedAt = -1;
    machine.io.register(0x80, 1, {
      write8: () => machine.scheduler.scheduleIn(100 * 10, () => { firedAt = machine.cpu.retired; }, 'probe timer'),
    }, 'probe');
    machine.runSync();
    // Scheduled at t = 0 for 100 instructions later (10 ns each): fires once 100 have retired.
    expect(firedAt).to.equal(100);
  });

  it('is deterministic: the same guest gives the same output and instruction count', () => {
    const outputs = [0, 1].map(() => {
      const machine = testMachine({ memoryMiB: 16 });
      const bytes: number[] = [];
      machine.onSerialOutput((b) => bytes.push(...b));
      machine.loadImage({ name: 'hello.elf', bytes: helloElf() });
      const r = machine.runSync();
      return `${r.instructions} ${r.virtualNs} ${String.fromCharCode(...bytes)}`;
    });
    expect(outputs[0]).to.equal(outputs[1]);
  });
});

function helloElf(): Uint8Array {
  return new Uint8Array(readFileSync(join(ROOT, 'guests/hello/hello.elf')));
}
