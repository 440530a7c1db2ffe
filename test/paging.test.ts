import { expect } from 'chai';
import { CpuHarness, Reg, S } from './support/cpu-harness.js';
import { CpuFault, Vec } from '../core/cpu/faults.js';
import { readDescriptor } from '../core/cpu/segments.js';
import { TLB_BASE, TLB_CODE, TLB_ENTRIES, TLB_NOT_RAM } from '../core/mmu/paging.js';

/** Page-structure bits (SDM Vol. 3A, 4.3). */
const P = 0x1, RW = 0x2, US = 0x4, A = 0x20, D = 0x40, PS = 0x80, G = 0x100;
const CR0_WP = 0x10000;
/** PDPTE bits reserved under PAE: 1, 2, 5-8. */
const PDPTE_RESERVED_LOW = 0x1e6;

/** Page directory, the table identity-mapping the first 4 MiB, the table of linear 0x400000-0x7FFFFF. */
const PD = 0x20000, PT0 = 0x21000, PT1 = 0x22000;
const IDT = 0x3000, PF_HANDLER = 0x5000, GP_HANDLER = 0x5100;
/** Physical pages the tests map at linear 0x400000 and up. */
const FRAME_A = 0x30000, FRAME_B = 0x31000, FRAME_C = 0x35000;

const imm = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];

/**
 * mov eax, cr3Value; mov cr3, eax; mov eax, cr0; or eax, PG | extra; mov cr0, eax — preceded,
 * when `cr4` is set, by mov eax, cr4; or eax, cr4; mov cr4, eax.
 */
function enablePaging(cr0Extra = 0, cr4 = 0, cr3Value = PD): number[] {
  const or = (v: number): number[] => [0x0d, ...imm(v)];
  const cr4Code = cr4 ? [0x0f, 0x20, 0xe0, ...or(cr4), 0x0f, 0x22, 0xe0] : [];
  return [...cr4Code, 0xb8, ...imm(cr3Value), 0x0f, 0x22, 0xd8, 0x0f, 0x20, 0xc0, ...or(0x80000000 | cr0Extra), 0x0f, 0x22, 0xc0];
}

function put32(h: CpuHarness, address: number, v: number): void {
  h.load(address, imm(v));
}

/**
 * Flat 32-bit harness running `enablePaging()` then `body` from 0x10000. The first 2 MiB (all
 * of RAM) are identity-mapped read/write/user; linear 0x400000 and up go through PT1, whose
 * entries the tests write. #PF and #GP enter handlers that halt.
 */
function paged(body: number[], cr0Extra = 0, cr4 = 0, cr3Value = PD): { h: CpuHarness; at: number } {
  const prologue = enablePaging(cr0Extra, cr4, cr3Value);
  const h = new CpuHarness().flat32([...prologue, ...body]);
  h.cpu.st[S.IDTR_BASE] = IDT;
  h.cpu.st[S.IDTR_LIMIT] = 0x7ff;
  const gate = IDT + Vec.PF * 8;
  h.load(gate, [PF_HANDLER & 0xff, PF_HANDLER >> 8, 0x08, 0x00, 0x00, 0x8e, 0x00, 0x00]);
  h.load(PF_HANDLER, [0xf4]);
  const gpGate = IDT + Vec.GP * 8;
  h.load(gpGate, [GP_HANDLER & 0xff, GP_HANDLER >> 8, 0x08, 0x00, 0x00, 0x8e, 0x00, 0x00]);
  h.load(GP_HANDLER, [0xf4]);
  put32(h, PD, PT0 | P | RW | US);
  put32(h, PD + 4, PT1 | P | RW | US);
  for (let page = 0; page < 512; page++) put32(h, PT0 + page * 4, (page << 12) | P | RW | US);
  return { h, at: 0x10000 + prologue.length };
}

/** Loads `code` where the halted harness stopped and runs it; returns its address. */
function continueWith(h: CpuHarness, code: number[]): number {
  const at = h.eip;
  h.load(at, code);
  h.cpu.st[S.HALTED] = 0;
  h.run();
  return at;
}

/** After #PF reached the handler: the error code, the saved EIP and CR2. */
function pageFault(h: CpuHarness): { code: number; eip: number; cr2: number } {
  expect(h.eip, 'the #PF handler ran').to.equal(PF_HANDLER + 1);
  const esp = h.get(Reg.ESP);
  return { code: h.read32(esp), eip: h.read32(esp + 4), cr2: h.cpu.st[S.CR2] >>> 0 };
}

/** After #GP reached its handler: the error code and the saved EIP. */
function protectionFault(h: CpuHarness): { code: number; eip: number } {
  expect(h.eip, 'the #GP handler ran').to.equal(GP_HANDLER + 1);
  const esp = h.get(Reg.ESP);
  return { code: h.read32(esp), eip: h.read32(esp + 4) };
}

/** The fault a direct linear access raises (for CPL 3, which the IDT cannot enter yet from ring 3). */
function faultOf(access: () => void): CpuFault {
  try {
    access();
  } catch (e) {
    if (e instanceof CpuFault) return e;
    throw e;
  }
  throw new Error('no fault');
}

