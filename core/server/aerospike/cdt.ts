/**
 * List and map operations as the clients encode them (ops 3/4, msgpack `[opcode, args…]`, or
 * `[0xff, ctx, [opcode, args…]]` with a context) mapped onto the kernel's CDT operations:
 * opcodes, argument order, return types (with the INVERTED flag), contexts with their create
 * flags, list and map write flags, list and map orders (create orders, SET_TYPE, the
 * ORDERED_MAP / UNORDERED_MAP return types). What the kernel cannot do yet (expression
 * contexts) is refused with UNSUPPORTED_FEATURE, never ignored.
 */
import { DbError } from '../../errors/index.ts';
import { isList, isMap, type BinValue, type ListOrder, type MapKey, type MapOrder } from '../../model/index.ts';
import type { CdtContextItem, CdtReturnType, ListOpKind, ListWriteFlags, MapOpKind, MapWriteFlags, Operation } from '../../transaction/operations.ts';
import { listOrderOfFlags, mapOrderOfFlags, MsgpackReader, Sentinel, toBinValue, toMapKey, type WireValue } from './msgpack.ts';

const CONTEXT_EVAL = 0xff;

const RETURN_TYPES: Readonly<Record<number, CdtReturnType>> = {
  0: 'none', 1: 'index', 2: 'reverseIndex', 3: 'rank', 4: 'reverseRank', 5: 'count', 6: 'key', 7: 'value', 8: 'keyValue', 13: 'exists',
  16: 'unorderedMap', 17: 'orderedMap',
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

/** Map writes whose opcode carries the write mode (legacy create-only / update-only puts). */
const MAP_MODES: Readonly<Record<number, readonly [MapOpKind, Shape, MapWriteFlags]>> = {
  65: ['put', 'keyValue', { createOnly: true }], 66: ['putItems', 'items', { createOnly: true }],
  69: ['put', 'keyValue', { updateOnly: true }], 70: ['putItems', 'items', { updateOnly: true }],
};


/**
 * The most arguments each opcode takes (the server's CDT op tables, `cdt.c`): an argument past
 * them is refused with PARAMETER, as the server does, never ignored.
 */
const MAX_ARGS: Readonly<Record<number, number>> = {
  0: 1, 1: 3, 2: 3, 3: 3, 4: 3, 5: 1, 6: 2, 7: 1, 8: 2, 9: 3, 10: 2, 11: 0, 12: 4, 13: 1, 16: 0, 17: 1, 18: 2,
  19: 2, 20: 2, 21: 2, 22: 2, 23: 2, 24: 3, 25: 3, 26: 3, 27: 4, 32: 2, 33: 2, 34: 2, 35: 2, 36: 2, 37: 3, 38: 3, 39: 3, 40: 4,
  64: 1, 65: 3, 66: 2, 67: 4, 68: 3, 69: 2, 70: 1, 73: 3, 74: 3, 75: 0, 76: 2, 77: 2, 78: 2, 79: 2, 81: 2, 82: 2, 83: 2,
  84: 3, 85: 3, 86: 3, 87: 3, 88: 4, 89: 4, 96: 0, 97: 2, 98: 2, 99: 2, 100: 2, 102: 2, 103: 3, 104: 3, 105: 3, 106: 3,
  107: 2, 108: 2, 109: 4, 110: 4,
};

/** Aerospike's ListWriteFlags bits. */
function listFlags(v: WireValue | undefined): ListWriteFlags | undefined {
  if (v === undefined || v === null) return undefined;
  const n = int(v, 'the list write flags');
  if (n & ~0x0f) throw new DbError('PARAMETER', `list write flags ${n} are not known`);
  return n === 0 ? undefined : { addUnique: (n & 1) !== 0, insertBounded: (n & 2) !== 0, noFail: (n & 4) !== 0, partial: (n & 8) !== 0 };
}

/** Aerospike's MapWriteFlags bits. */
function mapFlags(v: WireValue | undefined): MapWriteFlags | undefined {
  if (v === undefined || v === null) return undefined;
  const n = int(v, 'the map write flags');
  if (n & ~0x0f) throw new DbError('PARAMETER', `map write flags ${n} are not known`);
  return n === 0 ? undefined : { createOnly: (n & 1) !== 0, updateOnly: (n & 2) !== 0, noFail: (n & 4) !== 0, partial: (n & 8) !== 0 };
}

/** A list order argument (1 ordered, | 0x10 persist-index, a storage hint with no effect on results); absent or 0: none. */
function listOrderArg(v: WireValue | undefined, what: string): { order?: ListOrder } {
  if (v === undefined || v === null) return {};
  const order = listOrderOfFlags(int(v, `${what}: the list order`));
  return order === 'unordered' ? {} : { order };
}

/** A map order attribute (0 unordered, 1 key-ordered, 3 key-value-ordered, | 0x10 persist-index); absent or 0: none. */
function mapOrderArg(v: WireValue | undefined, what: string): { order?: MapOrder } {
  if (v === undefined || v === null) return {};
  const order = mapOrderOfFlags(int(v, `${what}: the map order`));
  return order === 'unordered' ? {} : { order };
}

/** A CDT context (`[type, value, type, value, …]`) as the kernel's path. */
export function contextOf(v: WireValue): CdtContextItem[] {
  if (!Array.isArray(v) || v.length % 2 !== 0) throw new DbError('PARAMETER', 'a CDT context must be a list of type and value pairs');
  const items = v as readonly WireValue[];
  const out: CdtContextItem[] = [];
  for (let i = 0; i < items.length; i += 2) {
    const type = int(items[i], 'a context type');
    const x = items[i + 1];
    const create = type & 0xc0;
    switch (type & 0x3f) {
      case 0x10: out.push({ type: 'listIndex', index: int(x, 'a context list index'), ...(create === 0 ? {} : { create: create === 0xc0 ? { order: 'ordered' } : { order: 'unordered', ...(create === 0x80 ? { pad: true } : {}) } }) }); break;
      case 0x11: out.push({ type: 'listRank', rank: int(x, 'a context list rank') }); break;
      case 0x13: out.push({ type: 'listValue', value: value(x, 'a context list value') }); break;
      case 0x20: out.push({ type: 'mapIndex', index: int(x, 'a context map index') }); break;
      case 0x21: out.push({ type: 'mapRank', rank: int(x, 'a context map rank') }); break;
      case 0x22: out.push({ type: 'mapKey', key: toMapKey(x ?? null), ...(create === 0 ? {} : { create: { order: create === 0x40 ? 'unordered' : create === 0x80 ? 'keyOrdered' : 'keyValueOrdered' } }) }); break;
      case 0x23: out.push({ type: 'mapValue', value: value(x, 'a context map value') }); break;
      case 0x04: throw unsupported('an expression in a CDT context');
      default: throw new DbError('PARAMETER', `CDT context type 0x${type.toString(16)} is not known`);
    }
  }
  return out;
}

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

/** One CDT operation payload (ops 3/4) as a kernel operation on `bin`. */
export function cdtOperation(bin: string, payload: Buffer): Operation {
  const r = new MsgpackReader(payload);
  const all = r.read();
  if (!Array.isArray(all) || all.length === 0) throw new DbError('PARAMETER', `the list/map operation on bin '${bin}' is not an array`);
  let [code, ...args] = all as readonly WireValue[];
  let ctx: CdtContextItem[] | undefined;
  if (code === BigInt(CONTEXT_EVAL)) {
    // [0xff, ctx, [opcode, args…]]
    const inner = args[1];
    if (args.length !== 2 || !Array.isArray(inner) || inner.length === 0) throw new DbError('PARAMETER', `the context operation on bin '${bin}' must be [0xff, ctx, [opcode, …]]`);
    ctx = contextOf(args[0] as WireValue);
    [code, ...args] = inner as readonly WireValue[];
  }
  const op = plainOperation(bin, int(code, 'the list/map opcode'), args);
  return ctx === undefined || ctx.length === 0 ? op : { ...op, ctx } as Operation;
}

function plainOperation(bin: string, opcode: number, args: readonly WireValue[]): Operation {
  const max = MAX_ARGS[opcode];
  if (max !== undefined && args.length > max) {
    throw new DbError('PARAMETER', `list/map opcode ${opcode} on bin '${bin}' takes at most ${max} argument${max === 1 ? '' : 's'}, not ${args.length}`, {
      hint: 'send the arguments the Aerospike clients send for this operation',
    });
  }
  const list = LIST_OPS[opcode];
  if (list !== undefined) return listOp(bin, list[0], list[1], args);
  const map = MAP_OPS[opcode];
  if (map !== undefined) return mapOp(bin, map[0], map[1], args);
  const mode = MAP_MODES[opcode];
  if (mode !== undefined) {
    // ADD [key, value, attr], ADD_ITEMS [map, attr], REPLACE [key, value], REPLACE_ITEMS [map]: no write-flags argument
    const n = mode[1] === 'items' ? 1 : 2;
    if (args.length > n + 1 || (args.length === n + 1 && (opcode === 69 || opcode === 70))) {
      throw new DbError('PARAMETER', `map opcode ${opcode} on bin '${bin}' takes ${n}${opcode === 65 || opcode === 66 ? ' or ' + String(n + 1) : ''} arguments, not ${args.length}`);
    }
    const op = mapOp(bin, mode[0], mode[1], args.slice(0, n)) as Extract<Operation, { op: 'map' }>;
    return { ...op, flags: mode[2], ...mapOrderArg(args[n], `map opcode ${opcode} on bin '${bin}'`) };
  }
  if (opcode === 0) {
    // SET_TYPE: [0, order]
    const n = int(args[0], `list set-order on bin '${bin}': the order`);
    return { op: 'list', bin, kind: 'setOrder', order: listOrderOfFlags(n) };
  }
  if (opcode === 64) {
    // MAP_SET_TYPE: [64, attr]
    const n = int(args[0], `map set-type on bin '${bin}': the order`);
    return { op: 'map', bin, kind: 'setOrder', order: mapOrderOfFlags(n) };
  }
  throw new DbError('PARAMETER', `list/map opcode ${opcode} is not known`, { hint: 'send operations the Aerospike clients send' });
}

function listOp(bin: string, kind: ListOpKind, shape: Shape, a: readonly WireValue[]): Operation {
  const what = `list ${kind} on bin '${bin}'`;
  const base = { op: 'list' as const, bin, kind };
  switch (shape) {
    case 'none': {
      if (kind !== 'sort') return base;
      // sort: [flags] (Aerospike's ListSortFlags: 1 descending, 2 drop duplicates)
      const n = a[0] === undefined || a[0] === null ? 0 : int(a[0], `${what}: the sort flags`);
      if (n & ~3) throw new DbError('PARAMETER', `${what}: sort flags ${n} are not known`, { hint: 'use ListSortFlags: 0, DESCENDING 1, DROP_DUPLICATES 2' });
      return n === 0 ? base : { ...base, sortFlags: { descending: (n & 1) !== 0, dropDuplicates: (n & 2) !== 0 } };
    }
    case 'value': case 'values': {
      // append / append-items: [value(s), order, flags]
      const flags = listFlags(a[2]);
      const v = shape === 'value' ? { value: value(a[0], `${what}: the value`) } : { values: values(a[0], `${what}: the items`) };
      return { ...base, ...v, ...listOrderArg(a[1], what), ...(flags === undefined ? {} : { flags }) };
    }
    case 'index': return { ...base, index: int(a[0], `${what}: the index`) };
    case 'indexValue': case 'indexValues': {
      // insert / insert-items / set: [index, value(s), flags]
      const flags = listFlags(a[2]);
      const v = shape === 'indexValue' ? { value: value(a[1], `${what}: the value`) } : { values: values(a[1], `${what}: the items`) };
      return { ...base, index: int(a[0], `${what}: the index`), ...v, ...(flags === undefined ? {} : { flags }) };
    }
    case 'indexCount': return { ...base, index: int(a[0], `${what}: the index`), ...(a[1] === undefined ? {} : { count: int(a[1], `${what}: the count`) }) };
    case 'indexDelta': {
      // increment: [index, delta, order, flags]; the kernel's increment takes no write flags
      const flags = listFlags(a[3]);
      if (flags !== undefined) throw new DbError('PARAMETER', `${what}: write flags on a list increment are not supported`, { hint: 'send the increment without list write flags' });
      return { ...base, index: int(a[0], `${what}: the index`), value: a[1] === undefined || a[1] === null ? 1n : value(a[1], `${what}: the delta`), ...listOrderArg(a[2], what) };
    }
    default: return selector(base, shape, a, what);
  }
}

function mapOp(bin: string, kind: MapOpKind, shape: Shape, a: readonly WireValue[]): Operation {
  const what = `map ${kind} on bin '${bin}'`;
  const base = { op: 'map' as const, bin, kind };
  switch (shape) {
    case 'none': return base;
    case 'keyValue': {
      // [key, value, attr, flags]: attr is the order of a map the put creates
      const flags = mapFlags(a[3]);
      return { ...base, key: toMapKey(a[0] ?? null), value: value(a[1], `${what}: the value`), ...mapOrderArg(a[2], what), ...(flags === undefined ? {} : { flags }) };
    }
    case 'items': {
      const m = value(a[0], `${what}: the items`);
      if (!isMap(m)) throw new DbError('PARAMETER', `${what}: the items must be a map`);
      const flags = mapFlags(a[2]);
      return { ...base, items: m, ...mapOrderArg(a[1], what), ...(flags === undefined ? {} : { flags }) };
    }
    case 'keyDelta': case 'keyNegDelta': {
      // [key, delta, attr] (no write flags on the wire: the opcode's arity refuses a fourth)
      const d = a[1] === undefined || a[1] === null ? 1n : value(a[1], `${what}: the delta`);
      if (typeof d !== 'bigint' && typeof d !== 'number') throw new DbError('PARAMETER', `${what}: the delta must be a number`);
      return { ...base, key: toMapKey(a[0] ?? null), value: shape === 'keyNegDelta' ? -d : d, ...mapOrderArg(a[2], what) };
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
