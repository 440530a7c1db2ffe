// Checks that fetched guest files are what the recipe expects before anything boots them:
// a bzImage with a Linux setup header, and a statically linked ELF32 i386 busybox.

export interface BzImageInfo {
  /** Boot protocol version from the setup header (0x206), e.g. "2.15". */
  protocol: string;
  /** The kernel's version string, when the header points at one (kernel_version, 0x20E). */
  kernelVersion?: string;
}

/** Reads a bzImage's setup header (Documentation/arch/x86/boot.rst); throws naming `what` if there is none. */
export function checkBzImage(bytes: Uint8Array, what: string): BzImageInfo {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 0x280 || String.fromCharCode(...bytes.subarray(0x202, 0x206)) !== 'HdrS') {
    throw new Error(`${what} is not a Linux bzImage (no "HdrS" setup header signature at 0x202)`);
  }
  const version = view.getUint16(0x206, true);
  const info: BzImageInfo = { protocol: `${version >> 8}.${String(version & 0xff).padStart(2, '0')}` };
  const pointer = view.getUint16(0x20e, true);
  if (pointer !== 0 && pointer + 0x200 < bytes.length) {
    const start = pointer + 0x200;
    const end = bytes.indexOf(0, start);
    info.kernelVersion = String.fromCharCode(...bytes.subarray(start, end < 0 ? start : Math.min(end, start + 256)));
  }
  return info;
}

const EM_386 = 3;
const ET_EXEC = 2;
const ET_DYN = 3;
const PT_INTERP = 3;

/**
 * Checks for a 32-bit little-endian i386 executable without a program interpreter (so it
 * runs with no libc in the initramfs); throws naming `what` otherwise. Returns "static" or
 * "static-pie".
 */
export function checkStaticElf32I386(bytes: Uint8Array, what: string): 'static' | 'static-pie' {
  const fail = (why: string): never => { throw new Error(`${what} is not a static ELF32 i386 executable: ${why}`); };
  if (bytes.length < 52 || bytes[0] !== 0x7f || String.fromCharCode(...bytes.subarray(1, 4)) !== 'ELF') fail('no ELF magic');
  if (bytes[4] !== 1) fail('not ELFCLASS32');
  if (bytes[5] !== 1) fail('not little-endian');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = view.getUint16(16, true);
  if (view.getUint16(18, true) !== EM_386) fail(`machine ${view.getUint16(18, true)}, want EM_386 (3)`);
  if (type !== ET_EXEC && type !== ET_DYN) fail(`ELF type ${type} is not an executable`);
  const phoff = view.getUint32(28, true);
  const phentsize = view.getUint16(42, true);
  const phnum = view.getUint16(44, true);
  if (phnum === 0 || phoff + phnum * phentsize > bytes.length) fail('program headers missing or truncated');
  for (let i = 0; i < phnum; i++) {
    if (view.getUint32(phoff + i * phentsize, true) === PT_INTERP) fail('it is dynamically linked (has PT_INTERP)');
  }
  return type === ET_EXEC ? 'static' : 'static-pie';
}
