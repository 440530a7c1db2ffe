import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { testMachine } from './support/jit-env.js';
import { ROOT } from './support/cli.js';
import { Reg } from '../core/cpu/state-layout.js';

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

  it('PAUSE stalls the CPU 140 instruction times: virtual time and the TSC move on', () => {
    // out 0x80, al / pause / pause / rdtsc / out 0x80, al / hlt
    const machine = machineRunning(Uint8Array.from([0xe6, 0x80, 0xf3, 0x90, 0xf3, 0x90, 0x0f, 0x31, 0xe6, 0x80, 0xf4]));
    const seen: number[] = [];
    machine.io.register(0x80, 1, { write8: () => seen.push(machine.scheduler.nowNs) }, 'probe');
    machine.runSync();
    expect(seen).to.deep.equal([0, (4 + 2 * 140) * 10]);
    expect(machine.cpu.st[Reg.EAX]).to.equal(3 + 2 * 140);
    expect(machine.cpu.retired).to.equal(6);
  });

  it('a PAUSE stall ends at the next timer event, which still fires at its exact time', () => {
    // out 0x80, al / pause x 8 / hlt: the OUT asks for an event 500 instruction times on
    const machine = machineRunning(Uint8Array.from([0xe6, 0x80, ...new Array(8).fill([0xf3, 0x90]).flat(), 0xf4]));
    let fired: [number, number] | null = null;
    machine.io.register(0x80, 1, {
      write8: () => machine.scheduler.scheduleIn(500 * 10, () => { fired = [machine.virtualNs, machine.cpu.retired]; }, 'probe timer'),
    }, 'probe');
    machine.runSync();
    // Three full stalls (141 instruction times each with the PAUSE's own), then one of 75 reaches
    // the event at 5000 ns, after the OUT and four PAUSEs.
    expect(fired).to.deep.equal([500 * 10, 5]);
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

  it('realTime: an idle guest waits for the host clock to reach its timer, and host input wakes it at once', async () => {
    // Real mode: PIT channel 0 one-shot (mode 0) of 0xFFFF ticks = 54.9 ms, IRQ 0 unmasked; sti; hlt; then exit 7.
    const program = [
      0xfa, 0xb0, 0x30, 0xe6, 0x43, 0xb0, 0xff, 0xe6, 0x40, 0xe6, 0x40,
      0xb0, 0x11, 0xe6, 0x20, 0xb0, 0x08, 0xe6, 0x21, 0xb0, 0x04, 0xe6, 0x21, 0xb0, 0x01, 0xe6, 0x21,
      0xb0, 0xfe, 0xe6, 0x21, 0xfb, 0xf4, 0xeb, 0xfd,
    ];
    const handler = [0x66, 0xb8, 0x07, 0x00, 0x00, 0x00, 0x66, 0xe7, 0xf4];
    const boot = () => {
      const machine = testMachine({ memoryMiB: 2 });
      machine.applyBootPlan({
        format: 'flat', description: 'pit one-shot',
        writes: [{ address: 0x7c00, bytes: Uint8Array.from(program) }, { address: 0x20, bytes: Uint8Array.of(0, 0x7d, 0, 0) },
          { address: 0x7d00, bytes: Uint8Array.from(handler) }],
        entry: { mode: 'real', cs: 0, eip: 0x7c00, registers: { esp: 0x7c00 } },
      });
      return machine;
    };
    const paced = boot();
    const started = performance.now();
    const result = await paced.run({ realTime: true });
    expect(result.exitValue).to.equal(7);
    expect(performance.now() - started).to.be.at.least(45);
    expect(result.virtualNs).to.be.within(54e6, 56e6);
    // The same wait ends early when host input (here stop()) arrives: virtual time stops where the host clock was.
    const woken = boot();
    const run = woken.run({ realTime: true });
    setTimeout(() => woken.stop(), 5);
    expect((await run).reason).to.equal('stopped');
    expect(woken.virtualNs).to.be.below(50e6);
  });
});

function helloElf(): Uint8Array {
  return new Uint8Array(readFileSync(join(ROOT, 'guests/hello/hello.elf')));
}
