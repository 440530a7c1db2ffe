import type { Device } from './device.js';
import type { IoBus } from './bus/io-bus.js';
import type { MmioHandlers } from '../core/mmu/memory-bus.js';

/** Physical base of the colour text window; the machine maps TEXT_MEMORY_SIZE bytes there. */
export const TEXT_MEMORY_BASE = 0xb8000;
export const TEXT_MEMORY_SIZE = 0x8000;
export const SCREEN_COLUMNS = 80;
export const SCREEN_ROWS = 25;
/** Character cells in the window: offsets in cells (start address, cursor) wrap at this. */
const CELL_COUNT = TEXT_MEMORY_SIZE / 2;
const BLANK_CHAR = 0x20;
const BLANK_ATTRIBUTE = 0x07;

const MONO_CRTC_INDEX = 0x3b4;
const MONO_STATUS = 0x3ba;
const COLOUR_CRTC_INDEX = 0x3d4;
const COLOUR_STATUS = 0x3da;
/** Attribute, misc output, sequencer, DAC, feature control read and graphics controller ports. */
const GENERAL_PORTS = 0x3c0;

/** Misc output bit 0: CRTC and input status 1 at 0x3Dx (colour) rather than 0x3Bx (monochrome). */
const MISC_COLOUR_IO = 0x01;

const CRTC_CURSOR_START = 0x0a;
const CRTC_CURSOR_END = 0x0b;
const CRTC_START_HIGH = 0x0c;
const CRTC_START_LOW = 0x0d;
const CRTC_CURSOR_HIGH = 0x0e;
const CRTC_CURSOR_LOW = 0x0f;
const CRTC_OVERFLOW = 0x07;
const CRTC_VERTICAL_RETRACE_END = 0x11;
const CURSOR_DISABLE = 0x20;
const SCAN_LINE_MASK = 0x1f;
/** Register 0x11 bit 7 locks 0x00-0x07, except the line compare bit 8 in the overflow register. */
const CRTC_PROTECT = 0x80;
const CRTC_PROTECTED_LAST = 0x07;
const OVERFLOW_LINE_COMPARE_8 = 0x10;

const ATTRIBUTE_INDEX_MASK = 0x1f;
/** Attribute index bit 5, palette address source: set for normal display. */
const ATTRIBUTE_PAS = 0x20;

const STATUS_DISPLAY_INACTIVE = 0x01;
const STATUS_VERTICAL_RETRACE = 0x08;
/**
 * Input status 1 follows a count of its own reads, not time: a "frame" of 16 reads whose last 4
 * are vertical retrace, with the display-inactive bit alternating in between. Any loop that waits
 * for either level of either bit ends within one frame, and every run sees the same sequence.
 */
const STATUS_FRAME_READS = 16;
const STATUS_RETRACE_READS = 4;

const DAC_ENTRIES = 256;
const DAC_COMPONENT_MASK = 0x3f;
/** 0x3C7 read: 3 after a read index was written, 0 after a write index. */
const DAC_STATE_READ = 0x03;

/** Mode 3 (80×25, 16 colours, 720×400) as the VGA BIOS programs it (IBM VGA technical reference). */
const MODE3_MISC = 0x67;
const MODE3_SEQUENCER = [0x03, 0x00, 0x03, 0x00, 0x02];
const MODE3_GRAPHICS = [0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x0e, 0x0f, 0xff];
const MODE3_CRTC = [
  0x5f, 0x4f, 0x50, 0x82, 0x55, 0x81, 0xbf, 0x1f, 0x00, 0x4f, 0x0d, 0x0e, 0x00, 0x00, 0x00, 0x00,
  0x9c, 0x8e, 0x8f, 0x28, 0x1f, 0x96, 0xb9, 0xa3, 0xff,
];
const MODE3_ATTRIBUTES = [
  0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x14, 0x07, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f,
  0x0c, 0x00, 0x0f, 0x08, 0x00,
];
/** What reads of a register number the chip does not have return. */
const NO_REGISTER = 0xff;

/**
 * Code page 437 as drawn by the VGA font: the control range shows symbols, 0x00 is blank and
 * 0xFF a no-break space.
 */
const CP437 = Array.from(
  ' ☺☻♥♦♣♠•◘○◙♂♀♪♫☼►◄↕‼¶§▬↨↑↓→←∟↔▲▼' +
    Array.from({ length: 0x5f }, (_, i) => String.fromCharCode(0x20 + i)).join('') +
    '⌂ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀' +
    'αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00a0',
);

