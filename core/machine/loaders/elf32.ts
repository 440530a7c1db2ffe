// ELF32 executables for i386, loaded the way Multiboot loaders do it:
// - each PT_LOAD segment is placed at its physical address p_paddr (paging is off at entry,
//   so a higher-half kernel linked at 0xC0100000 but placed at 0x100000 boots correctly);
// - its file bytes are copied, and the rest up to p_memsz is zero-filled (bss);
// - the entry point e_entry is a virtual address; it is translated to physical through the
//   segment whose [p_vaddr, p_vaddr + p_memsz) contains it (as GRUB 2 does).
// Segments are numbered by their program header index in error messages.
// A plain ELF boot enters protected32 mode with every register 0 except ESP = 0x9FC00, the
// top of conventional memory, so a kernel can push before it sets up its own stack.

import {
  type BootPlan,
  type GuestImage,
  type LoadOptions,
  type MemoryWrite,
  CONVENTIONAL_MEMORY_TOP,
  ImageError,
  checkGuestRange,
  hex,
  rangesOverlap,
  registersWith,
} from './boot-plan.js';

const IDENT_SIZE = 16;
const ELF_HEADER_SIZE = 52;
const PROGRAM_HEADER_MIN_SIZE = 32;
const CLASS_32 = 1;
const CLASS_64 = 2;
const LITTLE_ENDIAN = 1;
const BIG_ENDIAN = 2;
const CURRENT_VERSION = 1;
const TYPE_EXECUTABLE = 2;
const MACHINE_I386 = 3;
const MACHINE_I486 = 6;
const SEGMENT_LOAD = 1;
const SEGMENT_INTERPRETER = 3;

const MACHINE_NAMES: Record<number, string> = {
  0: 'none', 2: 'SPARC', 8: 'MIPS', 20: 'PowerPC', 21: 'PowerPC64', 40: 'ARM', 50: 'IA-64',
  62: 'x86-64', 183: 'AArch64', 243: 'RISC-V',
};
const TYPE_NAMES: Record<number, string> = {
  0: 'no file type', 1: 'relocatable object', 3: 'shared object or PIE', 4: 'core dump',
};

export interface ElfSegment {
  /** Program header index. */
  index: number;
  address: number;
  fileSize: number;
  memorySize: number;
}

export interface LoadedElf {
  writes: MemoryWrite[];
  /** Physical entry address. */
  entry: number;
  segments: ElfSegment[];
  /** Lowest physical address loaded. */
  start: number;
  /** One past the highest physical address loaded, bss included. */
  end: number;
}

interface ElfHeader {
  entry: number;
  programHeaderOffset: number;
  programHeaderSize: number;
  programHeaderCount: number;
}

interface RawSegment extends ElfSegment {
  virtualAddress: number;
  fileOffset: number;
}

export function isElf(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46;
}

/** Validates an ELF32 i386 executable and computes its memory writes and physical entry. */
export function loadElf32(image: GuestImage, memorySize: number): LoadedElf {
  const header = readElfHeader(image);
  const segments = readLoadSegments(image, header, memorySize);
  const entrySegment = segments.find(
    (segment) => header.entry >= segment.virtualAddress && header.entry < segment.virtualAddress + segment.memorySize,
  );
  if (entrySegment === undefined) {
    throw new ImageError(image.name, `entry point ${hex(header.entry)} is not inside any loadable segment`);
  }
  const writes: MemoryWrite[] = [];
  for (const segment of segments) {
    if (segment.fileSize > 0) {
      writes.push({
        address: segment.address,
        bytes: image.bytes.slice(segment.fileOffset, segment.fileOffset + segment.fileSize),
      });
    }
    if (segment.memorySize > segment.fileSize) {
      writes.push({
        address: segment.address + segment.fileSize,
        bytes: new Uint8Array(segment.memorySize - segment.fileSize),
      });
    }
  }
  return {
    writes,
    entry: header.entry - entrySegment.virtualAddress + entrySegment.address,
    segments: segments.map(({ index, address, fileSize, memorySize: size }) => ({ index, address, fileSize, memorySize: size })),
    start: Math.min(...segments.map((segment) => segment.address)),
    end: Math.max(...segments.map((segment) => segment.address + segment.memorySize)),
  };
}

export function planElf32(image: GuestImage, options: LoadOptions): BootPlan {
  const elf = loadElf32(image, options.memorySize);
  const count = elf.segments.length;
  return {
    format: 'elf32',
    writes: elf.writes,
    entry: { mode: 'protected32', eip: elf.entry, registers: registersWith({ esp: CONVENTIONAL_MEMORY_TOP }) },
    description:
      `ELF32 executable ${image.name}: ${count} segment${count === 1 ? '' : 's'} at ` +
      `${hex(elf.start)}-${hex(elf.end)}, entry ${hex(elf.entry)}`,
  };
}

