import { expect } from 'chai';
import { Vec } from '../core/cpu/faults.js';
import { IF, IOPL, NT, RF, TF, VM } from '../core/cpu/flags.js';
import { CpuHarness, Reg, S, Seg } from './support/cpu-harness.js';
import { bytes32, enterRing3, gate, GDT, HANDLERS, IDT, IO_MAP, ringMachine, segment, Sel, STACK0, TSS } from './support/protected-mode.js';

/** Virtual-8086 mode (SDM Vol. 3A ch. 20, without CR4.VME) on the standard ring machine. */

/** The V86 task's segments (paragraphs) and where its code and stack start. */
const V86_CS = 0x3000, V86_IP = 0x100, V86_SS = 0x5000, V86_SP = 0xf000, V86_DS = 0x4000, V86_ES = 0x4100, V86_FS = 0x4200, V86_GS = 0x4300;
const CODE = V86_CS * 16 + V86_IP;
/** Ring-0 stack holding the IRETD frame that enters V86 mode. */
const ENTRY_STACK = 0x7f000;
const VEC_USER = 0x40, VEC_KERNEL = 0x41, VEC_TASK = 0x50;
/** Selectors added after the standard GDT (which ends at 0xA7): a V86 task's TSS, a protected task's TSS. */
const enum T { TSS_V86 = 0xa8, TSS_PM = 0xb0 }
const TSS_V86 = 0x4000, TSS_PM = 0x4800, PM_TASK_CODE = 0x22000, PM_TASK_STACK = 0x58000;

/** The exception or interrupt frame a handler found: from V86 mode it holds the data segments too. */
interface V86Frame {
  vector: number;
  errorCode: number;
  eip: number;
  cs: number;
  eflags: number;
  esp: number;
  ss: number;
  es: number;
  ds: number;
  fs: number;
  gs: number;
  /** Where the frame (its EIP slot, or the error code) starts. */
  at: number;
}

function resume(h: CpuHarness, max = 1000): void {
  h.cpu.st[S.HALTED] = 0;
  h.run(max);
}

/** Runs until a handler halts (HANDLERS + vector × 16) and reads the V86 frame on its stack. */
function runToHandler(h: CpuHarness, max = 1000): V86Frame {
  h.run(max);
  return frameAtHandler(h);
}

function frameAtHandler(h: CpuHarness): V86Frame {
  const vector = (h.eip - 1 - HANDLERS) / 16;
  const at = h.get(Reg.ESP);
  const withCode = vector === 8 || (vector >= 10 && vector <= 14);
  const p = withCode ? at + 4 : at;
  const [eip, cs, eflags, esp, ss, es, ds, fs, gs] = Array.from({ length: 9 }, (_, k) => h.read32(p + 4 * k));
  return { vector, errorCode: withCode ? h.read32(at) : -1, eip, cs, eflags, esp, ss, es, ds, fs, gs, at };
}

/** Installs an interrupt gate (access 0xEE: DPL 3) for `vector` to a HLT at HANDLERS + vector × 16. */
function handlerGate(h: CpuHarness, vector: number, access = 0xee, selector: number = Sel.CODE0): void {
  h.load(IDT + vector * 8, gate(selector, HANDLERS + vector * 16, access));
  h.load(HANDLERS + vector * 16, [0xf4]);
}

/**
 * The standard ring machine at CPL 0 with an IRETD frame that enters V86 mode at V86_CS:V86_IP
 * with `eflags` (VM added); `code` is the 16-bit code there. The IRETD has not run yet.
 */
function beforeEntry(code: number[], eflags = 0): CpuHarness {
  const h = ringMachine([0xcf]);
  handlerGate(h, VEC_USER);
  handlerGate(h, VEC_KERNEL, 0x8e);
  h.load(ENTRY_STACK, [V86_IP, V86_CS, eflags | VM | 2, V86_SP, V86_SS, V86_ES, V86_DS, V86_FS, V86_GS].flatMap(bytes32));
  h.set(Reg.ESP, ENTRY_STACK);
  h.load(CODE, code);
  return h;
}

/** beforeEntry, then the IRETD: the machine is in V86 mode at its first instruction. */
function v86Machine(code: number[], eflags = 0): CpuHarness {
  const h = beforeEntry(code, eflags);
  h.run(1);
  return h;
}

