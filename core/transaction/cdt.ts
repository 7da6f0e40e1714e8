import { DbError } from '../errors/index.ts';
import { valuesEqual, valueType, isList, isMap, checkInt64, GeoJson, type BinValue, type MapKey, type ValueType } from '../model/index.ts';
import { CDT_RETURN_TYPES, type CdtReturnType, type ListOpKind, type MapOpKind, type Operation } from './operations.ts';

type ListOp = Extract<Operation, { op: 'list' }>;
type MapOp = Extract<Operation, { op: 'map' }>;

export interface CdtResult {
  /** The bin's new value (undefined: unchanged; null: remove the bin). */
  readonly next: BinValue | undefined;
  /** What the operation returns to the caller; undefined for operations that return nothing (set, clear, sort). */
  readonly result: BinValue | undefined;
}

function needIndex(op: ListOp): number {
  if (op.index === undefined || !Number.isInteger(op.index)) {
    throw new DbError('PARAMETER', `list ${op.kind} on bin '${op.bin}' needs an integer index`);
  }
  return op.index;
}

function resolveIndex(index: number, length: number, forInsert: boolean, op: ListOp): number {
  const i = index < 0 ? length + index : index;
  if (i < 0 || (forInsert ? i > length : i >= length)) {
    throw new DbError('OP_NOT_APPLICABLE', `list ${op.kind} on bin '${op.bin}': index ${index} is out of bounds for a list of ${length}`, {
      hint: `use an index from ${-length} to ${forInsert ? length : length - 1}`,
    });
  }
  return i;
}

function range(op: ListOp, length: number): [number, number] {
  const start = resolveIndex(needIndex(op), Math.max(length, 1), true, op);
  const count = op.count === undefined ? length - start : op.count;
  if (!Number.isInteger(count) || count < 0) throw new DbError('PARAMETER', `list ${op.kind}: count must be a non-negative integer`);
  return [start, Math.min(length, start + count)];
}

function needValue<T extends { readonly value?: BinValue; readonly kind: string; readonly bin: string }>(op: T): BinValue {
  if (op.value === undefined) throw new DbError('PARAMETER', `${op.kind} on bin '${op.bin}' needs a value`);
  return op.value;
}

function addNumbers(a: BinValue, b: BinValue, where: string): bigint | number {
  if (typeof a === 'bigint' && typeof b === 'bigint') return checkInt64(a + b, `${where} result`);
  if (typeof a === 'number' && typeof b === 'number') return a + b;
  throw new DbError('BIN_TYPE', `${where}: cannot add a ${typeof b === 'bigint' ? 'integer' : typeof b} to a ${typeof a === 'bigint' ? 'integer' : typeof a}`, {
    hint: 'increment integers by integers and doubles by doubles',
  });
}


// ---------------------------------------------------------------------------------------------
// Aerospike's CDT value order.

const CDT_TYPE_ORDER: Record<ValueType, number> = {
  nil: 0, boolean: 1, integer: 2, string: 3, list: 4, map: 5, bytes: 6, double: 7, geojson: 8,
};

/** UTF-16 code unit adjusted so that unit order is code point (and so UTF-8 byte) order. */
function utf8Unit(c: number): number {
  if (c >= 0xd800 && c <= 0xdfff) return c + 0x2000;
  if (c >= 0xe000) return c - 0x800;
  return c;
}

function compareStrings(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const ca = a.charCodeAt(i);
    const cb = b.charCodeAt(i);
    if (ca !== cb) return utf8Unit(ca) - utf8Unit(cb);
  }
  return a.length - b.length;
}

function compareDoubles(a: number, b: number): number {
  if (a < b) return -1;
  if (a > b) return 1;
  if (a === b) return 0;
  return Number.isNaN(a) ? (Number.isNaN(b) ? 0 : 1) : -1; // NaN after every other double
}

/**
 * Aerospike's order of collection elements ("CDT ordering"): by type first —
 * nil < boolean < integer < string < list < map < bytes < double < GeoJSON — so integers and
 * doubles never compare by value with each other; then false < true, integers and doubles by
 * value, strings and bytes byte by byte (UTF-8), lists element by element then by length, maps
 * by entry count, then keys in key order, then values.
 */
