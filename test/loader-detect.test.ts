import { expect } from 'chai';
import { type LoadOptions, ImageError } from '../core/machine/loaders/boot-plan.js';
import { planBoot } from '../core/machine/loaders/detect.js';
import { buildElf, filled, multibootHeader, expectImageError } from './loader-images.js';

const MEMORY = 2 * 1024 * 1024;
const SECTOR = filled(512, 3);

function boot(name: string, bytes: Uint8Array, options: Partial<LoadOptions> = {}) {
  return planBoot({ name, bytes }, { memorySize: MEMORY, ...options });
}


function bytesWith(length: number, at: number, text: string): Uint8Array {
  const bytes = new Uint8Array(length);
  bytes.set(Array.from(text, (char) => char.charCodeAt(0)), at);
  return bytes;
}

describe('flat loader', () => {
  it('loads a boot sector at 0000:7C00 with the boot drive in DL and the stack below the image', () => {
    const plan = boot('boot.bin', SECTOR);
    expect(plan.format).to.equal('flat');
    expect(plan.writes).to.have.length(1);
    expect(plan.writes[0].address).to.equal(0x7c00);
    expect(plan.writes[0].bytes).to.deep.equal(SECTOR);
    expect(plan.entry).to.deep.equal({
      mode: 'real',
      cs: 0,
      eip: 0x7c00,
      registers: { eax: 0, ebx: 0, ecx: 0, edx: 0x80, esi: 0, edi: 0, ebp: 0, esp: 0x7c00 },
    });
    expect(plan.description).to.equal('flat image boot.bin: 512 bytes at 0x7c00, real mode entry 0x0:0x7c00');
  });

  it('uses CS = address >> 4 above 64 KiB and keeps the stack at 0000:FFFE', () => {
    const plan = boot('high.img', SECTOR, { flatAddress: 0x12345 });
    expect(plan.entry.cs).to.equal(0x1234);
    expect(plan.entry.eip).to.equal(5);
    expect(plan.entry.registers.esp).to.equal(0xfffe);
    expect(plan.writes[0].address).to.equal(0x12345);
  });

  it('loads any image as flat when the format is forced', () => {
    expect(boot('kernel.elf', buildElf({ entry: 0, segments: [] }), { format: 'flat' }).format).to.equal('flat');
  });

  it('refuses an image crossing into the VGA/ROM hole', () => {
    expectImageError(
      () => boot('big.bin', new Uint8Array(0x98500)),
      'big.bin: flat image at 0x7c00-0xa0100 does not fit in conventional memory below 0xa0000 (real-mode images must end there; the VGA/ROM hole follows)',
    );
  });

  it('refuses an image placed in the VGA/ROM hole', () => {
    expectImageError(
      () => boot('rom.bin', SECTOR, { flatAddress: 0xf0000 }),
      'rom.bin: flat image at 0xf0000-0xf0200 does not fit in conventional memory below 0xa0000 (real-mode images must end there; the VGA/ROM hole follows)',
    );
  });

  it('refuses an image beyond guest memory', () => {
    expectImageError(
      () => boot('boot.bin', SECTOR, { memorySize: 0x7d00 }),
      'boot.bin: flat image at 0x7c00-0x7e00 does not fit in guest memory (0x7d00 bytes)',
    );
  });

  it('refuses an empty image even when flat is forced', () => {
    expectImageError(() => boot('empty.bin', new Uint8Array(0), { format: 'flat' }), 'empty.bin: empty file');
  });
});

