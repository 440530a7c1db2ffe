// Multiboot v1 (specification 0.6.96) kernels.
// - The header is a 4-byte-aligned magic 0x1BADB002 within the first 8192 bytes whose
//   magic + flags + checksum is 0 (mod 2^32).
// - Flag bit 0 (page-align modules) and bit 1 (memory information) are always honoured; bit 2
//   (video mode) is ignored because there is no framebuffer, and the MBI's video flag stays
//   clear. Any other bit in 0-15 is a requirement we cannot meet, so the image is refused.
// - With flag bit 16 the a.out-kludge address fields say where to load; otherwise the image
//   must be ELF32 and is loaded by elf32.ts.
// - The Multiboot information (MBI) and everything it points to live in one block at 0x9000,
//   in conventional memory below 0x9FC00, well away from kernels linked at 1 MiB.
// - Modules go page-aligned above the kernel's highest address (bss included), skipping the
//   MBI block and the memory from 0x9FC00 to 1 MiB.
// - Entry: protected32, EAX = 0x2BADB002, EBX = MBI address, all other registers 0; the spec
//   leaves ESP undefined, so the kernel must set up its own stack.

import {
  type BootPlan,
  type GuestImage,
  type LoadOptions,
  type MemoryWrite,
  CONVENTIONAL_MEMORY_TOP,
  ImageError,
  ROM_HOLE_END,
  pcMemoryMap,
  alignUp,
  checkGuestRange,
  hex,
  rangesOverlap,
  registersWith,
} from './boot-plan.js';
import { isElf, loadElf32 } from './elf32.js';

export const MULTIBOOT_HEADER_MAGIC = 0x1badb002;
export const MULTIBOOT_BOOTLOADER_MAGIC = 0x2badb002;
export const MULTIBOOT_INFO_ADDRESS = 0x9000;
export const BOOT_LOADER_NAME = 'wasmvisor';
const HEADER_SEARCH_LIMIT = 8192;
const MINIMUM_MEMORY = 0x100000;
const PAGE_SIZE = 0x1000;

const HEADER_FLAG_VIDEO_MODE = 1 << 2;
const HEADER_FLAG_ADDRESS_FIELDS = 1 << 16;
const HEADER_REQUIRED_FLAGS = 0xffff;
const HEADER_SUPPORTED_REQUIRED_FLAGS = 0b111;
const ADDRESS_FIELDS_HEADER_SIZE = 32;

const INFO_MEMORY = 1 << 0;
const INFO_CMDLINE = 1 << 2;
const INFO_MODULES = 1 << 3;
const INFO_MEMORY_MAP = 1 << 6;
const INFO_BOOT_LOADER_NAME = 1 << 9;
const INFO_SIZE = 88;
const MODULE_ENTRY_SIZE = 16;
const MEMORY_MAP_ENTRY_SIZE = 24;

export type MultibootHeaderSearch =
  | { kind: 'found'; offset: number; flags: number }
  | { kind: 'bad-checksum'; offset: number; flags: number; checksum: number }
  | { kind: 'absent' };

interface LoadedKernel {
  writes: MemoryWrite[];
  entry: number;
  start: number;
  end: number;
  layout: string;
}

interface PlacedModule {
  image: GuestImage;
  start: number;
}

/** Finds the first valid header; failing that, reports the first magic with a bad checksum. */
export function findMultibootHeader(bytes: Uint8Array): MultibootHeaderSearch {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const limit = Math.min(bytes.length, HEADER_SEARCH_LIMIT);
  let firstBad: MultibootHeaderSearch = { kind: 'absent' };
  for (let offset = 0; offset + 12 <= limit; offset += 4) {
    if (view.getUint32(offset, true) !== MULTIBOOT_HEADER_MAGIC) continue;
    const flags = view.getUint32(offset + 4, true);
    const checksum = view.getUint32(offset + 8, true);
    if (((MULTIBOOT_HEADER_MAGIC + flags + checksum) >>> 0) === 0) return { kind: 'found', offset, flags };
    if (firstBad.kind === 'absent') firstBad = { kind: 'bad-checksum', offset, flags, checksum };
  }
  return firstBad;
}