export function cdtCompare(a: BinValue, b: BinValue): number {
  const ta = valueType(a);
  const tb = valueType(b);
  if (ta !== tb) return CDT_TYPE_ORDER[ta] - CDT_TYPE_ORDER[tb];
  switch (ta) {
    case 'nil': return 0;
    case 'boolean': return Number(a) - Number(b);
    case 'integer': return (a as bigint) < (b as bigint) ? -1 : (a as bigint) > (b as bigint) ? 1 : 0;
    case 'double': return compareDoubles(a as number, b as number);
    case 'string': return compareStrings(a as string, b as string);
    case 'bytes': return Math.sign(Buffer.compare(a as Uint8Array, b as Uint8Array));
    case 'geojson': return compareStrings((a as GeoJson).text, (b as GeoJson).text);
    case 'list': {
      const la = a as readonly BinValue[];
      const lb = b as readonly BinValue[];
      for (let i = 0; i < Math.min(la.length, lb.length); i++) {
        const c = cdtCompare(la[i] as BinValue, lb[i] as BinValue);
        if (c !== 0) return c;
      }
      return Math.sign(la.length - lb.length);
    }
    case 'map': {
      const ma = a as ReadonlyMap<MapKey, BinValue>;
      const mb = b as ReadonlyMap<MapKey, BinValue>;
      if (ma.size !== mb.size) return Math.sign(ma.size - mb.size);
      const ka = [...ma.keys()].sort(cdtCompare);
      const kb = [...mb.keys()].sort(cdtCompare);
      for (let i = 0; i < ka.length; i++) {
        const c = cdtCompare(ka[i] as MapKey, kb[i] as MapKey);
        if (c !== 0) return c;
      }
      for (const k of ka) {
        const c = cdtCompare(ma.get(k) as BinValue, mb.get(k) as BinValue);
        if (c !== 0) return c;
      }
      return 0;
    }
  }
}

export function applyListOp(current: BinValue | undefined, op: ListOp): CdtResult {
  if (current !== undefined && current !== null && !isList(current)) {
    throw new DbError('BIN_TYPE', `bin '${op.bin}' holds a ${typeof current === 'object' ? 'non-list value' : typeof current}, not a list`, { hint: 'list operations need a list bin' });
  }
  const list: BinValue[] = current === undefined || current === null ? [] : [...current];
  const exists = current !== undefined && current !== null;
  const plan = LIST_PLANS[op.kind];
  takesSelectorFlags(op, plan);
  if (plan !== undefined && !(LEGACY_LIST.has(op.kind) && op.returnType === undefined && op.inverted !== true)) {
    return listSelector(plan, op, list, exists);
  }
  switch (op.kind) {
    case 'append': list.push(needValue(op)); return { next: list, result: BigInt(list.length) };
    case 'appendItems': list.push(...(op.values ?? [])); return { next: list, result: BigInt(list.length) };
    case 'insert': list.splice(resolveIndex(needIndex(op), list.length, true, op), 0, needValue(op)); return { next: list, result: BigInt(list.length) };
    case 'insertItems': list.splice(resolveIndex(needIndex(op), list.length, true, op), 0, ...(op.values ?? [])); return { next: list, result: BigInt(list.length) };
    case 'set': {
      const idx = needIndex(op);
      const i = idx < 0 ? list.length + idx : idx;
      if (i < 0) resolveIndex(idx, list.length, false, op);
      while (list.length < i) list.push(null);
      list[i] = needValue(op);
      return { next: list, result: undefined };
    }
    case 'increment': {
      const i = resolveIndex(needIndex(op), list.length, false, op);
      const v = addNumbers(list[i] as BinValue, op.value ?? 1n, `list increment of bin '${op.bin}'`);
      list[i] = v;
      return { next: list, result: v };
    }
    case 'get': {
      if (!exists) return { next: undefined, result: null };
      return { next: undefined, result: list[resolveIndex(needIndex(op), list.length, false, op)] as BinValue };
    }
    case 'getRange': {
      if (!exists) return { next: undefined, result: null };
      const [s, e] = range(op, list.length);
      return { next: undefined, result: list.slice(s, e) };
    }
    case 'pop': {
      const i = resolveIndex(needIndex(op), list.length, false, op);
      const [v] = list.splice(i, 1);
      return { next: list, result: v as BinValue };
    }
    case 'popRange': {
      const [s, e] = range(op, list.length);
      const out = list.splice(s, e - s);
      return { next: list, result: out };
    }
    case 'remove': {
      const i = resolveIndex(needIndex(op), list.length, false, op);
      list.splice(i, 1);
      return { next: list, result: 1n };
    }
    case 'removeRange': {
      const [s, e] = range(op, list.length);
      list.splice(s, e - s);
      return { next: list, result: BigInt(e - s) };
    }
    case 'removeByValue': {
      const v = needValue(op);
      const kept = list.filter((x) => !valuesEqual(x, v));
      return { next: kept, result: BigInt(list.length - kept.length) };
    }
    case 'getByValue': {
      const v = needValue(op);
      return { next: undefined, result: list.filter((x) => valuesEqual(x, v)) };
    }
    case 'size': return { next: undefined, result: exists ? BigInt(list.length) : null };
    case 'clear': return { next: exists ? [] : undefined, result: undefined };
    case 'sort': return { next: [...list].sort(cdtCompare), result: undefined };
    case 'trim': {
      const [s, e] = range(op, list.length);
      const removed = list.length - (e - s);
      return { next: list.slice(s, e), result: BigInt(removed) };
    }
    default:
      throw new DbError('PARAMETER', `unknown list operation ${JSON.stringify(op.kind)} on bin '${op.bin}'`);
  }
}

