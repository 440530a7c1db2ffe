// The boot plan: what a loader decided, as data. Loaders turn image bytes into a plan; the
// machine applies it (copies the writes into guest RAM, sets the entry state). Keeping the
// loaders pure lets them be tested byte for byte without a CPU or memory bus.

/** A bad or unsupported guest image. The message is one line: "<file>: <what is wrong>". */
export class ImageError extends Error {
  readonly reason: string;

  constructor(readonly file: string, message: string) {
    super(`${file}: ${message}`);
    this.name = 'ImageError';
    this.reason = message;
  }
}

/** Bytes to copy to a physical address. Zero-filled regions (bss) are writes of zero bytes. */
export interface MemoryWrite {
  address: number;
  bytes: Uint8Array;
}

export type RegisterName = 'eax' | 'ebx' | 'ecx' | 'edx' | 'esi' | 'edi' | 'ebp' | 'esp';

/** Selectors to load at entry; each must name a descriptor in the plan's GDT. */
export interface EntrySelectors {
  cs: number;
  ds: number;
  es: number;
  ss: number;
  fs: number;
  gs: number;
}

export interface EntryState {
  /** protected32 = flat 4 GiB code/data segments, CPL 0, paging off, interrupts off. */
  mode: 'real' | 'protected32';
  eip: number;
  /** Real mode only: the CS selector (base = cs << 4). */
  cs?: number;
  registers: Partial<Record<RegisterName, number>>;
  /** protected32 only: a GDT the plan writes to memory, to load into GDTR at entry. */
  gdt?: { base: number; limit: number };
  /** protected32 only, with gdt: selectors whose descriptors come from that GDT. */
  selectors?: EntrySelectors;
}

export interface BootPlan {
  format: 'flat' | 'elf32' | 'multiboot' | 'linux';
  writes: MemoryWrite[];
  entry: EntryState;
  /** One line for people: what was loaded where. */
  description: string;
}

export interface GuestImage {
  name: string;
  bytes: Uint8Array;
}

export interface LoadOptions {
  /** Guest RAM size in bytes; every write must end at or below it. */
  memorySize: number;
  /** Multiboot: text appended to the kernel name in the command line (like GRUB's). Linux: the command line as is. */
  cmdline?: string;
  /** Multiboot: boot modules, placed page-aligned above the kernel. */
  modules?: GuestImage[];
  /** Linux: the initial ramdisk, placed page-aligned as high as the kernel allows. */
  initrd?: GuestImage;
  format?: 'auto' | 'flat' | 'elf32' | 'multiboot' | 'linux';
  /** Flat images: physical load address (default 0x7C00, where a BIOS puts a boot sector). */
  flatAddress?: number;
}

/** Top of conventional memory: 639 KiB, the last KiB being the BIOS extended data area. */
export const CONVENTIONAL_MEMORY_TOP = 0x9fc00;
/** VGA memory and ROMs live in [0xA0000, 0x100000); guest images must not be loaded there. */
export const ROM_HOLE_START = 0xa0000;
export const ROM_HOLE_END = 0x100000;
const FOUR_GIB = 0x1_0000_0000;

export function hex(value: number): string {
  return `0x${value.toString(16)}`;
}

/** Every plan names all eight registers, so nothing is left at a CPU reset value by accident. */
export function registersWith(values: Partial<Record<RegisterName, number>>): Record<RegisterName, number> {
  return { eax: 0, ebx: 0, ecx: 0, edx: 0, esi: 0, edi: 0, ebp: 0, esp: 0, ...values };
}

/**
 * Throws unless [start, start + length) lies in guest RAM below 4 GiB and outside the
 * VGA/ROM hole. `what` names the thing being placed, e.g. "segment 1 (program header 1)".
 */
export function checkGuestRange(file: string, what: string, start: number, length: number, memorySize: number): void {
  const end = start + length;
  if (end > FOUR_GIB) {
    throw new ImageError(file, `${what} at ${hex(start)} + ${hex(length)} runs past the 4 GiB physical address space`);
  }
  if (end > memorySize) {
    throw new ImageError(
      file,
      `${what} at ${hex(start)}-${hex(end)} does not fit in guest memory (${hex(memorySize)} bytes); give the guest more memory`,
    );
  }
  if (length > 0 && start < ROM_HOLE_END && end > ROM_HOLE_START) {
    throw new ImageError(
      file,
      `${what} at ${hex(start)}-${hex(end)} overlaps the VGA/ROM hole ${hex(ROM_HOLE_START)}-${hex(ROM_HOLE_END)}`,
    );
  }
}

/** Half-open ranges [a, a + aLength) and [b, b + bLength) share at least one byte. */
export function rangesOverlap(a: number, aLength: number, b: number, bLength: number): boolean {
  return aLength > 0 && bLength > 0 && a < b + bLength && b < a + aLength;
}

export function alignUp(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}

/** The BIOS ROM at the top of the first megabyte, reserved in the memory map. */
export const BIOS_ROM_START = 0xf0000;
/** E820 / Multiboot memory-map entry types (the same numbers in both). */
export const MEMORY_AVAILABLE = 1;
export const MEMORY_RESERVED = 2;

export interface MemoryMapEntry { base: number; length: number; type: number }

/**
 * The PC memory map every boot protocol reports: conventional memory, the EBDA, the BIOS ROM
 * and the RAM above 1 MiB (Multiboot's mmap and Linux's E820 use the same type numbers).
 */
export function pcMemoryMap(memorySize: number): MemoryMapEntry[] {
  return [
    { base: 0, length: CONVENTIONAL_MEMORY_TOP, type: MEMORY_AVAILABLE },
    { base: CONVENTIONAL_MEMORY_TOP, length: ROM_HOLE_START - CONVENTIONAL_MEMORY_TOP, type: MEMORY_RESERVED },
    { base: BIOS_ROM_START, length: ROM_HOLE_END - BIOS_ROM_START, type: MEMORY_RESERVED },
    { base: ROM_HOLE_END, length: memorySize - ROM_HOLE_END, type: MEMORY_AVAILABLE },
  ].filter((entry) => entry.length > 0);
}
