/**
 * The breakpoints DR0-DR3 as DR7 enables them (SDM Vol. 3A 17.2), kept in a form the
 * memory and port paths can test quickly. The Cpu asks this only while `debugActive` is set.
 */

/** DR6 bits: B0-B3 (breakpoint n hit), BD (general detect), BS (single step). */
export const DR6_B0 = 0x1, DR6_BD = 0x2000, DR6_BS = 0x4000;
/** DR7 bits: GD (general detect: MOV DR raises #DB). */
export const DR7_GD = 0x2000;

/** DR7 R/W field values: execute, data write, I/O (with CR4.DE), data read or write. */
const RW_EXECUTE = 0, RW_WRITE = 1, RW_IO = 2;

/** One enabled breakpoint: the bytes it covers and its DR6 bit. */
interface Watch { readonly first: number; readonly last: number; readonly bit: number }

export class DebugRegisters {
  /** DR6 B0-B3 bits of the data and I/O breakpoints the running instruction has hit. */
  hits = 0;
  private executes: Watch[] = [];
  private writes: Watch[] = [];
  private accesses: Watch[] = [];
  private ports: Watch[] = [];

  /**
   * Rebuilds the breakpoint lists from DR0-DR3 and DR7 (after a write to any of them);
   * returns whether any breakpoint is enabled. `ioBreakpoints` is CR4.DE.
   */
  update(dr: Int32Array, dr7: number, ioBreakpoints: boolean): boolean {
    this.executes = []; this.writes = []; this.accesses = []; this.ports = [];
    for (let n = 0; n < 4; n++) {
      if (((dr7 >> (n * 2)) & 3) === 0) continue;
      const rw = (dr7 >>> (16 + n * 4)) & 3;
      const len = (dr7 >>> (18 + n * 4)) & 3;
      // LEN 10 is undefined on the P6; we treat it as 4 bytes. Execute breakpoints ignore LEN (it must be 00).
      const bytes = rw === RW_EXECUTE ? 1 : len === 0 ? 1 : len === 1 ? 2 : 4;
      const first = (dr[n] & ~(bytes - 1)) >>> 0;
      const watch = { first, last: first + bytes - 1, bit: DR6_B0 << n };
      if (rw === RW_EXECUTE) this.executes.push(watch);
      else if (rw === RW_WRITE) this.writes.push(watch);
      else if (rw === RW_IO) { if (ioBreakpoints) this.ports.push(watch); }
      else this.accesses.push(watch);
    }
    return this.executes.length + this.writes.length + this.accesses.length + this.ports.length > 0;
  }

  /** DR6 bits of the execute breakpoints at linear address `lin` (0 if none). */
  executeHits(lin: number): number {
    let bits = 0;
    for (const w of this.executes) if (w.first === lin >>> 0) bits |= w.bit;
    return bits;
  }

  /** Records the data breakpoints a read or write of `bytes` bytes at `lin` hits. */
  access(lin: number, bytes: number, write: boolean): void {
    const first = lin >>> 0, last = first + bytes - 1;
    for (const w of this.accesses) if (first <= w.last && last >= w.first) this.hits |= w.bit;
    if (write) for (const w of this.writes) if (first <= w.last && last >= w.first) this.hits |= w.bit;
  }

  /** Records the I/O breakpoints an access of `bytes` bytes at `port` hits. */
  port(port: number, bytes: number): void {
    for (const w of this.ports) if (port <= w.last && port + bytes - 1 >= w.first) this.hits |= w.bit;
  }
}
