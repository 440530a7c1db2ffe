// Host tooling: assembles the test kernels under guests/ with nasm.
//
//   node dist/guests/build.js                 rebuild every guest in place
//   node dist/guests/build.js --out DIR       build every guest into DIR
//   node dist/guests/build.js hello bench     rebuild only the named guests
//
// Each guest is a single nasm source assembled as `nasm -f bin` (flat output:
// the ELF and Multiboot headers are written by hand in the sources), with the
// guest's own folder on the include path. nasm's bin output has no timestamps,
// so a fresh build is byte-identical to the committed image
// (test/guest-images.test.ts checks exactly that).

import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

export interface GuestSpec {
  /** Short name; the guest lives in guests/<name>/. */
  name: string;
  /** Source path relative to the repository root. */
  source: string;
  /** Committed image path relative to the repository root. */
  image: string;
}

export const GUESTS: readonly GuestSpec[] = [
  { name: "hello", source: "guests/hello/hello.asm", image: "guests/hello/hello.elf" },
  { name: "selftest", source: "guests/selftest/selftest.asm", image: "guests/selftest/selftest.bin" },
  { name: "bench", source: "guests/bench/bench.asm", image: "guests/bench/bench.bin" },
  { name: "paging", source: "guests/paging/paging.asm", image: "guests/paging/paging.bin" },
  { name: "protected", source: "guests/protected/protected.asm", image: "guests/protected/protected.bin" },
  { name: "v86", source: "guests/v86/v86.asm", image: "guests/v86/v86.bin" },
  { name: "tasks", source: "guests/tasks/tasks.asm", image: "guests/tasks/tasks.bin" },
  { name: "debug", source: "guests/debug/debug.asm", image: "guests/debug/debug.bin" },
  { name: "apic", source: "guests/apic/apic.asm", image: "guests/apic/apic.bin" },
  { name: "transparency", source: "guests/transparency/transparency.asm", image: "guests/transparency/transparency.bin" },
  { name: "smc", source: "guests/smc/smc.asm", image: "guests/smc/smc.bin" },
  { name: "nanobench", source: "guests/nanobench/nanobench.asm", image: "guests/nanobench/nanobench.bin" },
];

/** The repository root: the nearest ancestor of this file that holds guests/hello/hello.asm. */
export function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (fs.existsSync(path.join(dir, "guests", "hello", "hello.asm"))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) {
      throw new Error(
        `cannot find the wasmvisor repository root (no guests/hello/hello.asm above ${fileURLToPath(import.meta.url)})`,
      );
    }
    dir = parent;
  }
}

export function findGuest(name: string): GuestSpec {
  const spec = GUESTS.find((g) => g.name === name);
  if (!spec) {
    throw new Error(`unknown guest "${name}"; known guests: ${GUESTS.map((g) => g.name).join(", ")}`);
  }
  return spec;
}

/** True when `nasm -v` runs. */
export function nasmAvailable(): boolean {
  try {
    execFileSync("nasm", ["-v"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/**
 * Assemble guest `name` into `outDir` (default: the guest's own folder, i.e. in place)
 * and return the path of the image written. `defines` are passed as `-D` options
 * (e.g. ["QEMU_FLOPPY"] for the selftest's QEMU boot-sector variant).
 */
export function buildGuest(name: string, outDir?: string, defines: readonly string[] = []): string {
  const spec = findGuest(name);
  const root = repoRoot();
  const source = path.join(root, spec.source);
  const dir = outDir ?? path.join(root, path.dirname(spec.image));
  fs.mkdirSync(dir, { recursive: true });
  const out = path.join(dir, path.basename(spec.image));
  const args = [
    "-f", "bin",
    "-I", path.dirname(source) + path.sep,
    // Shared pieces of the kernels (the Multiboot header, the PASS/FAIL report).
    "-I", path.join(root, "guests", "common") + path.sep,
    ...defines.map((d) => `-D${d}`),
    "-o", out,
    source,
  ];
  try {
    execFileSync("nasm", args, { stdio: ["ignore", "pipe", "pipe"] });
  } catch (err) {
    const e = err as { code?: string; stderr?: Buffer; message: string };
    if (e.code === "ENOENT") {
      throw new Error("nasm is not installed (apt-get install nasm); it is needed to build the guests");
    }
    const detail = e.stderr?.toString().trim() || e.message;
    throw new Error(`nasm failed on ${spec.source}:\n${detail}`);
  }
  return out;
}

function main(argv: string[]): void {
  let outDir: string | undefined;
  const names: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--out") {
      outDir = argv[++i];
      if (!outDir) throw new Error("--out needs a directory");
    } else if (a === "-h" || a === "--help") {
      console.log("usage: node dist/guests/build.js [--out DIR] [guest...]");
      console.log(`guests: ${GUESTS.map((g) => g.name).join(", ")}`);
      return;
    } else {
      names.push(a);
    }
  }
  const root = repoRoot();
  for (const name of names.length ? names : GUESTS.map((g) => g.name)) {
    const out = buildGuest(name, outDir);
    const size = fs.statSync(out).size;
    console.log(`built ${path.relative(root, out) || out} (${size} bytes)`);
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    main(process.argv.slice(2));
  } catch (err) {
    console.error(`guests/build: ${(err as Error).message}`);
    process.exit(1);
  }
}
