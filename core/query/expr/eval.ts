import { DbError } from '../../errors/index.ts';
import {
  GeoJson, INT64_MAX, INT64_MIN, encodeBins, valueType, valuesEqual, compareValues,
  type BinValue, type Bins, type MapKey, type RecordMeta, type UserKey,
} from '../../model/index.ts';
import { parseShape, shapeWithin, type Shape } from '../geo/index.ts';
import type { CompareOp, Expr } from './ast.ts';
import { compileRegex } from './regex.ts';
import { cdtCall, withArgs, type CdtArgField } from './cdt-call.ts';
import { applyFunction } from './functions.ts';

/** What an expression sees of one record. */
export interface EvalContext {
  readonly bins: Bins;
  readonly meta: RecordMeta;
  /** The record's set ('' when it has none). */
  readonly set: string;
  readonly digest: Uint8Array;
  /** Whether the user key is stored with the record. */
  readonly keyExists: boolean;
  /** The stored user key, when the record has one. */
  readonly userKey?: UserKey;
  /** The record's stored size (encoded bins and stored user key), when the caller knows it; else the bins' encoded size. */
  readonly storedBytes?: number;
  /** The evaluation time, ms since the epoch (for TTL and since-update). */
  readonly nowMs: number;
  /** Names bound by enclosing `let` expressions. */
  readonly vars?: ReadonlyMap<string, ExprResult>;
}

/** Result of an expression: a value, or `undefined` for unknown. */
export type ExprResult = BinValue | undefined;
type Fn = (ctx: EvalContext, el: ExprResult) => ExprResult;

/** Compiled expressions are cached per AST node. */
const compiled = new WeakMap<Expr, Fn>();

/** Evaluates an expression against a record. */
export function evaluate(expr: Expr, ctx: EvalContext): ExprResult {
  return compile(expr)(ctx, undefined);
}

/** A filter keeps the record only when its expression is exactly `true`. */
export function matches(expr: Expr, ctx: EvalContext): boolean {
  return compile(expr)(ctx, undefined) === true;
}

/** A predicate ready to run many times (a compiled filter). */
export function compileFilter(expr: Expr | undefined): (ctx: EvalContext) => boolean {
  if (expr === undefined) return () => true;
  const f = compile(expr);
  return (ctx) => f(ctx, undefined) === true;
}

function isNum(v: ExprResult): v is bigint | number {
  return typeof v === 'bigint' || typeof v === 'number';
}

/** Exact numeric comparison of integers and doubles (also beyond 2^53); NaN compares as unknown. */
export function compareNumbers(a: bigint | number, b: bigint | number): number | undefined {
  if (typeof a === 'bigint' && typeof b === 'bigint') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'number' && typeof b === 'number') {
    if (Number.isNaN(a) || Number.isNaN(b)) return undefined;
    return a < b ? -1 : a > b ? 1 : 0;
  }
  if (typeof a === 'number') {
    const c = compareNumbers(b, a);
    return c === undefined ? undefined : -c;
  }
  // a bigint, b number
  const n = b as number;
  if (Number.isNaN(n)) return undefined;
  if (Number.isInteger(n)) {
    const bn = BigInt(n);
    return a < bn ? -1 : a > bn ? 1 : 0;
  }
  const an = Number(a);
  return an < n ? -1 : an > n ? 1 : 0;
}

/**
 * Compares two values for `op`. Unknown/nil operands give unknown. Integers and doubles
 * compare numerically; other values compare only with their own type (equality across
 * types is false, `!=` true, ordering unknown).
 */
export function compareFor(op: CompareOp, a: ExprResult, b: ExprResult): boolean | undefined {
  if (a === undefined || b === undefined || a === null || b === null) return undefined;
  let c: number | undefined;
  if (isNum(a) && isNum(b)) {
    c = compareNumbers(a, b);
    if (c === undefined) return op === '!=' ? true : op === '=' ? false : undefined;
  } else {
    const ta = valueType(a);
    const tb = valueType(b);
    if (ta !== tb) return op === '=' ? false : op === '!=' ? true : undefined;
    if (op === '=' || op === '!=') {
      const eq = valuesEqual(a, b);
      return op === '=' ? eq : !eq;
    }
    if (ta === 'geojson' || ta === 'map') return undefined;
    c = compareValues(a, b);
  }
  switch (op) {
    case '=': return c === 0;
    case '!=': return c !== 0;
    case '<': return c < 0;
    case '<=': return c <= 0;
    case '>': return c > 0;
    case '>=': return c >= 0;
  }
}

function intResult(v: bigint): ExprResult {
  return v < INT64_MIN || v > INT64_MAX ? undefined : v;
}

