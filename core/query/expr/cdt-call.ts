/**
 * List, map, bit and HLL operations inside expressions (Aerospike's ListExp / MapExp / BitExp /
 * HLLExp): an operation of the kernel's list, map, bit or HLL families applied to the value of
 * another expression, with the operations' own selectors, return types, policies and contexts.
 *
 * - A read (`cdtRead`) gives what the operation returns.
 * - A modify (`cdtModify`, Aerospike's "modify local" calls such as ListExp.append) runs a write
 *   operation on a copy of the value and gives the changed copy — the whole value, also when the
 *   operation worked through a context, as the server's as_bin_cdt_modify_exp. The record is not
 *   changed (an expression write operation stores the result).
 *
 * Arguments may be computed: `args` names operation fields whose values other expressions give
 * at evaluation time (Aerospike accepts any expression as an argument). An integer field takes an
 * integer, a list field a list, a value field any value; otherwise, or when an argument is
 * unknown, the call is unknown. A call that fails (a type mismatch, an index out of range, a
 * policy refusing the write) is unknown, as in Aerospike; a missing source value (a missing bin)
 * is unknown too, while a nil one is an empty bin the modify creates from. The JSON form is the
 * operation's fields, values tagged as elsewhere.
 */
import { DbError } from '../../errors/index.ts';
import { Sketch, valueType, type BinValue, type MapKey, type ValueType } from '../../model/index.ts';
import { isWriteOperation, type CdtContextItem, type Operation } from '../../transaction/operations.ts';
import { applyCdtOperation } from '../../transaction/cdt/context.ts';
import { applyHllOp } from '../../transaction/hll-ops.ts';
/** JSON data (the same shape as json.ts's JsonValue; json.ts passes its value codec in, so the two files do not import each other). */
type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };
type ToJson = (v: BinValue) => JsonValue;
type FromJson = (j: unknown, path: string) => BinValue;

/** An operation of the list, map, bit or HLL family inside an expression (its `bin` is unused). */
export type CdtCallOp = Extract<Operation, { op: 'list' | 'map' | 'bit' | 'hll' }>;

const INT_FIELDS = ['index', 'rank', 'count', 'offset', 'size', 'indexBits', 'minhashBits', 'shift'] as const;
const BOOL_FIELDS = ['inverted', 'signed', 'scanFor'] as const;
const VALUE_FIELDS = ['value', 'valueEnd', 'key', 'keyEnd', 'integer', 'items'] as const;
const LIST_FIELDS = ['values', 'keys', 'hlls'] as const;
const NAME_FIELDS = ['returnType', 'order', 'overflow'] as const;
const FLAG_FIELDS = ['flags', 'policy', 'resizeFlags', 'sortFlags'] as const;
const KNOWN = new Set<string>(['op', 'kind', 'ctx', ...INT_FIELDS, ...BOOL_FIELDS, ...VALUE_FIELDS, ...LIST_FIELDS, ...NAME_FIELDS, ...FLAG_FIELDS]);

/** The fields an argument expression may compute. */
export const ARG_FIELDS: readonly string[] = [...INT_FIELDS, ...VALUE_FIELDS, ...LIST_FIELDS];
export type CdtArgField = typeof INT_FIELDS[number] | typeof VALUE_FIELDS[number] | typeof LIST_FIELDS[number];

function bad(message: string): DbError {
  return new DbError('PARAMETER', `bad filter expression: ${message}`, { hint: 'see docs/queries.md for the JSON form of filter expressions' });
}

/**
 * `op` with its computed fields set to `values` (in `fields` order); undefined when a value is
 * unknown or of the wrong kind for its field.
 */
export function withArgs(op: CdtCallOp, fields: readonly CdtArgField[], values: readonly (BinValue | undefined)[]): CdtCallOp | undefined {
  const out: Record<string, unknown> = { ...op };
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i] as CdtArgField;
    const v = values[i];
    if (v === undefined) return undefined;
    if ((INT_FIELDS as readonly string[]).includes(f)) {
      if (typeof v !== 'bigint' || v < BigInt(Number.MIN_SAFE_INTEGER) || v > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
      out[f] = Number(v);
    } else if ((LIST_FIELDS as readonly string[]).includes(f)) {
      if (!Array.isArray(v)) return undefined;
      out[f] = v;
    } else out[f] = v;
  }
  return out as unknown as CdtCallOp;
}