describe('paging (32-bit, two-level)', () => {
  it('translates 4 KiB pages and sets A on the PDE, A and D on the PTE written, only A on the PTE read', () => {
    // mov dword [0x400010], 0x12345678; mov ebx, [0x400010]; mov ecx, [0x401020]; hlt
    const { h } = paged([0xc7, 0x05, 0x10, 0x00, 0x40, 0x00, 0x78, 0x56, 0x34, 0x12, 0x8b, 0x1d, 0x10, 0x00, 0x40, 0x00,
      0x8b, 0x0d, 0x20, 0x10, 0x40, 0x00, 0xf4]);
    put32(h, PT1, FRAME_A | P | RW);
    put32(h, PT1 + 4, FRAME_C | P | RW);
    put32(h, FRAME_C + 0x20, 0xdeadbeef);
    h.run();
    expect(h.read32(FRAME_A + 0x10)).to.equal(0x12345678);
    expect(h.get(Reg.EBX)).to.equal(0x12345678);
    expect(h.get(Reg.ECX)).to.equal(0xdeadbeef);
    expect(h.read32(PD + 4) & (A | D)).to.equal(A);
    expect(h.read32(PT1) & (A | D)).to.equal(A | D);
    expect(h.read32(PT1 + 4) & (A | D)).to.equal(A);
  });

  it('translates 4 MiB pages with CR4.PSE and sets A, then D, on the PDE', () => {
    // mov ebx, [0x800010]; hlt — then mov dword [0x800020], 0xcafe; hlt
    const { h } = paged([0x8b, 0x1d, 0x10, 0x00, 0x80, 0x00, 0xf4], 0, 0x10);
    put32(h, PD + 8, 0x00000000 | PS | P | RW);                              // linear 8 MiB -> physical 0
    put32(h, 0x10, 0x5a5a5a5a);
    h.run();
    expect(h.cpu.st[S.CR4]).to.equal(0x10);
    expect(h.get(Reg.EBX)).to.equal(0x5a5a5a5a);
    expect(h.read32(PD + 8) & (A | D)).to.equal(A);
    continueWith(h, [0xc7, 0x05, 0x20, 0x00, 0x80, 0x00, 0xfe, 0xca, 0x00, 0x00, 0xf4]);
    expect(h.read32(0x20)).to.equal(0xcafe);
    expect(h.read32(PD + 8) & (A | D)).to.equal(A | D);
  });

  it('INVLPG of any address in a 4 MiB page drops every cached piece of it', () => {
    const { h } = paged([0xf4], 0, 0x10);
    put32(h, PD + 8, 0x00000000 | PS | P | RW);                              // linear 8 MiB -> physical 0
    put32(h, 0x1000, 0x1111);
    h.run();
    expect(h.cpu.readLin32(0x801000)).to.equal(0x1111);
    put32(h, PD + 8, 0x00400000 | PS | P | RW);                              // beyond RAM: open bus
    h.cpu.paging.flushPage(0xc00000);                                        // the next 4 MiB page: kept
    expect(h.cpu.readLin32(0x801000)).to.equal(0x1111);
    h.cpu.paging.flushPage(0xbff000);
    expect(h.cpu.readLin32(0x801000)).to.equal(-1);
  });

  describe('#PF error codes, CR2 and the saved EIP', () => {
    const READ = [0xa1, 0x00, 0x00, 0x40, 0x00, 0xf4];                        // mov eax, [0x400000]
    const WRITE = [0xc7, 0x05, 0x00, 0x00, 0x40, 0x00, 0x01, 0x00, 0x00, 0x00, 0xf4]; // mov dword [0x400000], 1

    it('read of a page whose PDE is not present: 0', () => {
      const { h, at } = paged(READ);
      put32(h, PD + 4, 0);
      h.run();
      expect(pageFault(h)).to.deep.equal({ code: 0, eip: at, cr2: 0x400000 });
    });

    it('read of a page whose PTE is not present: 0; write: 2 (W)', () => {
      for (const [body, code] of [[READ, 0], [WRITE, 2]] as const) {
        const { h, at } = paged([...body]);
        h.run();
        expect(pageFault(h)).to.deep.equal({ code, eip: at, cr2: 0x400000 });
      }
    });

    it('supervisor write to a read-only page with CR0.WP: 3 (P, W), memory unchanged', () => {
      const { h, at } = paged(WRITE, CR0_WP);
      put32(h, PT1, FRAME_A | P);
      h.run();
      expect(pageFault(h)).to.deep.equal({ code: 3, eip: at, cr2: 0x400000 });
      expect(h.read32(FRAME_A)).to.equal(0);
      expect(h.read32(PT1) & D).to.equal(0);
    });

    it('a read-modify-write into a read-only page faults before it changes flags or memory', () => {
      // clc; add dword [0x400000], 1 -- 0xFFFFFFFF + 1 would set CF and ZF
      const { h, at } = paged([0xf8, 0x83, 0x05, 0x00, 0x00, 0x40, 0x00, 0x01, 0xf4], CR0_WP);
      put32(h, PT1, FRAME_A | P);
      put32(h, FRAME_A, 0xffffffff);
      h.run();
      expect(pageFault(h)).to.deep.equal({ code: 3, eip: at + 1, cr2: 0x400000 });
      expect(h.read32(FRAME_A)).to.equal(0xffffffff);
      // The EFLAGS pushed at the fault are those from before the ADD: CF and ZF clear.
      const pushedFlags = h.read32(h.get(Reg.ESP) + 12);
      expect(pushedFlags & 0x41).to.equal(0);
    });

    it('a read-only PDE protects its whole table just as a read-only PTE does', () => {
      const { h } = paged(WRITE, CR0_WP);
      put32(h, PD + 4, PT1 | P | US);
      put32(h, PT1, FRAME_A | P | RW);
      h.run();
      expect(pageFault(h).code).to.equal(3);
    });

    it('supervisor write to a read-only page without CR0.WP succeeds and sets D', () => {
      const { h } = paged(WRITE);
      put32(h, PT1, FRAME_A | P);
      h.run();
      expect(h.eip).to.not.equal(PF_HANDLER + 1);
      expect(h.read32(FRAME_A)).to.equal(1);
      expect(h.read32(PT1) & (A | D)).to.equal(A | D);
    });

    it('CPL 3: not present 4/6, supervisor page 5/7, read-only user page 7 even without WP', () => {
      const { h } = paged([0xf4]);
      put32(h, PT1, FRAME_A | P | RW);                                       // supervisor page
      put32(h, PT1 + 4, FRAME_B | P | US);                                   // read-only user page
      put32(h, PT1 + 8, FRAME_C | P | RW | US);                              // user page
      put32(h, FRAME_B, 0x77);
      h.run();
      h.cpu.st[S.CPL] = 3;
      const cpu = h.cpu;
      const cases: [() => void, number, number][] = [
        [() => cpu.readLin32(0x403000), 4, 0x403000],
        [() => cpu.writeLin8(0x403005, 1), 6, 0x403005],
        [() => cpu.readLin8(0x400010), 5, 0x400010],
        [() => cpu.writeLin16(0x400020, 1), 7, 0x400020],
        [() => cpu.writeLin32(0x401000, 1), 7, 0x401000],
      ];
      for (const [access, code, cr2] of cases) {
        const f = faultOf(access);
        expect([f.vector, f.errorCode, h.cpu.st[S.CR2] >>> 0]).to.deep.equal([Vec.PF, code, cr2]);
      }
      expect(cpu.readLin32(0x401000)).to.equal(0x77);
      cpu.writeLin32(0x402000, 0x1234);
      expect(h.read32(FRAME_C)).to.equal(0x1234);
      h.cpu.st[S.CPL] = 0;
      expect(cpu.readLin8(0x400010)).to.equal(0);                            // the same page is fine for CPL 0
    });
  });

  it('a TLB entry filled by a read walks again on the first write, to set D', () => {
    const { h } = paged([0xf4]);
    put32(h, PT1, FRAME_A | P | RW);
    h.run();
    h.cpu.readLin32(0x400000);
    expect(h.read32(PT1) & (A | D)).to.equal(A);
    h.cpu.writeLin32(0x400000, 5);
    expect(h.read32(PT1) & (A | D)).to.equal(A | D);
  });

  it('global pages survive a CR3 reload but not INVLPG; other pages are reloaded', () => {
    // mov ebx, [0x400000]; mov esi, [0x401000]; mov dword [PT1], FRAME_B|G|RW|P;
    // mov dword [PT1+4], FRAME_A|RW|P; mov eax, cr3; mov cr3, eax; mov ecx, [0x400000];
    // mov edi, [0x401000]; invlpg [0x400000]; mov edx, [0x400000]; hlt
    const { h } = paged([
      0x8b, 0x1d, 0x00, 0x00, 0x40, 0x00, 0x8b, 0x35, 0x00, 0x10, 0x40, 0x00,
      0xc7, 0x05, ...imm(PT1), ...imm(FRAME_B | G | RW | P), 0xc7, 0x05, ...imm(PT1 + 4), ...imm(FRAME_A | RW | P),
      0x0f, 0x20, 0xd8, 0x0f, 0x22, 0xd8, 0x8b, 0x0d, 0x00, 0x00, 0x40, 0x00, 0x8b, 0x3d, 0x00, 0x10, 0x40, 0x00,
      0x0f, 0x01, 0x3d, 0x00, 0x00, 0x40, 0x00, 0x8b, 0x15, 0x00, 0x00, 0x40, 0x00, 0xf4,
    ], 0, 0x80);
    put32(h, PT1, FRAME_A | G | P | RW);
    put32(h, PT1 + 4, FRAME_B | P | RW);
    put32(h, FRAME_A, 0xaaaa);
    put32(h, FRAME_B, 0xbbbb);
    h.run();
    expect([Reg.EBX, Reg.ESI, Reg.ECX, Reg.EDI, Reg.EDX].map((r) => h.get(r).toString(16)))
      .to.deep.equal(['aaaa', 'bbbb', 'aaaa', 'aaaa', 'bbbb']);
  });

  it('the JIT\'s epochs: a CR3 load moves MAPPING_EPOCH only, CR0.PG both; INVLPG moves neither but reports its page', () => {
    const { h } = paged([0xf4], 0, 0x80);
    h.run();
    const st = h.cpu.st;
    const flushed: [number, number][] = [];
    h.cpu.paging.onFlushPages = (first, count) => flushed.push([first, count]);
    const epochs = (): number[] => [st[S.MAPPING_EPOCH], st[S.GLOBAL_EPOCH]];
    const [mapping, global] = epochs();
    continueWith(h, [0x0f, 0x20, 0xd8, 0x0f, 0x22, 0xd8, 0xf4]); // mov eax, cr3 / mov cr3, eax
    expect(epochs()).to.deep.equal([mapping + 1, global]);
    continueWith(h, [0x0f, 0x01, 0x3d, ...imm(0x401234), 0xf4]); // invlpg [0x401234]
    expect(epochs()).to.deep.equal([mapping + 1, global]);
    expect(flushed).to.deep.equal([[0x401, 1]]);
    continueWith(h, [0x0f, 0x20, 0xc0, 0x25, ...imm(0x7fffffff), 0x0f, 0x22, 0xc0, 0xf4]); // paging off
    expect(epochs()).to.deep.equal([mapping + 2, global + 1]);
  });

  it('without CR4.PGE the G bit is ignored: a CR3 reload drops the page', () => {
    const { h } = paged([0xf4]);
    put32(h, PT1, FRAME_A | G | P | RW);
    put32(h, FRAME_B, 0xbbbb);
    h.run();
    h.cpu.readLin32(0x400000);
    put32(h, PT1, FRAME_B | G | P | RW);
    // mov eax, cr3; mov cr3, eax; mov ebx, [0x400000]; hlt
    continueWith(h, [0x0f, 0x20, 0xd8, 0x0f, 0x22, 0xd8, 0x8b, 0x1d, 0x00, 0x00, 0x40, 0x00, 0xf4]);
    expect(h.get(Reg.EBX)).to.equal(0xbbbb);
  });

  it('keeps using a stale translation until INVLPG', () => {
    // mov ebx, [0x401000]; mov dword [PT1+4], FRAME_A|RW|P; mov ecx, [0x401000]; invlpg [0x401000]; mov edx, [0x401000]; hlt
    const { h } = paged([0x8b, 0x1d, 0x00, 0x10, 0x40, 0x00, 0xc7, 0x05, 0x04, 0x20, 0x02, 0x00, 0x03, 0x00, 0x03, 0x00,
      0x8b, 0x0d, 0x00, 0x10, 0x40, 0x00, 0x0f, 0x01, 0x3d, 0x00, 0x10, 0x40, 0x00, 0x8b, 0x15, 0x00, 0x10, 0x40, 0x00, 0xf4]);
    put32(h, PT1 + 4, FRAME_B | P | RW);
    put32(h, FRAME_A, 0xaaaa);
    put32(h, FRAME_B, 0xbbbb);
    h.run();
    expect([h.get(Reg.EBX), h.get(Reg.ECX), h.get(Reg.EDX)]).to.deep.equal([0xbbbb, 0xbbbb, 0xaaaa]);
  });

  it('a TLB entry says whether its frame is RAM and holds code, kept current as code is marked and unmarked', () => {
    // mov ebx, [0x400000]; mov ecx, [0x401000]; hlt — PT1 maps linear 0x400000 to FRAME_A, 0x401000 to the local APIC's page.
    const { h } = paged([0x8b, 0x1d, 0x00, 0x00, 0x40, 0x00, 0x8b, 0x0d, 0x00, 0x10, 0x40, 0x00, 0xf4]);
    h.mem.mapMmio(0xfee00000, 0x1000, { read8: () => 0, write8: () => {} }, 'test-mmio');
    put32(h, PT1, FRAME_A | P | RW);
    put32(h, PT1 + 4, 0xfee00000 | P | RW);
    h.run();
    const frameWord = (lin: number): number => {
      const slot = (lin >>> 12) & (TLB_ENTRIES - 1);
      const tlb = new Int32Array(h.memory.buffer, TLB_BASE, TLB_ENTRIES * 2);
      expect(tlb[slot * 2]).to.equal(lin >>> 12);
      return tlb[slot * 2 + 1];
    };
    expect(frameWord(0x400000) & (TLB_NOT_RAM | TLB_CODE)).to.equal(0);
    expect(frameWord(0x401000) & TLB_NOT_RAM).to.equal(TLB_NOT_RAM);
    h.mem.markCode(FRAME_A >>> 12, 2);
    expect(frameWord(0x400000) & TLB_CODE).to.equal(TLB_CODE);
    h.mem.markCode(FRAME_A >>> 12, 1);
    h.mem.unmarkCode(FRAME_A >>> 12, 2);
    expect(frameWord(0x400000) & TLB_CODE, 'another holder keeps the page').to.equal(TLB_CODE);
    h.mem.unmarkCode(FRAME_A >>> 12, 1);
    expect(frameWord(0x400000) & TLB_CODE).to.equal(0);
    expect(frameWord(0x400000) & ~0xfff).to.equal(FRAME_A);
  });

  it('turning CR0.WP on flushes the TLB: a dirty read-only page then faults', () => {
    const { h } = paged([0xf4]);
    put32(h, PT1, FRAME_A | P);
    h.run();
    h.cpu.writeLin32(0x400000, 1);
    // mov eax, cr0; or eax, WP; mov cr0, eax; mov dword [0x400000], 2; hlt
    const at = continueWith(h, [0x0f, 0x20, 0xc0, 0x0d, 0x00, 0x00, 0x01, 0x00, 0x0f, 0x22, 0xc0, 0xc7, 0x05, 0x00, 0x00, 0x40, 0x00, 0x02, 0x00, 0x00, 0x00, 0xf4]);
    expect(pageFault(h)).to.deep.equal({ code: 3, eip: at + 11, cr2: 0x400000 });
    expect(h.read32(FRAME_A)).to.equal(1);
  });

  it('descriptor-table reads are supervisor accesses even at CPL 3', () => {
    const { h } = paged([0xf4]);
    h.run();
    put32(h, PT0, P | RW);                  // page 0 (the GDT at 0x800) supervisor-only
    h.cpu.paging.flushAll();
    h.cpu.st[S.CPL] = 3;
    expect(readDescriptor(h.cpu, 0x08).flags & 0x80).to.equal(0x80);
    expect(faultOf(() => h.cpu.readLin32(0x800))).to.deep.include({ vector: Vec.PF, errorCode: 5 });
  });

  describe('page-crossing writes', () => {
    it('a dword write reaching an absent page faults on it and leaves the first page unchanged', () => {
      const { h, at } = paged([0xc7, 0x05, 0xfe, 0x0f, 0x40, 0x00, 0x44, 0x33, 0x22, 0x11, 0xf4]); // mov dword [0x400ffe], 0x11223344
      put32(h, PT1, FRAME_A | P | RW);
      put32(h, FRAME_A + 0xffc, 0xeeeeeeee);
      h.run();
      expect(pageFault(h)).to.deep.equal({ code: 2, eip: at, cr2: 0x401000 });
      expect(h.read32(FRAME_A + 0xffc)).to.equal(0xeeeeeeee);
    });

    it('a word write reaching a read-only page (WP) faults with 3 and leaves the first page unchanged', () => {
      const { h, at } = paged([0x66, 0xc7, 0x05, 0xff, 0x0f, 0x40, 0x00, 0x66, 0x55, 0xf4], CR0_WP); // mov word [0x400fff], 0x5566
      put32(h, PT1, FRAME_A | P | RW);
      put32(h, PT1 + 4, FRAME_B | P);
      put32(h, FRAME_A + 0xffc, 0xeeeeeeee);
      h.run();
      expect(pageFault(h)).to.deep.equal({ code: 3, eip: at, cr2: 0x401000 });
      expect(h.read32(FRAME_A + 0xffc)).to.equal(0xeeeeeeee);
      expect(h.read8(FRAME_B)).to.equal(0);
    });

    it('a dword write across two mapped pages lands in both frames', () => {
      const { h } = paged([0xc7, 0x05, 0xfe, 0x0f, 0x40, 0x00, 0x44, 0x33, 0x22, 0x11, 0xa1, 0xfe, 0x0f, 0x40, 0x00, 0xf4]);
      put32(h, PT1, FRAME_A | P | RW);
      put32(h, PT1 + 4, FRAME_C | P | RW);
      h.run();
      expect(h.read16(FRAME_A + 0xffe)).to.equal(0x3344);
      expect(h.read16(FRAME_C)).to.equal(0x1122);
      expect(h.get(Reg.EAX)).to.equal(0x11223344);                              // mov eax, [0x400ffe] reads it back
    });
  });

  describe('instruction fetch', () => {
    it('a jump to an absent page faults at the target: CR2 and the saved EIP are the target', () => {
      const { h } = paged([0xb8, 0x00, 0x00, 0x40, 0x00, 0xff, 0xe0]);     // mov eax, 0x400000; jmp eax
      h.run();
      expect(pageFault(h)).to.deep.equal({ code: 0, eip: 0x400000, cr2: 0x400000 });
    });

    it('an instruction running into an absent page faults with CR2 there and EIP at the instruction', () => {
      const { h } = paged([0xb8, 0xfe, 0x0f, 0x40, 0x00, 0xff, 0xe0]);     // mov eax, 0x400ffe; jmp eax
      put32(h, PT1, FRAME_A | P | RW);
      h.load(FRAME_A + 0xffe, [0xb8, 0x01]);                                 // mov eax, imm32 cut by the page end
      h.run();
      expect(pageFault(h)).to.deep.equal({ code: 0, eip: 0x400ffe, cr2: 0x401000 });
    });

    it('runs code through a mapping, and the mapped code after a remap', () => {
      // mov eax, 0x400000; call eax; hlt — the page holds "mov ebx, 1; ret", then "mov ebx, 2; ret"
      const { h } = paged([0xb8, 0x00, 0x00, 0x40, 0x00, 0xff, 0xd0, 0xf4]);
      put32(h, PT1, FRAME_A | P | RW);
      h.load(FRAME_A, [0xbb, 0x01, 0x00, 0x00, 0x00, 0xc3]);
      h.load(FRAME_B, [0xbb, 0x02, 0x00, 0x00, 0x00, 0xc3]);
      h.run();
      expect(h.get(Reg.EBX)).to.equal(1);
      put32(h, PT1, FRAME_B | P | RW);
      h.cpu.paging.flushPage(0x400000);
      h.cpu.st[S.HALTED] = 0;
      h.cpu.st[S.EIP] = h.eip - 3;                                           // the call again
      h.run();
      expect(h.get(Reg.EBX)).to.equal(2);
    });
  });
});

