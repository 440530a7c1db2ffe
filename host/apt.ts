// What the Debian guest recipe asks of apt and dpkg: running them with errors that name
// the failing step, and reading their output. The parsers are pure so tests can feed them
// canned output without touching the network.

import { spawnSync } from 'node:child_process';

/** A recipe step that failed; the message names the step and what the tool said. */
export class StepError extends Error {
  constructor(readonly step: string, detail: string) {
    super(`${step}: ${detail}`);
  }
}

/** Runs a command and returns its stdout and stderr; failures become a StepError naming `step`. */
export function runStepOutput(step: string, command: string, args: readonly string[], cwd?: string): { stdout: string; stderr: string } {
  const r = spawnSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
  if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
    throw new StepError(step, `${command} is not installed (this recipe needs Debian's apt and dpkg)`);
  }
  if (r.error) throw new StepError(step, `\`${command}\` could not run: ${r.error.message}`);
  if (r.status !== 0) {
    const said = (r.stderr || r.stdout || '').trim().split('\n').filter((l) => l.trim()).slice(-6).join('\n  ');
    throw new StepError(step, `\`${[command, ...args].join(' ')}\` failed (status ${r.status ?? r.signal})${said ? `:\n  ${said}` : ''}`);
  }
  return { stdout: r.stdout, stderr: r.stderr };
}

/** Runs a command and returns its stdout; failures become a StepError naming `step`. */
export function runStep(step: string, command: string, args: readonly string[], cwd?: string): string {
  return runStepOutput(step, command, args, cwd).stdout;
}

/** The Debian kernel flavour we boot: plain 686, since the CPU has no PAE. */
export const KERNEL_METAPACKAGE = 'linux-image-686';
export const BUSYBOX_PACKAGE = 'busybox-static';
export const GUEST_ARCH = 'i386';

/** Versioned 686 (non-PAE) kernel images: linux-image-6.1.0-41-686 and its -unsigned twin. */
const KERNEL_IMAGE_NAME = /^linux-image-(\d+(?:\.\d+)+-\d+)-686(-unsigned)?$/;

const stripArch = (name: string): string => name.replace(/:[a-z0-9]+$/, '');

/**
 * The versioned kernel image package `apt-cache depends linux-image-686:i386` names.
 * Output lines look like "  Depends: linux-image-6.1.0-41-686:i386" (alternatives start
 * with "|Depends:", virtual packages are in angle brackets); the first 686 image wins.
 */
export function kernelFromDepends(output: string): string | undefined {
  for (const line of output.split('\n')) {
    const m = /^\s*\|?(?:Pre)?Depends:\s+<?([^\s>]+)>?\s*$/.exec(line);
    if (m && KERNEL_IMAGE_NAME.test(stripArch(m[1]!))) return stripArch(m[1]!);
  }
  return undefined;
}

/**
 * The newest versioned 686 image in `apt-cache search --names-only '^linux-image-.*-686'`
 * output ("name - description" lines), for when the metapackage is missing. Newer ABI
 * numbers win; an image and its -unsigned twin tie, and the -unsigned one is taken.
 */
export function kernelFromSearch(output: string): string | undefined {
  const images = output.split('\n')
    .map((line) => stripArch(line.split(' - ')[0]!.trim()))
    .filter((name) => KERNEL_IMAGE_NAME.test(name));
  const key = (name: string): number[] => KERNEL_IMAGE_NAME.exec(name)![1]!.split(/[.-]/).map(Number);
  images.sort((a, b) => {
    const ka = key(a), kb = key(b);
    for (let i = 0; i < Math.max(ka.length, kb.length); i++) {
      const d = (ka[i] ?? 0) - (kb[i] ?? 0);
      if (d !== 0) return d;
    }
    return a.length - b.length;
  });
  return images.at(-1);
}

/** Whether `apt-cache policy` output shows an installable candidate ("Candidate: (none)" does not). */
export function hasCandidate(policyOutput: string): boolean {
  const m = /^\s*Candidate:\s*(\S+)/m.exec(policyOutput);
  return m !== null && m[1] !== '(none)';
}

/** The fields `dpkg-deb -f FILE Package Version Architecture` prints, as a record. */
export function parseControlFields(output: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of output.split('\n')) {
    const m = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
    if (m) fields[m[1]!] = m[2]!.trim();
  }
  return fields;
}
