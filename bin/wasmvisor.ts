#!/usr/bin/env node
import { parseArgs, ParseArgsConfig } from 'node:util';
import { readFileSync } from 'node:fs';
import { createMachine, DEFAULT_JIT_THRESHOLD, DEFAULT_VIRT, Machine, RunResult, VIRT_MODES, VirtMode } from '../core/machine/machine.js';
import type { VmmStats } from '../core/vmm/stats.js';
import { ImageError } from '../core/machine/loaders/boot-plan.js';
import { disassemble } from '../core/decoder/disassembler.js';
import { traceLine } from '../core/machine/trace.js';
import { hex } from '../core/cpu/interrupts.js';
import { S, Seg } from '../core/cpu/state-layout.js';
import { attachStdin, parseInteger, parseMemorySize, readGuestFile, UsageError } from '../host/node-host.js';
import { jitDumpWriter } from '../host/jit-dump.js';

/** Exit statuses of our own; the guest's exit-port statuses are always odd, these are even. */
const STATUS_OK = 0;
const STATUS_USAGE = 2;
const STATUS_GUEST_CRASH = 4;

const MAIN_HELP = `Usage: wasmvisor <command> [options]

Commands:
  boot IMAGE     boot a guest image (ELF32, Multiboot v1, or a flat binary)
  disasm FILE    disassemble a raw binary (Intel syntax)

Run 'wasmvisor <command> --help' for the options of a command.`;

const BOOT_HELP = `Usage: wasmvisor boot IMAGE [options]
       wasmvisor boot --kernel BZIMAGE [--initrd FILE] [--append CMDLINE] [options]

Boots IMAGE on a PC with a 16550 UART on COM1 (wired to stdin/stdout), a debug console
on port 0xE9 and an exit port at 0xF4. The format is detected: Multiboot v1 (ELF or a.out
kludge), ELF32 (entered in flat 32-bit protected mode), or a flat binary (.bin, .img, .com,
.raw: entered in real mode at 0000:7C00).

Options:
  --mem SIZE               guest RAM, e.g. 64M or 1G (default 64M)
  --kernel FILE            the image to boot (instead of the IMAGE argument)
  --append CMDLINE         kernel command line (Linux; Multiboot: after the kernel name)
  --module FILE            Multiboot module (repeatable)
  --initrd FILE            Linux initial ramdisk (with a bzImage kernel)
  --format FMT             auto, flat, elf32, multiboot or linux (default auto)
  --load-address ADDR      where a flat binary is loaded (default 0x7C00)
  --max-instructions N     stop after N guest instructions
  --trace                  print every instruction with the registers to stderr
  --stats                  print instruction count, virtual and host time at exit (and the
                           monitor's traps, hooks and time with --virt deprivileged)
                           (and the JIT's counters when it is on)
  --jit on|off             translate hot code into WebAssembly (default on; the
                           environment variable WASMVISOR_JIT sets the default)
  --jit-threshold N        executions of a block before it is compiled (default ${DEFAULT_JIT_THRESHOLD},
                           or WASMVISOR_JIT_THRESHOLD; 0 compiles every block on first sight)
  --virt MODE              deprivileged (default, or WASMVISOR_VIRT): guest ring 0 runs at
                           ring 1 under the monitor, which traps and emulates privileged
                           instructions (translated code calls it instead) and hooks the
                           sensitive ones (--stats counts them); direct: at ring 0
  --jit-dump DIR           write each compiled module to DIR/module-NNNNN.wasm and as text,
                           headed by its blocks' guest instructions, to module-NNNNN.wat
  --screen                 print the VGA text screen at exit
  --rtc-epoch TIME         start the RTC at TIME (ISO 8601, e.g. 2000-01-01T00:00:00Z)
                           instead of the host's clock, for reproducible runs
  --expect-exit V          exit 0 if the guest writes V to the exit port, 1 otherwise
  -h, --help               this text

Exit status: (V << 1) | 1 when the guest writes V to port 0xF4 (as QEMU's isa-debug-exit);
0 when it halts with interrupts disabled or reaches --max-instructions; 2 for a bad
command line or image; 4 when the guest crashes (triple fault, unsupported instruction).
Keys on a terminal: Ctrl-A x quits, Ctrl-A c prints statistics.`;

const DISASM_HELP = `Usage: wasmvisor disasm FILE [options]

Options:
  --org ADDR     address of the first byte (default 0)
  --bits 16|32   code size (default 32)
  -h, --help     this text`;

function parse(args: string[], options: NonNullable<ParseArgsConfig['options']>) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message.split('\n')[0]);
  }
}

function oneImage(positionals: string[], command: string): string {
  if (positionals.length === 0) throw new UsageError(`${command}: no image given (see wasmvisor ${command} --help)`);
  if (positionals.length > 1) throw new UsageError(`${command}: unexpected argument '${positionals[1]}'`);
  return positionals[0];
}