function checkMapKey(k: unknown, op: MapOp): MapKey {
  if (typeof k === 'string' || typeof k === 'bigint' || typeof k === 'number') return k;
  throw new DbError('PARAMETER', `map ${op.kind} on bin '${op.bin}': map keys must be strings, integers or doubles`);
}

export function applyMapOp(current: BinValue | undefined, op: MapOp): CdtResult {
  if (current !== undefined && current !== null && !isMap(current)) {
    throw new DbError('BIN_TYPE', `bin '${op.bin}' does not hold a map`, { hint: 'map operations need a map bin' });
  }
  const exists = current !== undefined && current !== null;
  const map = new Map<MapKey, BinValue>(exists ? current : []);
  const plan = MAP_PLANS[op.kind];
  takesSelectorFlags(op, plan);
  if (plan !== undefined && !(LEGACY_MAP.has(op.kind) && op.returnType === undefined && op.inverted !== true)) {
    return mapSelector(plan, op, map, exists);
  }
  switch (op.kind) {
    case 'put': map.set(checkMapKey(op.key, op), needValue(op)); return { next: map, result: BigInt(map.size) };
    case 'putItems': for (const [k, v] of op.items ?? []) map.set(checkMapKey(k, op), v); return { next: map, result: BigInt(map.size) };
    case 'increment': {
      const k = checkMapKey(op.key, op);
      const v = addNumbers(map.get(k) ?? (typeof op.value === 'number' ? 0 : 0n), op.value ?? 1n, `map increment of bin '${op.bin}'`);
      map.set(k, v);
      return { next: map, result: v };
    }
    case 'getByKey': return { next: undefined, result: map.get(checkMapKey(op.key, op)) ?? null };
    case 'getByKeys': {
      const out = new Map<MapKey, BinValue>();
      for (const k of op.keys ?? []) if (map.has(k)) out.set(k, map.get(k) as BinValue);
      return { next: undefined, result: out };
    }
    case 'removeByKey': {
      const k = checkMapKey(op.key, op);
      const v = map.get(k) ?? null;
      map.delete(k);
      return { next: exists ? map : undefined, result: v };
    }
    case 'removeByKeys': {
      let n = 0n;
      for (const k of op.keys ?? []) if (map.delete(k)) n++;
      return { next: exists ? map : undefined, result: n };
    }
    case 'getByValue': {
      const v = needValue(op);
      return { next: undefined, result: [...map].filter(([, x]) => valuesEqual(x, v)).map(([k]) => k) };
    }
    case 'removeByValue': {
      const v = needValue(op);
      let n = 0n;
      for (const [k, x] of [...map]) if (valuesEqual(x, v)) { map.delete(k); n++; }
      return { next: exists ? map : undefined, result: n };
    }
    case 'size': return { next: undefined, result: exists ? BigInt(map.size) : null };
    case 'clear': return { next: exists ? new Map() : undefined, result: undefined };
    case 'keys': return { next: undefined, result: [...map.keys()] };
    case 'values': return { next: undefined, result: [...map.values()] };
    default:
      throw new DbError('PARAMETER', `unknown map operation ${JSON.stringify(op.kind)} on bin '${op.bin}'`);
  }
}

