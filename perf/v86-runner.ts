// Runs a Multiboot kernel (runOnV86, for perf/interp-vs-v86.ts) or a Linux bzImage + initrd
// (runLinuxOnV86, for perf/linux-vs-peers.ts) in v86 (the npm package) for same-run comparisons
// with our emulator (design.md, "Performance method").
//
// Configuration: Debian's SeaBIOS (/usr/share/seabios/bios.bin, package `seabios`) as the BIOS,
// no VGA BIOS, no screen, keyboard, mouse, speaker, ACPI or network relay; v86's default
// memory size (64 MiB) unless told; `disable_jit: !jit`; `autostart: true`. Serial output is
// collected from the `serial0-output-byte` event (COM1). All timing uses performance.now().
//
// How v86 boots a bzImage (src/kernel.js): it copies the real-mode setup to 0x80000, the
// protected-mode kernel to 1 MiB, the initrd to 64 MiB and the command line to 0x8E000, fills
// in the setup header, and installs an option ROM ("genroms/kernel.bin") that SeaBIOS runs
// during POST and that jumps to the setup code; the kernel then decompresses itself.
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
import { markerLine, SerialMarkers } from '../host/serial-markers.js';
import type { LinuxRunOptions } from './linux-workload.js';

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

/** What v86 boots: a Multiboot kernel through its option ROM, or a bzImage through its Linux loader. */
type V86Boot = { multiboot: ArrayBuffer } | { bzimage: ArrayBuffer; initrd: ArrayBuffer; cmdline: string };

/** What a run's handlers can do and see (all times are performance.now()). */
interface V86Run<T> {
  /** When the constructor was called and when emulation started (null before). */
  readonly createdAt: number;
  readonly startedAt: number | null;
  readonly serial: string;
  /** The widened instruction counter now; null before emulator-ready or without a counter. */
  instructions(): number | null;
  /** Ends the run (after v86 is destroyed) with this result or error; later calls are ignored. */
  finish(result: T): void;
  fail(err: Error): void;
  /** A timer cancelled when the run ends. */
  after(ms: number, fn: () => void): void;
}

interface V86Handlers<T> {
  /** At emulator-ready, before the CPU runs: hook ports, check the boot set-up. */
  onReady?(cpu: V86Cpu, run: V86Run<T>): void;
  /** After each COM1 byte has been appended to `run.serial`. */
  onSerial(run: V86Run<T>): void;
  /** The error message when `timeoutMs` passes before the run finished. */
  timeoutMessage(run: V86Run<T>): string;
}

/** Creates v86 with the configuration in the header comment, runs it until a handler ends the run, and destroys it. */
function driveV86<T>(config: { jit: boolean; memoryMiB: number; timeoutMs: number; boot: V86Boot },
  handlers: V86Handlers<T>): Promise<T> {
  const { bios } = findSeabios();
  const biosBuf = toArrayBuffer(readFileSync(bios));
  const boot = 'multiboot' in config.boot
    ? { multiboot: { buffer: config.boot.multiboot } }
    : { bzimage: { buffer: config.boot.bzimage }, initrd: { buffer: config.boot.initrd }, cmdline: config.boot.cmdline };
  const createdAt = performance.now();
  const emulator = new V86({
    wasm_path: v86WasmPath(),
    memory_size: config.memoryMiB * 1024 * 1024,
    bios: { buffer: biosBuf },
    // No vga_bios: SeaBIOS then skips VGA init; v86 still models the VGA chip, but nothing
    // draws it (no screen container in Node).
    ...boot,
    disable_jit: !config.jit,
    autostart: true,
    disable_keyboard: true,
    disable_mouse: true,
    disable_speaker: true,
    acpi: false,
    fastboot: true,
    bootmenu: false,
    net_device: { type: 'ne2k' }, // v86 always adds a NIC model; with no relay_url it is unplugged
  });

  return new Promise<T>((resolve, reject) => {
    let sampler: CounterSampler | null = null;
    let finished = false;
    let pendingError: Error | null = null;
    const timers: NodeJS.Timeout[] = [];
    // 50 ms between samples: even v86's JIT retires far fewer than 2^32 instructions in that.
    const sampleTimer = setInterval(() => sampler?.sample(), 50);

    const end = (settle: () => void): void => {
      finished = true;
      clearInterval(sampleTimer);
      for (const t of timers) clearTimeout(t);
      Promise.resolve().then(() => emulator.destroy()).catch(() => {
        // the run is over either way; destroy errors are not the benchmark's business
      }).finally(settle);
    };
    let startedAt: number | null = null;
    let serial = '';
    const run: V86Run<T> = {
      createdAt,
      get startedAt() { return startedAt; },
      get serial() { return serial; },
      instructions: () => (sampler?.available ? sampler.sample() : null),
      finish: (result) => { if (!finished) end(() => resolve(result)); },
      fail: (err) => {
        if (finished) return;
        if (startedAt === null) {
          // v86 calls run() right after "emulator-ready"; destroying it before that would
          // leave it running. Fail once it has started (see the "emulator-started" listener).
          pendingError = err;
          return;
        }
        end(() => reject(err));
      },
      after: (ms, fn) => { timers.push(setTimeout(fn, ms)); },
    };

    emulator.add_listener('emulator-ready', () => {
      const cpu = (emulator as unknown as V86WithInternals).v86?.cpu;
      if (!cpu) {
        run.fail(new Error('v86 internals changed: emulator.v86.cpu is missing'));
        return;
      }
      sampler = new CounterSampler(cpu);
      handlers.onReady?.(cpu, run);
    });
    emulator.add_listener('emulator-started', () => {
      if (startedAt !== null) return;
      startedAt = performance.now();
      run.after(config.timeoutMs, () => run.fail(new Error(handlers.timeoutMessage(run))));
      // Our listener runs before v86's own one marks the emulator as running, and stop()
      // is a no-op until then: fail on the next turn of the event loop.
      const err = pendingError;
      if (err) setImmediate(() => run.fail(err));
    });
    emulator.add_listener('serial0-output-byte', (byte: number) => {
      serial += String.fromCharCode(byte);
      if (!finished) handlers.onSerial(run);
    });
  });
}

