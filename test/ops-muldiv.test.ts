import { expect } from 'chai';
import { AF, CF, OF, PF, SF, ZF } from '../core/cpu/flags.js';
import { mulHighSigned, mulHighUnsigned } from '../core/cpu/ops/muldiv.js';
import { CpuHarness, Reg, S } from './support/cpu-harness.js';

const ARITH = OF | SF | ZF | AF | PF | CF;
const CODE = 0x1000, DE_HANDLER = 0x3000;

/**
 * Real mode (the operand-size prefix 66 selects 32-bit forms) with #DE pointing at a HLT at
 * 0000:3000, shared by every run.
 */
const real = new CpuHarness().realMode([0xf4], CODE);
real.load(0, [DE_HANDLER & 0xff, DE_HANDLER >> 8, 0, 0]).load(DE_HANDLER, [0xf4]);

interface Outcome { h: CpuHarness; faulted: boolean }

function run(code: number[], regs: [Reg, number][], flags = 0): Outcome {
  const h = real;
  h.load(CODE, [...code, 0xf4]);
  h.cpu.st[S.EIP] = CODE;
  h.cpu.st[S.HALTED] = 0;
  h.set(Reg.ESP, 0x8000);
  for (const [r, v] of regs) h.set(r, v);
  h.cpu.setEflags(flags, ARITH);
  h.run();
  const faulted = h.eip === DE_HANDLER + 1;
  if (faulted) expect(h.read16(0x8000 - 6), 'pushed IP is the faulting instruction').to.equal(CODE);
  return { h, faulted };
}

/** Deterministic xorshift32, so failures reproduce. */
function random(seed: number): () => number {
  let x = seed;
  return () => { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; return x >>> 0; };
}

/** Interesting 32-bit values plus random ones. */
function samples(seed: number, count: number): number[] {
  const next = random(seed);
  const edges = [0, 1, 2, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0x80000001, 0xfffffffe, 0xffffffff];
  return [...edges, ...Array.from({ length: count }, next), ...Array.from({ length: count }, () => next() >>> (next() & 31))];
}

function parity(v: number): number {
  let bits = v & 0xff;
  bits ^= bits >> 4; bits ^= bits >> 2; bits ^= bits >> 1;
  return (bits & 1) === 0 ? PF : 0;
}

/** The flags our multiplications leave: SF/ZF/PF from the low half, AF = 0, CF = OF = overflow. */
function mulFlags(low: bigint, size: number, overflow: boolean): number {
  const v = Number(low);
  return (v === 0 ? ZF : 0) | (Number(low >> BigInt(size - 1)) & 1 ? SF : 0) | parity(v) | (overflow ? CF | OF : 0);
}

const u = (v: number, size: number): bigint => BigInt.asUintN(size, BigInt(v));
const s = (v: number, size: number): bigint => BigInt.asIntN(size, BigInt(v));
const PREFIX: Record<number, number[]> = { 8: [], 16: [], 32: [0x66] };
const GROUP3 = (size: number): number => (size === 8 ? 0xf6 : 0xf7);

describe('exact 32x32 -> 64 products (core/cpu/ops/muldiv.ts)', () => {
  it('mulHighUnsigned and mulHighSigned agree with BigInt', () => {
    const values = samples(0x1234567, 100);
    for (const a of values) {
      for (const b of values.slice(0, 40)) {
        expect(mulHighUnsigned(a, b) >>> 0, `${a} * ${b}`).to.equal(Number((u(a, 32) * u(b, 32)) >> 32n));
        expect(mulHighSigned(a | 0, b | 0), `${a | 0} * ${b | 0}`).to.equal(Number(BigInt.asIntN(32, (s(a, 32) * s(b, 32)) >> 32n)));
      }
    }
  });
});

