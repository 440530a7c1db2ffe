import { expect } from 'chai';
import { IoBus } from '../devices/bus/io-bus.js';
import { PciBus, PciFunction } from '../devices/pci-bus.js';
import { I440fx, I440FX_DEVICE, PAM_FIRST, SMRAM } from '../devices/i440fx.js';
import { Piix3, PIIX3_DEVICE, PIRQ_ROUTE_FIRST } from '../devices/piix3.js';

const CONFIG_ADDRESS = 0xcf8;
const CONFIG_DATA = 0xcfc;
const ENABLE = 0x80000000;

function setup() {
  const io = new IoBus();
  const pci = new PciBus(io);
  const hostBridge = new I440fx();
  const isaBridge = new Piix3();
  pci.addFunction(I440FX_DEVICE, 0, hostBridge);
  pci.addFunction(PIIX3_DEVICE, 0, isaBridge);
  return { io, pci, hostBridge, isaBridge };
}

/** Linux's pci_conf1_read/write: select the dword, then access CONFIG_DATA at the byte offset. */
function address(bus: number, device: number, fn: number, offset: number): number {
  return (ENABLE | (bus << 16) | (device << 11) | (fn << 8) | (offset & 0xfc)) >>> 0;
}
function configRead(io: IoBus, device: number, fn: number, offset: number, size: 1 | 2 | 4, bus = 0): number {
  io.write32(CONFIG_ADDRESS, address(bus, device, fn, offset));
  const port = CONFIG_DATA + (offset & 3);
  return size === 1 ? io.read8(port) : size === 2 ? io.read16(port) : io.read32(port);
}
function configWrite(io: IoBus, device: number, fn: number, offset: number, size: 1 | 2 | 4, value: number): void {
  io.write32(CONFIG_ADDRESS, address(0, device, fn, offset));
  const port = CONFIG_DATA + (offset & 3);
  if (size === 1) io.write8(port, value);
  else if (size === 2) io.write16(port, value);
  else io.write32(port, value);
}

/** A plain function with a writable scratch dword at 0x40 and an interrupt line register. */
function testFunction(): PciFunction {
  const fn = new PciFunction('test device', { vendorId: 0x1234, deviceId: 0x5678, classCode: 0x020000, revision: 0x07, commandWritable: 0x0547 });
  fn.define(0x40, 4, 0x11223344, 0xffffffff);
  fn.define(0x3c, 1, 0, 0xff);
  return fn;
}

