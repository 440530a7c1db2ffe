import { expect } from 'chai';
import { CpuFault, Vec } from '../core/cpu/faults.js';
import { checkIoPermission } from '../core/cpu/ops/io.js';
import { CpuHarness, Reg, S } from './support/cpu-harness.js';
import { enterRing3, IO_MAP, ringMachine, runToFault, TSS, TSS_LIMIT } from './support/protected-mode.js';

const IOPL = 0x3000;

/** The fault checkIoPermission raises, as [vector, error code], or undefined when the access is allowed. */
function check(h: CpuHarness, port: number, bytes: number): [number, number] | undefined {
  try {
    checkIoPermission(h.cpu, port, bytes);
    return undefined;
  } catch (e) {
    if (e instanceof CpuFault) return [e.vector, e.errorCode];
    throw e;
  }
}

/** Clears the bitmap bits of `ports` in the standard TSS (every other port stays denied). */
function allow(h: CpuHarness, ...ports: number[]): CpuHarness {
  for (const port of ports) {
    const at = TSS + IO_MAP + (port >> 3);
    h.load(at, [h.read8(at) & ~(1 << (port & 7))]);
  }
  return h;
}

/** A CPL 3 machine with IOPL 0 and the standard TSS, whose bitmap covers ports 0-0x3FF. */
function ring3(code: number[] = [0xf4]): CpuHarness {
  return enterRing3(ringMachine(code));
}

describe('I/O permission (IOPL and the TSS bitmap)', () => {
  it('CPL <= IOPL needs no bitmap', () => {
    const h = ring3();
    h.cpu.setEflags(IOPL, IOPL);
    h.cpu.st[S.TR_LIMIT] = 0;
    expect(check(h, 0x80, 4)).to.equal(undefined);
    h.cpu.st[S.CPL] = 0;
    h.cpu.setEflags(0, IOPL);
    expect(check(h, 0x80, 4)).to.equal(undefined);
  });

  it('above IOPL, a port is allowed when its bit is 0 and #GP(0) when it is 1', () => {
    const h = allow(ring3(), 0x80, 0x3f8);
    expect(check(h, 0x80, 1)).to.equal(undefined);
    expect(check(h, 0x3f8, 1)).to.equal(undefined);
    expect(check(h, 0x81, 1)).to.deep.equal([Vec.GP, 0]);
    expect(check(h, 0x3f9, 1)).to.deep.equal([Vec.GP, 0]);
  });

  it('every port of a word or dword access must be allowed, also across a bitmap byte', () => {
    const h = allow(ring3(), 0x86, 0x87, 0x88, 0x89, 0x90);
    expect(check(h, 0x86, 4)).to.equal(undefined);
    expect(check(h, 0x88, 2)).to.equal(undefined);
    expect(check(h, 0x87, 4)).to.deep.equal([Vec.GP, 0]);
    expect(check(h, 0x8f, 2)).to.deep.equal([Vec.GP, 0]);
    expect(check(h, 0x90, 2)).to.deep.equal([Vec.GP, 0]);
  });

  it('a port whose bit lies beyond the TSS limit is #GP(0)', () => {
    const h = ring3();
    // The bitmap ends at TSS_LIMIT: the last byte it holds is for ports 0x3F8-0x3FF.
    for (let k = 0; k < 0x80; k++) h.load(TSS + IO_MAP + k, [0]);
    expect(check(h, 0x3f0, 1)).to.equal(undefined);
    expect(check(h, 0x400, 1)).to.deep.equal([Vec.GP, 0]);
    expect(check(h, 0x8000, 1)).to.deep.equal([Vec.GP, 0]);
    // The two bytes are read as a word: ports 0x3F8-0x3FF need the byte after theirs inside the limit too.
    h.cpu.st[S.TR_LIMIT] = TSS_LIMIT - 1;
    expect(check(h, 0x3f8, 1)).to.deep.equal([Vec.GP, 0]);
  });

  it('a bitmap base beyond the limit, a TSS too short to hold the base, or a 16-bit TSS is #GP(0)', () => {
    const h = allow(ring3(), 0x80);
    h.load(TSS + 0x66, [0xff, 0xff]);
    expect(check(h, 0x80, 1)).to.deep.equal([Vec.GP, 0]);
    const short = allow(ring3(), 0x80);
    short.cpu.st[S.TR_LIMIT] = 0x66;
    expect(check(short, 0x80, 1)).to.deep.equal([Vec.GP, 0]);
    const tss16 = allow(ring3(), 0x80);
    tss16.cpu.st[S.TR_FLAGS] = 0x83;
    expect(check(tss16, 0x80, 1)).to.deep.equal([Vec.GP, 0]);
  });

  it('IN of an allowed port reads the device; OUT of a denied one faults before writing it', () => {
    // in al,0x80; mov dx,0x81; out dx,al; hlt
    const h = allow(ring3([0xe4, 0x80, 0x66, 0xba, 0x81, 0x00, 0xee, 0xf4]), 0x80);
    const writes: number[] = [];
    h.io.register(0x80, 2, {
      read8: (port) => port + 1,
      write8: (_port, v) => { writes.push(v); },
    }, 'test device');
    const f = runToFault(h);
    expect(h.get(Reg.EAX) & 0xff).to.equal(0x81);
    expect([f.vector, f.errorCode, f.eip]).to.deep.equal([Vec.GP, 0, 0x10006]);
    expect(writes).to.deep.equal([]);
  });

  it('INSB and OUTSB check the bitmap too', () => {
    // mov dx,0x82; insb (EDI = 0x4000); hlt
    const h = ring3([0x66, 0xba, 0x82, 0x00, 0x6c, 0xf4]).set(Reg.EDI, 0x4000);
    const f = runToFault(h);
    expect([f.vector, f.errorCode, f.eip]).to.deep.equal([Vec.GP, 0, 0x10004]);
    const out = allow(ring3([0x66, 0xba, 0x82, 0x00, 0x6e, 0xf4]), 0x82).set(Reg.ESI, 0x4000);
    const g = runToFault(out);
    expect([g.vector, g.eip]).to.deep.equal([Vec.GP, 0x10005]);                // the HLT, after the OUTSB
  });
});