export function describeBadChecksum(search: MultibootHeaderSearch & { kind: 'bad-checksum' }): string {
  const expected = (-(MULTIBOOT_HEADER_MAGIC + search.flags)) >>> 0;
  return (
    `Multiboot header at offset ${hex(search.offset)} has a bad checksum ` +
    `(${hex(search.checksum)}, expected ${hex(expected)} so that magic + flags + checksum = 0)`
  );
}

export function planMultiboot(image: GuestImage, options: LoadOptions): BootPlan {
  const { name } = image;
  const search = findMultibootHeader(image.bytes);
  if (search.kind === 'absent') {
    throw new ImageError(name, `no Multiboot header (magic ${hex(MULTIBOOT_HEADER_MAGIC)}) in the first ${HEADER_SEARCH_LIMIT} bytes`);
  }
  if (search.kind === 'bad-checksum') {
    throw new ImageError(name, describeBadChecksum(search));
  }
  const unsupported = search.flags & HEADER_REQUIRED_FLAGS & ~HEADER_SUPPORTED_REQUIRED_FLAGS;
  if (unsupported !== 0) {
    throw new ImageError(
      name,
      `Multiboot header requires features wasmvisor does not provide (flag bits ${bitList(unsupported)})`,
    );
  }
  if (options.memorySize < MINIMUM_MEMORY) {
    throw new ImageError(name, `Multiboot needs at least 1 MiB of guest memory, have ${hex(options.memorySize)} bytes`);
  }
  const kernel = loadKernel(image, search.offset, search.flags, options.memorySize);
  const cmdline = options.cmdline ? `${name} ${options.cmdline}` : name;
  if (cmdline.includes('\0')) {
    throw new ImageError(name, 'the kernel command line contains a NUL character');
  }
  const modules = options.modules ?? [];
  const info = layoutInfo(cmdline, modules, options.memorySize);
  const infoEnd = MULTIBOOT_INFO_ADDRESS + info.size;
  if (infoEnd > CONVENTIONAL_MEMORY_TOP) {
    throw new ImageError(
      name,
      `the Multiboot information (command line and module names) needs ${hex(info.size)} bytes, more than fits ` +
        `between ${hex(MULTIBOOT_INFO_ADDRESS)} and ${hex(CONVENTIONAL_MEMORY_TOP)}`,
    );
  }
  for (const write of kernel.writes) {
    if (rangesOverlap(write.address, write.bytes.length, MULTIBOOT_INFO_ADDRESS, info.size)) {
      throw new ImageError(
        name,
        `kernel bytes at ${hex(write.address)}-${hex(write.address + write.bytes.length)} overlap the Multiboot ` +
          `information at ${hex(MULTIBOOT_INFO_ADDRESS)}-${hex(infoEnd)}; load the kernel elsewhere (e.g. at 1 MiB)`,
      );
    }
  }
  const placed = placeModules(modules, kernel.end, infoEnd, options.memorySize);
  const moduleWrites = placed.map((module) => ({ address: module.start, bytes: module.image.bytes.slice() }));
  const infoBytes = encodeInfo(info, placed, options.memorySize);
  const videoNote = search.flags & HEADER_FLAG_VIDEO_MODE ? ' (video mode request ignored: no framebuffer)' : '';
  return {
    format: 'multiboot',
    writes: [...kernel.writes, ...moduleWrites, { address: MULTIBOOT_INFO_ADDRESS, bytes: infoBytes }],
    entry: {
      mode: 'protected32',
      eip: kernel.entry,
      registers: registersWith({ eax: MULTIBOOT_BOOTLOADER_MAGIC, ebx: MULTIBOOT_INFO_ADDRESS }),
    },
    description:
      `Multiboot kernel ${name} (${kernel.layout}) at ${hex(kernel.start)}-${hex(kernel.end)}, entry ${hex(kernel.entry)}, ` +
      `${modules.length} module${modules.length === 1 ? '' : 's'}, information at ${hex(MULTIBOOT_INFO_ADDRESS)}${videoNote}`,
  };
}

function loadKernel(image: GuestImage, headerOffset: number, flags: number, memorySize: number): LoadedKernel {
  if (flags & HEADER_FLAG_ADDRESS_FIELDS) {
    return loadWithAddressFields(image, headerOffset, memorySize);
  }
  if (!isElf(image.bytes)) {
    throw new ImageError(
      image.name,
      `Multiboot header at offset ${hex(headerOffset)} has no address fields (flag bit 16) and the image is not ELF, ` +
        'so there is no way to know where to load it',
    );
  }
  const elf = loadElf32(image, memorySize);
  return { writes: elf.writes, entry: elf.entry, start: elf.start, end: elf.end, layout: 'ELF' };
}

