import { expect } from 'chai';
import { CpuHarness, Reg, S, Seg } from './support/cpu-harness.js';
import { loadSegment } from '../core/cpu/segments.js';
import { CF, DF, SF, ZF } from '../core/cpu/flags.js';
import { REP_CHUNK } from '../core/cpu/ops/string.js';

// Prefixes and opcodes, for readable hand-assembled code.
const REP = 0xf3, REPNE = 0xf2, O16_32 = 0x66, A16_32 = 0x67, FS = 0x64, HLT = 0xf4;
const MOVSB = 0xa4, MOVSW = 0xa5, CMPSB = 0xa6, CMPSW = 0xa7, STOSB = 0xaa, STOSW = 0xab;
const LODSB = 0xac, LODSW = 0xad, SCASB = 0xae, SCASW = 0xaf, INSB = 0x6c, INSW = 0x6d, OUTSB = 0x6e, OUTSW = 0x6f;

const DS_BASE = 0x2000, ES_BASE = 0x3000, FS_BASE = 0x5000;

/** Real mode with DS = 0x200, ES = 0x300, FS = 0x500 (bases 0x2000, 0x3000, 0x5000). */
function real(code: number[]): CpuHarness {
  const h = new CpuHarness().realMode([...code, HLT]);
  loadSegment(h.cpu, Seg.DS, DS_BASE >> 4);
  loadSegment(h.cpu, Seg.ES, ES_BASE >> 4);
  loadSegment(h.cpu, Seg.FS, FS_BASE >> 4);
  return h;
}

function flat(code: number[]): CpuHarness {
  return new CpuHarness().flat32([...code, HLT]);
}

function setDirection(h: CpuHarness): void {
  h.cpu.setEflags(DF, DF);
}

function bytesAt(h: CpuHarness, address: number, length: number): number[] {
  return Array.from(h.mem.readBytes(address, length));
}

/** Vector v's real-mode handler is a HLT at 0x9000 + 16 v. */
function installRealHandlers(h: CpuHarness): void {
  for (let v = 0; v < 32; v++) {
    const handler = 0x9000 + v * 16;
    h.load(v * 4, [handler & 0xff, handler >> 8, 0, 0]).load(handler, [HLT]);
  }
}

