/** Exception vectors. */
export const enum Vec {
  DE = 0, DB = 1, NMI = 2, BP = 3, OF = 4, BR = 5, UD = 6, NM = 7, DF = 8,
  TS = 10, NP = 11, SS = 12, GP = 13, PF = 14, MF = 16, AC = 17, MC = 18,
}

export const VECTOR_NAMES = ['#DE', '#DB', 'NMI', '#BP', '#OF', '#BR', '#UD', '#NM', '#DF', 'coprocessor overrun',
  '#TS', '#NP', '#SS', '#GP', '#PF', 'reserved', '#MF', '#AC', '#MC'];

/**
 * A CPU exception raised while executing an instruction. Thrown, caught by the run loop, which
 * rolls the instruction back and delivers the exception. Not an Error: no stack trace is built,
 * since guests fault routinely.
 */
export class CpuFault {
  constructor(readonly vector: number, readonly errorCode: number = -1) {}
}

export function fault(vector: number, errorCode = -1): never {
  throw new CpuFault(vector, errorCode);
}

/** Something the machine cannot continue from: reported to the user with the guest address. */
export class GuestError extends Error {
  /**
   * @param located whether the message already names the guest address; the interpreter adds
   *   the address and bytes of the running instruction to those that do not.
   */
  constructor(message: string, readonly kind: 'triple-fault' | 'unsupported' | 'invalid-state', readonly located = true) {
    super(message);
    this.name = 'GuestError';
  }
}
