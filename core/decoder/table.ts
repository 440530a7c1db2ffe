import { OPCODE_TABLE } from './opcode-table.js';

/** What an operand is, from its SDM notation. */
export interface OperandSpec {
  /** The text as written in the table (`Ev`, `AL`, `eAX`, `1`). */
  readonly text: string;
  /** Addressing method letter (E, G, I, ...), or 'reg' for a fixed register, or 'const' for the literal 1. */
  readonly method: string;
  /** Size letter (b, w, d, v, z, p, ...), '' for fixed registers. */
  readonly size: string;
  /** For fixed registers: the register name as written (AL, eAX, DX, CL, ES, ...). */
  readonly register?: string;
}

export const enum Attr {
  LOCK = 1 << 0,
  END = 1 << 1,
  PRIV = 1 << 2,
  IOPL = 1 << 3,
  SENS = 1 << 4,
  PM = 1 << 5,
  REP = 1 << 6,
  MEM = 1 << 7,
}

const ATTR_NAMES: Record<string, Attr> = {
  lock: Attr.LOCK, end: Attr.END, priv: Attr.PRIV, iopl: Attr.IOPL,
  sens: Attr.SENS, pm: Attr.PM, rep: Attr.REP, mem: Attr.MEM,
};

/** EFLAGS bits named by the flag letters of the table. */
const FLAG_BITS: Record<string, number> = { c: 0x1, p: 0x4, a: 0x10, z: 0x40, s: 0x80, t: 0x100, i: 0x200, d: 0x400, o: 0x800 };

/** Flags read by each condition code 0..15 (O NO B AE E NE BE A S NS P NP L GE LE G). */
const CONDITION_FLAGS = [0x800, 0x800, 0x1, 0x1, 0x40, 0x40, 0x41, 0x41, 0x80, 0x80, 0x4, 0x4, 0x880, 0x880, 0x8c0, 0x8c0];
export const CONDITION_NAMES = ['O', 'NO', 'B', 'AE', 'E', 'NE', 'BE', 'A', 'S', 'NS', 'P', 'NP', 'L', 'GE', 'LE', 'G'];

export interface OpcodeEntry {
  /** Position in OPCODES: handler arrays are indexed by it. */
  readonly id: number;
  /** The mnemonic as written before condition expansion (`Jcc`, `ADD`, `CBW`): what handlers are keyed by. */
  readonly key: string;
  /** 0x00-0xFF for the one-byte map, 0x100-0x1FF for 0F xx. */
  readonly opcode: number;
  /** ModRM reg field selecting this group member, or -1. */
  readonly group: number;
  /** Mnemonic for 16-bit and 32-bit operand size (the same for most instructions). */
  readonly mnemonic16: string;
  readonly mnemonic32: string;
  readonly operands: readonly OperandSpec[];
  readonly attrs: number;
  /** Register encoded in the opcode's low bits (`+r`), or condition code (`+cc`); -1 otherwise. */
  readonly embedded: number;
  readonly flagsRead: number;
  readonly flagsWritten: number;
  readonly flagsUndefined: number;
  /** Whether decoding needs a ModRM byte. */
  readonly hasModrm: boolean;
  /** The r/m field always names a register whatever mod says (MOV to/from CRn/DRn). */
  readonly ignoresMod: boolean;
  /** Which immediate, displacement or pointer bytes follow the ModRM bytes (see ImmPlan). */
  readonly immPlan: ImmPlan;
  /** The table line it came from, for error messages. */
  readonly source: string;
}

/** The bytes after opcode and ModRM, as one code so the decoder needs no operand walk. */
export const enum ImmPlan { NONE, IB, IW, IZ, JB, JZ, FAR_POINTER, OFFSET, IW_IB }

function immPlanOf(operands: OperandSpec[]): ImmPlan {
  const imms = operands.filter((o) => o.method.length === 1 && 'IJAO'.includes(o.method));
  if (imms.length === 0) return ImmPlan.NONE;
  if (imms.length === 2) return ImmPlan.IW_IB;
  const { method, size } = imms[0];
  if (method === 'A') return ImmPlan.FAR_POINTER;
  if (method === 'O') return ImmPlan.OFFSET;
  if (method === 'J') return size === 'b' ? ImmPlan.JB : ImmPlan.JZ;
  return size === 'b' ? ImmPlan.IB : size === 'w' ? ImmPlan.IW : ImmPlan.IZ;
}

const FIXED_REGISTERS = new Set(['AL', 'CL', 'DL', 'BL', 'AH', 'CH', 'DH', 'BH', 'AX', 'CX', 'DX', 'BX', 'eAX', 'ES', 'CS', 'SS', 'DS', 'FS', 'GS']);
const MODRM_METHODS = new Set(['E', 'G', 'M', 'R', 'S', 'C', 'D']);