/** The 64-colour EGA palette the BIOS loads into DAC entries 0-63 for mode 3 (rgbRGB index bits, 6-bit levels). */
function mode3Dac(): number[] {
  const dac = new Array<number>(DAC_ENTRIES * 3).fill(0);
  for (let i = 0; i < 64; i++) {
    dac[i * 3] = ((i >> 2) & 1) * 0x2a + ((i >> 5) & 1) * 0x15;
    dac[i * 3 + 1] = ((i >> 1) & 1) * 0x2a + ((i >> 4) & 1) * 0x15;
    dac[i * 3 + 2] = (i & 1) * 0x2a + ((i >> 3) & 1) * 0x15;
  }
  return dac;
}

/** Every register of the chip. Plain data, so it is also the snapshot (with the text memory). */
interface VgaRegisters {
  misc: number;
  featureControl: number;
  sequencerIndex: number;
  sequencer: number[];
  graphicsIndex: number;
  graphics: number[];
  crtcIndex: number;
  crtc: number[];
  /** Index register as written: register number in bits 0-4, palette address source in bit 5. */
  attributeIndex: number;
  attributes: number[];
  /** The 0x3C0 flip-flop: true when the next write is data, false when it is an index. */
  attributeExpectsData: boolean;
  dacPixelMask: number;
  dacReadIndex: number;
  dacWriteIndex: number;
  /** Which of red, green, blue the next 0x3C9 access is (one counter, as on the chip). */
  dacComponent: number;
  dacReading: boolean;
  /** Components written for the entry at dacWriteIndex, committed once blue arrives. */
  dacLatch: number[];
  dac: number[];
  statusReads: number;
}

interface VgaSnapshot extends VgaRegisters {
  text: number[];
}

function powerOnRegisters(): VgaRegisters {
  return {
    misc: MODE3_MISC,
    featureControl: 0,
    sequencerIndex: 0,
    sequencer: [...MODE3_SEQUENCER],
    graphicsIndex: 0,
    graphics: [...MODE3_GRAPHICS],
    crtcIndex: 0,
    crtc: [...MODE3_CRTC],
    attributeIndex: ATTRIBUTE_PAS,
    attributes: [...MODE3_ATTRIBUTES],
    attributeExpectsData: false,
    dacPixelMask: 0xff,
    dacReadIndex: 0,
    dacWriteIndex: 0,
    dacComponent: 0,
    dacReading: false,
    dacLatch: [0, 0, 0],
    dac: mode3Dac(),
    statusReads: 0,
  };
}

/**
 * VGA in 80×25 colour text mode: 32 KiB of text memory at 0xB8000 (character bytes at even
 * offsets, attribute bytes at odd ones) and the register file, all stored and read back.
 *
 * Reset leaves the chip as the VGA BIOS leaves it after setting mode 3, so a kernel booted
 * without firmware finds a working console. The screen is always drawn as 80×25 cells from the
 * CRTC start address; timing, font, palette and graphics-mode registers are kept for the guest
 * but do not change what the host sees. The graphics window 0xA0000-0xB7FFF is not decoded
 * (planar graphics are not modelled), and the text window stays at 0xB8000 whatever the
 * graphics controller's memory map field says.
 */
export class VgaText implements Device {
  readonly name = 'vga';
  readonly mmio: MmioHandlers;
  private regs = powerOnRegisters();
  private readonly text = new Uint8Array(TEXT_MEMORY_SIZE);
  private changed = false;
  private readonly changeListeners: (() => void)[] = [];

  constructor(io: IoBus) {
    this.fillBlank();
    this.mmio = {
      read8: (address) => this.text[(address - TEXT_MEMORY_BASE) & (TEXT_MEMORY_SIZE - 1)],
      write8: (address, value) => this.writeText((address - TEXT_MEMORY_BASE) & (TEXT_MEMORY_SIZE - 1), value),
    };
    io.register(GENERAL_PORTS, 16, { read8: (port) => this.readGeneral(port), write8: (port, value) => this.writeGeneral(port, value) }, this.name);
    for (const [crtcIndexPort, statusPort, colour] of [
      [MONO_CRTC_INDEX, MONO_STATUS, false],
      [COLOUR_CRTC_INDEX, COLOUR_STATUS, true],
    ] as const) {
      io.register(
        crtcIndexPort,
        2,
        {
          read8: (port) => (this.decodes(colour) ? this.readCrtc(port - crtcIndexPort) : NO_REGISTER),
          write8: (port, value) => {
            if (this.decodes(colour)) this.writeCrtc(port - crtcIndexPort, value);
          },
        },
        this.name,
      );
      io.register(
        statusPort,
        1,
        {
          read8: () => (this.decodes(colour) ? this.readInputStatus1() : NO_REGISTER),
          write8: (_port, value) => {
            if (this.decodes(colour)) this.regs.featureControl = value;
          },
        },
        this.name,
      );
    }
  }

  /** Called from flushChanges() after text memory, the start address or the cursor changed. */
  onChange(listener: () => void): void {
    this.changeListeners.push(listener);
  }

