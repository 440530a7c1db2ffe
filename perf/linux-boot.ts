// Boot figures for Debian's i686 kernel under wasmvisor: guest instructions retired to the test
// init's marker, virtual seconds and wall seconds (medians over several sequential runs, so the
// runs do not compete for cores). Usage (after `npm run build`):
//
//   node dist/perf/linux-boot.js [--runs N]
//
// The guest is fetched and cached like `npm run linux` does (test init: uname, /proc/cpuinfo,
// /proc/interrupts, a shell loop, the marker, power-off).
import { parseArgs } from 'node:util';
import { prepareDebianGuest } from '../host/debian-guest.js';
import { BOOT_MARKER as MARKER, bootLinux, LINUX_BOOT_CMDLINE } from '../host/linux-boot.js';
import { formatTable, median, positiveInteger } from './stats.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' } } });
const runs = positiveInteger('--runs', values.runs);

const guest = await prepareDebianGuest({ init: 'test-init', log: (line) => process.stderr.write(`${line}\n`) });
const rows: { instructions: number; virtualS: number; wallS: number; totalWallS: number }[] = [];
for (let run = 1; run <= runs; run++) {
  const boot = bootLinux({ kernel: guest.kernel, initrd: guest.initrd, cmdline: LINUX_BOOT_CMDLINE, markers: [MARKER] });
  const [atMarker] = boot.atMarkers;
  if (atMarker === undefined) {
    process.stderr.write(boot.output.slice(-2000));
    throw new Error(`run ${run}: the guest never printed ${MARKER} (${boot.reason}${boot.error ? `: ${boot.error}` : ''})`);
  }
  const row = { instructions: atMarker.instructions, virtualS: atMarker.virtualNs / 1e9, wallS: atMarker.wallMs / 1e3, totalWallS: boot.wallMs / 1e3 };
  rows.push(row);
  process.stderr.write(`run ${run}: ${row.instructions} instructions, ${row.virtualS.toFixed(3)} virtual s, ${row.wallS.toFixed(1)} wall s to the marker\n`);
}
const instructions = median(rows.map((r) => r.instructions));
const wall = median(rows.map((r) => r.wallS));
console.log(`Debian ${guest.manifest.kernel.file} to ${MARKER}, command line "${LINUX_BOOT_CMDLINE}", ${runs} runs`);
console.log(formatTable(['', 'median'], [
  ['guest instructions to the marker', instructions],
  ['virtual seconds to the marker', median(rows.map((r) => r.virtualS))],
  ['wall seconds to the marker', wall],
  ['wall seconds to power-off', median(rows.map((r) => r.totalWallS))],
  ['guest MIPS (instructions / wall)', instructions / wall / 1e6],
]));
