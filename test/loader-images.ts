// Tiny image writers and a guest-memory model for the loader tests. The images are built
// byte by byte here so that every field a loader reads is under the test's control.

import { expect } from 'chai';
import { type BootPlan, ImageError } from '../core/machine/loaders/boot-plan.js';

export const PT_LOAD = 1;

export interface ElfSegmentSpec {
  paddr: number;
  /** Defaults to paddr. */
  vaddr?: number;
  data: Uint8Array;
  /** Defaults to data.length. */
  memsz?: number;
  type?: number;
  /** Overrides the computed file offset / size, to build broken images. */
  offset?: number;
  filesz?: number;
}

export interface ElfSpec {
  entry: number;
  segments: ElfSegmentSpec[];
  elfClass?: number;
  encoding?: number;
  machine?: number;
  type?: number;
  phentsize?: number;
}

/** A little-endian ELF32 executable: header, program headers, then each segment's data. */
export function buildElf(spec: ElfSpec): Uint8Array {
  const phentsize = spec.phentsize ?? 32;
  const tableEnd = 52 + spec.segments.length * phentsize;
  const size = spec.segments.reduce((total, segment) => total + segment.data.length, tableEnd);
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  bytes.set([0x7f, 0x45, 0x4c, 0x46, spec.elfClass ?? 1, spec.encoding ?? 1, 1], 0);
  view.setUint16(16, spec.type ?? 2, true);
  view.setUint16(18, spec.machine ?? 3, true);
  view.setUint32(20, 1, true);
  view.setUint32(24, spec.entry, true);
  view.setUint32(28, 52, true);
  view.setUint16(40, 52, true);
  view.setUint16(42, phentsize, true);
  view.setUint16(44, spec.segments.length, true);
  let dataOffset = tableEnd;
  spec.segments.forEach((segment, index) => {
    const at = 52 + index * phentsize;
    view.setUint32(at, segment.type ?? PT_LOAD, true);
    view.setUint32(at + 4, segment.offset ?? dataOffset, true);
    view.setUint32(at + 8, segment.vaddr ?? segment.paddr, true);
    view.setUint32(at + 12, segment.paddr, true);
    view.setUint32(at + 16, segment.filesz ?? segment.data.length, true);
    view.setUint32(at + 20, segment.memsz ?? segment.data.length, true);
    bytes.set(segment.data, dataOffset);
    dataOffset += segment.data.length;
  });
  return bytes;
}

export interface AddressFields {
  headerAddr: number;
  loadAddr: number;
  loadEndAddr: number;
  bssEndAddr: number;
  entryAddr: number;
}

/** A Multiboot v1 header; `checksumError` is added to the correct checksum to break it. */
export function multibootHeader(flags: number, fields?: AddressFields, checksumError = 0): Uint8Array {
  const bytes = new Uint8Array(fields === undefined ? 12 : 32);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, 0x1badb002, true);
  view.setUint32(4, flags >>> 0, true);
  view.setUint32(8, (-(0x1badb002 + flags) + checksumError) >>> 0, true);
  if (fields !== undefined) {
    view.setUint32(12, fields.headerAddr, true);
    view.setUint32(16, fields.loadAddr, true);
    view.setUint32(20, fields.loadEndAddr, true);
    view.setUint32(24, fields.bssEndAddr, true);
    view.setUint32(28, fields.entryAddr, true);
  }
  return bytes;
}

export const AOUT_KLUDGE = 1 << 16;

/** A raw image: `prefix` bytes, then a Multiboot header with address fields, then `code`. */
export function buildKludgeImage(options: {
  fields: (headerOffset: number, fileLength: number) => AddressFields;
  code: Uint8Array;
  prefix?: number;
  flags?: number;
}): Uint8Array {
  const prefix = options.prefix ?? 0;
  const fileLength = prefix + 32 + options.code.length;
  const header = multibootHeader(options.flags ?? AOUT_KLUDGE, options.fields(prefix, fileLength));
  const bytes = new Uint8Array(fileLength);
  bytes.set(header, prefix);
  bytes.set(options.code, prefix + 32);
  return bytes;
}

export function filled(length: number, seed: number): Uint8Array {
  return Uint8Array.from({ length }, (_, index) => (seed + index * 7) & 0xff);
}

/** Applies a plan's writes to a fresh RAM, failing if any write overlaps another or leaves RAM. */
export function applyWrites(plan: BootPlan, memorySize: number): Uint8Array {
  const memory = new Uint8Array(memorySize);
  const sorted = [...plan.writes].sort((a, b) => a.address - b.address);
  sorted.forEach((write, index) => {
    const end = write.address + write.bytes.length;
    expect(end, `write at 0x${write.address.toString(16)} ends`).to.be.at.most(memorySize);
    const next = sorted[index + 1];
    if (next !== undefined) expect(end, `write at 0x${write.address.toString(16)} overlaps the next`).to.be.at.most(next.address);
    memory.set(write.bytes, write.address);
  });
  return memory;
}

export function u32(memory: Uint8Array, address: number): number {
  return new DataView(memory.buffer).getUint32(address, true);
}

export function cString(memory: Uint8Array, address: number): string {
  const end = memory.indexOf(0, address);
  return new TextDecoder().decode(memory.subarray(address, end));
}

/** Runs `action`, expects an ImageError with exactly `message` (one line), and returns it. */
export function expectImageError(action: () => unknown, message: string): ImageError {
  let caught: unknown;
  try {
    action();
  } catch (error) {
    caught = error;
  }
  expect(caught).to.be.instanceOf(ImageError);
  const imageError = caught as ImageError;
  expect(imageError.message).to.equal(message);
  expect(imageError.message).not.to.include('\n');
  return imageError;
}
