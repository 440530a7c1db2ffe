import { expect } from 'chai';
import { type BootPlan, type LoadOptions } from '../core/machine/loaders/boot-plan.js';
import { planBoot } from '../core/machine/loaders/detect.js';
import { applyWrites, buildElf, cString, expectImageError, filled, u32 } from './loader-images.js';

const MEMORY = 16 * 1024 * 1024;
const BOOT_PARAMS = 0x7000;
const GDT = 0x6000;
const CMDLINE = 0x20000;
const KERNEL = filled(0x3000, 9);

interface BzImageSpec {
  version?: number;
  setupSects?: number;
  loadflags?: number;
  syssize?: number;
  code32Start?: number;
  initrdAddrMax?: number;
  kernelAlignment?: number;
  relocatable?: number;
  cmdlineSize?: number;
  prefAddress?: number;
  initSize?: number;
  xloadflags?: number;
  bootFlag?: number;
  /** The jump's offset byte at 0x201: the setup header ends at 0x202 plus it. */
  jump?: number;
  kernel?: Uint8Array;
  /** Cut the file to this many bytes, to build truncated images. */
  length?: number;
}

/**
 * A bzImage: boot sector and setup sectors holding the setup header, then the protected-mode
 * kernel. Fields the loader only copies hold recognisable values, and the bytes around the
 * header (0x1EF, after the header's end) are non-zero so a sloppy copy would show.
 */
function buildBzImage(spec: BzImageSpec = {}): Uint8Array {
  const kernel = spec.kernel ?? KERNEL;
  const setupSects = spec.setupSects ?? 4;
  const setupLength = ((setupSects === 0 ? 4 : setupSects) + 1) * 512;
  const bytes = new Uint8Array(setupLength + kernel.length);
  const view = new DataView(bytes.buffer);
  bytes.fill(0xcc, 0x1e0, 0x300);
  bytes.fill(0, 0x1f1, 0x26c);
  bytes[0x1f1] = setupSects;
  view.setUint16(0x1f2, 1, true); // root_flags
  view.setUint32(0x1f4, spec.syssize ?? Math.ceil(kernel.length / 16), true);
  view.setUint16(0x1fa, 0xfffd, true); // vid_mode "ask": the loader overrides it
  view.setUint16(0x1fc, 0x0301, true); // root_dev
  view.setUint16(0x1fe, spec.bootFlag ?? 0xaa55, true);
  bytes[0x200] = 0xeb;
  bytes[0x201] = spec.jump ?? 0x6a;
  bytes.set([0x48, 0x64, 0x72, 0x53], 0x202); // "HdrS"
  view.setUint16(0x206, spec.version ?? 0x020f, true);
  view.setUint16(0x20e, 0x1234, true); // kernel_version
  bytes[0x211] = spec.loadflags ?? 0x01;
  view.setUint32(0x214, spec.code32Start ?? 0x100000, true);
  view.setUint32(0x22c, spec.initrdAddrMax ?? 0x37ffffff, true);
  view.setUint32(0x230, spec.kernelAlignment ?? 0x200000, true);
  bytes[0x234] = spec.relocatable ?? 1;
  bytes[0x235] = 21; // min_alignment
  view.setUint16(0x236, spec.xloadflags ?? 0, true);
  view.setUint32(0x238, spec.cmdlineSize ?? 2047, true);
  view.setUint32(0x248, 0x3b0, true); // payload_offset
  view.setUint32(0x24c, 0x2a00, true); // payload_length
  view.setUint32(0x258, spec.prefAddress ?? 0x400000, true);
  view.setUint32(0x260, spec.initSize ?? 0x200000, true);
  view.setUint32(0x264, 0x190, true); // handover_offset
  view.setUint32(0x268, 0x1a0, true); // kernel_info_offset
  bytes.set(kernel, setupLength);
  return bytes.slice(0, spec.length ?? bytes.length);
}

function boot(bytes: Uint8Array, options: Partial<LoadOptions> = {}, name = 'vmlinuz'): BootPlan {
  return planBoot({ name, bytes }, { memorySize: MEMORY, ...options });
}

function u16(memory: Uint8Array, address: number): number {
  return memory[address] | (memory[address + 1] << 8);
}

