/**
 * The Intel MultiProcessor Specification 1.4 tables that tell an operating system where the local
 * APIC and the I/O APIC are and how the ISA interrupts reach them. A PC's BIOS writes them; with
 * no BIOS in a direct kernel boot the machine writes them itself, in the BIOS area that the E820
 * map reserves, where Linux searches (0xF0000-0xFFFFF).
 */

export const MP_TABLES_ADDRESS = 0xf5a00;

export interface MpPlatform {
  cpuSignature: number;
  cpuFeatures: number;
  localApicAddress: number;
  localApicVersion: number;
  ioApicId: number;
  ioApicVersion: number;
  ioApicAddress: number;
}

const FLOATING_POINTER_SIZE = 16;
const HEADER_SIZE = 44;
const SPEC_REVISION_1_4 = 4;
const ENTRY_PROCESSOR = 0, ENTRY_BUS = 1, ENTRY_IO_APIC = 2, ENTRY_IO_INTERRUPT = 3, ENTRY_LOCAL_INTERRUPT = 4;
const INT_VECTORED = 0, INT_NMI = 1, INT_EXTINT = 3;
/** Polarity and trigger mode "conform to the bus" (ISA: active high, edge). */
const CONFORMS_TO_BUS = 0;
const PROCESSOR_ENABLED = 1, PROCESSOR_BOOTSTRAP = 2;
const IO_APIC_ENABLED = 1;
const PCI_BUS_ID = 0, ISA_BUS_ID = 1;
const ALL_LOCAL_APICS = 0xff;
export const ISA_IRQS = 16;
/** The 8259A's cascade input: no ISA device drives it, so the table leaves it out. */
export const CASCADE_IRQ = 2;
/** The PIT's IRQ 0 is wired to I/O APIC input 2, as on boards whose input 0 is left to the 8259A. */
export const TIMER_IO_APIC_PIN = 2;

/** The I/O APIC input an ISA IRQ drives on this board. */
export function isaIrqToIoApicPin(irq: number): number {
  return irq === 0 ? TIMER_IO_APIC_PIN : irq;
}

class TableWriter {
  readonly bytes: Uint8Array;
  private readonly view: DataView;
  offset = 0;

  constructor(size: number) {
    this.bytes = new Uint8Array(size);
    this.view = new DataView(this.bytes.buffer);
  }

  u8(value: number): void { this.view.setUint8(this.offset, value); this.offset += 1; }
  u16(value: number): void { this.view.setUint16(this.offset, value, true); this.offset += 2; }
  u32(value: number): void { this.view.setUint32(this.offset, value >>> 0, true); this.offset += 4; }
  text(value: string, width: number): void {
    for (let k = 0; k < width; k++) this.u8(k < value.length ? value.charCodeAt(k) : 0x20);
  }
  skip(count: number): void { this.offset += count; }
  setU16(at: number, value: number): void { this.view.setUint16(at, value, true); }

  /** Stores at `at` the byte that makes [start, end) sum to 0 modulo 256. */
  checksum(at: number, start: number, end: number): void {
    let sum = 0;
    for (let k = start; k < end; k++) sum += this.bytes[k];
    this.bytes[at] = (0x100 - (sum & 0xff)) & 0xff;
  }
}

/**
 * The floating pointer structure followed by the configuration table: one processor (the
 * bootstrap processor, local APIC ID 0), a PCI bus 0 and an ISA bus 1, the I/O APIC, the ISA
 * interrupts with IRQ 0 on input 2 and IRQ 2 (the cascade) absent, and LINT0 = ExtINT, LINT1 = NMI
 * on the local APIC. The 8259A's INTR reaches the processor only through LINT0 (virtual wire
 * through the local APIC), so no I/O APIC input is listed as ExtINT: Linux warns when the table
 * names an ExtINT input that the hardware has not set up.
 */
export function buildMpTables(platform: MpPlatform, address = MP_TABLES_ADDRESS): Uint8Array {
  const ioInterrupts = ISA_IRQS - 1; // IRQs 0-15 without the cascade
  const entriesSize = 20 + 2 * 8 + 8 + ioInterrupts * 8 + 2 * 8;
  const w = new TableWriter(FLOATING_POINTER_SIZE + HEADER_SIZE + entriesSize);
  const tableAddress = address + FLOATING_POINTER_SIZE;

  w.text('_MP_', 4);
  w.u32(tableAddress);
  w.u8(1); // length in 16-byte paragraphs
  w.u8(SPEC_REVISION_1_4);
  const pointerChecksum = w.offset;
  w.u8(0);
  w.u8(0); // feature byte 1: 0 = a configuration table is present, no default configuration
  w.u8(0); // feature byte 2: IMCR absent, virtual-wire mode
  w.skip(3);

  const header = w.offset;
  w.text('PCMP', 4);
  const lengthField = w.offset;
  w.u16(0);
  w.u8(SPEC_REVISION_1_4);
  const tableChecksum = w.offset;
  w.u8(0);
  w.text('WASMVSR', 8);
  w.text('i440FX PIIX3', 12);
  w.u32(0); // no OEM table
  w.u16(0);
  const countField = w.offset;
  w.u16(0);
  w.u32(platform.localApicAddress);
  w.u16(0); // no extended table
  w.u8(0);
  w.u8(0);

  let entries = 0;
  w.u8(ENTRY_PROCESSOR);
  w.u8(0);
  w.u8(platform.localApicVersion & 0xff);
  w.u8(PROCESSOR_ENABLED | PROCESSOR_BOOTSTRAP);
  w.u32(platform.cpuSignature);
  w.u32(platform.cpuFeatures);
  w.skip(8);
  entries++;
  for (const [id, name] of [[PCI_BUS_ID, 'PCI'], [ISA_BUS_ID, 'ISA']] as const) {
    w.u8(ENTRY_BUS);
    w.u8(id);
    w.text(name, 6);
    entries++;
  }
  w.u8(ENTRY_IO_APIC);
  w.u8(platform.ioApicId);
  w.u8(platform.ioApicVersion & 0xff);
  w.u8(IO_APIC_ENABLED);
  w.u32(platform.ioApicAddress);
  entries++;
  const ioInterrupt = (type: number, irq: number, pin: number): void => {
    w.u8(ENTRY_IO_INTERRUPT);
    w.u8(type);
    w.u16(CONFORMS_TO_BUS);
    w.u8(ISA_BUS_ID);
    w.u8(irq);
    w.u8(platform.ioApicId);
    w.u8(pin);
    entries++;
  };
  for (let irq = 0; irq < ISA_IRQS; irq++) if (irq !== CASCADE_IRQ) ioInterrupt(INT_VECTORED, irq, isaIrqToIoApicPin(irq));
  for (const [type, lint] of [[INT_EXTINT, 0], [INT_NMI, 1]]) {
    w.u8(ENTRY_LOCAL_INTERRUPT);
    w.u8(type);
    w.u16(CONFORMS_TO_BUS);
    w.u8(ISA_BUS_ID);
    w.u8(0);
    w.u8(ALL_LOCAL_APICS);
    w.u8(lint);
    entries++;
  }

  w.setU16(lengthField, w.offset - header);
  w.setU16(countField, entries);
  w.checksum(tableChecksum, header, w.offset);
  w.checksum(pointerChecksum, 0, FLOATING_POINTER_SIZE);
  return w.bytes;
}
