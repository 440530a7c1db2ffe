import { expect } from 'chai';
import { type BootPlan, type GuestImage, type LoadOptions } from '../core/machine/loaders/boot-plan.js';
import { planBoot } from '../core/machine/loaders/detect.js';
import { planMultiboot } from '../core/machine/loaders/multiboot.js';
import {
  AOUT_KLUDGE,
  type AddressFields,
  applyWrites,
  buildElf,
  buildKludgeImage,
  cString,
  filled,
  multibootHeader,
  u32, expectImageError } from './loader-images.js';

const MEMORY = 4 * 1024 * 1024;
const MBI = 0x9000;
const CODE = filled(0x60, 5);

/** An ELF kernel at 1 MiB whose text starts with a Multiboot header; bss runs to 0x101234. */
function elfKernel(flags = 0b11): Uint8Array {
  const text = new Uint8Array(0x80);
  text.set(multibootHeader(flags), 0);
  text.set(CODE, 0x20);
  return buildElf({ entry: 0x100020, segments: [{ paddr: 0x100000, data: text, memsz: 0x1234 }] });
}

/** An a.out-kludge kernel: header at file offset `prefix`, loaded so that file offset 0 is at `load`. */
function kludgeKernel(load: number, overrides: Partial<AddressFields> = {}, prefix = 0x40, flags = AOUT_KLUDGE): Uint8Array {
  return buildKludgeImage({
    prefix,
    flags,
    code: CODE,
    fields: (headerOffset) => ({
      headerAddr: load + headerOffset,
      loadAddr: load,
      loadEndAddr: 0,
      bssEndAddr: 0,
      entryAddr: load + headerOffset + 32,
      ...overrides,
    }),
  });
}

function boot(bytes: Uint8Array, options: Partial<LoadOptions> = {}, name = 'kernel.elf'): BootPlan {
  return planBoot({ name, bytes }, { memorySize: MEMORY, ...options });
}


function memoryMap(memory: Uint8Array): number[][] {
  const length = u32(memory, MBI + 44);
  const entries: number[][] = [];
  for (let at = u32(memory, MBI + 48); at < u32(memory, MBI + 48) + length; at += u32(memory, at) + 4) {
    const high = (offset: number) => u32(memory, at + offset) * 0x1_0000_0000;
    entries.push([u32(memory, at), u32(memory, at + 4) + high(8), u32(memory, at + 12) + high(16), u32(memory, at + 20)]);
  }
  return entries;
}

