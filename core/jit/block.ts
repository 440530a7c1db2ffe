import type { Generation } from './links.js';
import { decode, ByteSource } from '../decoder/decoder.js';
import { BoundInsn } from '../cpu/decode-cache.js';
import type { Cpu } from '../cpu/cpu.js';
import type { Interpreter } from '../cpu/interpreter.js';
import { VM } from '../cpu/flags.js';
import { S, Seg } from '../cpu/state-layout.js';
import { CpuFault } from '../cpu/faults.js';

const PAGE_SIZE = 0x1000;
/** At most this many instructions per block: bounds code size and the budget a block needs. */
export const MAX_BLOCK_INSNS = 64;

/**
 * The CPU mode a translation depends on: code and stack size, CPL, paging, protected and V86
 * mode. Operand/address size prefixes are per instruction and decoded into the block.
 */
/** The mode-key bits of 32-bit code and of a 32-bit stack. */
export const CODE32_KEY = 1 << 0, STACK32_KEY = 1 << 1;
/** The CPL a mode key holds (bits 2-3). */
export const keyCpl = (key: number): number => (key >> 2) & 3;
/** The mode-key bit of paging on. */
export const PAGING_KEY = 1 << 4;
/** The mode-key bit of deprivileged guest ring-0 code (the monitor's callouts are compiled in). */
export const DEPRIVILEGED_KEY = 1 << 7;
/**
 * The mode-key bit of flat segments: ES, SS and DS base 0, limit 4 GiB, present writable
 * expand-up data (their accesses skip the segment checks), and CS base 0 and limit 4 GiB (no
 * jump or block end can pass it, and an EIP is its linear address).
 */
export const FLAT_KEY = 1 << 8;
/** The mode-key bit of A20 on: physical addresses need no mask. */
export const A20_ON_KEY = 1 << 9;
/** The segments FLAT_DATA_KEY speaks for, and the flags bits (present, data, writable, expand-down) that make one flat. */
export const FLAT_SEGMENTS = [Seg.ES, Seg.SS, Seg.DS];
export const FLAT_FLAGS_MASK = 0x9e, FLAT_FLAGS = 0x92;

/** The mode key of the current state (dispatch.ts computes the same in wasm). */
export function modeKey(cpu: Cpu): number {
  const st = cpu.st;
  let flat = st[S.SEG_LIMIT + Seg.CS] === -1 && st[S.SEG_BASE + Seg.CS] === 0 ? FLAT_KEY : 0;
  for (const seg of FLAT_SEGMENTS) {
    if (st[S.SEG_BASE + seg] !== 0 || st[S.SEG_LIMIT + seg] !== -1 || (st[S.SEG_FLAGS + seg] & FLAT_FLAGS_MASK) !== FLAT_FLAGS) flat = 0;
  }
  return st[S.CS_DEFAULT32] | (st[S.SS_DEFAULT32] << 1) | (st[S.CPL] << 2) | ((cpu.pagingOn ? 1 : 0) << 4)
    | ((st[S.CR0] & 1) << 5) | ((st[S.EFLAGS] & VM) !== 0 ? 1 << 6 : 0) | (st[S.DEPRIVILEGED] << 7) | flat
    | (st[S.A20_MASK] === -1 ? A20_ON_KEY : 0);
}

/**
 * A basic block: its instructions decoded from one physical page, and its translation once
 * compiled. A block with no instructions marks a start the JIT cannot translate.
 */
export class Block {
  /** EIP (offset in CS) of each instruction, and the EIP after it (16-bit code wraps at 64 KiB). */
  readonly eips: number[] = [];
  readonly nexts: number[] = [];
  /** Executions counted before it was compiled. */
  hits = 0;
  /**
   * The compiled function, its group's (translate.ts): with EIP at the block's start, runs the
   * block (and the blocks chained to it) with a budget, returns the budget left.
   */
  fn: ((left: number) => number) | null = null;
  /** Its exits to constant EIPs outside its group (entry-table slots), and the exits of other blocks linked to it. */
  readonly exits: ExitLink[] = [];
  readonly incoming: ExitLink[] = [];
  /** Next block with the same physical start (another EIP or mode). */
  chain: Block | null = null;
  /** Set when a write to its bytes dropped it from the cache. */
  dead = false;
  /** Its slot in the dispatcher's home table once compiled (dispatch.ts), else -1. */
  homeSlot = -1;
  /** Once compiled: the blocks sharing its group function (translate.ts), itself included; they are dropped together. */
  group: readonly Block[] = [];

  /**
   * @param tail when the last instruction runs into the next page: where its bytes there were
   *   read from (the physical start of that page, under the mapping at decode time) and how many.
   */
  constructor(readonly phys: number, readonly eip: number, readonly key: number, readonly insns: BoundInsn[],
    readonly tail: { phys: number; bytes: number } | null = null) {
    for (const insn of insns) {
      this.eips.push(insn.start);
      const next = insn.start + insn.length;
      this.nexts.push(insn.default32 ? next | 0 : next & 0xffff);
    }
  }
  /** Physical bytes [phys, physEnd) the block was decoded from in its own page (a tail lies in another). */
  get physEnd(): number {
    return this.insns.length === 0 ? this.phys + 1 : this.phys + this.lastByte - this.eip + 1 - (this.tail?.bytes ?? 0);
  }
  /** Whether it was decoded from a byte of [address, address + bytes) (a range inside one page). */
  overlaps(address: number, bytes: number): boolean {
    const tail = this.tail;
    return (address < this.physEnd && this.phys < address + bytes)
      || (tail !== null && address < tail.phys + tail.bytes && tail.phys < address + bytes);
  }
  /** Offset of the block's last byte: the CS limit must cover it. */
  get lastByte(): number { const k = this.insns.length - 1; return this.eips[k] + this.insns[k].length - 1; }
  /** With a tail: the offset of its first byte, the start of the next page (unwrapped in 16-bit code). */
  get tailEip(): number { return this.lastByte + 1 - this.tail!.bytes; }
}