/** The a.out kludge: header_addr ties a file offset to a physical address. */
function loadWithAddressFields(image: GuestImage, headerOffset: number, memorySize: number): LoadedKernel {
  const { name, bytes } = image;
  const headerEnd = headerOffset + ADDRESS_FIELDS_HEADER_SIZE;
  if (headerEnd > bytes.length) {
    throw new ImageError(
      name,
      `truncated Multiboot header at offset ${hex(headerOffset)}: the address fields (flag bit 16) need ` +
        `${ADDRESS_FIELDS_HEADER_SIZE} bytes, the file ends at ${hex(bytes.length)}`,
    );
  }
  if (headerEnd > HEADER_SEARCH_LIMIT) {
    throw new ImageError(name, `Multiboot header at offset ${hex(headerOffset)} extends past the first ${HEADER_SEARCH_LIMIT} bytes`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerAddress = view.getUint32(headerOffset + 12, true);
  const loadAddress = view.getUint32(headerOffset + 16, true);
  const loadEndAddress = view.getUint32(headerOffset + 20, true);
  const bssEndAddress = view.getUint32(headerOffset + 24, true);
  const entryAddress = view.getUint32(headerOffset + 28, true);
  if (loadAddress > headerAddress) {
    throw new ImageError(name, `a.out kludge: load_addr ${hex(loadAddress)} is above header_addr ${hex(headerAddress)}`);
  }
  const fileOffset = headerOffset - (headerAddress - loadAddress);
  if (fileOffset < 0) {
    throw new ImageError(
      name,
      `a.out kludge: load_addr ${hex(loadAddress)} is ${hex(headerAddress - loadAddress)} bytes below header_addr ` +
        `${hex(headerAddress)}, but the header is only ${hex(headerOffset)} bytes into the file`,
    );
  }
  let loadEnd = loadAddress + (bytes.length - fileOffset);
  if (loadEndAddress !== 0) {
    if (loadEndAddress <= loadAddress) {
      throw new ImageError(name, `a.out kludge: load_end_addr ${hex(loadEndAddress)} is not above load_addr ${hex(loadAddress)}`);
    }
    loadEnd = loadEndAddress;
    if (fileOffset + (loadEnd - loadAddress) > bytes.length) {
      throw new ImageError(
        name,
        `truncated image: the a.out kludge loads file offset ${hex(fileOffset)} + ${hex(loadEnd - loadAddress)} ` +
          `bytes (load_addr ${hex(loadAddress)} to load_end_addr ${hex(loadEnd)}), but the file has ${hex(bytes.length)} bytes`,
      );
    }
  }
  let end = loadEnd;
  if (bssEndAddress !== 0) {
    if (bssEndAddress < loadEnd) {
      throw new ImageError(name, `a.out kludge: bss_end_addr ${hex(bssEndAddress)} is below the end of the loaded image ${hex(loadEnd)}`);
    }
    end = bssEndAddress;
  }
  checkGuestRange(name, 'kernel (a.out kludge load_addr to bss_end_addr)', loadAddress, end - loadAddress, memorySize);
  if (entryAddress < loadAddress || entryAddress >= loadEnd) {
    throw new ImageError(
      name,
      `a.out kludge: entry_addr ${hex(entryAddress)} is outside the loaded image ${hex(loadAddress)}-${hex(loadEnd)}`,
    );
  }
  const writes: MemoryWrite[] = [{ address: loadAddress, bytes: bytes.slice(fileOffset, fileOffset + (loadEnd - loadAddress)) }];
  if (end > loadEnd) writes.push({ address: loadEnd, bytes: new Uint8Array(end - loadEnd) });
  return { writes, entry: entryAddress, start: loadAddress, end, layout: 'a.out kludge' };
}

function placeModules(modules: GuestImage[], kernelEnd: number, infoEnd: number, memorySize: number): PlacedModule[] {
  const placed: PlacedModule[] = [];
  let cursor = alignUp(kernelEnd, PAGE_SIZE);
  modules.forEach((module, index) => {
    const size = module.bytes.length;
    let start = cursor;
    // An empty module still gets an address, which must not point into the MBI.
    if (rangesOverlap(start, Math.max(size, 1), MULTIBOOT_INFO_ADDRESS, infoEnd - MULTIBOOT_INFO_ADDRESS)) {
      start = alignUp(infoEnd, PAGE_SIZE);
    }
    if (start < ROM_HOLE_END && start + size > CONVENTIONAL_MEMORY_TOP) start = ROM_HOLE_END;
    checkGuestRange(module.name, `boot module ${index} (${hex(size)} bytes)`, start, size, memorySize);
    placed.push({ image: module, start });
    cursor = alignUp(start + size, PAGE_SIZE);
  });
  return placed;
}

interface InfoLayout {
  size: number;
  memoryMap: Array<{ base: number; length: number; type: number }>;
  memoryMapOffset: number;
  modulesOffset: number;
  stringsOffset: number;
  strings: Uint8Array[];
}

/** Offsets inside the MBI block: the 88-byte structure, memory map, module table, strings. */
function layoutInfo(cmdline: string, modules: GuestImage[], memorySize: number): InfoLayout {
  const memoryMap = pcMemoryMap(memorySize);
  const encoder = new TextEncoder();
  const strings = [cmdline, BOOT_LOADER_NAME, ...modules.map((module) => module.name)].map((text) =>
    encoder.encode(`${text}\0`),
  );
  const memoryMapOffset = INFO_SIZE;
  const modulesOffset = memoryMapOffset + memoryMap.length * MEMORY_MAP_ENTRY_SIZE;
  const stringsOffset = modulesOffset + modules.length * MODULE_ENTRY_SIZE;
  const size = stringsOffset + strings.reduce((total, text) => total + text.length, 0);
  return { size, memoryMap, memoryMapOffset, modulesOffset, stringsOffset, strings };
}

function encodeInfo(info: InfoLayout, modules: PlacedModule[], memorySize: number): Uint8Array {
  const bytes = new Uint8Array(info.size);
  const view = new DataView(bytes.buffer);
  const stringAddresses: number[] = [];
  let stringOffset = info.stringsOffset;
  for (const text of info.strings) {
    bytes.set(text, stringOffset);
    stringAddresses.push(MULTIBOOT_INFO_ADDRESS + stringOffset);
    stringOffset += text.length;
  }
  const [cmdlineAddress, loaderNameAddress, ...moduleNameAddresses] = stringAddresses;
  view.setUint32(0, INFO_MEMORY | INFO_CMDLINE | INFO_MODULES | INFO_MEMORY_MAP | INFO_BOOT_LOADER_NAME, true);
  view.setUint32(4, CONVENTIONAL_MEMORY_TOP / 1024, true);
  view.setUint32(8, Math.floor((memorySize - ROM_HOLE_END) / 1024), true);
  view.setUint32(16, cmdlineAddress, true);
  view.setUint32(20, modules.length, true);
  view.setUint32(24, MULTIBOOT_INFO_ADDRESS + info.modulesOffset, true);
  view.setUint32(44, info.memoryMap.length * MEMORY_MAP_ENTRY_SIZE, true);
  view.setUint32(48, MULTIBOOT_INFO_ADDRESS + info.memoryMapOffset, true);
  view.setUint32(64, loaderNameAddress, true);
  info.memoryMap.forEach((entry, index) => {
    const at = info.memoryMapOffset + index * MEMORY_MAP_ENTRY_SIZE;
    view.setUint32(at, MEMORY_MAP_ENTRY_SIZE - 4, true);
    setUint64(view, at + 4, entry.base);
    setUint64(view, at + 12, entry.length);
    view.setUint32(at + 20, entry.type, true);
  });
  modules.forEach((module, index) => {
    const at = info.modulesOffset + index * MODULE_ENTRY_SIZE;
    view.setUint32(at, module.start, true);
    view.setUint32(at + 4, module.start + module.image.bytes.length, true);
    view.setUint32(at + 8, moduleNameAddresses[index], true);
  });
  return bytes;
}

function setUint64(view: DataView, offset: number, value: number): void {
  view.setUint32(offset, value % 0x1_0000_0000, true);
  view.setUint32(offset + 4, Math.floor(value / 0x1_0000_0000), true);
}

function bitList(mask: number): string {
  const bits: number[] = [];
  for (let bit = 0; bit < 32; bit++) if (mask & (1 << bit)) bits.push(bit);
  return bits.join(', ');
}
