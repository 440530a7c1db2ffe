import { expect } from 'chai';
import { AF, CF, OF, PF, SF, ZF } from '../core/cpu/flags.js';
import { CpuHarness, Reg, S } from './support/cpu-harness.js';

const ARITH = OF | SF | ZF | AF | PF | CF;
const CODE32 = 0x10000;

/** Group-2 members by ModRM reg field (6 is the SAL alias of SHL). */
const KINDS = ['ROL', 'ROR', 'RCL', 'RCR', 'SHL', 'SHR', 'SAL', 'SAR'] as const;
type Kind = typeof KINDS[number];

function parity(v: number): number {
  let bits = v & 0xff;
  bits ^= bits >> 4; bits ^= bits >> 2; bits ^= bits >> 1;
  return (bits & 1) === 0 ? PF : 0;
}

function resultFlags(v: number, size: number): number {
  return (v === 0 ? ZF : 0) | ((v >>> (size - 1)) & 1 ? SF : 0) | parity(v);
}

/**
 * The SDM's one-bit-at-a-time definition. OF for counts above 1 is the count-1 formula applied
 * to the last step, as the P6 (and the 80286 vectors) show. Returns undefined when nothing
 * changes (a masked count of 0); otherwise the result and the flags the instruction writes.
 */
function reference(kind: Kind, size: number, value: number, count: number, flagsIn: number): { value: number; flags: number } | undefined {
  let c = count & 31;
  if (c === 0) return undefined;
  if (kind === 'RCL' || kind === 'RCR') c %= size === 32 ? 32 : size + 1;
  if (kind === 'ROL' || kind === 'ROR') c %= size;
  const bits = BigInt(size);
  const mask = (1n << bits) - 1n;
  const top = 1n << (bits - 1n);
  let v = BigInt(value >>> 0) & mask;
  let cf = BigInt(flagsIn & CF);
  let beforeLast = v;
  for (let k = 0; k < c; k++) {
    beforeLast = v;
    const msb = v >> (bits - 1n), lsb = v & 1n;
    switch (kind) {
      case 'ROL': v = ((v << 1n) | msb) & mask; break;
      case 'ROR': v = (v >> 1n) | (lsb << (bits - 1n)); break;
      case 'RCL': v = ((v << 1n) | cf) & mask; cf = msb; break;
      case 'RCR': v = (v >> 1n) | (cf << (bits - 1n)); cf = lsb; break;
      case 'SHL': case 'SAL': v = (v << 1n) & mask; cf = msb; break;
      case 'SHR': v >>= 1n; cf = lsb; break;
      case 'SAR': v = (v >> 1n) | (v & top); cf = lsb; break;
    }
  }
  // A rotation by a multiple of the size still sets CF from the result.
  if (kind === 'ROL') cf = v & 1n;
  if (kind === 'ROR') cf = v >> (bits - 1n);
  const msb = Number(v >> (bits - 1n)), second = Number((v >> (bits - 2n)) & 1n), carry = Number(cf);
  let of: number;
  if (kind === 'ROL' || kind === 'RCL' || kind === 'SHL' || kind === 'SAL') of = msb ^ carry;
  else if (kind === 'ROR' || kind === 'RCR') of = msb ^ second;
  else if (kind === 'SHR') of = Number(beforeLast >> (bits - 1n));
  else of = 0;
  const result = Number(v);
  const rotate = kind === 'ROL' || kind === 'ROR' || kind === 'RCL' || kind === 'RCR';
  const written = (carry ? CF : 0) | (of ? OF : 0);
  const flags = rotate ? (flagsIn & ~(CF | OF)) | written : written | resultFlags(result, size);
  return { value: result, flags };
}

/** One harness shared by all runs (building one costs milliseconds): place code, set registers and flags, run to the HLT. */
const shared = new CpuHarness().flat32([0xf4], CODE32);

class Runner {
  constructor(private readonly code: number[]) {}
  run(regs: [Reg, number][], flags: number): CpuHarness {
    const h = shared;
    h.load(CODE32, [...this.code, 0xf4]);
    h.cpu.st[S.EIP] = CODE32;
    h.cpu.st[S.HALTED] = 0;
    for (const [r, v] of regs) h.set(r, v);
    h.cpu.setEflags(flags, ARITH);
    h.run();
    return h;
  }
}

const SIZES = [8, 16, 32];
const SAMPLES = [0, 1, 0x80, 0x7f, 0x8000, 0x7fff, 0x80000000, 0x7fffffff, 0xffffffff, 0x12345678, 0xa5c3e10f, 0x0f0f0f0f];
const COUNTS = [...Array.from({ length: 34 }, (_, k) => k), 63, 64, 255];

