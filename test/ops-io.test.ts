import { expect } from 'chai';
import { CpuHarness, Reg, S } from './support/cpu-harness.js';
import { CpuFault, Vec } from '../core/cpu/faults.js';
import { IOPL, VM } from '../core/cpu/flags.js';
import { checkIoPermission } from '../core/cpu/ops/io.js';

const HLT = 0xf4;

/** A device on ports 0xF0-0xF7 and 0x80-0x8F that answers reads with fixed values and records writes. */
function withDevice(h: CpuHarness): { writes: string[]; reads: () => number } {
  const writes: string[] = [];
  let reads = 0;
  const handlers = {
    read8: (port: number) => { reads++; return port & 0xff; },
    read16: (port: number) => { reads++; return 0x1600 | (port & 0xff); },
    read32: (port: number) => { reads++; return (0x32000000 | (port & 0xff)) >>> 0; },
    write8: (port: number, v: number) => { writes.push(`${port.toString(16)}:8:${v.toString(16)}`); },
    write16: (port: number, v: number) => { writes.push(`${port.toString(16)}:16:${v.toString(16)}`); },
    write32: (port: number, v: number) => { writes.push(`${port.toString(16)}:32:${v.toString(16)}`); },
  };
  h.io.register(0xf0, 8, handlers, 'test device high');
  h.io.register(0x80, 16, handlers, 'test device low');
  return { writes, reads: () => reads };
}

function faultOf(action: () => void): CpuFault | undefined {
  try {
    action();
  } catch (e) {
    if (e instanceof CpuFault) return e;
    throw e;
  }
  return undefined;
}

