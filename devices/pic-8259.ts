import type { Device } from './device.js';
import type { IoBus } from './bus/io-bus.js';
import { IrqLine } from './bus/irq-line.js';

const MASTER_PORT = 0x20;
const SLAVE_PORT = 0xa0;
/** PIIX edge/level control registers: 0x4D0 for IRQ 0-7, 0x4D1 for IRQ 8-15. */
const ELCR_PORT = 0x4d0;
/** The master input that the slave's INT output drives, which is also the slave's ID on a PC. */
const CASCADE_IR = 2;
/** ELCR bits that PIIX keeps at 0 (edge): IRQ 0, 1, 2 on the master, IRQ 8 and 13 on the slave. */
const MASTER_ELCR_WRITABLE = 0xf8;
const SLAVE_ELCR_WRITABLE = 0xde;
/** The level whose vector an INTA cycle returns when the request went away: the default IR7. */
const SPURIOUS_IR = 7;
/** What the CPU reads in INTA when no chip drives the data bus (slave ID not matching the master's CAS code). */
const FLOATING_BUS = 0xff;

const ICW1_IC4 = 0x01;
const ICW1_SNGL = 0x02;
const ICW1_INIT = 0x10;
const ICW2_VECTOR_MASK = 0xf8;
const ICW3_SLAVE_ID_MASK = 0x07;
const ICW4_AEOI = 0x02;

const OCW3_SELECT = 0x08;
const OCW3_RIS = 0x01;
const OCW3_RR = 0x02;
const OCW3_POLL = 0x04;
const OCW3_SMM = 0x20;
const OCW3_ESMM = 0x40;
const POLL_INTERRUPT = 0x80;

// OCW2 commands: bits 7-5 (R, SL, EOI).
const OCW2_CLEAR_ROTATE_AEOI = 0;
const OCW2_NON_SPECIFIC_EOI = 1;
const OCW2_SPECIFIC_EOI = 3;
const OCW2_SET_ROTATE_AEOI = 4;
const OCW2_ROTATE_NON_SPECIFIC_EOI = 5;
const OCW2_SET_PRIORITY = 6;
const OCW2_ROTATE_SPECIFIC_EOI = 7;

/** One chip's programmable state. Plain data, so it is also the snapshot. */
interface ChipRegisters {
  irr: number;
  imr: number;
  isr: number;
  /** Trigger mode per input, 1 = level (the PIIX ELCR belongs to the chipset but travels with its chip). */
  elcr: number;
  /** The level with the lowest priority; the one after it (mod 8) has the highest. */
  lowestPriority: number;
  vectorBase: number;
  /** ICW3: slave-input bits on a master, the slave's ID on a slave. */
  cascade: number;
  single: boolean;
  icw4Expected: boolean;
  /** The ICW the data port takes next (2, 3 or 4), or 0 when initialised. */
  nextIcw: number;
  autoEoi: boolean;
  rotateOnAutoEoi: boolean;
  specialMask: boolean;
  readIsr: boolean;
  pollPending: boolean;
}

interface ChipSnapshot extends ChipRegisters {
  /** Input pin levels as last seen, for edge detection. */
  inputs: number;
}

interface DualPicSnapshot {
  master: ChipSnapshot;
  slave: ChipSnapshot;
}

/** The state a reset leaves: the initialisation sequence done with vector base 0 and PC cascade wiring. */
function powerOnRegisters(cascade: number): ChipRegisters {
  return {
    irr: 0,
    imr: 0,
    isr: 0,
    elcr: 0,
    lowestPriority: 7,
    vectorBase: 0,
    cascade,
    single: false,
    icw4Expected: false,
    nextIcw: 0,
    autoEoi: false,
    rotateOnAutoEoi: false,
    specialMask: false,
    readIsr: false,
    pollPending: false,
  };
}

function isChipSnapshot(value: unknown): value is ChipSnapshot {
  if (typeof value !== 'object' || value === null) return false;
  const chip = value as Record<string, unknown>;
  return ['irr', 'imr', 'isr', 'elcr', 'inputs', 'lowestPriority', 'vectorBase', 'cascade', 'nextIcw'].every(
    (key) => typeof chip[key] === 'number',
  );
}