describe('Multiboot loader', () => {
  describe('with an ELF kernel', () => {
    it('wins over plain ELF detection and enters with the Multiboot magic and MBI address', () => {
      const plan = boot(elfKernel());
      expect(plan.format).to.equal('multiboot');
      expect(plan.entry).to.deep.equal({
        mode: 'protected32',
        eip: 0x100020,
        registers: { eax: 0x2badb002, ebx: MBI, ecx: 0, edx: 0, esi: 0, edi: 0, ebp: 0, esp: 0 },
      });
      const memory = applyWrites(plan, MEMORY);
      expect(memory.subarray(0x100020, 0x100080)).to.deep.equal(CODE);
      expect(plan.writes[1]).to.deep.include({ address: 0x100080 });
      expect(plan.writes[1].bytes.length).to.equal(0x1234 - 0x80);
    });

    it('builds the information structure field by field', () => {
      const memory = applyWrites(boot(elfKernel(), { cmdline: 'console=ttyS0 quiet' }), MEMORY);
      expect(u32(memory, MBI)).to.equal((1 << 0) | (1 << 2) | (1 << 3) | (1 << 6) | (1 << 9));
      expect(u32(memory, MBI + 4)).to.equal(639);
      expect(u32(memory, MBI + 8)).to.equal((MEMORY - 0x100000) / 1024);
      expect(cString(memory, u32(memory, MBI + 16))).to.equal('kernel.elf console=ttyS0 quiet');
      expect(u32(memory, MBI + 20)).to.equal(0);
      expect(cString(memory, u32(memory, MBI + 64))).to.equal('wasmvisor');
      expect(memoryMap(memory)).to.deep.equal([
        [20, 0, 0x9fc00, 1],
        [20, 0x9fc00, 0x400, 2],
        [20, 0xf0000, 0x10000, 2],
        [20, 0x100000, MEMORY - 0x100000, 1],
      ]);
    });

    it('passes the kernel name alone as the command line when nothing is appended', () => {
      const memory = applyWrites(boot(elfKernel()), MEMORY);
      expect(cString(memory, u32(memory, MBI + 16))).to.equal('kernel.elf');
    });

    it('ignores a video mode request and leaves the video flag clear', () => {
      const plan = boot(elfKernel(0b111));
      const memory = applyWrites(plan, MEMORY);
      expect(u32(memory, MBI) & (1 << 11)).to.equal(0);
      expect(plan.description).to.equal(
        'Multiboot kernel kernel.elf (ELF) at 0x100000-0x101234, entry 0x100020, 0 modules, information at 0x9000 ' +
          '(video mode request ignored: no framebuffer)',
      );
    });

    it('places modules page-aligned above the kernel bss with their names as strings', () => {
      const initrd: GuestImage = { name: 'initrd.img', bytes: filled(5000, 11) };
      const extra: GuestImage = { name: 'extra.bin', bytes: filled(3, 22) };
      const memory = applyWrites(boot(elfKernel(), { modules: [initrd, extra] }), MEMORY);
      expect(u32(memory, MBI + 20)).to.equal(2);
      const table = u32(memory, MBI + 24);
      const entries = [0, 1].map((index) => [0, 4, 8, 12].map((field) => u32(memory, table + index * 16 + field)));
      expect(entries.map(([start, end, , reserved]) => [start, end, reserved])).to.deep.equal([
        [0x102000, 0x102000 + 5000, 0],
        [0x104000, 0x104003, 0],
      ]);
      expect(cString(memory, entries[0][2])).to.equal('initrd.img');
      expect(cString(memory, entries[1][2])).to.equal('extra.bin');
      expect(memory.subarray(0x102000, 0x102000 + 5000)).to.deep.equal(initrd.bytes);
      expect(memory.subarray(0x104000, 0x104003)).to.deep.equal(extra.bytes);
    });

    it('refuses an ELF64 kernel even with a valid Multiboot header', () => {
      const bytes = elfKernel();
      bytes[4] = 2;
      expectImageError(() => boot(bytes), 'kernel.elf: ELF64 (64-bit) image; wasmvisor runs 32-bit x86 (i386) guests');
    });
  });

  describe('with the a.out kludge (flag bit 16)', () => {
    it('loads from header_addr - load_addr before the header and zero-fills up to bss_end_addr', () => {
      const bytes = kludgeKernel(0x200000, { bssEndAddr: 0x203000 });
      const plan = boot(bytes, {}, 'kernel');
      expect(plan.writes.slice(0, 2).map((write) => [write.address, write.bytes.length])).to.deep.equal([
        [0x200000, bytes.length],
        [0x200000 + bytes.length, 0x3000 - bytes.length],
      ]);
      expect(plan.writes[0].bytes).to.deep.equal(bytes);
      expect(plan.writes[1].bytes.every((byte) => byte === 0)).to.equal(true);
      expect(plan.entry.eip).to.equal(0x200060);
      expect(plan.entry.registers).to.include({ eax: 0x2badb002, ebx: MBI });
    });

    it('loads only up to load_end_addr and skips file bytes before load_addr', () => {
      const bytes = kludgeKernel(0x200000, { loadAddr: 0x200010, loadEndAddr: 0x200070 });
      const plan = boot(bytes, {}, 'kernel');
      expect(plan.writes[0].address).to.equal(0x200010);
      expect(plan.writes[0].bytes).to.deep.equal(bytes.slice(0x10, 0x70));
      expect(plan.writes[1].address).to.equal(MBI);
    });

    it('wins over the ELF program headers when the image is also ELF', () => {
      const elf = elfKernel();
      const header = multibootHeader(AOUT_KLUDGE | 0b11, {
        headerAddr: 0x300054, loadAddr: 0x300000, loadEndAddr: 0, bssEndAddr: 0, entryAddr: 0x300000,
      });
      const bytes = new Uint8Array(elf.length);
      bytes.set(elf);
      bytes.set(header, 0x54);
      expect(boot(bytes).writes[0].address).to.equal(0x300000);
    });

    it('places modules after the kernel, skipping the MBI and the memory below 1 MiB it would overlap', () => {
      const bytes = kludgeKernel(0x1000);
      const modules = [
        { name: 'a.mod', bytes: filled(0x10, 1) },
        { name: 'mid.mod', bytes: filled(0x8000, 2) },
        { name: 'big.mod', bytes: filled(0x98000, 3) },
      ];
      const memory = applyWrites(boot(bytes, { modules }, 'low'), MEMORY);
      const table = u32(memory, MBI + 24);
      expect([0, 1, 2].map((index) => u32(memory, table + index * 16))).to.deep.equal([0x2000, 0xa000, 0x100000]);
      expect(memory.subarray(0xa000, 0x12000)).to.deep.equal(modules[1].bytes);
    });

    it('accepts optional flag bits above 16 it does not know', () => {
      expect(boot(kludgeKernel(0x200000, {}, 0x40, AOUT_KLUDGE | (1 << 20)), {}, 'kernel').format).to.equal('multiboot');
    });
  });

  describe('refuses', () => {
    it('a header with a bad checksum, naming the offset and the expected value', () => {
      const bytes = new Uint8Array(0x100);
      bytes.set(multibootHeader(0b11, undefined, 1), 0x20);
      const message = 'kernel: Multiboot header at offset 0x20 has a bad checksum (0xe4524ffc, expected 0xe4524ffb so that magic + flags + checksum = 0)';
      expectImageError(() => boot(bytes, {}, 'kernel'), message);
      expectImageError(() => boot(bytes, { format: 'multiboot' }, 'kernel'), message);
    });

    it('an image without a header when Multiboot is asked for', () => {
      expectImageError(
        () => planMultiboot({ name: 'plain.elf', bytes: buildElf({ entry: 0x100000, segments: [{ paddr: 0x100000, data: CODE }] }) }, { memorySize: MEMORY }),
        'plain.elf: no Multiboot header (magic 0x1badb002) in the first 8192 bytes',
      );
    });

    it('a header beyond the first 8192 bytes', () => {
      const bytes = new Uint8Array(8192 + 64);
      bytes.set(multibootHeader(0b11), 8192);
      expectImageError(() => boot(bytes, { format: 'multiboot' }, 'late'), 'late: no Multiboot header (magic 0x1badb002) in the first 8192 bytes');
    });

    it('required flag bits it cannot honour, naming them', () => {
      expectImageError(
        () => boot(kludgeKernel(0x200000, {}, 0x40, AOUT_KLUDGE | (1 << 3) | (1 << 5) | 1), {}, 'kernel'),
        'kernel: Multiboot header requires features wasmvisor does not provide (flag bits 3, 5)',
      );
    });

    it('a non-ELF image without address fields', () => {
      const bytes = new Uint8Array(64);
      bytes.set(multibootHeader(0b11), 0);
      expectImageError(
        () => boot(bytes, {}, 'kernel'),
        'kernel: Multiboot header at offset 0x0 has no address fields (flag bit 16) and the image is not ELF, so there is no way to know where to load it',
      );
    });

    it('address fields cut off by the end of the file', () => {
      const bytes = kludgeKernel(0x200000).slice(0, 0x40 + 20);
      expectImageError(
        () => boot(bytes, {}, 'kernel'),
        'kernel: truncated Multiboot header at offset 0x40: the address fields (flag bit 16) need 32 bytes, the file ends at 0x54',
      );
    });

    it('load_end_addr before load_addr', () => {
      expectImageError(
        () => boot(kludgeKernel(0x200000, { loadEndAddr: 0x1ff000 }), {}, 'kernel'),
        'kernel: a.out kludge: load_end_addr 0x1ff000 is not above load_addr 0x200000',
      );
    });

    it('load_addr above header_addr', () => {
      expectImageError(
        () => boot(kludgeKernel(0x200000, { loadAddr: 0x200080 }), {}, 'kernel'),
        'kernel: a.out kludge: load_addr 0x200080 is above header_addr 0x200040',
      );
    });

    it('load_addr reaching before the start of the file', () => {
      expectImageError(
        () => boot(kludgeKernel(0x200000, { loadAddr: 0x1fff00 }), {}, 'kernel'),
        'kernel: a.out kludge: load_addr 0x1fff00 is 0x140 bytes below header_addr 0x200040, but the header is only 0x40 bytes into the file',
      );
    });

    it('load_end_addr past the end of the file', () => {
      expectImageError(
        () => boot(kludgeKernel(0x200000, { loadEndAddr: 0x201000 }), {}, 'kernel'),
        'kernel: truncated image: the a.out kludge loads file offset 0x0 + 0x1000 bytes (load_addr 0x200000 to load_end_addr 0x201000), but the file has 0xc0 bytes',
      );
    });

    it('bss_end_addr below the loaded image', () => {
      expectImageError(
        () => boot(kludgeKernel(0x200000, { bssEndAddr: 0x200010 }), {}, 'kernel'),
        'kernel: a.out kludge: bss_end_addr 0x200010 is below the end of the loaded image 0x2000c0',
      );
    });

    it('entry_addr outside the loaded image', () => {
      expectImageError(
        () => boot(kludgeKernel(0x200000, { entryAddr: 0x2000c0, bssEndAddr: 0x201000 }), {}, 'kernel'),
        'kernel: a.out kludge: entry_addr 0x2000c0 is outside the loaded image 0x200000-0x2000c0',
      );
    });

    it('a kernel that does not fit in guest memory', () => {
      expectImageError(
        () => boot(kludgeKernel(0x3ff000, { bssEndAddr: 0x500000 }), {}, 'kernel'),
        'kernel: kernel (a.out kludge load_addr to bss_end_addr) at 0x3ff000-0x500000 does not fit in guest memory (0x400000 bytes); give the guest more memory',
      );
    });

    it('a module that does not fit in guest memory, naming the module file', () => {
      expectImageError(
        () => boot(elfKernel(), { modules: [{ name: 'huge.img', bytes: new Uint8Array(MEMORY) }] }),
        'huge.img: boot module 0 (0x400000 bytes) at 0x102000-0x502000 does not fit in guest memory (0x400000 bytes); give the guest more memory',
      );
    });

    it('a kernel overlapping the Multiboot information', () => {
      expectImageError(
        () => boot(kludgeKernel(0x8000, { bssEndAddr: 0x9100 }), {}, 'kernel'),
        'kernel: kernel bytes at 0x80c0-0x9100 overlap the Multiboot information at 0x9000-0x90c9; load the kernel elsewhere (e.g. at 1 MiB)',
      );
    });

    it('a command line too long for the information area', () => {
      expectImageError(
        () => boot(elfKernel(), { cmdline: 'x'.repeat(0x97000) }),
        'kernel.elf: the Multiboot information (command line and module names) needs 0x970ce bytes, more than fits between 0x9000 and 0x9fc00',
      );
    });

    it('guest memory below 1 MiB', () => {
      expectImageError(
        () => boot(elfKernel(), { memorySize: 0x80000 }),
        'kernel.elf: Multiboot needs at least 1 MiB of guest memory, have 0x80000 bytes',
      );
    });
  });
});
