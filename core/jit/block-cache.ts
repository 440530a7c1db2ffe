import type { MemoryBus } from '../mmu/memory-bus.js';
import type { Block } from './block.js';

/** The JIT's bit in MemoryBus.codePage (the decode cache has bit 0). */
export const TRANSLATED_CODE = 2;
const PAGE_SHIFT = 12;

/**
 * Blocks by physical start address, EIP and mode, and by the page their bytes sit in. The
 * memory bus reports every write to a page marked as holding translated code (CPU stores, DMA,
 * loaders); the blocks overlapping the written bytes are dropped, to be decoded afresh.
 */
export class BlockCache {
  private readonly byPhys = new Map<number, Block>();
  private readonly byPage = new Map<number, Set<Block>>();
  /** Called for each dropped block (the JIT notes whether it was the running one). */
  onDrop: (block: Block) => void = () => {};
  size = 0;

  constructor(private readonly mem: MemoryBus) {
    const decodeCacheHook = mem.onCodeWrite;
    mem.onCodeWrite = (address, bytes) => {
      decodeCacheHook(address, bytes);
      this.invalidate(address, bytes);
    };
  }

  find(phys: number, eip: number, key: number): Block | null {
    for (let b = this.byPhys.get(phys) ?? null; b !== null; b = b.chain) {
      if (b.eip === eip && b.key === key) return b;
    }
    return null;
  }

  /** The blocks starting in the physical page of `phys` (in no particular order). */
  *startingInPage(phys: number): Iterable<Block> {
    const page = phys >>> PAGE_SHIFT;
    for (const b of this.byPage.get(page) ?? []) if (b.phys >>> PAGE_SHIFT === page) yield b;
  }

  add(block: Block): void {
    block.dead = false;
    block.chain = this.byPhys.get(block.phys) ?? null;
    this.byPhys.set(block.phys, block);
    for (const page of pagesOf(block)) {
      let set = this.byPage.get(page);
      if (set === undefined) {
        set = new Set();
        this.byPage.set(page, set);
        this.mem.markCode(page, TRANSLATED_CODE);
      }
      set.add(block);
    }
    this.size++;
  }

  /** Drops every block holding a byte of [address, address + bytes), a range inside one page. */
  invalidate(address: number, bytes: number): void {
    const set = this.byPage.get(address >>> PAGE_SHIFT);
    if (set === undefined) return;
    for (const b of set) {
      if (b.overlaps(address, bytes)) this.drop(b);
    }
  }

  /** Forgets every block (capacity). */
  clear(): void {
    for (const set of this.byPage.values()) for (const b of set) this.drop(b);
  }

  /** Drops one block (when it has not been dropped already). */
  drop(block: Block): void {
    if (block.dead) return;
    for (const page of pagesOf(block)) {
      const set = this.byPage.get(page);
      if (set === undefined) continue;
      set.delete(block);
      if (set.size === 0) {
        this.byPage.delete(page);
        this.mem.unmarkCode(page, TRANSLATED_CODE);
      }
    }
    let b = this.byPhys.get(block.phys) ?? null;
    if (b === block) {
      if (block.chain === null) this.byPhys.delete(block.phys); else this.byPhys.set(block.phys, block.chain);
    } else {
      while (b !== null && b.chain !== block) b = b.chain;
      if (b !== null) b.chain = block.chain;
    }
    block.dead = true;
    this.size--;
    this.onDrop(block);
  }
}

/** The physical pages a block was decoded from: its own, and the page of its tail. */
function pagesOf(block: Block): number[] {
  const page = block.phys >>> PAGE_SHIFT;
  const tail = block.tail === null ? page : block.tail.phys >>> PAGE_SHIFT;
  return tail === page ? [page] : [page, tail];
}