function readElfHeader(image: GuestImage): ElfHeader {
  const { name, bytes } = image;
  if (!isElf(bytes)) {
    throw new ImageError(name, 'not an ELF image (no \\x7fELF magic at offset 0)');
  }
  if (bytes.length < IDENT_SIZE) {
    throw new ImageError(name, `truncated ELF image: identification needs ${IDENT_SIZE} bytes, file has ${bytes.length}`);
  }
  const elfClass = bytes[4];
  if (elfClass === CLASS_64) {
    throw new ImageError(name, 'ELF64 (64-bit) image; wasmvisor runs 32-bit x86 (i386) guests');
  }
  if (elfClass !== CLASS_32) {
    throw new ImageError(name, `invalid ELF class ${elfClass} (expected 1 = 32-bit)`);
  }
  if (bytes.length < ELF_HEADER_SIZE) {
    throw new ImageError(name, `truncated ELF image: ELF header needs ${ELF_HEADER_SIZE} bytes, file has ${bytes.length}`);
  }
  const encoding = bytes[5];
  if (encoding === BIG_ENDIAN) {
    throw new ImageError(name, 'big-endian ELF image; i386 images are little-endian');
  }
  if (encoding !== LITTLE_ENDIAN) {
    throw new ImageError(name, `invalid ELF data encoding ${encoding} (expected 1 = little-endian)`);
  }
  if (bytes[6] !== CURRENT_VERSION) {
    throw new ImageError(name, `unsupported ELF identification version ${bytes[6]} (expected 1)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = view.getUint16(16, true);
  const machine = view.getUint16(18, true);
  if (machine !== MACHINE_I386 && machine !== MACHINE_I486) {
    const machineName = MACHINE_NAMES[machine] ?? 'unknown';
    throw new ImageError(name, `ELF machine ${machine} (${machineName}) is not i386; wasmvisor runs 32-bit x86 guests`);
  }
  if (type !== TYPE_EXECUTABLE) {
    const typeName = TYPE_NAMES[type] ?? 'unknown';
    throw new ImageError(name, `ELF type ${type} (${typeName}) cannot be booted; only executables (ET_EXEC) can`);
  }
  const version = view.getUint32(20, true);
  if (version !== CURRENT_VERSION) {
    throw new ImageError(name, `unsupported ELF version ${version} (expected 1)`);
  }
  const header: ElfHeader = {
    entry: view.getUint32(24, true),
    programHeaderOffset: view.getUint32(28, true),
    programHeaderSize: view.getUint16(42, true),
    programHeaderCount: view.getUint16(44, true),
  };
  if (header.programHeaderCount === 0) {
    throw new ImageError(name, 'ELF image has no program headers, so nothing to load');
  }
  if (header.programHeaderSize < PROGRAM_HEADER_MIN_SIZE) {
    throw new ImageError(
      name,
      `ELF program header size ${header.programHeaderSize} is smaller than the ${PROGRAM_HEADER_MIN_SIZE} bytes of an Elf32_Phdr`,
    );
  }
  const tableEnd = header.programHeaderOffset + header.programHeaderCount * header.programHeaderSize;
  if (tableEnd > bytes.length) {
    throw new ImageError(
      name,
      `truncated ELF image: program header table runs past end of file (offset ${hex(header.programHeaderOffset)} + ` +
        `${header.programHeaderCount} * ${hex(header.programHeaderSize)} > ${hex(bytes.length)} bytes)`,
    );
  }
  return header;
}

function readLoadSegments(image: GuestImage, header: ElfHeader, memorySize: number): RawSegment[] {
  const { name, bytes } = image;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const segments: RawSegment[] = [];
  for (let index = 0; index < header.programHeaderCount; index++) {
    const at = header.programHeaderOffset + index * header.programHeaderSize;
    const type = view.getUint32(at, true);
    if (type === SEGMENT_INTERPRETER) {
      throw new ImageError(name, 'dynamically linked executable (has PT_INTERP); link the kernel statically');
    }
    if (type !== SEGMENT_LOAD) continue;
    const segment: RawSegment = {
      index,
      fileOffset: view.getUint32(at + 4, true),
      virtualAddress: view.getUint32(at + 8, true),
      address: view.getUint32(at + 12, true),
      fileSize: view.getUint32(at + 16, true),
      memorySize: view.getUint32(at + 20, true),
    };
    const what = `segment ${index}`;
    if (segment.fileSize > segment.memorySize) {
      throw new ImageError(
        name,
        `${what} has more file bytes than memory bytes (p_filesz ${hex(segment.fileSize)} > p_memsz ${hex(segment.memorySize)})`,
      );
    }
    if (segment.fileOffset + segment.fileSize > bytes.length) {
      throw new ImageError(
        name,
        `truncated ELF image: ${what} runs past end of file (offset ${hex(segment.fileOffset)} + ` +
          `${hex(segment.fileSize)} > ${hex(bytes.length)} bytes)`,
      );
    }
    if (segment.memorySize === 0) continue;
    checkGuestRange(name, what, segment.address, segment.memorySize, memorySize);
    const clash = segments.find((other) => rangesOverlap(other.address, other.memorySize, segment.address, segment.memorySize));
    if (clash !== undefined) {
      throw new ImageError(
        name,
        `${what} at ${hex(segment.address)}-${hex(segment.address + segment.memorySize)} overlaps segment ` +
          `${clash.index} at ${hex(clash.address)}-${hex(clash.address + clash.memorySize)}`,
      );
    }
    segments.push(segment);
  }
  if (segments.length === 0) {
    throw new ImageError(name, 'ELF image has no loadable (PT_LOAD) segments');
  }
  return segments;
}
