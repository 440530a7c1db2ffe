// Linux bzImage kernels, booted with the 32-bit boot protocol (Documentation/arch/x86/boot.rst,
// protocol 2.06 or later; zero page fields from Documentation/arch/x86/zero-page.rst).
// - The real-mode setup code never runs: we do its job by filling struct boot_params (the
//   "zero page") ourselves and jump straight to the protected-mode kernel.
// - The protected-mode kernel (the file after the (setup_sects + 1) * 512 setup bytes) is
//   always loaded at 1 MiB, the protocol's address for bzImages, relocatable or not. Loading
//   a relocatable kernel at pref_address instead would save nothing: its decompressor copies
//   itself to the runtime address (never below pref_address) either way.
// - That runtime footprint, [runtime start, + init_size), must fit in guest memory; the initrd
//   goes page-aligned as high as initrd_addr_max and guest memory allow, but above it.
// - Low memory: the GDT at 0x6000, boot_params at 0x7000, the command line at 0x20000, all
//   below the EBDA at 0x9FC00 and away from the Multiboot and flat-image addresses.
// - Entry: protected32, a GDT with flat __BOOT_CS (0x10) and __BOOT_DS (0x18) descriptors,
//   CS = 0x10, DS = ES = SS (and FS = GS) = 0x18, ESI = boot_params, every other register 0,
//   EIP = code32_start. The protocol sets no stack: the decompressor's first stack is the
//   boot_params scratch field.

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
  registersWith,
} from './boot-plan.js';

export const LINUX_KERNEL_ADDRESS = 0x100000;
export const LINUX_GDT_ADDRESS = 0x6000;
export const LINUX_BOOT_PARAMS_ADDRESS = 0x7000;
export const LINUX_CMDLINE_ADDRESS = 0x20000;
export const BOOT_CS = 0x10;
export const BOOT_DS = 0x18;

const BOOT_GDT_ENTRIES = 4;
const SECTOR = 512;
const PAGE_SIZE = 0x1000;
const FOUR_GIB = 0x1_0000_0000;
const BOOT_PARAMS_SIZE = 0x1000;

// Setup header offsets, in the file and in boot_params alike.
const SETUP_HEADER_START = 0x1f1;
const SETUP_SECTS = 0x1f1;
const SYSSIZE = 0x1f4;
const VID_MODE = 0x1fa;
const BOOT_FLAG = 0x1fe;
const JUMP_OFFSET = 0x201;
const HEADER_MAGIC = 0x202;
const VERSION = 0x206;
const TYPE_OF_LOADER = 0x210;
const LOADFLAGS = 0x211;
const CODE32_START = 0x214;
const RAMDISK_IMAGE = 0x218;
const RAMDISK_SIZE = 0x21c;
const HEAP_END_PTR = 0x224;
const CMD_LINE_PTR = 0x228;
const INITRD_ADDR_MAX = 0x22c;
const KERNEL_ALIGNMENT = 0x230;
const RELOCATABLE_KERNEL = 0x234;
const XLOADFLAGS = 0x236;
const CMDLINE_SIZE = 0x238;
const PREF_ADDRESS = 0x258;
const INIT_SIZE = 0x260;
/** The setup header lives in the hole of boot_params that ends where edd_mbr_sig_buffer starts. */
const SETUP_HEADER_LIMIT = 0x290;
/** Header end needed by the fields we read: cmdline_size (2.06), init_size (2.10). */
const HEADER_END_2_06 = 0x23c;
const HEADER_END_2_10 = 0x264;

// Zero page fields outside the setup header.
const SCREEN_INFO = 0x000;
const ALT_MEM_K = 0x1e0;
const E820_ENTRIES = 0x1e8;
const E820_TABLE = 0x2d0;
const E820_ENTRY_SIZE = 20;

