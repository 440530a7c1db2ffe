import { CR0_WP } from '../cpu/cpu.js';
import { fault, Vec } from '../cpu/faults.js';
import { S } from '../cpu/state-layout.js';
import type { MemoryBus } from './memory-bus.js';

const PAGE_SHIFT = 12;
const OFFSET_MASK = 0xfff;
const FRAME_MASK = ~OFFSET_MASK;
/** 4 MiB page frame of a PDE with PS set (no PSE-36: bits 21:13 are not address bits). */
const LARGE_FRAME_MASK = 0xffc00000 | 0;

/** Paging-structure entry bits (SDM Vol. 3A, 4.3). */
const PTE_P = 0x1, PTE_RW = 0x2, PTE_US = 0x4, PTE_A = 0x20, PTE_D = 0x40, PTE_PS = 0x80, PTE_G = 0x100;

export const CR4_PSE = 0x10, CR4_PGE = 0x80;

/** #PF error code bits: protection violation (else not present), write, user mode. */
const PF_PRESENT = 0x1, PF_WRITE = 0x2, PF_USER = 0x4;

/**
 * TLB entry permission bits, in the low bits of the physical frame word. The write bits are
 * set only once the dirty bit is set in memory, so the first write through an entry filled
 * by a read misses and walks again to set D.
 */
const TLB_USER = 0x1, TLB_USER_WRITE = 0x2, TLB_SUPERVISOR_WRITE = 0x4, TLB_GLOBAL = 0x8;

/**
 * The TLB lives in the machine's memory between the state block and RAM (design principle 3),
 * so generated code can probe it directly: linear page tags, then frame+permission words.
 */
export const TLB_BASE = 0x4000;
export const TLB_ENTRIES = 4096;
const SLOT_MASK = TLB_ENTRIES - 1;
const EMPTY = -1;

/**
 * 32-bit two-level paging (SDM Vol. 3A, chapter 4.3) with 4 KiB pages, 4 MiB pages under
 * CR4.PSE and global pages under CR4.PGE, behind a direct-mapped TLB indexed by the low bits
 * of the linear page number. PAE is not implemented.
 */
export class Paging {
  /**
   * Set while the processor itself reads or writes descriptor tables or the TSS: such accesses
   * are supervisor accesses at any CPL.
   */
  systemAccess = false;
  /** Linear page number held by each slot, EMPTY when none. */
  private readonly tag: Int32Array;
  /** Physical frame address | TLB_* permission bits of each slot. */
  private readonly frame: Int32Array;

  constructor(memory: WebAssembly.Memory, private readonly st: Int32Array, private readonly mem: MemoryBus) {
    this.tag = new Int32Array(memory.buffer, TLB_BASE, TLB_ENTRIES);
    this.frame = new Int32Array(memory.buffer, TLB_BASE + TLB_ENTRIES * 4, TLB_ENTRIES);
  }

  /**
   * Physical address of a linear address for a read (or instruction fetch: without NX the
   * execute check is the user check) or a write, by the current privilege level (CPL 3 is
   * user). Raises #PF with CR2 set when the page is absent or the access not permitted.
   */
  translate(lin: number, write: boolean): number {
    const page = lin >>> PAGE_SHIFT;
    const slot = page & SLOT_MASK;
    const user = this.st[S.CPL] === 3 && !this.systemAccess;
    const need = write ? (user ? TLB_USER_WRITE : TLB_SUPERVISOR_WRITE) : (user ? TLB_USER : 0);
    const entry = this.frame[slot];
    if (this.tag[slot] === page && (entry & need) === need) return (entry & FRAME_MASK) | (lin & OFFSET_MASK);
    return this.walk(lin, write, user);
  }

  /** Walks the page directory and table, checks the access, sets A/D bits and fills the TLB slot. */
  private walk(lin: number, write: boolean, user: boolean): number {
    const st = this.st, mem = this.mem;
    const a20 = st[S.A20_MASK];
    const pdeAddress = ((st[S.CR3] & FRAME_MASK) | ((lin >>> 22) << 2)) & a20;
    const pde = mem.read32(pdeAddress);
    if ((pde & PTE_P) === 0) this.pageFault(lin, write, user, 0);
    const large = (pde & PTE_PS) !== 0 && (st[S.CR4] & CR4_PSE) !== 0;
    let leaf = pde, leafAddress = pdeAddress, frame: number;
    if (large) {
      frame = (pde & LARGE_FRAME_MASK) | (lin & 0x3ff000);
    } else {
      leafAddress = ((pde & FRAME_MASK) | (((lin >>> PAGE_SHIFT) & 0x3ff) << 2)) & a20;
      leaf = mem.read32(leafAddress);
      if ((leaf & PTE_P) === 0) this.pageFault(lin, write, user, 0);
      frame = leaf & FRAME_MASK;
    }
    const userAllowed = (pde & leaf & PTE_US) !== 0;
    const writable = (pde & leaf & PTE_RW) !== 0;
    // Supervisor writes ignore R/W unless CR0.WP is set (SDM 4.6.1).
    const supervisorWritable = writable || (st[S.CR0] & CR0_WP) === 0;
    if ((user && !userAllowed) || (write && !(user ? writable : supervisorWritable))) this.pageFault(lin, write, user, PF_PRESENT);

    if (!large && (pde & PTE_A) === 0) mem.write32(pdeAddress, pde | PTE_A);
    const updated = leaf | PTE_A | (write ? PTE_D : 0);
    if (updated !== leaf) mem.write32(leafAddress, updated);

    const dirty = (updated & PTE_D) !== 0;
    let permissions = 0;
    if (userAllowed) permissions |= TLB_USER;
    if (dirty && userAllowed && writable) permissions |= TLB_USER_WRITE;
    if (dirty && supervisorWritable) permissions |= TLB_SUPERVISOR_WRITE;
    if ((leaf & PTE_G) !== 0 && (st[S.CR4] & CR4_PGE) !== 0) permissions |= TLB_GLOBAL;
    const slot = (lin >>> PAGE_SHIFT) & SLOT_MASK;
    this.tag[slot] = lin >>> PAGE_SHIFT;
    this.frame[slot] = frame | permissions;
    return frame | (lin & OFFSET_MASK);
  }

  private pageFault(lin: number, write: boolean, user: boolean, present: number): never {
    this.st[S.CR2] = lin;
    return fault(Vec.PF, present | (write ? PF_WRITE : 0) | (user ? PF_USER : 0));
  }

  /** Forgets every translation (paging turned on or off, CR0.WP, CR4.PSE or CR4.PGE changed). */
  flushAll(): void { this.tag.fill(EMPTY); }

  /** A CR3 load: forgets every translation but the global ones. */
  flushNonGlobal(): void {
    const tag = this.tag, frame = this.frame;
    for (let slot = 0; slot < TLB_ENTRIES; slot++) {
      if ((frame[slot] & TLB_GLOBAL) === 0) tag[slot] = EMPTY;
    }
  }

  /** INVLPG: forgets the translation of one page, global or not. */
  flushPage(lin: number): void {
    const page = lin >>> PAGE_SHIFT;
    const slot = page & SLOT_MASK;
    if (this.tag[slot] === page) this.tag[slot] = EMPTY;
  }
}
