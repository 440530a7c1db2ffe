import { expect } from 'chai';
import { CpuFault, Vec } from '../core/cpu/faults.js';
import { loadSegment, segmentLinear, setSegmentCache } from '../core/cpu/segments.js';
import { CpuHarness, Reg, S, Seg } from './support/cpu-harness.js';
import { enterRing3, GDT, ringMachine, runToFault, Sel } from './support/protected-mode.js';

/** mov ax, selector; mov sreg, ax; hlt — the MOV to the segment register is at 0x10004. */
function movToSegment(sreg: Seg, selector: number): number[] {
  return [0x66, 0xb8, selector & 0xff, selector >> 8, 0x8e, 0xc0 | (sreg << 3), 0xf4];
}

const MOV_SREG_EIP = 0x10004;

function faultOf(run: () => unknown): CpuFault | undefined {
  try { run(); } catch (e) { if (e instanceof CpuFault) return e; throw e; }
  return undefined;
}

/** Loads `selector` into `sreg` at `cpl` and returns [vector, error code, saved EIP] of the fault, or the loaded cache. */
function load(sreg: Seg, selector: number, cpl = 0): { fault?: [number, number, number]; h: CpuHarness } {
  const h = ringMachine(movToSegment(sreg, selector));
  if (cpl === 3) enterRing3(h);
  h.run(2);
  if (h.eip === 0x10006) return { h };
  const f = runToFault(h);
  return { fault: [f.vector, f.errorCode, f.eip], h };
}