const BOOT_FLAG_MAGIC = 0xaa55;
const MINIMUM_VERSION = 0x0206;
const VERSION_2_10 = 0x020a;
const VERSION_2_12 = 0x020c;
const LOADED_HIGH = 1 << 0;
const CAN_USE_HEAP = 1 << 7;
const XLF_KERNEL_64 = 1 << 0;
const LOADER_TYPE_UNDEFINED = 0xff;
const VID_MODE_NORMAL = 0xffff;
/** What the protocol's sample loader sets (heap end 0xE000 in the setup segment, minus 0x200). */
const HEAP_END_PTR_VALUE = 0xde00;

export interface LinuxSetupHeader {
  /** (major << 8) | minor, e.g. 0x020f for 2.15. */
  version: number;
  /** With 0 already replaced by 4. */
  setupSects: number;
  loadflags: number;
  /** Protected-mode code size in 16-byte paragraphs. */
  syssize: number;
  code32Start: number;
  initrdAddrMax: number;
  kernelAlignment: number;
  relocatable: boolean;
  cmdlineSize: number;
  /** 0 before protocol 2.10. */
  prefAddress: number;
  /** 0 before protocol 2.10. */
  initSize: number;
  /** 0 before protocol 2.12. */
  xloadflags: number;
  /** One past the last setup header byte copied into boot_params. */
  headerEnd: number;
  /** File offset of the protected-mode kernel. */
  kernelOffset: number;
  kernelSize: number;
}

/** A "HdrS" signature at 0x202: the file claims to be a Linux kernel with a setup header. */
export function hasLinuxSetupHeader(bytes: Uint8Array): boolean {
  return bytes.length >= HEADER_MAGIC + 4 && latin1(bytes, HEADER_MAGIC, 4) === 'HdrS';
}

export function formatProtocolVersion(version: number): string {
  return `${version >> 8}.${String(version & 0xff).padStart(2, '0')}`;
}

