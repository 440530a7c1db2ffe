import type { Insn } from '../decoder/decoder.js';
import type { Cpu } from './cpu.js';
import { GuestError } from './faults.js';
import { hex } from './interrupts.js';
import { S, Seg } from './state-layout.js';

/** Raised by an executor for an instruction the emulator decodes but does not implement. */
export function unsupported(cpu: Cpu, i: Insn, what: string): never {
  throw unsupportedError(cpu, i.start, i.length, what);
}

/** Adds the running instruction's address and bytes to an error raised deep inside its execution. */
export function locateUnsupported(cpu: Cpu, eip: number, error: GuestError): GuestError {
  let length = 1;
  try {
    length = cpu.decodeAt(eip).length;
  } catch {
    // The bytes are still worth showing when they no longer decode (CS or paging changed).
  }
  return unsupportedError(cpu, eip, length, error.message);
}

function unsupportedError(cpu: Cpu, eip: number, length: number, what: string): GuestError {
  let bytes: string;
  try {
    bytes = codeBytes(cpu, eip, length);
  } catch {
    bytes = 'not readable';
  }
  return new GuestError(`unsupported instruction at ${describeAddress(cpu, eip)}: ${what} (bytes ${bytes})`, 'unsupported');
}

export function describeAddress(cpu: Cpu, eip: number): string {
  const cs = cpu.st[S.SEL + Seg.CS];
  return `${hex(cs, 4)}:${hex(eip, cpu.code32 ? 8 : 4)} (linear 0x${hex(cpu.st[S.SEG_BASE + Seg.CS] + eip, 8)})`;
}

export function codeBytes(cpu: Cpu, eip: number, length: number): string {
  const out: string[] = [];
  for (let k = 0; k < Math.max(1, Math.min(length, 15)); k++) {
    out.push(hex(cpu.readLin8(cpu.st[S.SEG_BASE + Seg.CS] + eip + k), 2));
  }
  return out.join(' ');
}
