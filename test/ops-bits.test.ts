import { expect } from 'chai';
import { AF, CF, OF, PF, SF, ZF } from '../core/cpu/flags.js';
import { CpuHarness, Reg, S } from './support/cpu-harness.js';
import { Vec } from '../core/cpu/faults.js';
import { ringMachine, runToFault, Sel } from './support/protected-mode.js';

const ARITH = OF | SF | ZF | AF | PF | CF;
const CODE32 = 0x10000;
const shared = new CpuHarness().flat32([0xf4], CODE32);

/** Runs `code` + HLT in flat 32-bit mode on a shared harness with the given registers and arithmetic flags. */
function run32(code: number[], regs: [Reg, number][] = [], flags = 0): CpuHarness {
  const h = shared;
  h.load(CODE32, [...code, 0xf4]);
  h.cpu.st[S.EIP] = CODE32;
  h.cpu.st[S.HALTED] = 0;
  for (let r = Reg.EAX; r <= Reg.EDI; r++) if (r !== Reg.ESP) h.set(r, 0);
  for (const [r, v] of regs) h.set(r, v);
  h.cpu.setEflags(flags, ARITH);
  h.run();
  return h;
}

/** Real mode with #GP (vector 13) pointing at a HLT at 0000:3000. */
function realModeWithGpHandler(code: number[]): CpuHarness {
  const h = new CpuHarness().realMode([...code, 0xf4]);
  h.load(13 * 4, [0x00, 0x30, 0x00, 0x00]).load(0x3000, [0xf4]);
  return h;
}

function parity(v: number): number {
  let bits = v & 0xff;
  bits ^= bits >> 4; bits ^= bits >> 2; bits ^= bits >> 1;
  return (bits & 1) === 0 ? PF : 0;
}