/** Validates the bzImage's setup header and reads the fields the 32-bit boot protocol needs. */
export function readLinuxSetupHeader(image: GuestImage): LinuxSetupHeader {
  const { name, bytes } = image;
  if (!hasLinuxSetupHeader(bytes)) {
    throw new ImageError(name, 'not a Linux bzImage (no "HdrS" signature at offset 0x202)');
  }
  if (bytes.length < VERSION + 2) {
    throw new ImageError(name, `truncated Linux setup header: the file ends at ${hex(bytes.length)}, before the protocol version at 0x206`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const bootFlag = view.getUint16(BOOT_FLAG, true);
  if (bootFlag !== BOOT_FLAG_MAGIC) {
    throw new ImageError(name, `not a Linux bzImage: boot_flag at 0x1fe is ${hex(bootFlag)}, expected 0xaa55`);
  }
  const version = view.getUint16(VERSION, true);
  if (version < MINIMUM_VERSION) {
    throw new ImageError(
      name,
      `Linux boot protocol ${formatProtocolVersion(version)} is too old; wasmvisor needs 2.06 or later (Linux 2.6.22 or newer)`,
    );
  }
  const neededEnd = version >= VERSION_2_10 ? HEADER_END_2_10 : HEADER_END_2_06;
  const headerEnd = Math.max(neededEnd, Math.min(HEADER_MAGIC + bytes[JUMP_OFFSET], SETUP_HEADER_LIMIT));
  if (bytes.length < headerEnd) {
    throw new ImageError(
      name,
      `truncated Linux setup header: protocol ${formatProtocolVersion(version)} header runs to ${hex(headerEnd)}, the file ends at ${hex(bytes.length)}`,
    );
  }
  const loadflags = bytes[LOADFLAGS];
  if ((loadflags & LOADED_HIGH) === 0) {
    throw new ImageError(name, 'Linux zImage (loadflags without LOADED_HIGH) loads below 1 MiB; wasmvisor boots bzImages only');
  }
  const setupSects = bytes[SETUP_SECTS] === 0 ? 4 : bytes[SETUP_SECTS];
  const kernelOffset = (setupSects + 1) * SECTOR;
  if (bytes.length <= kernelOffset) {
    throw new ImageError(
      name,
      `truncated bzImage: no protected-mode kernel after the ${setupSects + 1} setup sectors (the file ends at ${hex(bytes.length)})`,
    );
  }
  const kernelSize = bytes.length - kernelOffset;
  const syssize = view.getUint32(SYSSIZE, true);
  // syssize is rounded up to whole paragraphs, so the file may be up to 15 bytes shorter.
  if (syssize * 16 > alignUp(kernelSize, 16)) {
    throw new ImageError(
      name,
      `truncated bzImage: syssize says ${hex(syssize * 16)} bytes of protected-mode kernel, the file has ${hex(kernelSize)}`,
    );
  }
  return {
    version,
    setupSects,
    loadflags,
    syssize,
    code32Start: view.getUint32(CODE32_START, true),
    initrdAddrMax: view.getUint32(INITRD_ADDR_MAX, true),
    kernelAlignment: view.getUint32(KERNEL_ALIGNMENT, true),
    relocatable: bytes[RELOCATABLE_KERNEL] !== 0,
    cmdlineSize: view.getUint32(CMDLINE_SIZE, true),
    prefAddress: version >= VERSION_2_10 ? getUint64(view, PREF_ADDRESS) : 0,
    initSize: version >= VERSION_2_10 ? view.getUint32(INIT_SIZE, true) : 0,
    xloadflags: version >= VERSION_2_12 ? view.getUint16(XLOADFLAGS, true) : 0,
    headerEnd,
    kernelOffset,
    kernelSize,
  };
}

/**
 * Where the decompressor will run: a relocatable kernel at the load address aligned up to
 * kernel_alignment, but never below pref_address (LOAD_PHYSICAL_ADDR, as compressed/head_32.S
 * does); a fixed one at pref_address.
 */
export function linuxRuntimeStart(header: LinuxSetupHeader): number {
  if (!header.relocatable) return header.prefAddress || LINUX_KERNEL_ADDRESS;
  return Math.max(alignUp(LINUX_KERNEL_ADDRESS, header.kernelAlignment || 1), header.prefAddress);
}

export function planLinux(image: GuestImage, options: LoadOptions): BootPlan {
  const { name, bytes } = image;
  const header = readLinuxSetupHeader(image);
  if (header.xloadflags & XLF_KERNEL_64) {
    throw new ImageError(name, 'x86-64 Linux kernel (xloadflags has XLF_KERNEL_64); wasmvisor runs 32-bit x86 guests, use an i686 kernel');
  }
  const memorySize = options.memorySize;
  const kernelEnd = LINUX_KERNEL_ADDRESS + header.kernelSize;
  checkGuestRange(name, `protected-mode kernel (${hex(header.kernelSize)} bytes)`, LINUX_KERNEL_ADDRESS, header.kernelSize, memorySize);
  const entry = header.code32Start;
  if (entry < LINUX_KERNEL_ADDRESS || entry >= kernelEnd) {
    throw new ImageError(name, `code32_start ${hex(entry)} is outside the protected-mode kernel loaded at ${hex(LINUX_KERNEL_ADDRESS)}-${hex(kernelEnd)}`);
  }
  const runtimeStart = linuxRuntimeStart(header);
  const footprintEnd = Math.max(kernelEnd, runtimeStart + header.initSize);
  if (footprintEnd > memorySize) {
    throw new ImageError(
      name,
      `the kernel needs memory up to ${hex(footprintEnd)} to decompress (runtime start ${hex(runtimeStart)} + init_size ` +
        `${hex(header.initSize)}), guest memory is ${hex(memorySize)} bytes; give the guest more memory`,
    );
  }
  const cmdline = encodeCommandLine(name, options.cmdline ?? '', header.cmdlineSize);
  const initrd = options.initrd === undefined ? undefined : placeInitrd(options.initrd, header, footprintEnd, memorySize);
  const bootParams = buildBootParams(bytes, header, memorySize, initrd);
  const writes: MemoryWrite[] = [
    { address: LINUX_GDT_ADDRESS, bytes: bootGdt() },
    { address: LINUX_BOOT_PARAMS_ADDRESS, bytes: bootParams },
    { address: LINUX_CMDLINE_ADDRESS, bytes: cmdline },
    { address: LINUX_KERNEL_ADDRESS, bytes: bytes.slice(header.kernelOffset) },
  ];
  if (initrd !== undefined) writes.push({ address: initrd.address, bytes: initrd.image.bytes.slice() });
  const initrdNote = initrd === undefined ? 'no initrd' : `initrd ${hex(initrd.image.bytes.length)} bytes at ${hex(initrd.address)}`;
  return {
    format: 'linux',
    writes,
    entry: {
      mode: 'protected32',
      eip: entry,
      registers: registersWith({ esi: LINUX_BOOT_PARAMS_ADDRESS }),
      gdt: { base: LINUX_GDT_ADDRESS, limit: BOOT_GDT_ENTRIES * 8 - 1 },
      selectors: { cs: BOOT_CS, ds: BOOT_DS, es: BOOT_DS, ss: BOOT_DS, fs: BOOT_DS, gs: BOOT_DS },
    },
    description:
      `Linux bzImage ${name} (boot protocol ${formatProtocolVersion(header.version)}): ${hex(header.kernelSize)} bytes at ` +
      `${hex(LINUX_KERNEL_ADDRESS)}, entry ${hex(entry)}, decompresses to ${hex(runtimeStart)}-${hex(runtimeStart + header.initSize)}, ` +
      `boot_params at ${hex(LINUX_BOOT_PARAMS_ADDRESS)}, command line ${cmdline.length - 1} bytes, ${initrdNote}`,
  };
}

interface PlacedInitrd {
  image: GuestImage;
  address: number;
}

function encodeCommandLine(file: string, text: string, cmdlineSize: number): Uint8Array {
  if (text.includes('\0')) {
    throw new ImageError(file, 'the kernel command line contains a NUL character');
  }
  const encoded = new TextEncoder().encode(text);
  const room = CONVENTIONAL_MEMORY_TOP - LINUX_CMDLINE_ADDRESS - 1;
  const limit = Math.min(cmdlineSize, room);
  if (encoded.length > limit) {
    const why = limit === cmdlineSize ? `the kernel's cmdline_size is ${cmdlineSize}` : `only ${room} bytes fit in low memory`;
    throw new ImageError(file, `the kernel command line is ${encoded.length} bytes, too long: ${why}`);
  }
  const bytes = new Uint8Array(encoded.length + 1);
  bytes.set(encoded);
  return bytes;
}

/** Highest page-aligned start whose last byte is at most initrd_addr_max and inside memory. */
function placeInitrd(initrd: GuestImage, header: LinuxSetupHeader, footprintEnd: number, memorySize: number): PlacedInitrd {
  const size = initrd.bytes.length;
  const top = Math.min(header.initrdAddrMax + 1, memorySize, FOUR_GIB);
  const address = Math.floor((top - size) / PAGE_SIZE) * PAGE_SIZE;
  const floor = alignUp(footprintEnd, PAGE_SIZE);
  if (address < floor) {
    throw new ImageError(
      initrd.name,
      `initrd (${hex(size)} bytes) does not fit between the kernel's footprint end ${hex(floor)} and ${hex(top)} ` +
        `(initrd_addr_max ${hex(header.initrdAddrMax)}, guest memory ${hex(memorySize)} bytes); give the guest more memory`,
    );
  }
  return { image: initrd, address };
}

function buildBootParams(kernel: Uint8Array, header: LinuxSetupHeader, memorySize: number, initrd: PlacedInitrd | undefined): Uint8Array {
  const params = new Uint8Array(BOOT_PARAMS_SIZE);
  const view = new DataView(params.buffer);
  params.set(kernel.subarray(SETUP_HEADER_START, header.headerEnd), SETUP_HEADER_START);
  view.setUint16(VID_MODE, VID_MODE_NORMAL, true);
  params[TYPE_OF_LOADER] = LOADER_TYPE_UNDEFINED;
  params[LOADFLAGS] = header.loadflags | CAN_USE_HEAP;
  view.setUint16(HEAP_END_PTR, HEAP_END_PTR_VALUE, true);
  view.setUint32(CMD_LINE_PTR, LINUX_CMDLINE_ADDRESS, true);
  view.setUint32(RAMDISK_IMAGE, initrd?.address ?? 0, true);
  view.setUint32(RAMDISK_SIZE, initrd?.image.bytes.length ?? 0, true);
  const extendedKiB = Math.floor((memorySize - ROM_HOLE_END) / 1024);
  writeScreenInfo(view, Math.min(extendedKiB, 0xffff));
  view.setUint32(ALT_MEM_K, extendedKiB, true);
  const map = pcMemoryMap(memorySize);
  params[E820_ENTRIES] = map.length;
  map.forEach((entry, index) => {
    const at = E820_TABLE + index * E820_ENTRY_SIZE;
    setUint64(view, at, entry.base);
    setUint64(view, at + 8, entry.length);
    view.setUint32(at + 16, entry.type, true);
  });
  return params;
}

/** An 80x25 colour VGA text console (mode 3), cursor at the top left of a blank screen. */
function writeScreenInfo(view: DataView, extendedKiB: number): void {
  view.setUint8(SCREEN_INFO + 0x00, 0); // orig_x
  view.setUint8(SCREEN_INFO + 0x01, 0); // orig_y
  view.setUint16(SCREEN_INFO + 0x02, extendedKiB, true); // ext_mem_k
  view.setUint8(SCREEN_INFO + 0x06, 3); // orig_video_mode
  view.setUint8(SCREEN_INFO + 0x07, 80); // orig_video_cols
  // orig_video_ega_bx: what INT 10h AH=12h BL=10h returns on VGA (colour, 256 KiB); a low byte
  // of 0x10 would make vgacon take the card for a CGA.
  view.setUint16(SCREEN_INFO + 0x0a, 0x0003, true);
  view.setUint8(SCREEN_INFO + 0x0e, 25); // orig_video_lines
  view.setUint8(SCREEN_INFO + 0x0f, 1); // orig_video_isVGA
  view.setUint16(SCREEN_INFO + 0x10, 16, true); // orig_video_points: 16-line font
}


/** Null, unused, then flat 4 GiB __BOOT_CS (execute/read) and __BOOT_DS (read/write), as Linux's own setup builds them. */
function bootGdt(): Uint8Array {
  const gdt = new Uint8Array(BOOT_GDT_ENTRIES * 8);
  const view = new DataView(gdt.buffer);
  setUint64Parts(view, BOOT_CS, 0x0000ffff, 0x00cf9b00);
  setUint64Parts(view, BOOT_DS, 0x0000ffff, 0x00cf9300);
  return gdt;
}

function setUint64Parts(view: DataView, offset: number, low: number, high: number): void {
  view.setUint32(offset, low, true);
  view.setUint32(offset + 4, high, true);
}

function setUint64(view: DataView, offset: number, value: number): void {
  setUint64Parts(view, offset, value % FOUR_GIB, Math.floor(value / FOUR_GIB));
}

function getUint64(view: DataView, offset: number): number {
  return view.getUint32(offset, true) + view.getUint32(offset + 4, true) * FOUR_GIB;
}

function latin1(bytes: Uint8Array, offset: number, length: number): string {
  return String.fromCharCode(...bytes.subarray(offset, offset + length));
}
