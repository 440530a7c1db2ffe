// The Debian guest recipe without the network: package-name resolution from canned apt
// output, the file checks on hand-made images, the initramfs layout from a fake busybox,
// the init scripts, and prepareDebianGuest working offline from a filled cache.

import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { repoRoot } from '../guests/build.js';
import { hasCandidate, kernelFromDepends, kernelFromSearch, parseControlFields } from '../host/apt.js';
import { memberType, readCpio } from '../host/cpio.js';
import { MANIFEST, type GuestManifest } from '../host/debian-fetch.js';
import { prepareDebianGuest } from '../host/debian-guest.js';
import { checkBzImage, checkStaticElf32I386 } from '../host/guest-file-checks.js';
import { buildInitramfs } from '../host/initramfs.js';

// Captured on Debian 12 (amd64 with i386 added), November 2026.
const DEPENDS = 'linux-image-686:i386\n  Depends: linux-image-6.1.0-50-686:i386\n';
const SEARCH = `linux-image-6.1.0-47-686-dbg - Debug symbols for linux-image-6.1.0-47-686
linux-image-6.1.0-47-686-pae-dbg - Debug symbols for linux-image-6.1.0-47-686-pae
linux-image-6.1.0-47-686-pae-unsigned - Linux 6.1 for modern PCs
linux-image-6.1.0-47-686-unsigned - Linux 6.1 for older PCs
linux-image-6.1.0-50-686-dbg - Debug symbols for linux-image-6.1.0-50-686
linux-image-6.1.0-50-686-pae-dbg - Debug symbols for linux-image-6.1.0-50-686-pae
linux-image-6.1.0-50-686-pae-unsigned - Linux 6.1 for modern PCs
linux-image-6.1.0-50-686-unsigned - Linux 6.1 for older PCs
linux-image-6.1.0-47-686 - Linux 6.1 for older PCs (signed)
linux-image-6.1.0-47-686-pae - Linux 6.1 for modern PCs (signed)
linux-image-6.1.0-50-686 - Linux 6.1 for older PCs (signed)
linux-image-6.1.0-50-686-pae - Linux 6.1 for modern PCs (signed)
`;
const POLICY = `linux-image-6.1.0-50-686-unsigned:i386:
  Installed: (none)
  Candidate: 6.1.176-1
  Version table:
     6.1.176-1 500
        500 http://deb.debian.org/debian bookworm/main i386 Packages
`;

/** A buffer with a Linux setup header: "HdrS", protocol 2.15, and a kernel version string. */
function fakeBzImage(): Uint8Array {
  const image = new Uint8Array(0x1000);
  const view = new DataView(image.buffer);
  view.setUint16(0x1fe, 0xaa55, true);
  image.set(new TextEncoder().encode('HdrS'), 0x202);
  view.setUint16(0x206, 0x020f, true);
  view.setUint16(0x20e, 0x300, true); // the string sits at 0x300 + 0x200
  image.set(new TextEncoder().encode('6.1.0-test-686 #1\0'), 0x500);
  return image;
}

/** An ELF32 header plus one program header of type `phType` (1 PT_LOAD, 3 PT_INTERP). */
function fakeElf({ cls = 1, machine = 3, type = 2, phType = 1 } = {}): Uint8Array {
  const elf = new Uint8Array(52 + 32 + 16);
  const view = new DataView(elf.buffer);
  elf.set([0x7f, 0x45, 0x4c, 0x46, cls, 1, 1]);
  view.setUint16(16, type, true);
  view.setUint16(18, machine, true);
  view.setUint32(28, 52, true); // e_phoff
  view.setUint16(42, 32, true); // e_phentsize
  view.setUint16(44, 1, true); // e_phnum
  view.setUint32(52, phType, true);
  return elf;
}

