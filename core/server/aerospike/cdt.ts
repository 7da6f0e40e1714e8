/**
 * List and map operations as the clients encode them (ops 3/4, msgpack `[opcode, args…]`)
 * mapped onto the kernel's CDT operations: opcodes, argument order, return types (with the
 * INVERTED flag). What the kernel cannot do yet (nested contexts, ordered lists, write flags,
 * create-only/update-only map writes) is refused with UNSUPPORTED_FEATURE, never ignored.
 */
import { DbError } from '../../errors/index.ts';
import { isList, isMap, type BinValue, type MapKey } from '../../model/index.ts';
import type { CdtReturnType, ListOpKind, MapOpKind, Operation } from '../../transaction/operations.ts';
import { MsgpackReader, Sentinel, toBinValue, toMapKey, type WireValue } from './msgpack.ts';

const CONTEXT_EVAL = 0xff;

const RETURN_TYPES: Readonly<Record<number, CdtReturnType>> = {
  0: 'none', 1: 'index', 2: 'reverseIndex', 3: 'rank', 4: 'reverseRank', 5: 'count', 6: 'key', 7: 'value', 8: 'keyValue', 13: 'exists',
  16: 'keyValue', 17: 'keyValue',
};

type Shape =
  | 'none' | 'value' | 'values' | 'index' | 'indexValue' | 'indexValues' | 'indexCount' | 'indexDelta'
  | 'rtIndex' | 'rtValue' | 'rtRank' | 'rtValues' | 'rtIndexRange' | 'rtValueRange' | 'rtRankRange' | 'rtValueRelRank'
  | 'key' | 'keyValue' | 'items' | 'keyDelta' | 'keyNegDelta' | 'rtKey' | 'rtKeys' | 'rtKeyRange' | 'rtKeyRelIndex';

const LIST_OPS: Readonly<Record<number, readonly [ListOpKind, Shape]>> = {
  1: ['append', 'value'], 2: ['appendItems', 'values'], 3: ['insert', 'indexValue'], 4: ['insertItems', 'indexValues'],
  5: ['pop', 'index'], 6: ['popRange', 'indexCount'], 7: ['remove', 'index'], 8: ['removeRange', 'indexCount'],
  9: ['set', 'indexValue'], 10: ['trim', 'indexCount'], 11: ['clear', 'none'], 12: ['increment', 'indexDelta'], 13: ['sort', 'none'],
  16: ['size', 'none'], 17: ['get', 'index'], 18: ['getRange', 'indexCount'],
  19: ['getByIndex', 'rtIndex'], 20: ['getByValue', 'rtValue'], 21: ['getByRank', 'rtRank'], 22: ['getByValue', 'rtValue'],
  23: ['getByValueList', 'rtValues'], 24: ['getByIndexRange', 'rtIndexRange'], 25: ['getByValueRange', 'rtValueRange'],
  26: ['getByRankRange', 'rtRankRange'], 27: ['getByValueRelRankRange', 'rtValueRelRank'],
  32: ['removeByIndex', 'rtIndex'], 33: ['removeByValue', 'rtValue'], 34: ['removeByRank', 'rtRank'], 35: ['removeByValue', 'rtValue'],
  36: ['removeByValueList', 'rtValues'], 37: ['removeByIndexRange', 'rtIndexRange'], 38: ['removeByValueRange', 'rtValueRange'],
  39: ['removeByRankRange', 'rtRankRange'], 40: ['removeByValueRelRankRange', 'rtValueRelRank'],
};

const MAP_OPS: Readonly<Record<number, readonly [MapOpKind, Shape]>> = {
  67: ['put', 'keyValue'], 68: ['putItems', 'items'], 73: ['increment', 'keyDelta'], 74: ['increment', 'keyNegDelta'], 75: ['clear', 'none'],
  76: ['removeByKey', 'rtKey'], 77: ['removeByIndex', 'rtIndex'], 78: ['removeByValue', 'rtValue'], 79: ['removeByRank', 'rtRank'],
  81: ['removeByKeyList', 'rtKeys'], 82: ['removeByValue', 'rtValue'], 83: ['removeByValueList', 'rtValues'],
  84: ['removeByKeyRange', 'rtKeyRange'], 85: ['removeByIndexRange', 'rtIndexRange'], 86: ['removeByValueRange', 'rtValueRange'],
  87: ['removeByRankRange', 'rtRankRange'], 88: ['removeByKeyRelIndexRange', 'rtKeyRelIndex'], 89: ['removeByValueRelRankRange', 'rtValueRelRank'],
  96: ['size', 'none'], 97: ['getByKey', 'rtKey'], 98: ['getByIndex', 'rtIndex'], 99: ['getByValue', 'rtValue'], 100: ['getByRank', 'rtRank'],
  102: ['getByValue', 'rtValue'], 103: ['getByKeyRange', 'rtKeyRange'], 104: ['getByIndexRange', 'rtIndexRange'],
  105: ['getByValueRange', 'rtValueRange'], 106: ['getByRankRange', 'rtRankRange'], 107: ['getByKeyList', 'rtKeys'],
  108: ['getByValueList', 'rtValues'], 109: ['getByKeyRelIndexRange', 'rtKeyRelIndex'], 110: ['getByValueRelRankRange', 'rtValueRelRank'],
};

