// Chooses a loader for a guest image. With format 'auto':
// 1. a valid Multiboot v1 header in the first 8192 bytes means Multiboot (even for ELF files);
// 2. the \x7fELF magic means a plain ELF32 boot (elf32.ts rejects ELF64 and other machines);
// 3. a Linux setup header ("HdrS" at 0x202) means the Linux boot protocol (also with an EFI
//    stub's "MZ" in front);
// 4. formats we recognise but cannot boot are refused with a message saying what they are;
// 5. names ending in .bin, .img, .com or .raw are flat images; anything else is refused,
//    because silently running unknown bytes in real mode helps nobody.
// A Multiboot magic with a bad checksum is not a header: an ELF still boots as plain ELF (the
// plan's description says the magic was ignored), a flat-named file still boots flat, and any
// other file is refused with the checksum error, the likeliest explanation.

import { type BootPlan, type GuestImage, type LoadOptions, ImageError, hex } from './boot-plan.js';
import { isElf, planElf32 } from './elf32.js';
import { planFlat } from './flat.js';
import { hasLinuxSetupHeader, planLinux } from './linux.js';
import { describeBadChecksum, findMultibootHeader, planMultiboot } from './multiboot.js';

const FLAT_IMAGE_NAME = /\.(bin|img|com|raw)$/i;
const DOS_HEADER_NEW_OFFSET_FIELD = 0x3c;

export function planBoot(image: GuestImage, options: LoadOptions): BootPlan {
  switch (options.format ?? 'auto') {
    case 'flat':
      return planFlat(image, options);
    case 'elf32':
      return planElf32(image, options);
    case 'multiboot':
      return planMultiboot(image, options);
    case 'linux':
      return planLinux(image, options);
    case 'auto':
      return planDetected(image, options);
  }
}

function planDetected(image: GuestImage, options: LoadOptions): BootPlan {
  const { name, bytes } = image;
  if (bytes.length === 0) {
    throw new ImageError(name, 'empty file');
  }
  const header = findMultibootHeader(bytes);
  if (header.kind === 'found') {
    return planMultiboot(image, options);
  }
  if (isElf(bytes)) {
    const plan = planElf32(image, options);
    if (header.kind !== 'bad-checksum') return plan;
    return {
      ...plan,
      description: `${plan.description}; ignored Multiboot magic at offset ${hex(header.offset)} (bad checksum)`,
    };
  }
  // Before the foreign formats: bzImages with an EFI stub also start with "MZ".
  if (hasLinuxSetupHeader(bytes)) {
    return planLinux(image, options);
  }
  const foreign = recogniseForeignFormat(bytes);
  if (foreign !== undefined) {
    throw new ImageError(name, foreign);
  }
  if (FLAT_IMAGE_NAME.test(name)) {
    return planFlat(image, options);
  }
  if (header.kind === 'bad-checksum') {
    throw new ImageError(name, describeBadChecksum(header));
  }
  throw new ImageError(name, 'unrecognised image format (not ELF32, not Multiboot); pass --format flat to load raw bytes');
}

/** Names a format we know but cannot boot, or returns undefined. */
function recogniseForeignFormat(bytes: Uint8Array): string | undefined {
  if (asciiAt(bytes, 0, 'MZ')) {
    return isPortableExecutable(bytes)
      ? 'PE executable (Windows or UEFI), not a bootable guest image; wasmvisor boots ELF32, Multiboot and flat images'
      : 'MZ (DOS) executable, not a bootable guest image; wasmvisor boots ELF32, Multiboot and flat images';
  }
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    return 'gzip-compressed file; decompress it first (gunzip)';
  }
  if (asciiAt(bytes, 0, '#!')) {
    return 'shell script ("#!" line), not a guest image';
  }
  return undefined;
}

function isPortableExecutable(bytes: Uint8Array): boolean {
  if (bytes.length < DOS_HEADER_NEW_OFFSET_FIELD + 4) return false;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return asciiAt(bytes, view.getUint32(DOS_HEADER_NEW_OFFSET_FIELD, true), 'PE\0\0');
}

function asciiAt(bytes: Uint8Array, offset: number, text: string): boolean {
  if (offset + text.length > bytes.length) return false;
  for (let index = 0; index < text.length; index++) {
    if (bytes[offset + index] !== text.charCodeAt(index)) return false;
  }
  return true;
}