export function arithmetic(op: string, a: ExprResult, b: ExprResult): ExprResult {
  if (!isNum(a) || !isNum(b)) return undefined;
  if (typeof a === 'bigint' && typeof b === 'bigint') {
    switch (op) {
      case '+': return intResult(a + b);
      case '-': return intResult(a - b);
      case '*': return intResult(a * b);
      case '/': return b === 0n ? undefined : intResult(a / b);
      case '%': return b === 0n ? undefined : a % b;
    }
    return undefined;
  }
  const x = Number(a);
  const y = Number(b);
  let r: number;
  switch (op) {
    case '+': r = x + y; break;
    case '-': r = x - y; break;
    case '*': r = x * y; break;
    case '/': if (y === 0) return undefined; r = x / y; break;
    case '%': if (y === 0) return undefined; r = x % y; break;
    default: return undefined;
  }
  return Number.isFinite(r) ? r : undefined;
}

function sizeOf(v: ExprResult): ExprResult {
  if (typeof v === 'string') return BigInt([...v].length);
  if (v instanceof Uint8Array) return BigInt(v.length);
  if (Array.isArray(v)) return BigInt(v.length);
  if (v instanceof Map) return BigInt(v.size);
  return undefined;
}

function mapLookup(m: ReadonlyMap<MapKey, BinValue>, key: ExprResult): ExprResult {
  if (typeof key === 'string' || typeof key === 'bigint' || typeof key === 'number') {
    if (m.has(key)) return m.get(key);
    for (const [k, v] of m) if (isNum(k) && isNum(key) && compareNumbers(k, key) === 0) return v;
  }
  return undefined;
}

function getItem(src: ExprResult, key: ExprResult): ExprResult {
  if (Array.isArray(src)) {
    if (typeof key !== 'bigint') return undefined;
    const list = src as readonly BinValue[];
    const i = key < 0n ? BigInt(list.length) + key : key;
    return i >= 0n && i < BigInt(list.length) ? list[Number(i)] : undefined;
  }
  if (src instanceof Map) return mapLookup(src, key);
  return undefined;
}

function elements(of: string, v: ExprResult): Iterable<BinValue> | undefined {
  if (of === 'list') return Array.isArray(v) ? (v as readonly BinValue[]) : undefined;
  if (!(v instanceof Map)) return undefined;
  return of === 'mapkeys' ? (v as ReadonlyMap<MapKey, BinValue>).keys() : (v as ReadonlyMap<MapKey, BinValue>).values();
}

function shapeOrUnknown(v: ExprResult): Shape | undefined {
  if (!(v instanceof GeoJson)) return undefined;
  try {
    return parseShape(v);
  } catch {
    return undefined;
  }
}

/** Reads bytes 8..11 of the digest as a little-endian u32, as Aerospike's digest_modulo does. */
export function digestModulo(digest: Uint8Array, modulus: number): number {
  const v = ((digest[8] ?? 0) | ((digest[9] ?? 0) << 8) | ((digest[10] ?? 0) << 16) | ((digest[11] ?? 0) << 24)) >>> 0;
  return v % modulus;
}

function compile(expr: Expr): Fn {
  const hit = compiled.get(expr);
  if (hit !== undefined) return hit;
  const fn = build(expr);
  compiled.set(expr, fn);
  return fn;
}

