/**
 * Property tests: by-rank, by-index and by-value-range selections of lists and maps agree with
 * a simple model (a stable sort by Aerospike's type order and a filter), written independently
 * of core/transaction/cdt/.
 */
import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { applyListOp } from '../../core/transaction/cdt/list.ts';
import { applyMapOp } from '../../core/transaction/cdt/map.ts';
import type { BinValue, MapKey } from '../../core/model/index.ts';

// ---- the model ---------------------------------------------------------------------------

type Scalar = null | boolean | bigint | number | string;

function typeRank(v: Scalar): number {
  if (v === null) return 0;
  switch (typeof v) {
    case 'boolean': return 1;
    case 'bigint': return 2;
    case 'string': return 3;
    default: return 7; // doubles sort after strings, lists, maps and bytes
  }
}

function modelCompare(a: Scalar, b: Scalar): number {
  const t = typeRank(a) - typeRank(b);
  if (t !== 0) return t;
  if (typeof a === 'string' && typeof b === 'string') return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
  if (a === b || a === null) return 0;
  return (a as number | bigint | boolean) < (b as number | bigint | boolean) ? -1 : 1;
}

/** rank of each position: its place in a stable sort by value. */
function modelRanks(values: readonly Scalar[]): number[] {
  const order = values.map((v, i) => ({ v, i }));
  // insertion sort: a different algorithm from the implementation's, stable by construction
  for (let j = 1; j < order.length; j++) {
    const x = order[j]!;
    let k = j - 1;
    while (k >= 0 && modelCompare(order[k]!.v, x.v) > 0) { order[k + 1] = order[k]!; k--; }
    order[k + 1] = x;
  }
  const ranks = new Array<number>(values.length);
  order.forEach((e, r) => { ranks[e.i] = r; });
  return ranks;
}

/** Aerospike's window for a (possibly negative) start and optional count over n elements. */
function inWindow(p: number, start: number, count: number | undefined, n: number): boolean {
  const s = start < 0 ? n + start : start;
  return p >= s && (count === undefined || p < s + count);
}

function inRange(v: Scalar, lo: Scalar | undefined, hi: Scalar | undefined): boolean {
  return (lo === undefined || lo === null || modelCompare(v, lo) >= 0) && (hi === undefined || hi === null || modelCompare(v, hi) < 0);
}

// ---- generators -----------------------------------------------------------------------------

const scalar: fc.Arbitrary<Scalar> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.bigInt({ min: -5n, max: 5n }),
  fc.constantFrom(-1.5, 0.0, 2.25, 4.0),
  fc.constantFrom('', 'a', 'ab', 'b', 'é', '\u{1F600}', '\uffff'),
);
const list = fc.array(scalar, { maxLength: 12 });
const position = fc.integer({ min: -14, max: 14 });
const count = fc.option(fc.integer({ min: 0, max: 14 }), { nil: undefined });
const bound = fc.option(scalar, { nil: undefined });
const mapKey: fc.Arbitrary<MapKey> = fc.oneof(fc.bigInt({ min: -6n, max: 6n }), fc.constantFrom('a', 'b', 'c', 'zz', 'é'), fc.constantFrom(0.5, -2.5, 3.0));
const map = fc.uniqueArray(fc.tuple(mapKey, scalar), { maxLength: 10, selector: ([k]) => (typeof k === 'number' ? `d${k}` : typeof k === 'bigint' ? `i${k}` : `s${k}`) });

const withCount = (c: number | undefined): { count?: number } => (c === undefined ? {} : { count: c });
const withBounds = (lo: Scalar | undefined, hi: Scalar | undefined): { value?: BinValue; valueEnd?: BinValue } =>
  ({ ...(lo === undefined ? {} : { value: lo }), ...(hi === undefined ? {} : { valueEnd: hi }) });

// ---- properties -----------------------------------------------------------------------------

