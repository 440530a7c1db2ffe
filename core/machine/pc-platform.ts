import type { Cpu } from '../cpu/cpu.js';
import type { Interpreter } from '../cpu/interpreter.js';
import { S } from '../cpu/state-layout.js';
import type { MemoryBus } from '../mmu/memory-bus.js';
import type { IoBus } from '../../devices/bus/io-bus.js';
import { LocalApic } from '../../devices/local-apic.js';
import { DualPic } from '../../devices/pic-8259.js';
import { Pit8254 } from '../../devices/pit-8254.js';
import { Ps2Controller } from '../../devices/ps2-controller.js';
import { Ps2Keyboard } from '../../devices/ps2-keyboard.js';
import { RtcCmos } from '../../devices/rtc-cmos.js';
import { VgaText, TEXT_MEMORY_BASE, TEXT_MEMORY_SIZE } from '../../devices/vga-text.js';
import type { Scheduler } from './scheduler.js';

export const LOCAL_APIC_BASE = 0xfee00000;
/** A20 off wraps addresses at 1 MiB, as an 8086 did. */
const A20_OFF_MASK = ~0x100000;

export interface PlatformOptions {
  /** What the RTC reads at power-on (ms since the epoch, UTC). */
  rtcStartTime: number;
  memorySize: number;
}

/**
 * The PC chipset around the CPU: dual 8259A PIC, 8254 PIT, MC146818 RTC/CMOS, 8042 with a
 * keyboard (and the A20 gate), VGA text mode, the local APIC. The PIC and the APIC both drive
 * the CPU's INTR; an acknowledge takes the APIC's vector first (the PIC stands for the APIC's
 * virtual-wire LINT0 input). Serial ports and the debug devices are the machine's own.
 */
export class PcPlatform {
  readonly pic: DualPic;
  readonly pit: Pit8254;
  readonly rtc: RtcCmos;
  readonly keyboard = new Ps2Keyboard();
  readonly ps2: Ps2Controller;
  readonly vga: VgaText;
  readonly apic: LocalApic;

  constructor(io: IoBus, mem: MemoryBus, scheduler: Scheduler, cpu: Cpu, interpreter: Interpreter, options: PlatformOptions) {
    this.pic = new DualPic(io);
    this.pit = new Pit8254(io, scheduler, this.pic.irq(0));
    this.rtc = new RtcCmos(io, scheduler, this.pic.irq(8), { startTime: options.rtcStartTime, memorySizeBytes: options.memorySize });
    this.ps2 = new Ps2Controller(io, this.keyboard, this.pic.irq(1), this.pic.irq(12));
    this.vga = new VgaText(io);
    mem.mapMmio(TEXT_MEMORY_BASE, TEXT_MEMORY_SIZE, this.vga.mmio, 'vga-text');
    this.apic = new LocalApic(scheduler);
    mem.mapMmio(LOCAL_APIC_BASE, 0x1000, this.apic.mmio, 'local-apic');

    const updateIntr = (): void => {
      cpu.st[S.INTR] = this.pic.hasInterrupt() || this.apic.hasInterrupt() ? 1 : 0;
    };
    this.pic.onInterruptChange(updateIntr);
    this.apic.onInterruptChange(updateIntr);
    interpreter.acknowledgeInterrupt = () => {
      const vector = this.apic.hasInterrupt() ? this.apic.acknowledge() : this.pic.hasInterrupt() ? this.pic.acknowledge() : -1;
      updateIntr();
      return vector;
    };
    this.ps2.onA20Change((enabled) => { cpu.st[S.A20_MASK] = enabled ? -1 : A20_OFF_MASK; });
  }

  /** Device work batched per run slice (screen change notifications). */
  endOfSlice(): void {
    this.vga.flushChanges();
  }
}
