// Flat (raw) images: the bytes are copied unchanged to one physical address and entered in
// real mode, like a boot sector the BIOS has just loaded.
// - Default address 0x7C00. CS:IP = 0000:address while the address fits in 16 bits, otherwise
//   CS = address >> 4, IP = address & 0xF.
// - EDX = 0x80 (the BIOS passes the boot drive in DL; 0x80 is the first hard disk).
// - ESP = the load address when it is at most 0xFFFF (the stack grows down below the image,
//   as with the classic SS:SP = 0000:7C00), otherwise 0xFFFE (top of the first 64 KiB, which
//   is then below the image). The machine keeps SS = 0; EntryState has no SS.
// - The image must lie entirely in conventional memory [0, 0xA0000): real-mode code cannot
//   start above 1 MiB, and the VGA/ROM hole above 0xA0000 is not RAM.

import {
  type BootPlan,
  type GuestImage,
  type LoadOptions,
  ImageError,
  ROM_HOLE_START,
  hex,
  registersWith,
} from './boot-plan.js';

export const DEFAULT_FLAT_ADDRESS = 0x7c00;
const BOOT_DRIVE_FIRST_HARD_DISK = 0x80;
const REAL_MODE_OFFSET_LIMIT = 0xffff;
const HIGH_IMAGE_STACK_TOP = 0xfffe;

export function planFlat(image: GuestImage, options: LoadOptions): BootPlan {
  const { name, bytes } = image;
  const address = options.flatAddress ?? DEFAULT_FLAT_ADDRESS;
  if (bytes.length === 0) {
    throw new ImageError(name, 'empty file');
  }
  if (!Number.isInteger(address) || address < 0) {
    throw new ImageError(name, `flat load address ${address} is not a non-negative integer`);
  }
  const end = address + bytes.length;
  if (address >= ROM_HOLE_START || end > ROM_HOLE_START) {
    throw new ImageError(
      name,
      `flat image at ${hex(address)}-${hex(end)} does not fit in conventional memory below ${hex(ROM_HOLE_START)} ` +
        `(real-mode images must end there; the VGA/ROM hole follows)`,
    );
  }
  if (end > options.memorySize) {
    throw new ImageError(
      name,
      `flat image at ${hex(address)}-${hex(end)} does not fit in guest memory (${hex(options.memorySize)} bytes)`,
    );
  }
  const fitsInOffset = address <= REAL_MODE_OFFSET_LIMIT;
  const cs = fitsInOffset ? 0 : address >> 4;
  const ip = fitsInOffset ? address : address & 0xf;
  return {
    format: 'flat',
    writes: [{ address, bytes: bytes.slice() }],
    entry: {
      mode: 'real',
      cs,
      eip: ip,
      registers: registersWith({
        edx: BOOT_DRIVE_FIRST_HARD_DISK,
        esp: fitsInOffset ? address : HIGH_IMAGE_STACK_TOP,
      }),
    },
    description: `flat image ${name}: ${bytes.length} bytes at ${hex(address)}, real mode entry ${hex(cs)}:${hex(ip)}`,
  };
}
