import { expect } from 'chai';
import { CpuHarness, Reg, S } from './support/cpu-harness.js';

/** The decode cache must never run stale code: every way of writing memory invalidates it. */
describe('decode cache and self-modifying code', () => {
  it('a store into an already executed (cached) instruction takes effect on its next execution', () => {
    const h = new CpuHarness().realMode([
      0xb9, 0x02, 0x00,             // 1000: mov cx, 2
      0xb0, 0x11,                   // 1003: mov al, 0x11      (immediate at 1004)
      0xc6, 0x06, 0x04, 0x10, 0x42, // 1005: mov byte [0x1004], 0x42
      0xe2, 0xf7,                   // 100A: loop 1003
      0xf4,                         // 100C: hlt
    ]);
    h.run();
    expect(h.get(Reg.EAX) & 0xff).to.equal(0x42);
  });

  it('a store that rewrites the very next instruction is seen at once', () => {
    const h = new CpuHarness().flat32([
      0xc6, 0x05, 0x08, 0x00, 0x01, 0x00, 0x40, // 10000: mov byte [0x10008], 0x40 (inc eax)
      0x90, 0x90,                               // 10007: nop; 10008: nop -> inc eax
      0xf4,
    ]);
    h.run();
    expect(h.get(Reg.EAX)).to.equal(1);
  });

  it('a bulk copy (REP MOVSB fast path) over cached code invalidates it', () => {
    const h = new CpuHarness().flat32([
      0xb9, 0x02, 0x00, 0x00, 0x00, // 10000: mov ecx, 2 (loop counter in ebx below)
      0x89, 0xcb,                   // 10005: mov ebx, ecx
      0xb0, 0x11,                   // 10007: mov al, 0x11   <- rewritten by the copy
      0xbe, 0x00, 0x00, 0x02, 0x00, // 10009: mov esi, 0x20000
      0xbf, 0x07, 0x00, 0x01, 0x00, // 1000E: mov edi, 0x10007
      0xb9, 0x02, 0x00, 0x00, 0x00, // 10013: mov ecx, 2
      0xfc, 0xf3, 0xa4,             // 10018: cld; rep movsb
      0x4b,                         // 1001B: dec ebx
      0x75, 0xe9,                   // 1001C: jnz 10007
      0xf4,                         // 1001E: hlt
    ]);
    h.load(0x20000, [0xb0, 0x77]);  // mov al, 0x77
    h.run();
    expect(h.get(Reg.EAX) & 0xff).to.equal(0x77);
  });

  it('code loaded over cached code by the host (writeBytes) is seen', () => {
    const h = new CpuHarness().flat32([0xb0, 0x11, 0xf4]);
    h.run();
    expect(h.get(Reg.EAX) & 0xff).to.equal(0x11);
    h.load(0x10000, [0xb0, 0x22, 0xf4]);
    h.cpu.st[S.EIP] = 0x10000;
    h.cpu.st[S.HALTED] = 0;
    h.run();
    expect(h.get(Reg.EAX) & 0xff).to.equal(0x22);
  });
});
