import { Cpu } from '../../core/cpu/cpu.js';
import { Interpreter } from '../../core/cpu/interpreter.js';
import { enterFlatProtectedMode, loadSegment } from '../../core/cpu/segments.js';
import { Reg, S, Seg } from '../../core/cpu/state-layout.js';
import { getEflags } from '../../core/cpu/flags.js';
import { MemoryBus, wasmPagesFor } from '../../core/mmu/memory-bus.js';
import { Jit } from '../../core/jit/jit.js';
import { jitFromEnv } from './jit-env.js';
import { IoBus } from '../../devices/bus/io-bus.js';

export { Reg, S, Seg };

const FLAT_GDT_BASE = 0x800;

/**
 * A bare CPU + RAM for instruction tests: place code, set registers, run until HLT or for a
 * number of instructions, then inspect.
 */
export class CpuHarness {
  readonly memory: WebAssembly.Memory;
  readonly mem: MemoryBus;
  readonly io = new IoBus();
  readonly cpu: Cpu;
  readonly interp: Interpreter;
  /** Set when the environment turns the JIT on (see jit-env.ts): run() then goes through it. */
  readonly jit: Jit | null;

  constructor(ramMiB = 2) {
    const ramSize = ramMiB << 20;
    this.memory = new WebAssembly.Memory({ initial: wasmPagesFor(ramSize) });
    this.mem = new MemoryBus(this.memory, ramSize);
    this.cpu = new Cpu(this.memory, this.mem, this.io);
    this.interp = new Interpreter(this.cpu);
    const jit = jitFromEnv();
    this.jit = jit?.enabled ? new Jit(this.cpu, this.interp, this.memory, { threshold: jit.threshold ?? 0 }) : null;
  }

  /** Real mode with CS = DS = ES = SS = 0, code at 0x1000, stack at 0x8000. */
  realMode(code: number[] | Uint8Array, at = 0x1000): this {
    for (const s of [Seg.ES, Seg.CS, Seg.SS, Seg.DS, Seg.FS, Seg.GS]) loadSegment(this.cpu, s, 0);
    this.cpu.st[S.EIP] = at;
    this.cpu.st[Reg.ESP] = 0x8000;
    this.load(at, code);
    return this;
  }

  /**
   * Flat 32-bit protected mode, code at 0x10000, stack at 0x80000, with a GDT at 0x800
   * holding the flat code (0x08) and data (0x10) segments the registers hold.
   */
  flat32(code: number[] | Uint8Array, at = 0x10000): this {
    this.load(FLAT_GDT_BASE, [0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0x9b, 0xcf, 0, 0xff, 0xff, 0, 0, 0, 0x93, 0xcf, 0]);
    this.cpu.st[S.GDTR_BASE] = FLAT_GDT_BASE;
    this.cpu.st[S.GDTR_LIMIT] = 23;
    enterFlatProtectedMode(this.cpu);
    this.cpu.st[S.EIP] = at;
    this.cpu.st[Reg.ESP] = 0x80000;
    this.load(at, code);
    return this;
  }

  load(address: number, bytes: number[] | Uint8Array): this {
    this.mem.writeBytes(address, Uint8Array.from(bytes));
    return this;
  }

  set(reg: Reg, value: number): this { this.cpu.st[reg] = value; return this; }
  get(reg: Reg): number { return this.cpu.st[reg] >>> 0; }
  get eflags(): number { return getEflags(this.cpu.st) >>> 0; }
  get eip(): number { return this.cpu.st[S.EIP] >>> 0; }

  /** Runs until HLT (the HLT itself retires) or `max` instructions; returns instructions retired. */
  run(max = 10000): number {
    const before = this.cpu.retired;
    if (this.jit !== null) this.jit.run(max); else this.interp.run(max);
    return this.cpu.retired - before;
  }

  read8(a: number): number { return this.mem.read8(a); }
  read16(a: number): number { return this.mem.read16(a); }
  read32(a: number): number { return this.mem.read32(a) >>> 0; }
}