async function boot(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    mem: { type: 'string' }, append: { type: 'string' }, module: { type: 'string', multiple: true },
    format: { type: 'string' }, 'load-address': { type: 'string' }, 'max-instructions': { type: 'string' },
    trace: { type: 'boolean' }, stats: { type: 'boolean' }, 'expect-exit': { type: 'string' },
    screen: { type: 'boolean' }, 'rtc-epoch': { type: 'string' }, kernel: { type: 'string' }, initrd: { type: 'string' },
    jit: { type: 'string' }, 'jit-threshold': { type: 'string' }, 'jit-dump': { type: 'string' }, virt: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) { console.log(BOOT_HELP); return STATUS_OK; }
  const dump = values['jit-dump'] as string | undefined;
  const jit = jitOptions(values.jit as string | undefined, values['jit-threshold'] as string | undefined, dump !== undefined);
  const onModule = dump !== undefined ? await jitDumpWriter(dump) : undefined;
  if (values.kernel !== undefined && positionals.length > 0) throw new UsageError(`boot: give the image either as IMAGE or with --kernel, not both`);
  const path = values.kernel !== undefined ? values.kernel as string : oneImage(positionals, 'boot');
  const format = (values.format as string | undefined) ?? 'auto';
  if (!['auto', 'flat', 'elf32', 'multiboot', 'linux'].includes(format)) throw new UsageError(`--format: unknown format '${format}' (auto, flat, elf32, multiboot, linux)`);
  const memoryMiB = values.mem ? parseMemorySize(values.mem as string) : 64;
  const maxInstructions = values['max-instructions'] ? parseInteger('--max-instructions', values['max-instructions'] as string) : undefined;
  const expectExit = values['expect-exit'] !== undefined ? parseInteger('--expect-exit', values['expect-exit'] as string) : undefined;
  const image = readGuestFile(path);
  const modules = ((values.module as string[] | undefined) ?? []).map(readGuestFile);
  const initrd = values.initrd !== undefined ? readGuestFile(values.initrd as string) : undefined;

  const rtcStartTime = values['rtc-epoch'] !== undefined ? parseEpoch(values['rtc-epoch'] as string) : Date.now();
  const virt = (values.virt as string | undefined) ?? process.env.WASMVISOR_VIRT ?? DEFAULT_VIRT;
  if (!VIRT_MODES.includes(virt as VirtMode)) throw new UsageError(`--virt: must be ${VIRT_MODES.join(' or ')}, not '${virt}'`);
  const machine = createMachine({ memoryMiB, rtcStartTime, jit: { ...jit, onModule }, virt: virt as VirtMode });
  machine.loadImage(image, {
    cmdline: values.append as string | undefined, modules, initrd, format: format as 'auto',
    flatAddress: values['load-address'] ? parseInteger('--load-address', values['load-address'] as string) : undefined,
  });
  machine.onSerialOutput((bytes) => process.stdout.write(bytes));
  machine.onDebugOutput((bytes) => process.stdout.write(bytes));
  const printStats = (): void => printStatistics(machine);
  const detach = attachStdin(machine, printStats);
  let result: RunResult;
  try {
    result = await machine.run({
      maxInstructions,
      realTime: process.stdin.isTTY === true,
      beforeInstruction: values.trace ? (cpu) => process.stderr.write(traceLine(cpu) + '\n') : undefined,
    });
  } finally {
    detach();
  }
  if (values.screen) process.stdout.write(`\n${machine.platform.vga.screenText()}\n`);
  if (values.stats) printStats();
  return report(machine, result, path, expectExit);
}

function report(machine: Machine, result: RunResult, path: string, expectExit: number | undefined): number {
  const st = machine.cpu.st;
  const at = `${hex(st[S.SEL + Seg.CS], 4)}:${hex(st[S.EIP], machine.cpu.code32 ? 8 : 4)}`;
  switch (result.reason) {
    case 'exit':
      if (expectExit !== undefined) {
        if (result.exitValue === expectExit) return STATUS_OK;
        process.stderr.write(`wasmvisor: ${path}: guest exited with value ${result.exitValue}, expected ${expectExit}\n`);
        return 1;
      }
      return result.exitStatus!;
    case 'error':
      process.stderr.write(`wasmvisor: error: ${path}: ${result.error!.message}\n`);
      return STATUS_GUEST_CRASH;
    case 'halt':
      process.stderr.write(`wasmvisor: ${path}: guest halted at ${at} with nothing left to wake it\n`);
      return expectExit !== undefined ? 1 : STATUS_OK;
    case 'reset':
      process.stderr.write(`wasmvisor: ${path}: guest requested a system reset at ${at}\n`);
      return expectExit !== undefined ? 1 : STATUS_OK;
    case 'limit':
      process.stderr.write(`wasmvisor: ${path}: stopped after ${result.instructions} instructions (--max-instructions) at ${at}\n`);
      return expectExit !== undefined ? 1 : STATUS_OK;
    default:
      return expectExit !== undefined ? 1 : STATUS_OK;
  }
}

