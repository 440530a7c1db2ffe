// The real Linux guest: Debian's i386 686 kernel and busybox-static, fetched with apt into a
// cache outside git (never committed), plus a gzip'd cpio initramfs built from
// guests/linux/<init>. Once fetched, everything works offline from the cache.
//
//   node dist/host/debian-guest.js [--init init|test-init|bench-init|PATH] [--cache DIR] [--offline] [--refresh]

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { repoRoot } from '../guests/build.js';
import { type GuestManifest, MANIFEST, fetchDebianGuest } from './debian-fetch.js';
import { checkBzImage, checkStaticElf32I386 } from './guest-file-checks.js';
import { buildInitramfs } from './initramfs.js';

export interface DebianGuestOptions {
  /** Cache folder; default $WASMVISOR_CACHE/debian, else ~/.cache/wasmvisor/debian. */
  cacheDir?: string;
  /** An init script in guests/linux/ ("init", the default, "test-init" or "bench-init"), or a path to one. */
  init?: string;
  /** Never run apt: fail if the cache does not hold the kernel and busybox yet. */
  offline?: boolean;
  /** Resolve and download again even when the cache is filled (e.g. for a newer kernel). */
  refresh?: boolean;
  /** Progress lines; silent by default. */
  log?: (line: string) => void;
}

export interface DebianGuest {
  kernel: string;
  initrd: string;
  manifest: GuestManifest;
}

export function defaultCacheDir(): string {
  const root = process.env.WASMVISOR_CACHE || path.join(os.homedir(), '.cache', 'wasmvisor');
  return path.join(root, 'debian');
}

/** The manifest of a filled cache whose files are still there, else undefined. */
export function readCachedManifest(cacheDir: string): GuestManifest | undefined {
  const file = path.join(cacheDir, MANIFEST);
  if (!fs.existsSync(file)) return undefined;
  const manifest = JSON.parse(fs.readFileSync(file, 'utf8')) as GuestManifest;
  const present = [manifest.kernel.file, manifest.busybox.file].every((f) => fs.existsSync(path.join(cacheDir, f)));
  return present ? manifest : undefined;
}

function initScriptPath(init: string): string {
  return init.includes('/') ? path.resolve(init) : path.join(repoRoot(), 'guests', 'linux', init);
}

/** Writes `bytes` to `file` unless it already holds them, via a rename so readers never see half a file. */
function writeIfChanged(file: string, bytes: Uint8Array): void {
  if (fs.existsSync(file) && Buffer.from(bytes).equals(fs.readFileSync(file))) return;
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, bytes);
  fs.renameSync(tmp, file);
}

/** Fetches the guest if the cache lacks it, builds the initramfs for `init`, and returns the paths. */
export async function prepareDebianGuest(options: DebianGuestOptions = {}): Promise<DebianGuest> {
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  const log = options.log ?? ((): void => {});
  let manifest = options.refresh ? undefined : readCachedManifest(cacheDir);
  if (!manifest) {
    if (options.offline) throw new Error(`the Debian guest is not in ${cacheDir} and offline was asked: fetch it once (as root)`);
    manifest = fetchDebianGuest(cacheDir, log);
  }
  const kernel = path.join(cacheDir, manifest.kernel.file);
  const busyboxFile = path.join(cacheDir, manifest.busybox.file);
  // Checked on every use too: a truncated or replaced cache file should fail here, not in the guest.
  checkBzImage(fs.readFileSync(kernel), kernel);
  const busybox = new Uint8Array(fs.readFileSync(busyboxFile));
  checkStaticElf32I386(busybox, busyboxFile);

  const init = options.init ?? 'init';
  const script = initScriptPath(init);
  if (!fs.existsSync(script)) throw new Error(`no init script ${script}`);
  const initrd = path.join(cacheDir, `initramfs-${path.basename(script)}.cpio.gz`);
  writeIfChanged(initrd, buildInitramfs(busybox, new Uint8Array(fs.readFileSync(script))));
  return { kernel, initrd, manifest };
}

function parseArgs(argv: string[]): DebianGuestOptions {
  const options: DebianGuestOptions = { log: (line) => console.error(`debian-guest: ${line}`) };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (!v) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg === '--init') options.init = value();
    else if (arg === '--cache') options.cacheDir = path.resolve(value());
    else if (arg === '--offline') options.offline = true;
    else if (arg === '--refresh') options.refresh = true;
    else if (arg === '-h' || arg === '--help') {
      console.log('usage: node dist/host/debian-guest.js [--init init|test-init|bench-init|PATH] [--cache DIR] [--offline] [--refresh]');
      process.exit(0);
    } else throw new Error(`unknown option ${arg} (see --help)`);
  }
  return options;
}

async function main(argv: string[]): Promise<void> {
  const started = Date.now();
  const guest = await prepareDebianGuest(parseArgs(argv));
  const { kernel, busybox } = guest.manifest;
  console.log(`kernel   ${kernel.package} ${kernel.version}: ${guest.kernel} (${kernel.size} bytes, boot protocol ${kernel.protocol})`);
  if (kernel.kernelVersion) console.log(`         ${kernel.kernelVersion}`);
  console.log(`busybox  ${busybox.package} ${busybox.version}: ${busybox.size} bytes, ${busybox.linkage} ELF32 i386`);
  console.log(`initrd   ${guest.initrd} (${fs.statSync(guest.initrd).size} bytes)`);
  console.log(`fetched  ${guest.manifest.fetchedAt} in ${guest.manifest.fetchSeconds.toFixed(1)} s; this run took ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((err: Error) => {
    console.error(`debian-guest: ${err.message}`);
    process.exit(1);
  });
}