/**
 * Applies the operation to a value: a read's result, or a modify's changed copy; undefined
 * (unknown) when it fails, gives nil, or gives another type than `type` (when given; a declared
 * nil type takes nil).
 */
export function cdtCall(op: CdtCallOp, v: BinValue | undefined, modify: boolean, type?: ValueType): BinValue | undefined {
  if (v === undefined) return undefined;
  const current = v === null ? undefined : v;
  try {
    const r = op.op === 'hll' ? applyHllOp(current, op) : applyCdtOperation(current, op);
    const out = (modify ? (r.next === undefined ? current : r.next) : r.result) ?? null;
    if (type !== undefined && valueType(out) !== type) return undefined;
    return out === null && type !== 'nil' ? undefined : out;
  } catch (err) {
    if (err instanceof DbError) return undefined;
    throw err;
  }
}

export function cdtOpToJson(op: CdtCallOp, valueToJson: ToJson): JsonValue {
  const o = op as unknown as Record<string, unknown>;
  const out: Record<string, JsonValue> = { op: op.op, kind: op.kind };
  for (const f of INT_FIELDS) if (typeof o[f] === 'number') out[f] = o[f] as number;
  for (const f of BOOL_FIELDS) if (typeof o[f] === 'boolean') out[f] = o[f] as boolean;
  for (const f of VALUE_FIELDS) if (o[f] !== undefined) out[f] = valueToJson(o[f] as BinValue);
  for (const f of LIST_FIELDS) if (Array.isArray(o[f]) && (o[f] as unknown[]).length > 0) out[f] = (o[f] as BinValue[]).map(valueToJson);
  for (const f of NAME_FIELDS) if (typeof o[f] === 'string') out[f] = o[f] as string;
  for (const f of FLAG_FIELDS) {
    const x = o[f];
    if (typeof x !== 'object' || x === null) continue;
    const flags: Record<string, boolean> = {};
    for (const [k, b] of Object.entries(x)) if (typeof b === 'boolean') flags[k] = b;
    out[f] = flags;
  }
  if (op.op !== 'hll' && op.ctx !== undefined && op.ctx.length > 0) {
    out['ctx'] = op.ctx.map((c) => {
      const x = c as unknown as Record<string, unknown>;
      const j: Record<string, JsonValue> = { type: c.type };
      for (const f of ['index', 'rank'] as const) if (typeof x[f] === 'number') j[f] = x[f] as number;
      for (const f of ['value', 'key'] as const) if (x[f] !== undefined) j[f] = valueToJson(x[f] as BinValue);
      if (typeof x['create'] === 'object' && x['create'] !== null) j['create'] = x['create'] as JsonValue;
      return j;
    });
  }
  return out;
}

/** A stand-in for each computed field, so the operation can be checked before the arguments are known. */
const STAND_INS: Readonly<Record<CdtArgField, () => unknown>> = {
  index: () => 0, rank: () => 0, count: () => 1, offset: () => 0, size: () => 8, indexBits: () => 8, minhashBits: () => 0, shift: () => 1,
  value: () => 0n, valueEnd: () => 1n, key: () => 0n, keyEnd: () => 1n, integer: () => 0n, items: () => new Map<MapKey, BinValue>([[0n, 0n]]),
  values: () => [0n], keys: () => [0n], hlls: () => [Sketch.empty(8, 0).toHll()],
};

/**
 * Reads an operation of a read (`modify` false) or modify call from JSON and checks it with the
 * kernel (its kind, its arguments, its context), so a bad call fails now, not as "unknown" later.
 * `computed`: the fields arguments will give (checked with stand-ins).
 */