/**
 * An exit of a translated block to a constant EIP (in its page, or in another behind a TLB
 * check): its slot in its module's entry table (a generation's) holds the target block's
 * function once that is compiled, else the dispatcher.
 */
export interface ExitLink {
  readonly generation: Generation;
  readonly slot: number;
  readonly from: Block;
  readonly phys: number;
  readonly eip: number;
  target: Block | null;
  /** Set when `from` was dropped (its slot is free again). */
  dead: boolean;
}

/**
 * The physical address of `eip` when it lies in the same page as block `from` (so it follows from
 * the EIP under any mapping: a link or a batch may use it), else -1.
 */
export function samePagePhys(from: Block, eip: number): number {
  const offset = (from.phys & (PAGE_SIZE - 1)) + ((eip - from.eip) | 0);
  return offset < 0 || offset >= PAGE_SIZE ? -1 : (from.phys & -PAGE_SIZE) + offset;
}

/** The target of a relative JMP/Jcc/CALL whose next instruction is at `next` (16-bit code wraps at 64 KiB). */
export function relativeTarget(insn: BoundInsn, next: number): number {
  return insn.o32 ? (next + insn.imm) | 0 : (next + insn.imm) & 0xffff;
}

/**
 * Reads code bytes of one physical page by EIP, and of the next page at `tailPhys` once that is
 * set; past them (or 64 KiB in 16-bit code) it throws.
 */
class PageBytes implements ByteSource {
  tailPhys = -1;
  constructor(private readonly cpu: Cpu, private readonly phys: number, private readonly eip: number, private readonly code32: boolean) {}
  byteAt(offset: number): number {
    const delta = offset - this.eip;
    const inPage = (this.phys & (PAGE_SIZE - 1)) + delta;
    if (!this.code32 && offset > 0xffff) throw PAGE_END;
    if (inPage < PAGE_SIZE) return this.cpu.mem.read8(this.phys + delta);
    if (this.tailPhys < 0 || inPage >= 2 * PAGE_SIZE) throw PAGE_END;
    return this.cpu.mem.read8(this.tailPhys + inPage - PAGE_SIZE);
  }
}
const PAGE_END = new Error('block reaches the end of its page');

/**
 * Where the code at CS:eip lies now (the run loop's translation: paging, then A20), or -1 when
 * fetching it would fault or it is not RAM.
 */
export function codePhys(cpu: Cpu, eip: number): number {
  const st = cpu.st;
  let phys: number;
  if (cpu.pagingOn) {
    try {
      phys = cpu.paging.translate(cpu.codeLinear(eip), false);
    } catch (e) {
      if (e instanceof CpuFault) return -1;
      throw e;
    }
  } else {
    phys = st[S.SEG_BASE + Seg.CS] + eip;
  }
  phys &= st[S.A20_MASK];
  return cpu.mem.isRam(phys) ? phys : -1;
}

/**
 * Decodes a basic block at CS:eip (physical `phys`, which must be RAM) with the one opcode
 * table: up to an instruction that ends a block, the end of the page, an undecodable
 * instruction or MAX_BLOCK_INSNS. An instruction running into the next page ends the block, read
 * from where that page maps now (the block's `tail`; translated code checks the mapping again
 * before running it). When not even the first instruction can be read, the block is empty.
 */
export function discoverBlock(cpu: Cpu, interpreter: Interpreter, phys: number, eip: number, key: number): Block {
  const code32 = cpu.st[S.CS_DEFAULT32] !== 0;
  const bytes = new PageBytes(cpu, phys, eip, code32);
  const insns: BoundInsn[] = [];
  let offset = eip;
  while (insns.length < MAX_BLOCK_INSNS) {
    let insn: BoundInsn;
    try {
      insn = decode(bytes, offset, code32, new BoundInsn());
    } catch (e) {
      if (e !== PAGE_END) throw e;
      const inPage = (phys & (PAGE_SIZE - 1)) + offset - eip;
      if (bytes.tailPhys >= 0 || inPage >= PAGE_SIZE) break;
      const nextPage = offset + PAGE_SIZE - inPage;
      bytes.tailPhys = code32 || nextPage <= 0xffff ? codePhys(cpu, code32 ? nextPage | 0 : nextPage) : -1;
      if (bytes.tailPhys < 0) break;
      continue;
    }
    if (insn.entry === undefined) break;
    interpreter.bind(insn);
    insns.push(insn);
    if (bytes.tailPhys >= 0) {
      const inTail = (phys + offset - eip + insn.length) & (PAGE_SIZE - 1);
      return new Block(phys, eip, key, insns, { phys: bytes.tailPhys, bytes: inTail });
    }
    // After INVLPG the code page's own mapping may have changed: the next fetch must translate.
    if (insn.endsBlock || insn.entry.key === 'INVLPG') break;
    offset = code32 ? (offset + insn.length) | 0 : offset + insn.length;
  }
  return new Block(phys, eip, key, insns);
}