function build(e: Expr): Fn {
  switch (e.kind) {
    case 'lit': {
      const v = e.value;
      return () => v;
    }
    case 'bin': {
      const name = e.name;
      return (ctx) => {
        const v = ctx.bins[name];
        return v === null ? undefined : v;
      };
    }
    case 'binExists': {
      const name = e.name;
      return (ctx) => ctx.bins[name] !== undefined && ctx.bins[name] !== null;
    }
    case 'binType': {
      const name = e.name;
      return (ctx) => valueType(ctx.bins[name] ?? null);
    }
    case 'meta':
      switch (e.field) {
        case 'ttl': return (ctx) => BigInt(ctx.meta.voidTime === 0 ? -1 : Math.max(0, ctx.meta.voidTime - Math.floor(ctx.nowMs / 1000)));
        case 'voidTime': return (ctx) => BigInt(ctx.meta.voidTime);
        case 'generation': return (ctx) => BigInt(ctx.meta.generation);
        case 'lastUpdate': return (ctx) => BigInt(ctx.meta.lastUpdateMs);
        case 'sinceUpdate': return (ctx) => BigInt(Math.max(0, ctx.nowMs - ctx.meta.lastUpdateMs));
        case 'setName': return (ctx) => ctx.set;
        case 'keyExists': return (ctx) => ctx.keyExists;
        case 'recordSize': return (ctx) => BigInt(ctx.storedBytes ?? encodeBins(ctx.bins).length);
      }
      break;
    case 'userKey': {
      const want = e.type;
      return (ctx) => {
        const k = ctx.userKey;
        if (k === undefined) return undefined;
        const type = typeof k === 'bigint' ? 'integer' : typeof k === 'string' ? 'string' : 'bytes';
        return type === want ? k : undefined;
      };
    }
    case 'unknown': return () => undefined;
    case 'digestModulo': {
      const m = e.modulus;
      return (ctx) => BigInt(digestModulo(ctx.digest, m));
    }
    case 'cmp': {
      const l = compile(e.left);
      const r = compile(e.right);
      const op = e.op;
      return (ctx, el) => compareFor(op, l(ctx, el), r(ctx, el));
    }
    case 'and': case 'or': {
      // three-valued: the deciding value (false for AND, true for OR) wins; else any unknown makes it unknown
      const args = e.args.map(compile);
      const decisive = e.kind === 'or';
      return (ctx, el) => {
        let unknown = false;
        for (const a of args) {
          const v = a(ctx, el);
          if (v === decisive) return decisive;
          if (v !== !decisive) unknown = true;
        }
        return unknown ? undefined : !decisive;
      };
    }
    case 'not': {
      const a = compile(e.arg);
      return (ctx, el) => {
        const v = a(ctx, el);
        return typeof v === 'boolean' ? !v : undefined;
      };
    }
    case 'arith': {
      const l = compile(e.left);
      const r = compile(e.right);
      const op = e.op;
      return (ctx, el) => arithmetic(op, l(ctx, el), r(ctx, el));
    }
    case 'fn': {
      const args = e.args.map(compile);
      const name = e.name;
      return (ctx, el) => applyFunction(name, args.map((a) => a(ctx, el)));
    }
    case 'neg': {
      const a = compile(e.arg);
      return (ctx, el) => {
        const v = a(ctx, el);
        return typeof v === 'bigint' ? intResult(-v) : typeof v === 'number' ? -v : undefined;
      };
    }
    case 'size': {
      const a = compile(e.arg);
      return (ctx, el) => sizeOf(a(ctx, el));
    }
    case 'get': {
      const s = compile(e.source);
      const k = compile(e.key);
      return (ctx, el) => {
        const v = getItem(s(ctx, el), k(ctx, el));
        return v === null ? undefined : v;
      };
    }
    case 'elem':
      return (_ctx, el) => el;
    case 'anyElem': {
      const s = compile(e.source);
      const w = compile(e.where);
      const of = e.of;
      return (ctx, el) => {
        const items = elements(of, s(ctx, el));
        if (items === undefined) return undefined;
        let unknown = false;
        for (const item of items) {
          const v = w(ctx, item === null ? undefined : item);
          if (v === true) return true;
          if (v !== false) unknown = true;
        }
        return unknown ? undefined : false;
      };
    }
    case 'in': {
      const v = compile(e.value);
      const opts = e.options.map(compile);
      return (ctx, el) => {
        const x = v(ctx, el);
        if (x === undefined || x === null) return undefined;
        for (const o of opts) if (compareFor('=', x, o(ctx, el)) === true) return true;
        return false;
      };
    }
    case 'regex': {
      const re = compileRegex(e.pattern, e.flags);
      const a = compile(e.arg);
      return (ctx, el) => {
        const v = a(ctx, el);
        if (typeof v !== 'string') return undefined;
        return re.test(v);
      };
    }
    case 'geo': {
      const l = compile(e.left);
      const r = compile(e.region);
      const within = e.op === 'within';
      return (ctx, el) => {
        const a = shapeOrUnknown(l(ctx, el));
        const b = shapeOrUnknown(r(ctx, el));
        if (a === undefined || b === undefined) return undefined;
        return within ? shapeWithin(a, b) : shapeWithin(b, a);
      };
    }
    case 'cond': {
      const branches = e.branches.map((b) => [compile(b.when), compile(b.then)] as const);
      const otherwise = compile(e.otherwise);
      return (ctx, el) => {
        for (const [when, then] of branches) {
          const w = when(ctx, el);
          if (w === true) return then(ctx, el);
          if (w !== false) return undefined;
        }
        return otherwise(ctx, el);
      };
    }
    case 'let': {
      const defs = e.defs.map((d) => [d.name, compile(d.value)] as const);
      const body = compile(e.body);
      return (ctx, el) => {
        const vars = new Map(ctx.vars ?? []);
        for (const [name, value] of defs) vars.set(name, value({ ...ctx, vars }, el));
        return body({ ...ctx, vars }, el);
      };
    }
    case 'var': {
      const name = e.name;
      return (ctx) => ctx.vars?.get(name);
    }
    case 'cdtRead': case 'cdtModify': {
      const src = compile(e.source);
      const op = e.op;
      const modify = e.kind === 'cdtModify';
      const args = e.args ?? [];
      const type = e.type;
      if (args.length === 0) return (ctx, el) => cdtCall(op, src(ctx, el), modify, type);
      const fields: CdtArgField[] = args.map((a) => a.field);
      const values = args.map((a) => compile(a.value));
      return (ctx, el) => {
        const withValues = withArgs(op, fields, values.map((v) => v(ctx, el)));
        return withValues === undefined ? undefined : cdtCall(withValues, src(ctx, el), modify, type);
      };
    }
  }
  throw new DbError('PARAMETER', `unknown expression kind ${JSON.stringify((e as { kind: unknown }).kind)}`);
}
