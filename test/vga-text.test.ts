import { expect } from 'chai';
import { RAM_BASE } from '../core/cpu/state-layout.js';
import { MemoryBus } from '../core/mmu/memory-bus.js';
import { IoBus } from '../devices/bus/io-bus.js';
import { TEXT_MEMORY_BASE, TEXT_MEMORY_SIZE, VgaText } from '../devices/vga-text.js';

const ATTR_INDEX = 0x3c0;
const ATTR_READ = 0x3c1;
const MISC_WRITE = 0x3c2;
const SEQ_INDEX = 0x3c4;
const SEQ_DATA = 0x3c5;
const DAC_READ_INDEX = 0x3c7;
const DAC_WRITE_INDEX = 0x3c8;
const DAC_DATA = 0x3c9;
const MISC_READ = 0x3cc;
const GC_INDEX = 0x3ce;
const GC_DATA = 0x3cf;
const CRTC_INDEX = 0x3d4;
const CRTC_DATA = 0x3d5;
const STATUS = 0x3da;
const MONO_CRTC_INDEX = 0x3b4;
const MONO_CRTC_DATA = 0x3b5;
const MONO_STATUS = 0x3ba;

function setup() {
  const io = new IoBus();
  const vga = new VgaText(io);
  const crtc = (index: number, value?: number): number => {
    io.write8(CRTC_INDEX, index);
    if (value !== undefined) io.write8(CRTC_DATA, value);
    return io.read8(CRTC_DATA);
  };
  /** Writes a string at a cell offset with one attribute, as a console driver would. */
  const put = (cell: number, text: string, attribute = 0x07): void => {
    for (let i = 0; i < text.length; i++) {
      vga.mmio.write8(TEXT_MEMORY_BASE + (cell + i) * 2, text.charCodeAt(i));
      vga.mmio.write8(TEXT_MEMORY_BASE + (cell + i) * 2 + 1, attribute);
    }
  };
  return { io, vga, crtc, put };
}

