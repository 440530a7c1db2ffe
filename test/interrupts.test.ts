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

  it('protected mode: an empty IDT entry makes #GP with error code vector * 8 + 2', () => {
    const h = new CpuHarness().flat32([0x0f, 0x0b, 0xf4]);                  // ud2
    const idt = 0x3000;
    h.cpu.st[S.IDTR_BASE] = idt;
    h.cpu.st[S.IDTR_LIMIT] = 0x7ff;
    gate(h, idt, 13, 0x08, 0x5000);
    h.load(0x5000, [0xf4]);
    h.run();
    expect(h.eip).to.equal(0x5001);
    const esp = h.get(Reg.ESP);
    expect(h.read32(esp)).to.equal(6 * 8 + 2);                               // error code
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
    expect(() => h.run()).to.throw(/triple fault at 0008:00010000: #GP\(0x32\) could not be delivered \(#GP\(0x6a\) while delivering it\)/);
  });
});