// ---------------------------------------------------------------------------------------------
// Selectors: by index, rank, value, key, their ranges, lists and relative ranges, with a return
// type and the inverted flag, over lists (index = position) and maps (index = key order).

/** The elements a selector works on: values by index, and for maps the keys in key order. */
interface Elements {
  readonly values: readonly BinValue[];
  readonly keys: readonly MapKey[] | undefined;
}

/** Which kind of selector chose the elements; it decides the order of multi-element results. */
type Family = 'index' | 'rank' | 'other';

interface Selection {
  /** Positions of the selected elements: rank order for by-rank selectors, index order otherwise. */
  readonly picked: readonly number[];
  readonly single: boolean;
  readonly family: Family;
}

interface SelectorArgs {
  readonly what: string;
  readonly index?: number | undefined;
  readonly rank?: number | undefined;
  readonly count?: number | undefined;
  readonly value?: BinValue | undefined;
  readonly valueEnd?: BinValue | undefined;
  readonly values?: readonly BinValue[] | undefined;
  readonly key?: MapKey | undefined;
  readonly keyEnd?: MapKey | undefined;
  readonly keys?: readonly MapKey[] | undefined;
}

type Selector =
  | 'index' | 'indexRange' | 'rank' | 'rankRange' | 'value' | 'valueRange' | 'valueList' | 'valueRelRankRange'
  | 'key' | 'keyRange' | 'keyList' | 'keyRelIndexRange';

const SINGLE: ReadonlySet<Selector> = new Set<Selector>(['index', 'rank', 'key']);

function paramInt(v: number | undefined, name: string, a: SelectorArgs, usage: string): number {
  if (v === undefined) throw new DbError('PARAMETER', `${a.what} needs ${name === 'index' ? 'an' : 'a'} ${name}`, { hint: usage });
  if (!Number.isSafeInteger(v)) throw new DbError('PARAMETER', `${a.what}: the ${name} must be an integer, not ${v}`, { hint: usage });
  return v;
}

function paramCount(a: SelectorArgs): number | undefined {
  if (a.count === undefined) return undefined;
  if (!Number.isSafeInteger(a.count) || a.count < 0) {
    throw new DbError('PARAMETER', `${a.what}: count must be a non-negative integer, not ${a.count}`, { hint: 'leave count out to select to the end' });
  }
  return a.count;
}

/** Aerospike's calc_index_count for ranges: the window [index, index + count) clipped to [0, n). */
function window(start: number, count: number | undefined, n: number): [number, number] {
  if (start >= n) return [n, n];
  let s = start < 0 ? n + start : start;
  let c = count ?? Number.MAX_SAFE_INTEGER;
  if (s < 0) {
    c = -s < c ? c + s : 0;
    s = 0;
  }
  return [s, Math.min(n, s + Math.min(c, n))];
}