describe('MUL and one-operand IMUL (core/cpu/ops/muldiv.ts)', () => {
  for (const size of [8, 16, 32]) {
    it(`${size}-bit: product in AX / DX:AX / EDX:EAX, CF = OF = upper half significant`, () => {
      const values = samples(size * 7919, 40);
      for (const signed of [false, true]) {
        // mul/imul cl|cx|ecx: F6/F7 /4 or /5 with ModRM E1 / E9
        const code = [...PREFIX[size], GROUP3(size), signed ? 0xe9 : 0xe1];
        for (const a of values) {
          for (const b of values.slice(0, 20)) {
            const { h } = run(code, [[Reg.EAX, a], [Reg.ECX, b], [Reg.EDX, 0x5a5a5a5a]], AF);
            const product = signed ? s(a, size) * s(b, size) : u(a, size) * u(b, size);
            const low = BigInt.asUintN(size, product);
            const high = BigInt.asUintN(size, product >> BigInt(size));
            const overflow = signed ? product !== BigInt.asIntN(size, product) : high !== 0n;
            const what = `${signed ? 'imul' : 'mul'}${size} ${a.toString(16)} * ${b.toString(16)}`;
            if (size === 8) {
              expect(h.get(Reg.EAX), what).to.equal(((a & 0xffff0000) | Number(BigInt.asUintN(16, product))) >>> 0);
            } else {
              const keep = size === 16 ? 0xffff0000 : 0;
              expect(h.get(Reg.EAX), what).to.equal(((a & keep) | Number(low)) >>> 0);
              expect(h.get(Reg.EDX), what).to.equal(((0x5a5a5a5a & keep) | Number(high)) >>> 0);
            }
            expect(h.eflags & ARITH, what).to.equal(mulFlags(low, size, overflow));
          }
        }
      }
    });
  }

  it('multiplies by a memory operand', () => {
    real.load(0x2000, [0x00, 0x00, 0x01, 0x00]);
    // mul dword [0x2000] (66 F7 26 00 20): 0x10000 * 0x10000
    const { h } = run([0x66, 0xf7, 0x26, 0x00, 0x20], [[Reg.EAX, 0x10000]]);
    expect(h.get(Reg.EAX)).to.equal(0);
    expect(h.get(Reg.EDX)).to.equal(1);
    expect(h.eflags & (CF | OF | ZF)).to.equal(CF | OF | ZF);
  });
});

describe('two- and three-operand IMUL (core/cpu/ops/muldiv.ts)', () => {
  for (const size of [16, 32]) {
    it(`${size}-bit: truncated product, CF = OF = it did not fit`, () => {
      const values = samples(size * 104729, 30);
      const prefix = PREFIX[size];
      for (const a of values) {
        for (const b of values.slice(0, 25)) {
          const product = s(a, size) * s(b, size);
          const low = BigInt.asUintN(size, product);
          const overflow = product !== BigInt.asIntN(size, product);
          const keep = size === 16 ? 0xffff0000 : 0;
          const what = `imul${size} ${a.toString(16)} * ${b.toString(16)}`;
          // imul eax,ecx (0F AF C1)
          let { h } = run([...prefix, 0x0f, 0xaf, 0xc1], [[Reg.EAX, a], [Reg.ECX, b]]);
          expect(h.get(Reg.EAX), what).to.equal(((a & keep) | Number(low)) >>> 0);
          expect(h.eflags & ARITH, what).to.equal(mulFlags(low, size, overflow));
          // imul ebx,ecx,imm (69 D9 iz): the immediate is b
          const imm = size === 32 ? [b & 0xff, (b >>> 8) & 0xff, (b >>> 16) & 0xff, b >>> 24] : [b & 0xff, (b >>> 8) & 0xff];
          ({ h } = run([...prefix, 0x69, 0xd9, ...imm], [[Reg.ECX, a], [Reg.EBX, 0xdddddddd]]));
          expect(h.get(Reg.EBX), what).to.equal(((0xdddddddd & keep) | Number(low)) >>> 0);
          expect(h.eflags & ARITH, what).to.equal(mulFlags(low, size, overflow));
        }
      }
    });
  }

  it('IMUL Gv,Ev,Ib sign-extends the byte immediate', () => {
    // imul ax,cx,-3 (6B C1 FD): 1000 * -3 = -3000
    let { h } = run([0x6b, 0xc1, 0xfd], [[Reg.ECX, 1000]]);
    expect(h.get(Reg.EAX) & 0xffff).to.equal(0x10000 - 3000);
    expect(h.eflags & (CF | OF | SF)).to.equal(SF);
    // imul eax,ecx,0x7f with ECX = 0x02000000: overflows 32 bits
    ({ h } = run([0x66, 0x6b, 0xc1, 0x7f], [[Reg.ECX, 0x02000000]]));
    expect(h.get(Reg.EAX)).to.equal(0xfe000000);
    expect(h.eflags & (CF | OF)).to.equal(CF | OF);
  });

  it('IMUL Gv,Ev reads a memory source', () => {
    real.load(0x2000, [0xfe, 0xff]);
    // imul ax,[0x2000] (0F AF 06 00 20): 7 * -2
    const { h } = run([0x0f, 0xaf, 0x06, 0x00, 0x20], [[Reg.EAX, 7]]);
    expect(h.get(Reg.EAX) & 0xffff).to.equal(0x10000 - 14);
  });
});