function e820(memory: Uint8Array): number[][] {
  const entries: number[][] = [];
  for (let index = 0; index < memory[BOOT_PARAMS + 0x1e8]; index++) {
    const at = BOOT_PARAMS + 0x2d0 + index * 20;
    const u64 = (offset: number) => u32(memory, at + offset) + u32(memory, at + offset + 4) * 0x1_0000_0000;
    entries.push([u64(0), u64(8), u32(memory, at + 16)]);
  }
  return entries;
}

function initrdOf(plan: BootPlan): { address: number; size: number } {
  const params = plan.writes.find((write) => write.address === BOOT_PARAMS)!.bytes;
  const view = new DataView(params.buffer, params.byteOffset);
  return { address: view.getUint32(0x218, true), size: view.getUint32(0x21c, true) };
}

describe('Linux loader', () => {
  describe('plan', () => {
    it('loads the protected-mode kernel at 1 MiB and enters code32_start per the 32-bit protocol', () => {
      const plan = boot(buildBzImage());
      expect(plan.format).to.equal('linux');
      expect(plan.writes.map((write) => write.address)).to.deep.equal([GDT, BOOT_PARAMS, CMDLINE, 0x100000]);
      expect(plan.writes[3].bytes).to.deep.equal(KERNEL);
      expect(plan.entry).to.deep.equal({
        mode: 'protected32',
        eip: 0x100000,
        registers: { eax: 0, ebx: 0, ecx: 0, edx: 0, esi: BOOT_PARAMS, edi: 0, ebp: 0, esp: 0 },
        gdt: { base: GDT, limit: 0x1f },
        selectors: { cs: 0x10, ds: 0x18, es: 0x18, ss: 0x18, fs: 0x18, gs: 0x18 },
      });
      expect(plan.description).to.equal(
        'Linux bzImage vmlinuz (boot protocol 2.15): 0x3000 bytes at 0x100000, entry 0x100000, ' +
          'decompresses to 0x400000-0x600000, boot_params at 0x7000, command line 0 bytes, no initrd',
      );
    });

    it('finds the kernel after setup_sects + 1 sectors, reading setup_sects 0 as 4', () => {
      expect(boot(buildBzImage({ setupSects: 0x1b })).writes[3].bytes).to.deep.equal(KERNEL);
      expect(boot(buildBzImage({ setupSects: 0 })).writes[3].bytes).to.deep.equal(KERNEL);
    });

    it('provides flat __BOOT_CS (execute/read) and __BOOT_DS (read/write) descriptors', () => {
      const gdt = boot(buildBzImage()).writes[0].bytes;
      expect(Array.from(gdt)).to.deep.equal([
        0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0,
        0xff, 0xff, 0, 0, 0, 0x9b, 0xcf, 0,
        0xff, 0xff, 0, 0, 0, 0x93, 0xcf, 0,
      ]);
    });

    it('enters a code32_start inside the kernel and refuses one outside it', () => {
      expect(boot(buildBzImage({ code32Start: 0x100200 })).entry.eip).to.equal(0x100200);
      expectImageError(
        () => boot(buildBzImage({ code32Start: 0x103000 })),
        'vmlinuz: code32_start 0x103000 is outside the protected-mode kernel loaded at 0x100000-0x103000',
      );
    });
  });

  describe('boot_params', () => {
    const image = buildBzImage();
    const memory = applyWrites(boot(image, { cmdline: 'console=ttyS0' }), MEMORY);
    const params = memory.slice(BOOT_PARAMS, BOOT_PARAMS + 0x1000);

    it('is a 4 KiB zero page at the address in ESI', () => {
      expect(boot(image).writes[1].bytes.length).to.equal(0x1000);
    });

    it('copies the setup header from 0x1F1 to its end (0x202 + jump byte) and nothing around it', () => {
      const written = new Set([0x1fa, 0x1fb, 0x210, 0x211, 0x224, 0x225, 0x228, 0x229, 0x22a, 0x22b]);
      for (let offset = 0x1f1; offset < 0x26c; offset++) {
        if (!written.has(offset)) expect(params[offset], `offset 0x${offset.toString(16)}`).to.equal(image[offset]);
      }
      expect(params[0x1ef], 'sentinel').to.equal(0);
      expect(params[0x1f0]).to.equal(0);
      expect(Array.from(params.subarray(0x26c, 0x290))).to.deep.equal(new Array(0x24).fill(0));
    });

    it('fills the obligatory header fields', () => {
      expect(u16(params, 0x1fa), 'vid_mode').to.equal(0xffff);
      expect(params[0x210], 'type_of_loader').to.equal(0xff);
      expect(params[0x211], 'loadflags').to.equal(0x81);
      expect(u16(params, 0x224), 'heap_end_ptr').to.equal(0xde00);
      expect(u32(params, 0x228), 'cmd_line_ptr').to.equal(CMDLINE);
      expect(u32(params, 0x214), 'code32_start').to.equal(0x100000);
      expect(u32(params, 0x218), 'ramdisk_image').to.equal(0);
      expect(u32(params, 0x21c), 'ramdisk_size').to.equal(0);
    });

    it('describes an 80x25 VGA text console with the cursor at the top left', () => {
      expect(params[0x00], 'orig_x').to.equal(0);
      expect(params[0x01], 'orig_y').to.equal(0);
      expect(u16(params, 0x04), 'orig_video_page').to.equal(0);
      expect(params[0x06], 'orig_video_mode').to.equal(3);
      expect(params[0x07], 'orig_video_cols').to.equal(80);
      expect(u16(params, 0x0a), 'orig_video_ega_bx').to.equal(0x0003);
      expect(params[0x0e], 'orig_video_lines').to.equal(25);
      expect(params[0x0f], 'orig_video_isVGA').to.equal(1);
      expect(u16(params, 0x10), 'orig_video_points').to.equal(16);
    });

    it('gives the memory above 1 MiB in KiB (ext_mem_k, alt_mem_k)', () => {
      expect(u16(params, 0x02)).to.equal(15 * 1024);
      expect(u32(params, 0x1e0)).to.equal(15 * 1024);
      const big = applyWrites(boot(image, { memorySize: 80 * 1024 * 1024 }), 80 * 1024 * 1024);
      expect(u16(big, BOOT_PARAMS + 0x02), 'ext_mem_k saturates').to.equal(0xffff);
      expect(u32(big, BOOT_PARAMS + 0x1e0)).to.equal(79 * 1024);
    });

    it('holds the E820 map: low RAM, EBDA, BIOS ROM, RAM from 1 MiB to the memory size', () => {
      expect(params[0x1e8], 'e820_entries').to.equal(4);
      expect(e820(memory)).to.deep.equal([
        [0, 0x9fc00, 1],
        [0x9fc00, 0x400, 2],
        [0xf0000, 0x10000, 2],
        [0x100000, MEMORY - 0x100000, 1],
      ]);
    });

    it('leaves the rest zero', () => {
      const used = (offset: number) =>
        offset < 0x12 || (offset >= 0x1e0 && offset < 0x1e4) || offset === 0x1e8 ||
        (offset >= 0x1f1 && offset < 0x26c) || (offset >= 0x2d0 && offset < 0x2d0 + 4 * 20);
      for (let offset = 0; offset < 0x1000; offset++) {
        if (!used(offset) && params[offset] !== 0) expect.fail(`byte 0x${offset.toString(16)} is ${params[offset]}`);
      }
    });
  });

  describe('command line', () => {
    it('is placed NUL-terminated below 0xA0000 at cmd_line_ptr', () => {
      const memory = applyWrites(boot(buildBzImage(), { cmdline: 'console=ttyS0 root=/dev/ram0 ünï' }), MEMORY);
      expect(cString(memory, u32(memory, BOOT_PARAMS + 0x228))).to.equal('console=ttyS0 root=/dev/ram0 ünï');
    });

    it('is an empty string when none is given', () => {
      const plan = boot(buildBzImage());
      expect(plan.writes[2].bytes).to.deep.equal(new Uint8Array(1));
    });

    it('may be exactly cmdline_size bytes, counted in UTF-8, and no longer', () => {
      expect(boot(buildBzImage({ cmdlineSize: 10 }), { cmdline: 'quiet ro=1' }).writes[2].bytes.length).to.equal(11);
      expectImageError(
        () => boot(buildBzImage({ cmdlineSize: 10 }), { cmdline: 'quiet ro=ü' }),
        "vmlinuz: the kernel command line is 11 bytes, too long: the kernel's cmdline_size is 10",
      );
    });

    it('must fit in low memory even when cmdline_size allows more', () => {
      expectImageError(
        () => boot(buildBzImage({ cmdlineSize: 0xffffffff }), { cmdline: 'x'.repeat(0x80000) }),
        'vmlinuz: the kernel command line is 524288 bytes, too long: only 523263 bytes fit in low memory',
      );
    });

    it('refuses a NUL character', () => {
      expectImageError(() => boot(buildBzImage(), { cmdline: 'a\0b' }), 'vmlinuz: the kernel command line contains a NUL character');
    });
  });

  describe('initrd', () => {
    const INITRD = filled(0x1234, 4);

    it('goes page-aligned at the top of guest memory and is named in boot_params', () => {
      const plan = boot(buildBzImage(), { initrd: { name: 'initrd.gz', bytes: INITRD } });
      const address = Math.floor((MEMORY - 0x1234) / 0x1000) * 0x1000;
      expect(address).to.equal(0xffe000);
      expect(initrdOf(plan)).to.deep.equal({ address, size: 0x1234 });
      const memory = applyWrites(plan, MEMORY);
      expect(memory.subarray(address, address + 0x1234)).to.deep.equal(INITRD);
      expect(plan.description).to.match(/, initrd 0x1234 bytes at 0xffe000$/);
    });

    it('ends at or below initrd_addr_max, the highest byte it may occupy', () => {
      const initrd = { name: 'initrd', bytes: new Uint8Array(0x2000) };
      // initrd_addr_max + 1 = 0x800000 is page-aligned: the initrd ends exactly there.
      expect(initrdOf(boot(buildBzImage({ initrdAddrMax: 0x7fffff }), { initrd }))).to.deep.equal({ address: 0x7fe000, size: 0x2000 });
      // An unaligned limit rounds the start down.
      expect(initrdOf(boot(buildBzImage({ initrdAddrMax: 0x800ffe }), { initrd })).address).to.equal(0x7fe000);
      // A limit above guest memory leaves guest memory as the bound.
      expect(initrdOf(boot(buildBzImage({ initrdAddrMax: 0xffffffff }), { initrd })).address).to.equal(MEMORY - 0x2000);
    });

    it('stays above the kernel and its decompression footprint', () => {
      // Footprint ends at 0x600000 (runtime start 0x400000 + init_size 0x200000).
      const initrd = { name: 'initrd', bytes: new Uint8Array(0x1000) };
      expect(initrdOf(boot(buildBzImage({ initrdAddrMax: 0x600fff }), { initrd })).address).to.equal(0x600000);
      expectImageError(
        () => boot(buildBzImage({ initrdAddrMax: 0x600ffe }), { initrd }),
        'initrd: initrd (0x1000 bytes) does not fit between the kernel\'s footprint end 0x600000 and 0x600fff ' +
          '(initrd_addr_max 0x600ffe, guest memory 0x1000000 bytes); give the guest more memory',
      );
    });

    it('refuses an initrd larger than the memory above the kernel', () => {
      expectImageError(
        () => boot(buildBzImage(), { memorySize: 0x800000, initrd: { name: 'big.cpio', bytes: new Uint8Array(0x201000) } }),
        "big.cpio: initrd (0x201000 bytes) does not fit between the kernel's footprint end 0x600000 and 0x800000 " +
          '(initrd_addr_max 0x37ffffff, guest memory 0x800000 bytes); give the guest more memory',
      );
    });
  });

  describe('decompression footprint', () => {
    it('starts at the load address aligned to kernel_alignment, not below pref_address, for a relocatable kernel', () => {
      const footprint = (spec: BzImageSpec) => /decompresses to (\S+),/.exec(boot(buildBzImage(spec)).description)![1];
      expect(footprint({ kernelAlignment: 0x400000, prefAddress: 0 })).to.equal('0x400000-0x600000');
      expect(footprint({ kernelAlignment: 0x200000, prefAddress: 0x800000 })).to.equal('0x800000-0xa00000');
      expect(footprint({ relocatable: 0, prefAddress: 0x300000 })).to.equal('0x300000-0x500000');
      // Before protocol 2.10 there is no pref_address or init_size: the footprint is the kernel.
      expect(footprint({ version: 0x0206, relocatable: 0 })).to.equal('0x100000-0x100000');
    });

    it('must fit in guest memory', () => {
      expectImageError(
        () => boot(buildBzImage({ prefAddress: 0x1000000, initSize: 0x800000 })),
        'vmlinuz: the kernel needs memory up to 0x1800000 to decompress (runtime start 0x1000000 + init_size 0x800000), ' +
          'guest memory is 0x1000000 bytes; give the guest more memory',
      );
    });
  });

  describe('detection', () => {
    it('picks the Linux loader for a bzImage under any name, also with an EFI stub', () => {
      const image = buildBzImage();
      expect(boot(image, {}, 'bzImage').format).to.equal('linux');
      expect(boot(image, {}, 'kernel.img').format).to.equal('linux');
      image.set([0x4d, 0x5a], 0);
      expect(boot(image, {}, 'vmlinuz.efi').format).to.equal('linux');
    });

    it('refuses other files when linux is forced', () => {
      const elf = buildElf({ entry: 0x100000, segments: [{ paddr: 0x100000, data: KERNEL }] });
      expectImageError(
        () => boot(elf, { format: 'linux' }, 'k.elf'),
        'k.elf: not a Linux bzImage (no "HdrS" signature at offset 0x202)',
      );
    });
  });

  describe('errors', () => {
    it('refuses a file cut inside the setup header', () => {
      expectImageError(
        () => boot(buildBzImage({ length: 0x250 })),
        'vmlinuz: truncated Linux setup header: protocol 2.15 header runs to 0x26c, the file ends at 0x250',
      );
      expectImageError(
        () => boot(buildBzImage({ length: 0x207 })),
        'vmlinuz: truncated Linux setup header: the file ends at 0x207, before the protocol version at 0x206',
      );
      // The jump byte may not shrink the header below the fields the protocol version has.
      expectImageError(
        () => boot(buildBzImage({ version: 0x0206, jump: 0, length: 0x23a })),
        'vmlinuz: truncated Linux setup header: protocol 2.06 header runs to 0x23c, the file ends at 0x23a',
      );
    });

    it('refuses a protocol older than 2.06, naming it', () => {
      expectImageError(
        () => boot(buildBzImage({ version: 0x0205 })),
        'vmlinuz: Linux boot protocol 2.05 is too old; wasmvisor needs 2.06 or later (Linux 2.6.22 or newer)',
      );
    });

    it('refuses a missing boot sector signature', () => {
      expectImageError(
        () => boot(buildBzImage({ bootFlag: 0x1234 })),
        'vmlinuz: not a Linux bzImage: boot_flag at 0x1fe is 0x1234, expected 0xaa55',
      );
    });

    it('refuses a zImage (no LOADED_HIGH)', () => {
      expectImageError(
        () => boot(buildBzImage({ loadflags: 0x80 })),
        'vmlinuz: Linux zImage (loadflags without LOADED_HIGH) loads below 1 MiB; wasmvisor boots bzImages only',
      );
    });

    it('refuses an x86-64 kernel', () => {
      expectImageError(
        () => boot(buildBzImage({ xloadflags: 0x7f })),
        'vmlinuz: x86-64 Linux kernel (xloadflags has XLF_KERNEL_64); wasmvisor runs 32-bit x86 guests, use an i686 kernel',
      );
      // Before protocol 2.12 there is no xloadflags field to read.
      expect(boot(buildBzImage({ version: 0x020b, xloadflags: 0x7f })).format).to.equal('linux');
    });

    it('refuses a file without a protected-mode kernel or shorter than syssize says', () => {
      expectImageError(
        () => boot(buildBzImage({ length: 5 * 512 })),
        'vmlinuz: truncated bzImage: no protected-mode kernel after the 5 setup sectors (the file ends at 0xa00)',
      );
      expectImageError(
        () => boot(buildBzImage({ syssize: 0x301 })),
        'vmlinuz: truncated bzImage: syssize says 0x3010 bytes of protected-mode kernel, the file has 0x3000',
      );
      // syssize counts whole paragraphs, so up to 15 missing bytes are the rounding.
      expect(boot(buildBzImage({ kernel: KERNEL.subarray(0, 0x2ff1), syssize: 0x300 })).writes[3].bytes.length).to.equal(0x2ff1);
    });

    it('refuses a kernel that does not fit in guest memory', () => {
      expectImageError(
        () => boot(buildBzImage(), { memorySize: 0x102000 }),
        'vmlinuz: protected-mode kernel (0x3000 bytes) at 0x100000-0x103000 does not fit in guest memory (0x102000 bytes); give the guest more memory',
      );
    });
  });
});
