/**
 * Aerospike filter expressions (field 43: msgpack `[opcode, args…]`, as_exp.h) compiled to
 * Slipstream's expression AST, then to the same record predicate the gRPC path uses. An
 * opcode without an equivalent in the AST is refused with UNSUPPORTED_FEATURE naming it.
 */
import { DbError } from '../../errors/index.ts';
import type { BinValue, DbRecord, MapKey, ValueType } from '../../model/index.ts';
import * as ast from '../../query/expr/ast.ts';
import type { Expr } from '../../query/expr/ast.ts';
import { compileFilter } from '../../query/expr/eval.ts';
import { exprToJsonText } from '../../query/expr/json.ts';
import { FUNCTION_ARITY } from '../../query/expr/functions.ts';
import { isWriteOperation, type Operation } from '../../transaction/operations.ts';
import { ARG_FIELDS, checkCall, type CdtArgField, type CdtCallOp } from '../../query/expr/cdt-call.ts';
import { recordContext } from '../../query/query-engine.ts';
import type { RecordPredicate } from '../../transaction/policy.ts';
import { MsgpackReader, RawString, Sentinel, pack, type WireValue } from './msgpack.ts';
import { cdtOperation } from './cdt.ts';
import { bitOperation } from './bit-ops.ts';
import { hllOperation } from './hll-ops.ts';

const CMP: Readonly<Record<number, ast.CompareOp>> = { 1: '=', 2: '!=', 3: '>', 4: '>=', 5: '<', 6: '<=' };
const ARITH: Readonly<Record<number, ast.ArithOp>> = { 20: '+', 21: '-', 22: '*', 23: '/', 26: '%' };
/** Opcodes of the numeric, bitwise and boolean functions. */
const FUNCTIONS: Readonly<Record<number, ast.FunctionName>> = {
  19: 'exclusive', 24: 'pow', 25: 'log', 27: 'abs', 28: 'floor', 29: 'ceil', 30: 'toInt', 31: 'toFloat',
  32: 'intAnd', 33: 'intOr', 34: 'intXor', 35: 'intNot', 36: 'intLshift', 37: 'intRshift', 38: 'intArshift', 39: 'intCount',
  40: 'intLscan', 41: 'intRscan', 50: 'min', 51: 'max',
};
const NAMES: Readonly<Record<number, string>> = {
  65: 'deviceSize', 73: 'memorySize', 74: 'recordSize', 100: 'removeResult',
};
/** Exp.key's value types (Exp.Type INT, STRING, BLOB) as the AST's user key types. */
const KEY_TYPES: Readonly<Record<number, ast.UserKeyType>> = { 2: 'integer', 3: 'string', 6: 'bytes' };
/** Exp.Type codes (as_exp.h result types) a call declares, as value types. */
const CALL_TYPES: Readonly<Record<number, ValueType>> = {
  0: 'nil', 1: 'boolean', 2: 'integer', 3: 'string', 4: 'list', 5: 'map', 6: 'bytes', 7: 'double', 8: 'geojson', 9: 'hll',
};
/** Particle types of binType() as the AST's type names. */
const TYPE_NAMES: Readonly<Record<number, string>> = {
  0: 'nil', 1: 'integer', 2: 'double', 3: 'string', 4: 'bytes', 17: 'boolean', 19: 'map', 20: 'list', 23: 'geojson',
};

function unsupported(what: string): DbError {
  return new DbError('UNSUPPORTED_FEATURE', `the filter expression uses ${what}, which is not supported yet`, { hint: 'see docs/clients.md for the supported expressions' });
}

function bad(what: string): DbError {
  return new DbError('PARAMETER', `malformed filter expression: ${what}`, { hint: 'build filter expressions with the client\'s exp API' });
}

function name(v: WireValue | undefined): string {
  if (v instanceof RawString) return v.text;
  if (typeof v === 'string') return v;
  throw bad('a bin name must be a string');
}

