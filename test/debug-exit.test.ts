import { expect } from 'chai';
import { IoBus } from '../devices/bus/io-bus.js';
import { DebugConsole } from '../devices/debug-console.js';
import { ExitPort } from '../devices/exit-port.js';

describe('DebugConsole', () => {
  it('passes every written byte to the host and identifies itself on read', () => {
    const io = new IoBus();
    const debugConsole = new DebugConsole(io);
    const out: number[] = [];
    debugConsole.onOutput((byte) => out.push(byte));
    for (const ch of 'Hi\n') io.write8(0xe9, ch.charCodeAt(0));
    expect(String.fromCharCode(...out)).to.equal('Hi\n');
    expect(io.read8(0xe9)).to.equal(0xe9);
    expect(io.ownerOf(0xe9)).to.equal(debugConsole.name);
  });

  it('can sit on another port and has an empty snapshot', () => {
    const io = new IoBus();
    const debugConsole = new DebugConsole(io, 0x402);
    const out: number[] = [];
    debugConsole.onOutput((byte) => out.push(byte));
    io.write8(0x402, 0x41);
    io.write8(0xe9, 0x42);
    expect(out).to.deep.equal([0x41]);
    const state = debugConsole.saveState();
    debugConsole.reset();
    debugConsole.loadState(JSON.parse(JSON.stringify(state)));
    expect(io.read8(0x402)).to.equal(0xe9);
  });
});

describe('ExitPort', () => {
  function exitsOf(write: (io: IoBus) => void, port?: number): [number, number][] {
    const io = new IoBus();
    const device = new ExitPort(io, port);
    const exits: [number, number][] = [];
    device.onExit((value, status) => exits.push([value, status]));
    write(io);
    return exits;
  }

  it('reports value and QEMU exit status for a 32-bit write', () => {
    expect(exitsOf((io) => io.write32(0xf4, 0))).to.deep.equal([[0, 1]]);
    expect(exitsOf((io) => io.write32(0xf4, 0x10))).to.deep.equal([[0x10, 0x21]]);
    expect(exitsOf((io) => io.write32(0xf4, 0x80))).to.deep.equal([[0x80, 0x01]]);
    expect(exitsOf((io) => io.write32(0xf4, -1))).to.deep.equal([[0xffffffff, 0xff]]);
  });

  it('uses the value written for 8- and 16-bit writes', () => {
    expect(exitsOf((io) => io.write8(0xf4, 0x31))).to.deep.equal([[0x31, 0x63]]);
    expect(exitsOf((io) => io.write16(0xf4, 0x1234))).to.deep.equal([[0x1234, 0x69]]);
  });

  it('claims only its own port', () => {
    expect(exitsOf((io) => io.write8(0xf5, 1))).to.deep.equal([]);
    expect(exitsOf((io) => io.write8(0x501, 2), 0x501)).to.deep.equal([[2, 5]]);
  });
});
