// The "newc" cpio format (SVR4 without checksums, magic 070701) that the Linux kernel
// unpacks as an initramfs (Documentation/driver-api/early-userspace/buffer-format.rst).
//
// Each member is a 110-byte ASCII header (magic + 13 eight-digit hex fields), the
// NUL-terminated name padded so header + name end on a 4-byte boundary, then the data
// padded to 4 bytes. The archive ends with a member named TRAILER!!!.

import { gzipSync } from 'node:zlib';

/** Permission bits default to 0755 for directories, 0644 for files, 0600 for device nodes. */
export type CpioEntry =
  | { type: 'dir'; path: string; mode?: number }
  | { type: 'file'; path: string; data: Uint8Array; mode?: number }
  | { type: 'symlink'; path: string; target: string }
  | { type: 'char' | 'block'; path: string; major: number; minor: number; mode?: number };

export interface CpioOptions {
  /** Modification time of every member, in seconds since the epoch; 0 keeps archives reproducible. */
  mtime?: number;
}

const MAGIC = '070701';
const HEADER_SIZE = 110;
const TRAILER = 'TRAILER!!!';

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const S_IFMT = 0o170000;

const align4 = (n: number): number => (n + 3) & ~3;

/** Archive paths are relative ("bin/busybox"), as the kernel and `cpio -id` expect. */
function checkPath(path: string): void {
  if (path === '' || path.startsWith('/') || path.split('/').some((part) => part === '' || part === '.' || part === '..')) {
    throw new Error(`cpio: bad member path "${path}" (want a relative path without empty, . or .. parts)`);
  }
}

interface RawMember {
  name: string;
  mode: number;
  nlink: number;
  rdevMajor: number;
  rdevMinor: number;
  data: Uint8Array;
}

function toRaw(entry: CpioEntry): RawMember {
  checkPath(entry.path);
  const base = { name: entry.path, nlink: 1, rdevMajor: 0, rdevMinor: 0, data: new Uint8Array(0) };
  switch (entry.type) {
    case 'dir': return { ...base, mode: S_IFDIR | (entry.mode ?? 0o755), nlink: 2 };
    case 'file': return { ...base, mode: S_IFREG | (entry.mode ?? 0o644), data: entry.data };
    case 'symlink': return { ...base, mode: S_IFLNK | 0o777, data: new TextEncoder().encode(entry.target) };
    case 'char':
    case 'block':
      return {
        ...base,
        mode: (entry.type === 'char' ? S_IFCHR : S_IFBLK) | (entry.mode ?? 0o600),
        rdevMajor: entry.major,
        rdevMinor: entry.minor,
      };
  }
}

function hex8(value: number): string {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new Error(`cpio: field value ${value} out of range`);
  return value.toString(16).padStart(8, '0');
}

/** Writes one member at `out[pos]` and returns the position after its padding. */
function writeMember(out: Uint8Array, pos: number, m: RawMember, ino: number, mtime: number): number {
  const name = new TextEncoder().encode(m.name + '\0');
  const fields = [ino, m.mode, 0, 0, m.nlink, mtime, m.data.length, 0, 0, m.rdevMajor, m.rdevMinor, name.length, 0];
  const header = MAGIC + fields.map(hex8).join('');
  for (let i = 0; i < HEADER_SIZE; i++) out[pos + i] = header.charCodeAt(i);
  out.set(name, pos + HEADER_SIZE);
  const dataStart = pos + align4(HEADER_SIZE + name.length);
  out.set(m.data, dataStart);
  return dataStart + align4(m.data.length);
}

function memberSize(m: RawMember): number {
  return align4(HEADER_SIZE + new TextEncoder().encode(m.name).length + 1) + align4(m.data.length);
}

/** Builds an uncompressed newc archive. Members keep their order; each gets its own inode number. */
export function writeCpio(entries: readonly CpioEntry[], options: CpioOptions = {}): Uint8Array {
  const seen = new Set<string>();
  for (const e of entries) {
    if (seen.has(e.path)) throw new Error(`cpio: duplicate member "${e.path}"`);
    seen.add(e.path);
  }
  const trailer: RawMember = { name: TRAILER, mode: 0, nlink: 1, rdevMajor: 0, rdevMinor: 0, data: new Uint8Array(0) };
  const members = [...entries.map(toRaw), trailer];
  const out = new Uint8Array(members.reduce((sum, m) => sum + memberSize(m), 0));
  let pos = 0;
  members.forEach((m, i) => {
    // The trailer conventionally has inode 0; the kernel only uses inodes to link hard links.
    pos = writeMember(out, pos, m, m === trailer ? 0 : i + 1, m === trailer ? 0 : options.mtime ?? 0);
  });
  return out;
}

/** A newc archive compressed with gzip, the form the kernel's initramfs unpacker takes. */
export function writeCpioGz(entries: readonly CpioEntry[], options: CpioOptions = {}): Uint8Array {
  return new Uint8Array(gzipSync(writeCpio(entries, options), { level: 9 }));
}

/** One member as read back, with every header field the writer sets. */
export interface CpioMember {
  path: string;
  ino: number;
  /** File type and permission bits (st_mode). */
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  mtime: number;
  rdevMajor: number;
  rdevMinor: number;
  data: Uint8Array;
}

/** Reads an uncompressed newc archive up to its trailer, checking magic and alignment. */
export function readCpio(bytes: Uint8Array): CpioMember[] {
  const members: CpioMember[] = [];
  const ascii = (from: number, length: number): string => String.fromCharCode(...bytes.subarray(from, from + length));
  let pos = 0;
  for (;;) {
    if (pos + HEADER_SIZE > bytes.length) throw new Error(`cpio: archive ends at ${pos} without ${TRAILER}`);
    if (ascii(pos, 6) !== MAGIC) throw new Error(`cpio: bad magic "${ascii(pos, 6)}" at offset ${pos}`);
    const field = (i: number): number => {
      const text = ascii(pos + 6 + i * 8, 8);
      if (!/^[0-9a-fA-F]{8}$/.test(text)) throw new Error(`cpio: bad header field "${text}" at offset ${pos}`);
      return parseInt(text, 16);
    };
    const nameSize = field(11);
    const fileSize = field(6);
    const nameEnd = pos + HEADER_SIZE + nameSize;
    if (nameSize < 1 || nameEnd > bytes.length || bytes[nameEnd - 1] !== 0) {
      throw new Error(`cpio: bad name at offset ${pos}`);
    }
    const path = ascii(pos + HEADER_SIZE, nameSize - 1);
    const dataStart = pos + align4(HEADER_SIZE + nameSize);
    if (dataStart + fileSize > bytes.length) throw new Error(`cpio: member "${path}" runs past the end`);
    if (path === TRAILER) return members;
    members.push({
      path,
      ino: field(0),
      mode: field(1),
      uid: field(2),
      gid: field(3),
      nlink: field(4),
      mtime: field(5),
      rdevMajor: field(9),
      rdevMinor: field(10),
      data: bytes.slice(dataStart, dataStart + fileSize),
    });
    pos = dataStart + align4(fileSize);
  }
}

/** The member's type as the writer's entry type names it. */
export function memberType(m: CpioMember): CpioEntry['type'] | 'other' {
  switch (m.mode & S_IFMT) {
    case S_IFDIR: return 'dir';
    case S_IFREG: return 'file';
    case S_IFLNK: return 'symlink';
    case S_IFCHR: return 'char';
    case S_IFBLK: return 'block';
    default: return 'other';
  }
}
