// The flagship check: Debian's own i686 kernel and busybox (fetched with apt-get download, not
// committed) boot to the test init's marker, twice in parallel, with byte-identical serial output,
// and a third time with guest ring 0 deprivileged to ring 1, with that same output.
import { expect } from 'chai';
import { prepareDebianGuest } from '../host/debian-guest.js';
import { BOOT_MARKER as MARKER, bootLinuxInWorker, LINUX_BOOT_CMDLINE, type LinuxBoot } from '../host/linux-boot.js';
import { jitFromEnv, virtFromEnv } from './support/jit-env.js';

/**
 * Kernel messages that would mean our platform misbehaved (a device the kernel distrusts, a
 * timer it cannot calibrate, an interrupt it did not expect), or that the kernel itself failed.
 */
const PLATFORM_COMPLAINTS = [
  /WARNING:/, /\bOops\b/, /unstable/i, /\bBUG:/, /Kernel panic/, /Call Trace/, /spurious 8259A interrupt/i,
  /MP-BIOS bug/, /APIC timer/i, /TSC.*(fail|unstable|skew)/i, /calibrat\w* fail/i, /ExtINT/,
  /Fatal/i, /IRQ \d+: nobody cared/, /lost interrupt/i, /timer.*doesn't work/i,
  /Error/,
];

/**
 * The one complaint left, and why: there is no ACPI firmware (the machine describes itself with MP
 * tables), so the ACPI table search fails and says so before the kernel falls back to the MP tables.
 */
const EXPECTED_COMPLAINTS = [/ACPI BIOS Error \(bug\): A valid RSDP was not found/];

/**
 * Lines about our CPU's identity rather than its behaviour: Linux has no vendor-specific set-up
 * for "WasmvisorCPU" and says so (the CPU is not an Intel or AMD part, so we do not claim one).
 */
const IDENTITY_NOTICES = [/CPU: vendor_id 'WasmvisorCPU' unknown, using generic init/, /CPU: Your system may be unstable/];

/** Kernel log lines ("[    1.234567] ...") that match a complaint and are not the expected ones. */
function complaints(output: string): string[] {
  return output.split(/\r?\n/)
    .filter((line) => /^\[\s*\d+\.\d+\] /.test(line))
    .filter((line) => PLATFORM_COMPLAINTS.some((re) => re.test(line)))
    .filter((line) => ![...EXPECTED_COMPLAINTS, ...IDENTITY_NOTICES].some((re) => re.test(line)));
}

describe('Debian Linux boot (i686 kernel, busybox initramfs)', function () {
  this.timeout(60 * 60 * 1000);
  let boots: LinuxBoot[] = [];

  before(async () => {
    const guest = await prepareDebianGuest({ init: 'test-init', log: (line) => process.stderr.write(`      ${line}\n`) });
    // The suite's JIT switches apply: `npm run test:jit-forced` boots with every block compiled at first sight.
    const jit = jitFromEnv();
    const options = {
      kernel: guest.kernel, initrd: guest.initrd, cmdline: LINUX_BOOT_CMDLINE, markers: [MARKER], virt: virtFromEnv(),
      jit: jit?.enabled, jitThreshold: jit?.threshold,
    };
    boots = await Promise.all([
      bootLinuxInWorker(options), bootLinuxInWorker(options), bootLinuxInWorker({ ...options, virt: 'direct' }),
    ]);
  });

  it('reaches the marker after uname, /proc/cpuinfo, /proc/interrupts and a shell loop, then halts', () => {
    const { output, reason, error } = boots[0];
    expect(error, output).to.equal(undefined);
    expect(output).to.include(MARKER);
    expect(output).to.match(/^Linux \S+ 6\.\d+\.\d+-\d+-686 #1 SMP PREEMPT_DYNAMIC Debian \S+ \([\d-]+\) i686 GNU\/Linux\r?$/m);
    expect(output).to.match(/^vendor_id\s+: WasmvisorCPU\r?$/m);
    expect(output).to.match(/^model name\s+: wasmvisor virtual i686 CPU\r?$/m);
    expect(output).to.match(/^flags\s+: fpu .*\bapic\b.*\bcmov\b/m);
    expect(output).to.match(/^\s+0:\s+\d+\s+IO-APIC\s+2-edge\s+timer\r?$/m);
    expect(output).to.match(/^\s+4:\s+\d+\s+IO-APIC\s+4-edge\s+ttyS0\r?$/m);
    expect(output).to.match(/^LOC:\s+\d+\s+Local timer interrupts\r?$/m);
    expect(output).to.include('loop=2000');
    // No ACPI or APM, so `poweroff -f` ends in the kernel's halt loop (CLI; HLT), which ends the run.
    expect(output).to.include('reboot: System halted');
    expect(reason).to.equal('halt');
  });

  it('prints no kernel warning blamed on the platform', () => {
    expect(complaints(boots[0].output)).to.deep.equal([]);
  });

  it('prints byte-identical serial output in two boots with the fixed-epoch RTC', () => {
    expect(boots[1].output.length).to.equal(boots[0].output.length);
    expect(boots[1].output === boots[0].output, 'the two boots printed different output').to.equal(true);
    expect(boots[1].instructions).to.equal(boots[0].instructions);
  });

  it('prints the same serial output with guest ring 0 at ring 0 (--virt direct) as deprivileged to ring 1 (the default)', () => {
    expect(boots[2].error, boots[2].output.slice(-2000)).to.equal(undefined);
    expect(boots[2].output === boots[0].output, 'direct output differs from deprivileged').to.equal(true);
    expect(boots[2].instructions).to.equal(boots[0].instructions);
  });
});