const EXIT_PORT = 0xf4;

export async function runOnV86(imagePath: string, options: V86RunOptions): Promise<V86RunResult> {
  if (!existsSync(imagePath)) {
    throw new Error(`kernel image not found: ${imagePath}`);
  }
  const doneMarker = options.doneMarker ?? 'bench: done';
  let tEntry: number | null = null;
  let tDone: number | null = null;
  let cEntry: number | null = null;
  let cDone: number | null = null;
  let exitCode: number | null = null;

  const finish = (run: V86Run<V86RunResult>): void => {
    const cEnd = run.instructions();
    const kernelEnd = exitCode !== null ? cEnd : cDone;
    run.finish({
      wallMs: tDone! - run.startedAt!,
      instructions: cEnd !== null && cEntry !== null && kernelEnd !== null ? kernelEnd - cEntry : null,
      serial: run.serial,
      bootMs: tEntry !== null ? tEntry - run.startedAt! : null,
      kernelMs: tEntry !== null ? tDone! - tEntry : null,
      totalInstructions: cEnd,
      setupMs: run.startedAt! - run.createdAt,
      exitCode,
    });
  };

  return driveV86<V86RunResult>({
    jit: options.jit, memoryMiB: options.memoryMiB ?? 64, timeoutMs: options.timeoutMs ?? 300_000,
    boot: { multiboot: toArrayBuffer(readFileSync(imagePath)) },
  }, {
    onReady(cpu, run) {
      const hasRom = cpu.option_roms?.some((r) => r.name === 'genroms/multiboot.bin');
      if (hasRom === false) {
        run.fail(new Error(`v86 found no Multiboot v1 header in the first 8 KiB of ${imagePath}`));
        return;
      }
      const port = cpu.io.ports[EXIT_PORT]!;
      const loadKernel = port.read32;
      port.read32 = function (this: unknown, p: number): number {
        const value = loadKernel.call(this, p);
        if (tEntry === null) {
          tEntry = performance.now();
          cEntry = run.instructions();
        }
        return value;
      };
      const onExit = (value: number): void => {
        if (exitCode !== null) return;
        exitCode = value >>> 0;
        if (tDone === null) {
          run.fail(new Error(`the kernel exited (port 0xF4 <- ${exitCode}) before printing "${doneMarker}"; ` +
            `serial: ${JSON.stringify(run.serial.slice(-400))}`));
          return;
        }
        finish(run);
      };
      port.write8 = (v: number) => onExit(v & 0xff);
      port.write16 = (v: number) => onExit(v & 0xffff);
      port.write32 = (v: number) => onExit(v);
    },
    onSerial(run) {
      if (tDone === null && run.serial.endsWith(doneMarker)) {
        tDone = performance.now();
        cDone = run.instructions();
        // The kernel normally writes CRLF and exits right after the marker; wait briefly
        // for that so the instruction count covers the same range as ours.
        run.after(1000, () => finish(run));
      }
    },
    timeoutMessage: (run) => `v86 did not print "${doneMarker}" within ${options.timeoutMs ?? 300_000} ms of starting ` +
      `(${tEntry === null ? 'the kernel was never entered: SeaBIOS did not run the Multiboot option ROM' : 'the kernel was running'}); ` +
      `serial so far: ${JSON.stringify(run.serial.slice(-400))}`,
  });
}

export interface V86LinuxResult {
  serial: string;
  /** Per marker: ms from the constructor call (SeaBIOS and v86's wasm set-up included) and the
   *  instructions v86 had retired since reset (null without a counter). */
  hits: { wallMs: number; instructions: number | null }[];
}

/** Boots a Linux bzImage + initrd with v86's own loader (an option ROM that SeaBIOS runs, like Multiboot's); the run ends once the last marker's line is complete. */
export async function runLinuxOnV86(options: LinuxRunOptions): Promise<V86LinuxResult> {
  const last = options.markers[options.markers.length - 1];
  if (last === undefined) throw new Error('runLinuxOnV86: no markers');
  let markers: SerialMarkers<{ wallMs: number; instructions: number | null }> | null = null;
  return driveV86<V86LinuxResult>({
    jit: true, memoryMiB: options.memoryMiB, timeoutMs: options.timeoutMs,
    boot: {
      bzimage: toArrayBuffer(readFileSync(options.bzimage)), initrd: toArrayBuffer(readFileSync(options.initrd)), cmdline: options.cmdline,
    },
  }, {
    onReady(_cpu, run) {
      markers = new SerialMarkers(options.markers, () => ({ wallMs: performance.now() - run.createdAt, instructions: run.instructions() }));
    },
    onSerial(run) {
      markers!.feed(run.serial.slice(-1));
      if (markers!.seenAll && markerLine(run.serial, last) !== undefined) {
        run.finish({ serial: run.serial, hits: markers!.hits.map((h) => h!) });
      }
    },
    timeoutMessage: (run) => `v86 did not print ${options.markers.filter((_, i) => markers?.hits[i] === undefined).map((m) => `"${m}"`).join(', ')} ` +
      `within ${options.timeoutMs} ms of starting; serial so far: ${JSON.stringify(run.serial.slice(-2000))}`,
  });
}
