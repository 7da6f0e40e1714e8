import type { BinValue, ValueType } from '../../model/index.ts';
import type { CdtArgField, CdtCallOp } from './cdt-call.ts';

/**
 * Filter expressions: a typed AST of readonly data. Behaviour (evaluation, printing,
 * JSON encoding) lives in functions next to this file. An expression evaluates to a bin
 * value or to "unknown" (a missing bin, a type mismatch, a division by zero); a filter
 * keeps a record only when its expression is exactly `true`.
 */
export type CompareOp = '=' | '!=' | '<' | '<=' | '>' | '>=';
export type ArithOp = '+' | '-' | '*' | '/' | '%';

/**
 * Numeric and bitwise functions (Aerospike's exp.pow, log, abs, floor, ceil, toInt, toFloat,
 * min, max, intAnd, intOr, intXor, intNot, intLshift, intRshift, intArshift, intCount,
 * intLscan, intRscan) and `exclusive` (exactly one argument true). Their argument counts and
 * types are Aerospike's; a wrong type makes the expression unknown.
 */
export const FUNCTION_NAMES = [
  'pow', 'log', 'abs', 'floor', 'ceil', 'toInt', 'toFloat', 'min', 'max',
  'intAnd', 'intOr', 'intXor', 'intNot', 'intLshift', 'intRshift', 'intArshift', 'intCount', 'intLscan', 'intRscan',
  'exclusive',
] as const;
export type FunctionName = typeof FUNCTION_NAMES[number];

/** Record metadata an expression can read. */
export type MetaField =
  /** Seconds to live; -1 when the record never expires. */
  | 'ttl'
  /** Void time, seconds since the epoch; 0 for never. */
  | 'voidTime'
  | 'generation'
  /** Last update time, milliseconds since the epoch. */
  | 'lastUpdate'
  /** Milliseconds since the last update. */
  | 'sinceUpdate'
  /** The record's set name ('' when it has none). */
  | 'setName'
  /** Whether the user key is stored with the record. */
  | 'keyExists'
  /**
   * The record's stored size in bytes: its encoded bins plus its stored user key (Aerospike's
   * record_size; its device_size and memory_size map here too).
   */
  | 'recordSize';

/** The value types a user key has. */
export type UserKeyType = 'integer' | 'string' | 'bytes';
export const USER_KEY_TYPES: readonly UserKeyType[] = ['integer', 'string', 'bytes'];

/** Where `anyElem` looks: a list's items, a map's keys or a map's values. */
export type ElemSource = 'list' | 'mapkeys' | 'mapvalues';

export type Expr =
  | { readonly kind: 'lit'; readonly value: BinValue }
  | { readonly kind: 'bin'; readonly name: string }
  | { readonly kind: 'binExists'; readonly name: string }
  /** The value type name of a bin ('integer', 'string', … or 'nil' when absent). */
  | { readonly kind: 'binType'; readonly name: string }
  | { readonly kind: 'meta'; readonly field: MetaField }
  /**
   * The record's stored user key when it is of `type` (Aerospike's Exp.key); unknown when the
   * key is not stored with the record or is of another type.
   */
  | { readonly kind: 'userKey'; readonly type: UserKeyType }
  /** Always unknown (Aerospike's Exp.unknown, e.g. the default of a cond that must not fall through). */
  | { readonly kind: 'unknown' }
  /** The digest's bytes 8–11 (little-endian u32) modulo `modulus`, as Aerospike's digest_modulo. */
  | { readonly kind: 'digestModulo'; readonly modulus: number }
  | { readonly kind: 'cmp'; readonly op: CompareOp; readonly left: Expr; readonly right: Expr }
  | { readonly kind: 'and'; readonly args: readonly Expr[] }
  | { readonly kind: 'or'; readonly args: readonly Expr[] }
  | { readonly kind: 'not'; readonly arg: Expr }
  | { readonly kind: 'arith'; readonly op: ArithOp; readonly left: Expr; readonly right: Expr }
  | { readonly kind: 'neg'; readonly arg: Expr }
  /** A numeric, bitwise or boolean function of its arguments. */
  | { readonly kind: 'fn'; readonly name: FunctionName; readonly args: readonly Expr[] }
  /** Items of a list, entries of a map, characters of a string, bytes of a blob. */
  | { readonly kind: 'size'; readonly arg: Expr }
  /** A list item by index (negative counts from the end) or a map value by key. */
  | { readonly kind: 'get'; readonly source: Expr; readonly key: Expr }
  /** True when some element of `source` satisfies `where`; inside `where`, `elem` is that element. */
  | { readonly kind: 'anyElem'; readonly of: ElemSource; readonly source: Expr; readonly where: Expr }
  | { readonly kind: 'elem' }
  /** `value` equals one of `options`. */
  | { readonly kind: 'in'; readonly value: Expr; readonly options: readonly Expr[] }
  | { readonly kind: 'regex'; readonly arg: Expr; readonly pattern: string; readonly flags: string }
  /**
   * GeoJSON predicates. `within`: the left value (a point or region) lies inside `region`.
   * `contains`: the left region contains `region` (usually a point).
   */
  | { readonly kind: 'geo'; readonly op: 'within' | 'contains'; readonly left: Expr; readonly region: Expr }
  /**
   * Aerospike's `cond`: the `then` of the first branch whose `when` is true, else `otherwise`; a
   * `when` that is neither true nor false (unknown, not a boolean) makes the whole unknown.
   */
  | { readonly kind: 'cond'; readonly branches: readonly { readonly when: Expr; readonly then: Expr }[]; readonly otherwise: Expr }
  /** Aerospike's `let`/`def`: names bound in order (a later one may use an earlier), then `body`. */
  | { readonly kind: 'let'; readonly defs: readonly { readonly name: string; readonly value: Expr }[]; readonly body: Expr }
  /** A name bound by an enclosing `let` (Aerospike's `var`). */
  | { readonly kind: 'var'; readonly name: string }
  /**
   * A list, map, bit or HLL read applied to `source` (Aerospike's ListExp / MapExp / BitExp /
   * HLLExp reads; see cdt-call.ts); `args` compute operation fields.
   */
  | { readonly kind: 'cdtRead'; readonly source: Expr; readonly op: CdtCallOp; readonly args?: readonly CdtArg[]; readonly type?: ValueType }
  /**
   * A list, map, bit or HLL write applied to a copy of `source`: the changed copy (Aerospike's
   * modify calls, e.g. ListExp.append). `type` (both calls): the value type the call must give
   * (the result type Aerospike's clients declare); another type is unknown.
   */
  | { readonly kind: 'cdtModify'; readonly source: Expr; readonly op: CdtCallOp; readonly args?: readonly CdtArg[]; readonly type?: ValueType };