/** A single index or rank: out of range is OP_NOT_APPLICABLE, as in Aerospike. */
function singlePosition(i: number, n: number, name: string, a: SelectorArgs): number {
  const p = i < 0 ? n + i : i;
  if (p < 0 || p >= n) {
    throw new DbError('OP_NOT_APPLICABLE', `${a.what}: ${name} ${i} is out of bounds for ${n} element${n === 1 ? '' : 's'}`, {
      hint: n === 0 ? `the collection is empty; use a ${name} range, which selects nothing instead of failing` : `use a ${name} from ${-n} to ${n - 1}`,
    });
  }
  return p;
}

class Ranked {
  private order: number[] | undefined;
  private rankOf: number[] | undefined;
  readonly values: readonly BinValue[];
  constructor(values: readonly BinValue[]) {
    this.values = values;
  }
  /** Positions in rank (value) order; equal values keep index order. */
  byRank(): number[] {
    if (this.order === undefined) {
      this.order = this.values.map((_, i) => i).sort((x, y) => cdtCompare(this.values[x] as BinValue, this.values[y] as BinValue) || x - y);
    }
    return this.order;
  }
  rank(i: number): number {
    if (this.rankOf === undefined) {
      const r = new Array<number>(this.values.length);
      this.byRank().forEach((p, k) => { r[p] = k; });
      this.rankOf = r;
    }
    return this.rankOf[i] as number;
  }
}

function positionsWhere(n: number, test: (i: number) => boolean): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) if (test(i)) out.push(i);
  return out;
}

/** Elements strictly below `v` in the given order: the origin of relative ranks and indexes. */
function lowerBound(items: readonly BinValue[], v: BinValue): number {
  let n = 0;
  for (const x of items) if (cdtCompare(x, v) < 0) n++;
  return n;
}

function relWindow(origin: number, rel: number, count: number | undefined, n: number): [number, number] {
  let s = origin + rel;
  let c = count;
  if (s < 0) {
    if (c !== undefined) c = Math.max(0, c + s);
    s = 0;
  }
  return window(s, c, n);
}

function select(sel: Selector, els: Elements, ranked: Ranked, a: SelectorArgs): Selection {
  const n = els.values.length;
  const single = SINGLE.has(sel);
  const mk = (picked: readonly number[], family: Family): Selection => ({ picked, single, family });
  const range = (lo: BinValue | undefined, hi: BinValue | undefined, at: (i: number) => BinValue): number[] => positionsWhere(n, (i) => {
    const x = at(i);
    return (lo === undefined || lo === null || cdtCompare(x, lo) >= 0) && (hi === undefined || hi === null || cdtCompare(x, hi) < 0);
  });
  const value = (i: number): BinValue => els.values[i] as BinValue;
  const key = (i: number): MapKey => (els.keys as readonly MapKey[])[i] as MapKey;
  switch (sel) {
    case 'index': return mk([singlePosition(paramInt(a.index, 'index', a, 'pass index'), n, 'index', a)], 'index');
    case 'indexRange': {
      const [s, e] = window(paramInt(a.index, 'index', a, 'pass the first index (negative counts from the end) and optionally a count'), paramCount(a), n);
      return mk(positionsWhere(e - s, () => true).map((i) => s + i), 'index');
    }
    case 'rank': return mk([ranked.byRank()[singlePosition(paramInt(a.rank, 'rank', a, 'pass rank (0 is the smallest, -1 the largest)'), n, 'rank', a)] as number], 'rank');
    case 'rankRange': {
      const [s, e] = window(paramInt(a.rank, 'rank', a, 'pass the first rank (0 is the smallest, -1 the largest) and optionally a count'), paramCount(a), n);
      return mk(ranked.byRank().slice(s, e), 'rank');
    }
    case 'value': {
      if (a.value === undefined) throw new DbError('PARAMETER', `${a.what} needs a value`);
      const v = a.value;
      return mk(positionsWhere(n, (i) => cdtCompare(value(i), v) === 0), 'other');
    }
    case 'valueRange': return mk(range(a.value, a.valueEnd, value), 'other');
    case 'valueList': {
      if (a.values === undefined) throw new DbError('PARAMETER', `${a.what} needs a list of values`);
      const vs = a.values;
      return mk(positionsWhere(n, (i) => vs.some((v) => cdtCompare(value(i), v) === 0)), 'other');
    }
    case 'valueRelRankRange': {
      if (a.value === undefined) throw new DbError('PARAMETER', `${a.what} needs a value`, { hint: 'ranks are counted from where that value sorts' });
      const rel = paramInt(a.rank, 'rank', a, 'pass the rank relative to the value (0: the value or the next larger one)');
      const [s, e] = relWindow(lowerBound(els.values, a.value), rel, paramCount(a), n);
      return mk(ranked.byRank().slice(s, e), 'rank');
    }
    case 'key': {
      if (a.key === undefined) throw new DbError('PARAMETER', `${a.what} needs a key`);
      const k = a.key;
      return mk(positionsWhere(n, (i) => cdtCompare(key(i), k) === 0), 'other');
    }
    case 'keyRange': return mk(range(a.key, a.keyEnd, key), 'other');
    case 'keyList': {
      if (a.keys === undefined) throw new DbError('PARAMETER', `${a.what} needs a list of keys`);
      const ks = a.keys;
      return mk(positionsWhere(n, (i) => ks.some((k) => cdtCompare(key(i), k) === 0)), 'other');
    }
    case 'keyRelIndexRange': {
      if (a.key === undefined) throw new DbError('PARAMETER', `${a.what} needs a key`, { hint: 'indexes are counted from where that key sorts' });
      const rel = paramInt(a.index, 'index', a, 'pass the index relative to the key (0: the key or the next larger one)');
      const [s, e] = relWindow(lowerBound(els.keys as readonly MapKey[], a.key), rel, paramCount(a), n);
      return mk(positionsWhere(e - s, () => true).map((i) => s + i), 'index');
    }
  }
}