describe('PCI configuration mechanism #1', () => {
  it('passes the type 1 probe Linux makes (pci_check_type1)', () => {
    const { io } = setup();
    io.write8(0xcfb, 0x01);
    const saved = io.read32(CONFIG_ADDRESS);
    io.write32(CONFIG_ADDRESS, ENABLE);
    expect(io.read32(CONFIG_ADDRESS)).to.equal(ENABLE);
    io.write32(CONFIG_ADDRESS, saved);
    expect(io.read32(CONFIG_ADDRESS)).to.equal(0);
  });

  it('keeps only the defined CONFIG_ADDRESS bits and reaches it only with dword accesses', () => {
    const { io } = setup();
    io.write32(CONFIG_ADDRESS, 0xffffffff);
    expect(io.read32(CONFIG_ADDRESS)).to.equal(0x80fffffc);
    io.write8(CONFIG_ADDRESS, 0);
    io.write16(CONFIG_ADDRESS + 2, 0);
    expect(io.read32(CONFIG_ADDRESS)).to.equal(0x80fffffc);
    expect(io.read8(CONFIG_ADDRESS)).to.equal(0xff);
    expect(io.read16(CONFIG_ADDRESS)).to.equal(0xffff);
    expect(io.ownerOf(0xcf9)).to.equal(undefined);
  });

  it('reads bytes, words and dwords at every offset inside CONFIG_DATA', () => {
    const { io, pci } = setup();
    pci.addFunction(5, 0, testFunction());
    expect(configRead(io, 5, 0, 0x40, 4)).to.equal(0x11223344);
    expect([0x40, 0x41, 0x42, 0x43].map((offset) => configRead(io, 5, 0, offset, 1))).to.deep.equal([0x44, 0x33, 0x22, 0x11]);
    expect(configRead(io, 5, 0, 0x40, 2)).to.equal(0x3344);
    expect(configRead(io, 5, 0, 0x41, 2)).to.equal(0x2233);
    expect(configRead(io, 5, 0, 0x42, 2)).to.equal(0x1122);
    // Bytes past 0xCFF are other ports: they float high.
    expect(configRead(io, 5, 0, 0x43, 2)).to.equal(0xff11);
    expect(configRead(io, 5, 0, 0x42, 4)).to.equal(0xffff1122);
  });

  it('writes bytes, words and dwords at every offset inside CONFIG_DATA', () => {
    const { io, pci } = setup();
    pci.addFunction(5, 0, testFunction());
    configWrite(io, 5, 0, 0x40, 4, 0xdeadbeef);
    expect(configRead(io, 5, 0, 0x40, 4)).to.equal(0xdeadbeef);
    configWrite(io, 5, 0, 0x42, 1, 0x5a);
    expect(configRead(io, 5, 0, 0x40, 4)).to.equal(0xde5abeef);
    configWrite(io, 5, 0, 0x41, 2, 0x1234);
    expect(configRead(io, 5, 0, 0x40, 4)).to.equal(0xde1234ef);
    configWrite(io, 5, 0, 0x42, 2, 0xcafe);
    expect(configRead(io, 5, 0, 0x40, 4)).to.equal(0xcafe34ef);
    configWrite(io, 5, 0, 0x43, 1, 0x00);
    expect(configRead(io, 5, 0, 0x40, 4)).to.equal(0x00fe34ef);
    configWrite(io, 5, 0, 0x43, 2, 0x9977);
    expect(configRead(io, 5, 0, 0x40, 4)).to.equal(0x77fe34ef);
  });

  it('keeps read-only bits and tells write listeners what was written', () => {
    const { io, pci } = setup();
    const fn = testFunction();
    const writes: [number, number][] = [];
    fn.onWrite((offset, size) => writes.push([offset, size]));
    pci.addFunction(5, 0, fn);
    configWrite(io, 5, 0, 0x00, 4, 0);
    expect(configRead(io, 5, 0, 0x00, 4)).to.equal(0x56781234);
    configWrite(io, 5, 0, 0x04, 2, 0xffff);
    expect(configRead(io, 5, 0, 0x04, 2)).to.equal(0x0547);
    configWrite(io, 5, 0, 0x3d, 1, 0xff);
    expect(configRead(io, 5, 0, 0x3d, 1)).to.equal(0);
    expect(writes).to.deep.equal([[0x00, 4], [0x04, 2], [0x3d, 1]]);
  });

  it('returns all ones for absent functions, other buses and a clear enable bit, and drops such writes', () => {
    const { io, pci } = setup();
    const fn = testFunction();
    pci.addFunction(5, 0, fn);
    expect(configRead(io, 7, 0, 0x00, 4)).to.equal(0xffffffff);
    expect(configRead(io, 5, 1, 0x00, 2)).to.equal(0xffff);
    expect(configRead(io, 5, 0, 0x00, 4, 1)).to.equal(0xffffffff);
    io.write32(CONFIG_ADDRESS, (address(0, 5, 0, 0x40) & ~ENABLE) >>> 0);
    expect(io.read32(CONFIG_DATA)).to.equal(0xffffffff);
    expect(io.read8(CONFIG_DATA + 1)).to.equal(0xff);
    io.write32(CONFIG_DATA, 0);
    io.write32(CONFIG_ADDRESS, address(1, 5, 0, 0x40));
    io.write32(CONFIG_DATA, 0);
    expect(fn.read(0x40, 4)).to.equal(0x11223344);
  });

  it('refuses a taken or impossible PCI address', () => {
    const { pci } = setup();
    expect(() => pci.addFunction(0, 0, testFunction())).to.throw(/00:0\.0 is already taken by i440FX host bridge/);
    expect(() => pci.addFunction(32, 0, testFunction())).to.throw(/not a device 0-31/);
    expect(() => pci.addFunction(3, 8, testFunction())).to.throw(/function 0-7/);
  });
});

