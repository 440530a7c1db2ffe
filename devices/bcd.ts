/** Packed BCD of the low `digits` decimal digits of value. */
export function toBcd(value: number, digits: number): number {
  let out = 0;
  for (let k = 0; k < digits; k++) {
    out |= (value % 10) << (4 * k);
    value = (value / 10) | 0;
  }
  return out;
}

/** The value of `digits` packed BCD digits; digits above 9 count at face value (chips leave them undefined). */
export function fromBcd(raw: number, digits: number): number {
  let out = 0;
  for (let k = digits - 1; k >= 0; k--) out = out * 10 + ((raw >> (4 * k)) & 15);
  return out;
}
