import { expect } from 'chai';
import { IoBus } from '../devices/bus/io-bus.js';

describe('IoBus', () => {
  it('floats unclaimed ports high and counts the accesses', () => {
    const io = new IoBus();
    expect(io.read8(0x80)).to.equal(0xff);
    expect(io.read16(0x80)).to.equal(0xffff);
    expect(io.read32(0x80)).to.equal(0xffffffff);
    io.write8(0x80, 1);
    io.write16(0x80, 1);
    io.write32(0x80, 1);
    expect(io.unclaimedReads).to.equal(3);
    expect(io.unclaimedWrites).to.equal(3);
  });

  it('dispatches each size to the owner with the port and a masked value', () => {
    const io = new IoBus();
    const log: string[] = [];
    io.register(
      0x1f0,
      8,
      {
        read8: (port) => port - 0x1f0 + 0x100, // deliberately too wide: the bus masks it
        read16: () => 0x12345,
        read32: () => -1,
        write8: (port, value) => log.push(`w8 ${port.toString(16)} ${value}`),
        write16: (port, value) => log.push(`w16 ${port.toString(16)} ${value}`),
        write32: (port, value) => log.push(`w32 ${port.toString(16)} ${value}`),
      },
      'ide',
    );
    expect(io.read8(0x1f3)).to.equal(3);
    expect(io.read16(0x1f0)).to.equal(0x2345);
    expect(io.read32(0x1f0)).to.equal(0xffffffff);
    io.write8(0x1f7, 0x1ec);
    io.write16(0x1f0, 0x1abcd);
    io.write32(0x1f0, -2);
    expect(log).to.deep.equal(['w8 1f7 236', 'w16 1f0 43981', `w32 1f0 ${0xfffffffe}`]);
    expect(io.unclaimedReads + io.unclaimedWrites).to.equal(0);
  });

  it('masks ports to 16 bits', () => {
    const io = new IoBus();
    io.register(0x60, 1, { read8: () => 0x42 }, 'kbd');
    expect(io.read8(0x10060)).to.equal(0x42);
    expect(io.ownerOf(0x30060)).to.equal('kbd');
  });

  it('splits wide accesses into little-endian byte accesses on consecutive ports', () => {
    const io = new IoBus();
    const written: [number, number][] = [];
    const bytes = { read8: (port: number) => port & 0xff, write8: (port: number, value: number) => written.push([port, value]) };
    io.register(0x70, 2, bytes, 'rtc');
    io.register(0x72, 2, { read8: () => 0xaa }, 'other');
    expect(io.read16(0x70)).to.equal(0x7170);
    expect(io.read32(0x70)).to.equal(0xaaaa7170);
    io.write32(0x70, 0x44332211);
    // 0x72/0x73 belong to a device without write handlers: those bytes are dropped.
    expect(written).to.deep.equal([
      [0x70, 0x11],
      [0x71, 0x22],
    ]);
    io.write16(0x71, 0xbeef);
    expect(written.slice(2)).to.deep.equal([[0x71, 0xef]]);
  });

  it('wraps a split access from port 0xffff to port 0', () => {
    const io = new IoBus();
    io.register(0xffff, 1, { read8: () => 0x12 }, 'top');
    io.register(0, 1, { read8: () => 0x34 }, 'bottom');
    expect(io.read16(0xffff)).to.equal(0x3412);
  });

  it('reads all ones from a claimed port whose owner cannot be read, without counting it unclaimed', () => {
    const io = new IoBus();
    io.register(0xf4, 1, { write8: () => {} }, 'exit');
    expect(io.read8(0xf4)).to.equal(0xff);
    expect(io.unclaimedReads).to.equal(0);
  });

  it('refuses overlapping claims, naming both owners', () => {
    const io = new IoBus();
    io.register(0x3f8, 8, {}, 'COM1');
    expect(() => io.register(0x3fe, 4, {}, 'mystery')).to.throw(/mystery.*0x03fe.*COM1/);
    // The failed claim must not have taken any port.
    expect(io.ownerOf(0x400)).to.equal(undefined);
    expect(io.ownerOf(0x3ff)).to.equal('COM1');
  });

  it('refuses ranges outside the port space', () => {
    const io = new IoBus();
    expect(() => io.register(0xfffe, 4, {}, 'big')).to.throw(/big/);
    expect(() => io.register(0x10, 0, {}, 'empty')).to.throw(/empty/);
    expect(() => io.register(-1, 1, {}, 'negative')).to.throw(/negative/);
  });
});