describe('PCI bus 0 as Linux scans it', () => {
  /** pci_scan_slot: vendor/device dword at 0, header type at 0x0E, functions 1-7 only on multi-function devices. */
  function scan(io: IoBus): { slot: string; id: number; classRevision: number; header: number }[] {
    const found = [];
    for (let device = 0; device < 32; device++) {
      for (let fn = 0; fn < 8; fn++) {
        const id = configRead(io, device, fn, 0x00, 4);
        if (id === 0xffffffff || id === 0 || id === 0x0000ffff || id === 0xffff0000) {
          if (fn === 0) break;
          continue;
        }
        const header = configRead(io, device, fn, 0x0e, 1);
        found.push({ slot: `00:${device.toString(16).padStart(2, '0')}.${fn}`, id, classRevision: configRead(io, device, fn, 0x08, 4), header });
        if (fn === 0 && (header & 0x80) === 0) break;
      }
    }
    return found;
  }

  it('finds the i440FX host bridge and the PIIX3 ISA bridge with their identities', () => {
    const { io } = setup();
    expect(scan(io)).to.deep.equal([
      { slot: '00:00.0', id: 0x12378086, classRevision: 0x06000002, header: 0x00 },
      { slot: '00:01.0', id: 0x70008086, classRevision: 0x06010000, header: 0x80 },
    ]);
  });

  it('passes pci_sanity_check: a host or ISA bridge class, or an Intel vendor ID, within bus 0', () => {
    const { io } = setup();
    expect(configRead(io, 0, 0, 0x0a, 2)).to.equal(0x0600);
    expect(configRead(io, 1, 0, 0x0a, 2)).to.equal(0x0601);
    expect(configRead(io, 0, 0, 0x00, 2)).to.equal(0x8086);
  });

  it('gives the bridges their command and status values', () => {
    const { io } = setup();
    expect(configRead(io, 0, 0, 0x04, 4)).to.equal(0x02800006);
    expect(configRead(io, 1, 0, 0x04, 4)).to.equal(0x02000007);
    configWrite(io, 0, 0, 0x04, 2, 0);
    configWrite(io, 1, 0, 0x04, 2, 0xffff);
    expect(configRead(io, 0, 0, 0x04, 2)).to.equal(0x0006);
    expect(configRead(io, 1, 0, 0x04, 2)).to.equal(0x010f);
  });
});

describe('PCI base address registers', () => {
  function withBars() {
    const parts = setup();
    const fn = testFunction();
    fn.defineBar(0, 0x1000, 'memory');
    fn.defineBar(1, 0x20, 'io');
    fn.defineBar(2, 0x100000, 'memory', true);
    parts.pci.addFunction(3, 0, fn);
    return { ...parts, fn };
  }

  /** __pci_read_base: save, write all ones, read the size mask, restore. */
  function size(io: IoBus, bar: number): { original: number; mask: number } {
    const offset = 0x10 + 4 * bar;
    const original = configRead(io, 3, 0, offset, 4);
    configWrite(io, 3, 0, offset, 4, 0xffffffff);
    const mask = configRead(io, 3, 0, offset, 4);
    configWrite(io, 3, 0, offset, 4, original);
    return { original, mask };
  }

  it('answers the sizing protocol with the size mask and the type bits', () => {
    const { io } = withBars();
    expect(size(io, 0)).to.deep.equal({ original: 0, mask: 0xfffff000 });
    expect(size(io, 1)).to.deep.equal({ original: 1, mask: 0xffffffe1 });
    expect(size(io, 2)).to.deep.equal({ original: 8, mask: 0xfff00008 });
    expect(size(io, 3)).to.deep.equal({ original: 0, mask: 0 });
  });

  it('holds the programmed address with the type bits kept', () => {
    const { io, fn } = withBars();
    configWrite(io, 3, 0, 0x10, 4, 0xfebf1234);
    configWrite(io, 3, 0, 0x14, 4, 0x0000c043);
    expect(configRead(io, 3, 0, 0x10, 4)).to.equal(0xfebf1000);
    expect(configRead(io, 3, 0, 0x14, 4)).to.equal(0x0000c041);
    expect(fn.barAddress(0)).to.equal(0xfebf1000);
    expect(fn.barAddress(1)).to.equal(0xc040);
  });

  it('refuses BARs of impossible sizes or numbers', () => {
    const fn = testFunction();
    expect(() => fn.defineBar(0, 0x1800, 'memory')).to.throw(/not a power of two/);
    expect(() => fn.defineBar(0, 8, 'memory')).to.throw(/at least 16 bytes/);
    expect(() => fn.defineBar(6, 0x1000, 'memory')).to.throw(/no BAR 6/);
  });
});

