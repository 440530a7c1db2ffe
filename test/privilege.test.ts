import { expect } from 'chai';
import { Vec } from '../core/cpu/faults.js';
import { CpuHarness, Reg, S, Seg } from './support/cpu-harness.js';
import {
  bytes32, enterRing3, gate, GATE16_TARGET, HANDLERS, IDT, ringMachine, runToFault, Sel, STACK0, STACK3, TSS,
} from './support/protected-mode.js';

const IF = 0x200, IOPL = 0x3000;
const GATE_TARGET = 0x20000;

/** The words of a 32-bit frame on the ring-0 stack, from ESP up. */
function frame(h: CpuHarness, words: number): number[] {
  const esp = h.get(Reg.ESP);
  return Array.from({ length: words }, (_, k) => h.read32(esp + 4 * k));
}

function segments(h: CpuHarness): number[] {
  return [Seg.CS, Seg.SS, Seg.DS, Seg.ES, Seg.FS, Seg.GS].map((s) => h.cpu.st[S.SEL + s]);
}

describe('privilege levels', () => {
  describe('ring 0 -> ring 3 by IRET, and back by an exception', () => {
    // mov ds,0x10; mov es,0x23; mov fs,0x43 (conforming code); mov gs,0x10;
    // push 0x23; push 0x60000; pushfd; push 0x1b; push 0x10100; iretd
    const toRing3 = [0x66, 0xb8, 0x10, 0x00, 0x8e, 0xd8, 0x66, 0xb8, 0x23, 0x00, 0x8e, 0xc0, 0x66, 0xb8, 0x43, 0x00, 0x8e, 0xe0,
      0x66, 0xb8, 0x10, 0x00, 0x8e, 0xe8, 0x6a, 0x23, 0x68, 0x00, 0x00, 0x06, 0x00, 0x9c, 0x6a, 0x1b, 0x68, 0x00, 0x01, 0x01, 0x00, 0xcf];
    // at 0x10100: mov ecx,cs; mov edx,ss; mov esi,ds; mov edi,es; mov ebp,fs; hlt (privileged: #GP at CPL 3)
    const ring3 = [0x8c, 0xc9, 0x8c, 0xd2, 0x8c, 0xde, 0x8c, 0xc7, 0x8c, 0xe5, 0xf4];

    it('IRET pops SS:ESP, sets CPL 3 and nulls DS and GS (DPL 0) but keeps ES (DPL 3) and FS (conforming)', () => {
      const h = ringMachine(toRing3).load(0x10100, ring3);
      h.run(19);
      expect(h.cpu.st[S.CPL]).to.equal(3);
      expect([h.get(Reg.ECX), h.get(Reg.EDX), h.get(Reg.ESI), h.get(Reg.EDI), h.get(Reg.EBP)]).to.deep.equal([0x1b, 0x23, 0, 0x23, 0x43]);
      expect(h.cpu.st[S.SEL + Seg.GS]).to.equal(0);
      expect(h.get(Reg.ESP)).to.equal(STACK3);
    });

    it('the #GP of HLT at CPL 3 switches to SS0:ESP0 and pushes SS, ESP, EFLAGS, CS, EIP and the error code', () => {
      const h = ringMachine(toRing3).load(0x10100, ring3);
      const f = runToFault(h);
      expect([f.vector, f.errorCode, f.eip, f.cs]).to.deep.equal([Vec.GP, 0, 0x1010a, 0x1b]);
      expect(h.cpu.st[S.CPL]).to.equal(0);
      expect(h.get(Reg.ESP)).to.equal(STACK0 - 24);
      expect(frame(h, 6).slice(4)).to.deep.equal([STACK3, 0x23]);
      expect(segments(h).slice(0, 2)).to.deep.equal([Sel.CODE0, Sel.DATA0]);
    });

    it('IRET at CPL 3 changes neither IOPL nor IF', () => {
      // push 0x3202; push 0x1b; push 0x10100; iretd — then the HLT at 0x10100 faults
      const h = enterRing3(ringMachine([0x68, 0x02, 0x32, 0x00, 0x00, 0x6a, 0x1b, 0x68, 0x00, 0x01, 0x01, 0x00, 0xcf]));
      h.load(0x10100, [0xf4]);
      h.run(4);
      expect(h.eflags & (IOPL | IF)).to.equal(0);
      expect(h.eip).to.equal(0x10100);
    });
  });

  describe('interrupts from ring 3', () => {
    it('INT 0x80 through a DPL 3 gate runs the handler at CPL 0 on the TSS stack; IRETD returns to ring 3', () => {
      const h = enterRing3(ringMachine([0xcd, 0x80, 0x8c, 0xc9, 0xf4]));       // int 0x80; mov ecx,cs; hlt
      h.load(IDT + 0x80 * 8, gate(Sel.CODE0, GATE_TARGET, 0xee));
      h.load(GATE_TARGET, [0x43, 0x8c, 0xca, 0x8c, 0xd6, 0x89, 0xe7, 0xcf]); // inc ebx; mov edx,cs; mov esi,ss; mov edi,esp; iretd
      h.set(Reg.EBX, 5);
      const f = runToFault(h);
      expect([h.get(Reg.EBX), h.get(Reg.EDX), h.get(Reg.ESI), h.get(Reg.EDI)]).to.deep.equal([6, Sel.CODE0, Sel.DATA0, STACK0 - 20]);
      expect(h.get(Reg.ECX)).to.equal(0x1b);
      expect([f.vector, f.eip]).to.deep.equal([Vec.GP, 0x10004]);
    });

    it('the frame holds SS, ESP, EFLAGS (IF set), CS and the next EIP; the handler runs with IF clear', () => {
      const h = enterRing3(ringMachine([0xcd, 0x80, 0xf4]));
      h.load(IDT + 0x80 * 8, gate(Sel.CODE0, GATE_TARGET, 0xee));
      h.load(GATE_TARGET, [0xf4]);
      h.cpu.setEflags(IF, IF);
      h.run(2);
      expect(h.eip).to.equal(GATE_TARGET + 1);
      expect(frame(h, 5)).to.deep.equal([0x10002, 0x1b, 0x202, STACK3, 0x23]);
      expect(h.eflags & IF).to.equal(0);
    });

    it('an external interrupt may use a DPL 0 gate from CPL 3', () => {
      const h = enterRing3(ringMachine([0x90, 0x90, 0xf4]));
      h.load(IDT + 0x41 * 8, gate(Sel.CODE0, GATE_TARGET, 0x8e));
      h.load(GATE_TARGET, [0xf4]);
      h.cpu.setEflags(IF, IF);
      h.cpu.st[S.INTR] = 1;
      h.interp.acknowledgeInterrupt = () => { h.cpu.st[S.INTR] = 0; return 0x41; };
      h.run(1);
      expect(h.eip).to.equal(GATE_TARGET + 1);
      expect(frame(h, 5)).to.deep.equal([0x10000, 0x1b, 0x202, STACK3, 0x23]);
    });

    it('INT n and INT3 through a DPL 0 gate are #GP(vector * 8 + 2); an absent gate is #NP(vector * 8 + 2)', () => {
      const cases: [string, number[], [number, number]][] = [
        ['int 0x41', [0xcd, 0x41], [Vec.GP, 0x41 * 8 + 2]],
        ['int3', [0xcc], [Vec.GP, 3 * 8 + 2]],
        ['int 0x42 (absent)', [0xcd, 0x42], [Vec.NP, 0x42 * 8 + 2]],
        ['int 0x43 (empty)', [0xcd, 0x43], [Vec.GP, 0x43 * 8 + 2]],
      ];
      for (const [what, code, [vector, errorCode]] of cases) {
        const h = enterRing3(ringMachine(code));
        h.load(IDT + 0x41 * 8, gate(Sel.CODE0, GATE_TARGET, 0x8e));
        h.load(IDT + 0x42 * 8, gate(Sel.CODE0, GATE_TARGET, 0x6e));
        const f = runToFault(h);
        expect([f.vector, f.errorCode, f.eip, f.cs], what).to.deep.equal([vector, errorCode, 0x10000, 0x1b]);
      }
    });

    it('a gate to ring-3 code (DPL > CPL 0) is #GP(code selector)', () => {
      const h = ringMachine([0xcd, 0x80]);
      h.load(IDT + 0x80 * 8, gate(Sel.CODE3, GATE_TARGET, 0xee));
      const f = runToFault(h);
      expect([f.vector, f.errorCode, f.eip]).to.deep.equal([Vec.GP, Sel.CODE3 & ~3, 0x10000]);
    });
  });

  describe('call gates', () => {
    // push 0x11111111; push 0x22222222; call 0x33:0; mov edi,esp; mov ebp,ds; hlt
    const caller = [0x68, 0x11, 0x11, 0x11, 0x11, 0x68, 0x22, 0x22, 0x22, 0x22, 0x9a, 0x00, 0x00, 0x00, 0x00, 0x33, 0x00,
      0x89, 0xe7, 0x8c, 0xdd, 0xf4];
    // mov eax,[esp+8]; mov ebx,[esp+12]; mov ecx,[esp+16]; mov edx,[esp+20]; mov esi,cs; mov bp,0x10; mov ds,bp; retf 8
    const handler = [0x8b, 0x44, 0x24, 0x08, 0x8b, 0x5c, 0x24, 0x0c, 0x8b, 0x4c, 0x24, 0x10, 0x8b, 0x54, 0x24, 0x14, 0x8c, 0xce,
      0x66, 0xbd, 0x10, 0x00, 0x8e, 0xdd, 0xca, 0x08, 0x00];

    it('CALL through a 32-bit gate from ring 3 copies two parameters to the ring-0 stack; RETF 8 returns and nulls DS', () => {
      const h = enterRing3(ringMachine(caller)).load(GATE_TARGET, handler);
      const f = runToFault(h);
      expect([h.get(Reg.EAX), h.get(Reg.EBX)]).to.deep.equal([0x22222222, 0x11111111]);
      expect([h.get(Reg.ECX), h.get(Reg.EDX), h.get(Reg.ESI)]).to.deep.equal([STACK3 - 8, 0x23, Sel.CODE0]);
      expect([h.get(Reg.EDI), h.get(Reg.EBP)]).to.deep.equal([STACK3, 0]);
      expect([f.vector, f.eip, f.cs]).to.deep.equal([Vec.GP, 0x10015, 0x1b]);
    });

    it('the ring-0 frame is SS, ESP, the parameters, CS and EIP, below ESP0', () => {
      const h = enterRing3(ringMachine(caller)).load(GATE_TARGET, [0xf4]);
      h.run(4);
      expect(h.eip).to.equal(GATE_TARGET + 1);
      expect(h.get(Reg.ESP)).to.equal(STACK0 - 24);
      expect(frame(h, 6)).to.deep.equal([0x10011, 0x1b, 0x22222222, 0x11111111, STACK3 - 8, 0x23]);
      expect([h.cpu.st[S.CPL], h.cpu.st[S.SEL + Seg.CS], h.cpu.st[S.SEL + Seg.SS]]).to.deep.equal([0, Sel.CODE0, Sel.DATA0]);
    });

    it('a 16-bit gate copies words and pushes a 16-bit frame; O16 RETF 4 returns to ring 3', () => {
      // at 0x5000: push word 0x1111; push word 0x2222; call 0x3b:0; mov edi,esp; hlt
      const h = enterRing3(ringMachine([0xf4]));
      h.load(0x5000, [0x66, 0x68, 0x11, 0x11, 0x66, 0x68, 0x22, 0x22, 0x9a, 0x00, 0x00, 0x00, 0x00, 0x3b, 0x00, 0x89, 0xe7, 0xf4]);
      // movzx eax..ebp, word [esp + 0, 2, 4, 6, 8, 10]; o16 retf 4
      h.load(GATE16_TARGET, [0x0f, 0xb7, 0x04, 0x24, 0x0f, 0xb7, 0x5c, 0x24, 0x02, 0x0f, 0xb7, 0x4c, 0x24, 0x04, 0x0f, 0xb7, 0x54, 0x24, 0x06,
        0x0f, 0xb7, 0x74, 0x24, 0x08, 0x0f, 0xb7, 0x6c, 0x24, 0x0a, 0x66, 0xca, 0x04, 0x00]);
      h.cpu.st[S.EIP] = 0x5000;
      h.set(Reg.ESP, 0xf000);
      const f = runToFault(h);
      expect([h.get(Reg.EAX), h.get(Reg.EBX), h.get(Reg.ECX), h.get(Reg.EDX), h.get(Reg.ESI), h.get(Reg.EBP)])
        .to.deep.equal([0x500f, 0x1b, 0x2222, 0x1111, 0xeffc, 0x23]);
      expect(h.get(Reg.EDI)).to.equal(0xf000);
      expect([f.vector, f.eip, f.cs]).to.deep.equal([Vec.GP, 0x5011, 0x1b]);
    });

    it('CALL through a gate to the same level pushes CS:EIP on the current stack', () => {
      const h = ringMachine([0x9a, 0x00, 0x00, 0x00, 0x00, Sel.GATE0, 0x00]).load(GATE_TARGET, [0xf4]); // call 0x88:0
      h.run(2);
      expect(h.eip).to.equal(GATE_TARGET + 1);
      expect(frame(h, 2)).to.deep.equal([0x10007, Sel.CODE0]);
      expect(h.get(Reg.ESP)).to.equal(0x80000 - 8);
    });
  });

  describe('far transfer faults (error code, EIP at the instruction, CPL unchanged)', () => {
    const jmp = (sel: number, offset = 0x10100) => [0xea, ...bytes32(offset), sel & 0xff, sel >> 8];
    const call = (sel: number) => [0x9a, 0, 0, 0, 0, sel & 0xff, sel >> 8];
    const cases: [string, number[], number, [number, number]][] = [
      ['JMP to ring-0 code from CPL 3', jmp(Sel.CODE0), 3, [Vec.GP, Sel.CODE0]],
      ['JMP to ring-1 code from CPL 0', jmp(Sel.CODE1), 0, [Vec.GP, Sel.CODE1 & ~3]],
      ['JMP to ring-0 code with RPL 3 at CPL 0', jmp(Sel.CODE0 | 3), 0, [Vec.GP, Sel.CODE0]],
      ['JMP to a null selector', jmp(0), 0, [Vec.GP, 0]],
      ['JMP to a data segment', jmp(Sel.DATA0), 0, [Vec.GP, Sel.DATA0]],
      ['JMP to an absent code segment', jmp(Sel.ABSENT_CODE), 0, [Vec.NP, Sel.ABSENT_CODE]],
      ['JMP beyond the 16-bit segment limit', jmp(Sel.CODE16, 0x12345), 0, [Vec.GP, 0]],
      ['JMP from CPL 0 to ring-3 code', jmp(Sel.CODE3), 0, [Vec.GP, Sel.CODE3 & ~3]],
      ['JMP through a call gate to more privileged code', jmp(Sel.GATE3), 3, [Vec.GP, Sel.CODE0]],
      ['CALL through a DPL 0 gate from CPL 3', call(Sel.GATE0 | 3), 3, [Vec.GP, Sel.GATE0]],
      ['CALL through a DPL 0 gate with RPL 3 at CPL 0', call(Sel.GATE0 | 3), 0, [Vec.GP, Sel.GATE0]],
      ['CALL through an absent gate', call(Sel.ABSENT_GATE), 3, [Vec.NP, Sel.ABSENT_GATE & ~3]],
      ['CALL to a selector beyond the GDT limit', call(0x400), 0, [Vec.GP, 0x400]],
      // push 0x08; push 0x10100; retf
      ['RETF to a more privileged level', [0x6a, 0x08, 0x68, 0x00, 0x01, 0x01, 0x00, 0xcb], 3, [Vec.GP, Sel.CODE0]],
      // push 0x20 (SS with RPL 0); push 0x60000; push 0x1b; push 0x10100; retf
      ['RETF to ring 3 with an SS of RPL 0', [0x6a, 0x20, 0x68, 0x00, 0x00, 0x06, 0x00, 0x6a, 0x1b, 0x68, 0x00, 0x01, 0x01, 0x00, 0xcb], 0, [Vec.GP, 0x20]],
      // push 0x2b (the ring-0 TSS as SS, RPL 3); push 0x60000; push 0x1b; push 0x10100; retf
      ['RETF to ring 3 with a TSS as SS', [0x6a, 0x2b, 0x68, 0x00, 0x00, 0x06, 0x00, 0x6a, 0x1b, 0x68, 0x00, 0x01, 0x01, 0x00, 0xcb], 0, [Vec.GP, Sel.TSS]],
      // push 0; push 0x10100; retf
      ['RETF to a null CS', [0x6a, 0x00, 0x68, 0x00, 0x01, 0x01, 0x00, 0xcb], 0, [Vec.GP, 0]],
    ];
    for (const [what, code, cpl, [vector, errorCode]] of cases) {
      it(what, () => {
        const h = ringMachine(code);
        if (cpl === 3) enterRing3(h);
        const at = code[code.length - 1] === 0xcb ? 0x10000 + code.length - 1 : 0x10000;
        const f = runToFault(h);
        expect([f.vector, f.errorCode, f.eip], what).to.deep.equal([vector, errorCode, at]);
        expect(f.cs & 3).to.equal(cpl);
      });
    }

    it('JMP to conforming ring-0 code from CPL 3 keeps CPL 3 and sets CS.RPL to it', () => {
      const h = enterRing3(ringMachine(jmp(Sel.CONFORMING0))).load(0x10100, [0xf4]);
      const f = runToFault(h);
      expect([f.vector, f.eip, f.cs]).to.deep.equal([Vec.GP, 0x10100, Sel.CONFORMING0 | 3]);
    });
  });

  describe('the TSS stack of a privilege change', () => {
    /** Ring 3 calls the gate; #TS and #SS go to conforming handlers (`jmp $`) that run at CPL 3 on the ring-3 stack. */
    function callFromRing3(prepare: (h: CpuHarness) => void): [number, number, number] {
      const h = enterRing3(ringMachine([0x9a, 0, 0, 0, 0, Sel.GATE3, 0]));
      for (const v of [Vec.TS, Vec.SS]) {
        h.load(IDT + v * 8, gate(Sel.CONFORMING0, HANDLERS + 0x400 + v * 16, 0x8e));
        h.load(HANDLERS + 0x400 + v * 16, [0xeb, 0xfe]);
      }
      prepare(h);
      h.run(5);
      const vector = (h.eip - HANDLERS - 0x400) / 16;
      expect(h.cpu.st[S.CPL]).to.equal(3);
      return [vector, h.read32(h.get(Reg.ESP)), h.read32(h.get(Reg.ESP) + 4)];
    }

    const ss0 = (h: CpuHarness, sel: number) => h.load(TSS + 8, bytes32(sel));
    it('SS0 read-only data: #TS(SS0)', () => expect(callFromRing3((h) => ss0(h, Sel.READONLY0))).to.deep.equal([Vec.TS, Sel.READONLY0, 0x10000]));
    it('SS0 null: #TS(0)', () => expect(callFromRing3((h) => ss0(h, 0))).to.deep.equal([Vec.TS, 0, 0x10000]));
    it('SS0 with RPL 3: #TS(SS0)', () => expect(callFromRing3((h) => ss0(h, Sel.DATA0 | 3))).to.deep.equal([Vec.TS, Sel.DATA0, 0x10000]));
    it('SS0 of DPL 1: #TS(SS0)', () => expect(callFromRing3((h) => ss0(h, Sel.DATA1 & ~3))).to.deep.equal([Vec.TS, Sel.DATA1 & ~3, 0x10000]));
    it('SS0 absent: #SS(SS0)', () => expect(callFromRing3((h) => ss0(h, Sel.ABSENT_DATA))).to.deep.equal([Vec.SS, Sel.ABSENT_DATA, 0x10000]));
    it('a TSS too short for SS0:ESP0: #TS(TR)', () => {
      expect(callFromRing3((h) => { h.cpu.st[S.TR_LIMIT] = 8; })).to.deep.equal([Vec.TS, Sel.TSS, 0x10000]);
    });
    it('a frame that does not fit the new stack: #SS(SS0)', () => {
      // Expand-down SS0 with limit 0xFFF and ESP0 = 0x1008: the 16-byte frame would reach 0xFF8.
      expect(callFromRing3((h) => { ss0(h, Sel.EXPAND_DOWN); h.load(TSS + 4, bytes32(0x1008)); })).to.deep.equal([Vec.SS, Sel.EXPAND_DOWN, 0x10000]);
    });
    it('an expand-down SS0 with room for the frame is used', () => {
      const h = enterRing3(ringMachine([0x9a, 0, 0, 0, 0, Sel.GATE3, 0])).load(GATE_TARGET, [0xf4]);
      h.load(TSS + 4, bytes32(0x2000).concat(bytes32(Sel.EXPAND_DOWN)));
      h.run(2);
      expect(h.eip).to.equal(GATE_TARGET + 1);
      expect([h.get(Reg.ESP), h.cpu.st[S.SEL + Seg.SS]]).to.deep.equal([0x2000 - 24, Sel.EXPAND_DOWN]);
    });
  });
});
