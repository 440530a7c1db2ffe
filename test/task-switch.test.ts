import { expect } from 'chai';
import { Vec } from '../core/cpu/faults.js';
import { CpuHarness, Reg, S, Seg } from './support/cpu-harness.js';
import { bytes32, enterRing3, gate, GDT, IDT, ringMachine, runToFault, segment, Sel, TSS } from './support/protected-mode.js';

/** Hardware task switches (SDM Vol. 3A ch. 7) between the standard TSS at 0x28 (task A) and the tasks below. */

const NT = 0x4000, CR0_TS = 0x8;
/** The second 32-bit task's TSS, the 16-bit task's TSS, and a TSS whose limit is too small. */
const TSS_B = 0x4000, TSS_16 = 0x5000, TSS_SMALL = 0x4800;
const TASK_B_CODE = 0x20000, TASK_B_STACK = 0x50000;
/** Selectors added after the standard GDT (which ends at 0xA7). */
const enum T { TSS_B = 0xa8, GATE_B = 0xb0, TSS_16 = 0xb8, TSS_SMALL = 0xc0, DATA16 = 0xc8, GATE_B3 = 0xd3, LDT = 0xd8, LDT_CODE = 0x0c, BEYOND = 0xf8 }
/** The LDT: entry 1 is flat ring-0 code. */
const LDT = 0x6000;
/** A's code: `call/jmp 0xXX:0` is at 0x10000, the next instruction at 0x10007. */
const A_NEXT = 0x10007;

interface Task32 {
  eip: number;
  esp: number;
  eax?: number;
  eflags?: number;
  cs?: number;
  ss?: number;
  ds?: number;
  ldt?: number;
  cr3?: number;
}

/** Writes the fields of a 32-bit TSS a switch loads: CR3, EIP, EFLAGS, the registers, ES..GS (DS's selector in ES, FS, GS too), the LDT. */
function writeTss32(h: CpuHarness, base: number, t: Task32): void {
  const ds = t.ds ?? Sel.DATA0;
  h.load(base + 0x1c, [t.cr3 ?? 0, t.eip, t.eflags ?? 2, t.eax ?? 0, 0, 0, 0, t.esp, 0, 0, 0].flatMap(bytes32));
  h.load(base + 0x48, [ds, t.cs ?? Sel.CODE0, t.ss ?? Sel.DATA0, ds, ds, ds, t.ldt ?? 0].flatMap(bytes32));
}

/**
 * The standard ring machine with TR's descriptor busy (as after LTR), task B's TSS and gates to it, a 16-bit TSS and a
 * 16-bit data segment for its stack, and a TSS whose limit is too small.
 */
function taskMachine(code: number[], taskB: number[], b: Partial<Task32> = {}): CpuHarness {
  const h = ringMachine(code);
  const st = h.cpu.st;
  h.load(GDT + Sel.TSS + 5, [0x8b]);
  st[S.TR_FLAGS] |= 2;
  h.load(GDT + T.TSS_B, segment(TSS_B, 0x67, 0x89, 0));
  h.load(GDT + T.GATE_B, gate(T.TSS_B, 0, 0x85));
  h.load(GDT + T.TSS_16, segment(TSS_16, 0x2b, 0x81, 0));
  h.load(GDT + T.TSS_SMALL, segment(TSS_SMALL, 0x60, 0x89, 0));
  h.load(GDT + T.DATA16, segment(0, 0xffff, 0x92, 0));
  h.load(GDT + (T.GATE_B3 & ~3), gate(T.TSS_B, 0, 0xe5));
  h.load(GDT + T.LDT, segment(LDT, 0x0f, 0x82, 0));
  h.load(LDT + (T.LDT_CODE & ~7), segment(0, 0xfffff, 0x9a));
  st[S.GDTR_LIMIT] = 0xdf;
  writeTss32(h, TSS_B, { eip: TASK_B_CODE, esp: TASK_B_STACK, ...b });
  h.load(TASK_B_CODE, taskB);
  return h;
}

/** Descriptor byte 5 (P, DPL, type) of a GDT entry: 0x89 available 32-bit TSS, 0x8B busy. */
function access(h: CpuHarness, selector: number): number {
  return h.read8(GDT + (selector & ~7) + 5);
}

