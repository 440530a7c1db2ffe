import type { Exec, HandlerMap } from './operands.js';
import { ALU_OPS, binaryExec, incDecExec } from './alu.js';
import { conditionalJump, CONTROL_OPS } from './control.js';
import { DATA_OPS, extendExec, movExec } from './data.js';
import { FLAG_OPS } from './flag-ops.js';
import { STACK_OPS } from './stack.js';
import { SHIFT_OPS, shiftExec } from './shift.js';
import { BITS_OPS } from './bits.js';
import { MULDIV_OPS } from './muldiv.js';
import { BCD_OPS } from './bcd.js';
import { ATOMIC_OPS } from './atomic.js';
import { STRING_OPS } from './string.js';
import { IO_OPS } from './io.js';
import { SYSTEM_OPS } from './system.js';
import { DESCRIPTOR_OPS } from './descriptors.js';
import { X87_OPS } from './x87.js';

/** Every instruction family's handlers; the interpreter builds its dispatch tables from these. */
export const INSTRUCTION_FAMILIES: HandlerMap[] = [
  ALU_OPS,
  DATA_OPS,
  STACK_OPS,
  CONTROL_OPS,
  FLAG_OPS,
  SHIFT_OPS,
  BITS_OPS,
  MULDIV_OPS,
  BCD_OPS,
  ATOMIC_OPS,
  STRING_OPS,
  IO_OPS,
  SYSTEM_OPS,
  DESCRIPTOR_OPS,
  X87_OPS,
];

/**
 * Shared executors of the most frequent instructions, most frequent first. The interpreter
 * calls each through a call site of its own, which V8 can inline; everything else goes through
 * one megamorphic call. At most six (the call sites the loop has).
 */
export const HOT_EXECUTORS: Exec[] = [binaryExec, movExec, conditionalJump, incDecExec, shiftExec, extendExec];
