import { OPCODES } from '../decoder/table.js';

/** What the monitor did, as the library API reports it (Machine.stats().vmm) and --stats prints it. */
export interface VmmStats {
  /** Privileged or IOPL-sensitive instructions that faulted at CPL 1 and were emulated, by mnemonic. */
  traps: Record<string, number>;
  /** Sensitive instructions run through their hook, by mnemonic. */
  hooks: Record<string, number>;
  /**
   * Privileged or IOPL-sensitive instructions translated code handed to the monitor directly
   * (no trap), by mnemonic.
   */
  callouts: Record<string, number>;
  /** Interrupts and exceptions (raised, external or INT n) the monitor delivered to the guest, by vector (`0x0e`). */
  deliveries: Record<string, number>;
  /** Guest instructions the monitor executed (each trap, hook and callout is one). */
  instructions: number;
  /** Host milliseconds spent in the monitor (trap emulation, hooks and deliveries), estimated from every 64th entry. */
  hostMs: number;
  /** Shadow descriptors made from the guest's tables, and tracked writes that dropped shadows. */
  shadowFills: number;
  shadowWriteFlushes: number;
}

/** Counters indexed by table entry, turned into names only when asked for. */
export class VmmCounters {
  readonly traps = new Float64Array(OPCODES.length);
  readonly hooks = new Float64Array(OPCODES.length);
  readonly callouts = new Float64Array(OPCODES.length);
  readonly deliveries = new Float64Array(256);
  hostMs = 0;

  snapshot(shadowFills: number, shadowWriteFlushes: number): VmmStats {
    const traps = byName(this.traps), hooks = byName(this.hooks), callouts = byName(this.callouts);
    const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
    return {
      traps, hooks, callouts,
      deliveries: Object.fromEntries([...this.deliveries].flatMap((n, v) => n > 0 ? [[`0x${v.toString(16).padStart(2, '0')}`, n]] : [])),
      instructions: sum(traps) + sum(hooks) + sum(callouts),
      hostMs: this.hostMs,
      shadowFills, shadowWriteFlushes,
    };
  }
}

/** Per-entry counts summed by mnemonic (the 32-bit form's name: POPFD, IRETD), largest first. */
function byName(counts: Float64Array): Record<string, number> {
  const sums = new Map<string, number>();
  counts.forEach((n, id) => {
    if (n === 0) return;
    const name = OPCODES[id].mnemonic32;
    sums.set(name, (sums.get(name) ?? 0) + n);
  });
  return Object.fromEntries([...sums].sort((a, b) => b[1] - a[1]));
}
