/**
 * The selector engine of list and map operations: by index, rank, value, key, their ranges, lists
 * and relative ranges, with a return type and the inverted flag, over lists (index = position)
 * and maps (index = key order).
 */
import { DbError } from '../../errors/index.ts';
import { mapOrder, withMapOrder, type BinValue, type MapKey } from '../../model/index.ts';
import { cdtCompare } from '../../model/value-order.ts';
import { CDT_RETURN_TYPES, type CdtReturnType, type ListOpKind, type MapOpKind } from '../operations.ts';
import type { CdtResult, ListOp, MapOp } from './common.ts';

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

export type Selector =
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
    case 'keyValue': case 'unorderedMap': case 'orderedMap': {
      const keys = els.keys as readonly MapKey[];
      return new Map<MapKey, BinValue>(picked.map((i) => [keys[i] as MapKey, els.values[i] as BinValue]));
    }
  }
}

function checkReturnType(rt: unknown, forMap: boolean, what: string): CdtReturnType {
  const allowed = forMap ? CDT_RETURN_TYPES : CDT_RETURN_TYPES.filter((t) => t !== 'key' && t !== 'keyValue' && t !== 'unorderedMap' && t !== 'orderedMap');
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

export const LIST_PLANS: Partial<Record<ListOpKind, Plan>> = {
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

export const MAP_PLANS: Partial<Record<MapOpKind, Plan>> = {
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
export const LEGACY_LIST: ReadonlySet<ListOpKind> = new Set<ListOpKind>(['getByValue', 'removeByValue']);
export const LEGACY_MAP: ReadonlySet<MapOpKind> = new Set<MapOpKind>(['getByKey', 'getByKeys', 'removeByKey', 'removeByKeys', 'getByValue', 'removeByValue']);

export function takesSelectorFlags(op: ListOp | MapOp, plan: Plan | undefined): void {
  if (plan === undefined && (op.returnType !== undefined || op.inverted === true)) {
    throw new DbError('PARAMETER', `${op.op} ${op.kind} on bin '${op.bin}' takes no return type or inverted flag`, {
      hint: 'return types and inverted apply to the get…By…/remove…By… operations',
    });
  }
}

function runSelector(plan: Plan, op: ListOp | MapOp, els: Elements, exists: boolean, forMap: boolean): { picked: readonly number[] | undefined; result: BinValue | undefined; rt: CdtReturnType } {
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
    return { picked: undefined, result: rt === 'none' ? undefined : null, rt };
  }
  const ranked = new Ranked(els.values);
  let sel = select(plan.selector, els, ranked, args);
  if (inverted) sel = invert(sel, els.values.length);
  return { picked: sel.picked, result: result(sel, rt, els, ranked), rt };
}

export function listSelector(plan: Plan, op: ListOp, list: readonly BinValue[], exists: boolean): CdtResult {
  const { picked, result: r } = runSelector(plan, op, { values: list, keys: undefined }, exists, false);
  if (!plan.remove || picked === undefined || picked.length === 0) return { next: undefined, result: r };
  const gone = new Set(picked);
  return { next: list.filter((_, i) => !gone.has(i)), result: r };
}

export function mapSelector(plan: Plan, op: MapOp, map: ReadonlyMap<MapKey, BinValue>, exists: boolean): CdtResult {
  const keys = [...map.keys()].sort(cdtCompare);
  const values = keys.map((k) => map.get(k) as BinValue);
  const { picked, result: found, rt } = runSelector(plan, op, { values, keys }, exists, true);
  // a map of entries has the source map's order (keyValue) or the one the return type names
  const r = found instanceof Map
    ? withMapOrder(found, rt === 'orderedMap' ? 'keyOrdered' : rt === 'unorderedMap' ? 'unordered' : mapOrder(map))
    : found;
  if (!plan.remove || picked === undefined || picked.length === 0) return { next: undefined, result: r };
  const next = new Map(map);
  for (const i of picked) next.delete(keys[i] as MapKey);
  return { next, result: r };
}