describe('segment register loads in protected mode', () => {
  describe('DS, ES, FS, GS', () => {
    it('loads a read-only data segment and sets the accessed bit of its descriptor', () => {
      const { fault, h } = load(Seg.DS, Sel.READONLY0);
      expect(fault).to.equal(undefined);
      const st = h.cpu.st;
      expect(st[S.SEL + Seg.DS]).to.equal(Sel.READONLY0);
      expect(st[S.SEG_FLAGS + Seg.DS] & 0xff).to.equal(0x91);
      expect(h.read8(GDT + Sel.READONLY0 + 5)).to.equal(0x91);
    });

    it('loads readable code and conforming readable code (the latter even at CPL 3)', () => {
      expect(load(Seg.ES, Sel.CODE0).fault).to.equal(undefined);
      const { fault, h } = load(Seg.FS, Sel.CONFORMING0 | 3, 3);
      expect(fault).to.equal(undefined);
      expect(h.cpu.st[S.SEL + Seg.FS]).to.equal(Sel.CONFORMING0 | 3);
    });

    it('a null selector loads (the register becomes unusable) without a fault', () => {
      const { fault, h } = load(Seg.GS, 3);
      expect(fault).to.equal(undefined);
      expect(h.cpu.st[S.SEL + Seg.GS]).to.equal(3);
      expect(h.cpu.st[S.SEG_FLAGS + Seg.GS]).to.equal(0);
    });

    it('faults with the selector as error code, EIP at the MOV, the register unchanged', () => {
      const cases: [string, number, number, [number, number, number]][] = [
        ['execute-only code', Sel.EXECONLY0, 0, [Vec.GP, Sel.EXECONLY0, MOV_SREG_EIP]],
        ['a TSS (system descriptor)', Sel.TSS, 0, [Vec.GP, Sel.TSS, MOV_SREG_EIP]],
        ['a call gate', Sel.GATE3, 0, [Vec.GP, Sel.GATE3 & ~3, MOV_SREG_EIP]],
        ['beyond the GDT limit', 0x200, 0, [Vec.GP, 0x200, MOV_SREG_EIP]],
        ['an LDT selector with no LDT', 0x0c, 0, [Vec.GP, 0x0c, MOV_SREG_EIP]],
        ['an absent segment', Sel.ABSENT_DATA, 0, [Vec.NP, Sel.ABSENT_DATA, MOV_SREG_EIP]],
        ['RPL above DPL', Sel.DATA0 | 3, 0, [Vec.GP, Sel.DATA0, MOV_SREG_EIP]],
        ['CPL above DPL', Sel.DATA0 | 3, 3, [Vec.GP, Sel.DATA0, MOV_SREG_EIP]],
        ['ring-1 data at CPL 3', Sel.DATA1 | 2, 3, [Vec.GP, Sel.DATA1 & ~3, MOV_SREG_EIP]],
        ['non-conforming ring-0 code at CPL 3', Sel.CODE0 | 3, 3, [Vec.GP, Sel.CODE0, MOV_SREG_EIP]],
      ];
      for (const [what, selector, cpl, expected] of cases) {
        const { fault, h } = load(Seg.DS, selector, cpl);
        expect(fault, what).to.deep.equal(expected);
        expect(h.cpu.st[S.SEL + Seg.DS], what).to.equal(cpl === 3 ? Sel.DATA3 : Sel.DATA0);
      }
    });
  });

  describe('SS', () => {
    it('loads writable data with RPL = DPL = CPL, at CPL 0 and at CPL 3', () => {
      expect(load(Seg.SS, Sel.DATA0).fault).to.equal(undefined);
      const { fault, h } = load(Seg.SS, Sel.DATA3, 3);
      expect(fault).to.equal(undefined);
      expect(h.cpu.st[S.SEL + Seg.SS]).to.equal(Sel.DATA3);
    });

    it('faults #GP(0) for null, #GP(selector) for the wrong type or privilege, #SS(selector) when absent', () => {
      const cases: [string, number, number, [number, number, number]][] = [
        ['null', 0, 0, [Vec.GP, 0, MOV_SREG_EIP]],
        ['null with RPL 3 at CPL 3', 3, 3, [Vec.GP, 0, MOV_SREG_EIP]],
        ['read-only data', Sel.READONLY0, 0, [Vec.GP, Sel.READONLY0, MOV_SREG_EIP]],
        ['code', Sel.CODE0, 0, [Vec.GP, Sel.CODE0, MOV_SREG_EIP]],
        ['RPL != CPL', Sel.DATA0 | 3, 0, [Vec.GP, Sel.DATA0, MOV_SREG_EIP]],
        ['DPL != CPL', Sel.DATA1 & ~3, 0, [Vec.GP, Sel.DATA1 & ~3, MOV_SREG_EIP]],
        ['DPL 0 at CPL 3', Sel.DATA0 | 3, 3, [Vec.GP, Sel.DATA0, MOV_SREG_EIP]],
        ['absent', Sel.ABSENT_DATA, 0, [Vec.SS, Sel.ABSENT_DATA, MOV_SREG_EIP]],
      ];
      for (const [what, selector, cpl, expected] of cases) {
        expect(load(Seg.SS, selector, cpl).fault, what).to.deep.equal(expected);
      }
    });

    it('POP SS of a bad selector faults with ESP unchanged', () => {
      const h = ringMachine([0x6a, Sel.ABSENT_DATA, 0x17, 0xf4]);              // push 0x58; pop ss; hlt
      const f = runToFault(h);
      expect([f.vector, f.errorCode, f.eip]).to.deep.equal([Vec.SS, Sel.ABSENT_DATA, 0x10002]);
      expect(h.get(Reg.ESP)).to.equal(0x80000 - 4 - 16);                       // the pushed selector, then the frame
    });

    it('LSS of a bad selector changes neither ESP nor SS', () => {
      const h = ringMachine([0x0f, 0xb2, 0x25, 0x00, 0x40, 0x00, 0x00, 0xf4]); // lss esp, [0x4000]
      h.load(0x4000, [0x00, 0x10, 0x00, 0x00, Sel.READONLY0, 0]);
      const f = runToFault(h);
      expect([f.vector, f.errorCode, f.eip]).to.deep.equal([Vec.GP, Sel.READONLY0, 0x10000]);
      expect(h.get(Reg.ESP)).to.equal(0x80000 - 16);
      expect(h.cpu.st[S.SEL + Seg.SS]).to.equal(Sel.DATA0);
    });
  });

  describe('segment limits (segmentLinear)', () => {
    function machine(): CpuHarness {
      return ringMachine([0xf4]);
    }

    it('an expand-down segment holds the offsets above its limit, up to 4 GiB with B = 1', () => {
      const h = machine();
      loadSegment(h.cpu, Seg.ES, Sel.EXPAND_DOWN);
      expect(segmentLinear(h.cpu, Seg.ES, 0x1000, 4)).to.equal(0x1000);
      expect(segmentLinear(h.cpu, Seg.ES, 0xffffffff, 1) >>> 0).to.equal(0xffffffff);
      for (const [offset, bytes] of [[0xfff, 1], [0xffe, 4], [0, 1], [0xfffffffe, 4]]) {
        const f = faultOf(() => segmentLinear(h.cpu, Seg.ES, offset, bytes));
        expect([f?.vector, f?.errorCode], `offset 0x${offset.toString(16)}`).to.deep.equal([Vec.GP, 0]);
      }
    });

    it('a 16-bit expand-down segment ends at 0xFFFF; a stack violation is #SS(0)', () => {
      const h = machine();
      setSegmentCache(h.cpu, Seg.SS, Sel.DATA0, 0x20000, 0x0fff, 0x96);
      expect(segmentLinear(h.cpu, Seg.SS, 0xfffc, 4)).to.equal(0x2fffc);
      const above = faultOf(() => segmentLinear(h.cpu, Seg.SS, 0xfffe, 4));
      expect([above?.vector, above?.errorCode]).to.deep.equal([Vec.SS, 0]);
      const below = faultOf(() => segmentLinear(h.cpu, Seg.SS, 0x800, 2));
      expect([below?.vector, below?.errorCode]).to.deep.equal([Vec.SS, 0]);
    });

    it('an expand-up segment ends at its limit; a null-loaded one is #GP(0) for any offset', () => {
      const h = machine();
      setSegmentCache(h.cpu, Seg.DS, Sel.DATA0, 0x1000, 0xfff, 0x93);
      expect(segmentLinear(h.cpu, Seg.DS, 0xffc, 4)).to.equal(0x1ffc);
      expect(faultOf(() => segmentLinear(h.cpu, Seg.DS, 0xffd, 4))?.vector).to.equal(Vec.GP);
      loadSegment(h.cpu, Seg.FS, 0);
      const f = faultOf(() => segmentLinear(h.cpu, Seg.FS, 0, 1));
      expect([f?.vector, f?.errorCode]).to.deep.equal([Vec.GP, 0]);
    });

    it('a real-mode load makes a null-loaded register usable again, keeping its limit', () => {
      const h = machine();
      loadSegment(h.cpu, Seg.FS, 0);
      h.cpu.st[S.CR0] &= ~1;
      loadSegment(h.cpu, Seg.FS, 0x1234);
      expect(segmentLinear(h.cpu, Seg.FS, 0, 1)).to.equal(0x12340);
    });
  });
});
