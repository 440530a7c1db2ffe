import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GuestError } from '../core/cpu/faults.js';
import { locateUnsupported } from '../core/cpu/unsupported.js';
import { ROOT, runCli, tempFile } from './support/cli.js';
import { CpuHarness } from './support/cpu-harness.js';

/** Every error path: one line on stderr naming what went wrong, no stack trace, a non-zero status. */
function expectOneLineError(r: { status: number | null; stderr: string }, status: number, pattern: RegExp): void {
  expect(r.status, r.stderr).to.equal(status);
  const lines = r.stderr.trim().split('\n');
  expect(lines, r.stderr).to.have.length(1);
  expect(lines[0]).to.match(pattern);
  expect(r.stderr).not.to.match(/\n\s+at /);
}

describe('CLI', () => {
  it('boots the default guest: prints its line, exit status (0 << 1) | 1', () => {
    const r = runCli(['boot', 'guests/hello/hello.elf']);
    expect(r.stdout).to.equal(readFileSync(join(ROOT, 'guests/hello/expected.txt'), 'utf8'));
    expect(r.status).to.equal(1);
  });

  it('--expect-exit turns a matching exit value into status 0, a different one into 1', () => {
    expect(runCli(['boot', 'guests/hello/hello.elf', '--expect-exit', '0']).status).to.equal(0);
    const r = runCli(['boot', 'guests/hello/hello.elf', '--expect-exit', '7']);
    expect(r.status).to.equal(1);
    expect(r.stderr).to.match(/exited with value 0, expected 7/);
  });

  it('prints help for each command', () => {
    expect(runCli(['--help']).stdout).to.match(/boot IMAGE/);
    expect(runCli(['boot', '--help']).stdout).to.match(/--max-instructions N/);
    expect(runCli(['disasm', '--help']).stdout).to.match(/--bits 16\|32/);
  });

  it('rejects a missing file', () => {
    expectOneLineError(runCli(['boot', 'no/such/kernel.elf']), 2, /cannot read no\/such\/kernel\.elf: no such file/);
  });

  it('rejects an unknown option and an unknown command', () => {
    expectOneLineError(runCli(['boot', 'guests/hello/hello.elf', '--bogus']), 2, /--bogus/);
    expectOneLineError(runCli(['frobnicate']), 2, /unknown command 'frobnicate'/);
    expectOneLineError(runCli(['boot', 'guests/hello/hello.elf', '--mem', 'lots']), 2, /--mem: cannot read 'lots'/);
  });

  it('rejects a truncated ELF image, naming the file and what is cut off', () => {
    const whole = readFileSync(join(ROOT, 'guests/hello/hello.elf'));
    const path = tempFile('cut.elf', whole.subarray(0, 40));
    expectOneLineError(runCli(['boot', path]), 2, /cut\.elf: .*truncated/i);
  });

  it('rejects foreign images: a 64-bit ELF and a PE executable', () => {
    const elf64 = [0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, ...new Array(57).fill(0)];
    expectOneLineError(runCli(['boot', tempFile('k64.elf', elf64)]), 2, /k64\.elf: .*64/);
    const pe = [0x4d, 0x5a, ...new Array(126).fill(0)];
    expectOneLineError(runCli(['boot', tempFile('prog.exe', pe)]), 2, /prog\.exe: .*(PE|MZ)/);
  });

  it('reports a guest triple fault with the guest address', () => {
    // lidt [0x7C08] (an IDT limit of 0), then int3: #GP, #DF and the shutdown.
    const code = [0x0f, 0x01, 0x1e, 0x08, 0x7c, 0xcc, 0xf4, 0xf4, 0, 0, 0, 0, 0, 0];
    expectOneLineError(runCli(['boot', tempFile('triple.bin', code)]), 4, /triple\.bin: triple fault at 0000:7C05/);
  });

  /**
   * Nothing a guest can execute is unsupported any more (the last case, virtual-8086 mode, is
   * implemented), so this checks the report the interpreter builds for an unsupported-kind
   * GuestError (locateUnsupported, the same text the CLI prints on exit status 4) directly; the
   * CLI's crash path itself is covered by the triple-fault tests.
   */
  it('formats an unsupported instruction with its address and bytes (no guest trigger is left)', () => {
    const h = new CpuHarness().realMode([0x66, 0xcf], 0x7c14);
    const e = locateUnsupported(h.cpu, 0x7c14, new GuestError('something not modelled', 'unsupported', false));
    expect(e.kind).to.equal('unsupported');
    expect(e.located).to.equal(true);
    expect(e.message).to.equal('unsupported instruction at 0000:7C14 (linear 0x00007C14): something not modelled (bytes 66 CF)');
  });

  it('keeps what the guest printed before it crashed', () => {
    // mov dx, 0x3F8; mov al, 'A'; out dx, al; then the triple fault of the test above (lidt [0x7C0E]; int3)
    const code = [0xba, 0xf8, 0x03, 0xb0, 0x41, 0xee, 0x0f, 0x01, 0x1e, 0x0e, 0x7c, 0xcc, 0xf4, 0xf4, 0, 0, 0, 0, 0, 0];
    const r = runCli(['boot', tempFile('late.bin', code)]);
    expect(r.stdout).to.equal('A');
    expectOneLineError(r, 4, /triple fault at 0000:7C0B/);
  });

  it('--screen prints the VGA text screen at exit; --rtc-epoch must be a date', () => {
    // mov ax, 0xB800; mov es, ax; mov word [es:0], 0x0748 ('H'); cli; hlt
    const code = [0xb8, 0x00, 0xb8, 0x8e, 0xc0, 0x26, 0xc7, 0x06, 0x00, 0x00, 0x48, 0x07, 0xfa, 0xf4];
    const r = runCli(['boot', tempFile('screen.bin', code), '--screen', '--rtc-epoch', '2000-01-01T00:00:00Z']);
    expect(r.stdout.split('\n')[1]).to.equal('H');
    expectOneLineError(runCli(['boot', tempFile('screen.bin', code), '--rtc-epoch', 'soon']), 2, /--rtc-epoch: cannot read 'soon'/);
  });

  it('stops at --max-instructions', () => {
    const r = runCli(['boot', tempFile('spin.bin', [0xeb, 0xfe]), '--max-instructions', '1000']);
    expect(r.status).to.equal(0);
    expect(r.stderr).to.match(/stopped after 1000 instructions/);
  });

  it('traces instructions to stderr', () => {
    const r = runCli(['boot', tempFile('two.bin', [0xb8, 0x34, 0x12, 0xfa, 0xf4]), '--trace']);
    expect(r.stderr).to.match(/0000:7C00  mov ax, 0x1234/);
    expect(r.stderr).to.match(/0000:7C03  cli .*EAX=00001234/);
  });

  it('disassembles a file in 16- and 32-bit mode', () => {
    const path = tempFile('code.bin', [0xb8, 0x78, 0x56, 0x34, 0x12, 0xc3]);
    expect(runCli(['disasm', path, '--org', '0x1000']).stdout).to.equal(
      '00001000  b8 78 56 34 12                 mov eax, 0x12345678\n00001005  c3                             ret\n');
    expect(runCli(['disasm', path, '--bits', '16']).stdout.split('\n')[0]).to.match(/b8 78 56 +mov ax, 0x5678$/);
    expectOneLineError(runCli(['disasm', path, '--bits', '64']), 2, /--bits: must be 16 or 32/);
  });
});