/** A literal in expression position (strings carry their particle-type prefix). */
function literal(v: WireValue): BinValue {
  if (v instanceof RawString) return v.typed();
  if (v instanceof Sentinel) throw unsupported('WILDCARD/INFINITY values');
  if (Array.isArray(v)) return (v as readonly WireValue[]).map(literal);
  if (v instanceof Map) {
    const m = new Map<MapKey, BinValue>();
    for (const [k, x] of v as ReadonlyMap<WireValue, WireValue>) {
      const key = literal(k);
      if (typeof key !== 'string' && typeof key !== 'bigint' && typeof key !== 'number') throw bad('map keys must be scalars');
      m.set(key, literal(x));
    }
    return m;
  }
  return v as BinValue;
}

function int(v: WireValue | undefined, what: string): number {
  if (typeof v !== 'bigint') throw bad(`${what} must be an integer`);
  return Number(v);
}

function compile(v: WireValue | undefined): Expr {
  if (v === undefined) throw bad('an operator is missing an argument');
  if (!Array.isArray(v)) return ast.lit(literal(v));
  const [op, ...args] = v as readonly WireValue[];
  const code = int(op, 'an opcode');
  const cmp = CMP[code];
  if (cmp !== undefined) {
    if (args.length !== 2) throw bad('a comparison takes two arguments');
    const [l, r] = args as [WireValue, WireValue];
    // binType(n) compared with a particle type: compare type names
    if (Array.isArray(l) && (l as readonly WireValue[])[0] === 82n && typeof r === 'bigint') {
      const n = name((l as readonly WireValue[])[1]);
      const t = TYPE_NAMES[Number(r)];
      if (t === undefined) throw unsupported(`bin type ${r}`);
      if (t === 'nil' && (cmp === '!=' || cmp === '=')) {
        const exists: Expr = { kind: 'binExists', name: n };
        return cmp === '!=' ? exists : ast.not(exists);
      }
      return ast.cmp(cmp, { kind: 'binType', name: n }, ast.lit(t));
    }
    return ast.cmp(cmp, compile(l), compile(r));
  }
  const arith = ARITH[code];
  if (arith !== undefined) {
    if (args.length === 0) throw bad('arithmetic needs arguments');
    let e = compile(args[0] as WireValue);
    if (args.length === 1 && arith === '-') return { kind: 'neg', arg: e };
    for (const a of args.slice(1)) e = ast.arith(arith, e, compile(a));
    return e;
  }
  const fname = FUNCTIONS[code];
  if (fname !== undefined) {
    const [min, max] = FUNCTION_ARITY[fname];
    if (args.length < min || args.length > max) throw bad(`${fname} takes ${min === max ? min : `at least ${min}`} argument${max === 1 ? '' : 's'}, got ${args.length}`);
    return ast.fn(fname, ...args.map((a) => compile(a)));
  }
  switch (code) {
    case 7: {
      const flags = int(args[0], 'regex flags');
      const pattern = name(args[1]);
      return ast.regex(compile(args[2] as WireValue), pattern, flags & 2 ? 'i' : '');
    }
    case 8: {
      const l = compile(args[0] as WireValue);
      const r = compile(args[1] as WireValue);
      return ast.or(ast.geoWithin(l, r), ast.geoContains(l, r));
    }
    case 9: {
      const list = args[1];
      const options = Array.isArray(list) && (list as readonly WireValue[])[0] === 126n ? (literal((list as readonly WireValue[])[1] ?? []) as readonly BinValue[]) : undefined;
      if (options === undefined) throw unsupported('inList with a computed list');
      return { kind: 'in', value: compile(args[0] as WireValue), options: options.map((o) => ast.lit(o)) };
    }
    case 16: return ast.and(...args.map(compile));
    case 17: return ast.or(...args.map(compile));
    case 18: return ast.not(compile(args[0] as WireValue));
    case 64: return { kind: 'digestModulo', modulus: int(args[0], 'the modulus') };
    case 66: return ast.arith('*', ast.meta('lastUpdate'), ast.lit(1_000_000n)); // nanoseconds
    case 67: return ast.meta('sinceUpdate');
    case 68: return ast.arith('*', ast.meta('voidTime'), ast.lit(1_000_000_000n)); // nanoseconds
    case 69: return ast.meta('ttl');
    case 70: return ast.meta('setName');
    case 71: return ast.meta('keyExists');
    // DEVICE_SIZE, MEMORY_SIZE, RECORD_SIZE: the record's stored size
    case 65: case 73: case 74: return ast.meta('recordSize');
    case 0: return { kind: 'unknown' };
    // IS_TOMBSTONE: expressions here run on live records only (no XDR shipping deletes)
    case 72: return ast.lit(false);
    case 80: {
      const t = KEY_TYPES[int(args[0], 'the key type')];
      if (t === undefined) throw bad(`key type ${String(args[0])} is not an integer, string or blob type`);
      return { kind: 'userKey', type: t };
    }
    case 81: return ast.bin(name(args[1]));
    case 82: return { kind: 'binType', name: name(args[0]) };
    case 126: return ast.lit(literal(args[0] as WireValue));
    case 123: {
      // cond: [123, when1, then1, when2, then2, …, otherwise]
      if (args.length < 3 || args.length % 2 === 0) throw bad('cond takes pairs of condition and action, then a default');
      const branches: Array<readonly [Expr, Expr]> = [];
      for (let i = 0; i + 1 < args.length; i += 2) branches.push([compile(args[i] as WireValue), compile(args[i + 1] as WireValue)]);
      return ast.cond(branches, compile(args[args.length - 1] as WireValue));
    }
    case 124: return ast.variable(name(args[0]));
    case 125: {
      // let: [125, name1, value1, name2, value2, …, scope]
      if (args.length < 3 || args.length % 2 === 0) throw bad('let takes pairs of name and value, then the scoped expression');
      const defs: Array<readonly [string, Expr]> = [];
      for (let i = 0; i + 1 < args.length; i += 2) defs.push([name(args[i]), compile(args[i + 1] as WireValue)]);
      return ast.letIn(defs, compile(args[args.length - 1] as WireValue));
    }
    case 127: return call(args);
    default: throw unsupported(NAMES[code] ?? `opcode ${code}`);
  }
}

