// Fetches Debian's i386 686 kernel and busybox-static with apt-get download, extracts the
// vmlinuz and the busybox binary with dpkg-deb, and checks them. Only the extracted files
// and a manifest stay in the cache; the .debs (the kernel's holds every module) are dropped.

import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  BUSYBOX_PACKAGE, GUEST_ARCH, KERNEL_METAPACKAGE, StepError,
  hasCandidate, kernelFromDepends, kernelFromSearch, parseControlFields, runStep, runStepOutput,
} from './apt.js';
import { checkBzImage, checkStaticElf32I386 } from './guest-file-checks.js';

/** What was fetched, kept as manifest.json in the cache so later runs need no apt at all. */
export interface GuestManifest {
  kernel: { package: string; version: string; file: string; size: number; protocol: string; kernelVersion?: string };
  busybox: { package: string; version: string; file: string; size: number; linkage: string };
  fetchedAt: string;
  fetchSeconds: number;
}

export const MANIFEST = 'manifest.json';

const isRoot = (): boolean => process.getuid?.() === 0;

/** Runs a step that changes the system; `withStderr` also returns apt's warnings, which go to stderr. */
function asRoot(step: string, command: string, args: readonly string[], withStderr = false): string {
  if (!isRoot()) {
    throw new StepError(step, `needs root (running as uid ${process.getuid?.()}); run the fetch once as root, ` +
      'later runs use the cache and need neither root nor the network');
  }
  const { stdout, stderr } = runStepOutput(step, command, args);
  return withStderr ? `${stdout}\n${stderr}` : stdout;
}

/** Makes apt know i386 packages (`dpkg --add-architecture i386`); true when it had to, so the lists need an update. */
function ensureI386(log: (line: string) => void): boolean {
  const native = runStep('check the dpkg architecture', 'dpkg', ['--print-architecture']).trim();
  const foreign = runStep('check the dpkg architecture', 'dpkg', ['--print-foreign-architectures']).split('\n');
  if (native === GUEST_ARCH || foreign.includes(GUEST_ARCH)) return false;
  log(`adding the ${GUEST_ARCH} architecture (dpkg --add-architecture ${GUEST_ARCH})`);
  asRoot(`dpkg --add-architecture ${GUEST_ARCH}`, 'dpkg', ['--add-architecture', GUEST_ARCH]);
  return true;
}

const policy = (pkg: string): string => runStep(`apt-cache policy ${pkg}`, 'apt-cache', ['policy', pkg]);

/** The versioned kernel package behind the metapackage, preferring its -unsigned twin as the issue asks. */
function resolveKernelPackage(): string {
  const meta = `${KERNEL_METAPACKAGE}:${GUEST_ARCH}`;
  let name = kernelFromDepends(runStep(`apt-cache depends ${meta}`, 'apt-cache', ['depends', meta]));
  if (!name) {
    const search = runStep('apt-cache search for 686 kernels', 'apt-cache', ['search', '--names-only', '^linux-image-[0-9.]+-[0-9]+-686']);
    name = kernelFromSearch(search);
  }
  if (!name) throw new StepError('resolve the kernel package', `neither ${meta}'s dependencies nor apt-cache search name a 686 kernel image`);
  if (!name.endsWith('-unsigned') && hasCandidate(policy(`${name}-unsigned:${GUEST_ARCH}`))) name += '-unsigned';
  return name;
}

/**
 * Updates the package lists when apt does not know the i386 packages yet (a fresh
 * architecture, or no lists). A failed update is tolerated when the lists we need arrived:
 * one stale mirror index (say bookworm-security's) must not block a kernel from bookworm.
 */
function ensurePackageLists(mustUpdate: boolean, log: (line: string) => void): boolean {
  const known = (): boolean => [KERNEL_METAPACKAGE, BUSYBOX_PACKAGE].every((p) => hasCandidate(policy(`${p}:${GUEST_ARCH}`)));
  if (!mustUpdate && known()) return false;
  log('updating the package lists (apt-get update)');
  let problems = '';
  try {
    const said = asRoot('apt-get update', 'apt-get', ['update'], true);
    problems = said.split('\n').filter((l) => /^(W|E|Err):/.test(l)).slice(0, 4).join('\n  ');
  } catch (err) {
    if (!(err instanceof StepError) || !isRoot()) throw err;
    problems = err.message;
  }
  if (!known()) {
    throw new StepError('apt-get update', `apt still has no ${KERNEL_METAPACKAGE}:${GUEST_ARCH} or ${BUSYBOX_PACKAGE}:${GUEST_ARCH} ` +
      `afterwards; is the Debian mirror reachable and is "main" in the sources?${problems ? `\n  ${problems}` : ''}`);
  }
  if (problems) log(`apt-get update had problems, but the packages are known; going on:\n  ${problems}`);
  return true;
}