describe('Debian guest: package resolution from apt output', () => {
  it('takes the versioned 686 image from apt-cache depends linux-image-686:i386', () => {
    expect(kernelFromDepends(DEPENDS)).to.equal('linux-image-6.1.0-50-686');
    expect(kernelFromDepends('linux-image-686\n  Depends: linux-image-6.1.0-13-686-unsigned\n')).to.equal('linux-image-6.1.0-13-686-unsigned');
  });

  it('skips alternatives that are not plain 686 images, and finds none in unrelated output', () => {
    const output = 'linux-image-686:i386\n |Depends: <linux-image-6.1.0-50-686-pae:i386>\n  Depends: firmware-linux-free\n  Recommends: irqbalance:i386\n  Depends: linux-image-6.1.0-50-686:i386\n';
    expect(kernelFromDepends(output)).to.equal('linux-image-6.1.0-50-686');
    expect(kernelFromDepends('  Recommends: linux-image-6.1.0-50-686:i386\n')).to.equal(undefined);
    expect(kernelFromDepends('')).to.equal(undefined);
  });

  it('takes the newest non-PAE image from apt-cache search, preferring -unsigned', () => {
    expect(kernelFromSearch(SEARCH)).to.equal('linux-image-6.1.0-50-686-unsigned');
    expect(kernelFromSearch('linux-image-6.1.0-9-686 - x\nlinux-image-6.1.0-10-686 - y\n')).to.equal('linux-image-6.1.0-10-686');
    expect(kernelFromSearch('linux-image-6.1.0-50-686-pae - x\n')).to.equal(undefined);
  });

  it('reads candidates from apt-cache policy and fields from dpkg-deb -f', () => {
    expect(hasCandidate(POLICY)).to.equal(true);
    expect(hasCandidate('busybox-static:i386:\n  Installed: (none)\n  Candidate: (none)\n')).to.equal(false);
    expect(hasCandidate('')).to.equal(false); // apt-cache policy prints nothing for an unknown package
    expect(parseControlFields('Package: busybox-static\nVersion: 1:1.35.0-4+deb12u1+b1\n'))
      .to.deep.equal({ Package: 'busybox-static', Version: '1:1.35.0-4+deb12u1+b1' });
  });
});

describe('Debian guest: file checks', () => {
  it('reads the bzImage setup header version and kernel version string', () => {
    expect(checkBzImage(fakeBzImage(), 'k')).to.deep.equal({ protocol: '2.15', kernelVersion: '6.1.0-test-686 #1' });
    expect(() => checkBzImage(new Uint8Array(0x1000), 'vmlinuz-x')).to.throw(/vmlinuz-x is not a Linux bzImage.*HdrS/);
  });

  it('accepts static ELF32 i386 executables only', () => {
    expect(checkStaticElf32I386(fakeElf(), 'bb')).to.equal('static');
    expect(checkStaticElf32I386(fakeElf({ type: 3 }), 'bb')).to.equal('static-pie');
    expect(() => checkStaticElf32I386(fakeElf({ phType: 3 }), 'bb')).to.throw(/dynamically linked/);
    expect(() => checkStaticElf32I386(fakeElf({ cls: 2 }), 'bb')).to.throw(/ELFCLASS32/);
    expect(() => checkStaticElf32I386(fakeElf({ machine: 62 }), 'bb')).to.throw(/EM_386/);
    expect(() => checkStaticElf32I386(new TextEncoder().encode('#!/bin/sh\n'.padEnd(64)), 'bb')).to.throw(/bb is not .*ELF magic/);
  });
});

