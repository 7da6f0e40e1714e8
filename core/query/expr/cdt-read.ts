/**
 * List, map, bit and HLL reads inside expressions (Aerospike's ListExp / MapExp / BitExp / HLLExp
 * read functions): a read operation of the kernel's list, map, bit or HLL families applied to the value
 * of another expression, with the operations' own selectors, return types and contexts. A read
 * that fails (a type mismatch, an index out of range) makes the expression unknown, as in
 * Aerospike. The JSON form is the operation's fields, values tagged as elsewhere.
 */
import { DbError } from '../../errors/index.ts';
import type { BinValue, MapKey } from '../../model/index.ts';
import { isWriteOperation, type CdtContextItem, type Operation } from '../../transaction/operations.ts';
import { applyCdtOperation } from '../../transaction/cdt/context.ts';
import { applyHllOp } from '../../transaction/hll-ops.ts';
/** JSON data (the same shape as json.ts's JsonValue; json.ts passes its value codec in, so the two files do not import each other). */
type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };
type ToJson = (v: BinValue) => JsonValue;
type FromJson = (j: unknown, path: string) => BinValue;

/** A read of the list, map, bit or HLL family (its `bin` is unused). */
export type CdtReadOp = Extract<Operation, { op: 'list' | 'map' | 'bit' | 'hll' }>;

const INT_FIELDS = ['index', 'rank', 'count', 'offset', 'size', 'indexBits', 'minhashBits'] as const;
const BOOL_FIELDS = ['inverted', 'signed', 'scanFor'] as const;
const VALUE_FIELDS = ['value', 'valueEnd', 'key', 'keyEnd'] as const;
const LIST_FIELDS = ['values', 'keys', 'hlls'] as const;
const KNOWN = new Set<string>(['op', 'kind', 'returnType', 'ctx', ...INT_FIELDS, ...BOOL_FIELDS, ...VALUE_FIELDS, ...LIST_FIELDS]);

function bad(message: string): DbError {
  return new DbError('PARAMETER', `bad filter expression: ${message}`, { hint: 'see docs/queries.md for the JSON form of filter expressions' });
}

/** Applies the read to a value; undefined (unknown) when it fails or gives nil. */
export function cdtRead(op: CdtReadOp, v: BinValue | undefined): BinValue | undefined {
  if (v === undefined) return undefined;
  try {
    const r = op.op === 'hll' ? applyHllOp(v, op).result : applyCdtOperation(v, op).result;
    return r === null ? undefined : r;
  } catch (err) {
    if (err instanceof DbError) return undefined;
    throw err;
  }
}

export function cdtReadToJson(op: CdtReadOp, valueToJson: ToJson): JsonValue {
  const o = op as unknown as Record<string, unknown>;
  const out: Record<string, JsonValue> = { op: op.op, kind: op.kind };
  for (const f of INT_FIELDS) if (typeof o[f] === 'number') out[f] = o[f] as number;
  for (const f of BOOL_FIELDS) if (typeof o[f] === 'boolean') out[f] = o[f] as boolean;
  for (const f of VALUE_FIELDS) if (o[f] !== undefined) out[f] = valueToJson(o[f] as BinValue);
  for (const f of LIST_FIELDS) if (Array.isArray(o[f]) && (o[f] as unknown[]).length > 0) out[f] = (o[f] as BinValue[]).map(valueToJson);
  if (typeof o['returnType'] === 'string') out['returnType'] = o['returnType'] as string;
  if (op.op !== 'hll' && op.ctx !== undefined && op.ctx.length > 0) {
    out['ctx'] = op.ctx.map((c) => {
      const x = c as unknown as Record<string, unknown>;
      const j: Record<string, JsonValue> = { type: c.type };
      for (const f of ['index', 'rank'] as const) if (typeof x[f] === 'number') j[f] = x[f] as number;
      for (const f of ['value', 'key'] as const) if (x[f] !== undefined) j[f] = valueToJson(x[f] as BinValue);
      return j;
    });
  }
  return out;
}

export function cdtReadFromJson(j: unknown, path: string, valueFromJson: FromJson): CdtReadOp {
  if (typeof j !== 'object' || j === null || Array.isArray(j)) throw bad(`${path} must be an object with "op" and "kind"`);
  const o = j as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!KNOWN.has(k)) throw bad(`${path}.${k} is not a field of a list, map, bit or HLL read`);
  if (o['op'] !== 'list' && o['op'] !== 'map' && o['op'] !== 'bit' && o['op'] !== 'hll') throw bad(`${path}.op must be "list", "map", "bit" or "hll"`);
  if (o['op'] === 'hll' && o['ctx'] !== undefined) throw bad(`${path}.ctx: HLL reads take no context`);
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
  if (o['returnType'] !== undefined) {
    if (typeof o['returnType'] !== 'string') throw bad(`${path}.returnType must be a string`);
    out['returnType'] = o['returnType'];
  }
  if (o['ctx'] !== undefined) {
    if (!Array.isArray(o['ctx'])) throw bad(`${path}.ctx must be an array`);
    out['ctx'] = (o['ctx'] as unknown[]).map((c, i): CdtContextItem => {
      if (typeof c !== 'object' || c === null) throw bad(`${path}.ctx[${i}] must be an object`);
      const x = c as Record<string, unknown>;
      for (const k of Object.keys(x)) if (!['type', 'index', 'rank', 'value', 'key'].includes(k)) throw bad(`${path}.ctx[${i}].${k} is not a field of a read context step`);
      const item: Record<string, unknown> = { type: x['type'] };
      if (x['index'] !== undefined) item['index'] = x['index'];
      if (x['rank'] !== undefined) item['rank'] = x['rank'];
      if (x['value'] !== undefined) item['value'] = valueFromJson(x['value'], `${path}.ctx[${i}].value`);
      if (x['key'] !== undefined) item['key'] = valueFromJson(x['key'], `${path}.ctx[${i}].key`) as MapKey;
      return item as unknown as CdtContextItem;
    });
  }
  const op = out as unknown as CdtReadOp;
  if (isWriteOperation(op)) throw bad(`${path}: ${op.op} ${op.kind} writes; an expression can only read`);
  // the kernel checks the kind, the arguments and the context once here, so a bad read fails now, not as "unknown" later
  if (op.op === 'hll') applyHllOp(undefined, op);
  else applyCdtOperation(undefined, op);
  return op;
}
