import { PciFunction } from './pci-bus.js';

/** Where the ISA bridge sits: bus 0, device 1, function 0 (IDE and USB would be functions 1 and 2). */
export const PIIX3_DEVICE = 1;

/** PIRQA-D route control (82371SB datasheet): bit 7 disables routing, bits 3-0 name the ISA IRQ. */
export const PIRQ_ROUTE_FIRST = 0x60;
const PIRQ_COUNT = 4;
const PIRQ_ROUTE_DISABLED = 0x80;
const PIRQ_ROUTE_WRITABLE = 0x8f;
const PIRQ_IRQ_MASK = 0x0f;
/** IRQs a PIRQ may be steered to: 3-7, 9-12, 14, 15 (0-2, 8 and 13 are reserved encodings). */
const ROUTABLE_IRQS = 0xdef8;

/**
 * Function 0 of the 82371SB PIIX3: the PCI-to-ISA bridge at 00:01.0, announced as a
 * multi-function device as on real boards.
 *
 * Modelled: identity, command/status and the PIRQ route control registers that steer the PCI
 * interrupt lines to ISA IRQs. The ELCR (0x4D0/0x4D1) lives with the PIC, and the reset control
 * register at port 0xCF9 is not part of this function. The other bridge registers (ISA clock
 * divisor, XBCS, top of memory, motherboard IRQ routing, the I/O APIC base relocation, SMI and
 * DMA control) are not modelled and read as 0; the I/O APIC stays at 0xFEC00000.
 */
export class Piix3 extends PciFunction {
  constructor() {
    super('PIIX3 ISA bridge', {
      vendorId: 0x8086,
      deviceId: 0x7000,
      classCode: 0x060100,
      revision: 0x00,
      headerType: 0x80,
      // I/O, memory and bus master are hardwired on; special cycles and SERR# may be enabled.
      command: 0x0007,
      commandWritable: 0x0108,
      // Medium DEVSEL timing.
      status: 0x0200,
    });
    for (let pirq = 0; pirq < PIRQ_COUNT; pirq++) this.define(PIRQ_ROUTE_FIRST + pirq, 1, PIRQ_ROUTE_DISABLED, PIRQ_ROUTE_WRITABLE);
  }

  /** The ISA IRQ that PIRQA-D (0-3) drives now, or null when its routing is disabled or names a reserved IRQ. */
  pirqRoute(pirq: number): number | null {
    if (!Number.isInteger(pirq) || pirq < 0 || pirq >= PIRQ_COUNT) throw new RangeError(`${this.name}: there is no PIRQ ${pirq}; they run from 0 (A) to 3 (D)`);
    const route = this.read(PIRQ_ROUTE_FIRST + pirq, 1);
    const irq = route & PIRQ_IRQ_MASK;
    return route & PIRQ_ROUTE_DISABLED || (ROUTABLE_IRQS & (1 << irq)) === 0 ? null : irq;
  }
}
