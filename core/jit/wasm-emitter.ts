/**
 * A lean WebAssembly binary writer: just the opcodes the translator uses, function bodies with
 * numbered locals, and the module framing (types, imports, functions, exports, code). Building
 * bytes directly keeps compile latency to the engine's own cost (no IR, no text round trip).
 */

export const enum Op {
  UNREACHABLE = 0x00, BLOCK = 0x02, LOOP = 0x03, IF = 0x04, ELSE = 0x05, END = 0x0b, BR = 0x0c, BR_IF = 0x0d, BR_TABLE = 0x0e,
  RETURN = 0x0f, CALL = 0x10, RETURN_CALL = 0x12, RETURN_CALL_INDIRECT = 0x13, DROP = 0x1a, SELECT = 0x1b,
  LOCAL_GET = 0x20, LOCAL_SET = 0x21, LOCAL_TEE = 0x22,
  I32_LOAD = 0x28, I32_LOAD8_U = 0x2d, I32_LOAD16_U = 0x2f, I32_STORE = 0x36, I32_STORE8 = 0x3a, I32_STORE16 = 0x3b,
  I32_CONST = 0x41, I64_CONST = 0x42,
  I32_EQZ = 0x45, I32_EQ = 0x46, I32_NE = 0x47, I32_LT_S = 0x48, I32_LT_U = 0x49, I32_GT_S = 0x4a, I32_GT_U = 0x4b,
  I32_LE_S = 0x4c, I32_LE_U = 0x4d, I32_GE_S = 0x4e, I32_GE_U = 0x4f,
  I64_NE = 0x52, I64_LE_U = 0x58,
  I32_POPCNT = 0x69, I32_ADD = 0x6a, I32_SUB = 0x6b, I32_MUL = 0x6c, I32_AND = 0x71, I32_OR = 0x72, I32_XOR = 0x73, I32_SHL = 0x74, I32_SHR_S = 0x75, I32_SHR_U = 0x76, I32_ROTL = 0x77, I32_ROTR = 0x78,
  I64_ADD = 0x7c, I64_SUB = 0x7d, I64_MUL = 0x7e, I64_DIV_U = 0x80, I64_REM_U = 0x82, I64_OR = 0x84, I64_SHL = 0x86, I64_SHR_U = 0x88,
  I32_WRAP_I64 = 0xa7, I64_EXTEND_I32_S = 0xac, I64_EXTEND_I32_U = 0xad,
}

export const enum ValType { I32 = 0x7f, I64 = 0x7e }
/** Block type for a block or if without a result. */
export const VOID = 0x40;

/** A growable byte buffer with LEB128 writers. */
export class Bytes {
  private buf = new Uint8Array(256);
  length = 0;

  byte(b: number): this {
    if (this.length === this.buf.length) this.reserve(1);
    this.buf[this.length++] = b;
    return this;
  }
  /** Makes room for `n` more bytes. */
  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const bigger = new Uint8Array(size);
    bigger.set(this.buf.subarray(0, this.length));
    this.buf = bigger;
  }
  u32(v: number): this {
    v >>>= 0;
    do {
      let b = v & 0x7f;
      v >>>= 7;
      if (v !== 0) b |= 0x80;
      this.byte(b);
    } while (v !== 0);
    return this;
  }
  s32(v: number): this {
    v |= 0;
    for (;;) {
      const b = v & 0x7f;
      v >>= 7;
      if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) return this.byte(b);
      this.byte(b | 0x80);
    }
  }
  append(other: Bytes): this {
    this.reserve(other.length);
    this.buf.set(other.buf.subarray(0, other.length), this.length);
    this.length += other.length;
    return this;
  }
  name(s: string): this {
    this.u32(s.length);
    for (let k = 0; k < s.length; k++) this.byte(s.charCodeAt(k));
    return this;
  }
  toUint8Array(): Uint8Array<ArrayBuffer> { return this.buf.slice(0, this.length); }
}

/** The prefix byte of the bulk-memory instructions. */
const BULK_PREFIX = 0xfc;

/**
 * One function body: locals declared up front by the caller, then the instruction stream.
 * `depth` counts the blocks, loops and ifs open at the end of the stream, so a branch to an
 * outer label can be computed from where it is emitted.
 */
export class FunctionBody {
  readonly code = new Bytes();
  private readonly locals: ValType[] = [];
  depth = 0;

  constructor(private readonly params: number) {}

  /** Declares a local; returns its index. */
  local(type: ValType = ValType.I32): number {
    this.locals.push(type);
    return this.params + this.locals.length - 1;
  }