/** `D2/D3 /reg` on AL/AX/EAX by CL, with the operand-size prefix for 16 bits. */
function byCl(size: number, reg: number): number[] {
  const modrm = 0xc0 | (reg << 3);
  return size === 8 ? [0xd2, modrm] : size === 16 ? [0x66, 0xd3, modrm] : [0xd3, modrm];
}

describe('shifts and rotates (core/cpu/ops/shift.ts)', () => {
  for (const size of SIZES) {
    it(`match the SDM bit-by-bit definition for every group-2 member, ${size}-bit, all counts by CL`, () => {
      const mask = size === 32 ? 0xffffffff : (1 << size) - 1;
      KINDS.forEach((kind, reg) => {
        const runner = new Runner(byCl(size, reg));
        for (const sample of SAMPLES) {
          for (const count of COUNTS) {
            for (const flagsIn of [0, CF | ZF | PF, OF | SF | AF]) {
              const value = (sample & mask) >>> 0;
              // The upper bits of EAX must survive the 8- and 16-bit forms.
              const start = size === 32 ? value : ((0xdead0000 & ~mask) | value) >>> 0;
              const h = runner.run([[Reg.EAX, start], [Reg.ECX, count]], flagsIn);
              const want = reference(kind, size, value, count, flagsIn);
              const what = `${kind} ${size} 0x${value.toString(16)} by ${count}, flags 0x${flagsIn.toString(16)}`;
              const expectedEax = want === undefined ? start : size === 32 ? want.value : ((start & ~mask) | want.value) >>> 0;
              expect(h.get(Reg.EAX), what).to.equal(expectedEax >>> 0);
              expect(h.eflags & ARITH, what).to.equal(want === undefined ? flagsIn : want.flags);
            }
          }
        }
      });
    });
  }

  it('shifts by 1 (D0/D1) and by an immediate (C0/C1) as by CL', () => {
    let h = new Runner([0xd0, 0xe0]).run([[Reg.EAX, 0x81]], 0);
    expect(h.get(Reg.EAX) & 0xff).to.equal(0x02);
    expect(h.eflags & ARITH).to.equal(CF | OF);
    h = new Runner([0xc1, 0xe8, 0x24]).run([[Reg.EAX, 0xf0000000]], 0); // shr eax,36 -> count 4
    expect(h.get(Reg.EAX)).to.equal(0x0f000000);
    expect(h.eflags & ARITH).to.equal(parity(0));
    h = new Runner([0x66, 0xc1, 0xf8, 0x0f]).run([[Reg.EAX, 0x12348000]], 0); // sar ax,15
    expect(h.get(Reg.EAX)).to.equal(0x1234ffff);
    expect(h.eflags & ARITH).to.equal(SF | PF);
    h = new Runner([0xd1, 0xd8]).run([[Reg.EAX, 0x00000001]], CF); // rcr eax,1
    expect(h.get(Reg.EAX)).to.equal(0x80000000);
    expect(h.eflags & ARITH).to.equal(CF | OF);
  });

  it('read, shift and write a memory operand (real mode, 16-bit addressing)', () => {
    // shl word [bx],1
    const h = new CpuHarness().realMode([0xd1, 0x27, 0xf4]);
    h.set(Reg.EBX, 0x2000).load(0x2000, [0x01, 0x80]);
    h.run();
    expect(h.read16(0x2000)).to.equal(0x0002);
    expect(h.eflags & (CF | OF | ZF)).to.equal(CF | OF);
  });

  it('write a 32-bit memory operand: sar dword [0x2000],4 and rol byte [0x2004],cl', () => {
    const h = new CpuHarness().flat32([0xc1, 0x3d, 0x00, 0x20, 0x00, 0x00, 0x04, 0xd2, 0x05, 0x04, 0x20, 0x00, 0x00, 0xf4]);
    h.load(0x2000, [0x00, 0x00, 0x00, 0x80, 0x96]).set(Reg.ECX, 3);
    h.run();
    expect(h.read32(0x2000)).to.equal(0xf8000000);
    expect(h.read8(0x2004)).to.equal(0xb4); // 1001_0110 rol 3 = 1011_0100
    expect(h.eflags & CF).to.equal(0);
  });

  it('still reads a memory operand with a count of 0, so the access can fault', () => {
    // shl word [0xffff],cl with CL = 0: the word crosses the segment limit -> #GP, delivered through the IVT.
    const h = new CpuHarness().realMode([0xd3, 0x26, 0xff, 0xff, 0xf4]);
    h.load(13 * 4, [0x00, 0x30, 0x00, 0x00]).load(0x3000, [0xf4]).set(Reg.ECX, 0);
    h.run();
    expect(h.eip).to.equal(0x3001);
    expect(h.read16(0x8000 - 6)).to.equal(0x1000); // pushed IP: the faulting instruction
  });
});

