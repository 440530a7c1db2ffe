import { createMachine, Machine, MachineOptions, VIRT_MODES, VirtMode } from '../../index.js';

/**
 * How the tests run translated code, from the environment: WASMVISOR_JIT=off runs the whole
 * suite interpreted, WASMVISOR_JIT_THRESHOLD=N sets the compile threshold (0 compiles every
 * block on first sight: the JIT-forced differential run). Unset, the library's defaults apply.
 */
export function jitFromEnv(): MachineOptions['jit'] {
  const mode = process.env.WASMVISOR_JIT;
  const threshold = process.env.WASMVISOR_JIT_THRESHOLD;
  if (mode === undefined && threshold === undefined) return undefined;
  if (mode !== undefined && mode !== 'on' && mode !== 'off') throw new Error(`WASMVISOR_JIT must be on or off, not '${mode}'`);
  const n = threshold === undefined ? undefined : Number(threshold);
  if (n !== undefined && !(Number.isInteger(n) && n >= 0)) throw new Error(`WASMVISOR_JIT_THRESHOLD must be a count, not '${threshold}'`);
  return { enabled: mode !== 'off', threshold: n };
}

/** The virtualization mode WASMVISOR_VIRT asks for (direct or deprivileged), else undefined (the default). */
export function virtFromEnv(): VirtMode | undefined {
  const virt = process.env.WASMVISOR_VIRT;
  if (virt === undefined) return undefined;
  if (!VIRT_MODES.includes(virt as VirtMode)) throw new Error(`WASMVISOR_VIRT must be ${VIRT_MODES.join(' or ')}, not '${virt}'`);
  return virt as VirtMode;
}

/** createMachine with the JIT options and virtualization mode of the environment (explicit options win). */
export function testMachine(options: MachineOptions = {}): Machine {
  return createMachine({ jit: jitFromEnv(), virt: virtFromEnv(), ...options });
}

/** Instructions the bench kernel retires to its exit (guests/README.md): the same interpreted and translated. */
export const BENCH_INSTRUCTIONS = 304_725_115;
