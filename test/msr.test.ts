import { expect } from 'chai';
import { CpuHarness, Reg } from './support/cpu-harness.js';

/** IA32_APIC_BASE, the MTRRs and the CPUID bits that announce them (SDM Vol. 3A 10.4.4, 11.11). */

const RDMSR = [0x0f, 0x32], WRMSR = [0x0f, 0x30], HLT = 0xf4;

/** Real mode with #GP (IVT 13) and #UD (IVT 6) handlers that halt at 0x2001 and 0x3001. */
function real(code: number[]): CpuHarness {
  const h = new CpuHarness().realMode([...code, HLT]);
  h.load(13 * 4, [0x00, 0x20, 0x00, 0x00]).load(6 * 4, [0x00, 0x30, 0x00, 0x00]);
  h.load(0x2000, [HLT]).load(0x3000, [HLT]);
  return h;
}

function rdmsr(msr: number, before: number[] = []): [number, number] {
  const h = real([...before, ...RDMSR]).set(Reg.ECX, msr);
  h.run();
  expect(h.eip).to.equal(0x1000 + before.length + 3);
  return [h.get(Reg.EDX), h.get(Reg.EAX)];
}

/** WRMSR then RDMSR of the same MSR; returns EDX:EAX read back, or 'GP' when the write faults. */
function writeRead(msr: number, hi: number, lo: number): [number, number] | 'GP' {
  const h = real([...WRMSR, ...RDMSR]).set(Reg.ECX, msr).set(Reg.EDX, hi).set(Reg.EAX, lo);
  h.run();
  if (h.eip === 0x2001) return 'GP';
  return [h.get(Reg.EDX), h.get(Reg.EAX)];
}

function cpuid(leaf: number): number[] {
  const h = real([0x0f, 0xa2]).set(Reg.EAX, leaf);
  h.run();
  return [h.get(Reg.EAX), h.get(Reg.EBX), h.get(Reg.ECX), h.get(Reg.EDX)];
}

describe('MSRs: IA32_APIC_BASE', () => {
  it('reads 0xFEE00000 with the global enable (bit 11) and BSP (bit 8) set', () => {
    expect(rdmsr(0x1b)).to.deep.equal([0, 0xfee00900]);
  });

  it('a write clearing bit 11 disables the APIC; BSP stays, and the CPU exposes the state', () => {
    const h = real([...WRMSR, ...RDMSR]).set(Reg.ECX, 0x1b).set(Reg.EDX, 0).set(Reg.EAX, 0xfee00000);
    h.run();
    expect(h.get(Reg.EAX)).to.equal(0xfee00100);
    expect(h.cpu.apicEnabled).to.equal(false);
    expect(writeRead(0x1b, 0, 0xfee00800)).to.deep.equal([0, 0xfee00900]);
  });

  it('reserved bits are #GP(0)', () => {
    expect(writeRead(0x1b, 0, 0xfee00a00)).to.equal('GP');
    expect(writeRead(0x1b, 0, 0xfee00801)).to.equal('GP');
    expect(writeRead(0x1b, 1, 0xfee00800)).to.equal('GP');
  });
});

describe('MSRs: MTRRs', () => {
  it('IA32_MTRRCAP reports 8 variable ranges, fixed ranges, no WC, and is read-only', () => {
    expect(rdmsr(0xfe)).to.deep.equal([0, 0x108]);
    expect(writeRead(0xfe, 0, 0x108)).to.equal('GP');
  });

  it('every MTRR reads 0 after reset and reads back a valid value', () => {
    const variable = Array.from({ length: 16 }, (_, k) => 0x200 + k);
    const fixed = [0x250, 0x258, 0x259, 0x268, 0x269, 0x26a, 0x26b, 0x26c, 0x26d, 0x26e, 0x26f];
    for (const msr of [...variable, ...fixed, 0x2ff]) {
      expect(rdmsr(msr), `MSR 0x${msr.toString(16)}`).to.deep.equal([0, 0]);
    }
    expect(writeRead(0x200, 0x0, 0x80000006)).to.deep.equal([0, 0x80000006]);   // PHYSBASE0: 2 GiB, WB
    expect(writeRead(0x201, 0xf, 0xc0000800)).to.deep.equal([0xf, 0xc0000800]); // PHYSMASK0: 1 GiB, valid
    expect(writeRead(0x250, 0x06060606, 0x06060606)).to.deep.equal([0x06060606, 0x06060606]);
    expect(writeRead(0x26f, 0x05050505, 0x04040000)).to.deep.equal([0x05050505, 0x04040000]);
    expect(writeRead(0x2ff, 0, 0xc06)).to.deep.equal([0, 0xc06]);               // E, FE, default WB
  });

  it('an unsupported memory type (WC, 2, 3, 7) or a reserved bit is #GP(0)', () => {
    expect(writeRead(0x250, 0, 0x01)).to.equal('GP');
    expect(writeRead(0x258, 0, 0x0200)).to.equal('GP');
    expect(writeRead(0x2ff, 0, 0x07)).to.equal('GP');
    expect(writeRead(0x2ff, 0, 0x106)).to.equal('GP');
    expect(writeRead(0x200, 0, 0x100)).to.equal('GP');
    expect(writeRead(0x201, 0x10, 0)).to.equal('GP');
    expect(writeRead(0x201, 0, 0x400)).to.equal('GP');
  });

  it('IA32_MISC_ENABLE (0x1A0) and MSRs between the MTRRs stay #GP(0)', () => {
    for (const msr of [0x1a0, 0x210, 0x251, 0x25a, 0x2fe]) {
      expect(writeRead(msr, 0, 0)).to.equal('GP');
    }
  });
});

describe('CPUID for the debug and system features', () => {
  it('leaf 1 EDX reports DE (2), APIC (9; the MP tables describe it) and MTRR (12)', () => {
    const edx = cpuid(1)[3];
    for (const bit of [2, 9, 12]) expect((edx >>> bit) & 1, `bit ${bit}`).to.equal(1);
  });

  it('RDTSCP is not a P6 instruction: no CPUID bit (0x80000001 EDX.27) and 0F 01 F9 is #UD', () => {
    expect((cpuid(0x80000001)[3] >>> 27) & 1).to.equal(0);
    const h = real([0x0f, 0x01, 0xf9]);
    h.run();
    expect(h.eip).to.equal(0x3001);
  });
});