describe('BT, BTS, BTR, BTC (core/cpu/ops/bits.ts)', () => {
  // ModRM reg field of 0F BA /n and the 0F xx opcode of the register-offset form.
  const OPS = [
    { name: 'BT', group: 4, opcode: 0xa3, apply: (v: number) => v },
    { name: 'BTS', group: 5, opcode: 0xab, apply: (v: number, m: number) => v | m },
    { name: 'BTR', group: 6, opcode: 0xb3, apply: (v: number, m: number) => v & ~m },
    { name: 'BTC', group: 7, opcode: 0xbb, apply: (v: number, m: number) => v ^ m },
  ];

  for (const op of OPS) {
    it(`${op.name} on a register takes the offset modulo the operand size (register and immediate offsets)`, () => {
      for (const [value, offset] of [[0x00000010, 4], [0x00000010, 36], [0x80000000, 31], [0x80000000, -1], [0x12345678, 0], [0x12345678, 3]]) {
        const bit = offset & 31;
        const mask = (1 << bit) >>> 0;
        const flagsIn = ZF | SF | OF | AF | PF;
        // op eax,ecx (0F xx C8) and op eax,imm8 (0F BA /n ib)
        for (const code of [[0x0f, op.opcode, 0xc8], [0x0f, 0xba, 0xc0 | (op.group << 3), offset & 0xff]]) {
          const h = run32(code, [[Reg.EAX, value], [Reg.ECX, offset]], flagsIn);
          expect(h.get(Reg.EAX), `${op.name} ${value.toString(16)} bit ${offset}`).to.equal(op.apply(value, mask) >>> 0);
          expect(h.eflags & ARITH).to.equal(flagsIn | ((value & mask) !== 0 ? CF : 0)); // only CF changes
        }
      }
      // 16-bit: offset modulo 16; the upper half of EAX is untouched.
      const h = run32([0x66, 0x0f, op.opcode, 0xc8], [[Reg.EAX, 0xffff8001], [Reg.ECX, 0x1f]]);
      expect(h.get(Reg.EAX)).to.equal((0xffff0000 | op.apply(0x8001, 0x8000)) >>> 0);
      expect(h.eflags & CF).to.equal(CF);
    });
  }

  it('a register offset with a memory operand addresses memory beyond it, signed (32-bit)', () => {
    const h = shared;
    h.load(0x1ffc, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    // bts [0x2000],ecx with ECX = 35: dword at 0x2004, bit 3
    run32([0x0f, 0xab, 0x0d, 0x00, 0x20, 0x00, 0x00], [[Reg.ECX, 35]]);
    expect(h.read32(0x2004)).to.equal(0x8);
    expect(h.eflags & CF).to.equal(0);
    // bts again: now CF = 1
    run32([0x0f, 0xab, 0x0d, 0x00, 0x20, 0x00, 0x00], [[Reg.ECX, 35]]);
    expect(h.eflags & CF).to.equal(CF);
    // btc [0x2000],ecx with ECX = -1: dword at 0x1FFC, bit 31
    run32([0x0f, 0xbb, 0x0d, 0x00, 0x20, 0x00, 0x00], [[Reg.ECX, -1]]);
    expect(h.read32(0x1ffc)).to.equal(0x80000000);
    expect(h.read32(0x2000)).to.equal(0);
    // btr [0x2000],ecx with ECX = -1 clears it again and reports it was set
    run32([0x0f, 0xb3, 0x0d, 0x00, 0x20, 0x00, 0x00], [[Reg.ECX, -1]]);
    expect(h.read32(0x1ffc)).to.equal(0);
    expect(h.eflags & CF).to.equal(CF);
  });

  it('a 16-bit register offset with a memory operand moves by (offset >> 4) * 2 bytes', () => {
    const h = shared;
    h.load(0x1ffc, [0, 0, 0, 0, 0, 0, 0, 0]);
    // bts word [0x2000],cx with CX = 0xFFEF (-17): word at 0x1FFC, bit 15
    run32([0x66, 0x0f, 0xab, 0x0d, 0x00, 0x20, 0x00, 0x00], [[Reg.ECX, 0xffef]]);
    expect(h.read16(0x1ffc)).to.equal(0x8000);
    // bt word [0x2000],cx with CX = 0x0011 (17): word at 0x2002, bit 1
    h.load(0x2002, [0x02, 0x00]);
    run32([0x66, 0x0f, 0xa3, 0x0d, 0x00, 0x20, 0x00, 0x00], [[Reg.ECX, 0x11]]);
    expect(h.eflags & CF).to.equal(CF);
  });

  it('an immediate offset with a memory operand stays within the operand', () => {
    const h = shared;
    h.load(0x2000, [0x00, 0x00, 0x00, 0x00, 0xff]);
    // bts dword [0x2000],35 -> bit 3 of the dword at 0x2000
    run32([0x0f, 0xba, 0x2d, 0x00, 0x20, 0x00, 0x00, 35]);
    expect(h.read32(0x2000)).to.equal(0x8);
    expect(h.read8(0x2004)).to.equal(0xff);
    // bt dword [0x2000],3
    run32([0x0f, 0xba, 0x25, 0x00, 0x20, 0x00, 0x00, 3]);
    expect(h.eflags & CF).to.equal(CF);
  });

  it('uses 16-bit address arithmetic with a 16-bit address size (real mode): offsets wrap in the segment', () => {
    // bt word [bx],cx with BX = 0, CX = -16: word at offset 0xFFFE
    const h = new CpuHarness().realMode([0x0f, 0xa3, 0x0f, 0xf4]);
    h.set(Reg.EBX, 0).set(Reg.ECX, 0xfff0).load(0xfffe, [0x01, 0x00]);
    h.run();
    expect(h.eflags & CF).to.equal(CF);
  });
});

describe('BSF, BSR (core/cpu/ops/bits.ts)', () => {
  it('find the lowest and highest set bit; flags as a logical result of the index, ZF = 0', () => {
    for (const [value, low, high] of [[1, 0, 0], [0x80000000, 31, 31], [0x00f0f000, 12, 23], [0xffffffff, 0, 31], [0x00010000, 16, 16]]) {
      // bsf eax,ecx / bsr eax,ecx
      let h = run32([0x0f, 0xbc, 0xc1], [[Reg.ECX, value]], ZF | CF | OF | SF | AF);
      expect(h.get(Reg.EAX)).to.equal(low);
      expect(h.eflags & ARITH).to.equal(parity(low));
      h = run32([0x0f, 0xbd, 0xc1], [[Reg.ECX, value]], ZF | CF);
      expect(h.get(Reg.EAX)).to.equal(high);
      expect(h.eflags & ARITH).to.equal(parity(high));
    }
  });

  it('with a zero source set ZF, keep the destination and the other flags', () => {
    for (const opcode of [0xbc, 0xbd]) {
      const h = run32([0x0f, opcode, 0xc1], [[Reg.EAX, 0x12345678], [Reg.ECX, 0]], CF | SF);
      expect(h.get(Reg.EAX)).to.equal(0x12345678);
      expect(h.eflags & ARITH).to.equal(CF | SF | ZF);
    }
  });

  it('16-bit forms look at the low word and write only the low word', () => {
    // bsr ax,[0x2000] with the word 0x0300 and 0xFFFF above it
    shared.load(0x2000, [0x00, 0x03, 0xff, 0xff]);
    let h = run32([0x66, 0x0f, 0xbd, 0x05, 0x00, 0x20, 0x00, 0x00], [[Reg.EAX, 0xabcd0000]]);
    expect(h.get(Reg.EAX)).to.equal(0xabcd0009);
    // bsf ax,cx with CX = 0 but ECX's upper half set: the source is zero
    h = run32([0x66, 0x0f, 0xbc, 0xc1], [[Reg.EAX, 0xabcd1234], [Reg.ECX, 0xffff0000]]);
    expect(h.get(Reg.EAX)).to.equal(0xabcd1234);
    expect(h.eflags & ZF).to.equal(ZF);
  });
});

describe('BSWAP (core/cpu/ops/bits.ts)', () => {
  it('reverses the bytes of a 32-bit register', () => {
    expect(run32([0x0f, 0xc8], [[Reg.EAX, 0x12345678]]).get(Reg.EAX)).to.equal(0x78563412);
    expect(run32([0x0f, 0xcf], [[Reg.EDI, 0x000000ff]]).get(Reg.EDI)).to.equal(0xff000000);
  });

  it('with a 16-bit operand clears the low word, as the P6 does', () => {
    const h = run32([0x66, 0x0f, 0xcb], [[Reg.EBX, 0x12345678]]);
    expect(h.get(Reg.EBX)).to.equal(0x12340000);
  });
});

/** Each condition code's meaning in terms of the flags, written out independently of flags.ts. */
const CONDITIONS: ((f: number) => boolean)[] = [
  (f) => (f & OF) !== 0, (f) => (f & OF) === 0,
  (f) => (f & CF) !== 0, (f) => (f & CF) === 0,
  (f) => (f & ZF) !== 0, (f) => (f & ZF) === 0,
  (f) => (f & (CF | ZF)) !== 0, (f) => (f & (CF | ZF)) === 0,
  (f) => (f & SF) !== 0, (f) => (f & SF) === 0,
  (f) => (f & PF) !== 0, (f) => (f & PF) === 0,
  (f) => ((f & SF) !== 0) !== ((f & OF) !== 0), (f) => ((f & SF) !== 0) === ((f & OF) !== 0),
  (f) => (f & ZF) !== 0 || ((f & SF) !== 0) !== ((f & OF) !== 0), (f) => (f & ZF) === 0 && ((f & SF) !== 0) === ((f & OF) !== 0),
];
const FLAG_CASES = [0, CF, ZF, SF, OF, PF, SF | OF, ZF | SF, CF | ZF, OF | ZF, ARITH];

describe('SETcc (core/cpu/ops/bits.ts)', () => {
  it('stores 1 or 0 in a byte register for all sixteen conditions, leaving the flags', () => {
    for (let cc = 0; cc < 16; cc++) {
      for (const flags of FLAG_CASES) {
        // setcc bl
        const h = run32([0x0f, 0x90 + cc, 0xc3], [[Reg.EBX, 0xaaaaaaaa]], flags);
        const want = CONDITIONS[cc](flags) ? 1 : 0;
        expect(h.get(Reg.EBX), `cc ${cc} flags ${flags.toString(16)}`).to.equal((0xaaaaaa00 | want) >>> 0);
        expect(h.eflags & ARITH).to.equal(flags);
      }
    }
  });

  it('stores into memory and into high byte registers', () => {
    shared.load(0x2000, [0x55, 0x55]);
    // sete [0x2000]
    run32([0x0f, 0x94, 0x05, 0x00, 0x20, 0x00, 0x00], [], ZF);
    expect(shared.read16(0x2000)).to.equal(0x5501);
    // setne ah
    const h = run32([0x0f, 0x95, 0xc4], [[Reg.EAX, 0xffffffff]], 0);
    expect(h.get(Reg.EAX)).to.equal(0xffff01ff);
  });
});

describe('CMOVcc (core/cpu/ops/bits.ts)', () => {
  it('moves when the condition holds and leaves the destination otherwise, for all sixteen conditions', () => {
    for (let cc = 0; cc < 16; cc++) {
      for (const flags of FLAG_CASES) {
        // cmovcc eax,ecx / cmovcc ax,cx
        let h = run32([0x0f, 0x40 + cc, 0xc1], [[Reg.EAX, 0x11111111], [Reg.ECX, 0x22222222]], flags);
        const taken = CONDITIONS[cc](flags);
        expect(h.get(Reg.EAX), `cc ${cc} flags ${flags.toString(16)}`).to.equal(taken ? 0x22222222 : 0x11111111);
        expect(h.eflags & ARITH).to.equal(flags);
        h = run32([0x66, 0x0f, 0x40 + cc, 0xc1], [[Reg.EAX, 0x11111111], [Reg.ECX, 0x22222222]], flags);
        expect(h.get(Reg.EAX)).to.equal(taken ? 0x11112222 : 0x11111111);
      }
    }
  });

  it('loads from memory', () => {
    shared.load(0x2000, [0x78, 0x56, 0x34, 0x12]);
    // cmovz eax,[0x2000]
    const h = run32([0x0f, 0x44, 0x05, 0x00, 0x20, 0x00, 0x00], [], ZF);
    expect(h.get(Reg.EAX)).to.equal(0x12345678);
  });

  it('reads the source even when the condition is false, so a bad operand faults', () => {
    // cmovz ax,[0xffff] with ZF = 0: the word crosses the 64 KiB limit -> #GP
    const h = realModeWithGpHandler([0x0f, 0x44, 0x06, 0xff, 0xff]);
    h.set(Reg.EAX, 0x1234);
    h.run();
    expect(h.eip).to.equal(0x3001);
    expect(h.read16(0x8000 - 6)).to.equal(0x1000);
    expect(h.get(Reg.EAX)).to.equal(0x1234);
  });
});

describe('BTS/BTR/BTC on memory write through the segment', () => {
  it('a read-only data segment: BT reads through it, BTS, BTR and BTC raise #GP(0) at themselves, memory unchanged', () => {
    // mov ax, READONLY0 / mov es, ax / bt dword es:[0x30000], 3 / b?? dword es:[0x30000], 3 / hlt
    for (const reg of [5, 6, 7]) {
      const bitTest = (r: number): number[] => [0x26, 0x0f, 0xba, (r << 3) | 5, 0, 0, 3, 0, 3];
      const h = ringMachine([0x66, 0xb8, Sel.READONLY0, 0, 0x8e, 0xc0, ...bitTest(4), ...bitTest(reg), 0xf4]);
      h.load(0x30000, [0xaa, 0, 0, 0]);
      const f = runToFault(h);
      expect([f.vector, f.errorCode, f.eip], `/${reg}`).to.deep.equal([Vec.GP, 0, 0x1000f]);
      expect(h.read32(0x30000), `/${reg}`).to.equal(0xaa);
    }
  });
});