/** The call kinds of `[127, …]` (as_exp.h's CALL_CDT, CALL_BITS, CALL_HLL) and the modify flag. */
const CALL_KINDS: Readonly<Record<number, string>> = { 0: 'list/map', 1: 'bit', 2: 'HLL' };
const CALL_MODIFY = 0x40;

/** A literal argument of a module call (plain, or quoted `[126, value]`, or an expression that is one); undefined when computed. */
function literalArg(v: WireValue): { value: BinValue } | { computed: Expr } {
  if (!Array.isArray(v)) return { value: literal(v) };
  const e = compile(v);
  return e.kind === 'lit' ? { value: e.value } : { computed: e };
}

/**
 * Stand-ins put where a computed argument goes, so the operation's codec decodes the call and
 * says which field the argument fills: an integer, a list, a map or bytes, whichever the
 * argument's position takes (each unique to its argument, so it is found again in the operation).
 */
function standIns(i: number): readonly BinValue[] {
  const n = 7_340_032_000_000n + BigInt(i);
  return [n, [n], new Map<MapKey, BinValue>([[n, n]]), new Uint8Array(Buffer.from(`\u0000computed-argument-${i}`))];
}

/** The field of `op` a stand-in landed in, if exactly one. */
function fieldOf(op: Operation, standIn: BinValue): CdtArgField | undefined {
  const o = op as unknown as Record<string, unknown>;
  const hits = ARG_FIELDS.filter((f) => {
    const x = o[f];
    if (typeof standIn === 'bigint') return x === standIn || x === Number(standIn);
    if (Array.isArray(standIn)) return Array.isArray(x) && x.length === 1 && x[0] === standIn[0];
    if (standIn instanceof Map) return x instanceof Map && x.size === 1 && x.has([...standIn.keys()][0] as MapKey);
    return x instanceof Uint8Array && Buffer.from(x).equals(Buffer.from(standIn as Uint8Array));
  });
  return hits.length === 1 ? (hits[0] as CdtArgField) : undefined;
}