function invert(sel: Selection, n: number): Selection {
  const chosen = new Set(sel.picked);
  return { picked: positionsWhere(n, (i) => !chosen.has(i)), single: false, family: sel.family === 'index' ? 'index' : 'other' };
}

function result(sel: Selection, rt: CdtReturnType, els: Elements, ranked: Ranked): BinValue | undefined {
  const n = els.values.length;
  const { picked, single } = sel;
  const ascending = (): number[] => [...picked].sort((x, y) => x - y);
  switch (rt) {
    case 'none': return undefined;
    case 'count': return BigInt(picked.length);
    case 'exists': return picked.length > 0;
    case 'index': case 'reverseIndex': {
      const f = (i: number): bigint => BigInt(rt === 'index' ? i : n - 1 - i);
      if (single) return picked.length === 0 ? -1n : f(picked[0] as number);
      return ascending().map(f);
    }
    case 'rank': case 'reverseRank': {
      const f = (r: number): bigint => BigInt(rt === 'rank' ? r : n - 1 - r);
      if (single) return picked.length === 0 ? -1n : f(ranked.rank(picked[0] as number));
      const ranks = picked.map((i) => ranked.rank(i));
      if (sel.family !== 'index') ranks.sort((x, y) => x - y);
      return ranks.map(f);
    }
    case 'value': {
      if (single) return picked.length === 0 ? null : els.values[picked[0] as number] as BinValue;
      return picked.map((i) => els.values[i] as BinValue);
    }
    case 'key': {
      const keys = els.keys as readonly MapKey[];
      if (single) return picked.length === 0 ? null : keys[picked[0] as number] as MapKey;
      return picked.map((i) => keys[i] as MapKey);
    }
    case 'keyValue': {
      const keys = els.keys as readonly MapKey[];
      return new Map<MapKey, BinValue>(picked.map((i) => [keys[i] as MapKey, els.values[i] as BinValue]));
    }
  }
}

function checkReturnType(rt: unknown, forMap: boolean, what: string): CdtReturnType {
  const allowed = forMap ? CDT_RETURN_TYPES : CDT_RETURN_TYPES.filter((t) => t !== 'key' && t !== 'keyValue');
  if (typeof rt !== 'string' || !(allowed as readonly string[]).includes(rt)) {
    throw new DbError('PARAMETER', `${what}: ${JSON.stringify(rt)} is not a ${forMap ? 'map' : 'list'} return type`, { hint: `use one of ${allowed.join(', ')}` });
  }
  return rt as CdtReturnType;
}

