import { expect } from 'chai';
import { CpuHarness, Reg, S, Seg } from './support/cpu-harness.js';
import { CPU_SIGNATURE } from '../core/cpu/cpu.js';
import { Vec } from '../core/cpu/faults.js';
import { IF, VM, ZF } from '../core/cpu/flags.js';
import { StopReason } from '../core/cpu/interpreter.js';

const HLT = 0xf4, O32 = 0x66;
const CR0_RESET = 0x60000010, CR0_PE = 1, CR0_MP = 2, CR0_EM = 4, CR0_TS = 8;
const CR4_TSD = 4, CR4_DE = 8, CR4_MCE = 0x40;

// ---- machines with a handler per exception vector: vector v runs the stub at 0x9000 + 16 v ----

const STUBS = 0x9000;
const stub = (v: number): number => STUBS + v * 16;

/** Which vector's stub the CPU sits in (a HLT stub leaves EIP one past it), or -1. */
function vectorTaken(h: CpuHarness): number {
  const offset = h.eip - STUBS;
  return offset >= 0 && offset < 32 * 16 ? offset >> 4 : -1;
}

function le32(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
}

function le16(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff];
}

/** Real mode, code at 0x1000, each vector's IVT entry pointing at a HLT stub. */
function real(code: number[]): CpuHarness {
  const h = new CpuHarness().realMode([...code, HLT]);
  for (let v = 0; v < 32; v++) h.load(v * 4, [...le16(stub(v)), 0, 0]).load(stub(v), [HLT]);
  return h;
}

/** A segment descriptor from base, limit (20 bits), access byte and the flags nibble (G, D/B). */
function descriptor(base: number, limit: number, access: number, flags: number): [number, number] {
  const lo = ((base & 0xffff) << 16) | (limit & 0xffff);
  const hi = (base & 0xff000000) | ((flags & 0xf) << 20) | (limit & 0xf0000) | ((access & 0xff) << 8) | ((base >>> 16) & 0xff);
  return [lo, hi];
}

const GDT = 0x800, IDT = 0x1000, LDT = 0x3000, TSS = 0x4000;
const SEL = {
  CODE0: 0x08, DATA0: 0x10, CODE3: 0x18, LDT: 0x20, TSS: 0x28, LDT_ABSENT: 0x30, DATA3: 0x38,
  READ_ONLY: 0x40, EXEC_ONLY: 0x48, CONFORMING: 0x50, INT_GATE: 0x58, TSS_ABSENT: 0x60, CALL_GATE: 0x68,
};
const GDT_ENTRIES: [number, number][] = [
  [0, 0],
  descriptor(0, 0xfffff, 0x9a, 0xc),
  descriptor(0, 0xfffff, 0x92, 0xc),
  descriptor(0, 0xfffff, 0xfa, 0xc),
  descriptor(LDT, 0x17, 0x82, 0),
  descriptor(TSS, 0x67, 0x89, 0),
  descriptor(LDT, 0x17, 0x02, 0),
  descriptor(0, 0xfffff, 0xf2, 0xc),
  descriptor(0x5000, 0x1234, 0x90, 0x4),
  descriptor(0, 0xfffff, 0x98, 0xc),
  descriptor(0, 0xfffff, 0x9e, 0xc),
  [0x00080000, 0x00008e00],
  descriptor(TSS, 0x67, 0x09, 0),
  [0x00080000, 0x00008c00],
];

/**
 * Flat 32-bit protected mode with the GDT above, an LDT at 0x3000 (selector 0x04: ring-3
 * data, limit 0xABC), and an IDT sending each vector to its stub. At CPL 3 the stubs are
 * `jmp $` in ring-3 code, since HLT would fault there.
 */
function protectedMode(code: number[], cpl = 0): CpuHarness {
  const h = new CpuHarness().flat32([...code, HLT]);
  GDT_ENTRIES.forEach(([lo, hi], k) => h.load(GDT + k * 8, [...le32(lo), ...le32(hi)]));
  const [lo, hi] = descriptor(0, 0xabc, 0xf2, 0x4);
  h.load(LDT, [...le32(lo), ...le32(hi)]);
  const gateSelector = cpl === 3 ? SEL.CODE3 | 3 : SEL.CODE0;
  for (let v = 0; v < 32; v++) {
    h.load(IDT + v * 8, [...le32((gateSelector << 16) | stub(v)), ...le32(0x8e00)]);
    h.load(stub(v), cpl === 3 ? [0xeb, 0xfe] : [HLT]);
  }
  const st = h.cpu.st;
  st[S.GDTR_BASE] = GDT; st[S.GDTR_LIMIT] = GDT_ENTRIES.length * 8 - 1;
  st[S.IDTR_BASE] = IDT; st[S.IDTR_LIMIT] = 32 * 8 - 1;
  st[S.CPL] = cpl;
  return h;
}

