// The newc cpio writer, checked by reading archives back and, where GNU cpio is installed,
// by extracting them with `cpio -idmv` (the skip says so where it is not).

import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { type CpioEntry, memberType, readCpio, writeCpio, writeCpioGz } from '../host/cpio.js';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

const SAMPLE: CpioEntry[] = [
  { type: 'dir', path: 'bin' },
  { type: 'dir', path: 'dev' },
  { type: 'dir', path: 'tmp', mode: 0o1777 },
  { type: 'file', path: 'bin/tool', data: bytes('#!/bin/sh\necho hi\n'), mode: 0o755 },
  { type: 'file', path: 'empty', data: new Uint8Array(0) },
  { type: 'file', path: 'odd-size', data: bytes('abcde') },
  { type: 'symlink', path: 'bin/sh', target: 'tool' },
  { type: 'char', path: 'dev/console', major: 5, minor: 1 },
  { type: 'char', path: 'dev/null', major: 1, minor: 3, mode: 0o666 },
  { type: 'block', path: 'dev/vda', major: 254, minor: 0 },
];

const cpioInstalled = (): boolean => spawnSync('cpio', ['--version'], { stdio: 'ignore' }).status === 0;

describe('cpio newc writer', () => {
  it('writes 070701 headers, 4-byte aligned members and a TRAILER!!! member', () => {
    const archive = writeCpio([{ type: 'file', path: 'a', data: bytes('xyz') }]);
    const text = new TextDecoder().decode(archive);
    expect(text.startsWith('070701')).to.equal(true);
    // Header 110 + "a\0" = 112 (aligned), data 3 padded to 4: the trailer starts at 116.
    expect(text.slice(110, 112)).to.equal('a\0');
    expect(text.slice(112, 115)).to.equal('xyz');
    expect(text.slice(116, 122)).to.equal('070701');
    expect(text.slice(116 + 110, 116 + 120)).to.equal('TRAILER!!!');
    expect(archive.length % 4).to.equal(0);
    // Field 6 (filesize) of the first header, the eighth 8-digit field after the magic.
    expect(text.slice(6 + 6 * 8, 6 + 7 * 8)).to.equal('00000003');
  });

  it('round-trips every entry type with its mode, device numbers and data', () => {
    const members = readCpio(writeCpio(SAMPLE, { mtime: 1_700_000_000 }));
    expect(members.map((m) => m.path)).to.deep.equal(SAMPLE.map((e) => e.path));
    expect(members.map(memberType)).to.deep.equal(SAMPLE.map((e) => e.type));
    const byPath = new Map(members.map((m) => [m.path, m]));
    expect(byPath.get('tmp')!.mode).to.equal(0o041777);
    expect(byPath.get('bin')!.nlink).to.equal(2);
    expect(byPath.get('bin/tool')!.mode).to.equal(0o100755);
    expect(new TextDecoder().decode(byPath.get('bin/tool')!.data)).to.equal('#!/bin/sh\necho hi\n');
    expect(byPath.get('empty')!.mode).to.equal(0o100644);
    expect(new TextDecoder().decode(byPath.get('odd-size')!.data)).to.equal('abcde');
    expect(byPath.get('bin/sh')!.mode).to.equal(0o120777);
    expect(new TextDecoder().decode(byPath.get('bin/sh')!.data)).to.equal('tool');
    expect(byPath.get('dev/console')).to.include({ mode: 0o020600, rdevMajor: 5, rdevMinor: 1 });
    expect(byPath.get('dev/null')).to.include({ mode: 0o020666, rdevMajor: 1, rdevMinor: 3 });
    expect(byPath.get('dev/vda')).to.include({ mode: 0o060600, rdevMajor: 254, rdevMinor: 0 });
    expect(new Set(members.map((m) => m.ino)).size).to.equal(members.length);
    for (const m of members) expect(m).to.include({ uid: 0, gid: 0, mtime: 1_700_000_000 });
  });

  it('is reproducible and gzips to the same archive', () => {
    const plain = writeCpio(SAMPLE);
    expect(writeCpio(SAMPLE)).to.deep.equal(plain);
    const gz = writeCpioGz(SAMPLE);
    expect([gz[0], gz[1]]).to.deep.equal([0x1f, 0x8b]);
    expect(new Uint8Array(gunzipSync(gz))).to.deep.equal(plain);
    expect(writeCpioGz(SAMPLE)).to.deep.equal(gz);
  });

  it('rejects absolute, empty, dot-dot and duplicate paths', () => {
    for (const bad of ['/etc', '', 'a/../b', 'a//b', './a']) {
      expect(() => writeCpio([{ type: 'dir', path: bad }]), bad).to.throw(/bad member path/);
    }
    expect(() => writeCpio([{ type: 'dir', path: 'a' }, { type: 'dir', path: 'a' }])).to.throw(/duplicate/);
  });

  it('reader rejects bad magic and archives without a trailer', () => {
    const archive = writeCpio([{ type: 'file', path: 'a', data: bytes('x') }]);
    const bad = archive.slice();
    bad[5] = 0x32; // 070702 is the checksummed variant
    expect(() => readCpio(bad)).to.throw(/bad magic/);
    expect(() => readCpio(archive.subarray(0, 116))).to.throw(/without TRAILER/);
  });

  describe('with GNU cpio', function () {
    let tmp = '';
    before(function () {
      if (!cpioInstalled()) {
        console.log('    (skipped: cpio is not installed — apt-get install cpio — so archives are not extracted by it)');
        this.skip();
      }
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmvisor-cpio-'));
    });
    after(() => { if (tmp) fs.rmSync(tmp, { recursive: true, force: true }); });

    it('cpio -itv lists every member with its type, mode and device numbers', () => {
      const r = spawnSync('cpio', ['-itv', '--quiet'], { input: writeCpio(SAMPLE), encoding: 'utf8' });
      expect(r.status, r.stderr).to.equal(0);
      const lines = r.stdout.trim().split('\n');
      expect(lines.map((l) => l.split(/\s+/).at(-1)!.replace(/ -> .*/, ''))).to.have.length(SAMPLE.length);
      expect(lines.find((l) => l.endsWith(' dev/console'))).to.match(/^crw------- .*\b5,\s+1 /);
      expect(lines.find((l) => l.endsWith(' dev/null'))).to.match(/^crw-rw-rw- .*\b1,\s+3 /);
      expect(lines.find((l) => l.includes('bin/sh'))).to.match(/^lrwxrwxrwx .* bin\/sh -> tool$/);
      expect(lines.find((l) => l.endsWith(' tmp'))).to.match(/^drwxrwxrwt /);
    });

    it('cpio -idmv extracts directories, files and symlinks (and device nodes where mknod is allowed)', () => {
      // Creating device nodes needs root; otherwise extract the rest (-itv above checked the nodes).
      const canMknod = process.getuid?.() === 0;
      const entries = canMknod ? SAMPLE : SAMPLE.filter((e) => e.type !== 'char' && e.type !== 'block');
      const r = spawnSync('cpio', ['-idmv', '--no-absolute-filenames'], { cwd: tmp, input: writeCpio(entries, { mtime: 1_600_000_000 }), encoding: 'utf8' });
      expect(r.status, r.stderr).to.equal(0);
      expect(fs.readFileSync(path.join(tmp, 'bin/tool'), 'utf8')).to.equal('#!/bin/sh\necho hi\n');
      expect(fs.statSync(path.join(tmp, 'bin/tool')).mode & 0o7777).to.equal(0o755);
      expect(fs.statSync(path.join(tmp, 'bin/tool')).mtimeMs).to.equal(1_600_000_000_000);
      expect(fs.readFileSync(path.join(tmp, 'odd-size'), 'utf8')).to.equal('abcde');
      expect(fs.statSync(path.join(tmp, 'empty')).size).to.equal(0);
      expect(fs.readlinkSync(path.join(tmp, 'bin/sh'))).to.equal('tool');
      expect(fs.statSync(path.join(tmp, 'tmp')).mode & 0o7777).to.equal(0o1777);
      if (canMknod) {
        const node = fs.statSync(path.join(tmp, 'dev/console'));
        expect(node.isCharacterDevice()).to.equal(true);
        expect([node.rdev >> 8, node.rdev & 0xff]).to.deep.equal([5, 1]);
        expect(fs.statSync(path.join(tmp, 'dev/vda')).isBlockDevice()).to.equal(true);
      } else {
        console.log('    (device nodes not extracted: mknod needs root; cpio -itv above checked them)');
      }
    });
  });
});