describe('transaction/cdt: selections agree with a sort-and-filter model', () => {
  it('list getByRankRange: values in rank order, indexes ascending, count; inverted the rest in index order', () => {
    fc.assert(fc.property(list, position, count, (values, rank, c) => {
      const ranks = modelRanks(values);
      const n = values.length;
      const chosen = values.map((_, i) => i).filter((i) => inWindow(ranks[i]!, rank, c, n));
      const byRank = [...chosen].sort((x, y) => ranks[x]! - ranks[y]!);
      const op = { op: 'list', bin: 'l', kind: 'getByRankRange', rank, ...withCount(c) } as const;
      assert.deepEqual(applyListOp(values, op).result, byRank.map((i) => values[i]));
      assert.deepEqual(applyListOp(values, { ...op, returnType: 'index' }).result, chosen.map(BigInt));
      assert.deepEqual(applyListOp(values, { ...op, returnType: 'rank' }).result, byRank.map((i) => BigInt(ranks[i]!)));
      assert.equal(applyListOp(values, { ...op, returnType: 'count' }).result, BigInt(chosen.length));
      const rest = values.filter((_, i) => !chosen.includes(i));
      assert.deepEqual(applyListOp(values, { ...op, inverted: true }).result, rest);
      const removed = applyListOp(values, { ...op, kind: 'removeByRankRange' });
      assert.deepEqual(removed.next ?? values, rest);
    }));
  });

  it('list getByRank agrees with the model and with sort()', () => {
    fc.assert(fc.property(list.filter((v) => v.length > 0), fc.nat(), (values, r) => {
      const rank = r % values.length;
      const sorted = applyListOp(values, { op: 'list', bin: 'l', kind: 'sort' }).next as BinValue[];
      const ranks = modelRanks(values);
      const at = ranks.indexOf(rank);
      assert.deepEqual(applyListOp(values, { op: 'list', bin: 'l', kind: 'getByRank', rank }).result, values[at]);
      assert.deepEqual(sorted[rank], values[at]);
      assert.equal(applyListOp(values, { op: 'list', bin: 'l', kind: 'getByRank', rank: rank - values.length, returnType: 'index' }).result, BigInt(at));
    }));
  });

  it('list getByValueRange [lo, hi): a filter in index order; removeByValueRange keeps the rest', () => {
    fc.assert(fc.property(list, bound, bound, (values, lo, hi) => {
      const op = { op: 'list', bin: 'l', kind: 'getByValueRange', ...withBounds(lo, hi) } as const;
      const chosen = values.map((_, i) => i).filter((i) => inRange(values[i]!, lo, hi));
      assert.deepEqual(applyListOp(values, op).result, chosen.map((i) => values[i]));
      assert.deepEqual(applyListOp(values, { ...op, returnType: 'index' }).result, chosen.map(BigInt));
      assert.deepEqual(applyListOp(values, { ...op, returnType: 'reverseIndex' }).result, chosen.map((i) => BigInt(values.length - 1 - i)));
      const ranks = modelRanks(values);
      assert.deepEqual(applyListOp(values, { ...op, returnType: 'rank' }).result, chosen.map((i) => BigInt(ranks[i]!)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
      assert.equal(applyListOp(values, { ...op, returnType: 'exists' }).result, chosen.length > 0);
      const rest = values.filter((_, i) => !chosen.includes(i));
      assert.deepEqual(applyListOp(values, { ...op, inverted: true }).result, rest);
      const removed = applyListOp(values, { ...op, kind: 'removeByValueRange', returnType: 'value' });
      assert.deepEqual(removed.result, chosen.map((i) => values[i]));
      assert.deepEqual(removed.next ?? values, rest);
    }));
  });

  it('list getByIndexRange: the window [index, index + count) clipped to the list', () => {
    fc.assert(fc.property(list, position, count, (values, index, c) => {
      const chosen = values.map((_, i) => i).filter((i) => inWindow(i, index, c, values.length));
      const op = { op: 'list', bin: 'l', kind: 'getByIndexRange', index, ...withCount(c) } as const;
      assert.deepEqual(applyListOp(values, op).result, chosen.map((i) => values[i]));
      assert.deepEqual(applyListOp(values, { ...op, kind: 'removeByIndexRange' }).next ?? values, values.filter((_, i) => !chosen.includes(i)));
    }));
  });

  it('map by rank range, by index range (key order) and by value range agree with the model', () => {
    fc.assert(fc.property(map, position, count, bound, bound, (pairs, start, c, lo, hi) => {
      const m = new Map<MapKey, BinValue>(pairs);
      const keysSorted = pairs.map(([k]) => k).sort((a, b) => modelCompare(a, b));
      const valuesByKey = keysSorted.map((k) => m.get(k) as Scalar);
      const n = keysSorted.length;
      const ranks = modelRanks(valuesByKey);
      const rankChosen = keysSorted.map((_, i) => i).filter((i) => inWindow(ranks[i]!, start, c, n)).sort((x, y) => ranks[x]! - ranks[y]!);
      const base = { op: 'map', bin: 'm' } as const;
      assert.deepEqual(applyMapOp(m, { ...base, kind: 'getByRankRange', rank: start, ...withCount(c), returnType: 'key' }).result, rankChosen.map((i) => keysSorted[i]));
      const indexChosen = keysSorted.map((_, i) => i).filter((i) => inWindow(i, start, c, n));
      assert.deepEqual(applyMapOp(m, { ...base, kind: 'getByIndexRange', index: start, ...withCount(c), returnType: 'value' }).result, indexChosen.map((i) => valuesByKey[i]));
      const valueChosen = keysSorted.filter((k) => inRange(m.get(k) as Scalar, lo, hi));
      assert.deepEqual(applyMapOp(m, { ...base, kind: 'getByValueRange', ...withBounds(lo, hi), returnType: 'key' }).result, valueChosen);
      const removed = applyMapOp(m, { ...base, kind: 'removeByValueRange', ...withBounds(lo, hi) });
      assert.equal(removed.result, BigInt(valueChosen.length));
      assert.deepEqual([...((removed.next ?? m) as ReadonlyMap<MapKey, BinValue>).keys()].sort((a, b) => modelCompare(a, b)), keysSorted.filter((k) => !valueChosen.includes(k)));
    }));
  });
});
