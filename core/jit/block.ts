import { decode, ByteSource } from '../decoder/decoder.js';
import { BoundInsn } from '../cpu/decode-cache.js';
import type { Cpu } from '../cpu/cpu.js';
import type { Interpreter } from '../cpu/interpreter.js';
import { VM } from '../cpu/flags.js';
import { S } from '../cpu/state-layout.js';

const PAGE_SIZE = 0x1000;
/** At most this many instructions per block: bounds code size and the budget a block needs. */
export const MAX_BLOCK_INSNS = 64;

/**
 * The CPU mode a translation depends on: code and stack size, CPL, paging, protected and V86
 * mode. Operand/address size prefixes are per instruction and decoded into the block.
 */
export function modeKey(cpu: Cpu): number {
  const st = cpu.st;
  return st[S.CS_DEFAULT32] | (st[S.SS_DEFAULT32] << 1) | (st[S.CPL] << 2) | ((cpu.pagingOn ? 1 : 0) << 4)
    | ((st[S.CR0] & 1) << 5) | ((st[S.EFLAGS] & VM) !== 0 ? 1 << 6 : 0);
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
  /** The compiled function: runs the block (and the blocks chained to it) with a budget, returns the budget left. */
  fn: ((left: number) => number) | null = null;
  /** Its exits to constant EIPs in its page (entry-table slots), and the exits of other blocks linked to it. */
  readonly exits: ExitLink[] = [];
  readonly incoming: ExitLink[] = [];
  /** Next block with the same physical start (another EIP or mode). */
  chain: Block | null = null;
  /** Set when a write to its bytes dropped it from the cache. */
  dead = false;

  constructor(readonly phys: number, readonly eip: number, readonly key: number, readonly insns: BoundInsn[]) {
    for (const insn of insns) {
      this.eips.push(insn.start);
      const next = insn.start + insn.length;
      this.nexts.push(insn.default32 ? next | 0 : next & 0xffff);
    }
  }
  /** Physical bytes [phys, physEnd) the block was decoded from (one page). */
  get physEnd(): number { return this.insns.length === 0 ? this.phys + 1 : this.phys + this.lastByte - this.eip + 1; }
  /** Offset of the block's last byte: the CS limit must cover it. */
  get lastByte(): number { const k = this.insns.length - 1; return this.eips[k] + this.insns[k].length - 1; }
}

/**
 * An exit of a translated block to a constant EIP in the same page: its slot in the shared entry
 * table holds the target block's function once that is compiled, else a function returning to
 * the run loop.
 */
export interface ExitLink {
  readonly slot: number;
  readonly from: Block;
  readonly phys: number;
  readonly eip: number;
  target: Block | null;
  /** Set when `from` was dropped (its slot is free again). */
  dead: boolean;
}

/** Reads code bytes of one physical page by EIP; past the page (or 64 KiB in 16-bit code) it throws. */
class PageBytes implements ByteSource {
  constructor(private readonly cpu: Cpu, private readonly phys: number, private readonly eip: number, private readonly code32: boolean) {}
  byteAt(offset: number): number {
    const delta = offset - this.eip;
    if ((this.phys & (PAGE_SIZE - 1)) + delta >= PAGE_SIZE || (!this.code32 && offset > 0xffff)) throw PAGE_END;
    return this.cpu.mem.read8(this.phys + delta);
  }
}
const PAGE_END = new Error('block reaches the end of its page');

/**
 * Decodes a basic block at CS:eip (physical `phys`, which must be RAM) with the one opcode
 * table: up to an instruction that ends a block, the end of the page, an undecodable
 * instruction or MAX_BLOCK_INSNS. Outside RAM, or when not even the first instruction fits, the
 * block is empty.
 */
export function discoverBlock(cpu: Cpu, interpreter: Interpreter, phys: number, eip: number, key: number): Block {
  if (!cpu.mem.isRam(phys)) return new Block(phys, eip, key, []);
  const code32 = cpu.st[S.CS_DEFAULT32] !== 0;
  const bytes = new PageBytes(cpu, phys, eip, code32);
  const insns: BoundInsn[] = [];
  let offset = eip;
  while (insns.length < MAX_BLOCK_INSNS) {
    let insn: BoundInsn;
    try {
      insn = decode(bytes, offset, code32, new BoundInsn());
    } catch (e) {
      if (e === PAGE_END) break;
      throw e;
    }
    if (insn.entry === undefined) break;
    interpreter.bind(insn);
    insns.push(insn);
    // After INVLPG the code page's own mapping may have changed: the next fetch must translate.
    if (insn.endsBlock || insn.entry.key === 'INVLPG') break;
    offset = code32 ? (offset + insn.length) | 0 : offset + insn.length;
  }
  return new Block(phys, eip, key, insns);
}
