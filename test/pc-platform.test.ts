import { expect } from 'chai';
import { createMachine, Machine } from '../index.js';
import { S } from '../core/cpu/state-layout.js';

/** A machine running `code` in real mode at 0000:7C00, with extra memory writes. */
function realModeMachine(code: number[], extra: { address: number; bytes: number[] }[] = [], rtcStartTime?: number): Machine {
  const machine = createMachine({ memoryMiB: 4, rtcStartTime });
  machine.applyBootPlan({
    format: 'flat', description: 'platform test',
    writes: [{ address: 0x7c00, bytes: Uint8Array.from(code) }, ...extra.map((w) => ({ address: w.address, bytes: Uint8Array.from(w.bytes) }))],
    entry: { mode: 'real', cs: 0, eip: 0x7c00, registers: { esp: 0x7c00 } },
  });
  return machine;
}

describe('PC platform wiring', () => {
  it('a PIT tick reaches the CPU through the PIC: HLT wakes up in the IRQ 0 handler', () => {
    // The PIT first: setting mode 2 raises OUT0 at once (an edge), which the PIC's ICW1 then
    // forgets, so the interrupt that arrives is the end of the first count.
    const program = [
      0xfa,                                                 // cli
      0xb0, 0x34, 0xe6, 0x43, 0xb0, 0xe8, 0xe6, 0x40, 0xb0, 0x03, 0xe6, 0x40, // PIT ch0 mode 2, 1000
      0xb0, 0x11, 0xe6, 0x20, 0xb0, 0x08, 0xe6, 0x21,       // ICW1, ICW2 = vector 8
      0xb0, 0x04, 0xe6, 0x21, 0xb0, 0x01, 0xe6, 0x21,       // ICW3, ICW4
      0xb0, 0xfe, 0xe6, 0x21,                               // unmask IRQ 0 only
      0xfb, 0xf4, 0xeb, 0xfd,                               // sti; hlt; jmp hlt
    ];
    const handler = [0x66, 0xb8, 0x07, 0x00, 0x00, 0x00, 0x66, 0xe7, 0xf4]; // mov eax, 7; out 0xF4, eax
    const machine = realModeMachine(program, [{ address: 8 * 4, bytes: [0x00, 0x7d, 0x00, 0x00] }, { address: 0x7d00, bytes: handler }]);
    const result = machine.runSync({ maxInstructions: 1e6 });
    expect(result.reason).to.equal('exit');
    expect(result.exitValue).to.equal(7);
    // HLT skipped ahead to the PIT's first output edge: 1000 ticks of 1.193182 MHz.
    expect(result.virtualNs).to.be.within(838_000, 840_000);
  });

  it('the RTC starts at a fixed epoch unless told otherwise, so runs are reproducible', () => {
    const readYear = (m: Machine): number => { m.io.write8(0x70, 9); return m.io.read8(0x71); };
    expect(readYear(realModeMachine([0xf4]))).to.equal(0x00);
    expect(readYear(realModeMachine([0xf4], [], Date.UTC(2024, 1, 29)))).to.equal(0x24);
  });

  it('the 8042 output port and port 0x92 gate A20 for the CPU (either one enables it)', () => {
    const machine = realModeMachine([0xf4]);
    machine.io.write8(0x64, 0xd1);
    machine.io.write8(0x60, 0xcd);     // output port with A20 (bit 1) clear
    machine.io.write8(0x92, 0x00);
    expect(machine.cpu.st[S.A20_MASK]).to.equal(~0x100000);
    machine.io.write8(0x92, 0x02);
    expect(machine.cpu.st[S.A20_MASK]).to.equal(-1);
  });

  it('a reset through the 8042 ends the run with reason reset', () => {
    const machine = realModeMachine([0xb0, 0xfe, 0xe6, 0x64, 0xeb, 0xfe]); // mov al, 0xFE; out 0x64, al; jmp $
    expect(machine.runSync({ maxInstructions: 1000 }).reason).to.equal('reset');
  });

  it('text written to 0xB8000 shows on the VGA screen', () => {
    // mov ax, 0xB800; mov es, ax; mov word [es:0], 0x0748 ('H'); hlt
    const machine = realModeMachine([0xb8, 0x00, 0xb8, 0x8e, 0xc0, 0x26, 0xc7, 0x06, 0x00, 0x00, 0x48, 0x07, 0xf4]);
    machine.runSync({ maxInstructions: 100 });
    expect(machine.platform.vga.screenText().split('\n')[0]).to.equal('H');
  });
});