interface Plan {
  readonly selector: Selector;
  readonly remove: boolean;
  readonly defaultReturn: CdtReturnType;
}

const LIST_PLANS: Partial<Record<ListOpKind, Plan>> = {
  getByIndex: { selector: 'index', remove: false, defaultReturn: 'value' },
  getByIndexRange: { selector: 'indexRange', remove: false, defaultReturn: 'value' },
  getByRank: { selector: 'rank', remove: false, defaultReturn: 'value' },
  getByRankRange: { selector: 'rankRange', remove: false, defaultReturn: 'value' },
  getByValue: { selector: 'value', remove: false, defaultReturn: 'value' },
  getByValueRange: { selector: 'valueRange', remove: false, defaultReturn: 'value' },
  getByValueList: { selector: 'valueList', remove: false, defaultReturn: 'value' },
  getByValueRelRankRange: { selector: 'valueRelRankRange', remove: false, defaultReturn: 'value' },
  removeByIndex: { selector: 'index', remove: true, defaultReturn: 'count' },
  removeByIndexRange: { selector: 'indexRange', remove: true, defaultReturn: 'count' },
  removeByRank: { selector: 'rank', remove: true, defaultReturn: 'count' },
  removeByRankRange: { selector: 'rankRange', remove: true, defaultReturn: 'count' },
  removeByValue: { selector: 'value', remove: true, defaultReturn: 'count' },
  removeByValueRange: { selector: 'valueRange', remove: true, defaultReturn: 'count' },
  removeByValueList: { selector: 'valueList', remove: true, defaultReturn: 'count' },
  removeByValueRelRankRange: { selector: 'valueRelRankRange', remove: true, defaultReturn: 'count' },
};

const MAP_PLANS: Partial<Record<MapOpKind, Plan>> = {
  getByKey: { selector: 'key', remove: false, defaultReturn: 'value' },
  getByKeys: { selector: 'keyList', remove: false, defaultReturn: 'keyValue' },
  getByKeyList: { selector: 'keyList', remove: false, defaultReturn: 'value' },
  getByKeyRange: { selector: 'keyRange', remove: false, defaultReturn: 'keyValue' },
  getByKeyRelIndexRange: { selector: 'keyRelIndexRange', remove: false, defaultReturn: 'keyValue' },
  getByIndex: { selector: 'index', remove: false, defaultReturn: 'keyValue' },
  getByIndexRange: { selector: 'indexRange', remove: false, defaultReturn: 'keyValue' },
  getByRank: { selector: 'rank', remove: false, defaultReturn: 'keyValue' },
  getByRankRange: { selector: 'rankRange', remove: false, defaultReturn: 'keyValue' },
  getByValue: { selector: 'value', remove: false, defaultReturn: 'key' },
  getByValueRange: { selector: 'valueRange', remove: false, defaultReturn: 'keyValue' },
  getByValueList: { selector: 'valueList', remove: false, defaultReturn: 'keyValue' },
  getByValueRelRankRange: { selector: 'valueRelRankRange', remove: false, defaultReturn: 'keyValue' },
  removeByKey: { selector: 'key', remove: true, defaultReturn: 'value' },
  removeByKeys: { selector: 'keyList', remove: true, defaultReturn: 'count' },
  removeByKeyList: { selector: 'keyList', remove: true, defaultReturn: 'count' },
  removeByKeyRange: { selector: 'keyRange', remove: true, defaultReturn: 'count' },
  removeByKeyRelIndexRange: { selector: 'keyRelIndexRange', remove: true, defaultReturn: 'count' },
  removeByIndex: { selector: 'index', remove: true, defaultReturn: 'count' },
  removeByIndexRange: { selector: 'indexRange', remove: true, defaultReturn: 'count' },
  removeByRank: { selector: 'rank', remove: true, defaultReturn: 'count' },
  removeByRankRange: { selector: 'rankRange', remove: true, defaultReturn: 'count' },
  removeByValue: { selector: 'value', remove: true, defaultReturn: 'count' },
  removeByValueRange: { selector: 'valueRange', remove: true, defaultReturn: 'count' },
  removeByValueList: { selector: 'valueList', remove: true, defaultReturn: 'count' },
  removeByValueRelRankRange: { selector: 'valueRelRankRange', remove: true, defaultReturn: 'count' },
};

