import { expect } from 'chai';
import { CpuHarness, Reg, S } from './support/cpu-harness.js';
import { RF, TF } from '../core/cpu/flags.js';

/** SDM Vol. 3A ch. 17: TF single-step, DR0-DR3 breakpoints, DR7.GD, INT1. */

const LOG = 0x600;
const DR6 = S.DR0 + 6, DR6_RESET = 0xffff0ff0;

/**
 * Real mode: #DB (IVT 1) enters a handler at 0000:2000 that appends the saved IP to a list at
 * LOG + 0x10 and counts bytes at LOG: push bp; mov bp,sp; push ax; push bx; mov bx,[0x600];
 * mov ax,[bp+2]; mov [bx+0x610],ax; add word [0x600],2; pop bx; pop ax; pop bp; iret.
 */
function realStepper(code: number[]): CpuHarness {
  const h = new CpuHarness().realMode(code);
  h.load(4, [0x00, 0x20, 0x00, 0x00]);
  h.load(0x2000, [0x55, 0x89, 0xe5, 0x50, 0x53, 0x8b, 0x1e, 0x00, 0x06, 0x8b, 0x46, 0x02, 0x89, 0x87, 0x10, 0x06,
    0x83, 0x06, 0x00, 0x06, 0x02, 0x5b, 0x58, 0x5d, 0xcf]);
  return h;
}

function savedIps(h: CpuHarness): number[] {
  return Array.from({ length: h.read16(LOG) / 2 }, (_, k) => h.read16(LOG + 0x10 + k * 2));
}

/** pushf; pop ax; or ax,0x100; push ax; popf: sets TF (7 bytes, 0x1000-0x1006). */
const SET_TF = [0x9c, 0x58, 0x0d, 0x00, 0x01, 0x50, 0x9d];
/** pushf; pop ax; and ax,0xfeff; push ax; popf: clears TF (7 bytes); the POPF itself still traps. */
const CLEAR_TF = [0x9c, 0x58, 0x25, 0xff, 0xfe, 0x50, 0x9d];

/**
 * Flat 32-bit protected mode with a #DB interrupt gate to 0x5000, whose handler counts at LOG,
 * keeps the pushed EFLAGS at LOG+4, EIP at LOG+8 and DR6 at LOG+12, sets RF in the frame
 * and returns: push eax; inc dword [0x600] (via eax); mov eax,[esp+12]; mov [0x604],eax;
 * mov eax,[esp+4]; mov [0x608],eax; mov eax,dr6; mov [0x60c],eax; pop eax; or dword [esp+8],RF; iretd.
 */
function flatStepper(code: number[]): CpuHarness {
  const h = new CpuHarness().flat32(code);
  h.cpu.st[S.IDTR_BASE] = 0x3000;
  h.cpu.st[S.IDTR_LIMIT] = 0x7ff;
  h.load(0x3000 + 8, [0x00, 0x50, 0x08, 0x00, 0x00, 0x8e, 0x00, 0x00]);
  h.load(0x5000, [0x50, 0xa1, 0x00, 0x06, 0x00, 0x00, 0x40, 0xa3, 0x00, 0x06, 0x00, 0x00,
    0x8b, 0x44, 0x24, 0x0c, 0xa3, 0x04, 0x06, 0x00, 0x00, 0x8b, 0x44, 0x24, 0x04, 0xa3, 0x08, 0x06, 0x00, 0x00,
    0x0f, 0x21, 0xf0, 0xa3, 0x0c, 0x06, 0x00, 0x00, 0x58, 0x81, 0x4c, 0x24, 0x08, 0x00, 0x00, 0x01, 0x00, 0xcf]);
  return h;
}