describe('IN and OUT', () => {
  it('IN AL,Ib takes the port as an unsigned byte and keeps the rest of EAX', () => {
    const h = new CpuHarness().realMode([0xe4, 0xf0, HLT]).set(Reg.EAX, 0xaabbccdd);
    withDevice(h);
    h.run();
    expect(h.get(Reg.EAX)).to.equal(0xaabbccf0);
  });

  it('IN AX,Ib and IN EAX,Ib read 16 and 32 bits', () => {
    const h = new CpuHarness().realMode([0xe5, 0x80, 0x89, 0xc3, 0x66, 0xe5, 0x84, HLT]).set(Reg.EAX, 0xaabbccdd);
    withDevice(h);
    h.run();
    expect(h.get(Reg.EBX) & 0xffff).to.equal(0x1680); // mov bx, ax kept the 16-bit result
    expect(h.get(Reg.EAX)).to.equal(0x32000084);
  });

  it('IN AL/AX/EAX,DX read the port in DX', () => {
    const h = new CpuHarness().realMode([0xec, 0x88, 0xc3, 0xed, 0x89, 0xc1, 0x66, 0xed, HLT]).set(Reg.EDX, 0xf7).set(Reg.EAX, 0xffffffff);
    withDevice(h);
    h.run();
    expect(h.get(Reg.EBX) & 0xff).to.equal(0xf7);
    expect(h.get(Reg.ECX) & 0xffff).to.equal(0x16f7);
    expect(h.get(Reg.EAX)).to.equal(0x320000f7);
  });

  it('IN with 32-bit operand size in 32-bit code, and the 66 prefix for 16 bits', () => {
    const h = new CpuHarness().flat32([0xed, 0x89, 0xc3, 0x66, 0xed, HLT]).set(Reg.EDX, 0x81);
    withDevice(h);
    h.run();
    expect(h.get(Reg.EBX)).to.equal(0x32000081);
    expect(h.get(Reg.EAX)).to.equal(0x32001681);
  });

  it('OUT writes AL, AX, EAX to an immediate port or DX', () => {
    const code = [0xe6, 0xf0, 0xe7, 0x80, 0x66, 0xe7, 0x84, 0xee, 0xef, 0x66, 0xef, HLT];
    const h = new CpuHarness().realMode(code).set(Reg.EAX, 0x12345678).set(Reg.EDX, 0x8f);
    const { writes } = withDevice(h);
    h.run();
    expect(writes).to.deep.equal(['f0:8:78', '80:16:5678', '84:32:12345678', '8f:8:78', '8f:16:5678', '8f:32:12345678']);
  });

  it('an unclaimed port reads as all ones', () => {
    const h = new CpuHarness().realMode([0xe4, 0x10, HLT]).set(Reg.EAX, 0);
    h.run();
    expect(h.get(Reg.EAX)).to.equal(0xff);
  });

  describe('checkIoPermission', () => {
    it('allows everything in real mode', () => {
      const h = new CpuHarness().realMode([HLT]);
      expect(faultOf(() => checkIoPermission(h.cpu, 0x80, 1))).to.equal(undefined);
    });

    it('allows CPL <= IOPL in protected mode and faults #GP(0) above it', () => {
      const h = new CpuHarness().flat32([HLT]);
      expect(faultOf(() => checkIoPermission(h.cpu, 0x80, 1))).to.equal(undefined);
      h.cpu.st[S.CPL] = 3;
      const f = faultOf(() => checkIoPermission(h.cpu, 0x80, 4));
      expect(f?.vector).to.equal(Vec.GP);
      expect(f?.errorCode).to.equal(0);
      h.cpu.setEflags(IOPL, IOPL);
      expect(faultOf(() => checkIoPermission(h.cpu, 0x80, 1))).to.equal(undefined);
    });

    it('faults in virtual-8086 mode whatever IOPL (the TSS bitmap is not there yet)', () => {
      const h = new CpuHarness().flat32([HLT]);
      h.cpu.setEflags(VM | IOPL, VM | IOPL);
      h.cpu.st[S.CPL] = 3;
      expect(faultOf(() => checkIoPermission(h.cpu, 0x80, 1))?.vector).to.equal(Vec.GP);
    });
  });

  describe('at CPL 3 in protected mode', () => {
    /**
     * Flat protected mode at CPL 3: GDT at 0x800 (0x08 ring-0 code, 0x10 data, 0x18 ring-3
     * code), IDT at 0x1000 whose #GP gate leads to a `jmp $` at 0x9000 in ring 3.
     */
    function ring3(code: number[]): CpuHarness {
      const h = new CpuHarness().flat32(code);
      const gdt = [[0, 0], [0x0000ffff, 0x00cf9a00], [0x0000ffff, 0x00cf9200], [0x0000ffff, 0x00cffa00]];
      gdt.forEach(([lo, hi], k) => h.load(0x800 + k * 8, le32(lo).concat(le32(hi))));
      const handler = 0x9000;
      h.load(0x1000 + Vec.GP * 8, le32((0x1b << 16) | (handler & 0xffff)).concat(le32((handler & 0xffff0000) | 0x8e00)));
      h.load(handler, [0xeb, 0xfe]);
      const st = h.cpu.st;
      st[S.GDTR_BASE] = 0x800; st[S.GDTR_LIMIT] = 0x1f;
      st[S.IDTR_BASE] = 0x1000; st[S.IDTR_LIMIT] = 0x7ff;
      st[S.CPL] = 3;
      return h;
    }

    function le32(v: number): number[] {
      return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
    }

    it('IN with IOPL 0 faults #GP(0) before touching the device', () => {
      const h = ring3([0xec, HLT]).set(Reg.EDX, 0x80);
      const device = withDevice(h);
      h.run(3);
      expect(h.eip).to.equal(0x9000);
      expect(h.read32(h.get(Reg.ESP))).to.equal(0); // error code
      expect(h.read32(h.get(Reg.ESP) + 4)).to.equal(0x10000); // the IN
      expect(device.reads()).to.equal(0);
    });

    it('OUT with IOPL 3 goes through', () => {
      const h = ring3([0xe6, 0x81, 0xeb, 0xfe]).set(Reg.EAX, 0x42);
      h.cpu.setEflags(IOPL, IOPL);
      const { writes } = withDevice(h);
      h.run(3);
      expect(writes).to.deep.equal(['81:8:42']);
      expect(h.eip).to.equal(0x10002);
    });
  });
});