describe('PAE paging', () => {
  const CR4_PAE = 0x20, CR4_PGE = 0x80;
  /** The PDPT (32-byte aligned, not page aligned), the page directory of PDPTE 0, its table for 0-2 MiB (identity) and for 4-6 MiB. */
  const PDPT = 0x24020, PAE_PD = 0x25000, PAE_PT0 = 0x26000, PAE_PT1 = 0x27000, PAE_PD1 = 0x28000;
  /** High-dword bits: 63 (XD, reserved without EFER.NXE), 40, 36 (above MAXPHYADDR). */
  const BIT63 = 0x80000000 | 0, BIT40 = 0x100, BIT36 = 0x10;
  const PDE = (n: number): number => PAE_PD + n * 8;
  const PTE1 = (n: number): number => PAE_PT1 + n * 8;

  function put64(h: CpuHarness, address: number, low: number, high = 0): void {
    put32(h, address, low);
    put32(h, address + 4, high);
  }

  /**
   * As `paged`, with CR4.PAE set before CR3 = PDPT and CR0.PG: PDPTE 0 -> PAE_PD, whose PDE 0
   * identity-maps 0-2 MiB (all of RAM) and PDE 2 covers linear 0x400000-0x5FFFFF with PAE_PT1.
   */
  function pagedPae(body: number[], cr0Extra = 0, cr4 = 0): { h: CpuHarness; at: number } {
    const paging = paged(body, cr0Extra, CR4_PAE | cr4, PDPT);
    const h = paging.h;
    put64(h, PDPT, PAE_PD | P);
    put64(h, PDE(0), PAE_PT0 | P | RW | US);
    put64(h, PDE(2), PAE_PT1 | P | RW | US);
    for (let page = 0; page < 512; page++) put64(h, PAE_PT0 + page * 8, (page << 12) | P | RW | US);
    return paging;
  }

  /** PAE paging on, halted; the fault a direct access raises, with CR2. */
  function paeFault(h: CpuHarness, access: () => void): [number, number, number] {
    const f = faultOf(access);
    return [f.vector, f.errorCode, h.cpu.st[S.CR2] >>> 0];
  }

  it('translates 4 KiB pages through the PDPTE, 64-bit PDE and PTE, and sets A/D in their low dwords', () => {
    // mov dword [0x400010], 0x12345678; mov ebx, [0x400010]; mov ecx, [0x401020]; hlt
    const { h } = pagedPae([0xc7, 0x05, 0x10, 0x00, 0x40, 0x00, 0x78, 0x56, 0x34, 0x12, 0x8b, 0x1d, 0x10, 0x00, 0x40, 0x00,
      0x8b, 0x0d, 0x20, 0x10, 0x40, 0x00, 0xf4]);
    put64(h, PTE1(0), FRAME_A | P | RW);
    put64(h, PTE1(1), FRAME_C | P | RW);
    put32(h, FRAME_C + 0x20, 0xdeadbeef);
    h.run();
    expect(h.cpu.st[S.CR3]).to.equal(PDPT);
    expect(h.read32(FRAME_A + 0x10)).to.equal(0x12345678);
    expect([h.get(Reg.EBX), h.get(Reg.ECX)]).to.deep.equal([0x12345678, 0xdeadbeef]);
    expect(h.read32(PDE(2)) & (A | D)).to.equal(A);
    expect(h.read32(PTE1(0)) & (A | D)).to.equal(A | D);
    expect(h.read32(PTE1(1)) & (A | D)).to.equal(A);
    expect([h.read32(PDE(2) + 4), h.read32(PTE1(0) + 4), h.read32(PDPT) & (A | D)]).to.deep.equal([0, 0, 0]);
  });

  it('maps 2 MiB pages with PDE.PS without CR4.PSE, setting A then D in the PDE', () => {
    const { h } = pagedPae([0xf4]);
    put64(h, PDE(3), 0x00000000 | PS | P | RW);                              // linear 6 MiB -> physical 0
    put32(h, 0x1234, 0x5a5a5a5a);
    h.run();
    expect(h.cpu.st[S.CR4]).to.equal(CR4_PAE);
    expect(h.cpu.readLin32(0x601234)).to.equal(0x5a5a5a5a);
    expect(h.read32(PDE(3)) & (A | D)).to.equal(A);
    h.cpu.writeLin32(0x7ffff0, 0xcafe);                                      // the last bytes of the 2 MiB page
    expect(h.read32(0x1ffff0)).to.equal(0xcafe);
    expect(h.read32(PDE(3)) & (A | D)).to.equal(A | D);
  });

  it('a not-present PDPTE faults with error code 0 (2 for a write) at the access, reserved bits and all', () => {
    const { h, at } = pagedPae([0xa1, 0x10, 0x00, 0x00, 0x40, 0xf4]);        // mov eax, [0x40000010]
    put64(h, PDPT + 8, PDPTE_RESERVED_LOW, BIT63);                         // P = 0: the rest is ignored
    h.run();
    expect(pageFault(h)).to.deep.equal({ code: 0, eip: at, cr2: 0x40000010 });
    expect(paeFault(h, () => h.cpu.writeLin8(0xc0000000, 1))).to.deep.equal([Vec.PF, 2, 0xc0000000]);
  });

  it('not-present PDE and PTE: error code 0 / 2', () => {
    const { h } = pagedPae([0xf4]);
    h.run();
    expect(paeFault(h, () => h.cpu.readLin32(0x800000))).to.deep.equal([Vec.PF, 0, 0x800000]);
    expect(paeFault(h, () => h.cpu.writeLin32(0x402ff0, 1))).to.deep.equal([Vec.PF, 2, 0x402ff0]);
  });

  it('a reserved bit in a present PDE or PTE is #PF with RSVD (8) and P, found before access rights', () => {
    const { h, at } = pagedPae([0xa1, 0x00, 0x00, 0x40, 0x00, 0xf4]);        // mov eax, [0x400000]
    put64(h, PTE1(0), FRAME_A | P | RW, BIT63);
    h.run();
    expect(pageFault(h)).to.deep.equal({ code: 9, eip: at, cr2: 0x400000 });
    const cases: [number, number, number, (lin: number) => void, number, number][] = [
      [PTE1(1), FRAME_A | P | RW, BIT40, (lin) => h.cpu.writeLin32(lin, 1), 0x401004, 0xb],
      [PTE1(2), FRAME_A | P | RW, BIT36, (lin) => h.cpu.readLin8(lin), 0x402000, 9],
      [PTE1(3), FRAME_A | P, BIT63, (lin) => h.cpu.writeLin8(lin, 1), 0x403000, 0xb],  // also read-only: RSVD wins
      [PDE(3), PS | P | RW, BIT63, (lin) => h.cpu.readLin32(lin), 0x600000, 9],
      [PDE(3), 0x2000 | PS | P | RW, 0, (lin) => h.cpu.readLin32(lin), 0x600000, 9],   // bit 13 of a 2 MiB PDE
      [PDE(3), 0x100000 | PS | P | RW, 0, (lin) => h.cpu.readLin32(lin), 0x7ff000, 9], // bit 20
      [PDE(4), PAE_PT1 | P | RW, BIT40, (lin) => h.cpu.readLin32(lin), 0x800000, 9],   // a PDE over a table
    ];
    for (const [entry, low, high, access, lin, code] of cases) {
      put64(h, entry, low, high);
      h.cpu.paging.flushAll();
      expect(paeFault(h, () => access(lin)), `entry 0x${entry.toString(16)}`).to.deep.equal([Vec.PF, code, lin]);
    }
    put64(h, PTE1(5), FRAME_A | RW, BIT63);                                  // not present: P=0 wins
    expect(paeFault(h, () => h.cpu.readLin32(0x405000))).to.deep.equal([Vec.PF, 0, 0x405000]);
    put64(h, PTE1(6), FRAME_A | P | RW, BIT40);
    h.cpu.st[S.CPL] = 3;                                                     // supervisor page from CPL 3: still RSVD
    expect(paeFault(h, () => h.cpu.readLin32(0x406000))).to.deep.equal([Vec.PF, 0xd, 0x406000]);
    h.cpu.st[S.CPL] = 0;
    expect(h.read32(PTE1(6)) & A).to.equal(0);                               // no A/D set by a faulting walk
  });

  it('PDPTE bits 3, 4 (PWT, PCD) and 9-11 (ignored) are not reserved', () => {
    const { h } = pagedPae([0xf4]);
    put64(h, PDPT, PAE_PD | 0xe18 | P);
    h.run();
    expect(h.cpu.readLin32(0x1000)).to.equal(h.read32(0x1000));
  });

  describe('#GP(0) when a MOV to CR loads a present PDPTE with a reserved bit set', () => {
    const BAD_PDPT = 0x24040;
    const MOV_CR3 = [0xb8, ...imm(BAD_PDPT), 0x0f, 0x22, 0xd8, 0xf4];        // mov eax, BAD_PDPT; mov cr3, eax; hlt

    it('MOV CR3: bits 1, 2, 5-8 and 36-63; CR3 and the PDPTE registers keep their values', () => {
      const bad: [number, number][] = [[0x2, 0], [0x4, 0], [0x20, 0], [0x40, 0], [0x80, 0], [0x100, 0], [0, BIT36], [0, BIT40], [0, BIT63]];
      for (const [low, high] of bad) {
        const { h } = pagedPae([0xf4]);
        h.run();
        put64(h, BAD_PDPT, PAE_PD | P);
        put64(h, BAD_PDPT + 24, PAE_PD | P | low, high);                     // PDPTE 3
        const at = continueWith(h, MOV_CR3);
        expect(protectionFault(h), `0x${high.toString(16)}:${low.toString(16)}`).to.deep.equal({ code: 0, eip: at + 5 });
        expect(h.cpu.st[S.CR3]).to.equal(PDPT);
        expect(paeFault(h, () => h.cpu.readLin32(0xc0000000))).to.deep.equal([Vec.PF, 0, 0xc0000000]);
      }
    });

    it('MOV CR3 loads the PDPTEs: later writes to the PDPT matter only at the next load', () => {
      const { h } = pagedPae([0xf4]);
      put64(h, PAE_PD1, 0x00000000 | PS | P | RW);                           // linear 1 GiB -> physical 0, 2 MiB
      put32(h, 0x10, 0x600d);
      h.run();
      put64(h, PDPT + 8, PAE_PD1 | P);
      h.cpu.paging.flushAll();
      expect(paeFault(h, () => h.cpu.readLin32(0x40000010))).to.deep.equal([Vec.PF, 0, 0x40000010]);
      continueWith(h, [0x0f, 0x20, 0xd8, 0x0f, 0x22, 0xd8, 0xf4]);           // mov eax, cr3; mov cr3, eax; hlt
      expect(h.cpu.readLin32(0x40000010)).to.equal(0x600d);
    });

    it('MOV CR0 setting PG: #GP(0) with paging still off', () => {
      const { h } = pagedPae([0xf4]);
      put64(h, PDPT + 8, PAE_PD | P | RW);
      h.run();
      expect(protectionFault(h)).to.deep.equal({ code: 0, eip: 0x10000 + enablePaging(0, CR4_PAE, PDPT).length - 3 });
      expect(h.cpu.st[S.CR0] & 0x80000000).to.equal(0);
      expect(h.cpu.pagingOn).to.equal(false);
    });

    it('MOV CR4 setting PAE under 32-bit paging reads the page directory as a PDPT: its U/S and R/W are reserved', () => {
      // mov eax, cr4; or eax, PAE; mov cr4, eax; hlt
      const { h } = paged([0x0f, 0x20, 0xe0, 0x0d, ...imm(CR4_PAE), 0x0f, 0x22, 0xe0, 0xf4]);
      const at = 0x10000 + enablePaging().length;
      h.run();
      expect(protectionFault(h)).to.deep.equal({ code: 0, eip: at + 8 });
      expect(h.cpu.st[S.CR4]).to.equal(0);
    });

    it('MOV CR4 changing PGE reloads the PDPTEs; changing TSD does not', () => {
      const { h } = pagedPae([0xf4]);
      h.run();
      put64(h, PDPT, PAE_PD | P | RW);                                       // now invalid
      continueWith(h, [0x0f, 0x20, 0xe0, 0x0d, 0x04, 0, 0, 0, 0x0f, 0x22, 0xe0, 0xf4]);  // CR4 |= TSD
      expect(h.cpu.st[S.CR4]).to.equal(CR4_PAE | 0x4);
      const at = continueWith(h, [0x0f, 0x20, 0xe0, 0x0d, ...imm(CR4_PGE), 0x0f, 0x22, 0xe0, 0xf4]);
      expect(protectionFault(h)).to.deep.equal({ code: 0, eip: at + 8 });
      expect(h.cpu.st[S.CR4]).to.equal(CR4_PAE | 0x4);
    });
  });

  it('combines R/W and U/S of PDE and PTE: a read-only PDE with WP is 3, a supervisor PDE from CPL 3 is 5', () => {
    const { h } = pagedPae([0xf4], CR0_WP);
    put64(h, PDE(2), PAE_PT1 | P | US);
    put64(h, PDE(3), 0x00000000 | PS | P | RW);
    put64(h, PTE1(0), FRAME_A | P | RW | US);
    h.run();
    expect(paeFault(h, () => h.cpu.writeLin32(0x400000, 1))).to.deep.equal([Vec.PF, 3, 0x400000]);
    h.cpu.st[S.CPL] = 3;
    expect(h.cpu.readLin32(0x400000)).to.equal(0);
    expect(paeFault(h, () => h.cpu.readLin32(0x600000))).to.deep.equal([Vec.PF, 5, 0x600000]);
  });

  it('a global 2 MiB page survives a CR3 reload but not INVLPG of any address in it', () => {
    const { h } = pagedPae([0xf4], 0, CR4_PGE);
    put64(h, PDE(3), 0x00000000 | G | PS | P | RW);
    put64(h, PDE(4), 0x00000000 | PS | P | RW);
    put32(h, 0x10, 0xaaaa);
    h.run();
    expect([h.cpu.readLin32(0x600010), h.cpu.readLin32(0x800010)]).to.deep.equal([0xaaaa, 0xaaaa]);
    put64(h, PDE(3), 0);
    put64(h, PDE(4), 0);
    continueWith(h, [0x0f, 0x20, 0xd8, 0x0f, 0x22, 0xd8, 0xf4]);             // mov eax, cr3; mov cr3, eax; hlt
    expect(h.cpu.readLin32(0x600010)).to.equal(0xaaaa);
    expect(paeFault(h, () => h.cpu.readLin32(0x800010))).to.deep.equal([Vec.PF, 0, 0x800010]);
    h.cpu.paging.flushPage(0x800000);                                        // another 2 MiB page: kept
    expect(h.cpu.readLin32(0x600010)).to.equal(0xaaaa);
    h.cpu.paging.flushPage(0x7ff000);                                        // another 4 KiB piece of it
    expect(paeFault(h, () => h.cpu.readLin32(0x600010))).to.deep.equal([Vec.PF, 0, 0x600010]);
  });

  it('frames and tables above 4 GiB (bits 32-35) are open bus: all ones, writes dropped, no crash', () => {
    const { h } = pagedPae([0xf4]);
    put64(h, PTE1(0), 0x5000 | P | RW, 0x1);                                 // physical 0x1_0000_5000
    put64(h, PDE(3), 0x00000000 | PS | P | RW, 0xf);                         // physical 0xF_0000_0000
    put64(h, PDPT + 8, 0x1000 | P, 0x2);                                     // PD at 0x2_0000_1000
    put32(h, 0x5000, 0x1234);
    h.run();
    h.cpu.writeLin32(0x400000, 0);
    expect([h.cpu.readLin32(0x400000) >>> 0, h.read32(0x5000)]).to.deep.equal([0xffffffff, 0x1234]);
    expect(h.read32(PTE1(0)) & (A | D)).to.equal(A | D);
    expect(h.cpu.readLin32(0x600000) >>> 0).to.equal(0xffffffff);
    // The PDE read from open bus is all ones: present, with reserved bits.
    expect(paeFault(h, () => h.cpu.readLin32(0x40000000))).to.deep.equal([Vec.PF, 9, 0x40000000]);
  });
});