describe('string instructions', () => {
  describe('MOVS', () => {
    it('MOVSB copies DS:SI to ES:DI and steps both up with DF = 0', () => {
      const h = real([MOVSB]).set(Reg.ESI, 0x10).set(Reg.EDI, 0x20).load(DS_BASE + 0x10, [0xab]);
      h.run();
      expect(h.read8(ES_BASE + 0x20)).to.equal(0xab);
      expect(h.get(Reg.ESI)).to.equal(0x11);
      expect(h.get(Reg.EDI)).to.equal(0x21);
    });

    it('MOVSW and MOVSD step down by 2 and 4 with DF = 1', () => {
      const h = real([MOVSW, O16_32, MOVSW]).set(Reg.ESI, 0x10).set(Reg.EDI, 0x20);
      h.load(DS_BASE + 0x10, [0x34, 0x12]).load(DS_BASE + 0x0e, [0x78, 0x56, 0x34, 0x12]);
      setDirection(h);
      h.run();
      expect(h.read16(ES_BASE + 0x20)).to.equal(0x1234);
      expect(h.read32(ES_BASE + 0x1e)).to.equal(0x12345678);
      expect(h.get(Reg.ESI)).to.equal(0x10 - 6);
      expect(h.get(Reg.EDI)).to.equal(0x20 - 6);
    });

    it('takes a segment override on the source but never on the destination', () => {
      const h = real([FS, MOVSB]).set(Reg.ESI, 0x10).set(Reg.EDI, 0x20);
      h.load(DS_BASE + 0x10, [0x11]).load(FS_BASE + 0x10, [0x22]);
      h.run();
      expect(h.read8(ES_BASE + 0x20)).to.equal(0x22);
      expect(h.read8(FS_BASE + 0x20)).to.equal(0);
    });

    it('REP MOVSB copies CX bytes and leaves CX = 0', () => {
      const h = real([REP, MOVSB]).set(Reg.ESI, 0x100).set(Reg.EDI, 0x200).set(Reg.ECX, 5);
      h.load(DS_BASE + 0x100, [1, 2, 3, 4, 5, 6]);
      h.run();
      expect(bytesAt(h, ES_BASE + 0x200, 6)).to.deep.equal([1, 2, 3, 4, 5, 0]);
      expect(h.get(Reg.ECX)).to.equal(0);
      expect(h.get(Reg.ESI)).to.equal(0x105);
    });

    it('REP with a count of 0 does nothing', () => {
      const h = real([REP, MOVSB]).set(Reg.ESI, 0x100).set(Reg.EDI, 0x200).set(Reg.ECX, 0xffff0000);
      h.load(DS_BASE + 0x100, [1]);
      h.run();
      expect(h.read8(ES_BASE + 0x200)).to.equal(0);
      expect(h.get(Reg.ESI)).to.equal(0x100);
      expect(h.get(Reg.ECX)).to.equal(0xffff0000);
    });

    it('16-bit addresses use CX, SI, DI and wrap at 64 KiB, keeping the upper halves', () => {
      const h = real([REP, MOVSB]).set(Reg.ESI, 0x1234fffe).set(Reg.EDI, 0xabcd0100).set(Reg.ECX, 0x00070004);
      h.load(DS_BASE + 0xfffe, [0xa, 0xb]).load(DS_BASE, [0xc, 0xd]);
      h.run();
      expect(bytesAt(h, ES_BASE + 0x100, 4)).to.deep.equal([0xa, 0xb, 0xc, 0xd]);
      expect(h.get(Reg.ESI)).to.equal(0x12340002);
      expect(h.get(Reg.EDI)).to.equal(0xabcd0104);
      expect(h.get(Reg.ECX)).to.equal(0x00070000);
    });

    it('16-bit addresses wrap downwards with DF = 1', () => {
      const h = real([REP, MOVSW]).set(Reg.ESI, 0x0002).set(Reg.EDI, 0x0100).set(Reg.ECX, 3);
      h.load(DS_BASE + 0x0002, [0x01, 0x02]).load(DS_BASE, [0x03, 0x04]).load(DS_BASE + 0xfffe, [0x05, 0x06]);
      setDirection(h);
      h.run();
      expect(bytesAt(h, ES_BASE + 0xfc, 6)).to.deep.equal([0x05, 0x06, 0x03, 0x04, 0x01, 0x02]);
      expect(h.get(Reg.ESI)).to.equal(0xfffc);
    });

    it('32-bit addresses in 16-bit code use ECX, ESI and EDI', () => {
      // CX alone would be 0; ECX moves the whole 64 KiB segment, and ESI/EDI end past it without wrapping.
      // ES lies 4 KiB above DS, so the copy replicates DS's first 4 KiB: the marker reaches ES:FFFF.
      const h = real([REP, A16_32, MOVSB]).set(Reg.ESI, 0).set(Reg.EDI, 0).set(Reg.ECX, 0x10000);
      h.load(DS_BASE + 0xfff, [0x77]);
      h.run(100);
      expect(h.get(Reg.ECX)).to.equal(0);
      expect(h.get(Reg.ESI)).to.equal(0x10000);
      expect(h.get(Reg.EDI)).to.equal(0x10000);
      expect(h.read8(ES_BASE + 0xffff)).to.equal(0x77);
    });

    it('32-bit addresses wrap at 4 GiB', () => {
      const h = flat([REP, MOVSB]).set(Reg.ESI, 0xfffffffe).set(Reg.EDI, 0x20000).set(Reg.ECX, 4);
      h.load(0, [0x5a, 0xa5]);
      h.run();
      // Nothing answers at linear 0xfffffffe-0xffffffff: the open bus reads all ones.
      expect(bytesAt(h, 0x20000, 4)).to.deep.equal([0xff, 0xff, 0x5a, 0xa5]);
      expect(h.get(Reg.ESI)).to.equal(2);
    });

    it('an overlapping forward copy replicates the pattern, as the byte loop does', () => {
      const h = flat([REP, MOVSB]).set(Reg.ESI, 0x20000).set(Reg.EDI, 0x20002).set(Reg.ECX, 8);
      h.load(0x20000, [7, 9]);
      h.run();
      expect(bytesAt(h, 0x20000, 10)).to.deep.equal([7, 9, 7, 9, 7, 9, 7, 9, 7, 9]);
    });
  });

  describe('CMPS and SCAS', () => {
    it('REPE CMPSB stops at the first difference with the flags of that comparison', () => {
      const h = real([REP, CMPSB]).set(Reg.ESI, 0).set(Reg.EDI, 0).set(Reg.ECX, 10);
      h.load(DS_BASE, [...'abcd'].map((c) => c.charCodeAt(0))).load(ES_BASE, [...'abxd'].map((c) => c.charCodeAt(0)));
      h.run();
      expect(h.get(Reg.ECX)).to.equal(7);
      expect(h.get(Reg.ESI)).to.equal(3);
      expect(h.get(Reg.EDI)).to.equal(3);
      expect(h.eflags & (ZF | CF | SF)).to.equal(CF | SF); // 'c' - 'x' borrows and is negative
    });

    it('REPE CMPSB over equal strings runs out the count with ZF = 1', () => {
      const h = real([REP, CMPSB]).set(Reg.ECX, 3);
      h.load(DS_BASE, [1, 2, 3]).load(ES_BASE, [1, 2, 3]);
      h.run();
      expect(h.get(Reg.ECX)).to.equal(0);
      expect(h.eflags & ZF).to.equal(ZF);
    });

    it('REPNE CMPSW stops at the first equal word', () => {
      const h = real([REPNE, CMPSW]).set(Reg.ECX, 5);
      h.load(DS_BASE, [1, 0, 2, 0, 3, 0]).load(ES_BASE, [9, 0, 9, 0, 3, 0]);
      h.run();
      expect(h.get(Reg.ECX)).to.equal(2);
      expect(h.get(Reg.ESI)).to.equal(6);
      expect(h.eflags & ZF).to.equal(ZF);
    });

    it('CMPSD compares 32-bit elements (source minus destination)', () => {
      const h = flat([CMPSW]).set(Reg.ESI, 0x20000).set(Reg.EDI, 0x20010);
      h.load(0x20000, [1, 0, 0, 0]).load(0x20010, [0, 0, 0, 0x80]);
      h.run();
      // 1 - 0x80000000 = 0x80000001: borrow, negative, signed overflow.
      expect(h.eflags & (CF | SF | ZF)).to.equal(CF | SF);
      expect(h.get(Reg.ESI)).to.equal(0x20004);
      expect(h.get(Reg.EDI)).to.equal(0x20014);
    });

    it('REPNE SCASB finds a terminating zero, leaving DI past it', () => {
      const h = real([REPNE, SCASB]).set(Reg.EAX, 0x1200).set(Reg.EDI, 0x40).set(Reg.ECX, 0xffff);
      h.load(ES_BASE + 0x40, [5, 6, 7, 0, 8]);
      h.run();
      expect(h.get(Reg.EDI)).to.equal(0x44);
      expect(h.get(Reg.ECX)).to.equal(0xffff - 4);
      expect(h.eflags & ZF).to.equal(ZF);
    });

    it('REPE SCASW skips matching words, downwards with DF = 1', () => {
      const h = real([REP, SCASW]).set(Reg.EAX, 0x2020).set(Reg.EDI, 0x46).set(Reg.ECX, 10);
      h.load(ES_BASE + 0x40, [0x41, 0x00, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20]);
      setDirection(h);
      h.run();
      expect(h.get(Reg.EDI)).to.equal(0x3e);
      expect(h.get(Reg.ECX)).to.equal(6);
      expect(h.eflags & ZF).to.equal(0);
    });

    it('SCASD compares EAX with ES:EDI', () => {
      const h = flat([SCASW]).set(Reg.EAX, 0x12345678).set(Reg.EDI, 0x20000);
      h.load(0x20000, [0x78, 0x56, 0x34, 0x12]);
      h.run();
      expect(h.eflags & ZF).to.equal(ZF);
      expect(h.get(Reg.EDI)).to.equal(0x20004);
    });
  });

  describe('STOS and LODS', () => {
    it('STOSB, STOSW and STOSD store AL, AX, EAX', () => {
      const h = real([STOSB, STOSW, O16_32, STOSW]).set(Reg.EAX, 0x11223344).set(Reg.EDI, 0x10);
      h.run();
      expect(bytesAt(h, ES_BASE + 0x10, 7)).to.deep.equal([0x44, 0x44, 0x33, 0x44, 0x33, 0x22, 0x11]);
      expect(h.get(Reg.EDI)).to.equal(0x17);
    });

    it('REP STOSD fills downwards with DF = 1', () => {
      const h = flat([REP, STOSW]).set(Reg.EAX, 0xdeadbeef).set(Reg.EDI, 0x2000c).set(Reg.ECX, 3);
      setDirection(h);
      h.run();
      expect([h.read32(0x20004), h.read32(0x20008), h.read32(0x2000c), h.read32(0x20010)])
        .to.deep.equal([0xdeadbeef, 0xdeadbeef, 0xdeadbeef, 0]);
      expect(h.read32(0x20000)).to.equal(0);
      expect(h.get(Reg.EDI)).to.equal(0x20000);
    });

    it('LODSB, LODSW and LODSD load from DS:SI, keeping the upper bits of EAX for the short forms', () => {
      const h = real([LODSB]).set(Reg.EAX, 0xffffffff).set(Reg.ESI, 0x10);
      h.load(DS_BASE + 0x10, [0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde]);
      h.run();
      expect(h.get(Reg.EAX)).to.equal(0xffffff12);
      const w = real([LODSW, O16_32, LODSW]).set(Reg.EAX, 0xffffffff).set(Reg.ESI, 0x10);
      w.load(DS_BASE + 0x10, [0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc]);
      w.run();
      expect(w.get(Reg.EAX)).to.equal(0xbc9a7856);
      expect(w.get(Reg.ESI)).to.equal(0x16);
    });

    it('REP LODSB leaves the last byte in AL', () => {
      const h = real([REP, LODSB]).set(Reg.ESI, 0x10).set(Reg.ECX, 3);
      h.load(DS_BASE + 0x10, [1, 2, 3, 4]);
      h.run();
      expect(h.get(Reg.EAX) & 0xff).to.equal(3);
      expect(h.get(Reg.ESI)).to.equal(0x13);
    });
  });

  describe('INS and OUTS', () => {
    function withDevice(h: CpuHarness): { written: number[] } {
      let next = 0x40;
      const written: number[] = [];
      h.io.register(0x300, 4, {
        read8: () => next++,
        read16: () => 0xbeef,
        write8: (_p, v) => { written.push(v); },
        write32: (_p, v) => { written.push(v); },
      }, 'test device');
      return { written };
    }

    it('REP INSB reads port DX into ES:DI', () => {
      const h = real([REP, INSB]).set(Reg.EDX, 0x300).set(Reg.EDI, 0x10).set(Reg.ECX, 3);
      withDevice(h);
      h.run();
      expect(bytesAt(h, ES_BASE + 0x10, 4)).to.deep.equal([0x40, 0x41, 0x42, 0]);
      expect(h.get(Reg.EDI)).to.equal(0x13);
    });

    it('INSW reads a word', () => {
      const h = real([INSW]).set(Reg.EDX, 0x300).set(Reg.EDI, 0x10);
      withDevice(h);
      h.run();
      expect(h.read16(ES_BASE + 0x10)).to.equal(0xbeef);
      expect(h.get(Reg.EDI)).to.equal(0x12);
    });

    it('REP OUTSB writes DS:SI (with override) to port DX', () => {
      const h = real([REP, FS, OUTSB]).set(Reg.EDX, 0x301).set(Reg.ESI, 0x10).set(Reg.ECX, 2);
      const { written } = withDevice(h);
      h.load(FS_BASE + 0x10, [7, 8, 9]);
      h.run();
      expect(written).to.deep.equal([7, 8]);
      expect(h.get(Reg.ESI)).to.equal(0x12);
    });

    it('OUTSD writes a dword and steps down with DF = 1', () => {
      const h = real([O16_32, OUTSW]).set(Reg.EDX, 0x300).set(Reg.ESI, 0x10);
      const { written } = withDevice(h);
      h.load(DS_BASE + 0x10, [0x78, 0x56, 0x34, 0x12]);
      setDirection(h);
      h.run();
      expect(written).to.deep.equal([0x12345678]);
      expect(h.get(Reg.ESI)).to.equal(0x0c);
    });
  });

  describe('long REP runs', () => {
    it(`runs at most ${REP_CHUNK} elements per execution and stays on the instruction until done`, () => {
      const count = 2 * REP_CHUNK + 100;
      const h = flat([REP, STOSB]).set(Reg.EAX, 0x5a).set(Reg.EDI, 0x20000).set(Reg.ECX, count);
      expect(h.run(1)).to.equal(1);
      expect(h.get(Reg.ECX)).to.equal(count - REP_CHUNK);
      expect(h.eip).to.equal(0x10000);
      expect(h.run()).to.equal(3); // two more chunks, then HLT
      expect(h.get(Reg.ECX)).to.equal(0);
      expect(h.get(Reg.EDI)).to.equal(0x20000 + count);
      expect(h.read8(0x20000 + count - 1)).to.equal(0x5a);
      expect(h.read8(0x20000 + count)).to.equal(0);
    });

    it('a long REPE CMPSB resumes its comparison across chunks', () => {
      const length = REP_CHUNK + 50;
      const h = flat([REP, CMPSB]).set(Reg.ESI, 0x20000).set(Reg.EDI, 0x30000).set(Reg.ECX, length + 10);
      h.load(0x20000 + length, [1]);
      h.run();
      expect(h.get(Reg.ECX)).to.equal(9);
      expect(h.get(Reg.ESI)).to.equal(0x20000 + length + 1);
      expect(h.eflags & ZF).to.equal(0);
    });
  });

  describe('faults in the middle of REP', () => {
    it('leave SI, DI, CX as after the iterations that completed, and EIP on the instruction', () => {
      // Word moves from SI = FFF9: the fourth element, at FFFF, crosses the 64 KiB limit: #GP.
      const h = real([REP, MOVSW]).set(Reg.ESI, 0xfff9).set(Reg.EDI, 0x100).set(Reg.ECX, 10);
      installRealHandlers(h);
      h.load(DS_BASE + 0xfff9, [1, 2, 3, 4, 5, 6, 7]);
      h.run();
      expect(h.eip).to.equal(0x9000 + 13 * 16 + 1);
      expect(h.read16(0x8000 - 6)).to.equal(0x1000); // the IP pushed is the REP MOVSW's
      expect(h.get(Reg.ESI)).to.equal(0xffff);
      expect(h.get(Reg.EDI)).to.equal(0x106);
      expect(h.get(Reg.ECX)).to.equal(7);
      expect(bytesAt(h, ES_BASE + 0x100, 8)).to.deep.equal([1, 2, 3, 4, 5, 6, 0, 0]);
    });

    it('also when the run would otherwise take the RAM fast path', () => {
      // 32-bit ESI does not wrap; the source crosses the real-mode limit after 16 bytes.
      const h = real([REP, A16_32, MOVSB]).set(Reg.ESI, 0xfff0).set(Reg.EDI, 0x100).set(Reg.ECX, 0x20);
      installRealHandlers(h);
      h.load(DS_BASE + 0xfff0, Array.from({ length: 16 }, (_, k) => k + 1));
      h.run();
      expect(h.eip).to.equal(0x9000 + 13 * 16 + 1);
      expect(h.get(Reg.ESI)).to.equal(0x10000);
      expect(h.get(Reg.EDI)).to.equal(0x110);
      expect(h.get(Reg.ECX)).to.equal(0x10);
      expect(h.read8(ES_BASE + 0x10f)).to.equal(16);
      expect(h.read8(ES_BASE + 0x110)).to.equal(0);
    });
  });

  describe('the RAM fast path gives what the element loop gives', () => {
    const REGION = 0x20000, REGION_SIZE = 0x8000;

    /** The architectural definition: element by element, each read before its write. */
    function reference(ram: Uint8Array, op: 'movs' | 'stos', size: number, src: number, dst: number, count: number, step: number, value: number): void {
      for (let k = 0; k < count; k++) {
        const element: number[] = [];
        for (let b = 0; b < size; b++) element.push(op === 'movs' ? ram[src + b - REGION] : (value >>> (8 * b)) & 0xff);
        for (let b = 0; b < size; b++) ram[dst + b - REGION] = element[b];
        src += step;
        dst += step;
      }
    }

    let seed = 12345;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };

    const cases: { op: 'movs' | 'stos'; size: number; down: boolean; count: number; src: number; dst: number }[] = [];
    for (let k = 0; k < 60; k++) {
      const op = k % 3 === 2 ? 'stos' : 'movs';
      const size = [1, 2, 4][random(3)];
      const count = random(k < 30 ? 40 : 3000);
      const src = REGION + 0x3000 + random(0x2000);
      // Half the cases overlap closely, in either order.
      const dst = k % 2 === 0 ? src + random(16) - 8 : REGION + 0x3000 + random(0x2000);
      cases.push({ op, size, down: random(2) === 1, count, src, dst });
    }

    for (const c of cases) {
      it(`REP ${c.op} size ${c.size} ${c.down ? 'down' : 'up'} count ${c.count} from 0x${c.src.toString(16)} to 0x${c.dst.toString(16)}`, () => {
        const opcode = c.op === 'movs' ? (c.size === 1 ? MOVSB : MOVSW) : c.size === 1 ? STOSB : STOSW;
        const code = c.size === 2 ? [REP, O16_32, opcode] : [REP, opcode];
        const h = flat(code).set(Reg.ESI, c.src).set(Reg.EDI, c.dst).set(Reg.ECX, c.count).set(Reg.EAX, 0x8badf00d);
        const initial = Uint8Array.from({ length: REGION_SIZE }, (_, k) => (k * 7 + (k >> 8)) & 0xff);
        h.load(REGION, initial);
        if (c.down) setDirection(h);
        h.run();
        const expected = Uint8Array.from(initial);
        const step = (c.down ? -1 : 1) * c.size;
        reference(expected, c.op, c.size, c.src, c.dst, c.count, step, 0x8badf00d);
        expect(Buffer.from(h.mem.readBytes(REGION, REGION_SIZE)).equals(Buffer.from(expected))).to.equal(true);
        expect(h.get(Reg.EDI)).to.equal(c.dst + step * c.count);
        if (c.op === 'movs') expect(h.get(Reg.ESI)).to.equal(c.src + step * c.count);
        expect(h.get(Reg.ECX)).to.equal(0);
      });
    }

    describe('with paging, a run at a time: the region\'s eight pages mapped in reverse order', () => {
      const PD = 0x40000, PT = 0x41000, PAGES = REGION_SIZE >> 12;
      /** Physical address of a linear one in the region. */
      const physical = (lin: number): number => REGION + (PAGES - 1 - ((lin - REGION) >> 12)) * 0x1000 + (lin & 0xfff);
      /** mov eax, PD / mov cr3, eax / mov eax, cr0 / or eax, PG / mov cr0, eax, then `code`. */
      function paged(code: number[]): CpuHarness {
        const imm = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
        const h = flat([0xb8, ...imm(PD), 0x0f, 0x22, 0xd8, 0x0f, 0x20, 0xc0, 0x0d, ...imm(0x80000000), 0x0f, 0x22, 0xc0, ...code]);
        h.load(PD, imm(PT | 7));
        for (let page = 0; page < 512; page++) {
          const lin = page << 12;
          const frame = lin >= REGION && lin < REGION + REGION_SIZE ? physical(lin) : lin;
          h.load(PT + page * 4, imm(frame | 7));
        }
        return h;
      }

      for (const c of cases.slice(30, 45)) {
        it(`REP ${c.op} size ${c.size} ${c.down ? 'down' : 'up'} count ${c.count} from 0x${c.src.toString(16)} to 0x${c.dst.toString(16)}`, () => {
          const opcode = c.op === 'movs' ? (c.size === 1 ? MOVSB : MOVSW) : c.size === 1 ? STOSB : STOSW;
          const h = paged(c.size === 2 ? [REP, O16_32, opcode] : [REP, opcode]);
          const initial = Uint8Array.from({ length: REGION_SIZE }, (_, k) => (k * 7 + (k >> 8)) & 0xff);
          for (let k = 0; k < REGION_SIZE; k += 0x1000) h.load(physical(REGION + k), initial.subarray(k, k + 0x1000));
          if (c.down) setDirection(h);
          // Set after the paging prologue, which uses EAX.
          h.run(5);
          h.set(Reg.ESI, c.src).set(Reg.EDI, c.dst).set(Reg.ECX, c.count).set(Reg.EAX, 0x8badf00d);
          h.run();
          const expected = Uint8Array.from(initial);
          const step = (c.down ? -1 : 1) * c.size;
          reference(expected, c.op, c.size, c.src, c.dst, c.count, step, 0x8badf00d);
          const seen = new Uint8Array(REGION_SIZE);
          for (let k = 0; k < REGION_SIZE; k += 0x1000) seen.set(h.mem.readBytes(physical(REGION + k), 0x1000), k);
          expect(Buffer.from(seen).equals(Buffer.from(expected))).to.equal(true);
          expect(h.get(Reg.EDI)).to.equal(c.dst + step * c.count);
          expect(h.get(Reg.ECX)).to.equal(0);
        });
      }

      it('a page fault in a later page leaves ESI, EDI, ECX as after the elements before it, EIP on the instruction', () => {
        const h = paged([REP, MOVSW]); // MOVSD: four dwords fit before the third page
        const IDT = 0x3000, PF_HANDLER = 0x5000;
        h.cpu.st[S.IDTR_BASE] = IDT;
        h.cpu.st[S.IDTR_LIMIT] = 0x7ff;
        h.load(IDT + 14 * 8, [PF_HANDLER & 0xff, PF_HANDLER >> 8, 0x08, 0x00, 0x00, 0x8e, 0x00, 0x00]).load(PF_HANDLER, [HLT]);
        h.load(PT + ((REGION + 0x2000) >> 12) * 4, [0, 0, 0, 0]); // the region's third page: not present
        h.run(5);
        const at = h.eip;
        h.set(Reg.ESI, REGION + 0x1ff0).set(Reg.EDI, REGION + 0x100).set(Reg.ECX, 100);
        h.load(physical(REGION + 0x1ff0), Array.from({ length: 16 }, (_, k) => k + 1));
        h.run();
        expect(h.eip).to.equal(PF_HANDLER + 1);
        const esp = h.get(Reg.ESP);
        expect([h.read32(esp + 4), h.get(Reg.ESI), h.get(Reg.EDI), h.get(Reg.ECX), h.cpu.st[S.CR2] >>> 0])
          .to.deep.equal([at, REGION + 0x2000, REGION + 0x110, 96, REGION + 0x2000]);
        expect(h.read8(physical(REGION + 0x10f))).to.equal(16);
      });
    });

    it('REP STOSB into a device region writes each byte through the device', () => {
      const h = flat([REP, STOSB]).set(Reg.EAX, 0x33).set(Reg.EDI, 0x100ffe).set(Reg.ECX, 4);
      const seen: number[] = [];
      h.mem.mapMmio(0x101000, 0x1000, { read8: () => 0, write8: (a, v) => { seen.push(a, v); } }, 'test mmio');
      h.run();
      expect(seen).to.deep.equal([0x101000, 0x33, 0x101001, 0x33]);
      expect(bytesAt(h, 0x100ffe, 2)).to.deep.equal([0x33, 0x33]);
    });
  });

  it('leaves EFLAGS alone for MOVS, STOS, LODS, INS, OUTS', () => {
    const h = real([REP, MOVSB, STOSB, LODSB]).set(Reg.ECX, 2);
    h.cpu.setEflags(CF | ZF, CF | ZF);
    h.run();
    expect(h.eflags & (CF | ZF)).to.equal(CF | ZF);
    expect(h.cpu.st[S.HALTED]).to.equal(1);
  });
});
