import { expect } from 'chai';
import { RAM_BASE } from '../core/cpu/state-layout.js';
import { MemoryBus } from '../core/mmu/memory-bus.js';

function bus(ramSize = 1 << 20): MemoryBus {
  return new MemoryBus(new WebAssembly.Memory({ initial: (RAM_BASE + ramSize) >>> 16 }), ramSize);
}

describe('MemoryBus', () => {
  it('reads and writes RAM little-endian at RAM_BASE of the shared memory', () => {
    const m = bus();
    m.write32(0x1000, 0x12345678);
    expect(m.read8(0x1000)).to.equal(0x78);
    expect(m.read16(0x1002)).to.equal(0x1234);
    expect(m.bytes[RAM_BASE + 0x1003]).to.equal(0x12);
  });

  it('reads open bus as all ones past RAM and ignores writes there', () => {
    const m = bus();
    m.write8(0x200000, 5);
    expect(m.read8(0x200000)).to.equal(0xff);
    expect(m.read32(0x200000) >>> 0).to.equal(0xffffffff);
  });

  it('dispatches MMIO regions byte by byte, also for wide accesses', () => {
    const m = bus();
    const log: string[] = [];
    m.mapMmio(0xa0000, 0x1000, { read8: (a) => a & 0xff, write8: (a, v) => { log.push(`${a.toString(16)}=${v}`); } }, 'test');
    expect(m.read16(0xa0010)).to.equal(0x1110);
    m.write16(0xa0020, 0x0201);
    expect(log).to.deep.equal(['a0020=1', 'a0021=2']);
    expect(() => m.mapMmio(0xa0000, 0x2000, { read8: () => 0, write8: () => {} }, 'other')).to.throw(/other: .*overlaps test/);
  });

  it('reports writes to pages marked as holding code, with the bytes written', () => {
    const m = bus();
    const seen: [number, number][] = [];
    m.onCodeWrite = (address, bytes) => seen.push([address, bytes]);
    m.codePage[2] = 1;
    m.write32(0x1ffc, 1);        // page 1: not code
    m.write16(0x2004, 1);
    m.writeBytes(0x1ff0, new Uint8Array(0x20));
    expect(seen).to.deep.equal([[0x2004, 2], [0x2000, 0x10]]);
  });
});