describe('i440FX and PIIX3 registers', () => {
  it('stores the PAM registers with their writable enable bits', () => {
    const { io } = setup();
    for (let pam = 0; pam < 7; pam++) configWrite(io, 0, 0, PAM_FIRST + pam, 1, 0xff);
    expect(configRead(io, 0, 0, 0x58, 4)).to.equal(0x33333000);
    expect(configRead(io, 0, 0, 0x5c, 4)).to.equal(0x33333333);
  });

  it('stores SMRAM control with its base segment fixed', () => {
    const { io } = setup();
    expect(configRead(io, 0, 0, SMRAM, 1)).to.equal(0x02);
    configWrite(io, 0, 0, SMRAM, 1, 0xff);
    expect(configRead(io, 0, 0, SMRAM, 1)).to.equal(0x7a);
    configWrite(io, 0, 0, SMRAM, 1, 0x00);
    expect(configRead(io, 0, 0, SMRAM, 1)).to.equal(0x02);
  });

  it('starts the PIRQ routes disabled and steers them to the IRQs written', () => {
    const { io, isaBridge } = setup();
    expect(configRead(io, 1, 0, PIRQ_ROUTE_FIRST, 4)).to.equal(0x80808080);
    expect([0, 1, 2, 3].map((pirq) => isaBridge.pirqRoute(pirq))).to.deep.equal([null, null, null, null]);
    configWrite(io, 1, 0, PIRQ_ROUTE_FIRST, 4, 0x0b0a0b0a);
    expect([0, 1, 2, 3].map((pirq) => isaBridge.pirqRoute(pirq))).to.deep.equal([10, 11, 10, 11]);
    configWrite(io, 1, 0, PIRQ_ROUTE_FIRST + 2, 1, 0xff);
    expect(configRead(io, 1, 0, PIRQ_ROUTE_FIRST + 2, 1)).to.equal(0x8f);
    expect(isaBridge.pirqRoute(2)).to.equal(null);
    // Reserved encodings route nowhere.
    for (const reserved of [0, 1, 2, 8, 13]) {
      configWrite(io, 1, 0, PIRQ_ROUTE_FIRST + 3, 1, reserved);
      expect(isaBridge.pirqRoute(3)).to.equal(null);
    }
    expect(() => isaBridge.pirqRoute(4)).to.throw(/no PIRQ 4/);
  });

  it('leaves the ELCR to the PIC and the undefined bridge registers reading 0', () => {
    const { io } = setup();
    configWrite(io, 1, 0, 0x4c, 4, 0xffffffff);
    expect(configRead(io, 1, 0, 0x4c, 4)).to.equal(0);
    expect(io.ownerOf(0x4d0)).to.equal(undefined);
  });
});

describe('PCI state', () => {
  it('resets the functions and CONFIG_ADDRESS to their power-on values', () => {
    const { io, pci, hostBridge, isaBridge } = setup();
    configWrite(io, 0, 0, SMRAM, 1, 0x48);
    configWrite(io, 1, 0, PIRQ_ROUTE_FIRST, 1, 0x0b);
    pci.reset();
    hostBridge.reset();
    isaBridge.reset();
    expect(io.read32(CONFIG_ADDRESS)).to.equal(0);
    expect(hostBridge.read(SMRAM, 1)).to.equal(0x02);
    expect(isaBridge.pirqRoute(0)).to.equal(null);
  });

  it('saves and loads CONFIG_ADDRESS and configuration spaces through JSON', () => {
    const first = setup();
    configWrite(first.io, 1, 0, PIRQ_ROUTE_FIRST + 1, 1, 0x05);
    configWrite(first.io, 0, 0, PAM_FIRST + 1, 1, 0x31);
    const saved = JSON.parse(JSON.stringify({ pci: first.pci.saveState(), host: first.hostBridge.saveState(), isa: first.isaBridge.saveState() }));
    const second = setup();
    second.pci.loadState(saved.pci);
    second.hostBridge.loadState(saved.host);
    second.isaBridge.loadState(saved.isa);
    expect(second.io.read32(CONFIG_ADDRESS)).to.equal(address(0, 0, 0, PAM_FIRST));
    expect(second.io.read8(CONFIG_DATA + 2)).to.equal(0x31);
    expect(second.isaBridge.pirqRoute(1)).to.equal(5);
    expect(() => second.pci.loadState({})).to.throw(/not a configuration mechanism #1 state/);
    expect(() => second.isaBridge.loadState({ config: [1, 2] })).to.throw(/PIIX3 ISA bridge: snapshot is not a PCI configuration space/);
  });
});