function parseOperand(text: string): OperandSpec {
  if (text === '1') return { text, method: 'const', size: '' };
  if (FIXED_REGISTERS.has(text)) return { text, method: 'reg', size: '', register: text };
  const method = text[0];
  const size = text.slice(1);
  if (!/^[EGMRICDJOASXYZ]$/.test(method)) throw new Error(`opcode table: unknown operand '${text}'`);
  return { text, method, size };
}

function parseFlags(letters: string, line: string): number {
  let bits = 0;
  for (const ch of letters) {
    if (ch === 'c' && letters.includes('cc')) continue;
    const bit = FLAG_BITS[ch];
    if (bit === undefined) throw new Error(`opcode table: unknown flag '${ch}' in: ${line}`);
    bits |= bit;
  }
  return bits;
}

function parseLine(line: string): OpcodeEntry[] {
  const [body, attrText = ''] = line.split(';').map((s) => s.trim());
  const words = body.split(/\s+/);
  let index = 0;
  let opcode = 0;
  if (words[0] === '0F') { opcode = 0x100; index++; }
  const opText = words[index++];
  const match = /^([0-9A-F]{2})(\+r|\+cc)?$/.exec(opText);
  if (!match) throw new Error(`opcode table: bad opcode '${opText}' in: ${line}`);
  opcode |= parseInt(match[1], 16);
  let group = -1;
  if (words[index]?.startsWith('/')) group = Number(words[index++].slice(1));
  const [mnemonic16, mnemonic32 = mnemonic16] = words[index++].split('|');
  const operands = (words[index] ?? '').split(',').filter(Boolean).map(parseOperand);
  let attrs = 0, flagsRead = 0, flagsWritten = 0, flagsUndefined = 0;
  for (const word of attrText.split(/\s+/).filter(Boolean)) {
    if (word.startsWith('f=')) {
      const [read, written] = word.slice(2).split('/');
      flagsRead = parseFlags(read, line);
      flagsWritten = parseFlags(written, line);
    } else if (word.startsWith('u=')) {
      flagsUndefined = parseFlags(word.slice(2), line);
    } else if (ATTR_NAMES[word] !== undefined) {
      attrs |= ATTR_NAMES[word];
    } else {
      throw new Error(`opcode table: unknown attribute '${word}' in: ${line}`);
    }
  }
  const hasModrm = group >= 0 || operands.some((o) => MODRM_METHODS.has(o.method)) || mnemonic16 === 'ESC';
  const make = (op: number, embedded: number, m16: string, m32: string, read: number): OpcodeEntry => ({
    id: -1, key: mnemonic16, opcode: op, group, mnemonic16: m16, mnemonic32: m32, operands, attrs, embedded,
    flagsRead: read, flagsWritten, flagsUndefined, hasModrm, ignoresMod: operands.some((o) => o.method === 'R'), immPlan: immPlanOf(operands), source: line,
  });
  if (match[2] === '+r') {
    return Array.from({ length: 8 }, (_, r) => make(opcode + r, r, mnemonic16, mnemonic32, flagsRead));
  }
  if (match[2] === '+cc') {
    return CONDITION_NAMES.map((name, cc) => make(opcode + cc, cc,
      mnemonic16.replace('cc', name), mnemonic32.replace('cc', name), flagsRead | CONDITION_FLAGS[cc]));
  }
  return [make(opcode, -1, mnemonic16, mnemonic32, flagsRead)];
}

/** All entries of the table, in table order. */
export const OPCODES: readonly OpcodeEntry[] = OPCODE_TABLE.split('\n')
  .map((l) => l.trim()).filter((l) => l.length > 0).flatMap(parseLine)
  .map((e, id) => ({ ...e, id }));

/**
 * Lookup by opcode (0x000-0x1FF): either one entry, or for groups an array of 8 indexed by
 * ModRM reg (undefined where the group member does not exist).
 */
export const BY_OPCODE: (OpcodeEntry | (OpcodeEntry | undefined)[] | undefined)[] = (() => {
  const table: (OpcodeEntry | (OpcodeEntry | undefined)[] | undefined)[] = new Array(0x200).fill(undefined);
  for (const e of OPCODES) {
    if (e.group >= 0) {
      let members = table[e.opcode];
      if (!Array.isArray(members)) { members = new Array(8).fill(undefined); table[e.opcode] = members; }
      members[e.group] = e;
    } else {
      if (table[e.opcode] !== undefined) throw new Error(`opcode table: duplicate opcode in: ${e.source}`);
      table[e.opcode] = e;
    }
  }
  return table;
})();

/** Whether the opcode (0x000-0x1FF) takes a ModRM byte, as the decoder needs before the group lookup. */
export const HAS_MODRM: Uint8Array = (() => {
  const flags = new Uint8Array(0x200);
  for (const e of OPCODES) if (e.hasModrm) flags[e.opcode] = 1;
  return flags;
})();