/** Map opcodes the kernel has no equivalent for yet, with what they are. */
const MAP_UNSUPPORTED: Readonly<Record<number, string>> = {
  64: 'map set-type (map order)', 65: 'map add (create-only put)', 66: 'map add-items (create-only put)',
  69: 'map replace (update-only put)', 70: 'map replace-items (update-only put)',
};

function unsupported(what: string): DbError {
  return new DbError('UNSUPPORTED_FEATURE', `${what} is not supported yet`, { hint: 'use the list and map operations without it (see docs/clients.md)' });
}

function int(v: WireValue | undefined, what: string): number {
  if (typeof v !== 'bigint') throw new DbError('PARAMETER', `${what} must be an integer`);
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new DbError('PARAMETER', `${what} ${v} is out of range`);
  return n;
}

function value(v: WireValue | undefined, what: string): BinValue {
  if (v === undefined) throw new DbError('PARAMETER', `${what} is missing`);
  return toBinValue(v);
}

/** A range bound: absent, nil or INFINITY mean "open". */
function bound(v: WireValue | undefined): BinValue | undefined {
  if (v === undefined || v === null) return undefined;
  if (v instanceof Sentinel) {
    if (v.kind === 'infinity') return undefined;
    throw unsupported('a WILDCARD value in a range');
  }
  return toBinValue(v);
}

function values(v: WireValue | undefined, what: string): BinValue[] {
  const x = value(v, what);
  if (!isList(x)) throw new DbError('PARAMETER', `${what} must be a list`);
  return [...x];
}

function returnType(v: WireValue | undefined): { returnType: CdtReturnType; inverted: boolean } {
  const n = int(v, 'the return type');
  const rt = RETURN_TYPES[n & 0xffff];
  if (rt === undefined) throw new DbError('PARAMETER', `return type ${n & 0xffff} is not known`, { hint: 'use the client\'s ListReturnType / MapReturnType values' });
  return { returnType: rt, inverted: (n & 0x10000) !== 0 };
}

/** Refuses write-flag and order arguments other than the defaults. */
function noFlags(args: readonly WireValue[], from: number, what: string): void {
  for (let i = from; i < args.length; i++) {
    const a = args[i];
    if (a !== undefined && a !== 0n && a !== null) throw unsupported(`${what} with order or write flags (${String(a)})`);
  }
}

/** One CDT operation payload (ops 3/4) as a kernel operation on `bin`. */
export function cdtOperation(bin: string, payload: Buffer): Operation {
  const r = new MsgpackReader(payload);
  const all = r.read();
  if (!Array.isArray(all) || all.length === 0) throw new DbError('PARAMETER', `the list/map operation on bin '${bin}' is not an array`);
  const [code, ...args] = all as readonly WireValue[];
  const opcode = int(code, 'the list/map opcode');
  if (opcode === CONTEXT_EVAL) throw unsupported(`a nested context (ctx) on bin '${bin}'`);
  const list = LIST_OPS[opcode];
  if (list !== undefined) return listOp(bin, list[0], list[1], args);
  const map = MAP_OPS[opcode];
  if (map !== undefined) return mapOp(bin, map[0], map[1], args);
  if (opcode === 0) throw unsupported('list set-order (ordered lists)');
  const named = MAP_UNSUPPORTED[opcode];
  if (named !== undefined) throw unsupported(named);
  throw new DbError('PARAMETER', `list/map opcode ${opcode} is not known`, { hint: 'send operations the Aerospike clients send' });
}