/** SHLD/SHRD through the concatenation dest:src:dest (the P6 model; only 16-bit counts above 16 reach the second dest). */
function doubleReference(left: boolean, size: number, dest: number, src: number, count: number): { value: number; flags: number } | undefined {
  const c = count & 31;
  if (c === 0) return undefined;
  const bits = BigInt(size), n = BigInt(c);
  const mask = (1n << bits) - 1n;
  const d = BigInt(dest >>> 0) & mask, s = BigInt(src >>> 0) & mask;
  const chain = (d << (2n * bits)) | (s << bits) | d;
  const v = left ? (chain >> (2n * bits - n)) & mask : (chain >> n) & mask;
  const cf = Number(left ? (chain >> (3n * bits - n)) & 1n : (chain >> (n - 1n)) & 1n);
  const msb = Number(v >> (bits - 1n)), second = Number((v >> (bits - 2n)) & 1n);
  const of = left ? msb ^ cf : msb ^ second;
  const value = Number(v);
  return { value, flags: (cf ? CF : 0) | (of ? OF : 0) | resultFlags(value, size) };
}

describe('double shifts SHLD/SHRD (core/cpu/ops/shift.ts)', () => {
  for (const size of [16, 32]) {
    for (const left of [true, false]) {
      const name = left ? 'SHLD' : 'SHRD';
      it(`${name} ${size}-bit matches the concatenation model for counts 0-40 by CL and by immediate`, () => {
        const prefix = size === 16 ? [0x66] : [];
        const mask = size === 32 ? 0xffffffff : 0xffff;
        // shxd eax,ebx,cl = 0F A5/AD D8; shxd eax,ebx,imm8 = 0F A4/AC D8 ib
        const byCl = new Runner([...prefix, 0x0f, left ? 0xa5 : 0xad, 0xd8]);
        for (const [dest, src] of [[0x12345678, 0x9abcdef0], [0x80000001, 0x00000003], [0xffff0000, 0x0000ffff], [0, 0]]) {
          for (let count = 0; count <= 40; count++) {
            const immediate = new Runner([...prefix, 0x0f, left ? 0xa4 : 0xac, 0xd8, count]);
            for (const runner of [byCl, immediate]) {
              const flagsIn = SF | AF | CF;
              const h = runner.run([[Reg.EAX, dest], [Reg.EBX, src], [Reg.ECX, count]], flagsIn);
              const want = doubleReference(left, size, dest, src, count);
              const what = `${name} ${size} 0x${dest.toString(16)},0x${src.toString(16)} by ${count}`;
              const expected = want === undefined ? dest : ((dest & ~mask) | want.value) >>> 0;
              expect(h.get(Reg.EAX), what).to.equal(expected >>> 0);
              expect(h.get(Reg.EBX), what).to.equal(src >>> 0);
              expect(h.eflags & ARITH, what).to.equal(want === undefined ? flagsIn : want.flags);
            }
          }
        }
      });
    }
  }

  it('SHLD with a memory destination: 0x12345678,0x9ABCDEF0 by 8 gives 0x3456789A', () => {
    // shld [0x2000],ebx,8
    const h = new CpuHarness().flat32([0x0f, 0xa4, 0x1d, 0x00, 0x20, 0x00, 0x00, 0x08, 0xf4]);
    h.load(0x2000, [0x78, 0x56, 0x34, 0x12]).set(Reg.EBX, 0x9abcdef0);
    h.run();
    expect(h.read32(0x2000)).to.equal(0x3456789a);
    expect(h.eflags & CF).to.equal(0);
  });

  it('SHRD 16-bit by 20 takes bits of the destination again (P6 behaviour for counts above 16)', () => {
    // shrd ax,bx,20: dest:src:dest = 0x1234_ABCD_1234 >> 20 -> low word 0x4ABC
    const h = new Runner([0x66, 0x0f, 0xac, 0xd8, 20]).run([[Reg.EAX, 0x1234], [Reg.EBX, 0xabcd]], 0);
    expect(h.get(Reg.EAX) & 0xffff).to.equal(0x4abc);
    expect(h.eflags & CF).to.equal(CF); // bit 19 of the chain = bit 3 of 0xABCD
  });
});