describe('Debian guest: initramfs and init scripts', () => {
  const linuxDir = path.join(repoRoot(), 'guests', 'linux');
  const fakeBusybox = fakeElf();
  const initScript = fs.readFileSync(path.join(linuxDir, 'init'));

  it('lays out busybox, /init, the device nodes and the empty mount points', () => {
    const members = readCpio(new Uint8Array(gunzipSync(buildInitramfs(fakeBusybox, initScript))));
    const byPath = new Map(members.map((m) => [m.path, m]));
    for (const dir of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'dev', 'proc', 'sys', 'tmp', 'root']) {
      expect(memberType(byPath.get(dir)!), dir).to.equal('dir');
    }
    expect(byPath.get('tmp')!.mode & 0o7777).to.equal(0o1777);
    expect(byPath.get('bin/busybox')).to.include({ mode: 0o100755 });
    expect(byPath.get('bin/busybox')!.data).to.deep.equal(fakeBusybox);
    expect(byPath.get('init')).to.include({ mode: 0o100755 });
    expect(Buffer.from(byPath.get('init')!.data).equals(initScript)).to.equal(true);
    expect(byPath.get('dev/console')).to.include({ mode: 0o020600, rdevMajor: 5, rdevMinor: 1 });
    expect(byPath.get('dev/null')).to.include({ mode: 0o020666, rdevMajor: 1, rdevMinor: 3 });
    // Applet links come from `busybox --install -s` at boot, so none are in the archive.
    expect(members.filter((m) => memberType(m) === 'symlink')).to.deep.equal([]);
    // A parent comes before its children, as the kernel's unpacker needs.
    const order = members.map((m) => m.path);
    for (const p of order) if (p.includes('/')) expect(order.indexOf(path.dirname(p))).to.be.lessThan(order.indexOf(p));
  });

  it('init mounts proc, sys and devtmpfs, installs the applets and starts a console shell', () => {
    const text = initScript.toString();
    expect(text.startsWith('#!/bin/busybox sh\n')).to.equal(true);
    expect(text).to.match(/mount -t proc proc \/proc[\s\S]*--install -s/); // --install reads /proc/self/exe
    expect(text).to.include('mount -t sysfs sysfs /sys');
    expect(text).to.include('mount -t devtmpfs devtmpfs /dev');
    expect(text).to.include('setsid cttyhack sh');
  });

  it('test-init prints what the boot test checks, the marker, and powers off', () => {
    const text = fs.readFileSync(path.join(linuxDir, 'test-init'), 'utf8');
    for (const line of ['uname -a', 'cat /proc/cpuinfo', 'cat /proc/interrupts', 'echo loop=$i', 'echo WASMVISOR-BOOT-OK', 'poweroff -f']) {
      expect(text).to.include(line);
    }
    expect(text.indexOf('echo WASMVISOR-BOOT-OK')).to.be.lessThan(text.lastIndexOf('poweroff -f'));
  });

  it('both init scripts parse as POSIX shell (sh -n)', () => {
    for (const name of ['init', 'test-init']) {
      const r = spawnSync('sh', ['-n', path.join(linuxDir, name)], { encoding: 'utf8' });
      expect(r.status, `${name}: ${r.stderr}`).to.equal(0);
    }
  });
});

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

describe('Debian guest: prepareDebianGuest from the cache', () => {
  let cache = '';
  beforeEach(() => { cache = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmvisor-debian-')); });
  afterEach(() => fs.rmSync(cache, { recursive: true, force: true }));

  function fillCache(busybox: Uint8Array): void {
    const manifest: GuestManifest = {
      kernel: { package: 'linux-image-6.1.0-test-686-unsigned', version: '6.1.0-1', file: 'vmlinuz-6.1.0-test-686', size: 0x1000, protocol: '2.15' },
      busybox: { package: 'busybox-static', version: '1:1.35.0-4', file: 'busybox', size: busybox.length, linkage: 'static' },
      fetchedAt: '2026-11-29T00:00:00.000Z',
      fetchSeconds: 1,
    };
    fs.writeFileSync(path.join(cache, MANIFEST), JSON.stringify(manifest));
    fs.writeFileSync(path.join(cache, manifest.kernel.file), fakeBzImage());
    fs.writeFileSync(path.join(cache, 'busybox'), busybox);
  }

  it('needs no apt once the cache is filled, and builds the initramfs for the chosen init', async () => {
    fillCache(fakeElf());
    const guest = await prepareDebianGuest({ cacheDir: cache, init: 'test-init', offline: true });
    expect(guest.kernel).to.equal(path.join(cache, 'vmlinuz-6.1.0-test-686'));
    expect(guest.initrd).to.equal(path.join(cache, 'initramfs-test-init.cpio.gz'));
    const init = readCpio(new Uint8Array(gunzipSync(fs.readFileSync(guest.initrd)))).find((m) => m.path === 'init')!;
    expect(new TextDecoder().decode(init.data)).to.include('WASMVISOR-BOOT-OK');
    const again = await prepareDebianGuest({ cacheDir: cache, init: 'test-init', offline: true });
    expect(fs.readFileSync(again.initrd)).to.deep.equal(fs.readFileSync(guest.initrd));
  });

  it('fails offline with an empty cache, and on a cached busybox that is not a static i386 ELF', async () => {
    expect((await rejection(prepareDebianGuest({ cacheDir: cache, offline: true }))).message)
      .to.match(/not in .* and offline was asked/);
    fillCache(fakeElf({ phType: 3 }));
    const error = await rejection(prepareDebianGuest({ cacheDir: cache, offline: true }));
    expect(error.message).to.match(/busybox is not a static ELF32 i386 executable: it is dynamically linked/);
  });
});
