import { FunctionBody, ModuleBuilder, Op, ValType } from './wasm-emitter.js';
import { word } from './emit-context.js';
import { CF, LazyOp, OF, PF, SF, ZF } from '../cpu/flags.js';
import { S } from '../cpu/state-layout.js';

/**
 * cond(cc) -> 0/1 for translated code whose flags are in the state block: the lazy-flag record
 * of flags.ts (getOF, getCF, getZF, getSF, getPF and condition) read in wasm, so a Jcc, SETcc
 * or CMOVcc that starts a block costs a call inside wasm instead of one into JavaScript.
 * Translated modules import it from this one shared instance.
 */
export function lazyFlagCondition(memory: WebAssembly.Memory): (cc: number) => number {
  const m = new ModuleBuilder();
  const type = m.type([ValType.I32], [ValType.I32]);
  m.addFunc(type, conditionBody(), 'cond');
  const table = new WebAssembly.Table({ initial: 0, element: 'anyfunc' });
  const instance = new WebAssembly.Instance(new WebAssembly.Module(m.encode()), { e: { m: memory, t: table } });
  return instance.exports.cond as (cc: number) => number;
}

function conditionBody(): FunctionBody {
  const fb = new FunctionBody(1);
  const CC = 0;
  const MASK = fb.local(), SIZE = fb.local(), SIZE_MASK = fb.local(), RES = fb.local(), A = fb.local(), B = fb.local(), ADD = fb.local();
  const load = (index: number): FunctionBody => fb.i32(0).mem(Op.I32_LOAD, word(index));
  load(S.LF_MASK).set(MASK);
  load(S.LF_SIZE).set(SIZE);
  load(S.LF_RES).set(RES);
  load(S.LF_A).set(A);
  load(S.LF_B).set(B);
  load(S.LF_OP).i32(LazyOp.ADD).op(Op.I32_EQ).set(ADD);
  // sizeMask: all ones for 32 bits (a shift by 32 would be one by 0).
  fb.i32(-1).i32(1).get(SIZE).op(Op.I32_SHL).i32(1).op(Op.I32_SUB).get(SIZE).i32(32).op(Op.I32_EQ).op(Op.SELECT).set(SIZE_MASK);

  /** Pushes flag `bit` (0/1): computed by `lazy` when the record holds it, else EFLAGS' own bit. */
  const flag = (bit: number, lazy: () => void): void => {
    lazy();
    fb.i32(0).mem(Op.I32_LOAD, word(S.EFLAGS)).i32(Math.log2(bit)).op(Op.I32_SHR_U).i32(1).op(Op.I32_AND);
    fb.get(MASK).i32(bit).op(Op.I32_AND).op(Op.SELECT);
  };
  const masked = (local: number): void => { fb.get(local).get(SIZE_MASK).op(Op.I32_AND); };
  const of = (): void => flag(OF, () => {
    fb.get(A).get(RES).op(Op.I32_XOR).get(B).get(RES).op(Op.I32_XOR).op(Op.I32_AND);
    fb.get(A).get(B).op(Op.I32_XOR).get(A).get(RES).op(Op.I32_XOR).op(Op.I32_AND);
    fb.get(ADD).op(Op.SELECT).get(SIZE).i32(1).op(Op.I32_SUB).op(Op.I32_SHR_U).i32(1).op(Op.I32_AND);
  });
  const cf = (): void => flag(CF, () => {
    const carryIn = (): void => { fb.i32(0).mem(Op.I32_LOAD, word(S.LF_CARRY_IN)); };
    // ADD: result below a (or equal, with a carry in); SUB: a below b (or equal, with a borrow in).
    masked(RES); masked(A); fb.op(Op.I32_LE_U); masked(RES); masked(A); fb.op(Op.I32_LT_U); carryIn(); fb.op(Op.SELECT);
    masked(A); masked(B); fb.op(Op.I32_LE_U); masked(A); masked(B); fb.op(Op.I32_LT_U); carryIn(); fb.op(Op.SELECT);
    fb.get(ADD).op(Op.SELECT);
  });
  const zf = (): void => flag(ZF, () => { masked(RES); fb.op(Op.I32_EQZ); });
  const sf = (): void => flag(SF, () => { fb.get(RES).get(SIZE).i32(1).op(Op.I32_SUB).op(Op.I32_SHR_U).i32(1).op(Op.I32_AND); });
  const pf = (): void => flag(PF, () => { fb.get(RES).i32(0xff).op(Op.I32_AND).op(Op.I32_POPCNT).i32(1).op(Op.I32_AND).op(Op.I32_EQZ); });

  // condition(): by cc >> 1, then negated for odd cc.
  const cases: (() => void)[] = [
    of, cf, zf,
    () => { cf(); zf(); fb.op(Op.I32_OR); },
    sf, pf,
    () => { sf(); of(); fb.op(Op.I32_XOR); },
    () => { zf(); sf(); of(); fb.op(Op.I32_XOR).op(Op.I32_OR); },
  ];
  fb.block(ValType.I32);
  for (let k = 0; k < cases.length; k++) fb.block();
  fb.get(CC).i32(1).op(Op.I32_SHR_U).brTable(cases.map((_, k) => k), 0);
  cases.forEach((emit, k) => {
    fb.op(Op.END);
    emit();
    fb.br(cases.length - 1 - k);
  });
  fb.op(Op.END);
  fb.get(CC).i32(1).op(Op.I32_AND).op(Op.I32_XOR);
  return fb;
}
