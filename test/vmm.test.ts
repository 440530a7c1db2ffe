import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createMachine, VirtMode } from '../core/machine/machine.js';
import { Monitor } from '../core/vmm/monitor.js';
import { bytes32, GDT, ringMachine, runToFault, Sel } from './support/protected-mode.js';
import { Reg, S, Seg } from './support/cpu-harness.js';
import { ROOT, runCli } from './support/cli.js';

/** A ring-0 test machine (test/support/protected-mode.ts) under the monitor: guest ring 0 now runs at ring 1. */
function deprivileged(code: number[]) {
  const h = ringMachine(code);
  const monitor = new Monitor(h.cpu, h.interp);
  monitor.resync();
  return { h, monitor };
}

describe('deprivileging monitor', () => {
  it('runs guest ring 0 at ring 1 and shows ring 0 to its MOV/PUSH of CS; HLT traps and is emulated', () => {
    // mov eax, cs; push cs; pop ebx; hlt
    const { h, monitor } = deprivileged([0x8c, 0xc8, 0x0e, 0x5b, 0xf4]);
    const st = h.cpu.st;
    expect(st[S.CPL]).to.equal(1);
    expect(st[S.SEL + Seg.CS]).to.equal(Sel.CODE0 | 1);
    expect(st[S.SEL + Seg.SS]).to.equal(Sel.DATA0 | 1);
    expect(monitor.vcpu.cpl).to.equal(0);
    h.run(10);
    expect(h.get(Reg.EAX) & 0xffff).to.equal(Sel.CODE0);
    expect(h.get(Reg.EBX) & 0xffff).to.equal(Sel.CODE0);
    expect(st[S.HALTED]).to.equal(1);
    expect(h.cpu.retired).to.equal(4);
    const stats = monitor.stats();
    // Interpreted, HLT traps; translated (the JIT forced), it is a callout.
    expect({ ...stats.traps, ...stats.callouts }).to.deep.equal({ HLT: 1 });
    expect(stats.hooks).to.deep.equal({ MOV: 1, PUSH: 1 });
    expect(stats.instructions).to.equal(3);
  });

  it('loads data segments from shadow descriptors (DPL 1) that follow writes to the guest GDT', () => {
    const code = [
      0x66, 0xb8, Sel.DATA0, 0x00,                                   // mov ax, DATA0
      0x8e, 0xd8,                                                    // mov ds, ax
      0xc7, 0x05, ...bytes32(GDT + (Sel.DATA0 & ~7)), ...bytes32(0x1234ffff), // base 15:0 = 0x1234
      0x8e, 0xd8,                                                    // mov ds, ax
      0xf4,
    ];
    const { h, monitor } = deprivileged(code);
    h.run(10);
    const st = h.cpu.st;
    expect(st[S.SEG_BASE + Seg.DS]).to.equal(0x1234);
    expect((st[S.SEG_FLAGS + Seg.DS] >> 5) & 3).to.equal(1);
    expect(st[S.SEL + Seg.DS]).to.equal(Sel.DATA0);
    // The guest's own descriptor keeps DPL 0 (and got its accessed bit).
    expect(h.read32(GDT + (Sel.DATA0 & ~7) + 4) & 0x6100).to.equal(0x0100);
    const stats = monitor.stats();
    expect({ ...stats.traps, ...stats.callouts }).to.deep.equal({ HLT: 1 });
    expect(monitor.shadow.writeFlushes).to.be.greaterThan(0);
  });

  it('delivers a fault that emulation confirms with the frame ring 0 would push', () => {
    // mov ax, DATA3; mov ss, ax: SS RPL 3 at CPL 0 is #GP(0x20), CS in the frame has RPL 0
    const { h, monitor } = deprivileged([0x66, 0xb8, Sel.DATA3, 0x00, 0x8e, 0xd0]);
    const f = runToFault(h);
    expect(f).to.deep.equal({ vector: 13, errorCode: Sel.DATA3 & 0xfffc, eip: 0x10004, cs: Sel.CODE0 });
    expect(monitor.stats().deliveries).to.deep.equal({ '0x0d': 1 });
  });
});

/** Every test kernel, each with its image. */
const KERNELS = ['hello/hello.elf', 'selftest/selftest.bin', 'paging/paging.bin', 'protected/protected.bin', 'v86/v86.bin',
  'tasks/tasks.bin', 'debug/debug.bin', 'apic/apic.bin', 'transparency/transparency.bin'];

function bootKernel(path: string, virt: VirtMode, jit = false) {
  const machine = createMachine({ memoryMiB: 64, virt, jit: { enabled: jit, threshold: 0 } });
  const chunks: Uint8Array[] = [];
  machine.onSerialOutput((bytes) => chunks.push(bytes));
  machine.onDebugOutput((bytes) => chunks.push(bytes));
  machine.loadImage({ name: path, bytes: new Uint8Array(readFileSync(join(ROOT, 'guests', path))) });
  const result = machine.runSync({ maxInstructions: 2e8 });
  return { result, output: Buffer.concat(chunks).toString('latin1'), stats: machine.stats() };
}

describe('test kernels under --virt deprivileged', () => {
  for (const path of KERNELS) {
    it(`${path} prints the same, retires the same instructions and exits the same as in direct mode`, () => {
      const direct = bootKernel(path, 'direct');
      const deprivileged = bootKernel(path, 'deprivileged');
      expect(deprivileged.output).to.equal(direct.output);
      expect(deprivileged.result).to.deep.equal(direct.result);
      expect(deprivileged.stats.vmm!.instructions).to.be.greaterThan(0);
    });
  }
});

describe('the JIT under the monitor', () => {
  it('transparency and tasks, every block compiled at first sight, match direct mode (hooks reached through the executors it calls)', () => {
    for (const path of ['transparency/transparency.bin', 'tasks/tasks.bin']) {
      const direct = bootKernel(path, 'direct');
      const translated = bootKernel(path, 'deprivileged', true);
      expect(translated.output, path).to.equal(direct.output);
      expect(translated.result, path).to.deep.equal(direct.result);
      expect(translated.stats.jit!.translatedInstructions, path).to.be.greaterThan(0);
    }
  });
});

describe('wasmvisor boot --virt', () => {
  it('prints the monitor\'s traps, hooks and deliveries with --stats', () => {
    const r = runCli(['boot', 'guests/transparency/transparency.bin', '--virt', 'deprivileged', '--stats']);
    expect(r.stdout).to.equal(readFileSync(join(ROOT, 'guests/transparency/expected.txt'), 'latin1'));
    expect(r.stderr).to.match(/VMM: \d+ guest instructions in the monitor/);
    expect(r.stderr).to.match(/VMM (traps|callouts from translated code): .*OUT \d+/);
    expect(r.stderr).to.match(/VMM (traps|callouts from translated code): .*IN \d+/);
    expect(r.stderr).to.match(/VMM hooks: PUSHFD \d+/);
    expect(r.status).to.equal(1);
  });

  it('refuses an unknown mode', () => {
    const r = runCli(['boot', 'guests/hello/hello.elf', '--virt', 'hardware']);
    expect(r.status).to.equal(2);
    expect(r.stderr).to.include("--virt: must be direct or deprivileged, not 'hardware'");
  });
});