/** One 8259A. Its INT output goes to `onOutput` whenever it changes. */
class Pic8259 {
  private regs: ChipRegisters;
  private inputs = 0;
  private output = false;

  constructor(
    private readonly elcrWritable: number,
    private readonly resetCascade: number,
    private readonly onOutput: (level: boolean) => void,
  ) {
    this.regs = powerOnRegisters(resetCascade);
  }

  /** Input levels are the devices' business, so they survive a reset; edge requests need a new edge. */
  reset(): void {
    this.regs = powerOnRegisters(this.resetCascade);
    this.updateOutput();
  }

  save(): ChipSnapshot {
    return { ...this.regs, inputs: this.inputs };
  }

  load(snapshot: ChipSnapshot): void {
    const { inputs, ...regs } = snapshot;
    this.regs = regs;
    this.inputs = inputs;
    this.updateOutput();
  }

  setInput(ir: number, level: boolean): void {
    const bit = 1 << ir;
    if (level === ((this.inputs & bit) !== 0)) return;
    this.inputs ^= bit;
    const regs = this.regs;
    // Level inputs follow the line; edge inputs latch the rising edge until acknowledged.
    if (regs.elcr & bit) regs.irr = level ? regs.irr | bit : regs.irr & ~bit;
    else if (level) regs.irr |= bit;
    this.updateOutput();
  }

  vector(ir: number): number {
    return this.regs.vectorBase | ir;
  }

  /** Whether an acknowledge of `ir` on this master goes to a slave (cascade mode, ICW3 bit set). */
  cascadesOn(ir: number): boolean {
    return !this.regs.single && (this.regs.cascade & (1 << ir)) !== 0;
  }

  /** Whether this slave drives the vector when the master puts `id` on CAS0-2. */
  answersTo(id: number): boolean {
    return !this.regs.single && (this.regs.cascade & ICW3_SLAVE_ID_MASK) === id;
  }

  /** The level this chip would interrupt for now, or -1. */
  pendingRequest(): number {
    const regs = this.regs;
    const request = this.highestPriority(regs.irr & ~regs.imr);
    if (request < 0) return -1;
    const inService = this.highestPriority(this.blockingInService());
    return inService < 0 || this.rank(request) < this.rank(inService) ? request : -1;
  }

  /**
   * The INTA cycle for `ir`. INT falls during it, so a request still pending behind this one
   * (auto-EOI, special mask) raises INT again and a master sees a fresh edge on its cascade input.
   */
  acknowledge(ir: number): void {
    const regs = this.regs;
    const bit = 1 << ir;
    if ((regs.elcr & bit) === 0) regs.irr &= ~bit;
    if (!regs.autoEoi) regs.isr |= bit;
    else if (regs.rotateOnAutoEoi) regs.lowestPriority = ir;
    this.setOutput(false);
    this.updateOutput();
  }

  /** Port A0=0 read: the poll word after a poll command, else IRR or ISR as OCW3 selected. */
  readCommand(): number {
    const regs = this.regs;
    if (!regs.pollPending) return regs.readIsr ? regs.isr : regs.irr;
    // A poll read is this chip's acknowledge: the level goes in service, no vector is produced.
    regs.pollPending = false;
    const ir = this.pendingRequest();
    if (ir < 0) return 0;
    this.acknowledge(ir);
    return POLL_INTERRUPT | ir;
  }

  readData(): number {
    return this.regs.imr;
  }

  writeCommand(value: number): void {
    if (value & ICW1_INIT) this.startInitialisation(value);
    else if (value & OCW3_SELECT) this.writeOcw3(value);
    else this.writeOcw2(value);
    this.updateOutput();
  }

  /** Port A0=1 write: the next ICW while initialising, otherwise OCW1 (the mask). */
  writeData(value: number): void {
    const regs = this.regs;
    switch (regs.nextIcw) {
      case 2:
        regs.vectorBase = value & ICW2_VECTOR_MASK;
        regs.nextIcw = regs.single ? this.afterIcw3() : 3;
        return;
      case 3:
        regs.cascade = value;
        regs.nextIcw = this.afterIcw3();
        return;
      case 4:
        regs.autoEoi = (value & ICW4_AEOI) !== 0;
        regs.nextIcw = 0;
        return;
      default:
        regs.imr = value;
        this.updateOutput();
    }
  }

