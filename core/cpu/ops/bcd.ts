import type { Cpu } from '../cpu.js';
import { fault, Vec } from '../faults.js';
import { AF, CF, getAF, getCF, OF, setFlagBits, setResultFlags } from '../flags.js';
import { Reg } from '../state-layout.js';
import type { HandlerMap } from './operands.js';

/**
 * Decimal arithmetic: DAA, DAS, AAA, AAS, AAM, AAD. Results follow
 * the SDM pseudocode. The undefined flags take the values the 80286 test vectors
 * (SingleStepTests) record, which all come from the adder the adjustment goes through:
 * DAA/DAS: OF of AL +/- the whole adjustment; AAA/AAS: OF, SF, ZF, PF of AL +/- 6 (before
 * the high nibble is cleared); AAM: OF = AF = CF = 0; AAD: AF and CF of AL + AH * imm8 as a
 * byte addition, and OF equal to that CF.
 */

/** Moves bit 7 (a byte's sign) to OF's position. */
const SIGN_TO_OF = 4;

/** Signed overflow of the byte addition a + b = r (or subtraction a - b = r), as an OF bit. */
function addOverflow(a: number, b: number, r: number): number { return ((a ^ r) & (b ^ r) & 0x80) << SIGN_TO_OF; }
function subOverflow(a: number, b: number, r: number): number { return ((a ^ b) & (a ^ r) & 0x80) << SIGN_TO_OF; }

/** DAA/DAS: decimal adjust AL after a packed-BCD addition or subtraction. */
function decimalAdjust(cpu: Cpu, subtract: boolean): void {
  const st = cpu.st;
  const al = st[Reg.EAX] & 0xff;
  const oldCf = getCF(st);
  let adjust = 0, cf = 0, af = 0;
  if ((al & 0xf) > 9 || getAF(st) !== 0) {
    adjust = 6;
    af = AF;
    cf = oldCf | ((subtract ? al < 6 : al > 0xf9) ? CF : 0);
  }
  if (al > 0x99 || oldCf !== 0) {
    adjust += 0x60;
    cf = CF;
  } else if (!subtract) {
    cf = 0;
  }
  const r = (subtract ? al - adjust : al + adjust) & 0xff;
  cpu.setReg8(0, r);
  setResultFlags(st, 8, r);
  setFlagBits(st, CF | AF | OF, cf | af | (subtract ? subOverflow(al, adjust, r) : addOverflow(al, adjust, r)));
}

/** AAA/AAS: ASCII adjust after an unpacked-BCD addition or subtraction. */
function asciiAdjust(cpu: Cpu, subtract: boolean): void {
  const st = cpu.st;
  const ax = st[Reg.EAX] & 0xffff;
  const al = ax & 0xff;
  const adjust = (al & 0xf) > 9 || getAF(st) !== 0 ? 6 : 0;
  const newAx = adjust === 0 ? ax : subtract ? ax - 0x106 : ax + 0x106;
  cpu.setReg16(Reg.EAX, newAx & 0xff0f);
  const t = (subtract ? al - adjust : al + adjust) & 0xff;
  setResultFlags(st, 8, t);
  const carry = adjust === 0 ? 0 : CF | AF;
  setFlagBits(st, CF | AF | OF, carry | (subtract ? subOverflow(al, adjust, t) : addOverflow(al, adjust, t)));
}

export const BCD_OPS: HandlerMap = {
  DAA: () => (cpu) => decimalAdjust(cpu, false),
  DAS: () => (cpu) => decimalAdjust(cpu, true),
  AAA: () => (cpu) => asciiAdjust(cpu, false),
  AAS: () => (cpu) => asciiAdjust(cpu, true),
  AAM: () => (cpu, i) => {
    const base = i.imm & 0xff;
    if (base === 0) fault(Vec.DE);
    const al = cpu.st[Reg.EAX] & 0xff;
    const r = al % base;
    cpu.setReg16(Reg.EAX, (((al - r) / base) << 8) | r);
    setResultFlags(cpu.st, 8, r);
    setFlagBits(cpu.st, CF | AF | OF, 0);
  },
  AAD: () => (cpu, i) => {
    const ax = cpu.st[Reg.EAX];
    const al = ax & 0xff;
    const product = (((ax >> 8) & 0xff) * (i.imm & 0xff)) & 0xff;
    const sum = al + product;
    const r = sum & 0xff;
    cpu.setReg16(Reg.EAX, r);
    setResultFlags(cpu.st, 8, r);
    const cf = sum > 0xff ? CF : 0;
    setFlagBits(cpu.st, CF | AF | OF, cf | ((al ^ product ^ r) & AF) | (cf << 11));
  },
  // Undocumented: AL = CF ? FFh : 00h, flags unchanged.
};
