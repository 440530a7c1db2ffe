import type { Cpu } from '../cpu/cpu.js';
import type { Interpreter } from '../cpu/interpreter.js';
import { S } from '../cpu/state-layout.js';
import { mappingsMoved } from '../mmu/paging.js';
import type { MemoryBus } from '../mmu/memory-bus.js';
import type { IoBus } from '../../devices/bus/io-bus.js';
import { LocalApic, LOCAL_APIC_VERSION } from '../../devices/local-apic.js';
import { I440fx, I440FX_DEVICE } from '../../devices/i440fx.js';
import { IoApic, IO_APIC_BASE, IO_APIC_VERSION } from '../../devices/io-apic.js';
import { PciBus } from '../../devices/pci-bus.js';
import { FpuErrorLatch } from '../../devices/fpu-error.js';
import { DualPic } from '../../devices/pic-8259.js';
import { Piix3, PIIX3_DEVICE } from '../../devices/piix3.js';
import { Pit8254 } from '../../devices/pit-8254.js';
import { Ps2Controller } from '../../devices/ps2-controller.js';
import { Ps2Keyboard } from '../../devices/ps2-keyboard.js';
import { RtcCmos } from '../../devices/rtc-cmos.js';
import { VgaText, TEXT_MEMORY_BASE, TEXT_MEMORY_SIZE } from '../../devices/vga-text.js';
import { CPU_SIGNATURE } from '../cpu/cpu.js';
import { CPUID_FEATURES } from '../cpu/ops/system.js';
import { buildMpTables, CASCADE_IRQ, ISA_IRQS, isaIrqToIoApicPin, MP_TABLES_ADDRESS } from './mp-table.js';
import type { Scheduler } from './scheduler.js';

export const LOCAL_APIC_BASE = 0xfee00000;
/** The I/O APIC's ID, after the processor's local APIC ID 0. */
const IO_APIC_ID = 1;
/** A20 off wraps addresses at 1 MiB, as an 8086 did. */
const A20_OFF_MASK = ~0x100000;

export interface PlatformOptions {
  /** What the RTC reads at power-on (ms since the epoch, UTC). */
  rtcStartTime: number;
  memorySize: number;
}

/**
 * The PC chipset around the CPU: dual 8259A PIC, 8254 PIT, MC146818 RTC/CMOS, 8042 with a
 * keyboard (and the A20 gate), VGA text mode, the FPU error latch on IRQ 13, PCI configuration mechanism #1 with the i440FX host
 * bridge (00:00.0) and the PIIX3 ISA bridge (00:01.0), the I/O APIC and the local APIC.
 *
 * Each ISA IRQ line reaches both the 8259A and the I/O APIC (IRQ 0 on input 2, see mp-table.ts).
 * The 8259A's INTR is the local APIC's LINT0: it reaches the CPU while the local APIC passes
 * ExtINT through (software-disabled, or LINT0 unmasked in ExtINT mode), and an acknowledge takes
 * the APIC's vector first. Serial ports and the debug devices are the machine's own.
 */
export class PcPlatform {
  readonly pic: DualPic;
  readonly pit: Pit8254;
  readonly rtc: RtcCmos;
  readonly keyboard = new Ps2Keyboard();
  readonly ps2: Ps2Controller;
  readonly vga: VgaText;
  readonly apic: LocalApic;
  readonly ioApic: IoApic;
  readonly fpuError: FpuErrorLatch;
  readonly pci: PciBus;
  readonly hostBridge = new I440fx();
  readonly isaBridge = new Piix3();

  constructor(io: IoBus, mem: MemoryBus, scheduler: Scheduler, cpu: Cpu, interpreter: Interpreter, options: PlatformOptions) {
    this.pic = new DualPic(io);
    this.pit = new Pit8254(io, scheduler, this.pic.irq(0));
    this.rtc = new RtcCmos(io, scheduler, this.pic.irq(8), { startTime: options.rtcStartTime, memorySizeBytes: options.memorySize });
    this.ps2 = new Ps2Controller(io, this.keyboard, this.pic.irq(1), this.pic.irq(12));
    this.vga = new VgaText(io);
    this.fpuError = new FpuErrorLatch(io, this.pic.irq(13));
    cpu.onFpuError = () => this.fpuError.ferr(true);
    mem.mapMmio(TEXT_MEMORY_BASE, TEXT_MEMORY_SIZE, this.vga.mmio, 'vga-text');
    this.apic = new LocalApic(scheduler);
    mem.mapMmio(LOCAL_APIC_BASE, 0x1000, this.apic.mmio, 'local-apic');
    this.ioApic = new IoApic((vector, level) => this.apic.accept(vector, level));
    this.ioApic.setId(IO_APIC_ID);
    mem.mapMmio(IO_APIC_BASE, 0x1000, this.ioApic.mmio, 'io-apic');
    this.apic.onLevelEndOfInterrupt = (vector) => this.ioApic.endOfInterrupt(vector);
    for (let irq = 0; irq < ISA_IRQS; irq++) {
      if (irq === CASCADE_IRQ) continue;
      const pin = this.ioApic.input(isaIrqToIoApicPin(irq));
      this.pic.irq(irq).onChange((level) => pin.set(level));
    }
    this.pci = new PciBus(io);
    this.pci.addFunction(I440FX_DEVICE, 0, this.hostBridge);
    this.pci.addFunction(PIIX3_DEVICE, 0, this.isaBridge);

    const picReachesCpu = (): boolean => this.pic.hasInterrupt() && this.apic.passesExtInt();
    const updateIntr = (): void => {
      cpu.st[S.INTR] = picReachesCpu() || this.apic.hasInterrupt() ? 1 : 0;
    };
    this.pic.onInterruptChange(updateIntr);
    this.apic.onInterruptChange(updateIntr);
    this.apic.onExtIntGateChange = updateIntr;
    interpreter.acknowledgeInterrupt = () => {
      const vector = this.apic.hasInterrupt() ? this.apic.acknowledge() : picReachesCpu() ? this.pic.acknowledge() : -1;
      updateIntr();
      return vector;
    };
    this.ps2.onA20Change((enabled) => {
      cpu.st[S.A20_MASK] = enabled ? -1 : A20_OFF_MASK;
      mappingsMoved(cpu.st);
    });
  }

  /** The tables a BIOS would leave for the OS: the MP configuration (local APIC, I/O APIC, ISA interrupt routing). */
  firmwareTables(): { address: number; bytes: Uint8Array }[] {
    const bytes = buildMpTables({
      cpuSignature: CPU_SIGNATURE, cpuFeatures: CPUID_FEATURES,
      localApicAddress: LOCAL_APIC_BASE, localApicVersion: LOCAL_APIC_VERSION,
      ioApicId: IO_APIC_ID, ioApicVersion: IO_APIC_VERSION, ioApicAddress: IO_APIC_BASE,
    });
    return [{ address: MP_TABLES_ADDRESS, bytes }];
  }

  /** Device work batched per run slice (screen change notifications). */
  endOfSlice(): void {
    this.vga.flushChanges();
  }
}