/** Kinds older than return types: without returnType/inverted they keep their original results. */
const LEGACY_LIST: ReadonlySet<ListOpKind> = new Set<ListOpKind>(['getByValue', 'removeByValue']);
const LEGACY_MAP: ReadonlySet<MapOpKind> = new Set<MapOpKind>(['getByKey', 'getByKeys', 'removeByKey', 'removeByKeys', 'getByValue', 'removeByValue']);

function takesSelectorFlags(op: ListOp | MapOp, plan: Plan | undefined): void {
  if (plan === undefined && (op.returnType !== undefined || op.inverted === true)) {
    throw new DbError('PARAMETER', `${op.op} ${op.kind} on bin '${op.bin}' takes no return type or inverted flag`, {
      hint: 'return types and inverted apply to the get…By…/remove…By… operations',
    });
  }
}

function runSelector(plan: Plan, op: ListOp | MapOp, els: Elements, exists: boolean, forMap: boolean): { picked: readonly number[] | undefined; result: BinValue | undefined } {
  const what = `${op.op} ${op.kind} on bin '${op.bin}'`;
  const rt = op.returnType === undefined ? plan.defaultReturn : checkReturnType(op.returnType, forMap, what);
  const inverted = op.inverted === true;
  if (inverted && SINGLE.has(plan.selector)) {
    throw new DbError('OP_NOT_APPLICABLE', `${what}: inverted does not apply to an operation that selects one element`, {
      hint: `use the range form (${op.kind}Range or a value range) to invert a selection`,
    });
  }
  const args: SelectorArgs = op.op === 'list'
    ? { what, index: op.index, rank: op.rank, count: op.count, value: op.value, valueEnd: op.valueEnd, values: op.values }
    : { what, index: op.index, rank: op.rank, count: op.count, value: op.value, valueEnd: op.valueEnd, values: op.values, key: op.key, keyEnd: op.keyEnd, keys: op.keys };
  if (!exists) {
    // validate the arguments as for an empty collection (single positions excepted), then answer nil
    if (!SINGLE.has(plan.selector)) select(plan.selector, { values: [], keys: forMap ? [] : undefined }, new Ranked([]), args);
    return { picked: undefined, result: rt === 'none' ? undefined : null };
  }
  const ranked = new Ranked(els.values);
  let sel = select(plan.selector, els, ranked, args);
  if (inverted) sel = invert(sel, els.values.length);
  return { picked: sel.picked, result: result(sel, rt, els, ranked) };
}

function listSelector(plan: Plan, op: ListOp, list: readonly BinValue[], exists: boolean): CdtResult {
  const { picked, result: r } = runSelector(plan, op, { values: list, keys: undefined }, exists, false);
  if (!plan.remove || picked === undefined || picked.length === 0) return { next: undefined, result: r };
  const gone = new Set(picked);
  return { next: list.filter((_, i) => !gone.has(i)), result: r };
}

function mapSelector(plan: Plan, op: MapOp, map: ReadonlyMap<MapKey, BinValue>, exists: boolean): CdtResult {
  const keys = [...map.keys()].sort(cdtCompare);
  const values = keys.map((k) => map.get(k) as BinValue);
  const { picked, result: r } = runSelector(plan, op, { values, keys }, exists, true);
  if (!plan.remove || picked === undefined || picked.length === 0) return { next: undefined, result: r };
  const next = new Map(map);
  for (const i of picked) next.delete(keys[i] as MapKey);
  return { next, result: r };
}
