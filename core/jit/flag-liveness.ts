import type { BoundInsn } from '../cpu/decode-cache.js';
import { AF, ARITH_FLAGS } from '../cpu/flags.js';
import type { Block } from './block.js';

/**
 * Instructions that, with register and immediate operands only, neither fault nor leave the
 * block early: nothing but the instruction itself sees the flags while they run. Any other
 * instruction (memory operands, a possible fault, a call-out that may exit) may show the
 * state block to someone — a fault handler, the run loop — so it needs every flag stored.
 */
const QUIET = new Set([
  'MOV', 'ADD', 'ADC', 'SUB', 'SBB', 'CMP', 'AND', 'OR', 'XOR', 'TEST', 'INC', 'DEC', 'NEG', 'NOT',
  'MOVZX', 'MOVSX', 'XCHG', 'SETcc', 'CMOVcc', 'IMUL', 'SHL', 'SAL', 'SHR', 'SAR', 'ROL', 'ROR',
  'BT', 'BTS', 'BTR', 'BTC', 'BSWAP', 'CBW', 'CWD', 'CLC', 'STC', 'CMC', 'CLD', 'STD', 'NOP', 'LEA',
]);
/** Logic operations clear AF, which the table calls undefined (flags.ts setLogic, EmitContext.flushFlags). */
const CLEARS_AF = new Set(['AND', 'OR', 'XOR', 'TEST']);
const SHIFTS = new Set(['SHL', 'SAL', 'SHR', 'SAR', 'ROL', 'ROR', 'RCL', 'RCR', 'SHLD', 'SHRD']);

function quiet(i: BoundInsn): boolean {
  const entry = i.entry!;
  if (i.needsChecks || !QUIET.has(entry.key)) return false;
  // LEA computes an address without touching memory; with a register operand it is #UD.
  if (entry.key === 'LEA') return i.mod !== 3;
  return entry.operands.every((o) => o.method === 'G' || o.method === 'I' || o.method === 'Z' || o.method === 'const'
    || o.method === 'reg' || (o.method === 'E' && i.mod === 3));
}

/** The arithmetic flags an instruction always writes (a shift by a count that may be 0 writes none). */
function written(i: BoundInsn): number {
  const entry = i.entry!;
  if (SHIFTS.has(entry.key)) {
    const count = entry.operands[entry.operands.length - 1];
    if (count.method === 'reg' || (count.method === 'I' && (i.imm & 31) === 0)) return 0;
  }
  const defined = entry.flagsWritten & ~entry.flagsUndefined;
  return (CLEARS_AF.has(entry.key) ? defined | AF : defined) & ARITH_FLAGS;
}

/**
 * Flag liveness of a block, backwards from its end, where every flag counts as live (an exit
 * stores them all). `after[k]`: the arithmetic flags some later reader may see once
 * instruction k has run; `in`: those live at the block's start. A flag that is dead after an
 * instruction is overwritten before anything can see it, so its value need not be computed.
 */
export function flagLiveness(block: Block): { in: number; after: number[] } {
  const n = block.insns.length;
  const after = new Array<number>(n);
  let live = ARITH_FLAGS;
  for (let k = n - 1; k >= 0; k--) {
    after[k] = live;
    const i = block.insns[k];
    const crossing = k === n - 1 && block.tail !== null;
    live = crossing || !quiet(i) ? ARITH_FLAGS : (live & ~written(i)) | (i.entry!.flagsRead & ARITH_FLAGS);
  }
  return { in: live, after };
}