describe('DIV and IDIV (core/cpu/ops/muldiv.ts)', () => {
  for (const size of [8, 16, 32]) {
    it(`${size}-bit: quotient and remainder, #DE on zero divisors and quotients that do not fit`, () => {
      const values = samples(size * 31337, 12);
      const next = random(size);
      for (const signed of [false, true]) {
        // div/idiv ecx: F6/F7 /6 or /7 with ModRM F1 / F9
        const code = [...PREFIX[size], GROUP3(size), signed ? 0xf9 : 0xf1];
        for (const d of [...values.slice(0, 15), ...values.slice(-5), 0]) {
          for (const a of values) {
            // Dividends of every width: the upper half small (no overflow) and random (usually overflow).
            for (const upper of [next() % Math.max(1, Number(u(d, size))), next(), 0, 0xffffffff]) {
              const eax = size === 8 ? ((upper & 0xff) << 8) | (a & 0xff) : a;
              const edx = size === 8 ? 0x77777777 : upper;
              const dividend = size === 8
                ? (signed ? s(eax, 16) : u(eax, 16))
                : signed ? BigInt.asIntN(2 * size, (u(edx, size) << BigInt(size)) | u(eax, size))
                  : (u(edx, size) << BigInt(size)) | u(eax, size);
              const divisor = signed ? s(d, size) : u(d, size);
              const { h, faulted } = run(code, [[Reg.EAX, eax], [Reg.EDX, edx], [Reg.ECX, d]]);
              const what = `${signed ? 'idiv' : 'div'}${size} ${dividend} / ${divisor}`;
              const q = divisor === 0n ? 0n : dividend / divisor;
              const fits = divisor !== 0n && (signed ? q === BigInt.asIntN(size, q) : q === BigInt.asUintN(size, q));
              expect(faulted, what).to.equal(!fits);
              if (!fits) {
                expect(h.get(Reg.EAX), what).to.equal(eax >>> 0);
                expect(h.get(Reg.EDX), what).to.equal(edx >>> 0);
                continue;
              }
              const r = dividend % divisor;
              const qBits = Number(BigInt.asUintN(size, q)), rBits = Number(BigInt.asUintN(size, r));
              if (size === 8) {
                expect(h.get(Reg.EAX) & 0xffff, what).to.equal((rBits << 8) | qBits);
              } else {
                const keep = size === 16 ? 0xffff0000 : 0;
                expect(h.get(Reg.EAX), what).to.equal(((eax & keep) | qBits) >>> 0);
                expect(h.get(Reg.EDX), what).to.equal(((edx & keep) | rBits) >>> 0);
              }
            }
          }
        }
      }
    });
  }

  it('IDIV accepts the most negative quotient and rejects one past it', () => {
    // idiv cl: -256 / 2 = -128
    let o = run([0xf6, 0xf9], [[Reg.EAX, 0xff00], [Reg.ECX, 2]]);
    expect(o.faulted).to.equal(false);
    expect(o.h.get(Reg.EAX) & 0xffff).to.equal(0x0080);
    // idiv cl: 256 / -2 = -128
    o = run([0xf6, 0xf9], [[Reg.EAX, 0x0100], [Reg.ECX, 0xfe]]);
    expect(o.h.get(Reg.EAX) & 0xffff).to.equal(0x0080);
    // idiv cl: 256 / 2 = 128 does not fit
    expect(run([0xf6, 0xf9], [[Reg.EAX, 0x0100], [Reg.ECX, 2]]).faulted).to.equal(true);
    // idiv ecx: -2^31 * 1 / 1 and -2^63 / -1
    o = run([0x66, 0xf7, 0xf9], [[Reg.EAX, 0x80000000], [Reg.EDX, 0xffffffff], [Reg.ECX, 1]]);
    expect(o.h.get(Reg.EAX)).to.equal(0x80000000);
    expect(o.h.get(Reg.EDX)).to.equal(0);
    expect(run([0x66, 0xf7, 0xf9], [[Reg.EAX, 0], [Reg.EDX, 0x80000000], [Reg.ECX, 0xffffffff]]).faulted).to.equal(true);
  });

  it('the remainder takes the sign of the dividend (SDM: -7 / 2 = -3 rem -1)', () => {
    // idiv cx: DX:AX = -7, CX = 2
    const { h } = run([0xf7, 0xf9], [[Reg.EAX, 0xfff9], [Reg.EDX, 0xffff], [Reg.ECX, 2]]);
    expect(h.get(Reg.EAX) & 0xffff).to.equal(0xfffd);
    expect(h.get(Reg.EDX) & 0xffff).to.equal(0xffff);
  });

  it('divides by a memory operand and leaves the flags alone', () => {
    real.load(0x2000, [0x0a]);
    // div byte [0x2000] (F6 36 00 20): 255 / 10
    const { h } = run([0xf6, 0x36, 0x00, 0x20], [[Reg.EAX, 255]], ZF | CF);
    expect(h.get(Reg.EAX) & 0xffff).to.equal(0x0519);
    expect(h.eflags & ARITH).to.equal(ZF | CF);
  });
});