describe('image format detection', () => {
  it('treats .bin, .img, .com and .raw files (any case) as flat', () => {
    for (const name of ['a.bin', 'b.img', 'c.com', 'd.raw', 'E.IMG']) {
      expect(boot(name, SECTOR).format, name).to.equal('flat');
    }
  });

  it('refuses unknown bytes under other names', () => {
    expectImageError(
      () => boot('mystery.dat', SECTOR),
      'mystery.dat: unrecognised image format (not ELF32, not Multiboot); pass --format flat to load raw bytes',
    );
  });

  it('refuses an empty file', () => {
    expectImageError(() => boot('empty.bin', new Uint8Array(0)), 'empty.bin: empty file');
  });

  it('names foreign formats, even with a flat-looking name', () => {
    const gzip = Uint8Array.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0]);
    expectImageError(() => boot('kernel.img', gzip), 'kernel.img: gzip-compressed file; decompress it first (gunzip)');
    expectImageError(() => boot('run.bin', bytesWith(64, 0, '#!/bin/sh\n')), 'run.bin: shell script ("#!" line), not a guest image');
    expectImageError(
      () => boot('tool.com', bytesWith(0x100, 0, 'MZ')),
      'tool.com: MZ (DOS) executable, not a bootable guest image; wasmvisor boots ELF32, Multiboot and flat images',
    );
    const pe = bytesWith(0x100, 0, 'MZ');
    pe.set(Array.from('PE\0\0', (char) => char.charCodeAt(0)), 0x80);
    pe[0x3c] = 0x80;
    expectImageError(
      () => boot('BOOTX64.EFI', pe),
      'BOOTX64.EFI: PE executable (Windows or UEFI), not a bootable guest image; wasmvisor boots ELF32, Multiboot and flat images',
    );
  });

  it('sends files with the Linux "HdrS" signature to the Linux loader, also ones with an EFI stub', () => {
    const bzImage = bytesWith(0x400, 0x202, 'HdrS');
    const message = 'vmlinuz: not a Linux bzImage: boot_flag at 0x1fe is 0x0, expected 0xaa55';
    expectImageError(() => boot('vmlinuz', bzImage), message);
    bzImage.set([0x4d, 0x5a], 0);
    expectImageError(() => boot('vmlinuz', bzImage), message);
  });

  it('sends ELF files to the ELF loader, which names what is wrong', () => {
    const arm = buildElf({ entry: 0x100000, machine: 40, segments: [{ paddr: 0x100000, data: SECTOR }] });
    expectImageError(() => boot('arm.elf', arm), 'arm.elf: ELF machine 40 (ARM) is not i386; wasmvisor runs 32-bit x86 guests');
  });

  it('loads an ELF with a broken Multiboot magic as plain ELF and says so', () => {
    const text = new Uint8Array(64);
    text.set(multibootHeader(3, undefined, 1), 8);
    const plan = boot('k.elf', buildElf({ entry: 0x100000, segments: [{ paddr: 0x100000, data: text }] }));
    expect(plan.format).to.equal('elf32');
    expect(plan.description).to.match(/; ignored Multiboot magic at offset 0x5c \(bad checksum\)$/);
  });

  it('loads a Multiboot ELF as plain ELF when elf32 is forced', () => {
    const text = new Uint8Array(64);
    text.set(multibootHeader(3), 0);
    const bytes = buildElf({ entry: 0x100000, segments: [{ paddr: 0x100000, data: text }] });
    expect(boot('k.elf', bytes).format).to.equal('multiboot');
    expect(boot('k.elf', bytes, { format: 'elf32' }).format).to.equal('elf32');
  });

  it('keeps flat loading for a .bin whose Multiboot magic has a bad checksum', () => {
    const bytes = new Uint8Array(512);
    bytes.set(multibootHeader(3, undefined, 1), 0x40);
    expect(boot('loader.bin', bytes).format).to.equal('flat');
  });

  it('produces errors that carry the file and a single line', () => {
    let caught: unknown;
    try {
      boot('dir/mystery', SECTOR);
    } catch (error) {
      caught = error;
    }
    const error = caught as ImageError;
    expect(error.name).to.equal('ImageError');
    expect(error.file).to.equal('dir/mystery');
    expect(error.message.startsWith('dir/mystery: ')).to.equal(true);
    expect(error.message).not.to.include('\n');
  });
});
