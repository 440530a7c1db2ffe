import { expect } from 'chai';
import { CpuHarness, Reg, S } from './support/cpu-harness.js';

/** Writes an IDT gate (32-bit interrupt gate unless `type` says otherwise) into RAM. */
function gate(h: CpuHarness, idtBase: number, vector: number, selector: number, offset: number, type = 0x8e): void {
  const at = idtBase + vector * 8;
  h.load(at, [offset & 0xff, (offset >> 8) & 0xff, selector & 0xff, selector >> 8, 0, type, (offset >> 16) & 0xff, offset >>> 24]);
}

describe('exception delivery', () => {
  it('real mode: #DE pushes FLAGS, CS and the IP of the faulting DIV, and enters the IVT handler', () => {
    const h = new CpuHarness().realMode([0x31, 0xc9, 0xf7, 0xf1, 0xf4]); // xor cx,cx; div cx
    h.load(0, [0x00, 0x20, 0x00, 0x00]);                                   // vector 0 -> 0000:2000
    h.load(0x2000, [0xf4]);
    h.run();
    expect(h.eip).to.equal(0x2001);
    expect(h.get(Reg.ESP) & 0xffff).to.equal(0x8000 - 6);
    expect(h.read16(0x8000 - 6)).to.equal(0x1002);                          // IP of the DIV
    expect(h.read16(0x8000 - 4)).to.equal(0);                               // CS
  });

  it('protected mode: an empty IDT entry makes #GP with error code vector * 8 + 2, + 1 (EXT) while delivering an exception', () => {
    const h = new CpuHarness().flat32([0x0f, 0x0b, 0xf4]);                  // ud2
    const idt = 0x3000;
    h.cpu.st[S.IDTR_BASE] = idt;
    h.cpu.st[S.IDTR_LIMIT] = 0x7ff;
    gate(h, idt, 13, 0x08, 0x5000);
    h.load(0x5000, [0xf4]);
    h.run();
    expect(h.eip).to.equal(0x5001);
    const esp = h.get(Reg.ESP);
    expect(h.read32(esp)).to.equal(6 * 8 + 2 + 1);                           // error code: IDT entry 6, EXT
    expect(h.read32(esp + 4)).to.equal(0x10000);                             // EIP of the UD2
    expect(h.read32(esp + 8)).to.equal(0x08);                                // CS
  });

  it('protected mode: a trap gate leaves IF set, an interrupt gate clears it', () => {
    for (const [type, ifAfter] of [[0x8f, 0x200], [0x8e, 0]] as const) {
      const h = new CpuHarness().flat32([0xfb, 0xcd, 0x40, 0xf4]);          // sti; int 0x40
      h.cpu.st[S.IDTR_BASE] = 0x3000;
      h.cpu.st[S.IDTR_LIMIT] = 0x7ff;
      gate(h, 0x3000, 0x40, 0x08, 0x5000, type);
      h.load(0x5000, [0xf4]);
      h.run();
      expect(h.eip).to.equal(0x5001);
      expect(h.eflags & 0x200).to.equal(ifAfter);
      expect(h.read32(h.get(Reg.ESP))).to.equal(0x10003);                    // INT pushes the next EIP
    }
  });

  it('a fault while delivering a fault is a double fault; one more is a triple fault', () => {
    const h = new CpuHarness().flat32([0x0f, 0x0b, 0xf4]);
    h.cpu.st[S.IDTR_BASE] = 0x3000;
    h.cpu.st[S.IDTR_LIMIT] = 0x7ff;
    // #UD finds an empty gate (#GP), #GP finds one too (#DF), and #DF's empty gate ends the machine.
    expect(() => h.run()).to.throw(/triple fault at 0008:00010000: #GP\(0x33\) could not be delivered \(#GP\(0x6b\) while delivering it\)/);
  });

  it('INT n to an empty entry is #GP(n * 8 + 2) without EXT: the program asked for it', () => {
    const h = new CpuHarness().flat32([0xcd, 0x40, 0xf4]);                  // int 0x40
    h.cpu.st[S.IDTR_BASE] = 0x3000;
    h.cpu.st[S.IDTR_LIMIT] = 0x7ff;
    gate(h, 0x3000, 13, 0x08, 0x5000);
    h.load(0x5000, [0xf4]);
    h.run();
    expect(h.read32(h.get(Reg.ESP))).to.equal(0x40 * 8 + 2);
  });

  it('ICEBP to an empty #DB entry is #GP(1 * 8 + 2 + EXT): it is delivered as an external event', () => {
    const h = new CpuHarness().flat32([0xf1, 0xf4]);                        // icebp
    h.cpu.st[S.IDTR_BASE] = 0x3000;
    h.cpu.st[S.IDTR_LIMIT] = 0x7ff;
    gate(h, 0x3000, 13, 0x08, 0x5000);
    h.load(0x5000, [0xf4]);
    h.run();
    expect(h.eip).to.equal(0x5001);
    expect(h.read32(h.get(Reg.ESP))).to.equal(1 * 8 + 2 + 1);
  });

  it('a #PF while delivering a #GP is handled serially (SDM table 6-5), not a double fault', () => {
    // ud2 -> #GP(0x33) from the empty #UD entry; the #GP gate names selector 0x18, whose GDT entry
    // lies on an absent page -> #PF, which is delivered (to 0x6000), not escalated to #DF (0x7000).
    const h = new CpuHarness().flat32([0x0f, 0x0b, 0xf4]);
    const st = h.cpu.st;
    const GDT = 0x1ff0, PD = 0x100000, PT = 0x101000;
    h.load(GDT + 8, [0xff, 0xff, 0, 0, 0, 0x9a, 0xcf, 0]);
    st[S.GDTR_BASE] = GDT;
    st[S.GDTR_LIMIT] = 0x1f;
    st[S.IDTR_BASE] = 0x3000;
    st[S.IDTR_LIMIT] = 0x7ff;
    gate(h, 0x3000, 13, 0x18, 0x5000);
    gate(h, 0x3000, 14, 0x08, 0x6000);
    gate(h, 0x3000, 8, 0x08, 0x7000);
    h.load(0x5000, [0xf4]).load(0x6000, [0xf4]).load(0x7000, [0xf4]);
    const dword = (v: number) => [v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >>> 24];
    h.load(PD, dword(PT | 3));
    h.load(PT, Array.from({ length: 1024 }, (_, k) => (k === 2 ? 0 : (k << 12) | 3)).flatMap(dword));
    st[S.CR3] = PD;
    st[S.CR0] |= 0x80000000;
    h.cpu.pagingChanged();
    h.run();
    expect(h.eip).to.equal(0x6001);
    expect(st[S.CR2]).to.equal(GDT + 0x18);
    expect(h.read32(h.get(Reg.ESP))).to.equal(0);                           // #PF error code: supervisor read, not present
  });
});