  op(o: Op): this {
    if (o === Op.END) this.depth--;
    this.code.byte(o);
    return this;
  }
  i32(v: number): this { this.code.byte(Op.I32_CONST).s32(v); return this; }
  /** An i64 constant in the int32 range (its signed LEB128 is the same). */
  i64(v: number): this { this.code.byte(Op.I64_CONST).s32(v); return this; }
  get(l: number): this { this.code.byte(Op.LOCAL_GET).u32(l); return this; }
  set(l: number): this { this.code.byte(Op.LOCAL_SET).u32(l); return this; }
  tee(l: number): this { this.code.byte(Op.LOCAL_TEE).u32(l); return this; }
  /** A memory access with alignment hint 0 and a constant offset. */
  mem(o: Op, offset: number): this { this.code.byte(o).u32(0).u32(offset); return this; }
  call(f: number): this { this.code.byte(Op.CALL).u32(f); return this; }
  /** Tail call of function `f`. */
  returnCall(f: number): this { this.code.byte(Op.RETURN_CALL).u32(f); return this; }
  /** Tail call through table 0 with the function type `type` (the index is on the stack). */
  returnCallIndirect(type: number): this { this.code.byte(Op.RETURN_CALL_INDIRECT).u32(type).u32(0); return this; }
  block(type: number = VOID): this { this.depth++; this.code.byte(Op.BLOCK).byte(type); return this; }
  loop(type: number = VOID): this { this.depth++; this.code.byte(Op.LOOP).byte(type); return this; }
  if(type: number = VOID): this { this.depth++; this.code.byte(Op.IF).byte(type); return this; }
  br(depth: number): this { this.code.byte(Op.BR).u32(depth); return this; }
  /** Branches to label `targets[i]` for the index i on the stack, to `fallback` past the end. */
  brTable(targets: number[], fallback: number): this {
    this.code.byte(Op.BR_TABLE).u32(targets.length);
    for (const t of targets) this.code.u32(t);
    this.code.u32(fallback);
    return this;
  }
  brIf(depth: number): this { this.code.byte(Op.BR_IF).u32(depth); return this; }
  /** memory.copy (bulk memory: destination, source, length on the stack; overlapping runs as memmove). */
  memoryCopy(): this { this.code.byte(BULK_PREFIX).u32(10).byte(0).byte(0); return this; }
  /** memory.fill (destination, byte value, length on the stack). */
  memoryFill(): this { this.code.byte(BULK_PREFIX).u32(11).byte(0); return this; }

  /** The body as the code section stores it: size, grouped local declarations, code, end. */
  encode(out: Bytes): void {
    const body = new Bytes();
    const groups: [number, ValType][] = [];
    for (const t of this.locals) {
      const last = groups[groups.length - 1];
      if (last && last[1] === t) last[0]++; else groups.push([1, t]);
    }
    body.u32(groups.length);
    for (const [n, t] of groups) body.u32(n).byte(t);
    body.append(this.code).byte(Op.END);
    out.u32(body.length).append(body);
  }
}

export interface FuncType { params: ValType[]; results: ValType[] }
export interface FuncImport { module: string; name: string; type: number }

/** Module framing: types, function imports plus the imported memory and table, functions, exports. */
export class ModuleBuilder {
  private readonly types: FuncType[] = [];
  private readonly imports: FuncImport[] = [];
  private readonly funcs: { type: number; body: FunctionBody; exportName: string | null }[] = [];

  type(params: ValType[], results: ValType[]): number {
    const key = `${params.join()}/${results.join()}`;
    const found = this.types.findIndex((t) => `${t.params.join()}/${t.results.join()}` === key);
    if (found >= 0) return found;
    this.types.push({ params, results });
    return this.types.length - 1;
  }
  /** Imports a function; all imports must precede the first function added. Returns its index. */
  importFunc(module: string, name: string, type: number): number {
    if (this.funcs.length > 0) throw new Error('wasm emitter: imports come before functions');
    this.imports.push({ module, name, type });
    return this.imports.length - 1;
  }
  /** Adds a function, exported as `exportName` unless that is null. Returns its index. */
  addFunc(type: number, body: FunctionBody, exportName: string | null): number {
    this.funcs.push({ type, body, exportName });
    return this.imports.length + this.funcs.length - 1;
  }

  /** The binary module; it imports memory `e.m` (the machine's memory) and funcref table `e.t` (entry points). */
  encode(): Uint8Array<ArrayBuffer> {
    const m = new Bytes();
    m.byte(0x00).byte(0x61).byte(0x73).byte(0x6d).byte(1).byte(0).byte(0).byte(0);
    section(m, 1, (s) => {
      s.u32(this.types.length);
      for (const t of this.types) {
        s.byte(0x60).u32(t.params.length);
        for (const p of t.params) s.byte(p);
        s.u32(t.results.length);
        for (const r of t.results) s.byte(r);
      }
    });
    section(m, 2, (s) => {
      s.u32(this.imports.length + 2);
      s.name('e').name('m').byte(0x02).byte(0x00).u32(0);
      s.name('e').name('t').byte(0x01).byte(0x70).byte(0x00).u32(0);
      for (const i of this.imports) s.name(i.module).name(i.name).byte(0x00).u32(i.type);
    });
    section(m, 3, (s) => {
      s.u32(this.funcs.length);
      for (const f of this.funcs) s.u32(f.type);
    });
    section(m, 7, (s) => {
      s.u32(this.funcs.filter((f) => f.exportName !== null).length);
      this.funcs.forEach((f, k) => { if (f.exportName !== null) s.name(f.exportName).byte(0x00).u32(this.imports.length + k); });
    });
    section(m, 10, (s) => {
      s.u32(this.funcs.length);
      for (const f of this.funcs) f.body.encode(s);
    });
    return m.toUint8Array();
  }
}

function section(out: Bytes, id: number, fill: (s: Bytes) => void): void {
  const s = new Bytes();
  fill(s);
  out.byte(id).u32(s.length).append(s);
}