/** --jit and --jit-threshold, defaulting to WASMVISOR_JIT and WASMVISOR_JIT_THRESHOLD (the test suite's switches). */
function jitOptions(flag: string | undefined, thresholdFlag: string | undefined, dump: boolean) {
  const mode = flag ?? process.env.WASMVISOR_JIT;
  const threshold = thresholdFlag ?? process.env.WASMVISOR_JIT_THRESHOLD;
  if (mode !== undefined && mode !== 'on' && mode !== 'off') throw new UsageError(`--jit: must be on or off, not '${mode}'`);
  const enabled = mode !== 'off';
  if (!enabled && (thresholdFlag !== undefined || dump)) throw new UsageError('--jit-threshold and --jit-dump need the JIT on');
  return { enabled, threshold: enabled && threshold !== undefined ? parseInteger('--jit-threshold', threshold) : undefined };
}

function parseEpoch(text: string): number {
  const ms = Date.parse(text);
  if (!Number.isFinite(ms)) throw new UsageError(`--rtc-epoch: cannot read '${text}' as a date (example: 2000-01-01T00:00:00Z)`);
  return ms;
}

function printStatistics(machine: Machine): void {
  const s = machine.stats();
  process.stderr.write(`\r\nwasmvisor: ${s.instructions} instructions, ${(s.virtualNs / 1e9).toFixed(6)} s virtual, `
    + `${(s.hostMs / 1000).toFixed(3)} s host, ${s.mips.toFixed(1)} MIPS\r\n`);
  if (s.jit) {
    const j = s.jit;
    const share = s.instructions > 0 ? (100 * j.translatedInstructions / s.instructions).toFixed(1) : '0.0';
    process.stderr.write(`wasmvisor: JIT: ${j.blocksCompiled} blocks in ${j.modules} modules, ${j.invalidations} invalidations, `
      + `${j.compileMs.toFixed(1)} ms compiling, ${share}% of instructions translated\r\n`);
  }
  if (s.vmm) printMonitorStatistics(s.vmm, s.instructions);
}

/** The deprivileging monitor's counters: traps, callouts and hooks by instruction, deliveries by vector, its share of the work. */
function printMonitorStatistics(v: VmmStats, instructions: number): void {
  const list = (counts: Record<string, number>) => Object.entries(counts).map(([k, n]) => `${k} ${n}`).join(', ') || 'none';
  const share = instructions > 0 ? (100 * v.instructions / instructions).toFixed(3) : '0.000';
  process.stderr.write(`wasmvisor: VMM: ${v.instructions} guest instructions in the monitor (${share}%), ${v.hostMs.toFixed(1)} ms host\r\n`
    + `wasmvisor: VMM traps: ${list(v.traps)}\r\n`
    + `wasmvisor: VMM callouts from translated code: ${list(v.callouts)}\r\n`
    + `wasmvisor: VMM hooks: ${list(v.hooks)}\r\n`
    + `wasmvisor: VMM deliveries: ${list(v.deliveries)}\r\n`
    + `wasmvisor: VMM shadow descriptors: ${v.shadowFills} made, ${v.shadowWriteFlushes} pages dropped by writes\r\n`);
}

function disasm(args: string[]): number {
  const { values, positionals } = parse(args, {
    org: { type: 'string' }, bits: { type: 'string' }, help: { type: 'boolean', short: 'h' },
  });
  if (values.help) { console.log(DISASM_HELP); return STATUS_OK; }
  const path = oneImage(positionals, 'disasm');
  const bits = values.bits === undefined ? 32 : Number(values.bits);
  if (bits !== 16 && bits !== 32) throw new UsageError(`--bits: must be 16 or 32, not '${values.bits}'`);
  const org = values.org ? parseInteger('--org', values.org as string) : 0;
  let bytes: Uint8Array;
  try { bytes = new Uint8Array(readFileSync(path)); } catch { bytes = readGuestFile(path).bytes; }
  const lines = disassemble(bytes, org, bits);
  const out = lines.map((l) => `${l.offset.toString(16).padStart(8, '0')}  ${l.bytes.map((b) => b.toString(16).padStart(2, '0')).join(' ').padEnd(30)} ${l.text}`);
  process.stdout.write(out.join('\n') + (out.length ? '\n' : ''));
  return STATUS_OK;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    console.log(MAIN_HELP);
    return command === undefined ? STATUS_USAGE : STATUS_OK;
  }
  if (command === 'boot') return boot(rest);
  if (command === 'disasm') return disasm(rest);
  throw new UsageError(`unknown command '${command}' (commands: boot, disasm)`);
}

main(process.argv.slice(2)).then(
  (status) => { process.exitCode = status; },
  (e: unknown) => {
    if (e instanceof UsageError || e instanceof ImageError || e instanceof RangeError) {
      process.stderr.write(`wasmvisor: error: ${e.message}\n`);
      process.exitCode = STATUS_USAGE;
    } else {
      process.stderr.write(`wasmvisor: internal error: ${(e as Error).stack ?? e}\n`);
      process.exitCode = 70;
    }
  },
);