/** Continues after a HLT the test stopped at. */
function resume(h: CpuHarness): void {
  h.cpu.st[S.HALTED] = 0;
  h.run();
}

/**
 * Adds the 16-bit task: IP 0x7000 in the 16-bit code segment, AX 0x1234, SP 0x6000 in the 16-bit stack segment, flat
 * data, no LDT; its code is mov bx,ax; hlt; iret.
 */
function with16BitTask(h: CpuHarness): CpuHarness {
  const words = [0x7000, 2, 0x1234, 0, 0, 0, 0x6000, 0, 0, 0, Sel.DATA0, Sel.CODE16, T.DATA16, Sel.DATA0, 0];
  h.load(TSS_16 + 0x0e, words.flatMap((w) => [w & 0xff, w >> 8]));
  return h.load(0x7000, [0x89, 0xc3, 0xf4, 0xcf]);
}

const farTo = (opcode: number, selector: number) => [opcode, 0, 0, 0, 0, selector, 0];
const JMP = 0xea, CALL = 0x9a;

describe('hardware task switching', () => {
  describe('JMP to a TSS', () => {
    // A: jmp 0xa8:0; mov esi,0x5555 (after the return); hlt.  B: mov ecx,eax; mov edi,esp; jmp 0x28:0
    const a = [...farTo(JMP, T.TSS_B), 0xbe, 0x55, 0x55, 0, 0, 0xf4];
    const b = [0x89, 0xc1, 0x89, 0xe7, ...farTo(JMP, Sel.TSS)];

    it('saves A in its TSS, runs B with its own registers, and comes back to A the same way', () => {
      const h = taskMachine(a, b, { eax: 0x2222 });
      h.set(Reg.EAX, 0x1111).set(Reg.EBX, 0x3333);
      h.run();
      expect([h.get(Reg.EAX), h.get(Reg.EBX), h.get(Reg.ESI), h.get(Reg.ESP)]).to.deep.equal([0x1111, 0x3333, 0x5555, 0x80000]);
      expect(h.eip).to.equal(A_NEXT + 6);
      expect(h.cpu.st[S.TR]).to.equal(Sel.TSS);
      // B's state as it left: ECX = its EAX, EDI = its ESP, EIP after its JMP.
      expect([h.read32(TSS_B + 0x2c), h.read32(TSS_B + 0x44), h.read32(TSS_B + 0x20)]).to.deep.equal([0x2222, TASK_B_STACK, TASK_B_CODE + 11]);
      // A's saved EIP is the instruction after its JMP; its registers as they were then.
      expect([h.read32(TSS + 0x20), h.read32(TSS + 0x28), h.read32(TSS + 0x34)]).to.deep.equal([A_NEXT, 0x1111, 0x3333]);
      expect([h.read16(TSS + 0x4c), h.read16(TSS + 0x50)]).to.deep.equal([Sel.CODE0, Sel.DATA0]);
    });

    it('clears the old busy bit, sets the new one, leaves NT and the back-link alone, and sets CR0.TS', () => {
      const h = taskMachine(a, [0xf4]);
      h.run();
      expect(h.eip).to.equal(TASK_B_CODE + 1);
      expect([access(h, Sel.TSS), access(h, T.TSS_B)]).to.deep.equal([0x89, 0x8b]);
      expect(h.cpu.st[S.TR]).to.equal(T.TSS_B);
      expect([h.cpu.st[S.TR_BASE], h.cpu.st[S.TR_LIMIT], h.cpu.st[S.TR_FLAGS] & 0xf]).to.deep.equal([TSS_B, 0x67, 0xb]);
      expect(h.eflags & NT).to.equal(0);
      expect(h.read16(TSS_B)).to.equal(0);
      expect(h.cpu.st[S.CR0] & CR0_TS).to.equal(CR0_TS);
      expect([h.cpu.st[S.SEL + Seg.CS], h.cpu.st[S.SEL + Seg.SS], h.get(Reg.ESP)]).to.deep.equal([Sel.CODE0, Sel.DATA0, TASK_B_STACK]);
    });
  });

  describe('CALL through a task gate and IRET back', () => {
    // A: call 0xb0:0; hlt.  B: pushfd; pop ebx; hlt; iretd
    const a = [...farTo(CALL, T.GATE_B), 0xf4];
    const b = [0x9c, 0x5b, 0xf4, 0xcf];

    it('in B: both TSSs busy, NT set, the back-link names A, CR0.TS set', () => {
      const h = taskMachine(a, b);
      h.cpu.st[S.CR0] &= ~CR0_TS;
      h.run();
      expect(h.eip).to.equal(TASK_B_CODE + 3);
      expect(h.get(Reg.EBX) & NT).to.equal(NT);
      expect([access(h, Sel.TSS), access(h, T.TSS_B)]).to.deep.equal([0x8b, 0x8b]);
      expect(h.read16(TSS_B)).to.equal(Sel.TSS);
      expect(h.cpu.st[S.CR0] & CR0_TS).to.equal(CR0_TS);
      expect(h.cpu.st[S.TR]).to.equal(T.TSS_B);
    });

    it('IRET with NT returns to A after its CALL: B available again, B saved with NT clear, A with its own flags', () => {
      const h = taskMachine(a, b);
      h.run();
      resume(h);
      expect(h.eip).to.equal(A_NEXT + 1);
      expect(h.cpu.st[S.TR]).to.equal(Sel.TSS);
      expect([access(h, Sel.TSS), access(h, T.TSS_B)]).to.deep.equal([0x8b, 0x89]);
      expect(h.eflags & NT).to.equal(0);
      expect(h.read32(TSS_B + 0x20)).to.equal(TASK_B_CODE + 4);
      expect(h.read32(TSS_B + 0x24) & NT).to.equal(0);
      expect(h.read32(TSS_B + 0x34) & NT).to.equal(NT);
      expect(h.get(Reg.ESP)).to.equal(0x80000);
    });

    it('a CALL to the TSS itself nests the same way', () => {
      const h = taskMachine([...farTo(CALL, T.TSS_B), 0xf4], b);
      h.run();
      expect([h.read16(TSS_B), h.get(Reg.EBX) & NT]).to.deep.equal([Sel.TSS, NT]);
      resume(h);
      expect([h.eip, h.cpu.st[S.TR]]).to.deep.equal([A_NEXT + 1, Sel.TSS]);
    });

    it('a DPL 3 task gate may be used from ring 3; B runs at the CPL of its CS', () => {
      const h = enterRing3(taskMachine([...farTo(CALL, T.GATE_B3), 0xf4], b));
      h.run();
      expect([h.eip, h.cpu.st[S.CPL], h.read16(TSS + 0x4c)]).to.deep.equal([TASK_B_CODE + 3, 0, Sel.CODE3]);
    });
  });

  describe('interrupts through a task gate', () => {
    it('a #GP switches to B with the error code on B\'s stack; A saved at the faulting instruction', () => {
      // A: mov ax,0xf8; mov ds,ax (#GP(0xf8): beyond the GDT).  B: pop eax; mov edx,esp; hlt
      const h = taskMachine([0x66, 0xb8, 0xf8, 0x00, 0x8e, 0xd8, 0xf4], [0x58, 0x89, 0xe2, 0xf4]);
      h.load(IDT + Vec.GP * 8, gate(T.TSS_B, 0, 0x85));
      h.run();
      expect(h.eip).to.equal(TASK_B_CODE + 4);
      expect([h.get(Reg.EAX), h.get(Reg.EDX)]).to.deep.equal([T.BEYOND, TASK_B_STACK]);
      expect([h.read32(TSS + 0x20), h.read32(TSS + 0x28) & 0xffff]).to.deep.equal([0x10004, T.BEYOND]);
      expect([h.read16(TSS_B), access(h, Sel.TSS), access(h, T.TSS_B)]).to.deep.equal([Sel.TSS, 0x8b, 0x8b]);
      expect(h.eflags & NT).to.equal(NT);
    });

    it('INT n pushes nothing; IRET goes back to the instruction after the INT', () => {
      // A: int 0x40; mov ecx,7; hlt.  B: mov edx,esp; iretd
      const h = taskMachine([0xcd, 0x40, 0xb9, 7, 0, 0, 0, 0xf4], [0x89, 0xe2, 0xcf]);
      h.load(IDT + 0x40 * 8, gate(T.TSS_B, 0, 0x85));
      h.run();
      expect([h.eip, h.get(Reg.ECX), h.cpu.st[S.TR]]).to.deep.equal([0x10008, 7, Sel.TSS]);
      expect(h.read32(TSS_B + 0x30)).to.equal(TASK_B_STACK);
      expect(access(h, T.TSS_B)).to.equal(0x89);
    });

    it('INT n through a DPL 0 task gate at CPL 3 is #GP(vector * 8 + 2) and no switch', () => {
      const h = enterRing3(taskMachine([0xcd, 0x40], [0xf4]));
      h.load(IDT + 0x40 * 8, gate(T.TSS_B, 0, 0x85));
      const f = runToFault(h);
      expect([f.vector, f.errorCode, f.eip, h.cpu.st[S.TR]]).to.deep.equal([Vec.GP, 0x40 * 8 + 2, 0x10000, Sel.TSS]);
    });
  });

  describe('faults', () => {
    it('a bad DS in the new TSS is #TS(DS) delivered in the new task, at its first instruction', () => {
      const cases: [number, number][] = [[T.BEYOND, Vec.TS], [Sel.EXECONLY0, Vec.TS], [Sel.ABSENT_DATA, Vec.NP]];
      for (const [ds, vector] of cases) {
        const h = taskMachine(farTo(JMP, T.TSS_B), [0xf4], { ds });
        const f = runToFault(h);
        expect([f.vector, f.errorCode, f.eip, f.cs], `DS 0x${ds.toString(16)}`).to.deep.equal([vector, ds, TASK_B_CODE, Sel.CODE0]);
        expect([h.cpu.st[S.TR], h.get(Reg.ESP)]).to.deep.equal([T.TSS_B, TASK_B_STACK - 16]);
        expect(h.cpu.st[S.SEL + Seg.DS]).to.equal(ds);
      }
    });

    it('a non-LDT LDT selector, a non-code CS or an SS of the wrong privilege is #TS(selector), here through a task gate to the 16-bit task', () => {
      for (const [field, value] of [['cs', Sel.DATA0], ['ss', Sel.DATA3], ['ldt', Sel.DATA0]] as const) {
        const h = with16BitTask(taskMachine(farTo(JMP, T.TSS_B), [0xf4], { [field]: value }));
        h.load(IDT + Vec.TS * 8, gate(T.TSS_16, 0, 0x85));
        h.run();
        expect([h.eip, h.cpu.st[S.TR], h.read16(TSS_16)], field).to.deep.equal([0x7003, T.TSS_16, T.TSS_B]);
        // The error code on the 16-bit task's stack; B saved as the switch left it, at its first instruction.
        expect([h.get(Reg.ESP), h.read16(0x5ffe)], field).to.deep.equal([0xffff5ffe, value & ~3]);
        expect([h.read32(TSS_B + 0x20), h.read16(TSS_B + { cs: 0x4c, ss: 0x50, ldt: 0x60 }[field])], field).to.deep.equal([TASK_B_CODE, value]);
        expect([access(h, Sel.TSS), access(h, T.TSS_B), access(h, T.TSS_16)], field).to.deep.equal([0x89, 0x8b, 0x83]);
      }
    });

    it('a TSS limit below 0x67 is #TS(selector) in the old task', () => {
      const h = taskMachine(farTo(JMP, T.TSS_SMALL), [0xf4]);
      const f = runToFault(h);
      expect([f.vector, f.errorCode, f.eip, h.cpu.st[S.TR]]).to.deep.equal([Vec.TS, T.TSS_SMALL, 0x10000, Sel.TSS]);
      expect(access(h, Sel.TSS)).to.equal(0x8b);
    });

    it('JMP or CALL to a busy TSS, or through a gate to one, is #GP(TSS selector)', () => {
      const cases: [string, number[], number][] = [
        ['jmp to the running task', farTo(JMP, Sel.TSS), Sel.TSS],
        ['call to a busy TSS', farTo(CALL, T.TSS_B), T.TSS_B],
        ['call through a gate to a busy TSS', farTo(CALL, T.GATE_B), T.TSS_B],
      ];
      for (const [what, code, error] of cases) {
        const h = taskMachine(code, [0xf4]);
        h.load(GDT + T.TSS_B + 5, [0x8b]);
        const f = runToFault(h);
        expect([f.vector, f.errorCode, f.eip, h.cpu.st[S.TR]], what).to.deep.equal([Vec.GP, error, 0x10000, Sel.TSS]);
      }
    });

    it('JMP from ring 3 to a DPL 0 TSS is #GP(selector)', () => {
      const h = enterRing3(taskMachine(farTo(JMP, T.TSS_B), [0xf4]));
      const f = runToFault(h);
      expect([f.vector, f.errorCode, f.eip]).to.deep.equal([Vec.GP, T.TSS_B, 0x10000]);
    });

    it('IRET with NT whose back-link names an available TSS is #TS(link)', () => {
      // pushfd; or dword [esp],NT; popfd; iretd
      const h = taskMachine([0x9c, 0x81, 0x0c, 0x24, 0x00, 0x40, 0x00, 0x00, 0x9d, 0xcf], [0xf4]);
      h.load(TSS, [T.TSS_B, 0]);
      const f = runToFault(h);
      expect([f.vector, f.errorCode, f.eip, h.cpu.st[S.TR]]).to.deep.equal([Vec.TS, T.TSS_B, 0x10009, Sel.TSS]);
    });
  });

  describe('the new task\'s LDT and address space', () => {
    it('loads LDTR from the TSS before CS, so CS may name an LDT segment', () => {
      const h = taskMachine(farTo(JMP, T.TSS_B), [0xf4], { cs: T.LDT_CODE, ldt: T.LDT });
      h.run();
      expect([h.eip, h.cpu.st[S.SEL + Seg.CS], h.cpu.st[S.LDTR]]).to.deep.equal([TASK_B_CODE + 1, T.LDT_CODE, T.LDT]);
      expect([h.cpu.st[S.LDTR_BASE], h.cpu.st[S.LDTR_LIMIT]]).to.deep.equal([LDT, 0x0f]);
    });

    it('with paging on, loads CR3 from the TSS and drops the old translations', () => {
      // Both directories map 0-4 MiB one to one; linear 0x400000 is physical 0x180000 for A and 0x181000 for B.
      const PD_A = 0x100000, PD_B = 0x101000, IDENTITY = 0x102000, PT_A = 0x103000, PT_B = 0x104000;
      // A: mov eax,[0x400000]; jmp 0xa8:0.  B: mov ebx,[0x400000]; hlt
      const h = taskMachine([0xa1, 0, 0, 0x40, 0, ...farTo(JMP, T.TSS_B)], [0x8b, 0x1d, 0, 0, 0x40, 0, 0xf4], { cr3: PD_B });
      h.load(IDENTITY, Array.from({ length: 1024 }, (_, k) => (k << 12) | 3).flatMap(bytes32));
      h.load(PD_A, bytes32(IDENTITY | 3).concat(bytes32(PT_A | 3))).load(PD_B, bytes32(IDENTITY | 3).concat(bytes32(PT_B | 3)));
      h.load(PT_A, bytes32(0x180003)).load(PT_B, bytes32(0x181003));
      h.load(0x180000, bytes32(0xaaaa)).load(0x181000, bytes32(0xbbbb));
      h.cpu.st[S.CR3] = PD_A;
      h.cpu.st[S.CR0] |= 0x80000000;
      h.cpu.pagingChanged();
      h.run();
      // A's EAX went to its TSS with the switch.
      expect([h.read32(TSS + 0x28), h.get(Reg.EBX), h.cpu.st[S.CR3]]).to.deep.equal([0xaaaa, 0xbbbb, PD_B]);
    });
  });

  describe('JMP to a TSS under PAE paging', () => {
    // Both PDPTs map 0-4 MiB one to one with 2 MiB pages; linear 0x400000 is physical 0x180000 for A and 0x181000 for B.
    const PDPT_A = 0x100000, PDPT_B = 0x100020, PD_A = 0x101000, PD_B = 0x102000, PT_A = 0x103000, PT_B = 0x104000;
    const entry64 = (value: number) => bytes32(value).concat(bytes32(0));
    function paeTaskMachine(b: Partial<Task32>): CpuHarness {
      // A: mov eax,[0x400000]; jmp TSS_B.  B: mov ebx,[0x400000]; hlt
      const h = taskMachine([0xa1, 0, 0, 0x40, 0, ...farTo(JMP, T.TSS_B)], [0x8b, 0x1d, 0, 0, 0x40, 0, 0xf4], b);
      h.load(PDPT_A, entry64(PD_A | 1)).load(PDPT_B, entry64(PD_B | 1));
      for (const [pd, pt] of [[PD_A, PT_A], [PD_B, PT_B]]) h.load(pd, [...entry64(0x83), ...entry64(0x200083), ...entry64(pt | 3)]);
      h.load(PT_A, entry64(0x180003)).load(PT_B, entry64(0x181003));
      h.load(0x180000, bytes32(0xaaaa)).load(0x181000, bytes32(0xbbbb));
      const st = h.cpu.st;
      st[S.CR4] |= 0x20;
      st[S.CR3] = PDPT_A;
      st[S.CR0] |= 0x80000000;
      h.cpu.pagingChanged();
      h.cpu.paging.loadCr3(PDPT_A);
      return h;
    }

    it('reloads the PDPTEs from the new CR3', () => {
      const h = paeTaskMachine({ cr3: PDPT_B });
      h.run();
      expect([h.read32(TSS + 0x28), h.get(Reg.EBX), h.cpu.st[S.CR3]]).to.deep.equal([0xaaaa, 0xbbbb, PDPT_B]);
    });

    it('a present PDPTE with a reserved bit in the new CR3 is #GP(0) at the JMP, in the old task, nothing switched', () => {
      const h = paeTaskMachine({ cr3: PDPT_B });
      h.load(PDPT_B, entry64(PD_B | 1 | 2));
      const f = runToFault(h);
      expect([f.vector, f.errorCode, h.cpu.st[S.TR], h.cpu.st[S.CR3]]).to.deep.equal([Vec.GP, 0, Sel.TSS, PDPT_A]);
      expect(access(h, T.TSS_B)).to.equal(0x89);
    });
  });

  describe('16-bit TSS', () => {
    it('CALL loads the 16-bit state: word registers (upper halves 0xFFFF), null FS and GS, a 16-bit CS; links and nests', () => {
      const h = with16BitTask(taskMachine([...farTo(CALL, T.TSS_16), 0xf4], [0xf4]));
      h.run();
      expect(h.eip).to.equal(0x7003);
      expect([h.get(Reg.EAX), h.get(Reg.ESP), h.cpu.st[S.SS_DEFAULT32]]).to.deep.equal([0xffff1234, 0xffff6000, 0]);
      expect([h.cpu.st[S.SEL + Seg.FS], h.cpu.st[S.SEL + Seg.GS], h.cpu.st[S.CS_DEFAULT32]]).to.deep.equal([0, 0, 0]);
      expect([h.read16(TSS_16), access(h, T.TSS_16), h.cpu.st[S.TR_FLAGS] & 0xf]).to.deep.equal([Sel.TSS, 0x83, 3]);
      expect(h.eflags & NT).to.equal(NT);
    });

    it('a 16-bit IRET returns to the 32-bit task; the 16-bit TSS keeps IP, FLAGS (NT clear) and the word registers', () => {
      const h = with16BitTask(taskMachine([...farTo(CALL, T.TSS_16), 0xf4], [0xf4]));
      h.set(Reg.EAX, 0xabcdef01);
      h.run();
      resume(h);
      expect([h.eip, h.get(Reg.EAX), h.cpu.st[S.TR], h.cpu.st[S.CS_DEFAULT32]]).to.deep.equal([A_NEXT + 1, 0xabcdef01, Sel.TSS, 1]);
      expect([h.read16(TSS_16 + 0x0e), h.read16(TSS_16 + 0x10) & NT, h.read16(TSS_16 + 0x18)]).to.deep.equal([0x7004, 0, 0x1234]);
      expect([h.read16(TSS_16 + 0x24), access(h, T.TSS_16)]).to.deep.equal([Sel.CODE16, 0x81]);
    });

    it('a 16-bit TSS with a limit below 0x2B is #TS(selector)', () => {
      const h = with16BitTask(taskMachine(farTo(JMP, T.TSS_16), [0xf4]));
      h.load(GDT + T.TSS_16, segment(TSS_16, 0x2a, 0x81, 0));
      const f = runToFault(h);
      expect([f.vector, f.errorCode]).to.deep.equal([Vec.TS, T.TSS_16]);
    });
  });

});