const seg = (h: CpuHarness, s: Seg) => [h.cpu.st[S.SEL + s], h.cpu.st[S.SEG_BASE + s], h.cpu.st[S.SEG_LIMIT + s]];

/** Checks the handler found a #GP(0) (or `vector`) raised at V86 offset `ip`, with the V86 state in its frame. */
function expectFault(f: V86Frame, ip: number, vector: number = Vec.GP, errorCode = 0): void {
  expect([f.vector, f.errorCode, f.eip, f.cs & 0xffff]).to.deep.equal([vector, errorCode, V86_IP + ip, V86_CS]);
  expect(f.eflags & VM).to.equal(VM);
}

describe('virtual-8086 mode', () => {
  describe('entry by IRETD at CPL 0', () => {
    it('pops EIP, CS, EFLAGS, ESP, SS, ES, DS, FS, GS and loads the segments as paragraphs at CPL 3', () => {
      const h = v86Machine([0xf4], IOPL);
      const st = h.cpu.st;
      expect([h.eip, h.get(Reg.ESP), st[S.CPL], st[S.CS_DEFAULT32], st[S.SS_DEFAULT32]]).to.deep.equal([V86_IP, V86_SP, 3, 0, 0]);
      expect(h.eflags & (VM | IOPL)).to.equal(VM | IOPL);
      expect(seg(h, Seg.CS)).to.deep.equal([V86_CS, V86_CS << 4, 0xffff]);
      expect(seg(h, Seg.SS)).to.deep.equal([V86_SS, V86_SS << 4, 0xffff]);
      expect(seg(h, Seg.ES)).to.deep.equal([V86_ES, V86_ES << 4, 0xffff]);
      expect(seg(h, Seg.DS)).to.deep.equal([V86_DS, V86_DS << 4, 0xffff]);
      expect(seg(h, Seg.FS)).to.deep.equal([V86_FS, V86_FS << 4, 0xffff]);
      expect(seg(h, Seg.GS)).to.deep.equal([V86_GS, V86_GS << 4, 0xffff]);
    });

    it('keeps all 32 bits of the popped ESP and takes RF, IF and IOPL from the image', () => {
      const h = beforeEntry([0xf4], IOPL | IF | RF);
      h.load(ENTRY_STACK + 12, bytes32(0x1234fff0));
      h.run(1);
      expect([h.get(Reg.ESP), h.eflags & (IOPL | IF | VM)]).to.deep.equal([0x1234fff0, IOPL | IF | VM]);
    });

    it('an EIP beyond 0xFFFF is #GP(0) with nothing changed', () => {
      const h = beforeEntry([0xf4]);
      h.load(ENTRY_STACK, bytes32(0x12345));
      h.run();
      const st = h.cpu.st;
      expect(h.eip).to.equal(HANDLERS + Vec.GP * 16 + 1);
      // The #GP frame on the ring-0 stack: error code 0, EIP of the IRETD.
      expect([st[S.CPL], h.eflags & VM, h.read32(h.get(Reg.ESP)), h.read32(h.get(Reg.ESP) + 4)]).to.deep.equal([0, 0, 0, 0x10000]);
    });

    it('VM in the image is ignored by an IRETD at CPL 3 and by a 16-bit IRET', () => {
      // At CPL 3: iretd to 0x1b:0x10010 with VM set in the image stays in protected mode.
      const h = enterRing3(ringMachine([0xcf]));
      h.load(0x60000, [0x10010, Sel.CODE3, VM | 2].flatMap(bytes32)).load(0x10010, [0xf4]);
      h.set(Reg.ESP, 0x60000);
      h.run(1);
      expect([h.eip, h.eflags & VM, h.cpu.st[S.CPL]]).to.deep.equal([0x10010, 0, 3]);
      // At CPL 0, o16: the popped FLAGS word has no VM bit.
      const k = ringMachine([0x66, 0xcf]);
      k.load(0x7f000, [0x20, Sel.CODE0, 2].flatMap((w) => [w & 0xff, w >> 8]));
      k.set(Reg.ESP, 0x7f000);
      k.run(1);
      expect([k.eip, k.eflags & VM]).to.deep.equal([0x20, 0]);
    });
  });

  describe('execution', () => {
    it('addresses seg × 16 + offset, and segment loads take any value without descriptor checks', () => {
      // mov ax,[0x10]; mov bx,0xfff8; mov ds,bx; mov cx,[0x18]; hlt
      const h = v86Machine([0xa1, 0x10, 0x00, 0xbb, 0xf8, 0xff, 0x8e, 0xdb, 0x8b, 0x0e, 0x18, 0x00, 0xf4]);
      h.load(V86_DS * 16 + 0x10, [0x34, 0x12]).load(0xfff80 + 0x18, [0x78, 0x56]);
      const f = runToHandler(h);
      expectFault(f, 12);
      expect([h.get(Reg.EAX) & 0xffff, h.get(Reg.ECX) & 0xffff, f.ds & 0xffff]).to.deep.equal([0x1234, 0x5678, 0xfff8]);
    });

    it('offsets beyond 0xFFFF (32-bit addressing) are #GP(0), and #SS(0) through SS', () => {
      // mov eax,0x10000; mov bx,[eax] — a32 form: 67 8B 18
      const h = v86Machine([0x66, 0xb8, 0x00, 0x00, 0x01, 0x00, 0x67, 0x8b, 0x18]);
      expectFault(runToHandler(h), 6);
      // mov eax,0x10000; mov bx,[ss:eax]
      const k = v86Machine([0x66, 0xb8, 0x00, 0x00, 0x01, 0x00, 0x36, 0x67, 0x8b, 0x18]);
      expectFault(runToHandler(k), 6, Vec.SS, 0);
    });
  });

  describe('leaving V86 mode through an interrupt or exception', () => {
    it('pushes GS, FS, DS, ES, SS, ESP, EFLAGS, CS, EIP and the error code on SS0:ESP0 and nulls the data segments', () => {
      const h = v86Machine([0x90, 0xfa], IF);
      const f = runToHandler(h);
      expectFault(f, 1);
      expect([f.esp, f.ss, f.es, f.ds, f.fs, f.gs]).to.deep.equal([V86_SP, V86_SS, V86_ES, V86_DS, V86_FS, V86_GS]);
      expect(f.eflags & (VM | IF | RF)).to.equal(VM | IF | RF);
      expect(f.at).to.equal(STACK0 - 40);
      const st = h.cpu.st;
      expect([st[S.CPL], st[S.SEL + Seg.CS], st[S.SEL + Seg.SS], st[S.CS_DEFAULT32]]).to.deep.equal([0, Sel.CODE0, Sel.DATA0, 1]);
      for (const s of [Seg.ES, Seg.DS, Seg.FS, Seg.GS]) expect([st[S.SEL + s], st[S.SEG_FLAGS + s]]).to.deep.equal([0, 0]);
      expect(h.eflags & (VM | IF | TF | NT | RF)).to.equal(0);
    });

    it('IRETD from the handler resumes V86 mode with the saved segments', () => {
      // V86: mov ax,ds; int 0x40 (IOPL 3); mov bx,es; hlt.  The INT's handler runs iretd.
      const h = v86Machine([0x8c, 0xd8, 0xcd, VEC_USER, 0x8c, 0xc3, 0xf4], IOPL);
      h.load(HANDLERS + VEC_USER * 16, [0xcf]);
      const f = runToHandler(h);
      expectFault(f, 6);
      expect([h.get(Reg.EAX) & 0xffff, h.get(Reg.EBX) & 0xffff]).to.deep.equal([V86_DS, V86_ES]);
    });

    it('a trap gate leaves IF set; a 16-bit gate pushes words', () => {
      const h = v86Machine([0xcd, VEC_USER], IOPL | IF);
      h.load(IDT + VEC_USER * 8, gate(Sel.CODE0, HANDLERS + VEC_USER * 16, 0xef));
      h.run();
      expect(h.eflags & IF).to.equal(IF);
      const k = v86Machine([0xcd, VEC_USER], IOPL);
      k.load(IDT + VEC_USER * 8, gate(Sel.CODE16, 0x7000, 0xe6)).load(0x7000, [0xf4]);
      k.run();
      const words = Array.from({ length: 9 }, (_, i) => k.read16(STACK0 - 18 + 2 * i));
      expect(words).to.deep.equal([V86_IP + 2, V86_CS, VM & 0xffff | IOPL | 2, V86_SP, V86_SS, V86_ES, V86_DS, V86_FS, V86_GS]);
      expect(k.get(Reg.ESP)).to.equal(STACK0 - 18);
    });

    it('a handler in ring-3 or conforming code is #GP(selector)', () => {
      const h = v86Machine([0xcd, VEC_USER], IOPL);
      h.load(IDT + VEC_USER * 8, gate(Sel.CODE3, 0x9f00, 0xee));
      expectFault(runToHandler(h), 0, Vec.GP, Sel.CODE3 & ~3);
      const k = v86Machine([0xcd, VEC_USER], IOPL);
      k.load(IDT + VEC_USER * 8, gate(Sel.CONFORMING0, 0x9f00, 0xee));
      expectFault(runToHandler(k), 0, Vec.GP, Sel.CONFORMING0);
    });

    it('an external interrupt leaves V86 mode the same way, saving the IP of the instruction it came before', () => {
      const h = v86Machine([0x90, 0x90, 0xf4], IF);
      handlerGate(h, 0x20, 0x8e);
      h.interp.acknowledgeInterrupt = () => 0x20;
      h.cpu.st[S.INTR] = 1;
      const f = runToHandler(h);
      expect([f.vector, f.eip, f.cs, f.eflags & (VM | IF), f.ds, f.at]).to.deep.equal([0x20, V86_IP, V86_CS, VM | IF, V86_DS, STACK0 - 36]);
      expect(h.cpu.st[S.SEL + Seg.DS]).to.equal(0);
    });

    it('#DE from DIV reaches its handler with the faulting IP and no error code', () => {
      // xor bx,bx; div bx
      expectFault(runToHandler(v86Machine([0x31, 0xdb, 0xf7, 0xf3])), 2, Vec.DE, -1);
    });
  });

  describe('IOPL-sensitive instructions', () => {
    const SENSITIVE: [string, number[]][] = [
      ['CLI', [0xfa]], ['STI', [0xfb]], ['PUSHF', [0x9c]], ['POPF', [0x9d]], ['PUSHFD', [0x66, 0x9c]], ['POPFD', [0x66, 0x9d]],
      ['INT n', [0xcd, VEC_USER]], ['INT 3 as INT n', [0xcd, 0x03]], ['IRET', [0xcf]], ['IRETD', [0x66, 0xcf]],
    ];
    for (const [name, bytes] of SENSITIVE) {
      it(`${name} is #GP(0) at IOPL < 3 (stack untouched)`, () => {
        for (const iopl of [0, 1, 2]) {
          const h = v86Machine([0x90, ...bytes], iopl << 12);
          const f = runToHandler(h);
          expectFault(f, 1);
          expect(f.esp).to.equal(V86_SP);
        }
      });
    }

    it('at IOPL 3: CLI/STI change IF, PUSHF pushes without VM and RF, POPF changes IF but not IOPL', () => {
      // cli; pushfd; pop eax; sti; push dword 0; popfd; pushfd; pop ebx; hlt
      const h = v86Machine([0xfa, 0x66, 0x9c, 0x66, 0x58, 0xfb, 0x66, 0x6a, 0x00, 0x66, 0x9d, 0x66, 0x9c, 0x66, 0x5b, 0xf4], IOPL | IF);
      const f = runToHandler(h);
      expectFault(f, 15);
      expect(h.get(Reg.EAX) & (VM | RF | IF | IOPL)).to.equal(IOPL);
      expect(h.get(Reg.EBX) & (VM | IF | IOPL)).to.equal(IOPL);
      expect(f.eflags & (VM | IF | IOPL)).to.equal(VM | IOPL);
    });

    it('at IOPL 3: IRET pops real-mode style and keeps IOPL and VM', () => {
      // push 0 (flags); push cs; push 0x110; iret — lands at 0x110: hlt
      const code = [0x6a, 0x00, 0x0e, 0x68, 0x10, 0x01, 0xcf];
      const h = v86Machine(code, IOPL | IF);
      h.load(V86_CS * 16 + 0x110, [0xf4]);
      const f = runToHandler(h);
      expectFault(f, 0x10);
      expect(f.eflags & (VM | IF | IOPL)).to.equal(VM | IOPL);
      expect(f.esp).to.equal(V86_SP);
    });

    it('INT n at IOPL 3 goes to the protected-mode IDT (DPL 3 gate), never the IVT; a DPL 0 gate is #GP(n × 8 + 2)', () => {
      const h = v86Machine([0xcd, VEC_USER], IOPL);
      const f = runToHandler(h);
      expect([f.vector, f.eip, f.esp]).to.deep.equal([VEC_USER, V86_IP + 2, V86_SP]);
      expectFault(runToHandler(v86Machine([0xcd, VEC_KERNEL], IOPL)), 0, Vec.GP, VEC_KERNEL * 8 + 2);
    });

    it('INT3 and INTO are not IOPL-sensitive: they go through their gate, whose DPL must be 3', () => {
      const h = v86Machine([0x90, 0xcc]);
      handlerGate(h, Vec.BP);
      const f = runToHandler(h);
      expect([f.vector, f.eip]).to.deep.equal([Vec.BP, V86_IP + 2]);
      // mov al,0x7f; add al,1 (OF); into — with a DPL 3 gate, then with the standard DPL 0 one.
      const into = [0xb0, 0x7f, 0x04, 0x01, 0xce];
      const k = v86Machine(into);
      handlerGate(k, Vec.OF);
      expect(runToHandler(k).vector).to.equal(Vec.OF);
      expectFault(runToHandler(v86Machine(into)), 4, Vec.GP, Vec.OF * 8 + 2);
    });
  });

  describe('I/O', () => {
    it('always consults the TSS I/O bitmap, whatever IOPL', () => {
      // in al,0x80 — port 0x80 allowed in the bitmap: no fault at IOPL 0; denied at IOPL 3: #GP(0)
      const allowed = v86Machine([0xe4, 0x80, 0xf4]);
      allowed.load(TSS + IO_MAP + 0x10, [0xfe]);
      expectFault(runToHandler(allowed), 2);
      expectFault(runToHandler(v86Machine([0xe4, 0x80, 0xf4], IOPL)), 0);
      // outsb to port 0x81 (denied) at IOPL 3
      expectFault(runToHandler(v86Machine([0xba, 0x81, 0x00, 0x6e], IOPL)), 3);
    });
  });

  describe('instructions invalid or privileged in V86 mode', () => {
    const UNDEFINED: [string, number[]][] = [
      ['ARPL', [0x63, 0xc8]], ['LAR', [0x0f, 0x02, 0xc1]], ['LSL', [0x0f, 0x03, 0xc1]], ['VERR', [0x0f, 0x00, 0xe0]],
      ['VERW', [0x0f, 0x00, 0xe8]], ['SLDT', [0x0f, 0x00, 0xc0]], ['STR', [0x0f, 0x00, 0xc8]], ['LLDT', [0x0f, 0x00, 0xd0]],
      ['LTR', [0x0f, 0x00, 0xd8]],
    ];
    for (const [name, bytes] of UNDEFINED) {
      it(`${name} is #UD`, () => expectFault(runToHandler(v86Machine(bytes, IOPL)), 0, Vec.UD, -1));
    }
    const PRIVILEGED: [string, number[]][] = [
      ['HLT', [0xf4]], ['MOV EAX,CR0', [0x0f, 0x20, 0xc0]], ['MOV CR0,EAX', [0x0f, 0x22, 0xc0]], ['LGDT', [0x0f, 0x01, 0x16, 0, 0]],
      ['LIDT', [0x0f, 0x01, 0x1e, 0, 0]], ['LMSW', [0x0f, 0x01, 0xf0]], ['CLTS', [0x0f, 0x06]], ['MOV DR7,EAX', [0x0f, 0x23, 0xf8]],
      ['WBINVD', [0x0f, 0x09]], ['RDMSR', [0x0f, 0x32]],
    ];
    for (const [name, bytes] of PRIVILEGED) {
      it(`${name} is #GP(0) even at IOPL 3`, () => expectFault(runToHandler(v86Machine(bytes, IOPL)), 0));
    }

    it('SMSW, SGDT and SIDT are allowed', () => {
      // smsw ax; sgdt [0]; sidt [8]; hlt
      const h = v86Machine([0x0f, 0x01, 0xe0, 0x0f, 0x01, 0x06, 0x00, 0x00, 0x0f, 0x01, 0x0e, 0x08, 0x00, 0xf4]);
      expectFault(runToHandler(h), 13);
      expect(h.get(Reg.EAX) & 0xffff).to.equal(h.cpu.st[S.CR0] & 0xffff);
      expect([h.read16(V86_DS * 16), h.read32(V86_DS * 16 + 2), h.read32(V86_DS * 16 + 10)]).to.deep.equal([h.cpu.st[S.GDTR_LIMIT], GDT, IDT]);
    });
  });

  describe('paging', () => {
    const PD = 0x90000, PT = 0x91000;
    /** Identity-maps 0-4 MiB user/writable, then applies `pte` overrides; paging on. */
    function withPaging(h: CpuHarness, overrides: Record<number, number>): void {
      h.load(PD, bytes32(PT | 7));
      for (let p = 0; p < 1024; p++) h.load(PT + 4 * p, bytes32(overrides[p * 0x1000] ?? (p * 0x1000) | 7));
      h.cpu.st[S.CR3] = PD;
      h.cpu.st[S.CR0] |= 0x80000000;
      h.cpu.pagingChanged();
    }

    it('V86 accesses are user accesses: #PF with U/S set and CR2; the frame goes to a supervisor-only stack', () => {
      // mov ax,[0x10] from an absent page
      const h = v86Machine([0xa1, 0x10, 0x00]);
      withPaging(h, { [V86_DS * 16]: 0 });
      expectFault(runToHandler(h), 0, Vec.PF, 4);
      expect(h.cpu.st[S.CR2]).to.equal(V86_DS * 16 + 0x10);
      // nop; mov [0x10],ax to a supervisor page, with the ring-0 stack's page supervisor-only too
      const k = v86Machine([0x90, 0xa3, 0x10, 0x00]);
      withPaging(k, { [V86_DS * 16]: (V86_DS * 16) | 3, [STACK0 - 0x1000]: (STACK0 - 0x1000) | 3 });
      expectFault(runToHandler(k), 1, Vec.PF, 7);
      expect(k.cpu.st[S.CR2]).to.equal(V86_DS * 16 + 0x10);
    });
  });

  it('offers no virtual-mode extensions: CPUID.1 EDX.VME is clear, setting CR4.VME or CR4.PVI is #GP(0)', () => {
    // cpuid with EAX = 1; then mov cr4,eax with EAX = 1 (VME) and 2 (PVI)
    const h = ringMachine([0x0f, 0xa2, 0xf4]);
    h.set(Reg.EAX, 1);
    h.run();
    expect(h.get(Reg.EDX) & 2).to.equal(0);
    for (const bit of [1, 2]) {
      const k = ringMachine([0x0f, 0x22, 0xe0]);
      k.set(Reg.EAX, bit);
      const f = runToHandler(k);
      expect([f.vector, f.errorCode, k.cpu.st[S.CR4]]).to.deep.equal([Vec.GP, 0, 0]);
    }
  });

  describe('task switches', () => {
    /** TSS_V86: a V86 task at V86_CS:V86_IP with `eflags` (VM added), ring-0 stack STACK0 for its interrupts; TSS_PM: a ring-0 task. */
    function taskMachine(code: number[], v86Code: number[], eflags = 0, pmCode: number[] = [0xf4]): CpuHarness {
      const h = ringMachine(code);
      handlerGate(h, VEC_USER);
      h.load(GDT + Sel.TSS + 5, [0x8b]);
      h.cpu.st[S.TR_FLAGS] |= 2;
      h.load(GDT + T.TSS_V86, segment(TSS_V86, 0x67, 0x89, 0));
      h.load(GDT + T.TSS_PM, segment(TSS_PM, 0x67, 0x89, 0));
      h.cpu.st[S.GDTR_LIMIT] = 0xb7;
      h.load(TSS_V86 + 4, bytes32(STACK0).concat(bytes32(Sel.DATA0)));
      h.load(TSS_V86 + 0x20, [V86_IP, eflags | VM | 2, 0x11, 0, 0, 0, V86_SP, 0, 0, 0].flatMap(bytes32));
      h.load(TSS_V86 + 0x48, [V86_ES, V86_CS, V86_SS, V86_DS, V86_FS, V86_GS, 0].flatMap(bytes32));
      h.load(TSS_V86 + 0x66, [0x68, 0x00]);
      h.load(TSS_PM + 0x20, [PM_TASK_CODE, 2, 0, 0, 0, 0, PM_TASK_STACK, 0, 0, 0].flatMap(bytes32));
      h.load(TSS_PM + 0x48, [Sel.DATA0, Sel.CODE0, Sel.DATA0, Sel.DATA0, Sel.DATA0, Sel.DATA0, 0].flatMap(bytes32));
      h.load(CODE, v86Code).load(PM_TASK_CODE, pmCode);
      h.load(IDT + VEC_TASK * 8, gate(T.TSS_PM, 0, 0xe5));
      return h;
    }

    it('JMP to a TSS with VM set runs the task in V86 mode with paragraph segments at CPL 3', () => {
      // jmp 0xa8:0.  V86: mov bx,ax (EAX from the TSS); cli (#GP at IOPL 0, handler on the V86 TSS's SS0:ESP0)
      const h = taskMachine([0xea, 0, 0, 0, 0, T.TSS_V86, 0], [0x89, 0xc3, 0xfa]);
      h.run(1);
      const st = h.cpu.st;
      expect([h.eip, st[S.CPL], h.eflags & VM, st[S.TR], h.get(Reg.ESP), h.get(Reg.EAX)]).to.deep.equal([V86_IP, 3, VM, T.TSS_V86, V86_SP, 0x11]);
      expect(seg(h, Seg.CS)).to.deep.equal([V86_CS, V86_CS << 4, 0xffff]);
      expect(seg(h, Seg.SS)).to.deep.equal([V86_SS, V86_SS << 4, 0xffff]);
      expect(seg(h, Seg.GS)).to.deep.equal([V86_GS, V86_GS << 4, 0xffff]);
      const f = runToHandler(h);
      expectFault(f, 2);
      expect([f.at, f.ds, f.gs, h.get(Reg.EBX)]).to.deep.equal([STACK0 - 40, V86_DS, V86_GS, 0x11]);
      expect(h.read32(TSS + 0x20)).to.equal(0x10007);
    });

    it('INT n through a task gate saves the V86 task (VM, paragraphs, IP after the INT); IRET with NT resumes it in V86 mode', () => {
      // V86 at IOPL 3: mov bx,ds; int 0x50; mov cx,ss; hlt.  Protected task: iretd.
      const h = taskMachine([0xea, 0, 0, 0, 0, T.TSS_V86, 0], [0x8c, 0xdb, 0xcd, VEC_TASK, 0x8c, 0xd1, 0xf4], IOPL, [0xf4, 0xcf]);
      h.run();
      expect([h.eip, h.cpu.st[S.TR], h.eflags & (VM | NT), h.cpu.st[S.CPL]]).to.deep.equal([PM_TASK_CODE + 1, T.TSS_PM, NT, 0]);
      expect([h.read32(TSS_V86 + 0x20), h.read32(TSS_V86 + 0x24) & (VM | IOPL), h.read32(TSS_V86 + 0x34) & 0xffff]).to.deep.equal([V86_IP + 4, VM | IOPL, V86_DS]);
      expect([0, 1, 2, 3, 4, 5].map((s) => h.read16(TSS_V86 + 0x48 + 4 * s))).to.deep.equal([V86_ES, V86_CS, V86_SS, V86_DS, V86_FS, V86_GS]);
      expect(h.read16(TSS_PM)).to.equal(T.TSS_V86);
      resume(h);
      const f = frameAtHandler(h);
      expectFault(f, 6);
      expect([h.get(Reg.ECX) & 0xffff, f.ds, h.cpu.st[S.TR]]).to.deep.equal([V86_SS, V86_DS, T.TSS_V86]);
    });

    it('an exception through a task gate from V86 mode pushes its error code on the new task\'s stack', () => {
      const h = taskMachine([0xea, 0, 0, 0, 0, T.TSS_V86, 0], [0x90, 0xfa]);
      h.load(IDT + Vec.GP * 8, gate(T.TSS_PM, 0, 0x85));
      h.run();
      expect([h.eip, h.get(Reg.ESP), h.read32(PM_TASK_STACK - 4), h.read32(TSS_V86 + 0x20)]).to.deep.equal([PM_TASK_CODE + 1, PM_TASK_STACK - 4, 0, V86_IP + 1]);
    });
  });
});