describe('VgaText', () => {
  it('comes out of reset as a blank mode 3 screen with the cursor at the top left', () => {
    const { io, vga, crtc } = setup();
    expect(vga.screenText()).to.equal('\n'.repeat(24));
    expect(vga.screenCells()).to.have.length(25);
    expect(vga.screenCells()[24]).to.have.length(80);
    expect(vga.screenCells()[3][7]).to.deep.equal({ char: 0x20, attribute: 0x07 });
    expect(vga.mmio.read8(TEXT_MEMORY_BASE + TEXT_MEMORY_SIZE - 1)).to.equal(0x07);
    expect(vga.cursor()).to.deep.equal({ row: 0, column: 0, visible: true });
    expect(io.read8(MISC_READ)).to.equal(0x67);
    expect(crtc(0x0a)).to.equal(0x0d);
    expect(crtc(0x0b)).to.equal(0x0e);
    expect(crtc(0x13)).to.equal(0x28);
    expect(crtc(0x11)).to.equal(0x8e);
  });

  it('shows characters and attributes written through MMIO, trimming trailing spaces', () => {
    const { vga, put } = setup();
    put(0, 'Hello, world   ', 0x1f);
    put(80 * 24 + 75, 'last!');
    const lines = vga.screenText().split('\n');
    expect(lines).to.have.length(25);
    expect(lines[0]).to.equal('Hello, world');
    expect(lines[24]).to.equal(' '.repeat(75) + 'last!');
    expect(vga.screenCells()[0][1]).to.deep.equal({ char: 'e'.charCodeAt(0), attribute: 0x1f });
    expect(vga.mmio.read8(TEXT_MEMORY_BASE + 2)).to.equal(0x65);
    expect(vga.mmio.read8(TEXT_MEMORY_BASE + 3)).to.equal(0x1f);
  });

  it('is reached through the memory bus, also with word writes', () => {
    const { vga } = setup();
    const ramSize = 1 << 20;
    const mem = new MemoryBus(new WebAssembly.Memory({ initial: (RAM_BASE + ramSize) >>> 16 }), ramSize);
    mem.mapMmio(TEXT_MEMORY_BASE, TEXT_MEMORY_SIZE, vga.mmio, 'vga-text');
    mem.write16(0xb8000 + 160, 0x4e41); // 'A', yellow on red, at row 1
    mem.write32(0xb8000 + 162, 0x07420743);
    expect(vga.screenText().split('\n')[1]).to.equal('ACB');
    expect(vga.screenCells()[1][0].attribute).to.equal(0x4e);
    expect(mem.read16(0xb8000 + 164)).to.equal(0x0742);
  });

  it('maps code page 437 to Unicode', () => {
    const { vga, put } = setup();
    const bytes = [0xc9, 0xcd, 0xbb, 0x01, 0x02, 0x03, 0x10, 0x18, 0x7f, 0x80, 0xb0, 0xdb, 0xe1, 0xe3, 0xfb, 0xfe];
    bytes.forEach((byte, i) => vga.mmio.write8(TEXT_MEMORY_BASE + i * 2, byte));
    expect(vga.screenText().split('\n')[0]).to.equal('╔═╗☺☻♥►↑⌂Ç░█ßπ√■');
    // The whole table: one character per byte, the upper half as Python's cp437 codec decodes it.
    for (let byte = 0; byte < 256; byte++) vga.mmio.write8(TEXT_MEMORY_BASE + (160 + byte) * 2, byte);
    const table = vga.screenText().split('\n').slice(2, 6).join('');
    expect(Array.from(table)).to.have.length(256);
    expect(table.slice(128)).to.equal('ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00a0');
    expect(table.slice(32, 127)).to.equal(Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join(''));
    put(80, 'A\u0000B');
    vga.mmio.write8(TEXT_MEMORY_BASE + 166, 0xff);
    expect(vga.screenText().split('\n')[1]).to.equal('A B\u00a0');
  });

  it('draws the screen from the CRTC start address, in character cells, wrapping at 32 KiB', () => {
    const { vga, crtc, put } = setup();
    put(0, 'line 0');
    put(80, 'line 1');
    put(80 * 25, 'line 25');
    crtc(0x0c, 0x00);
    crtc(0x0d, 80);
    const lines = vga.screenText().split('\n');
    expect(lines[0]).to.equal('line 1');
    expect(lines[24]).to.equal('line 25');
    // A start near the end of the window wraps to its beginning.
    crtc(0x0c, (0x4000 - 80) >> 8);
    crtc(0x0d, (0x4000 - 80) & 0xff);
    expect(vga.screenText().split('\n').slice(0, 3)).to.deep.equal(['', 'line 0', 'line 1']);
  });

  it('reports the cursor from the CRTC location, relative to the start address', () => {
    const { vga, crtc } = setup();
    crtc(0x0e, (80 * 3 + 7) >> 8);
    crtc(0x0f, (80 * 3 + 7) & 0xff);
    expect(vga.cursor()).to.deep.equal({ row: 3, column: 7, visible: true });
    crtc(0x0d, 80);
    expect(vga.cursor()).to.deep.equal({ row: 2, column: 7, visible: true });
    crtc(0x0e, 0x10); // row 50 of the window: off the screen
    expect(vga.cursor().visible).to.equal(false);
  });

  it('hides the cursor with the disable bit or a start scan line below the end', () => {
    const { vga, crtc } = setup();
    crtc(0x0a, 0x2d);
    expect(vga.cursor().visible).to.equal(false);
    crtc(0x0a, 0x0d);
    expect(vga.cursor().visible).to.equal(true);
    crtc(0x0a, 31); // what Linux's vgacon writes to hide it: start 31, end 30
    crtc(0x0b, 30);
    expect(vga.cursor().visible).to.equal(false);
  });

  it('protects CRTC registers 0-7 while register 0x11 bit 7 is set, except line compare bit 8', () => {
    const { crtc } = setup();
    expect(crtc(0x00, 0x12)).to.equal(0x5f);
    expect(crtc(0x06, 0x00)).to.equal(0xbf);
    expect(crtc(0x07, 0x00)).to.equal(0x0f); // 0x1f with bit 4 cleared
    expect(crtc(0x08, 0x05)).to.equal(0x05);
    crtc(0x11, 0x0e);
    expect(crtc(0x00, 0x12)).to.equal(0x12);
    expect(crtc(0x07, 0xff)).to.equal(0xff);
    expect(crtc(0x18, 0x40)).to.equal(0x40);
    expect(crtc(0x19, 0x40)).to.equal(0xff); // past the last register
  });

  it('resets the attribute flip-flop on status reads and toggles retrace by a count of reads', () => {
    const { io } = setup();
    io.read8(STATUS);
    io.write8(ATTR_INDEX, 0x01); // index 1, palette address source 0
    io.write8(ATTR_INDEX, 0x3f);
    expect(io.read8(ATTR_INDEX)).to.equal(0x01);
    expect(io.read8(ATTR_READ)).to.equal(0x3f);
    io.write8(ATTR_INDEX, 0x32); // the flip-flop is back at the index: index 0x12, PAS set
    expect(io.read8(ATTR_INDEX)).to.equal(0x32);
    io.read8(STATUS); // back to index again although a data byte was due
    io.write8(ATTR_INDEX, 0x30);
    io.write8(ATTR_INDEX, 0x04);
    expect(io.read8(ATTR_READ)).to.equal(0x04);
    io.write8(ATTR_INDEX, 0x12);
    expect(io.read8(ATTR_READ)).to.equal(0x0f);

    // A fresh chip's status sequence: 12 display reads alternating bit 0, then 4 of retrace.
    const fresh = setup().io;
    const frame = Array.from({ length: 16 }, () => fresh.read8(STATUS));
    expect(frame).to.deep.equal([0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 9, 9, 9, 9]);
    expect(fresh.read8(STATUS)).to.equal(0);
    // The usual "wait for the end of retrace, then for its start" loop ends.
    let reads = 0;
    while (fresh.read8(STATUS) & 0x08 && reads < 100) reads++;
    while (!(fresh.read8(STATUS) & 0x08) && reads < 100) reads++;
    expect(reads).to.be.lessThan(32);
  });

  it('round-trips the DAC with auto-incrementing indexes and 6-bit components', () => {
    const { io } = setup();
    io.write8(DAC_WRITE_INDEX, 0xfe);
    for (const value of [0x3f, 0x20, 0xc1, 1, 2, 3, 4, 5, 6]) io.write8(DAC_DATA, value); // 0xfe, 0xff, then wraps to 0
    expect(io.read8(DAC_WRITE_INDEX)).to.equal(1);
    expect(io.read8(DAC_READ_INDEX)).to.equal(0);
    io.write8(DAC_READ_INDEX, 0xfe);
    expect(io.read8(DAC_READ_INDEX)).to.equal(3);
    const read = Array.from({ length: 9 }, () => io.read8(DAC_DATA));
    expect(read).to.deep.equal([0x3f, 0x20, 0x01, 1, 2, 3, 4, 5, 6]);
    // Mode 3 palette: entry 0x3f is white, entry 0x14 brown (dark yellow).
    io.write8(DAC_READ_INDEX, 0x14);
    expect([io.read8(DAC_DATA), io.read8(DAC_DATA), io.read8(DAC_DATA)]).to.deep.equal([0x2a, 0x15, 0x00]);
    expect([io.read8(DAC_DATA), io.read8(DAC_DATA), io.read8(DAC_DATA)]).to.deep.equal([0x2a, 0x15, 0x2a]); // entry 0x15, magenta
  });

  it('stores and reads back sequencer and graphics controller registers', () => {
    const { io } = setup();
    io.write8(SEQ_INDEX, 0x02);
    expect(io.read8(SEQ_DATA)).to.equal(0x03);
    io.write8(SEQ_DATA, 0x04);
    expect(io.read8(SEQ_INDEX)).to.equal(0x02);
    expect(io.read8(SEQ_DATA)).to.equal(0x04);
    io.write16(GC_INDEX, 0x0506); // index 6, data 5 in one word access
    expect(io.read8(GC_INDEX)).to.equal(0x06);
    expect(io.read8(GC_DATA)).to.equal(0x05);
    io.write8(GC_INDEX, 0x05);
    expect(io.read8(GC_DATA)).to.equal(0x10);
  });

  it('moves the CRTC and status ports to 0x3Bx when misc output bit 0 is clear', () => {
    const { io, vga } = setup();
    expect(io.read8(MONO_CRTC_DATA)).to.equal(0xff);
    io.write8(MISC_WRITE, 0x66);
    expect(io.read8(MISC_READ)).to.equal(0x66);
    io.write8(MONO_CRTC_INDEX, 0x0f);
    io.write8(MONO_CRTC_DATA, 42);
    expect(io.read8(MONO_CRTC_DATA)).to.equal(42);
    expect(vga.cursor()).to.deep.equal({ row: 0, column: 42, visible: true });
    expect(io.read8(CRTC_DATA)).to.equal(0xff);
    io.write8(CRTC_INDEX, 0x0f);
    io.write8(CRTC_DATA, 7); // ignored: the colour ports are off
    expect(io.read8(STATUS)).to.equal(0xff);
    io.write8(ATTR_INDEX, 0x01); // index
    expect(io.read8(MONO_STATUS)).to.equal(0);
    io.write8(ATTR_INDEX, 0x30); // an index again, after the reset by 0x3BA
    expect(io.read8(ATTR_INDEX)).to.equal(0x30);
    io.write8(MISC_WRITE, 0x67);
    expect(io.read8(CRTC_DATA)).to.equal(42);
  });

  it('notifies listeners once per flush, only after text, start address or cursor changes', () => {
    const { io, vga, crtc, put } = setup();
    let calls = 0;
    vga.onChange(() => calls++);
    vga.flushChanges();
    expect(calls).to.equal(0);
    put(0, 'abc');
    put(80, 'def');
    vga.flushChanges();
    vga.flushChanges();
    expect(calls).to.equal(1);
    put(0, 'abc'); // same bytes: nothing changes
    crtc(0x13, 0x30);
    io.write8(DAC_WRITE_INDEX, 0);
    vga.flushChanges();
    expect(calls).to.equal(1);
    crtc(0x0f, 5);
    vga.flushChanges();
    crtc(0x0d, 80);
    vga.flushChanges();
    expect(calls).to.equal(3);
  });

  it('saves and restores text memory and every register', () => {
    const { io, vga, crtc, put } = setup();
    put(0, 'saved', 0x1e);
    crtc(0x0e, 0x01);
    crtc(0x0f, 0x23);
    io.write8(DAC_WRITE_INDEX, 9);
    io.write8(DAC_DATA, 0x11); // one component pending in the latch
    io.read8(STATUS);
    io.write8(ATTR_INDEX, 0x05); // flip-flop now expects data
    const snapshot = JSON.parse(JSON.stringify(vga.saveState()));
    const text = vga.screenText();

    const other = setup();
    let changes = 0;
    other.vga.onChange(() => changes++);
    other.vga.loadState(snapshot);
    other.vga.flushChanges();
    expect(changes).to.equal(1);
    expect(other.vga.screenText()).to.equal(text);
    expect(other.vga.cursor()).to.deep.equal(vga.cursor());
    other.io.write8(DAC_DATA, 0x22);
    other.io.write8(DAC_DATA, 0x33);
    other.io.write8(DAC_READ_INDEX, 9);
    expect([other.io.read8(DAC_DATA), other.io.read8(DAC_DATA), other.io.read8(DAC_DATA)]).to.deep.equal([0x11, 0x22, 0x33]);
    other.io.write8(ATTR_INDEX, 0x2a);
    expect(other.io.read8(ATTR_READ)).to.equal(0x2a);
    expect(other.io.read8(ATTR_INDEX)).to.equal(0x05);
    // The snapshot is a copy: later writes do not reach it.
    other.put(0, 'X');
    expect(snapshot.text[0]).to.equal('s'.charCodeAt(0));
    expect(() => other.vga.loadState({ text: [] })).to.throw(/vga/);
    expect(() => other.vga.loadState(null)).to.throw(/not a VGA/);
  });

  it('reset blanks the screen and restores the mode 3 registers', () => {
    const { io, vga, crtc, put } = setup();
    put(0, 'junk', 0x4f);
    crtc(0x0f, 99);
    io.write8(MISC_WRITE, 0x66);
    vga.reset();
    expect(vga.screenText()).to.equal('\n'.repeat(24));
    expect(vga.screenCells()[0][0]).to.deep.equal({ char: 0x20, attribute: 0x07 });
    expect(vga.cursor()).to.deep.equal({ row: 0, column: 0, visible: true });
    expect(io.read8(MISC_READ)).to.equal(0x67);
  });
});
