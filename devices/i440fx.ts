import { PciFunction } from './pci-bus.js';

/** Where the host bridge sits: bus 0, device 0, function 0. */
export const I440FX_DEVICE = 0;

/** Master latency timer: bits 7-3 count in units of 8 PCI clocks. */
const LATENCY_TIMER = 0x0d;
const LATENCY_TIMER_WRITABLE = 0xf8;
/**
 * Programmable attribute maps (82441FX datasheet): PAM0 holds read/write enables for
 * 0xF0000-0xFFFFF in bits 5-4; PAM1-6 hold two 16 KiB segments of 0xC0000-0xEFFFF each, low
 * segment in bits 1-0, high segment in bits 5-4.
 */
export const PAM_FIRST = 0x59;
const PAM_COUNT = 7;
const PAM0_WRITABLE = 0x30;
const PAM_WRITABLE = 0x33;
/**
 * SMRAM control (82441FX datasheet): D_OPEN (6), D_CLS (5), D_LCK (4), G_SMRAME (3) are writable; the base
 * segment field (2-0) is fixed at 010b, the A0000-BFFFF window.
 */
export const SMRAM = 0x72;
const SMRAM_DEFAULT = 0x02;
const SMRAM_WRITABLE = 0x78;

/**
 * The 82441FX PCI and memory controller (PMC) of the i440FX chipset: the host bridge at
 * 00:00.0, as Linux, SeaBIOS and QEMU's "pc" machine know it.
 *
 * Identity, command/status, the latency timer, the PAM registers and SMRAM control are modelled
 * as registers only: what PAM and SMRAM do to 0xA0000-0xFFFFF (shadowing the BIOS in RAM,
 * opening SMRAM) is out of scope, so a guest writing them sees its values read back and memory
 * unchanged, and D_LCK does not lock anything (there is no SMM). The DRAM controller registers
 * (row boundaries, timing) are not modelled and read as 0.
 */
export class I440fx extends PciFunction {
  constructor() {
    super('i440FX host bridge', {
      vendorId: 0x8086,
      deviceId: 0x1237,
      classCode: 0x060000,
      revision: 0x02,
      // Memory access and bus master are hardwired on; parity and SERR# reporting may be enabled.
      command: 0x0006,
      commandWritable: 0x0140,
      // Fast back-to-back capable, medium DEVSEL timing.
      status: 0x0280,
    });
    this.define(LATENCY_TIMER, 1, 0, LATENCY_TIMER_WRITABLE);
    this.define(PAM_FIRST, 1, 0, PAM0_WRITABLE);
    for (let pam = 1; pam < PAM_COUNT; pam++) this.define(PAM_FIRST + pam, 1, 0, PAM_WRITABLE);
    this.define(SMRAM, 1, SMRAM_DEFAULT, SMRAM_WRITABLE);
  }
}
