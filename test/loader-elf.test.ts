import { expect } from 'chai';
import { planBoot } from '../core/machine/loaders/detect.js';
import { planElf32 } from '../core/machine/loaders/elf32.js';
import { type ElfSpec, applyWrites, buildElf, filled, expectImageError } from './loader-images.js';

const MEMORY = 4 * 1024 * 1024;

function plan(spec: ElfSpec, memorySize = MEMORY) {
  return planElf32({ name: 'hello.elf', bytes: buildElf(spec) }, { memorySize });
}


const TEXT = filled(0x40, 1);
const DATA = filled(0x10, 9);
const TWO_SEGMENTS: ElfSpec = {
  entry: 0x100008,
  segments: [
    { paddr: 0x100000, data: TEXT },
    { paddr: 0x102000, data: DATA, memsz: 0x1000 },
  ],
};

describe('ELF32 loader', () => {
  it('copies each PT_LOAD segment to its physical address and zero-fills the bss', () => {
    const result = plan(TWO_SEGMENTS);
    expect(result.format).to.equal('elf32');
    expect(result.writes.map((write) => [write.address, write.bytes.length])).to.deep.equal([
      [0x100000, 0x40],
      [0x102000, 0x10],
      [0x102010, 0xff0],
    ]);
    expect(result.writes[0].bytes).to.deep.equal(TEXT);
    expect(result.writes[1].bytes).to.deep.equal(DATA);
    expect(result.writes[2].bytes.every((byte) => byte === 0)).to.equal(true);
    const memory = applyWrites(result, MEMORY);
    expect(memory.subarray(0x100000, 0x100040)).to.deep.equal(TEXT);
  });

  it('enters in flat protected mode at e_entry with ESP at the top of conventional memory', () => {
    expect(plan(TWO_SEGMENTS).entry).to.deep.equal({
      mode: 'protected32',
      eip: 0x100008,
      registers: { eax: 0, ebx: 0, ecx: 0, edx: 0, esi: 0, edi: 0, ebp: 0, esp: 0x9fc00 },
    });
  });

  it('places a higher-half kernel by p_paddr and translates the virtual entry point', () => {
    const result = plan({
      entry: 0xc010000c,
      segments: [{ vaddr: 0xc0100000, paddr: 0x100000, data: TEXT }],
    });
    expect(result.writes[0].address).to.equal(0x100000);
    expect(result.entry.eip).to.equal(0x10000c);
    expect(result.description).to.equal('ELF32 executable hello.elf: 1 segment at 0x100000-0x100040, entry 0x10000c');
  });

  it('skips non-load program headers and empty segments, and accepts i486 (machine 6)', () => {
    const result = plan({
      entry: 0x100000,
      machine: 6,
      segments: [
        { type: 4, paddr: 0, data: filled(8, 3) },
        { paddr: 0x200000, data: new Uint8Array(0) },
        { paddr: 0x100000, data: TEXT },
      ],
    });
    expect(result.writes.map((write) => write.address)).to.deep.equal([0x100000]);
  });

  it('is chosen by automatic detection for an ELF without a Multiboot header', () => {
    const result = planBoot({ name: 'hello.elf', bytes: buildElf(TWO_SEGMENTS) }, { memorySize: MEMORY });
    expect(result.format).to.equal('elf32');
  });

  describe('refuses', () => {
    it('an image cut off inside the identification', () => {
      const bytes = buildElf(TWO_SEGMENTS).slice(0, 10);
      expectImageError(
        () => planElf32({ name: 'hello.elf', bytes }, { memorySize: MEMORY }),
        'hello.elf: truncated ELF image: identification needs 16 bytes, file has 10',
      );
    });

    it('an image cut off inside the ELF header', () => {
      const bytes = buildElf(TWO_SEGMENTS).slice(0, 40);
      const error = expectImageError(
        () => planElf32({ name: 'hello.elf', bytes }, { memorySize: MEMORY }),
        'hello.elf: truncated ELF image: ELF header needs 52 bytes, file has 40',
      );
      expect(error.file).to.equal('hello.elf');
      expect(error.reason).to.equal('truncated ELF image: ELF header needs 52 bytes, file has 40');
    });

    it('an image cut off inside the program header table', () => {
      const bytes = buildElf(TWO_SEGMENTS).slice(0, 100);
      expectImageError(
        () => planElf32({ name: 'hello.elf', bytes }, { memorySize: MEMORY }),
        'hello.elf: truncated ELF image: program header table runs past end of file (offset 0x34 + 2 * 0x20 > 0x64 bytes)',
      );
    });

    it('a segment whose file bytes run past the end of the file', () => {
      expectImageError(
        () => plan({ entry: 0x100000, segments: [{ paddr: 0x100000, data: TEXT, offset: 0x1040, filesz: 0x200, memsz: 0x200 }] }),
        'hello.elf: truncated ELF image: segment 0 runs past end of file (offset 0x1040 + 0x200 > 0x94 bytes)',
      );
    });

    it('ELF64 images', () => {
      expectImageError(() => plan({ ...TWO_SEGMENTS, elfClass: 2 }), 'hello.elf: ELF64 (64-bit) image; wasmvisor runs 32-bit x86 (i386) guests');
    });

    it('an invalid class byte', () => {
      expectImageError(() => plan({ ...TWO_SEGMENTS, elfClass: 7 }), 'hello.elf: invalid ELF class 7 (expected 1 = 32-bit)');
    });

    it('other machines, naming the machine number', () => {
      expectImageError(
        () => plan({ ...TWO_SEGMENTS, machine: 40 }),
        'hello.elf: ELF machine 40 (ARM) is not i386; wasmvisor runs 32-bit x86 guests',
      );
      expectImageError(
        () => plan({ ...TWO_SEGMENTS, machine: 999 }),
        'hello.elf: ELF machine 999 (unknown) is not i386; wasmvisor runs 32-bit x86 guests',
      );
    });

    it('big-endian images', () => {
      expectImageError(() => plan({ ...TWO_SEGMENTS, encoding: 2 }), 'hello.elf: big-endian ELF image; i386 images are little-endian');
    });

    it('shared objects and relocatable objects', () => {
      expectImageError(
        () => plan({ ...TWO_SEGMENTS, type: 3 }),
        'hello.elf: ELF type 3 (shared object or PIE) cannot be booted; only executables (ET_EXEC) can',
      );
      expectImageError(
        () => plan({ ...TWO_SEGMENTS, type: 1 }),
        'hello.elf: ELF type 1 (relocatable object) cannot be booted; only executables (ET_EXEC) can',
      );
    });

    it('a program header entry size smaller than Elf32_Phdr', () => {
      expectImageError(
        () => plan({ ...TWO_SEGMENTS, phentsize: 16 }),
        'hello.elf: ELF program header size 16 is smaller than the 32 bytes of an Elf32_Phdr',
      );
    });

    it('an image without program headers or without PT_LOAD segments', () => {
      expectImageError(() => plan({ entry: 0, segments: [] }), 'hello.elf: ELF image has no program headers, so nothing to load');
      expectImageError(
        () => plan({ entry: 0, segments: [{ type: 4, paddr: 0x100000, data: TEXT }] }),
        'hello.elf: ELF image has no loadable (PT_LOAD) segments',
      );
    });

    it('dynamically linked executables', () => {
      expectImageError(
        () => plan({ entry: 0x100000, segments: [{ type: 3, paddr: 0, data: filled(4, 0) }, { paddr: 0x100000, data: TEXT }] }),
        'hello.elf: dynamically linked executable (has PT_INTERP); link the kernel statically',
      );
    });

    it('a segment with more file bytes than memory bytes', () => {
      expectImageError(
        () => plan({ entry: 0x100000, segments: [{ paddr: 0x100000, data: TEXT, memsz: 0x20 }] }),
        'hello.elf: segment 0 has more file bytes than memory bytes (p_filesz 0x40 > p_memsz 0x20)',
      );
    });

    it('a segment beyond guest memory', () => {
      expectImageError(
        () => plan({ entry: 0x3ff000, segments: [{ paddr: 0x3ff000, data: TEXT, memsz: 0x2000 }] }),
        'hello.elf: segment 0 at 0x3ff000-0x401000 does not fit in guest memory (0x400000 bytes); give the guest more memory',
      );
    });

    it('a segment in the VGA/ROM hole', () => {
      expectImageError(
        () => plan({ entry: 0x9ff00, segments: [{ paddr: 0x9ff00, data: TEXT, memsz: 0x200 }] }),
        'hello.elf: segment 0 at 0x9ff00-0xa0100 overlaps the VGA/ROM hole 0xa0000-0x100000',
      );
    });

    it('a segment running past 4 GiB', () => {
      expectImageError(
        () => plan({ entry: 0xfffff000, segments: [{ paddr: 0xfffff000, data: TEXT, memsz: 0x2000 }] }),
        'hello.elf: segment 0 at 0xfffff000 + 0x2000 runs past the 4 GiB physical address space',
      );
    });

    it('overlapping segments', () => {
      expectImageError(
        () => plan({ entry: 0x100000, segments: [{ paddr: 0x100000, data: TEXT, memsz: 0x1000 }, { paddr: 0x100800, data: DATA }] }),
        'hello.elf: segment 1 at 0x100800-0x100810 overlaps segment 0 at 0x100000-0x101000',
      );
    });

    it('an entry point outside every loaded segment', () => {
      expectImageError(
        () => plan({ ...TWO_SEGMENTS, entry: 0x101000 }),
        'hello.elf: entry point 0x101000 is not inside any loadable segment',
      );
    });
  });
});