  /** Tells the listeners, once, about changes since the last call; the machine calls it per run slice. */
  flushChanges(): void {
    if (!this.changed) return;
    this.changed = false;
    for (const listener of this.changeListeners) listener();
  }

  /** The displayed cells, row by row, starting at the CRTC start address. */
  screenCells(): { char: number; attribute: number }[][] {
    const start = this.startAddress();
    return Array.from({ length: SCREEN_ROWS }, (_, row) =>
      Array.from({ length: SCREEN_COLUMNS }, (_, column) => {
        const offset = ((start + row * SCREEN_COLUMNS + column) % CELL_COUNT) * 2;
        return { char: this.text[offset], attribute: this.text[offset + 1] };
      }),
    );
  }

  /** The screen as Unicode text: 25 lines, trailing spaces trimmed, joined with '\n'. */
  screenText(): string {
    return this.screenCells()
      .map((cells) => cells.map((cell) => CP437[cell.char]).join('').replace(/ +$/, ''))
      .join('\n');
  }

  /**
   * The cursor relative to the displayed screen. It is hidden by the disable bit, by a start scan
   * line below the end scan line (how Linux hides it), or by lying outside the 80×25 cells.
   */
  cursor(): { row: number; column: number; visible: boolean } {
    const crtc = this.regs.crtc;
    const location = (crtc[CRTC_CURSOR_HIGH] << 8) | crtc[CRTC_CURSOR_LOW];
    const offset = (location - this.startAddress() + CELL_COUNT) % CELL_COUNT;
    const row = Math.floor(offset / SCREEN_COLUMNS);
    const startLine = crtc[CRTC_CURSOR_START];
    const drawn = (startLine & CURSOR_DISABLE) === 0 && (startLine & SCAN_LINE_MASK) <= (crtc[CRTC_CURSOR_END] & SCAN_LINE_MASK);
    return { row, column: offset % SCREEN_COLUMNS, visible: drawn && row < SCREEN_ROWS };
  }

  reset(): void {
    this.regs = powerOnRegisters();
    this.fillBlank();
    this.changed = true;
  }

  saveState(): VgaSnapshot {
    return { ...copyRegisters(this.regs), text: Array.from(this.text) };
  }

  loadState(state: unknown): void {
    const snapshot = state as Partial<VgaSnapshot> | null;
    const arrays = snapshot === null || typeof snapshot !== 'object' ? [] : [snapshot.text, snapshot.crtc, snapshot.dac, snapshot.attributes];
    if (arrays.length === 0 || !arrays.every(Array.isArray) || snapshot!.text!.length !== TEXT_MEMORY_SIZE) {
      throw new Error(`${this.name}: snapshot is not a VGA text-mode state`);
    }
    const { text, ...regs } = snapshot as VgaSnapshot;
    this.regs = copyRegisters(regs);
    this.text.set(text);
    this.changed = true;
  }

  private fillBlank(): void {
    for (let offset = 0; offset < TEXT_MEMORY_SIZE; offset += 2) {
      this.text[offset] = BLANK_CHAR;
      this.text[offset + 1] = BLANK_ATTRIBUTE;
    }
  }

  private writeText(offset: number, value: number): void {
    if (this.text[offset] === value) return;
    this.text[offset] = value;
    this.changed = true;
  }

  private startAddress(): number {
    const crtc = this.regs.crtc;
    return ((crtc[CRTC_START_HIGH] << 8) | crtc[CRTC_START_LOW]) % CELL_COUNT;
  }

  /** Whether the CRTC and status ports of the colour (0x3Dx) or monochrome (0x3Bx) set answer. */
  private decodes(colour: boolean): boolean {
    return ((this.regs.misc & MISC_COLOUR_IO) !== 0) === colour;
  }

  private readCrtc(offset: number): number {
    const regs = this.regs;
    if (offset === 0) return regs.crtcIndex;
    return regs.crtcIndex < regs.crtc.length ? regs.crtc[regs.crtcIndex] : NO_REGISTER;
  }

  private writeCrtc(offset: number, value: number): void {
    const regs = this.regs;
    if (offset === 0) {
      regs.crtcIndex = value;
      return;
    }
    const index = regs.crtcIndex;
    if (index >= regs.crtc.length) return;
    if (index <= CRTC_PROTECTED_LAST && regs.crtc[CRTC_VERTICAL_RETRACE_END] & CRTC_PROTECT) {
      if (index !== CRTC_OVERFLOW) return;
      value = (regs.crtc[index] & ~OVERFLOW_LINE_COMPARE_8) | (value & OVERFLOW_LINE_COMPARE_8);
    }
    if (regs.crtc[index] === value) return;
    regs.crtc[index] = value;
    if (index >= CRTC_CURSOR_START && index <= CRTC_CURSOR_LOW) this.changed = true;
  }

