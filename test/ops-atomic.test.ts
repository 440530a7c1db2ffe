import { expect } from 'chai';
import { AF, CF, OF, PF, SF, ZF } from '../core/cpu/flags.js';
import { CpuHarness, Reg, S } from './support/cpu-harness.js';

const ARITH = OF | SF | ZF | AF | PF | CF;
const CODE32 = 0x10000;
/** An MMIO page above RAM that records every byte written to it. */
const WATCHED = 0x300000;

const shared = new CpuHarness().flat32([0xf4], CODE32);
const watched = new Uint8Array(0x1000);
const writes: [number, number][] = [];
shared.mem.mapMmio(WATCHED, 0x1000, {
  read8: (a) => watched[a - WATCHED],
  write8: (a, v) => { writes.push([a, v]); watched[a - WATCHED] = v; },
}, 'write recorder');

function run32(code: number[], regs: [Reg, number][] = [], flags = 0): CpuHarness {
  const h = shared;
  h.load(CODE32, [...code, 0xf4]);
  h.cpu.st[S.EIP] = CODE32;
  h.cpu.st[S.HALTED] = 0;
  for (const [r, v] of regs) h.set(r, v);
  h.cpu.setEflags(flags, ARITH);
  h.run();
  return h;
}

const le32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];

function parity(v: number): number {
  let bits = v & 0xff;
  bits ^= bits >> 4; bits ^= bits >> 2; bits ^= bits >> 1;
  return (bits & 1) === 0 ? PF : 0;
}

/** Flags of a + b (add) or a - b (sub) at the given size, computed from their definitions. */
function arithFlags(a: number, b: number, size: number, subtract: boolean): number {
  const mask = size === 32 ? 0xffffffff : (1 << size) - 1;
  const ua = (a & mask) >>> 0, ub = (b & mask) >>> 0;
  const exact = subtract ? ua - ub : ua + ub;
  const r = (exact & mask) >>> 0;
  const sign = 2 ** (size - 1);
  const sa = ua >= sign ? ua - 2 * sign : ua, sb = ub >= sign ? ub - 2 * sign : ub;
  const signedExact = subtract ? sa - sb : sa + sb;
  return (exact < 0 || exact > mask ? CF : 0) | (signedExact >= sign || signedExact < -sign ? OF : 0)
    | ((ua ^ ub ^ r) & AF) | (r === 0 ? ZF : 0) | (r >= sign ? SF : 0) | parity(r);
}

describe('XADD (core/cpu/ops/atomic.ts)', () => {
  const CASES = [[1, 2], [0xffffffff, 1], [0x7fffffff, 1], [0x80000000, 0x80000000], [0x0f, 0x01], [0x12345678, 0x9abcdef0]];

  for (const size of [8, 16, 32]) {
    it(`${size}-bit registers: exchange and add, flags as ADD`, () => {
      const mask = size === 32 ? 0xffffffff : (1 << size) - 1;
      // xadd al|ax|eax, cl|cx|ecx
      const code = size === 8 ? [0x0f, 0xc0, 0xc8] : size === 16 ? [0x66, 0x0f, 0xc1, 0xc8] : [0x0f, 0xc1, 0xc8];
      for (const [a, b] of CASES) {
        const h = run32(code, [[Reg.EAX, a], [Reg.ECX, b]]);
        const keep = ~mask;
        expect(h.get(Reg.EAX)).to.equal(((a & keep) | ((a + b) & mask)) >>> 0);
        expect(h.get(Reg.ECX)).to.equal(((b & keep) | (a & mask)) >>> 0);
        expect(h.eflags & ARITH).to.equal(arithFlags(a, b, size, false));
      }
    });
  }

  it('with the same register twice leaves the sum (the destination is written last)', () => {
    // xadd eax,eax
    const h = run32([0x0f, 0xc1, 0xc0], [[Reg.EAX, 21]]);
    expect(h.get(Reg.EAX)).to.equal(42);
  });

  it('with a LOCKed memory destination: memory gets the sum, the register the old value', () => {
    shared.load(0x2000, le32(1000));
    // lock xadd [0x2000],ecx
    const h = run32([0xf0, 0x0f, 0xc1, 0x0d, 0x00, 0x20, 0x00, 0x00], [[Reg.ECX, 0xffffffff]]);
    expect(h.read32(0x2000)).to.equal(999);
    expect(h.get(Reg.ECX)).to.equal(1000);
    expect(h.eflags & ARITH).to.equal(arithFlags(1000, -1, 32, false));
  });
});

