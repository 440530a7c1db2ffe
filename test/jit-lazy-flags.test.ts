import { expect } from 'chai';
import { condition, LazyOp, setAdd, setIncDec, setLogic, setSub } from '../core/cpu/flags.js';
import { S } from '../core/cpu/state-layout.js';
import { lazyFlagCondition } from '../core/jit/lazy-flags.js';

describe('JIT lazy-flag condition (wasm)', () => {
  it('gives condition() of flags.ts for all 16 conditions over random ADD, SUB, ADC, SBB, INC, DEC and logic records', () => {
    const memory = new WebAssembly.Memory({ initial: 1 });
    const st = new Int32Array(memory.buffer, 0, 1024);
    const cond = lazyFlagCondition(memory);
    let x = 0x2545f491;
    const random = (): number => { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; return x; };
    const edge = [0, 1, -1, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fffffff, -0x80000000];
    const value = (): number => ((random() & 3) === 0 ? edge[(random() >>> 0) % edge.length] : random());
    let checked = 0;
    for (let n = 0; n < 4000; n++) {
      const size = [8, 16, 32][(random() >>> 0) % 3];
      const a = value(), b = value(), carry = random() & 1;
      st[S.EFLAGS] = random() & 0xfd5; // whatever the record does not hold comes from here
      switch ((random() >>> 0) % 6) {
        case 0: setAdd(st, size, a, b, (a + b + carry) | 0, carry); break;
        case 1: setSub(st, size, a, b, (a - b - carry) | 0, carry); break;
        case 2: setIncDec(st, size, a, (a + 1) | 0, false); break;
        case 3: setIncDec(st, size, a, (a - 1) | 0, true); break;
        case 4: setLogic(st, size, a & b); break;
        default: st[S.LF_OP] = LazyOp.ADD; st[S.LF_MASK] = 0; // every flag materialized
      }
      for (let cc = 0; cc < 16; cc++) {
        expect(cond(cc), `record ${Array.from(st.subarray(S.EFLAGS, S.LF_CARRY_IN + 1))} cc ${cc}`).to.equal(condition(st, cc) ? 1 : 0);
        checked++;
      }
    }
    expect(checked).to.equal(64000);
  });
});