describe('debug: TF single-step', () => {
  it('traps after each instruction once POPF set TF (not after the POPF), with IP of the next instruction and DR6.BS', () => {
    // SET_TF; nop; inc cx; inc cx; CLEAR_TF; hlt
    const h = realStepper([...SET_TF, 0x90, 0x41, 0x41, ...CLEAR_TF, 0xf4]);
    h.run();
    expect(savedIps(h)).to.deep.equal([0x1008, 0x1009, 0x100a, 0x100b, 0x100c, 0x100f, 0x1010, 0x1011]);
    expect(h.get(Reg.ECX)).to.equal(2);
    expect(h.cpu.st[DR6] & 0x4000).to.equal(0x4000);
    expect(h.eflags & TF).to.equal(0);
    expect(h.eip).to.equal(0x1012);
  });

  it('traps after each iteration of a REP string instruction, with IP on it until the count runs out', () => {
    // SET_TF; mov di,0x800; mov cx,3; rep stosb; CLEAR_TF; hlt
    const h = realStepper([...SET_TF, 0xbf, 0x00, 0x08, 0xb9, 0x03, 0x00, 0xf3, 0xaa, ...CLEAR_TF, 0xf4]);
    h.run();
    expect(savedIps(h).slice(0, 5)).to.deep.equal([0x100a, 0x100d, 0x100d, 0x100d, 0x100f]);
    expect(h.get(Reg.ECX) & 0xffff).to.equal(0);
  });

  it('holds the trap after MOV SS and POP SS until after the next instruction', () => {
    // SET_TF; xor ax,ax; mov ss,ax; nop; push ss; pop ss; nop; CLEAR_TF; hlt
    const h = realStepper([...SET_TF, 0x31, 0xc0, 0x8e, 0xd0, 0x90, 0x16, 0x17, 0x90, ...CLEAR_TF, 0xf4]);
    h.run();
    expect(savedIps(h)).to.deep.equal([0x1009, 0x100c, 0x100d, 0x100f, 0x1010, 0x1011, 0x1014, 0x1015, 0x1016]);
  });

  it('INT n enters its handler with TF clear and no trap; stepping resumes after the IRET', () => {
    // SET_TF; int 0x40 (handler: inc dx; iret); nop; CLEAR_TF; hlt
    const h = realStepper([...SET_TF, 0xcd, 0x40, 0x90, ...CLEAR_TF, 0xf4]).set(Reg.EDX, 0);
    h.load(0x40 * 4, [0x00, 0x30, 0x00, 0x00]);
    h.load(0x3000, [0x42, 0xcf]);
    h.run();
    expect(h.get(Reg.EDX)).to.equal(1);
    expect(savedIps(h)).to.deep.equal([0x100a, 0x100b, 0x100c, 0x100f, 0x1010, 0x1011]);
  });

  it('a fault replaces the trap: #UD under TF is delivered, no #DB for the faulting instruction', () => {
    // SET_TF; ud2 (the #UD handler halts)
    const h = realStepper([...SET_TF, 0x0f, 0x0b]);
    h.load(6 * 4, [0x00, 0x30, 0x00, 0x00]);
    h.load(0x3000, [0xf4]);
    h.run();
    expect(h.eip).to.equal(0x3001);
    expect(savedIps(h)).to.deep.equal([]);
  });

  it('32-bit: the #DB frame holds the next EIP and EFLAGS with TF set and RF clear', () => {
    // pushfd; or dword [esp],0x100; popfd; inc ecx; hlt -- the handler's RF in the frame is cleared after INC retires
    const h = flatStepper([0x9c, 0x81, 0x0c, 0x24, 0x00, 0x01, 0x00, 0x00, 0x9d, 0x41, 0xf4]);
    h.run(20);
    expect(h.read32(LOG)).to.be.at.least(1);
    expect(h.read32(LOG + 8)).to.equal(0x1000a);
    expect(h.read32(LOG + 4) & (TF | RF)).to.equal(TF);
    expect(h.get(Reg.ECX)).to.be.at.least(1);
  });

  it('INT1 (ICEBP, F1) is a #DB trap that leaves DR6 alone, and TF adds no second trap', () => {
    const h = realStepper([...SET_TF, 0xf1, 0x90]);
    h.run(40);
    // The ICEBP's own #DB (IP 0x1008), then the NOP after the IRET traps (IP 0x1009).
    expect(savedIps(h).slice(0, 2)).to.deep.equal([0x1008, 0x1009]);
  });

  it('INT1 with TF clear leaves DR6 at its reset value', () => {
    const h = realStepper([0xf1, 0xf4]);
    h.run();
    expect(savedIps(h)).to.deep.equal([0x1001]);
    expect(h.cpu.st[DR6] >>> 0).to.equal(DR6_RESET);
  });
});