/** Downloads `packages` into `dir`, updating the lists once and retrying if the mirror has moved on. */
function download(packages: readonly string[], dir: string, updated: boolean, log: (line: string) => void): void {
  const step = `apt-get download ${packages.join(' ')}`;
  try {
    runStep(step, 'apt-get', ['download', ...packages], dir);
  } catch (err) {
    if (updated || !isRoot()) throw err;
    log('download failed; updating the package lists and retrying');
    asRoot('apt-get update', 'apt-get', ['update']);
    runStep(step, 'apt-get', ['download', ...packages], dir);
  }
}

function debFor(dir: string, pkg: string): string {
  const deb = fs.readdirSync(dir).find((f) => f.startsWith(`${pkg}_`) && f.endsWith(`_${GUEST_ARCH}.deb`));
  if (!deb) throw new StepError(`apt-get download ${pkg}`, `no ${pkg}_*_${GUEST_ARCH}.deb in ${dir}`);
  return path.join(dir, deb);
}

/** Unpacks `deb` and returns its Package/Version fields and the unpacked tree. */
function unpack(deb: string, into: string): { pkg: string; version: string; root: string } {
  const fields = parseControlFields(runStep(`read ${path.basename(deb)}`, 'dpkg-deb', ['-f', deb, 'Package', 'Version']));
  const root = path.join(into, path.basename(deb, '.deb'));
  runStep(`dpkg-deb -x ${path.basename(deb)}`, 'dpkg-deb', ['-x', deb, root]);
  return { pkg: fields.Package ?? '?', version: fields.Version ?? '?', root };
}

/** Fetches, extracts and checks both packages into `cacheDir`, writes the manifest and returns it. */
export function fetchDebianGuest(cacheDir: string, log: (line: string) => void): GuestManifest {
  const started = Date.now();
  fs.mkdirSync(cacheDir, { recursive: true });
  const updated = ensurePackageLists(ensureI386(log), log);
  const kernelPkg = resolveKernelPackage();
  log(`downloading ${kernelPkg}:${GUEST_ARCH} and ${BUSYBOX_PACKAGE}:${GUEST_ARCH} (apt-get download)`);
  const work = fs.mkdtempSync(path.join(cacheDir, 'download-'));
  // apt drops privileges to _apt for downloads; it can write here only if the folder is open to it.
  fs.chmodSync(work, 0o777);
  try {
    download([`${kernelPkg}:${GUEST_ARCH}`, `${BUSYBOX_PACKAGE}:${GUEST_ARCH}`], work, updated, log);
    const kernelDeb = unpack(debFor(work, kernelPkg), work);
    const busyboxDeb = unpack(debFor(work, BUSYBOX_PACKAGE), work);

    const bootDir = path.join(kernelDeb.root, 'boot');
    const vmlinuz = fs.existsSync(bootDir) ? fs.readdirSync(bootDir).find((f) => f.startsWith('vmlinuz-')) : undefined;
    if (!vmlinuz) throw new StepError('extract the kernel', `${kernelPkg} has no boot/vmlinuz-*`);
    const kernelBytes = fs.readFileSync(path.join(bootDir, vmlinuz));
    const header = checkBzImage(kernelBytes, `${kernelPkg}'s ${vmlinuz}`);

    const busyboxPath = ['bin/busybox', 'usr/bin/busybox'].map((p) => path.join(busyboxDeb.root, p)).find((p) => fs.existsSync(p));
    if (!busyboxPath) throw new StepError('extract busybox', `${BUSYBOX_PACKAGE} has no bin/busybox`);
    const busyboxBytes = fs.readFileSync(busyboxPath);
    const linkage = checkStaticElf32I386(busyboxBytes, `${BUSYBOX_PACKAGE}'s busybox`);

    fs.writeFileSync(path.join(cacheDir, vmlinuz), kernelBytes);
    fs.writeFileSync(path.join(cacheDir, 'busybox'), busyboxBytes, { mode: 0o755 });
    const manifest: GuestManifest = {
      kernel: { package: kernelDeb.pkg, version: kernelDeb.version, file: vmlinuz, size: kernelBytes.length, ...header },
      busybox: { package: busyboxDeb.pkg, version: busyboxDeb.version, file: 'busybox', size: busyboxBytes.length, linkage },
      fetchedAt: new Date().toISOString(),
      fetchSeconds: (Date.now() - started) / 1000,
    };
    fs.writeFileSync(path.join(cacheDir, MANIFEST), JSON.stringify(manifest, null, 2) + '\n');
    return manifest;
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}
