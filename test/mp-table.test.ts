import { expect } from 'chai';
import { buildMpTables, MP_TABLES_ADDRESS } from '../core/machine/mp-table.js';
import { createMachine } from '../index.js';

const PLATFORM = {
  cpuSignature: 0x633, cpuFeatures: 0x0183b37d, localApicAddress: 0xfee00000, localApicVersion: 0x50014,
  ioApicId: 1, ioApicVersion: 0x11, ioApicAddress: 0xfec00000,
};

const sum = (bytes: Uint8Array): number => bytes.reduce((a, b) => (a + b) & 0xff, 0);
const text = (bytes: Uint8Array, at: number, length: number): string => String.fromCharCode(...bytes.subarray(at, at + length));

/** The configuration table's entries as [type, bytes] pairs, walked as an OS does. */
function entries(table: Uint8Array): Uint8Array[] {
  const view = new DataView(table.buffer, table.byteOffset);
  const out: Uint8Array[] = [];
  let at = 44;
  for (let k = 0; k < view.getUint16(34, true); k++) {
    const size = table[at] === 0 ? 20 : 8;
    out.push(table.subarray(at, at + size));
    at += size;
  }
  expect(at).to.equal(view.getUint16(4, true));
  return out;
}

describe('MP tables', () => {
  const bytes = buildMpTables(PLATFORM);
  const pointer = bytes.subarray(0, 16);
  const view = new DataView(bytes.buffer);
  const table = bytes.subarray(view.getUint32(4, true) - MP_TABLES_ADDRESS);

  it('the floating pointer names the table, is paragraph-sized and sums to 0', () => {
    expect(text(pointer, 0, 4)).to.equal('_MP_');
    expect(pointer[8]).to.equal(1);
    expect(pointer[9]).to.equal(4);
    expect(sum(pointer)).to.equal(0);
    expect(pointer[11]).to.equal(0); // a table, not a default configuration
    expect(MP_TABLES_ADDRESS % 16).to.equal(0);
  });

  it('the configuration table sums to 0 and lists the CPU, the buses and the I/O APIC', () => {
    expect(text(table, 0, 4)).to.equal('PCMP');
    const length = new DataView(table.buffer, table.byteOffset).getUint16(4, true);
    expect(sum(table.subarray(0, length))).to.equal(0);
    expect(new DataView(table.buffer, table.byteOffset).getUint32(36, true)).to.equal(0xfee00000);
    const list = entries(table);
    expect(list[0][0]).to.equal(0);
    expect(list[0][3]).to.equal(3); // enabled bootstrap processor
    expect(list.filter((e) => e[0] === 1).map((e) => text(e, 2, 6))).to.deep.equal(['PCI   ', 'ISA   ']);
    const ioApic = list.find((e) => e[0] === 2)!;
    expect([ioApic[1], ioApic[2], ioApic[3]]).to.deep.equal([1, 0x11, 1]);
  });

  it('routes ISA IRQ 0 to input 2, leaves the cascade out and puts the 8259A on LINT0 only', () => {
    const list = entries(table);
    const io = list.filter((e) => e[0] === 3).map((e) => ({ type: e[1], irq: e[5], pin: e[7] }));
    expect(io.filter((e) => e.type !== 0)).to.deep.equal([]);
    expect(io).to.deep.include({ type: 0, irq: 0, pin: 2 });
    expect(io.filter((e) => e.type === 0).map((e) => e.irq)).to.deep.equal([0, 1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
    const local = list.filter((e) => e[0] === 4).map((e) => [e[1], e[7]]);
    expect(local).to.deep.equal([[3, 0], [1, 1]]);
  });

  it('the machine writes them into the reserved BIOS area where Linux searches', () => {
    const machine = createMachine({ memoryMiB: 4 });
    machine.applyBootPlan({ format: 'flat', description: 't', writes: [{ address: 0x7c00, bytes: Uint8Array.of(0xf4) }], entry: { mode: 'real', cs: 0, eip: 0x7c00, registers: {} } });
    const found = machine.mem.readBytes(MP_TABLES_ADDRESS, 4);
    expect(text(found, 0, 4)).to.equal('_MP_');
  });
});
