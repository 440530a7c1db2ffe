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

/** The CPU's INTA cycle, as the interpreter runs it before delivering an interrupt. */
function acknowledge(machine: Machine): number {
  const inta = machine.interpreter.acknowledgeInterrupt;
  if (inta === null) throw new Error('no interrupt controller is wired to the CPU');
  return inta();
}

/**
 * Real-mode set-up: PIT channel 0 in mode 2 counting 1000, the master PIC at vector 8 with only
 * IRQ 0 unmasked, interrupts still off.
 */
const PIT_TICK_ON_IRQ0 = [
  0xfa,                                                 // cli
  0xb0, 0x34, 0xe6, 0x43, 0xb0, 0xe8, 0xe6, 0x40, 0xb0, 0x03, 0xe6, 0x40, // PIT ch0 mode 2, 1000
  0xb0, 0x11, 0xe6, 0x20, 0xb0, 0x08, 0xe6, 0x21,       // ICW1, ICW2 = vector 8
  0xb0, 0x04, 0xe6, 0x21, 0xb0, 0x01, 0xe6, 0x21,       // ICW3, ICW4
  0xb0, 0xfe, 0xe6, 0x21,                               // unmask IRQ 0 only
];

describe('PC platform wiring', () => {
  it('a PIT tick reaches the CPU through the PIC: HLT wakes up in the IRQ 0 handler', () => {
    // The PIT first: setting mode 2 raises OUT0 at once (an edge), which the PIC's ICW1 then
    // forgets, so the interrupt that arrives is the end of the first count.
    const program = [
      ...PIT_TICK_ON_IRQ0,
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

  it('the TSC keeps counting while HLT waits for the timer, so it keeps pace with virtual time', () => {
    const program = [
      ...PIT_TICK_ON_IRQ0,
      0x0f, 0x31, 0x66, 0x89, 0xc3,                         // rdtsc; mov ebx, eax
      0xfb, 0xf4, 0xeb, 0xfd,                               // sti; hlt; jmp hlt
    ];
    // rdtsc; sub eax, ebx; out 0xF4, eax: the exit value is the ticks across the HLT.
    const handler = [0x0f, 0x31, 0x66, 0x29, 0xd8, 0x66, 0xe7, 0xf4];
    const machine = realModeMachine(program, [{ address: 8 * 4, bytes: [0x00, 0x7d, 0x00, 0x00] }, { address: 0x7d00, bytes: handler }]);
    const result = machine.runSync({ maxInstructions: 1e6 });
    expect(result.reason).to.equal('exit');
    // 1000 PIT ticks = 838 us of virtual time = 83,800 instruction times of 10 ns, nearly all halted.
    expect(result.exitValue).to.be.within(83_000, 84_000);
  });

  it('an x87 error with CR0.NE clear asserts FERR#: IRQ 13 through the slave PIC, cleared by a write to port 0xF0', () => {
    // PICs at 0x08/0x70 with only IRQ 2 and 13 unmasked; fninit; fldcw 0x037B (ZE unmasked);
    // fld1; fldz; fdivp (1/0: ZE pending); sti; fwait (FERR#); hlt. Handler: out 0xF0, al; fnclex; exit 13.
    const program = [
      0xfa, 0xb0, 0x11, 0xe6, 0x20, 0xe6, 0xa0, 0xb0, 0x08, 0xe6, 0x21, 0xb0,
      0x70, 0xe6, 0xa1, 0xb0, 0x04, 0xe6, 0x21, 0xb0, 0x02, 0xe6, 0xa1, 0xb0,
      0x01, 0xe6, 0x21, 0xe6, 0xa1, 0xb0, 0xfb, 0xe6, 0x21, 0xb0, 0xdf, 0xe6,
      0xa1, 0xdb, 0xe3, 0xd9, 0x2e, 0x34, 0x7c, 0xd9, 0xe8, 0xd9, 0xee, 0xde,
      0xf9, 0xfb, 0x9b, 0xf4, 0x7b, 0x03,
    ];
    const handler = [0xe6, 0xf0, 0xdb, 0xe2, 0x66, 0xb8, 0x0d, 0x00, 0x00, 0x00, 0x66, 0xe7, 0xf4];
    const machine = realModeMachine(program, [{ address: 0x75 * 4, bytes: [0x00, 0x7d, 0x00, 0x00] }, { address: 0x7d00, bytes: handler }]);
    const result = machine.runSync({ maxInstructions: 1000 });
    expect(result.reason).to.equal('exit');
    expect(result.exitValue).to.equal(13);
    expect(machine.platform.pic.irq(13).level).to.equal(false);
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

  it('PCI configuration mechanism #1 finds the i440FX at 00:00.0 and the PIIX3 at 00:01.0, nothing at 00:02.0', () => {
    const machine = realModeMachine([0xf4]);
    const config = (device: number, offset: number): number => {
      machine.io.write32(0xcf8, 0x80000000 | (device << 11) | offset);
      return machine.io.read32(0xcfc) >>> 0;
    };
    expect(config(0, 0)).to.equal(0x12378086);
    expect(config(1, 0)).to.equal(0x70008086);
    expect(config(1, 8) >>> 8).to.equal(0x060100);
    expect(config(2, 0)).to.equal(0xffffffff);
  });

  it('an ISA IRQ reaches the CPU through the I/O APIC and the local APIC once they are programmed, and a masked LINT0 stops the 8259A', () => {
    const machine = realModeMachine([0xf4]);
    const { apic, pic } = machine.platform;
    const ioApicWrite = (index: number, value: number): void => {
      machine.mem.write32(0xfec00000, index);
      machine.mem.write32(0xfec00010, value);
    };
    apic.write32(0xf0, 0x1ff);              // software-enable the local APIC, spurious vector 0xFF
    apic.write32(0x350, 0x10700);           // LINT0: ExtINT, masked
    ioApicWrite(0x10 + 2 * 3, 0x30);        // pin 3 (IRQ 3): vector 0x30, fixed, edge, unmasked
    machine.io.write8(0x20, 0x11); machine.io.write8(0x21, 0x08); machine.io.write8(0x21, 0x04); machine.io.write8(0x21, 0x01);
    machine.io.write8(0x21, 0xf7);          // the 8259A would pass IRQ 3 too
    pic.irq(3).raise();
    expect(machine.cpu.st[S.INTR]).to.equal(1);
    expect(acknowledge(machine)).to.equal(0x30);
    expect(machine.cpu.st[S.INTR]).to.equal(0); // the 8259A's request is held back by the masked LINT0
    apic.write32(0x350, 0x700);             // unmask LINT0: virtual-wire mode passes the 8259A
    expect(machine.cpu.st[S.INTR]).to.equal(1);
    expect(acknowledge(machine)).to.equal(0x0b);
  });

  it('a level-triggered I/O APIC entry is sent again after the local APIC EOI while its line stays asserted', () => {
    const machine = realModeMachine([0xf4]);
    const { apic, ioApic } = machine.platform;
    machine.mem.write32(0xfec00000, 0x10 + 2 * 9);
    machine.mem.write32(0xfec00010, 0x8041);           // pin 9: vector 0x41, level, active high
    apic.write32(0xf0, 0x1ff);
    ioApic.input(9).raise();
    expect(acknowledge(machine)).to.equal(0x41);
    expect(apic.hasInterrupt()).to.equal(false);       // remote IRR holds it back
    apic.write32(0xb0, 0);                             // EOI
    expect(apic.hasInterrupt()).to.equal(true);
  });
});
