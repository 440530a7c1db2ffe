// The busybox initramfs layout: one static busybox, an /init script, the two device nodes
// the kernel and the shell need before devtmpfs is mounted, and empty mount points.
// The applet symlinks (sh, mount, ...) are made at boot by `busybox --install -s`, so the
// archive holds no per-applet entries and does not depend on the busybox version.

import { type CpioEntry, writeCpioGz } from './cpio.js';

/** Directories in creation order. --install -s links into /bin, /sbin, /usr/bin, /usr/sbin and does not create them. */
const DIRECTORIES: readonly { path: string; mode?: number }[] = [
  { path: 'bin' }, { path: 'sbin' }, { path: 'usr' }, { path: 'usr/bin' }, { path: 'usr/sbin' },
  { path: 'dev' }, { path: 'proc', mode: 0o555 }, { path: 'sys', mode: 0o555 },
  { path: 'tmp', mode: 0o1777 }, { path: 'root', mode: 0o700 }, { path: 'etc' },
];

/** The archive's members: busybox at /bin/busybox, `initScript` at /init, /dev/console and /dev/null. */
export function initramfsEntries(busybox: Uint8Array, initScript: Uint8Array): CpioEntry[] {
  return [
    ...DIRECTORIES.map((d): CpioEntry => ({ type: 'dir', ...d })),
    { type: 'file', path: 'bin/busybox', data: busybox, mode: 0o755 },
    { type: 'file', path: 'init', data: initScript, mode: 0o755 },
    // The kernel opens /dev/console for init's stdin/stdout before any /dev is mounted.
    { type: 'char', path: 'dev/console', major: 5, minor: 1, mode: 0o600 },
    { type: 'char', path: 'dev/null', major: 1, minor: 3, mode: 0o666 },
  ];
}

/** The gzip'd newc initramfs, byte-identical for the same inputs (every mtime is 0). */
export function buildInitramfs(busybox: Uint8Array, initScript: Uint8Array): Uint8Array {
  return writeCpioGz(initramfsEntries(busybox, initScript), { mtime: 0 });
}