  readElcr(): number {
    return this.regs.elcr;
  }

  writeElcr(value: number): void {
    const regs = this.regs;
    regs.elcr = value & this.elcrWritable;
    // Inputs turned level-triggered show their line at once; ones turned edge keep what they hold.
    regs.irr = (regs.irr & ~regs.elcr) | (this.inputs & regs.elcr);
    this.updateOutput();
  }

  private afterIcw3(): number {
    return this.regs.icw4Expected ? 4 : 0;
  }

  /**
   * ICW1 resets the edge detectors, clears IMR, special mask and rotation, selects IRR for reads
   * and, without IC4, the ICW4 functions. ISR is cleared as well, as QEMU and Bochs do (the
   * datasheet leaves it open). LTIM is ignored: on PIIX the ELCR alone sets the trigger mode.
   */
  private startInitialisation(icw1: number): void {
    const regs = this.regs;
    this.regs = {
      ...powerOnRegisters(regs.cascade),
      elcr: regs.elcr,
      irr: this.inputs & regs.elcr,
      single: (icw1 & ICW1_SNGL) !== 0,
      icw4Expected: (icw1 & ICW1_IC4) !== 0,
      nextIcw: 2,
    };
  }

  private writeOcw2(value: number): void {
    const regs = this.regs;
    const ir = value & 7;
    switch (value >>> 5) {
      case OCW2_NON_SPECIFIC_EOI:
      case OCW2_ROTATE_NON_SPECIFIC_EOI: {
        const highest = this.highestPriority(this.blockingInService());
        if (highest < 0) return;
        regs.isr &= ~(1 << highest);
        if (value >>> 5 === OCW2_ROTATE_NON_SPECIFIC_EOI) regs.lowestPriority = highest;
        return;
      }
      case OCW2_SPECIFIC_EOI:
        regs.isr &= ~(1 << ir);
        return;
      case OCW2_ROTATE_SPECIFIC_EOI:
        regs.isr &= ~(1 << ir);
        regs.lowestPriority = ir;
        return;
      case OCW2_SET_PRIORITY:
        regs.lowestPriority = ir;
        return;
      case OCW2_SET_ROTATE_AEOI:
        regs.rotateOnAutoEoi = true;
        return;
      case OCW2_CLEAR_ROTATE_AEOI:
        regs.rotateOnAutoEoi = false;
        return;
      default:
        return; // 010: no operation
    }
  }

  private writeOcw3(value: number): void {
    const regs = this.regs;
    if (value & OCW3_ESMM) regs.specialMask = (value & OCW3_SMM) !== 0;
    if (value & OCW3_RR) regs.readIsr = (value & OCW3_RIS) !== 0;
    regs.pollPending = (value & OCW3_POLL) !== 0;
  }

  /**
   * In-service levels that hold off requests of lower priority and that a non-specific EOI
   * ends. In special mask mode a masked level no longer counts, as the datasheet says of both.
   */
  private blockingInService(): number {
    const regs = this.regs;
    return regs.specialMask ? regs.isr & ~regs.imr : regs.isr;
  }

  /** The highest-priority level in `mask` under the current rotation, or -1. */
  private highestPriority(mask: number): number {
    for (let step = 1; step <= 8; step++) {
      const ir = (this.regs.lowestPriority + step) & 7;
      if (mask & (1 << ir)) return ir;
    }
    return -1;
  }

  /** 0 for the highest-priority level, 7 for the lowest. */
  private rank(ir: number): number {
    return (ir - this.regs.lowestPriority - 1) & 7;
  }

  private updateOutput(): void {
    this.setOutput(this.pendingRequest() >= 0);
  }

  private setOutput(level: boolean): void {
    if (level === this.output) return;
    this.output = level;
    this.onOutput(level);
  }
}