function listOp(bin: string, kind: ListOpKind, shape: Shape, a: readonly WireValue[]): Operation {
  const what = `list ${kind} on bin '${bin}'`;
  const base = { op: 'list' as const, bin, kind };
  switch (shape) {
    case 'none':
      if (kind === 'sort') noFlags(a, 0, what);
      return base;
    case 'value': noFlags(a, 1, what); return { ...base, value: value(a[0], `${what}: the value`) };
    case 'values': noFlags(a, 1, what); return { ...base, values: values(a[0], `${what}: the items`) };
    case 'index': return { ...base, index: int(a[0], `${what}: the index`) };
    case 'indexValue': noFlags(a, 2, what); return { ...base, index: int(a[0], `${what}: the index`), value: value(a[1], `${what}: the value`) };
    case 'indexValues': noFlags(a, 2, what); return { ...base, index: int(a[0], `${what}: the index`), values: values(a[1], `${what}: the items`) };
    case 'indexCount': return { ...base, index: int(a[0], `${what}: the index`), ...(a[1] === undefined ? {} : { count: int(a[1], `${what}: the count`) }) };
    case 'indexDelta': noFlags(a, 2, what); return { ...base, index: int(a[0], `${what}: the index`), value: a[1] === undefined ? 1n : value(a[1], `${what}: the delta`) };
    default: return selector(base, shape, a, what);
  }
}

function mapOp(bin: string, kind: MapOpKind, shape: Shape, a: readonly WireValue[]): Operation {
  const what = `map ${kind} on bin '${bin}'`;
  const base = { op: 'map' as const, bin, kind };
  switch (shape) {
    case 'none': return base;
    case 'keyValue':
      // [key, value, attr, flags]: the map order attribute is the kernel's own (key order)
      noFlags(a, 3, what);
      return { ...base, key: toMapKey(a[0] ?? null), value: value(a[1], `${what}: the value`) };
    case 'items': {
      noFlags(a, 2, what);
      const m = value(a[0], `${what}: the items`);
      if (!isMap(m)) throw new DbError('PARAMETER', `${what}: the items must be a map`);
      return { ...base, items: m };
    }
    case 'keyDelta': case 'keyNegDelta': {
      const d = a[1] === undefined ? 1n : value(a[1], `${what}: the delta`);
      if (typeof d !== 'bigint' && typeof d !== 'number') throw new DbError('PARAMETER', `${what}: the delta must be a number`);
      return { ...base, key: toMapKey(a[0] ?? null), value: shape === 'keyNegDelta' ? (typeof d === 'bigint' ? -d : -d) : d };
    }
    default: return selector(base, shape, a, what);
  }
}

function selector<B extends { readonly op: 'list' | 'map'; readonly bin: string }>(base: B, shape: Shape, a: readonly WireValue[], what: string): Operation {
  const rt = returnType(a[0]);
  const x = a.slice(1);
  const count = (i: number): { count?: number } => (x[i] === undefined ? {} : { count: int(x[i], `${what}: the count`) });
  let extra: Record<string, unknown>;
  switch (shape) {
    case 'rtIndex': extra = { index: int(x[0], `${what}: the index`) }; break;
    case 'rtRank': extra = { rank: int(x[0], `${what}: the rank`) }; break;
    case 'rtValue': extra = { value: value(x[0], `${what}: the value`) }; break;
    case 'rtValues': extra = { values: values(x[0], `${what}: the values`) }; break;
    case 'rtIndexRange': extra = { index: int(x[0], `${what}: the index`), ...count(1) }; break;
    case 'rtRankRange': extra = { rank: int(x[0], `${what}: the rank`), ...count(1) }; break;
    case 'rtValueRange': {
      const lo = bound(x[0]);
      const hi = bound(x[1]);
      extra = { ...(lo === undefined ? { value: null } : { value: lo }), ...(hi === undefined ? {} : { valueEnd: hi }) };
      break;
    }
    case 'rtValueRelRank': extra = { value: value(x[0], `${what}: the value`), rank: int(x[1], `${what}: the rank`), ...count(2) }; break;
    case 'rtKey': extra = { key: toMapKey(x[0] ?? null) }; break;
    case 'rtKeys': extra = { keys: values(x[0], `${what}: the keys`).map((k) => toMapKey(k)) }; break;
    case 'rtKeyRange': {
      const lo = bound(x[0]);
      const hi = bound(x[1]);
      extra = { ...(lo === undefined ? {} : { key: toMapKey(lo) }), ...(hi === undefined ? {} : { keyEnd: toMapKey(hi) }) };
      break;
    }
    case 'rtKeyRelIndex': extra = { key: toMapKey(x[0] ?? null), index: int(x[1], `${what}: the index`), ...count(2) }; break;
    default: throw new DbError('SERVER_ERROR', `unhandled CDT shape ${shape}`);
  }
  return { ...base, ...extra, returnType: rt.returnType, inverted: rt.inverted } as unknown as Operation;
}

export type { MapKey };
