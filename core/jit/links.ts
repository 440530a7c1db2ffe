import { FunctionBody, ModuleBuilder, ValType } from './wasm-emitter.js';
import { BLOCK_TYPE, LEFT } from './emit-context.js';
import type { Block, ExitLink } from './block.js';

const PAGE_MASK = 0xfff;
const GROWTH = 1024;

/**
 * Direct block chaining: one funcref table shared by every translated module. Each exit of a
 * block to a constant EIP in its own page owns a slot and leaves through `return_call_indirect`
 * on it, so control stays in wasm from block to block. A slot holds the target block's function
 * once it is compiled, and until then (or after the target is dropped) a stub that returns the
 * budget left to the run loop. Links never leave the page: the page was reached through the
 * current translation, so the target's physical address follows from the EIP alone.
 */
export class Linker {
  readonly table = new WebAssembly.Table({ initial: GROWTH, element: 'anyfunc' });
  private readonly stub: (left: number) => number;
  private readonly free: number[] = [];
  private used = 0;
  /** Exits whose target is not compiled, by the target's physical address. */
  private readonly pending = new Map<number, ExitLink[]>();

  /** `find` looks a block up by physical address, EIP and mode key (the block cache). */
  constructor(memory: WebAssembly.Memory, private readonly find: (phys: number, eip: number, key: number) => Block | null) {
    const m = new ModuleBuilder();
    m.type([ValType.I32], [ValType.I32]);
    const body = new FunctionBody(1);
    body.get(LEFT);
    m.addFunc(BLOCK_TYPE, body, 'stub');
    const instance = new WebAssembly.Instance(new WebAssembly.Module(m.encode()), { e: { m: memory, t: this.table } });
    this.stub = instance.exports.stub as (left: number) => number;
  }

  /** The slot of an exit of `from` to `eip`, or null when the target lies in another page. */
  exitSlot(from: Block, eip: number): number | null {
    const offset = (from.phys & PAGE_MASK) + ((eip - from.eip) | 0);
    if (offset < 0 || offset > PAGE_MASK) return null;
    const slot = this.allocate();
    const link: ExitLink = { slot, from, phys: (from.phys & ~PAGE_MASK) + offset, eip, target: null, dead: false };
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
      this.table.set(link.slot, this.stub);
      this.free.push(link.slot);
    }
    for (const link of block.incoming) {
      if (link.dead || link.target !== block) continue;
      link.target = null;
      this.table.set(link.slot, this.stub);
      this.wait(link);
    }
    block.incoming.length = 0;
  }

  private connect(link: ExitLink, target: Block): void {
    link.target = target;
    target.incoming.push(link);
    this.table.set(link.slot, target.fn);
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

  private allocate(): number {
    const slot = this.free.pop() ?? this.used++;
    if (slot >= this.table.length) this.table.grow(GROWTH);
    this.table.set(slot, this.stub);
    return slot;
  }
}