/**
 * A module call `[127, returnType, kind, [opcode, args…], target]`: ListExp / MapExp (kind 0,
 * with a context as `[0xff, ctx, [opcode, args…]]`), BitExp (1) and HLLExp (2), decoded by the
 * same codecs as the operations (their arities and arguments). Without the modify flag it is a
 * read (what the operation returns); with it (kind | 0x40, e.g. ListExp.append) a write run on a
 * copy of the target, giving the changed copy (as_bin_cdt_modify_exp). Arguments may be literals
 * or expressions computed at evaluation time.
 */
function call(args: readonly WireValue[]): Expr {
  if (args.length !== 4) throw bad('a module call is [127, return type, kind, [opcode, …], target]');
  const type = CALL_TYPES[int(args[0], 'the call\'s result type')];
  if (type === undefined) throw bad(`call result type ${String(args[0])} is not known`);
  const sys = int(args[1], 'the call kind');
  const kind = CALL_KINDS[sys & ~CALL_MODIFY];
  if (kind === undefined) throw bad(`call kind ${sys} is not known`);
  const modify = (sys & CALL_MODIFY) !== 0;
  const payload = args[2];
  if (!Array.isArray(payload) || payload.length === 0) throw bad(`the ${kind} call's operation must be [opcode, …]`);
  const target = compile(args[3] as WireValue);
  const p = payload as readonly WireValue[];
  const cdt = (sys & ~CALL_MODIFY) === 0;
  if (cdt && p[0] === 0xfen) throw unsupported('CDT select (path expressions)');
  const withCtx = cdt && p[0] === 0xffn;
  const inner = withCtx ? p[2] : p;
  if (!Array.isArray(inner) || inner.length === 0 || (withCtx && p.length !== 3)) throw bad('a context call is [0xff, ctx, [opcode, …]]');
  const [code, ...rest] = inner as readonly WireValue[];
  const parsed = rest.map(literalArg);
  const computed = parsed.flatMap((a, i) => ('computed' in a ? [i] : []));
  const decode = (values: readonly BinValue[]): Operation => {
    const plain: BinValue[] = [code as BinValue, ...values];
    if (cdt) return cdtOperation(EXPRESSION_BIN, pack(withCtx ? [0xffn, literal(p[1] as WireValue), plain] : plain));
    return sys & 1 ? bitOperation(EXPRESSION_BIN, pack(plain)) : hllOperation(EXPRESSION_BIN, pack(plain), modify);
  };
  const withStandIns = (choice: readonly number[]): BinValue[] => parsed.map((a, i) => ('value' in a ? a.value : (standIns(i)[choice[computed.indexOf(i)] as number] as BinValue)));
  let op: Operation | undefined;
  const fields: CdtArgField[] = [];
  if (computed.length === 0) op = decode(parsed.map((a) => (a as { value: BinValue }).value));
  else {
    // find the form each computed argument's position takes: the first combination the codec accepts
    // with every stand-in found in exactly one field of the operation
    const forms = standIns(0).length;
    let lastError: unknown;
    for (let n = 0; n < forms ** computed.length && op === undefined; n++) {
      const choice = computed.map((_, j) => Math.floor(n / forms ** j) % forms);
      let candidate: Operation;
      try {
        candidate = decode(withStandIns(choice));
      } catch (err) {
        lastError = err;
        continue;
      }
      const found = computed.map((i, j) => fieldOf(candidate, standIns(i)[choice[j] as number] as BinValue));
      if (found.every((f) => f !== undefined)) {
        op = candidate;
        fields.push(...(found as CdtArgField[]));
      }
    }
    if (op === undefined) {
      const why = lastError instanceof Error ? ` (${lastError.message})` : '';
      throw unsupported(`a computed argument where the ${kind} call takes a flags, return-type, policy or HLL-list argument${why}; pass a value there`);
    }
  }
  if (op.op !== 'list' && op.op !== 'map' && op.op !== 'bit' && op.op !== 'hll') throw bad(`the ${kind} call is not a ${kind} operation`);
  const write = isWriteOperation(op);
  if (write !== modify) {
    throw new DbError('PARAMETER', `malformed filter expression: ${kind} ${op.kind} ${write ? 'writes, and the call is a read' : 'reads, and the call is a modify'}`, {
      hint: write ? 'build the call with the client\'s modify builder (e.g. ListExp.append), which sets the modify flag' : 'build reads with the client\'s read builders',
    });
  }
  // each computed field is cleared from the decoded operation (its value comes at evaluation time)
  const template = { ...op } as Record<string, unknown>;
  for (const f of fields) delete template[f];
  const callOp = template as unknown as CdtCallOp;
  checkCall(callOp, fields);
  const argExprs = fields.map((field, j) => ({ field, value: (parsed[computed[j] as number] as { computed: Expr }).computed }));
  if (!modify && argExprs.length === 0 && type === 'integer' && (op.op === 'list' || op.op === 'map') && op.kind === 'size' && op.ctx === undefined) return ast.size(target);
  // the declared result type is checked as the server's bin_is_type does: another type is unknown
  return modify ? ast.cdtModify(target, callOp, argExprs, type) : ast.cdtRead(target, callOp, argExprs, type);
}