/** The error code an exception pushed in protected mode (on top of the stack in the handler). */
function errorCode(h: CpuHarness): number {
  return h.read32(h.get(Reg.ESP));
}

describe('system instructions', () => {
  describe('HLT', () => {
    it('halts with EIP after the HLT and ends the slice', () => {
      const h = new CpuHarness().realMode([0x90, HLT, 0x90]);
      expect(h.interp.run(100)).to.equal(StopReason.HALTED);
      expect(h.cpu.st[S.HALTED]).to.equal(1);
      expect(h.eip).to.equal(0x1002);
      expect(h.cpu.retired).to.equal(2);
    });
  });

  describe('CPUID', () => {
    function cpuid(leaf: number): number[] {
      const h = new CpuHarness().flat32([0x0f, 0xa2, HLT]).set(Reg.EAX, leaf);
      h.run();
      return [h.get(Reg.EAX), h.get(Reg.EBX), h.get(Reg.ECX), h.get(Reg.EDX)];
    }
    const text = (...dwords: number[]): string => dwords.flatMap(le32).map((c) => String.fromCharCode(c)).join('');

    it('leaf 0: maximum leaf 1 and the vendor "WasmvisorCPU" in EBX, EDX, ECX', () => {
      const [eax, ebx, ecx, edx] = cpuid(0);
      expect(eax).to.equal(1);
      expect(text(ebx, edx, ecx)).to.equal('WasmvisorCPU');
    });

    it('leaf 1: the P6 signature and only the features implemented (FPU, DE, PSE, TSC, MSR, PAE, CX8, APIC, SEP, MTRR, PGE, CMOV, FXSR)', () => {
      const [eax, ebx, ecx, edx] = cpuid(1);
      expect(eax).to.equal(CPU_SIGNATURE);
      expect((eax >> 8) & 0xf).to.equal(6);
      expect([ebx, ecx]).to.deep.equal([0, 0]);
      expect(edx).to.equal(1 | (1 << 2) | (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 8) | (1 << 9) | (1 << 11) | (1 << 12) | (1 << 13) | (1 << 15) | (1 << 24));
    });

    it('extended leaves report 0x80000004 and the brand string', () => {
      expect(cpuid(0x80000000)[0]).to.equal(0x80000004);
      expect(cpuid(0x80000001)).to.deep.equal([0, 0, 0, 0]);
      const brand = [0x80000002, 0x80000003, 0x80000004].map((leaf) => text(...cpuid(leaf))).join('');
      expect(brand.replace(/\0+$/, '')).to.equal('wasmvisor virtual i686 CPU');
      expect(brand).to.have.length(48);
    });

    it('leaves above the maxima return the highest basic leaf', () => {
      expect(cpuid(2)).to.deep.equal(cpuid(1));
      expect(cpuid(0x80000008)).to.deep.equal(cpuid(1));
    });
  });

  describe('RDTSC and the TSC MSR', () => {
    it('ticks once per retired instruction', () => {
      // rdtsc; mov ebx, eax; mov ecx, edx; nop; rdtsc
      const h = new CpuHarness().flat32([0x0f, 0x31, 0x89, 0xc3, 0x89, 0xd1, 0x90, 0x0f, 0x31, HLT]);
      h.run();
      const first = h.get(Reg.ECX) * 2 ** 32 + h.get(Reg.EBX);
      const second = h.get(Reg.EDX) * 2 ** 32 + h.get(Reg.EAX);
      expect(second - first).to.equal(4);
    });

    it('WRMSR 0x10 sets the low 32 bits and clears the high ones (P6); RDMSR 0x10 reads it', () => {
      const h = new CpuHarness().flat32([0x0f, 0x30, 0x0f, 0x32, HLT]).set(Reg.ECX, 0x10).set(Reg.EAX, 0xfffffff0).set(Reg.EDX, 5);
      h.run();
      expect([h.get(Reg.EDX), h.get(Reg.EAX)]).to.deep.equal([0, 0xfffffff1]);
    });

    it('carries into the high half', () => {
      const h = new CpuHarness().flat32([0x0f, 0x30, 0x90, 0x0f, 0x31, HLT]).set(Reg.ECX, 0x10).set(Reg.EAX, 0xffffffff);
      h.run();
      expect([h.get(Reg.EDX), h.get(Reg.EAX)]).to.deep.equal([1, 1]);
    });

    it('CR4.TSD makes RDTSC #GP(0) above CPL 0', () => {
      const h = protectedMode([0x0f, 0x31], 3);
      h.cpu.st[S.CR4] = CR4_TSD;
      h.run(3);
      expect(h.eip).to.equal(stub(Vec.GP));
      expect(errorCode(h)).to.equal(0);
      const ring0 = protectedMode([0x0f, 0x31]);
      ring0.cpu.st[S.CR4] = CR4_TSD;
      ring0.run();
      expect(vectorTaken(ring0)).to.equal(-1);
    });
  });

  describe('RDMSR and WRMSR', () => {
    for (const msr of [0x174, 0x175, 0x176]) {
      it(`MSR 0x${msr.toString(16)} reads back what was written, high half 0`, () => {
        const h = real([0x0f, 0x30, 0x0f, 0x32]).set(Reg.ECX, msr).set(Reg.EAX, 0x8000_1234).set(Reg.EDX, 0xdead);
        h.run();
        expect([h.get(Reg.EDX), h.get(Reg.EAX)]).to.deep.equal([0, 0x8000_1234]);
      });
    }

    it('an unknown MSR (IA32_MISC_ENABLE) is #GP(0) for both', () => {
      for (const code of [[0x0f, 0x32], [0x0f, 0x30]]) {
        const h = protectedMode(code).set(Reg.ECX, 0x1a0);
        h.run();
        expect(vectorTaken(h)).to.equal(Vec.GP);
        expect(errorCode(h)).to.equal(0);
      }
    });
  });

  describe('SYSENTER and SYSEXIT', () => {
    // mov ecx, 0x174; mov eax, 8; wrmsr; mov ecx, 0x175; mov eax, 0x70000; wrmsr; mov ecx, 0x176; mov eax, 0x12345; wrmsr; sysenter
    const ENTER = [0xb9, 0x74, 0x01, 0x00, 0x00, 0xb8, 0x08, 0x00, 0x00, 0x00, 0x0f, 0x30, 0xb9, 0x75, 0x01, 0x00, 0x00,
      0xb8, 0x00, 0x00, 0x07, 0x00, 0x0f, 0x30, 0xb9, 0x76, 0x01, 0x00, 0x00, 0xb8, 0x45, 0x23, 0x01, 0x00, 0x0f, 0x30, 0x0f, 0x34];

    it('SYSENTER enters ring 0 at SYSENTER_CS:SYSENTER_EIP with flat CS and SS = CS + 8', () => {
      const h = protectedMode(ENTER).load(0x12345, [HLT]);
      h.cpu.setEflags(IF, IF);
      h.cpu.st[S.SEL + Seg.CS] = 0x1b;
      h.run();
      const st = h.cpu.st;
      expect(h.eip).to.equal(0x12346);
      expect(h.get(Reg.ESP)).to.equal(0x70000);
      expect([st[S.SEL + Seg.CS], st[S.SEL + Seg.SS], st[S.CPL]]).to.deep.equal([0x08, 0x10, 0]);
      expect([st[S.SEG_BASE + Seg.CS], st[S.SEG_LIMIT + Seg.CS], st[S.CS_DEFAULT32], st[S.SS_DEFAULT32]]).to.deep.equal([0, -1, 1, 1]);
      expect(h.eflags & (IF | VM)).to.equal(0);
    });

    it('SYSEXIT returns to ring 3 at EDX with ESP = ECX, CS = SYSENTER_CS + 16 and SS = + 24, RPL 3', () => {
      // wrmsr (SYSENTER_CS = 8), then mov ecx, 0x60000; mov edx, 0x20000; sysexit
      const h = protectedMode([0x0f, 0x30, 0xb9, 0x00, 0x00, 0x06, 0x00, 0xba, 0x00, 0x00, 0x02, 0x00, 0x0f, 0x35]);
      h.set(Reg.ECX, 0x174).set(Reg.EAX, 0x08).load(0x20000, [0xeb, 0xfe]);
      h.run(6);
      const st = h.cpu.st;
      expect(h.eip).to.equal(0x20000);
      expect(h.get(Reg.ESP)).to.equal(0x60000);
      expect([st[S.SEL + Seg.CS], st[S.SEL + Seg.SS], st[S.CPL]]).to.deep.equal([0x1b, 0x23, 3]);
      expect((st[S.SEG_FLAGS + Seg.CS] >> 5) & 3).to.equal(3);
    });

    it('#GP(0) in real mode or with SYSENTER_CS = 0', () => {
      const r = real([0x0f, 0x30, 0x0f, 0x34]).set(Reg.ECX, 0x174).set(Reg.EAX, 0x08); // wrmsr; sysenter
      r.run();
      expect(vectorTaken(r)).to.equal(Vec.GP);
      for (const code of [[0x0f, 0x34], [0x0f, 0x35]]) {
        const h = protectedMode(code);
        h.run();
        expect(vectorTaken(h)).to.equal(Vec.GP);
      }
    });
  });

  describe('MOV to and from control registers', () => {
    it('reads CR0 as after reset, and the ModRM mod field does not make it memory', () => {
      const h = real([0x0f, 0x20, 0xc0, 0x0f, 0x20, 0x03]); // mov eax, cr0; then mod = 0, rm = 3: EBX
      h.run();
      expect(h.get(Reg.EAX)).to.equal(CR0_RESET);
      expect(h.get(Reg.EBX)).to.equal(CR0_RESET);
    });

    it('writes CR0: PE enters protected mode, ET stays 1, reserved bits are ignored', () => {
      const h = real([0x0f, 0x22, 0xc0, 0x0f, 0x20, 0xc3]).set(Reg.EAX, 0x60000001 | 0x0000ffc0);
      h.run();
      expect(h.cpu.protectedMode).to.equal(true);
      expect(h.get(Reg.EBX)).to.equal(0x60000011);
    });

    it('CR2, CR3 and CR4 read back', () => {
      // mov cr2, eax; mov cr3, ecx; mov cr4, edx; mov ebx, cr2; mov esi, cr3; mov edi, cr4
      const h = real([0x0f, 0x22, 0xd0, 0x0f, 0x22, 0xd9, 0x0f, 0x22, 0xe2, 0x0f, 0x20, 0xd3, 0x0f, 0x20, 0xde, 0x0f, 0x20, 0xe7])
        .set(Reg.EAX, 0xc0001234).set(Reg.ECX, 0x00123000).set(Reg.EDX, CR4_TSD | CR4_DE);
      h.run();
      expect([h.get(Reg.EBX), h.get(Reg.ESI), h.get(Reg.EDI)]).to.deep.equal([0xc0001234, 0x00123000, CR4_TSD | CR4_DE]);
    });

    it('CR1 and CR5-CR7 are #UD', () => {
      for (const code of [[0x0f, 0x20, 0xc8], [0x0f, 0x20, 0xe8], [0x0f, 0x22, 0xf0], [0x0f, 0x22, 0xf8]]) {
        const h = real(code);
        h.run();
        expect(vectorTaken(h)).to.equal(Vec.UD);
      }
    });

    it('#GP(0) for PG without PE, NW without CD, and reserved CR4 bits', () => {
      const cases: [number[], number][] = [
        [[0x0f, 0x22, 0xc0], 0x80000010],
        [[0x0f, 0x22, 0xc0], 0x20000011],
        [[0x0f, 0x22, 0xe0], CR4_MCE],
      ];
      for (const [code, value] of cases) {
        const h = protectedMode(code).set(Reg.EAX, value);
        h.run();
        expect(vectorTaken(h)).to.equal(Vec.GP);
        expect(errorCode(h)).to.equal(0);
        expect(h.cpu.st[S.CR4]).to.equal(0);
      }
    });

    it('is CPL 0 only', () => {
      const h = protectedMode([0x0f, 0x20, 0xc0], 3);
      h.run(3);
      expect(h.eip).to.equal(stub(Vec.GP));
    });

    it('CLTS clears CR0.TS', () => {
      const h = real([0x0f, 0x06, 0x0f, 0x20, 0xc0]);
      h.cpu.st[S.CR0] |= CR0_TS;
      h.run();
      expect(h.get(Reg.EAX)).to.equal(CR0_RESET);
    });
  });

  describe('MOV to and from debug registers', () => {
    it('DR0-DR3 store any value', () => {
      const h = real([0x0f, 0x23, 0xc0, 0x0f, 0x21, 0xc3]).set(Reg.EAX, 0xdeadbeef); // mov dr0, eax; mov ebx, dr0
      h.run();
      expect(h.get(Reg.EBX)).to.equal(0xdeadbeef);
    });

    it('DR6 and DR7 keep their fixed bits; DR4/DR5 alias them without CR4.DE', () => {
      // mov dr6, eax; mov dr5, eax; mov ebx, dr4; mov ecx, dr7
      const h = real([0x0f, 0x23, 0xf0, 0x0f, 0x23, 0xe8, 0x0f, 0x21, 0xe3, 0x0f, 0x21, 0xf9]).set(Reg.EAX, 0x0000000f);
      h.run();
      expect(h.get(Reg.EBX)).to.equal(0xffff0fff);
      expect(h.get(Reg.ECX)).to.equal(0x0000040f);
    });

    it('DR4 is #UD with CR4.DE', () => {
      const h = real([0x0f, 0x21, 0xe0]);
      h.cpu.st[S.CR4] = CR4_DE;
      h.run();
      expect(vectorTaken(h)).to.equal(Vec.UD);
    });
  });

  describe('LGDT, LIDT, SGDT, SIDT', () => {
    const PSEUDO = [...le16(0x1234), ...le32(0xfedcba98)];

    it('round-trip limit and 32-bit base with 32-bit operand size', () => {
      // lgdt [0x2000]; sgdt [0x2010]; lidt [0x2000]; sidt [0x2020]
      const code = [0x0f, 0x01, 0x15, ...le32(0x2000), 0x0f, 0x01, 0x05, ...le32(0x2010),
        0x0f, 0x01, 0x1d, ...le32(0x2000), 0x0f, 0x01, 0x0d, ...le32(0x2020)];
      const h = new CpuHarness().flat32([...code, HLT]).load(0x2000, PSEUDO);
      h.run();
      expect(h.cpu.st[S.GDTR_BASE] >>> 0).to.equal(0xfedcba98);
      expect(h.cpu.st[S.IDTR_LIMIT]).to.equal(0x1234);
      expect(Array.from(h.mem.readBytes(0x2010, 6))).to.deep.equal(PSEUDO);
      expect(Array.from(h.mem.readBytes(0x2020, 6))).to.deep.equal(PSEUDO);
    });

    it('16-bit operand size loads a 24-bit base', () => {
      // lgdt [0x2000]; sgdt [0x2010]
      const h = real([0x0f, 0x01, 0x16, 0x00, 0x20, 0x0f, 0x01, 0x06, 0x10, 0x20]).load(0x2000, PSEUDO);
      h.run();
      expect(h.cpu.st[S.GDTR_BASE]).to.equal(0x00dcba98);
      expect(Array.from(h.mem.readBytes(0x2010, 6))).to.deep.equal([...le16(0x1234), ...le32(0x00dcba98)]);
    });

    it('16-bit operand size still stores the full 32-bit base (current SDM)', () => {
      // o32 lidt [0x2000]; sidt [0x2010]
      const h = real([O32, 0x0f, 0x01, 0x1e, 0x00, 0x20, 0x0f, 0x01, 0x0e, 0x10, 0x20]).load(0x2000, PSEUDO);
      h.run();
      expect(Array.from(h.mem.readBytes(0x2010, 6))).to.deep.equal(PSEUDO);
    });

    it('a register operand is #UD', () => {
      const h = real([0x0f, 0x01, 0xd0]);
      h.run();
      expect(vectorTaken(h)).to.equal(Vec.UD);
    });
  });

  describe('SMSW and LMSW', () => {
    it('SMSW to a register takes its size from the operand size; to memory it stores 16 bits', () => {
      // smsw ax; smsw ebx (o32, rm = 3); smsw [0x2000]
      const h = real([0x0f, 0x01, 0xe0, O32, 0x0f, 0x01, 0xe3, 0x0f, 0x01, 0x26, 0x00, 0x20]).set(Reg.EAX, 0xffffffff);
      h.load(0x2000, [0xaa, 0xaa, 0xaa, 0xaa]);
      h.run();
      expect(h.get(Reg.EAX)).to.equal(0xffff0010);
      expect(h.get(Reg.EBX)).to.equal(CR0_RESET);
      expect(h.read32(0x2000)).to.equal(0xaaaa0010);
    });

    it('LMSW loads only PE, MP, EM, TS and cannot clear PE', () => {
      // lmsw ax; mov ebx, cr0; lmsw cx; mov edx, cr0; lmsw si; mov edi, cr0
      const code = [0x0f, 0x01, 0xf0, 0x0f, 0x20, 0xc3, 0x0f, 0x01, 0xf1, 0x0f, 0x20, 0xc2, 0x0f, 0x01, 0xf6, 0x0f, 0x20, 0xc7];
      const h = real(code).set(Reg.EAX, 0xfffe).set(Reg.ECX, 0x0001).set(Reg.ESI, 0x0000);
      h.run();
      expect(h.get(Reg.EBX)).to.equal(CR0_RESET | CR0_MP | CR0_EM | CR0_TS);
      expect(h.get(Reg.EDX)).to.equal(CR0_RESET | CR0_PE);
      expect(h.get(Reg.EDI)).to.equal(CR0_RESET | CR0_PE);
    });
  });

  describe('caches and TLB', () => {
    it('INVD, WBINVD and INVLPG change nothing visible; INVLPG with a register is #UD', () => {
      const h = real([0x0f, 0x08, 0x0f, 0x09, 0x67, 0x0f, 0x01, 0x38]);
      h.run();
      expect(vectorTaken(h)).to.equal(-1);
      const r = real([0x0f, 0x01, 0xf8]);
      r.run();
      expect(vectorTaken(r)).to.equal(Vec.UD);
    });
  });

  describe('LDT and task register', () => {
    it('LLDT loads LDTR from an LDT descriptor and SLDT reads it back, zero-extended', () => {
      // lldt ax; sldt ebx
      const h = protectedMode([0x0f, 0x00, 0xd0, 0x0f, 0x00, 0xc3]).set(Reg.EAX, SEL.LDT).set(Reg.EBX, 0xffffffff);
      h.run();
      const st = h.cpu.st;
      expect([st[S.LDTR], st[S.LDTR_BASE], st[S.LDTR_LIMIT]]).to.deep.equal([SEL.LDT, LDT, 0x17]);
      expect(h.get(Reg.EBX)).to.equal(SEL.LDT);
    });

    it('LLDT with a null selector leaves the LDT unusable without a fault', () => {
      const h = protectedMode([0x0f, 0x00, 0xd0]).set(Reg.EAX, 0);
      h.cpu.st[S.LDTR] = SEL.LDT;
      h.run();
      expect(vectorTaken(h)).to.equal(-1);
      expect(h.cpu.st[S.LDTR]).to.equal(0);
    });

    const lldtFaults: [string, number, number, number][] = [
      ['a TSS', SEL.TSS, Vec.GP, SEL.TSS],
      ['an absent LDT', SEL.LDT_ABSENT, Vec.NP, SEL.LDT_ABSENT],
      ['a selector in the LDT', 0x24, Vec.GP, 0x24],
      ['a selector past the GDT limit', 0x1000, Vec.GP, 0x1000],
    ];
    for (const [what, selector, vector, code] of lldtFaults) {
      it(`LLDT of ${what} faults`, () => {
        const h = protectedMode([0x0f, 0x00, 0xd0]).set(Reg.EAX, selector);
        h.run();
        expect(vectorTaken(h)).to.equal(vector);
        expect(errorCode(h)).to.equal(code);
        expect(h.cpu.st[S.LDTR]).to.equal(0);
      });
    }

    it('LTR loads TR and marks the TSS busy; STR reads it back', () => {
      // ltr ax; str [0x2000]
      const h = protectedMode([0x0f, 0x00, 0xd8, 0x0f, 0x00, 0x0d, ...le32(0x2000)]).set(Reg.EAX, SEL.TSS);
      h.run();
      const st = h.cpu.st;
      expect([st[S.TR], st[S.TR_BASE], st[S.TR_LIMIT], st[S.TR_FLAGS] & 0xff]).to.deep.equal([SEL.TSS, TSS, 0x67, 0x8b]);
      expect(h.read8(GDT + SEL.TSS + 5)).to.equal(0x8b);
      expect(h.read16(0x2000)).to.equal(SEL.TSS);
    });

    const ltrFaults: [string, number, number, number][] = [
      ['a null selector', 0, Vec.GP, 0],
      ['an LDT descriptor', SEL.LDT, Vec.GP, SEL.LDT],
      ['a data segment', SEL.DATA0, Vec.GP, SEL.DATA0],
      ['an absent TSS', SEL.TSS_ABSENT, Vec.NP, SEL.TSS_ABSENT],
    ];
    for (const [what, selector, vector, code] of ltrFaults) {
      it(`LTR of ${what} faults`, () => {
        const h = protectedMode([0x0f, 0x00, 0xd8]).set(Reg.EAX, selector);
        h.run();
        expect(vectorTaken(h)).to.equal(vector);
        expect(errorCode(h)).to.equal(code);
      });
    }

    it('LTR of a busy TSS faults #GP(selector)', () => {
      const h = protectedMode([0x0f, 0x00, 0xd8, 0x0f, 0x00, 0xd8]).set(Reg.EAX, SEL.TSS);
      h.run();
      expect(vectorTaken(h)).to.equal(Vec.GP);
      expect(errorCode(h)).to.equal(SEL.TSS);
    });

    it('SLDT, LLDT and friends are #UD in real mode', () => {
      for (const code of [[0x0f, 0x00, 0xc0], [0x0f, 0x00, 0xd0], [0x0f, 0x02, 0xd8], [0x63, 0xc3]]) {
        const h = real(code);
        h.run();
        expect(vectorTaken(h)).to.equal(Vec.UD);
      }
    });
  });

  describe('LAR, LSL, VERR, VERW', () => {
    /** Runs `op bx, ax` (or ebx with 32-bit operands) on a selector: the result register and ZF. */
    function query(opcode: number[], selector: number, o16 = false): { value: number; zf: boolean } {
      const h = protectedMode([...(o16 ? [O32] : []), ...opcode]).set(Reg.EAX, selector).set(Reg.EBX, 0x5555aaaa);
      h.cpu.setEflags(ZF, ZF); // so that a failing query visibly clears it
      h.cpu.st[S.LDTR] = SEL.LDT; h.cpu.st[S.LDTR_BASE] = LDT; h.cpu.st[S.LDTR_LIMIT] = 0x17;
      h.run();
      expect(vectorTaken(h)).to.equal(-1);
      return { value: h.get(Reg.EBX), zf: (h.eflags & ZF) !== 0 };
    }
    const LAR = [0x0f, 0x02, 0xd8], LSL = [0x0f, 0x03, 0xd8], VERR = [0x0f, 0x00, 0xe0], VERW = [0x0f, 0x00, 0xe8];

    it('LAR returns the access rights of code, data and system descriptors', () => {
      expect(query(LAR, SEL.DATA0)).to.deep.equal({ value: 0x00c09200, zf: true });
      expect(query(LAR, SEL.CODE0, true)).to.deep.equal({ value: 0x55559a00, zf: true });
      expect(query(LAR, SEL.TSS)).to.deep.equal({ value: 0x00008900, zf: true });
      expect(query(LAR, SEL.CALL_GATE)).to.deep.equal({ value: 0x00008c00, zf: true });
      expect(query(LAR, 0x04)).to.deep.equal({ value: 0x0040f200, zf: true });
    });

    it('LAR clears ZF for null, out-of-table, interrupt gates and privilege failures', () => {
      for (const selector of [0, 0x1000, SEL.INT_GATE, SEL.DATA0 | 3, 0x0c]) {
        expect(query(LAR, selector)).to.deep.equal({ value: 0x5555aaaa, zf: false });
      }
      expect(query(LAR, SEL.CONFORMING | 3).zf).to.equal(true);
    });

    it('LSL returns the byte-granular limit', () => {
      expect(query(LSL, SEL.READ_ONLY)).to.deep.equal({ value: 0x1234, zf: true });
      expect(query(LSL, SEL.DATA3 | 3)).to.deep.equal({ value: 0xffffffff, zf: true });
      expect(query(LSL, SEL.DATA3, true)).to.deep.equal({ value: 0x5555ffff, zf: true });
      expect(query(LSL, SEL.TSS)).to.deep.equal({ value: 0x67, zf: true });
      expect(query(LSL, SEL.CALL_GATE).zf).to.equal(false);
      expect(query(LSL, SEL.DATA0 | 3).zf).to.equal(false);
    });

    it('VERR: readable data and code at a sufficient privilege', () => {
      const readable = [SEL.DATA0, SEL.READ_ONLY, SEL.CODE0, SEL.CONFORMING | 3, SEL.DATA3 | 3, 0x04 | 3];
      const not = [0, SEL.EXEC_ONLY, SEL.DATA0 | 3, SEL.TSS, SEL.CALL_GATE, 0x1000];
      for (const s of readable) expect(query(VERR, s).zf, `selector ${s.toString(16)}`).to.equal(true);
      for (const s of not) expect(query(VERR, s).zf, `selector ${s.toString(16)}`).to.equal(false);
    });

    it('VERW: writable data at a sufficient privilege only', () => {
      const writable = [SEL.DATA0, SEL.DATA3 | 3, 0x04];
      const not = [0, SEL.READ_ONLY, SEL.CODE0, SEL.CONFORMING, SEL.DATA0 | 3, SEL.TSS];
      for (const s of writable) expect(query(VERW, s).zf, `selector ${s.toString(16)}`).to.equal(true);
      for (const s of not) expect(query(VERW, s).zf, `selector ${s.toString(16)}`).to.equal(false);
    });

    it('the CPL counts as well as the RPL', () => {
      const h = protectedMode([0x0f, 0x00, 0xe0], 3).set(Reg.EAX, SEL.DATA0);
      h.cpu.setEflags(ZF, ZF);
      h.run(2);
      expect(h.eflags & ZF).to.equal(0);
    });
  });

  describe('ARPL', () => {
    it('raises the destination RPL to the source RPL and sets ZF, otherwise clears ZF', () => {
      // arpl bx, ax (twice, in two machines); then arpl [0x2000], ax
      const h = protectedMode([0x63, 0xc3]).set(Reg.EBX, 0xffff0010).set(Reg.EAX, 0x0003);
      h.run();
      expect(h.get(Reg.EBX)).to.equal(0xffff0013);
      expect(h.eflags & ZF).to.equal(ZF);
      const same = protectedMode([0x63, 0xc3]).set(Reg.EBX, 0x0013).set(Reg.EAX, 0x0001);
      same.cpu.setEflags(ZF, ZF);
      same.run();
      expect(same.get(Reg.EBX)).to.equal(0x0013);
      expect(same.eflags & ZF).to.equal(0);
      const mem = protectedMode([0x63, 0x05, ...le32(0x2000)]).set(Reg.EAX, 2).load(0x2000, [0x08, 0x00]);
      mem.run();
      expect(mem.read16(0x2000)).to.equal(0x000a);
    });
  });

  describe('x87 escapes, WAIT and the undefined opcodes', () => {
    it('an x87 instruction is #NM with CR0.EM or CR0.TS', () => {
      for (const bit of [CR0_EM, CR0_TS]) {
        const h = real([0xdb, 0xe3]); // fninit
        h.cpu.st[S.CR0] |= bit;
        h.run();
        expect(vectorTaken(h)).to.equal(Vec.NM);
        expect(h.read16(0x8000 - 6)).to.equal(0x1000);
      }
    });

    it('WAIT is #NM only with both TS and MP', () => {
      const both = real([0x9b]);
      both.cpu.st[S.CR0] |= CR0_TS | CR0_MP;
      both.run();
      expect(vectorTaken(both)).to.equal(Vec.NM);
      const tsOnly = real([0x9b]);
      tsOnly.cpu.st[S.CR0] |= CR0_TS;
      tsOnly.run();
      expect(vectorTaken(tsOnly)).to.equal(-1);
    });

    it('UD2, UD1 and UD0 are #UD', () => {
      for (const code of [[0x0f, 0x0b], [0x0f, 0xb9, 0xc0], [0x0f, 0xff]]) {
        const h = real(code);
        h.run();
        expect(vectorTaken(h)).to.equal(Vec.UD);
        expect(h.read16(0x8000 - 6)).to.equal(0x1000);
      }
    });
  });
});
