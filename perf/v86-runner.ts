// Runs a Multiboot kernel in v86 (the npm package) for same-run comparisons with our
// emulator (design.md, "Performance method"); used by perf/interp-vs-v86.ts.
//
// Configuration: Debian's SeaBIOS (/usr/share/seabios/bios.bin, package `seabios`) as the BIOS,
// no VGA BIOS, no screen, keyboard, mouse, speaker, ACPI or network relay; v86's default
// memory size (64 MiB); `disable_jit: !jit`; `autostart: true`. Serial output is collected
// from the `serial0-output-byte` event (COM1). All timing uses the host's performance.now().
//
// How v86 boots a Multiboot image with a BIOS (v86 0.5.x, src/cpu.js):
//   the kernel is passed as `multiboot: { buffer }`; v86 scans it for the Multiboot v1 header
//   and installs a tiny option ROM ("genroms/multiboot.bin", delivered through fw_cfg) whose
//   only code is `in eax, 0xF4`. SeaBIOS runs the option ROM during POST; the 32-bit read of
//   port 0xF4 copies the kernel into RAM, switches the CPU to flat protected mode and jumps to
//   the entry point. We wrap that port handler to time the BIOS boot (`bootMs`) and to read
//   the instruction counter at the moment the kernel starts.
//   v86's own handler for writes to port 0xF4 prints "Test exited ..." and throws "HALT"; we
//   replace it so an exit write simply ends the run.

import { readFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { V86 } from 'v86';

export interface V86RunOptions {
  /** true: v86's x86-to-wasm JIT; false: v86's interpreter only (`disable_jit: true`). */
  jit: boolean;
  /** Guest RAM in MiB (default 64, v86's default). */
  memoryMiB?: number;
  /** Text on COM1 that ends the timed region (default "bench: done"). */
  doneMarker?: string;
  /** Give up after this many ms of wall time from emulator start (default 300000). */
  timeoutMs?: number;
}

export interface V86RunResult {
  /** Emulator start (CPU at the reset vector) until the done marker appeared on COM1.
   *  Includes SeaBIOS's POST; see `bootMs` and `kernelMs`. */
  wallMs: number;
  /** Guest instructions retired by the kernel (Multiboot entry until the exit write to port
   *  0xF4, or until the done marker if the kernel never exits), from v86's own counter
   *  (`cpu.instruction_counter`, a wrapping u32 that we sample and widen). null if this v86
   *  build does not expose the counter. */
  instructions: number | null;
  /** Everything the guest wrote to COM1 (bytes as latin1 characters). */
  serial: string;
  /** Emulator start until v86 jumped into the kernel (SeaBIOS POST + option ROM). */
  bootMs: number | null;
  /** Kernel entry until the done marker: comparable with an emulator that starts the kernel
   *  directly without a BIOS. */
  kernelMs: number | null;
  /** Instructions from reset to the end of the run, BIOS included (null without a counter). */
  totalInstructions: number | null;
  /** Constructor call until emulation started (wasm instantiation, device setup). */
  setupMs: number;
  /** Value the kernel wrote to port 0xF4, or null if it did not exit that way. */
  exitCode: number | null;
}

const SEABIOS_DIR = '/usr/share/seabios';

/** Paths of Debian's SeaBIOS image (package `seabios`). */
export function findSeabios(): { bios: string } {
  const bios = join(SEABIOS_DIR, 'bios.bin');
  if (!existsSync(bios)) {
    throw new Error(
      `SeaBIOS not found: expected ${bios}. Install Debian's package "seabios" ` +
        `(apt-get install seabios); v86 needs it to boot the benchmark kernel.`,
    );
  }
  return { bios };
}

function v86WasmPath(): string {
  const require = createRequire(import.meta.url);
  // package.json "main" is build/libv86.mjs; the wasm files sit next to it.
  const main = require.resolve('v86');
  const wasm = join(dirname(main), 'v86.wasm');
  if (!existsSync(wasm)) {
    throw new Error(`v86's wasm core not found at ${wasm}; reinstall the npm package "v86".`);
  }
  return wasm;
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  // A fresh, exactly-sized ArrayBuffer: v86 builds typed views on `buffer` from offset 0.
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return copy.buffer;
}

/** Internals of v86 that we touch (names survive its Closure-compiled build). */
interface V86Port {
  read32: (this: unknown, port: number) => number;
  write8: (this: unknown, value: number) => void;
  write16: (this: unknown, value: number) => void;
  write32: (this: unknown, value: number) => void;
  device: unknown;
}
interface V86Cpu {
  /** A Proxy that re-creates a Uint32Array view on the wasm memory on every access. */
  instruction_counter?: { readonly [index: number]: number };
  io: { ports: V86Port[] };
  option_roms?: { name: string }[];
}
interface V86WithInternals {
  v86?: { cpu: V86Cpu };
}

/** Widens v86's wrapping 32-bit instruction counter by sampling it often enough. */
class CounterSampler {
  private last = 0;
  private total = 0;
  constructor(private readonly cpu: V86Cpu) {
    this.last = this.raw();
  }
  get available(): boolean {
    const c = this.cpu.instruction_counter;
    return c !== undefined && typeof c[0] === 'number';
  }
  private raw(): number {
    const c = this.cpu.instruction_counter;
    const v = c ? c[0] : undefined;
    return typeof v === 'number' ? v >>> 0 : 0;
  }
  sample(): number {
    const now = this.raw();
    this.total += (now - this.last) >>> 0;
    this.last = now;
    return this.total;
  }
}

const EXIT_PORT = 0xf4;

export async function runOnV86(imagePath: string, options: V86RunOptions): Promise<V86RunResult> {
  const { bios } = findSeabios();
  if (!existsSync(imagePath)) {
    throw new Error(`kernel image not found: ${imagePath}`);
  }
  const kernel = toArrayBuffer(readFileSync(imagePath));
  const biosBuf = toArrayBuffer(readFileSync(bios));
  const doneMarker = options.doneMarker ?? 'bench: done';
  const timeoutMs = options.timeoutMs ?? 300_000;
  const memoryMiB = options.memoryMiB ?? 64;

  const tCreate = performance.now();
  const emulator = new V86({
    wasm_path: v86WasmPath(),
    memory_size: memoryMiB * 1024 * 1024,
    bios: { buffer: biosBuf },
    // No vga_bios: SeaBIOS then skips VGA init; v86 still models the VGA chip, but nothing
    // draws it (no screen container in Node).
    multiboot: { buffer: kernel },
    disable_jit: !options.jit,
    autostart: true,
    disable_keyboard: true,
    disable_mouse: true,
    disable_speaker: true,
    acpi: false,
    fastboot: true,
    bootmenu: false,
    net_device: { type: 'ne2k' }, // v86 always adds a NIC model; with no relay_url it is unplugged
  });

  return await new Promise<V86RunResult>((resolve, reject) => {
    let serial = '';
    let tStart: number | null = null;
    let tEntry: number | null = null;
    let tDone: number | null = null;
    let cEntry: number | null = null;
    let cDone: number | null = null;
    let cEnd: number | null = null;
    let exitCode: number | null = null;
    let sampler: CounterSampler | null = null;
    let finished = false;
    let graceTimer: NodeJS.Timeout | null = null;

    // 50 ms between samples: even v86's JIT retires far fewer than 2^32 instructions in that.
    const sampleTimer = setInterval(() => sampler?.sample(), 50);
    let timeoutTimer: NodeJS.Timeout | null = null; // armed when emulation starts
    const onTimeout = (): void => {
      fail(
        new Error(
          `v86 did not print "${doneMarker}" within ${timeoutMs} ms of starting ` +
            `(${tEntry === null ? 'the kernel was never entered: SeaBIOS did not run the Multiboot option ROM' : 'the kernel was running'}); ` +
            `serial so far: ${JSON.stringify(serial.slice(-400))}`,
        ),
      );
    };

    const cleanup = async (): Promise<void> => {
      clearInterval(sampleTimer);
      if (timeoutTimer) clearTimeout(timeoutTimer);
      if (graceTimer) clearTimeout(graceTimer);
      try {
        await emulator.destroy();
      } catch {
        // the run is over either way; destroy errors are not the benchmark's business
      }
    };
    let pendingError: Error | null = null;
    const fail = (err: Error): void => {
      if (finished) return;
      if (tStart === null) {
        // v86 calls run() right after "emulator-ready"; destroying it before that would
        // leave it running. Fail once it has started (see the "emulator-started" listener).
        pendingError = err;
        return;
      }
      finished = true;
      void cleanup().then(() => reject(err));
    };
    const finish = (): void => {
      if (finished) return;
      finished = true;
      if (sampler) cEnd = sampler.sample();
      const haveCounter = sampler?.available ?? false;
      const kernelEnd = exitCode !== null ? cEnd : cDone;
      const result: V86RunResult = {
        wallMs: tDone! - tStart!,
        instructions:
          haveCounter && cEntry !== null && kernelEnd !== null ? kernelEnd - cEntry : null,
        serial,
        bootMs: tEntry !== null ? tEntry - tStart! : null,
        kernelMs: tEntry !== null ? tDone! - tEntry : null,
        totalInstructions: haveCounter ? cEnd : null,
        setupMs: tStart! - tCreate,
        exitCode,
      };
      void cleanup().then(() => resolve(result));
    };

    emulator.add_listener('emulator-ready', () => {
      const cpu = (emulator as unknown as V86WithInternals).v86?.cpu;
      if (!cpu) {
        fail(new Error('v86 internals changed: emulator.v86.cpu is missing'));
        return;
      }
      sampler = new CounterSampler(cpu);
      const hasRom = cpu.option_roms?.some((r) => r.name === 'genroms/multiboot.bin');
      if (hasRom === false) {
        fail(new Error(`v86 found no Multiboot v1 header in the first 8 KiB of ${imagePath}`));
        return;
      }
      const port = cpu.io.ports[EXIT_PORT]!;
      const loadKernel = port.read32;
      port.read32 = function (this: unknown, p: number): number {
        const value = loadKernel.call(this, p);
        if (tEntry === null) {
          tEntry = performance.now();
          cEntry = sampler!.sample();
        }
        return value;
      };
      const onExit = (value: number): void => {
        if (exitCode !== null) return;
        exitCode = value >>> 0;
        cEnd = sampler!.sample();
        if (tDone === null) {
          fail(
            new Error(
              `the kernel exited (port 0xF4 <- ${exitCode}) before printing "${doneMarker}"; ` +
                `serial: ${JSON.stringify(serial.slice(-400))}`,
            ),
          );
          return;
        }
        finish();
      };
      port.write8 = (v: number) => onExit(v & 0xff);
      port.write16 = (v: number) => onExit(v & 0xffff);
      port.write32 = (v: number) => onExit(v);
    });

    emulator.add_listener('emulator-started', () => {
      if (tStart !== null) return;
      tStart = performance.now();
      timeoutTimer = setTimeout(onTimeout, timeoutMs);
      // Our listener runs before v86's own one marks the emulator as running, and stop()
      // is a no-op until then: fail on the next turn of the event loop.
      const err = pendingError;
      if (err) setImmediate(() => fail(err));
    });

    emulator.add_listener('serial0-output-byte', (byte: number) => {
      serial += String.fromCharCode(byte);
      if (tDone === null && serial.endsWith(doneMarker)) {
        tDone = performance.now();
        cDone = sampler?.sample() ?? null;
        // The kernel normally writes CRLF and exits right after the marker; wait briefly
        // for that so the instruction count covers the same range as ours.
        graceTimer = setTimeout(finish, 1000);
      }
    });
  });
}