  /** Input status 1; reading it also points the attribute controller's flip-flop back at the index. */
  private readInputStatus1(): number {
    const regs = this.regs;
    regs.attributeExpectsData = false;
    const phase = regs.statusReads;
    regs.statusReads = (phase + 1) % STATUS_FRAME_READS;
    if (phase >= STATUS_FRAME_READS - STATUS_RETRACE_READS) return STATUS_VERTICAL_RETRACE | STATUS_DISPLAY_INACTIVE;
    return phase & 1 ? STATUS_DISPLAY_INACTIVE : 0;
  }

  private readGeneral(port: number): number {
    const regs = this.regs;
    switch (port) {
      case 0x3c0:
        return regs.attributeIndex;
      case 0x3c1: {
        const index = regs.attributeIndex & ATTRIBUTE_INDEX_MASK;
        return index < regs.attributes.length ? regs.attributes[index] : NO_REGISTER;
      }
      case 0x3c2:
        return 0; // input status 0: no vertical retrace interrupt pending, switch sense low
      case 0x3c4:
        return regs.sequencerIndex;
      case 0x3c5:
        return regs.sequencerIndex < regs.sequencer.length ? regs.sequencer[regs.sequencerIndex] : NO_REGISTER;
      case 0x3c6:
        return regs.dacPixelMask;
      case 0x3c7:
        return regs.dacReading ? DAC_STATE_READ : 0;
      case 0x3c8:
        return regs.dacWriteIndex;
      case 0x3c9:
        return this.readDacData();
      case 0x3ca:
        return regs.featureControl;
      case 0x3cc:
        return regs.misc;
      case 0x3ce:
        return regs.graphicsIndex;
      case 0x3cf:
        return regs.graphicsIndex < regs.graphics.length ? regs.graphics[regs.graphicsIndex] : NO_REGISTER;
      default:
        return NO_REGISTER;
    }
  }

  private writeGeneral(port: number, value: number): void {
    const regs = this.regs;
    switch (port) {
      case 0x3c0:
        this.writeAttribute(value);
        return;
      case 0x3c2:
        regs.misc = value;
        return;
      case 0x3c4:
        regs.sequencerIndex = value;
        return;
      case 0x3c5:
        if (regs.sequencerIndex < regs.sequencer.length) regs.sequencer[regs.sequencerIndex] = value;
        return;
      case 0x3c6:
        regs.dacPixelMask = value;
        return;
      case 0x3c7:
        regs.dacReadIndex = value;
        regs.dacComponent = 0;
        regs.dacReading = true;
        return;
      case 0x3c8:
        regs.dacWriteIndex = value;
        regs.dacComponent = 0;
        regs.dacReading = false;
        return;
      case 0x3c9:
        this.writeDacData(value);
        return;
      case 0x3ce:
        regs.graphicsIndex = value;
        return;
      case 0x3cf:
        if (regs.graphicsIndex < regs.graphics.length) regs.graphics[regs.graphicsIndex] = value;
        return;
      default:
        return; // 0x3C1 and 0x3CC are read-only, the others are not VGA registers
    }
  }

  /** 0x3C0 takes an index and a data byte in turn; reading input status 1 restarts the pair. */
  private writeAttribute(value: number): void {
    const regs = this.regs;
    regs.attributeExpectsData = !regs.attributeExpectsData;
    if (regs.attributeExpectsData) {
      regs.attributeIndex = value & (ATTRIBUTE_INDEX_MASK | ATTRIBUTE_PAS);
      return;
    }
    const index = regs.attributeIndex & ATTRIBUTE_INDEX_MASK;
    if (index < regs.attributes.length) regs.attributes[index] = value;
  }

  private readDacData(): number {
    const regs = this.regs;
    const value = regs.dac[regs.dacReadIndex * 3 + regs.dacComponent];
    if (++regs.dacComponent === 3) {
      regs.dacComponent = 0;
      regs.dacReadIndex = (regs.dacReadIndex + 1) % DAC_ENTRIES;
    }
    return value;
  }

  private writeDacData(value: number): void {
    const regs = this.regs;
    regs.dacLatch[regs.dacComponent] = value & DAC_COMPONENT_MASK;
    if (++regs.dacComponent < 3) return;
    regs.dacComponent = 0;
    regs.dac.splice(regs.dacWriteIndex * 3, 3, ...regs.dacLatch);
    regs.dacWriteIndex = (regs.dacWriteIndex + 1) % DAC_ENTRIES;
  }
}

/** A deep copy of the register file (snapshots must not share arrays with the live device). */
function copyRegisters(regs: VgaRegisters): VgaRegisters {
  return {
    ...regs,
    sequencer: [...regs.sequencer],
    graphics: [...regs.graphics],
    crtc: [...regs.crtc],
    attributes: [...regs.attributes],
    dacLatch: [...regs.dacLatch],
    dac: [...regs.dac],
  };
}