describe('CMPXCHG (core/cpu/ops/atomic.ts)', () => {
  for (const size of [8, 16, 32]) {
    it(`${size}-bit registers: equal stores the source, unequal loads the accumulator; flags as CMP`, () => {
      const mask = size === 32 ? 0xffffffff : (1 << size) - 1;
      const keep = ~mask;
      // cmpxchg bl|bx|ebx, cl|cx|ecx
      const code = size === 8 ? [0x0f, 0xb0, 0xcb] : size === 16 ? [0x66, 0x0f, 0xb1, 0xcb] : [0x0f, 0xb1, 0xcb];
      const dest = 0x81828384, src = 0x55565758;
      // Equal: only the low `size` bits of the accumulator are compared.
      let h = run32(code, [[Reg.EAX, (0xeeeeeeee & keep) | (dest & mask)], [Reg.EBX, dest], [Reg.ECX, src]]);
      expect(h.get(Reg.EBX)).to.equal(((dest & keep) | (src & mask)) >>> 0);
      expect(h.get(Reg.EAX)).to.equal((((0xeeeeeeee & keep) | (dest & mask)) >>> 0));
      expect(h.eflags & ARITH).to.equal(ZF | PF);
      // Not equal: the accumulator takes the destination, which keeps its value.
      const acc = 0x01020304;
      h = run32(code, [[Reg.EAX, acc], [Reg.EBX, dest], [Reg.ECX, src]]);
      expect(h.get(Reg.EBX)).to.equal(dest >>> 0);
      expect(h.get(Reg.EAX)).to.equal(((acc & keep) | (dest & mask)) >>> 0);
      expect(h.eflags & ARITH).to.equal(arithFlags(acc, dest, size, true));
    });
  }

  it('on a memory destination writes the source when equal and the old value back when not', () => {
    watched.fill(0);
    watched.set(le32(0x11223344), 0x10);
    // cmpxchg [WATCHED+0x10],ecx, EAX different: a failed compare still writes the operand back
    writes.length = 0;
    let h = run32([0x0f, 0xb1, 0x0d, ...le32(WATCHED + 0x10)], [[Reg.EAX, 5], [Reg.ECX, 0xcafef00d]]);
    expect(h.get(Reg.EAX)).to.equal(0x11223344);
    expect(h.eflags & ZF).to.equal(0);
    expect(writes).to.deep.equal([[WATCHED + 0x10, 0x44], [WATCHED + 0x11, 0x33], [WATCHED + 0x12, 0x22], [WATCHED + 0x13, 0x11]]);
    // now EAX holds the value: the compare succeeds
    writes.length = 0;
    h = run32([0xf0, 0x0f, 0xb1, 0x0d, ...le32(WATCHED + 0x10)], [[Reg.ECX, 0xcafef00d]]);
    expect(h.eflags & ZF).to.equal(ZF);
    expect(h.mem.read32(WATCHED + 0x10) >>> 0).to.equal(0xcafef00d);
    expect(h.get(Reg.EAX)).to.equal(0x11223344);
    expect(writes).to.have.length(4);
  });
});

describe('CMPXCHG8B (core/cpu/ops/atomic.ts)', () => {
  it('equal: stores ECX:EBX and sets ZF, the other flags unchanged', () => {
    shared.load(0x2000, [...le32(0x89abcdef), ...le32(0x01234567)]);
    // cmpxchg8b [0x2000]
    const h = run32([0x0f, 0xc7, 0x0d, 0x00, 0x20, 0x00, 0x00],
      [[Reg.EAX, 0x89abcdef], [Reg.EDX, 0x01234567], [Reg.EBX, 0xaaaabbbb], [Reg.ECX, 0xccccdddd]], CF | SF);
    expect(h.read32(0x2000)).to.equal(0xaaaabbbb);
    expect(h.read32(0x2004)).to.equal(0xccccdddd);
    expect(h.get(Reg.EAX)).to.equal(0x89abcdef);
    expect(h.get(Reg.EDX)).to.equal(0x01234567);
    expect(h.eflags & ARITH).to.equal(CF | SF | ZF);
  });

  it('unequal (even in one half): loads EDX:EAX, clears ZF and writes the operand back unchanged', () => {
    watched.fill(0);
    watched.set([...le32(0x89abcdef), ...le32(0x01234567)], 0x20);
    writes.length = 0;
    const h = run32([0xf0, 0x0f, 0xc7, 0x0d, ...le32(WATCHED + 0x20)],
      [[Reg.EAX, 0x89abcdef], [Reg.EDX, 0x01234568], [Reg.EBX, 1], [Reg.ECX, 2]], ZF | OF);
    expect(h.get(Reg.EAX)).to.equal(0x89abcdef);
    expect(h.get(Reg.EDX)).to.equal(0x01234567);
    expect(h.eflags & ARITH).to.equal(OF);
    expect(writes.map(([, v]) => v)).to.deep.equal([0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01]);
  });

  it('has no register form, and LOCK needs a memory destination: both raise #UD', () => {
    for (const code of [[0x0f, 0xc7, 0xc8], [0xf0, 0x0f, 0xc1, 0xc8]]) {
      const h = new CpuHarness().realMode([...code, 0xf4]);
      h.load(6 * 4, [0x00, 0x30, 0x00, 0x00]).load(0x3000, [0xf4]);
      h.run();
      expect(h.eip, code.map((b) => b.toString(16)).join(' ')).to.equal(0x3001);
      expect(h.read16(0x8000 - 6)).to.equal(0x1000);
    }
  });
});
