// Boot figures for Debian's i686 kernel under wasmvisor: guest instructions retired to the test
// init's marker, virtual seconds and wall seconds (medians over several sequential runs, so the
// runs do not compete for cores). Usage (after `npm run build`):
//
//   node dist/perf/linux-boot.js [--runs N] [--virt deprivileged,direct]
//
// With both modes the runs alternate between them and the table gives the deprivileged/direct
// wall-time ratio (the monitor's cost on a whole boot).
//
// The guest is fetched and cached like `npm run linux` does (test init: uname, /proc/cpuinfo,
// /proc/interrupts, a shell loop, the marker, power-off).
import { parseArgs } from 'node:util';
import { prepareDebianGuest } from '../host/debian-guest.js';
import { BOOT_MARKER as MARKER, bootLinux, LINUX_BOOT_CMDLINE } from '../host/linux-boot.js';
import { DEFAULT_VIRT, VIRT_MODES, type VirtMode } from '../core/machine/machine.js';
import { formatTable, median, positiveInteger } from './stats.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' }, virt: { type: 'string', default: DEFAULT_VIRT } } });
const runs = positiveInteger('--runs', values.runs);
const modes = values.virt.split(',') as VirtMode[];
for (const mode of modes) if (!VIRT_MODES.includes(mode)) throw new Error(`--virt: ${mode} is not one of ${VIRT_MODES.join(', ')}`);

interface Row { instructions: number; virtualS: number; wallS: number; totalWallS: number }
const guest = await prepareDebianGuest({ init: 'test-init', log: (line) => process.stderr.write(`${line}\n`) });
const rows = new Map<VirtMode, Row[]>(modes.map((m) => [m, []]));
for (let run = 1; run <= runs; run++) {
  for (const virt of modes) {
    const boot = bootLinux({ kernel: guest.kernel, initrd: guest.initrd, cmdline: LINUX_BOOT_CMDLINE, markers: [MARKER], virt });
    const [atMarker] = boot.atMarkers;
    if (atMarker === undefined) {
      process.stderr.write(boot.output.slice(-2000));
      throw new Error(`run ${run} (${virt}): the guest never printed ${MARKER} (${boot.reason}${boot.error ? `: ${boot.error}` : ''})`);
    }
    const row = { instructions: atMarker.instructions, virtualS: atMarker.virtualNs / 1e9, wallS: atMarker.wallMs / 1e3, totalWallS: boot.wallMs / 1e3 };
    rows.get(virt)!.push(row);
    process.stderr.write(`run ${run} ${virt}: ${row.instructions} instructions, ${row.virtualS.toFixed(3)} virtual s, ${row.wallS.toFixed(1)} wall s to the marker\n`);
  }
}
const medians = modes.map((virt) => {
  const r = rows.get(virt)!;
  const m = (f: (x: Row) => number): number => median(r.map(f));
  return { virt, instructions: m((x) => x.instructions), virtualS: m((x) => x.virtualS), wallS: m((x) => x.wallS), totalWallS: m((x) => x.totalWallS) };
});
console.log(`Debian ${guest.manifest.kernel.file} to ${MARKER}, command line "${LINUX_BOOT_CMDLINE}", ${runs} runs per mode`);
console.log(formatTable(['', ...modes.map((v) => `${v} (median)`)], [
  ['guest instructions to the marker', ...medians.map((x) => x.instructions)],
  ['virtual seconds to the marker', ...medians.map((x) => x.virtualS)],
  ['wall seconds to the marker', ...medians.map((x) => x.wallS)],
  ['wall seconds to power-off', ...medians.map((x) => x.totalWallS)],
  ['guest MIPS (instructions / wall)', ...medians.map((x) => x.instructions / x.wallS / 1e6)],
]));
const [direct, deprivileged] = ['direct', 'deprivileged'].map((v) => medians.find((x) => x.virt === v));
if (direct !== undefined && deprivileged !== undefined) {
  console.log(`deprivileged / direct wall time to the marker: ${(deprivileged.wallS / direct.wallS).toFixed(2)}`);
}