/**
 * The PC's two 8259A interrupt controllers: master at 0x20/0x21, slave at 0xA0/0xA1 with its INT
 * output on master IR2, and the PIIX ELCR at 0x4D0/0x4D1 choosing edge or level per IRQ.
 *
 * `irq(2)` is the cascade wire itself, driven by the slave; devices the ISA bus calls IRQ2 belong
 * on IRQ9. The master's IR2 is edge-triggered (its ELCR bit is fixed at 0), so a slave request
 * that vanishes before INTA gives the slave's spurious vector with the master's IR2 in service,
 * as on hardware.
 *
 * Edge requests stay latched until acknowledged even if the line falls first (the datasheet wants
 * the line held until INTA, but emulated devices signal with pulses). Not modelled, and harmless
 * on a PC: special fully nested mode, buffered mode, MCS-80/85 mode (every INTA returns the
 * 8086 vector) and ICW1's LTIM (PIIX replaces it by the ELCR).
 */
export class DualPic implements Device {
  readonly name = 'PIC';
  private readonly master: Pic8259;
  private readonly slave: Pic8259;
  private readonly lines: IrqLine[] = [];
  private readonly interruptListeners: ((pending: boolean) => void)[] = [];

  constructor(io: IoBus) {
    this.master = new Pic8259(MASTER_ELCR_WRITABLE, 1 << CASCADE_IR, (level) => {
      for (const listener of this.interruptListeners) listener(level);
    });
    this.slave = new Pic8259(SLAVE_ELCR_WRITABLE, CASCADE_IR, (level) => this.lines[CASCADE_IR].set(level));
    for (let irq = 0; irq < 16; irq++) {
      const line = new IrqLine(irq === CASCADE_IR ? 'IRQ2 (cascade)' : `IRQ${irq}`);
      const chip = irq < 8 ? this.master : this.slave;
      line.onChange((level) => chip.setInput(irq & 7, level));
      this.lines.push(line);
    }
    this.registerChip(io, MASTER_PORT, this.master, 'PIC master');
    this.registerChip(io, SLAVE_PORT, this.slave, 'PIC slave');
    const elcrChip = (port: number): Pic8259 => (port === ELCR_PORT ? this.master : this.slave);
    io.register(
      ELCR_PORT,
      2,
      {
        read8: (port) => elcrChip(port).readElcr(),
        write8: (port, value) => elcrChip(port).writeElcr(value),
      },
      'PIC ELCR',
    );
  }

  /** The request line of IRQ 0-15. */
  irq(line: number): IrqLine {
    const irqLine = this.lines[line];
    if (!Number.isInteger(line) || irqLine === undefined) throw new Error(`PIC: there is no IRQ ${line}; lines run from 0 to 15`);
    return irqLine;
  }

  /** The master's INT output: the CPU's INTR pin. */
  hasInterrupt(): boolean {
    return this.master.pendingRequest() >= 0;
  }

  onInterruptChange(listener: (pending: boolean) => void): void {
    this.interruptListeners.push(listener);
  }

  /** The CPU's INTA cycle: returns the vector and puts the level in service. */
  acknowledge(): number {
    const master = this.master;
    const slave = this.slave;
    const ir = master.pendingRequest();
    if (ir < 0) return master.vector(SPURIOUS_IR);
    // Master first, so a slave request left pending after the slave's INTA relatches IR2.
    master.acknowledge(ir);
    if (!master.cascadesOn(ir)) return master.vector(ir);
    if (!slave.answersTo(ir)) return FLOATING_BUS;
    const slaveIr = slave.pendingRequest();
    if (slaveIr < 0) return slave.vector(SPURIOUS_IR);
    slave.acknowledge(slaveIr);
    return slave.vector(slaveIr);
  }

  reset(): void {
    this.slave.reset();
    this.master.reset();
  }

  saveState(): DualPicSnapshot {
    return { master: this.master.save(), slave: this.slave.save() };
  }

  loadState(state: unknown): void {
    const snapshot = state as Partial<DualPicSnapshot> | null;
    if (typeof snapshot !== 'object' || snapshot === null || !isChipSnapshot(snapshot.master) || !isChipSnapshot(snapshot.slave)) {
      throw new Error('PIC: snapshot is not a dual 8259A state');
    }
    this.slave.load({ ...snapshot.slave });
    this.master.load({ ...snapshot.master });
  }

  private registerChip(io: IoBus, base: number, chip: Pic8259, owner: string): void {
    io.register(
      base,
      2,
      {
        read8: (port) => (port === base ? chip.readCommand() : chip.readData()),
        write8: (port, value) => (port === base ? chip.writeCommand(value) : chip.writeData(value)),
      },
      owner,
    );
  }
}
