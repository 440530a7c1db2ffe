/**
 * Where the CPU state lives inside the machine's one WebAssembly.Memory.
 *
 * Interpreter (through typed-array views) and generated wasm (through fixed offsets) read the
 * same bytes, so nothing is copied at the JIT boundary. Offsets are in 32-bit words from
 * STATE_BASE; the general registers come first so that 8/16-bit views can alias them.
 */

export const STATE_BASE = 0;
export const STATE_BYTES = 0x1000;
/** Guest physical address 0 sits at this offset of the memory. */
export const RAM_BASE = 0x10000;

/** General registers in encoding order: EAX ECX EDX EBX ESP EBP ESI EDI. */
export const enum Reg { EAX = 0, ECX, EDX, EBX, ESP, EBP, ESI, EDI }

/** Segment registers in encoding order. */
export const enum Seg { ES = 0, CS, SS, DS, FS, GS }

/** Word offsets of the remaining state. */
export const enum S {
  EIP = 8,
  /** Flags that are not lazily evaluated (and the lazily evaluated ones when not pending). */
  EFLAGS = 9,
  /** Lazy-flag record of the last arithmetic operation: which flags it owns, its kind and operands. */
  LF_MASK = 10,
  LF_OP = 11,
  LF_SIZE = 12,
  LF_RES = 13,
  LF_A = 14,
  LF_B = 15,
  LF_CARRY_IN = 16,
  SEL = 17,        // 6 words: segment selectors
  SEG_BASE = 23,   // 6 words
  SEG_LIMIT = 29,  // 6 words
  SEG_FLAGS = 35,  // 6 words: descriptor attribute bits (type, S, DPL, P, D/B, G)
  CR0 = 41,
  CR2 = 42,
  CR3 = 43,
  CR4 = 44,
  GDTR_BASE = 45,
  GDTR_LIMIT = 46,
  IDTR_BASE = 47,
  IDTR_LIMIT = 48,
  LDTR = 49,
  TR = 50,
  CPL = 51,
  /** Retired instructions, as two 32-bit halves (low, high). */
  ICOUNT_LO = 52,
  ICOUNT_HI = 53,
  /** Address-size/operand-size defaults of the code segment (1 = 32-bit). */
  CS_DEFAULT32 = 54,
  SS_DEFAULT32 = 55,
  /** 1 while the CPU sits in HLT waiting for an interrupt. */
  HALTED = 56,
  /** Pending maskable interrupt request from the platform (1 = INTR asserted). */
  INTR = 57,
  /** Instructions left in the interrupt shadow after MOV SS/POP SS/STI. */
  INT_SHADOW = 58,
  A20_MASK = 59,
  DR0 = 60,        // 8 words: DR0..DR7
  TSC_OFFSET_LO = 68,
  TSC_OFFSET_HI = 69,
  LDTR_BASE = 70,
  LDTR_LIMIT = 71,
  TR_BASE = 72,
  TR_LIMIT = 73,
  TR_FLAGS = 74,
  SYSENTER_CS = 75,
  SYSENTER_ESP = 76,
  SYSENTER_EIP = 77,
  /** x87 control and status words (the status word holds TOP in bits 11-13). */
  FPU_CW = 78,
  FPU_SW = 79,
  /** Which physical registers R0-R7 are in use (bit p set = R(p) not empty): the FXSAVE abridged tag word. */
  FPU_TAGS = 80,
  /** Last x87 instruction pointer, its CS, data pointer, its segment selector, and opcode (11 bits). */
  FPU_FIP = 81,
  FPU_FCS = 82,
  FPU_FDP = 83,
  FPU_FDS = 84,
  FPU_FOP = 85,
  /** 1 while FERR# is asserted: an unmasked exception is pending and CR0.NE is clear (the IRQ 13 path). */
  FPU_FERR = 86,
  /** R0-R7, three words each: significand bits 0-31, bits 32-63, sign/exponent (16 bits). */
  FPU_REGS = 87,   // 24 words
  /**
   * Bumped whenever linear-to-physical translations may change but those of global pages
   * (a CR3 load; GLOBAL_EPOCH's events too): what the JIT's jump cache checks its entries
   * against (core/jit/dispatch.ts). INVLPG bumps neither: the jump cache forgets that page.
   */
  MAPPING_EPOCH = 111,
  /** 1 while the deprivileging monitor runs the guest's ring 0 at CPL 1 (core/vmm): part of the JIT's mode key. */
  DEPRIVILEGED = 112,
  /**
   * While translated code runs: the time-stamp counter ticks (before TSC_OFFSET) at which its
   * budget runs out, low and high dword, so that RDTSC in wasm is that minus the budget left.
   */
  TSC_AT_END_LO = 113,
  TSC_AT_END_HI = 114,
  /** Bumped (with MAPPING_EPOCH) when every translation may change: paging mode changes, A20, reset. */
  GLOBAL_EPOCH = 115,
}