/** An operation field of a list, map, bit or HLL call computed by an expression. */
export interface CdtArg {
  readonly field: CdtArgField;
  readonly value: Expr;
}

export type ExprKind = Expr['kind'];

/** Small constructors, so callers and tests write `cmp('>', bin('a'), lit(5n))`. */
export const lit = (value: BinValue): Expr => ({ kind: 'lit', value });
export const bin = (name: string): Expr => ({ kind: 'bin', name });
export const meta = (field: MetaField): Expr => ({ kind: 'meta', field });
export const cmp = (op: CompareOp, left: Expr, right: Expr): Expr => ({ kind: 'cmp', op, left, right });
export const and = (...args: Expr[]): Expr => ({ kind: 'and', args });
export const or = (...args: Expr[]): Expr => ({ kind: 'or', args });
export const not = (arg: Expr): Expr => ({ kind: 'not', arg });
export const arith = (op: ArithOp, left: Expr, right: Expr): Expr => ({ kind: 'arith', op, left, right });
export const size = (arg: Expr): Expr => ({ kind: 'size', arg });
export const fn = (name: FunctionName, ...args: Expr[]): Expr => ({ kind: 'fn', name, args });
export const elem: Expr = { kind: 'elem' };
export const anyElem = (of: ElemSource, source: Expr, where: Expr): Expr => ({ kind: 'anyElem', of, source, where });
export const regex = (arg: Expr, pattern: string, flags = ''): Expr => ({ kind: 'regex', arg, pattern, flags });
export const geoWithin = (left: Expr, region: Expr): Expr => ({ kind: 'geo', op: 'within', left, region });
export const geoContains = (left: Expr, region: Expr): Expr => ({ kind: 'geo', op: 'contains', left, region });
export const cond = (branches: ReadonlyArray<readonly [Expr, Expr]>, otherwise: Expr): Expr => ({ kind: 'cond', branches: branches.map(([when, then]) => ({ when, then })), otherwise });
export const letIn = (defs: ReadonlyArray<readonly [string, Expr]>, body: Expr): Expr => ({ kind: 'let', defs: defs.map(([name, value]) => ({ name, value })), body });
export const cdtRead = (source: Expr, op: CdtCallOp, args?: readonly CdtArg[], type?: ValueType): Expr => ({
  kind: 'cdtRead', source, op, ...(args === undefined || args.length === 0 ? {} : { args }), ...(type === undefined ? {} : { type }),
});
export const cdtModify = (source: Expr, op: CdtCallOp, args?: readonly CdtArg[], type?: ValueType): Expr => ({
  kind: 'cdtModify', source, op, ...(args === undefined || args.length === 0 ? {} : { args }), ...(type === undefined ? {} : { type }),
});
export const variable = (name: string): Expr => ({ kind: 'var', name });
export const between = (e: Expr, lo: BinValue, hi: BinValue): Expr => and(cmp('>=', e, lit(lo)), cmp('<=', e, lit(hi)));

/** The bin names an expression reads (so a scan can decode only those). */
export function referencedBins(e: Expr, out: Set<string> = new Set()): Set<string> {
  switch (e.kind) {
    case 'bin': case 'binExists': case 'binType': out.add(e.name); break;
    case 'cmp': case 'arith': referencedBins(e.left, out); referencedBins(e.right, out); break;
    case 'and': case 'or': for (const a of e.args) referencedBins(a, out); break;
    case 'not': case 'neg': case 'size': referencedBins(e.arg, out); break;
    case 'get': referencedBins(e.source, out); referencedBins(e.key, out); break;
    case 'anyElem': referencedBins(e.source, out); referencedBins(e.where, out); break;
    case 'in': referencedBins(e.value, out); for (const o of e.options) referencedBins(o, out); break;
    case 'regex': referencedBins(e.arg, out); break;
    case 'geo': referencedBins(e.left, out); referencedBins(e.region, out); break;
    case 'cond': for (const b of e.branches) { referencedBins(b.when, out); referencedBins(b.then, out); } referencedBins(e.otherwise, out); break;
    case 'let': for (const d of e.defs) referencedBins(d.value, out); referencedBins(e.body, out); break;
    case 'cdtRead': case 'cdtModify': referencedBins(e.source, out); for (const a of e.args ?? []) referencedBins(a.value, out); break;
    case 'lit': case 'meta': case 'digestModulo': case 'elem': case 'var': case 'userKey': case 'unknown': break;
  }
  return out;
}
