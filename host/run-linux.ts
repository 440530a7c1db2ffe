// `npm run linux`: fetch Debian's i686 kernel and busybox if they are not cached yet, build the
// initramfs, and boot it interactively on the serial console (Ctrl-A x quits).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { prepareDebianGuest } from './debian-guest.js';
import { LINUX_BOOT_CMDLINE } from './linux-boot.js';

const cli = fileURLToPath(new URL('../bin/wasmvisor.js', import.meta.url));
const guest = await prepareDebianGuest({ init: 'init', log: (line) => process.stderr.write(`${line}\n`) });
const result = spawnSync(process.execPath, [cli, 'boot', '--kernel', guest.kernel, '--initrd', guest.initrd,
  '--mem', '128M', '--append', LINUX_BOOT_CMDLINE, ...process.argv.slice(2)], { stdio: 'inherit' });
process.exitCode = result.status ?? 1;
