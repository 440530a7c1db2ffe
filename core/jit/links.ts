import type { Block, ExitLink } from './block.js';

/** Slots of one generation's table, and the modules that may import it. */
const GENERATION_SLOTS = 256;
const GENERATION_MODULES = 8;
/** A module needs about this many free slots (up to 40 blocks; exits inside a group take none). */
const MODULE_SLOTS = 128;

/**
 * One entry table and the modules importing it. V8 (Node 20) gives every instance that imports
 * a table its own dispatch copy of it: instantiating costs time in proportion to the table's
 * length, a `set` in proportion to the instances importing it, and a `grow` to both (measured:
 * 3.4 ms per instance at 65,536 slots, 150 µs per set with 1,000 instances). So tables stay
 * small and fixed, and a new generation starts when one is full; a slot may hold a function of
 * any generation, so links cross generations freely. (A Linux boot's 590 instantiations took
 * 480 ms with 2,048 slots and 64 modules a generation, 180 ms with 256 and 8; no exit lacked a slot.)
 */
export class Generation {
  readonly table: WebAssembly.Table;
  readonly free: number[] = [];
  used = 0;
  modules = 0;

  constructor(unlinked: (left: number) => number) {
    this.table = new WebAssembly.Table({ initial: GENERATION_SLOTS, element: 'anyfunc' }, unlinked);
  }

  get slotsLeft(): number {
    return GENERATION_SLOTS - this.used + this.free.length;
  }

  allocate(): number | null {
    const slot = this.free.pop();
    if (slot !== undefined) return slot;
    return this.used < GENERATION_SLOTS ? this.used++ : null;
  }
}

/**
 * Direct block chaining: each exit of a block to a constant EIP owns a slot of its module's
 * entry table and leaves through `return_call_indirect` on it, so control stays in wasm from
 * block to block. A slot holds the target block's function once it is compiled, and until then
 * (or after the target is dropped) the dispatcher (dispatch.ts), which finds the target in the
 * jump cache or returns to the run loop. In the block's own page the target's physical address
 * follows from the EIP (the page was reached through the current translation); in another page
 * the caller says where it maps now, and the exit checks at run time that it still does
 * (Jit.exitSlot).
 */
export class Linker {
  private current: Generation;
  /** Exits whose target is not compiled, by the target's physical address. */
  private readonly pending = new Map<number, ExitLink[]>();

  /**
   * `find` looks a block up by physical address, EIP and mode key (the block cache); `stub` is
   * what an unlinked slot holds (the dispatcher).
   */
  constructor(private readonly stub: (left: number) => number, private readonly find: (phys: number, eip: number, key: number) => Block | null) {
    this.current = new Generation(stub);
  }

  /** The table the next module imports (its exits take slots there): a fresh one when the current is full. */
  beginModule(): WebAssembly.Table {
    if (this.current.modules >= GENERATION_MODULES || this.current.slotsLeft < MODULE_SLOTS) this.current = new Generation(this.stub);
    this.current.modules++;
    return this.current.table;
  }

  /** The slot of an exit of `from` to `eip` at physical address `phys`, or null when the table is full. */
  exitSlot(from: Block, eip: number, phys: number): number | null {
    const generation = this.current;
    const slot = generation.allocate();
    if (slot === null) return null;
    const link: ExitLink = { generation, slot, from, phys, eip, target: null, dead: false };
    from.exits.push(link);
    const target = this.find(link.phys, eip, from.key);
    if (target !== null && target.fn !== null) this.connect(link, target); else this.wait(link);
    return slot;
  }

  /** After a batch is instantiated: links the exits waiting for its blocks (its own exits included). */
  linkCompiled(blocks: Block[]): void {
    for (const block of blocks) {
      const waiting = this.pending.get(block.phys);
      if (waiting === undefined) continue;
      const rest = waiting.filter((link) => {
        if (link.dead) return false;
        if (link.eip !== block.eip || link.from.key !== block.key) return true;
        this.connect(link, block);
        return false;
      });
      if (rest.length > 0) this.pending.set(block.phys, rest); else this.pending.delete(block.phys);
    }
  }

  /** A dropped block: its own slots are freed, the exits into it return to the run loop again. */
  unlink(block: Block): void {
    for (const link of block.exits) {
      link.dead = true;
      if (link.target === null) this.stopWaiting(link);
      else {
        const incoming = link.target.incoming;
        const k = incoming.indexOf(link);
        if (k >= 0) incoming.splice(k, 1);
      }
      link.target = null;
      link.generation.table.set(link.slot, this.stub);
      link.generation.free.push(link.slot);
    }
    for (const link of block.incoming) {
      if (link.dead || link.target !== block) continue;
      link.target = null;
      link.generation.table.set(link.slot, this.stub);
      this.wait(link);
    }
    block.incoming.length = 0;
  }

  private connect(link: ExitLink, target: Block): void {
    link.target = target;
    target.incoming.push(link);
    link.generation.table.set(link.slot, target.fn);
  }

  private stopWaiting(link: ExitLink): void {
    const list = this.pending.get(link.phys);
    if (list === undefined) return;
    const k = list.indexOf(link);
    if (k >= 0) list.splice(k, 1);
    if (list.length === 0) this.pending.delete(link.phys);
  }

  private wait(link: ExitLink): void {
    const list = this.pending.get(link.phys);
    if (list === undefined) this.pending.set(link.phys, [link]); else list.push(link);
  }
}