describe('debug: DR0-DR3 breakpoints', () => {
  it('an execute breakpoint faults before the instruction (DR6.B0, RF 0 in the frame); RF lets it run once', () => {
    // mov eax,0x10010; mov dr0,eax; mov eax,1; mov dr7,eax; inc ecx (0x10010); hlt
    const h = flatStepper([0xb8, 0x10, 0x00, 0x01, 0x00, 0x0f, 0x23, 0xc0, 0xb8, 0x01, 0x00, 0x00, 0x00, 0x0f, 0x23, 0xf8, 0x41, 0xf4]);
    h.run();
    expect(h.read32(LOG)).to.equal(1);
    expect(h.read32(LOG + 8)).to.equal(0x10010);
    expect(h.read32(LOG + 4) & RF).to.equal(0);
    expect(h.read32(LOG + 12) & 0xf).to.equal(1);
    expect(h.get(Reg.ECX)).to.equal(1);
    expect(h.eflags & RF).to.equal(0);
    expect(h.eip).to.equal(0x10012);
  });

  for (const [len, bytes] of [[0, 1], [1, 2], [3, 4]] as const) {
    it(`a ${bytes}-byte data write breakpoint traps after the write that touches it (DR6.B1), not after reads or neighbours`, () => {
      const at = 0x700;
      // mov eax,[0x700]; mov byte [at+bytes],0x11; mov byte [at+bytes-1],0x22; hlt
      const h = flatStepper([0xa1, 0x00, 0x07, 0x00, 0x00, 0xc6, 0x05, at + bytes, 0x07, 0x00, 0x00, 0x11,
        0xc6, 0x05, at + bytes - 1 - 0x700, 0x07, 0x00, 0x00, 0x22, 0xf4].map((b) => b & 0xff));
      h.cpu.st[S.DR0 + 1] = at;
      h.cpu.st[S.DR0 + 7] = 0x400 | (1 << 3) | (1 << 20) | (len << 22);
      h.cpu.debugChanged();
      h.run();
      expect(h.read32(LOG)).to.equal(1);
      expect(h.read32(LOG + 8)).to.equal(0x10013);
      expect(h.read32(LOG + 12) & 0xf).to.equal(2);
      expect(h.read8(at + bytes - 1)).to.equal(0x22);
    });
  }

  it('R/W 11 also traps on reads; a dword that overlaps the watched bytes counts', () => {
    // mov eax,[0x6fe]; hlt
    const h = flatStepper([0xa1, 0xfe, 0x06, 0x00, 0x00, 0xf4]);
    h.cpu.st[S.DR0 + 2] = 0x701;
    h.cpu.st[S.DR0 + 7] = 0x400 | (1 << 4) | (3 << 24);
    h.cpu.debugChanged();
    h.run();
    expect(h.read32(LOG)).to.equal(1);
    expect(h.read32(LOG + 12) & 0xf).to.equal(4);
  });

  it('DR7.GD: MOV DR is a #DB fault with DR6.BD, GD cleared for the handler, RF 1 in the frame', () => {
    // mov eax,0x2000; mov dr7,eax; mov eax,dr0; hlt
    const h = flatStepper([0xb8, 0x00, 0x20, 0x00, 0x00, 0x0f, 0x23, 0xf8, 0x0f, 0x21, 0xc0, 0xf4]);
    h.cpu.st[S.DR0] = 0x1234;
    h.run();
    expect(h.read32(LOG)).to.equal(1);
    expect(h.read32(LOG + 8)).to.equal(0x10008);
    expect(h.read32(LOG + 12) & 0x2000).to.equal(0x2000);
    expect(h.read32(LOG + 4) & RF).to.equal(RF);
    expect(h.cpu.st[S.DR0 + 7] & 0x2000).to.equal(0);
    expect(h.get(Reg.EAX)).to.equal(0x1234);
  });

  it('any #DB clears DR7.GD for its handler: a single step with GD set, the handler reads DR6 without a nested #DB', () => {
    // nop; pushfd; and dword [esp],~TF; popfd; hlt — stepped from the start (four traps)
    const h = flatStepper([0x90, 0x9c, 0x81, 0x24, 0x24, 0xff, 0xfe, 0xff, 0xff, 0x9d, 0xf4]);
    h.cpu.st[S.DR0 + 7] = 0x400 | 0x2000;
    h.cpu.st[S.EFLAGS] |= TF;
    h.run();
    expect(h.read32(LOG)).to.equal(4);
    expect(h.read32(LOG + 12) & 0x6000).to.equal(0x4000);
    expect(h.cpu.st[S.DR0 + 7] & 0x2000).to.equal(0);
  });

  it('REP STOSB traps after the iteration that hits a data breakpoint, EIP on the REP, then resumes and finishes', () => {
    // mov edi,0x700; mov ecx,16; xor eax,eax; rep stosb; hlt
    const h = flatStepper([0xbf, 0x00, 0x07, 0x00, 0x00, 0xb9, 0x10, 0x00, 0x00, 0x00, 0x31, 0xc0, 0xf3, 0xaa, 0xf4]);
    h.load(0x700, new Array(16).fill(0xff));
    h.cpu.st[S.DR0 + 1] = 0x705;
    h.cpu.st[S.DR0 + 7] = 0x400 | (1 << 2) | (1 << 20);
    h.cpu.debugChanged();
    h.run();
    expect(h.read32(LOG)).to.equal(1);
    expect(h.read32(LOG + 8)).to.equal(0x1000c);        // saved EIP: the REP STOSB itself, mid-way
    expect(h.read32(LOG + 12) & 0xf).to.equal(2);
    expect([h.get(Reg.ECX), h.read32(0x70c)]).to.deep.equal([0, 0]);
  });

  it('with CR4.DE, R/W 10 is an I/O breakpoint: OUT to the port traps (DR6.B3)', () => {
    // out 0x80,al; hlt
    const h = flatStepper([0xe6, 0x80, 0xf4]);
    h.cpu.st[S.CR4] = 0x8;
    h.cpu.st[S.DR0 + 3] = 0x80;
    h.cpu.st[S.DR0 + 7] = 0x400 | (1 << 6) | (2 << 28);
    h.cpu.debugChanged();
    h.run();
    expect(h.read32(LOG)).to.equal(1);
    expect(h.read32(LOG + 8)).to.equal(0x10002);
    expect(h.read32(LOG + 12) & 0xf).to.equal(8);
  });

  it('with no breakpoint enabled the cached flag is clear', () => {
    const h = new CpuHarness();
    expect(h.cpu.debugActive).to.equal(false);
    h.cpu.st[S.DR0 + 7] = 0x400 | 0x3;
    h.cpu.debugChanged();
    expect(h.cpu.debugActive).to.equal(true);
  });
});