export function cdtOpFromJson(j: unknown, path: string, valueFromJson: FromJson, modify: boolean, computed: readonly CdtArgField[] = []): CdtCallOp {
  if (typeof j !== 'object' || j === null || Array.isArray(j)) throw bad(`${path} must be an object with "op" and "kind"`);
  const o = j as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!KNOWN.has(k)) throw bad(`${path}.${k} is not a field of a list, map, bit or HLL operation`);
  if (o['op'] !== 'list' && o['op'] !== 'map' && o['op'] !== 'bit' && o['op'] !== 'hll') throw bad(`${path}.op must be "list", "map", "bit" or "hll"`);
  if (o['op'] === 'hll' && o['ctx'] !== undefined) throw bad(`${path}.ctx: HLL operations take no context`);
  if (typeof o['kind'] !== 'string') throw bad(`${path}.kind must be a string`);
  const out: Record<string, unknown> = { op: o['op'], bin: '(expression)', kind: o['kind'] };
  for (const f of INT_FIELDS) {
    if (o[f] === undefined) continue;
    if (typeof o[f] !== 'number' || !Number.isSafeInteger(o[f])) throw bad(`${path}.${f} must be an integer`);
    out[f] = o[f];
  }
  for (const f of BOOL_FIELDS) {
    if (o[f] === undefined) continue;
    if (typeof o[f] !== 'boolean') throw bad(`${path}.${f} must be true or false`);
    out[f] = o[f];
  }
  for (const f of VALUE_FIELDS) if (o[f] !== undefined) out[f] = valueFromJson(o[f], `${path}.${f}`);
  for (const f of LIST_FIELDS) {
    if (o[f] === undefined) continue;
    if (!Array.isArray(o[f])) throw bad(`${path}.${f} must be an array`);
    out[f] = (o[f] as unknown[]).map((x, i) => valueFromJson(x, `${path}.${f}[${i}]`));
  }
  for (const f of NAME_FIELDS) {
    if (o[f] === undefined) continue;
    if (typeof o[f] !== 'string') throw bad(`${path}.${f} must be a string`);
    out[f] = o[f];
  }
  for (const f of FLAG_FIELDS) {
    if (o[f] === undefined) continue;
    const x = o[f];
    if (typeof x !== 'object' || x === null || Array.isArray(x) || Object.values(x).some((b) => typeof b !== 'boolean')) throw bad(`${path}.${f} must be an object of true/false flags`);
    out[f] = { ...x };
  }
  if (o['ctx'] !== undefined) {
    if (!Array.isArray(o['ctx'])) throw bad(`${path}.ctx must be an array`);
    out['ctx'] = (o['ctx'] as unknown[]).map((c, i): CdtContextItem => {
      if (typeof c !== 'object' || c === null) throw bad(`${path}.ctx[${i}] must be an object`);
      const x = c as Record<string, unknown>;
      for (const k of Object.keys(x)) if (!['type', 'index', 'rank', 'value', 'key', 'create'].includes(k)) throw bad(`${path}.ctx[${i}].${k} is not a field of a context step`);
      const item: Record<string, unknown> = { type: x['type'] };
      if (x['index'] !== undefined) item['index'] = x['index'];
      if (x['rank'] !== undefined) item['rank'] = x['rank'];
      if (x['value'] !== undefined) item['value'] = valueFromJson(x['value'], `${path}.ctx[${i}].value`);
      if (x['key'] !== undefined) item['key'] = valueFromJson(x['key'], `${path}.ctx[${i}].key`) as MapKey;
      if (x['create'] !== undefined) {
        const c = x['create'] as Record<string, unknown>;
        if (typeof c !== 'object' || c === null || typeof c['order'] !== 'string' || Object.keys(c).some((k) => k !== 'order' && k !== 'pad') || (c['pad'] !== undefined && typeof c['pad'] !== 'boolean')) {
          throw bad(`${path}.ctx[${i}].create must be {"order": …, "pad"?: true/false}`);
        }
        item['create'] = c['pad'] === undefined ? { order: c['order'] } : { order: c['order'], pad: c['pad'] };
      }
      return item as unknown as CdtContextItem;
    });
  }
  const op = out as unknown as CdtCallOp;
  for (const f of computed) if (out[f] !== undefined) throw bad(`${path}.${f} is given both as a value and as an argument expression`);
  if (isWriteOperation(op) !== modify) {
    throw bad(modify ? `${path}: ${op.op} ${op.kind} reads; a modify call takes a write operation` : `${path}: ${op.op} ${op.kind} writes; use a cdtModify call for a changed copy`);
  }
  checkCall(op, computed);
  return op;
}

/** The kernel's checks of the operation (kind, arguments, context), with stand-ins for computed fields. */
export function checkCall(op: CdtCallOp, computed: readonly CdtArgField[]): void {
  const probe = { ...op } as Record<string, unknown>;
  for (const f of computed) probe[f] = STAND_INS[f]();
  const p = probe as unknown as CdtCallOp;
  try {
    if (p.op === 'hll') applyHllOp(undefined, p);
    else applyCdtOperation(undefined, p);
  } catch (err) {
    // reads of nothing succeed; a modify of nothing may fail for the missing value itself (a bit
    // write, a context that does not create): only a refusal of the operation counts here
    if (!(err instanceof DbError) || err.code === 'PARAMETER' || !isWriteOperation(p)) throw err;
  }
}
