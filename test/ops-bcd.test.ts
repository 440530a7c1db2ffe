import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { AF, CF, OF, PF, SF, ZF } from '../core/cpu/flags.js';
import { CpuHarness, Reg, S } from './support/cpu-harness.js';

const ARITH = OF | SF | ZF | AF | PF | CF;
const CODE = 0x1000, DE_HANDLER = 0x3000;

/** Real mode with #DE pointing at a HLT at 0000:3000, shared by every run. */
const real = new CpuHarness().realMode([0xf4], CODE);
real.load(0, [DE_HANDLER & 0xff, DE_HANDLER >> 8, 0, 0]).load(DE_HANDLER, [0xf4]);

/** Runs `code` (ending in HLT) with AX and the arithmetic flags; reports whether it raised #DE. */
function run(code: number[], ax: number, flags = 0): { ax: number; flags: number; faulted: boolean } {
  const h = real;
  h.load(CODE, code);
  h.cpu.st[S.EIP] = CODE;
  h.cpu.st[S.HALTED] = 0;
  h.set(Reg.ESP, 0x8000);
  h.set(Reg.EAX, 0xabcd0000 | ax);
  h.cpu.setEflags(flags, ARITH);
  h.run();
  expect(h.get(Reg.EAX) >>> 16, 'the upper half of EAX is never touched').to.equal(0xabcd);
  return { ax: h.get(Reg.EAX) & 0xffff, flags: h.eflags & ARITH, faulted: h.eip === DE_HANDLER + 1 };
}

describe('decimal adjust instructions (core/cpu/ops/bcd.ts): SDM examples', () => {
  it('DAA after 79h + 35h = AEh gives 14h with CF and AF', () => {
    const r = run([0x27, 0xf4], 0x00ae, 0);
    expect(r.ax).to.equal(0x0014);
    expect(r.flags & (CF | AF | ZF | SF | PF)).to.equal(CF | AF | PF);
  });

  it('DAS after 35h - 47h = EEh (CF, AF set) gives 88h', () => {
    const r = run([0x2f, 0xf4], 0x00ee, CF | AF);
    expect(r.ax).to.equal(0x0088);
    expect(r.flags & (CF | AF | ZF | SF | PF)).to.equal(CF | AF | SF | PF);
  });

  it('AAA adjusts 8 + 7 = 0Fh to AX = 0105h with CF and AF; a digit <= 9 only clears the high nibble', () => {
    let r = run([0x37, 0xf4], 0x000f);
    expect(r.ax).to.equal(0x0105);
    expect(r.flags & (CF | AF)).to.equal(CF | AF);
    r = run([0x37, 0xf4], 0x0236, CF);
    expect(r.ax).to.equal(0x0206);
    expect(r.flags & (CF | AF)).to.equal(0);
  });

  it('AAS after 3 - 5 = FEh (AF set) borrows from AH', () => {
    const r = run([0x3f, 0xf4], 0x01fe, AF | CF);
    expect(r.ax).to.equal(0x0008);
    expect(r.flags & (CF | AF)).to.equal(CF | AF);
  });

  it('AAM splits AL into AH = AL / base, AL = AL mod base (base 10 and 16)', () => {
    let r = run([0xd4, 0x0a, 0xf4], 0xff3f);
    expect(r.ax).to.equal(0x0603);
    expect(r.flags & (ZF | SF | PF)).to.equal(PF);
    r = run([0xd4, 0x10, 0xf4], 0x003f);
    expect(r.ax).to.equal(0x030f);
    r = run([0xd4, 0x0a, 0xf4], 0x0000);
    expect(r.flags & (ZF | CF | OF | AF)).to.equal(ZF);
  });

  it('AAM with base 0 raises #DE and changes nothing', () => {
    const r = run([0xd4, 0x00, 0xf4], 0x1234, CF | ZF);
    expect(r.faulted).to.equal(true);
    expect(r.ax).to.equal(0x1234);
    expect(r.flags).to.equal(CF | ZF);
  });

  it('AAD folds AH into AL: AL = AL + AH * base, AH = 0 (base 10 and 16)', () => {
    let r = run([0xd5, 0x0a, 0xf4], 0x0603);
    expect(r.ax).to.equal(0x003f);
    r = run([0xd5, 0x10, 0xf4], 0x0305);
    expect(r.ax).to.equal(0x0035);
    r = run([0xd5, 0x0a, 0xf4], 0x0000);
    expect(r.flags & ZF).to.equal(ZF);
  });

  it('SALC sets AL to FFh when CF is set and 00h otherwise, flags unchanged', () => {
    expect(run([0xd6, 0xf4], 0x1234, CF | SF)).to.deep.equal({ ax: 0x12ff, flags: CF | SF, faulted: false });
    expect(run([0xd6, 0xf4], 0x12ab, ZF)).to.deep.equal({ ax: 0x1200, flags: ZF, faulted: false });
  });
});

interface Vector {
  name: string;
  bytes: number[];
  initial: { regs: { ax: number; flags: number } };
  final: { regs: { ax?: number; flags?: number } };
  exception?: { number: number };
}

const VECTORS = new URL('../../../shared/conformance/sst-80286/', import.meta.url);

describe('decimal adjust instructions against 80286 silicon (SingleStepTests vectors)', () => {
  // Every flag is compared, the undefined ones included: bcd.ts reproduces what this chip does.
  for (const file of ['27', '2F', '37', '3F', 'D4', 'D5', 'D6']) {
    it(`match every unprefixed vector of ${file}.json.gz, undefined flags included`, () => {
      const vectors = JSON.parse(gunzipSync(readFileSync(new URL(`${file}.json.gz`, VECTORS))).toString('utf8')) as Vector[];
      const opcode = parseInt(file, 16);
      let checked = 0;
      for (const v of vectors) {
        if (v.bytes[0] !== opcode) continue; // prefixed forms (segment overrides, LOCK) belong to the conformance run
        const r = run(v.bytes, v.initial.regs.ax, v.initial.regs.flags & ARITH);
        const what = `${file} ${v.name} AX=${v.initial.regs.ax.toString(16)} flags=${v.initial.regs.flags.toString(16)}`;
        expect(r.faulted, what).to.equal(v.exception?.number === 0);
        if (r.faulted) continue;
        expect(r.ax, what).to.equal(v.final.regs.ax ?? v.initial.regs.ax);
        expect(r.flags, what).to.equal((v.final.regs.flags ?? v.initial.regs.flags) & ARITH);
        checked++;
      }
      expect(checked).to.be.greaterThan(100);
    });
  }
});