const EXPRESSION_BIN = '(expression)';

/** Compiles packed expression bytes to the AST. */
export function wireExpr(bytes: Buffer): Expr {
  const r = new MsgpackReader(bytes);
  r.rawStrings = true;
  const v = r.read();
  return compile(v);
}

/**
 * Compiles packed expression bytes to a record predicate; its `source` (the expression's JSON
 * text, made when first read) lets a cluster scan or a proxied request send it to other nodes.
 */
export function compileWireFilter(bytes: Buffer, now: () => number): RecordPredicate {
  const expr = wireExpr(bytes);
  const keep = compileFilter(expr);
  let text: string | undefined;
  return Object.defineProperty((rec: DbRecord) => keep(recordContext(rec, now())), 'source', { get: () => (text ??= exprToJsonText(expr)) });
}

/**
 * An expression operation (op 7 read, 8 write: msgpack `[expression, flags]`) as the kernel's
 * expression operation, which keeps the expression in its JSON form.
 */
export function expOperation(write: boolean, name: string, payload: Buffer): Operation {
  const r = new MsgpackReader(payload);
  const n = r.readArrayHeader();
  if (n < 1 || n > 2) throw bad('an expression operation is [expression, flags]');
  const exp = r.rawValue();
  const flagsValue = n === 2 ? r.read() : 0n;
  const flags = typeof flagsValue === 'bigint' ? Number(flagsValue) : 0;
  const expression = exprToJsonText(wireExpr(Buffer.from(exp)));
  if (!write) {
    if (flags & ~16) throw bad(`expression read flags ${flags} are not known`);
    return { op: 'expRead', name, expression, ...((flags & 16) !== 0 ? { evalNoFail: true } : {}) };
  }
  if (flags & ~31) throw bad(`expression write flags ${flags} are not known`);
  return {
    op: 'expWrite', bin: name, expression,
    flags: { createOnly: (flags & 1) !== 0, updateOnly: (flags & 2) !== 0, allowDelete: (flags & 4) !== 0, policyNoFail: (flags & 8) !== 0, evalNoFail: (flags & 16) !== 0 },
  };
}
