/**
 * List and map selectors (by index, rank, value, key, ranges, lists, relative ranks) with return
 * types and the inverted flag, checked against the examples of Aerospike's documentation.
 */
import { strict as assert } from 'node:assert';
import { applyListOp } from '../../core/transaction/cdt/list.ts';
import { applyMapOp } from '../../core/transaction/cdt/map.ts';
import { cdtCompare } from '../../core/model/value-order.ts';
import { isWriteOperation, type Operation, type CdtReturnType } from '../../core/transaction/operations.ts';
import { DbError, type ResultCodeName } from '../../core/errors/index.ts';
import { GeoJson, withListOrder, type BinValue, type MapKey } from '../../core/model/index.ts';

type ListOp = Extract<Operation, { op: 'list' }>;
type MapOp = Extract<Operation, { op: 'map' }>;
type ListArgs = Omit<ListOp, 'op' | 'bin'>;
type MapArgs = Omit<MapOp, 'op' | 'bin'>;

const l = (current: BinValue | undefined, args: ListArgs) => applyListOp(current, { op: 'list', bin: 'l', ...args });
const m = (current: BinValue | undefined, args: MapArgs) => applyMapOp(current, { op: 'map', bin: 'm', ...args });
const lr = (current: BinValue | undefined, args: ListArgs): BinValue | undefined => l(current, args).result;
const mr = (current: BinValue | undefined, args: MapArgs): BinValue | undefined => m(current, args).result;

function fails(fn: () => unknown, code: ResultCodeName, message?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof DbError, `expected a DbError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (message !== undefined) assert.match(err.message, message);
    return true;
  });
}

const entries = (x: BinValue | undefined): Array<[MapKey, BinValue]> => {
  assert.ok(x instanceof Map, `expected a map, got ${String(x)}`);
  return [...(x as ReadonlyMap<MapKey, BinValue>)];
};

describe('transaction/cdt: Aerospike value order', () => {
  it('orders types nil < bool < int < string < list < map < bytes < double < geojson', () => {
    const sorted: BinValue[] = [
      null, false, true, -5n, 3n, '', 'a', 'b', [1n], [1n, 2n], new Map([['a', 1n]]), new Uint8Array([0]), -1.5, 2.5, new GeoJson('{"type":"Point","coordinates":[0,0]}'),
    ];
    const shuffled = [...sorted].reverse();
    assert.deepEqual([...shuffled].sort(cdtCompare), sorted);
  });

  it('never compares integers with doubles by value: every integer is below every double', () => {
    assert.ok(cdtCompare(100n, 1.5) < 0);
    assert.ok(cdtCompare(1.5, -100n) > 0);
    assert.deepEqual(l([2.5, 10n, 1.0, -3n], { kind: 'sort' }).next, [-3n, 10n, 1.0, 2.5]);
  });

  it('sorts with Aerospike\'s ListSortFlags: descending, drop duplicates; an ordered list stays ascending', () => {
    const list = [3n, 1n, 'b', 2n, 1n, 'b', 3n];
    assert.deepEqual(l(list, { kind: 'sort' }).next, [1n, 1n, 2n, 3n, 3n, 'b', 'b']);
    assert.deepEqual(l(list, { kind: 'sort', sortFlags: { dropDuplicates: true } }).next, [1n, 2n, 3n, 'b']);
    assert.deepEqual(l(list, { kind: 'sort', sortFlags: { descending: true } }).next, ['b', 'b', 3n, 3n, 2n, 1n, 1n]);
    assert.deepEqual(l(list, { kind: 'sort', sortFlags: { descending: true, dropDuplicates: true } }).next, ['b', 3n, 2n, 1n]);
    const ordered = withListOrder([3n, 1n, 1n, 2n], 'ordered');
    assert.deepEqual(l(ordered, { kind: 'sort', sortFlags: { descending: true, dropDuplicates: true } }).next, [1n, 2n, 3n]);
    assert.throws(() => l(list, { kind: 'append', value: 1n, sortFlags: { descending: true } }), (e: unknown) => e instanceof DbError && e.code === 'PARAMETER' && /takes no sort flags/.test(e.message));
  });

  it('compares strings by UTF-8 bytes and lists element by element, then by length', () => {
    assert.ok(cdtCompare('aa', 'b') < 0);
    assert.ok(cdtCompare('\uffff', '\u{10000}') < 0, 'a code point above the BMP sorts after U+FFFF, as in UTF-8');
    assert.ok(cdtCompare([1n, 2n], [1n, 3n]) < 0);
    assert.ok(cdtCompare([1n, 2n], [1n, 2n, 1n]) < 0);
  });

  it('compares maps by entry count, then keys in order, then values', () => {
    assert.ok(cdtCompare(new Map([['z', 1n]]), new Map([['a', 1n], ['b', 1n]])) < 0);
    assert.ok(cdtCompare(new Map([['a', 9n]]), new Map([['b', 1n]])) < 0);
    assert.ok(cdtCompare(new Map([['a', 1n]]), new Map([['a', 2n]])) < 0);
    assert.equal(cdtCompare(new Map([['a', 1n], ['b', 2n]]), new Map([['b', 2n], ['a', 1n]])), 0);
  });
});

describe('transaction/cdt: list selectors', () => {
  const L: BinValue[] = [7n, 2n, 9n, 2n, 5n];

  it('gets by index with every return type, negative indexes counting from the end', () => {
    assert.equal(lr(L, { kind: 'getByIndex', index: 2 }), 9n);
    assert.equal(lr(L, { kind: 'getByIndex', index: -1 }), 5n);
    assert.equal(lr(L, { kind: 'getByIndex', index: 0, returnType: 'index' }), 0n);
    assert.equal(lr(L, { kind: 'getByIndex', index: 0, returnType: 'reverseIndex' }), 4n);
    assert.equal(lr(L, { kind: 'getByIndex', index: 0, returnType: 'rank' }), 3n, '7 is the fourth smallest');
    assert.equal(lr(L, { kind: 'getByIndex', index: 0, returnType: 'reverseRank' }), 1n);
    assert.equal(lr(L, { kind: 'getByIndex', index: 0, returnType: 'count' }), 1n);
    assert.equal(lr(L, { kind: 'getByIndex', index: 0, returnType: 'exists' }), true);
    assert.equal(lr(L, { kind: 'getByIndex', index: 0, returnType: 'none' }), undefined);
  });

  it('fails a single index or rank out of range with OP_NOT_APPLICABLE (26) and a hint', () => {
    fails(() => l(L, { kind: 'getByIndex', index: 5 }), 'OP_NOT_APPLICABLE', /index 5 is out of bounds for 5 elements/);
    fails(() => l(L, { kind: 'getByIndex', index: -6 }), 'OP_NOT_APPLICABLE');
    fails(() => l(L, { kind: 'removeByRank', rank: 5 }), 'OP_NOT_APPLICABLE', /rank 5/);
    fails(() => l([], { kind: 'getByRank', rank: 0 }), 'OP_NOT_APPLICABLE');
  });

  it('gets index ranges clipped to the list, as Aerospike (no error out of range)', () => {
    assert.deepEqual(lr(L, { kind: 'getByIndexRange', index: 1, count: 2 }), [2n, 9n]);
    assert.deepEqual(lr(L, { kind: 'getByIndexRange', index: 3 }), [2n, 5n]);
    assert.deepEqual(lr(L, { kind: 'getByIndexRange', index: -2 }), [2n, 5n]);
    assert.deepEqual(lr(L, { kind: 'getByIndexRange', index: 10, count: 2 }), []);
    assert.deepEqual(lr(L, { kind: 'getByIndexRange', index: -7, count: 3 }), [7n], 'the window [-7, -4) overlaps index 0 only');
    assert.deepEqual(lr(L, { kind: 'getByIndexRange', index: -7, count: 2 }), []);
    assert.deepEqual(lr(L, { kind: 'getByIndexRange', index: 1, count: 0 }), []);
    assert.deepEqual(lr(L, { kind: 'getByIndexRange', index: 1, count: 2, returnType: 'rank' }), [0n, 4n], 'ranks in index order');
    assert.deepEqual(lr(L, { kind: 'getByIndexRange', index: 1, count: 2, returnType: 'reverseIndex' }), [3n, 2n]);
    assert.deepEqual(lr(L, { kind: 'getByIndexRange', index: 1, count: 2, inverted: true }), [7n, 2n, 5n]);
    assert.deepEqual(lr(L, { kind: 'getByIndexRange', index: 1, count: 2, inverted: true, returnType: 'index' }), [0n, 3n, 4n]);
    assert.equal(lr(L, { kind: 'getByIndexRange', index: 1, count: 2, inverted: true, returnType: 'count' }), 3n);
  });

  it('gets by rank; equal values rank in index order', () => {
    assert.equal(lr(L, { kind: 'getByRank', rank: 0 }), 2n);
    assert.equal(lr(L, { kind: 'getByRank', rank: -1 }), 9n);
    assert.equal(lr(L, { kind: 'getByRank', rank: 0, returnType: 'index' }), 1n);
    assert.equal(lr(L, { kind: 'getByRank', rank: 1, returnType: 'index' }), 3n);
    assert.equal(lr(L, { kind: 'getByRank', rank: -1, returnType: 'reverseRank' }), 0n);
  });

  it('gets rank ranges: values in rank order, indexes ascending, ranks ascending', () => {
    assert.deepEqual(lr(L, { kind: 'getByRankRange', rank: 0, count: 3 }), [2n, 2n, 5n]);
    assert.deepEqual(lr(L, { kind: 'getByRankRange', rank: -2 }), [7n, 9n]);
    assert.deepEqual(lr(L, { kind: 'getByRankRange', rank: -2, returnType: 'index' }), [0n, 2n]);
    assert.deepEqual(lr(L, { kind: 'getByRankRange', rank: 1, count: 2, returnType: 'rank' }), [1n, 2n]);
    assert.deepEqual(lr(L, { kind: 'getByRankRange', rank: 1, count: 2, returnType: 'reverseRank' }), [3n, 2n]);
    assert.deepEqual(lr(L, { kind: 'getByRankRange', rank: 0, count: 2, inverted: true }), [7n, 9n, 5n], 'inverted: the rest, in index order');
    assert.deepEqual(lr(L, { kind: 'getByRankRange', rank: 0, count: 2, inverted: true, returnType: 'rank' }), [2n, 3n, 4n]);
    assert.deepEqual(lr(L, { kind: 'getByRankRange', rank: 9, count: 2 }), []);
  });

  it('gets value ranges [begin, end) with nil for an open bound', () => {
    assert.deepEqual(lr(L, { kind: 'getByValueRange', value: 2n, valueEnd: 7n }), [2n, 2n, 5n]);
    assert.deepEqual(lr(L, { kind: 'getByValueRange', value: 5n }), [7n, 9n, 5n]);
    assert.deepEqual(lr(L, { kind: 'getByValueRange', value: null, valueEnd: 5n }), [2n, 2n]);
    assert.deepEqual(lr(L, { kind: 'getByValueRange', valueEnd: 5n, returnType: 'index' }), [1n, 3n]);
    assert.deepEqual(lr(L, { kind: 'getByValueRange', value: 5n, valueEnd: 8n, returnType: 'rank' }), [2n, 3n]);
    assert.deepEqual(lr(L, { kind: 'getByValueRange', value: 5n, valueEnd: 8n, inverted: true }), [2n, 9n, 2n]);
    assert.deepEqual(lr(L, { kind: 'getByValueRange', value: 8n, valueEnd: 3n }), [], 'begin above end selects nothing');
    assert.deepEqual(lr([1n, 'a', 2.5, null, true], { kind: 'getByValueRange', value: true, valueEnd: 'z' }), [1n, 'a', true], 'bool ≤ x < string spans integers');
    assert.deepEqual(lr([1n, 'a', 2.5, null, true], { kind: 'getByValueRange', value: 0.0 }), [2.5], 'doubles sort after strings');
  });

  it('gets by value and by value list, with return types', () => {
    assert.deepEqual(lr(L, { kind: 'getByValue', value: 2n }), [2n, 2n], 'no return type: the original result');
    assert.deepEqual(lr(L, { kind: 'getByValue', value: 2n, returnType: 'index' }), [1n, 3n]);
    assert.equal(lr(L, { kind: 'getByValue', value: 3n, returnType: 'exists' }), false);
    assert.deepEqual(lr(L, { kind: 'getByValue', value: 2n, inverted: true }), [7n, 9n, 5n]);
    assert.deepEqual(lr(L, { kind: 'getByValueList', values: [9n, 2n, 42n] }), [2n, 9n, 2n]);
    assert.deepEqual(lr(L, { kind: 'getByValueList', values: [9n, 2n], returnType: 'index' }), [1n, 2n, 3n]);
    assert.deepEqual(lr(L, { kind: 'getByValueList', values: [9n, 2n], inverted: true }), [7n, 5n]);
    assert.equal(lr(L, { kind: 'getByValueList', values: [9n, 2n], returnType: 'count' }), 3n);
  });

  it('gets by value-relative rank ranges (Aerospike\'s examples on [0,4,5,9,11,15])', () => {
    const O: BinValue[] = [0n, 4n, 5n, 9n, 11n, 15n];
    const sel = (value: bigint, rank: number, count?: number): BinValue | undefined =>
      lr(O, { kind: 'getByValueRelRankRange', value, rank, ...(count === undefined ? {} : { count }) });
    assert.deepEqual(sel(5n, 0), [5n, 9n, 11n, 15n]);
    assert.deepEqual(sel(5n, 1), [9n, 11n, 15n]);
    assert.deepEqual(sel(5n, -1), [4n, 5n, 9n, 11n, 15n]);
    assert.deepEqual(sel(3n, 0), [4n, 5n, 9n, 11n, 15n]);
    assert.deepEqual(sel(3n, 3), [11n, 15n]);
    assert.deepEqual(sel(3n, -3), [0n, 4n, 5n, 9n, 11n, 15n]);
    assert.deepEqual(sel(5n, 0, 2), [5n, 9n]);
    assert.deepEqual(sel(5n, 1, 1), [9n]);
    assert.deepEqual(sel(5n, -1, 2), [4n, 5n]);
    assert.deepEqual(sel(3n, 0, 1), [4n]);
    assert.deepEqual(sel(3n, 3, 7), [11n, 15n]);
    assert.deepEqual(sel(3n, -3, 2), []);
  });

  it('removes by index, rank, value range, value list and relative rank; the default result is the count', () => {
    let r = l(L, { kind: 'removeByIndex', index: -1 });
    assert.deepEqual([r.next, r.result], [[7n, 2n, 9n, 2n], 1n]);
    r = l(L, { kind: 'removeByIndexRange', index: 1, count: 3, returnType: 'value' });
    assert.deepEqual([r.next, r.result], [[7n, 5n], [2n, 9n, 2n]]);
    r = l(L, { kind: 'removeByRank', rank: -1, returnType: 'index' });
    assert.deepEqual([r.next, r.result], [[7n, 2n, 2n, 5n], 2n]);
    r = l(L, { kind: 'removeByRankRange', rank: 0, count: 2, inverted: true, returnType: 'value' });
    assert.deepEqual([r.next, r.result], [[2n, 2n], [7n, 9n, 5n]], 'inverted remove keeps the two smallest');
    r = l(L, { kind: 'removeByValueRange', value: 5n, valueEnd: 9n });
    assert.deepEqual([r.next, r.result], [[2n, 9n, 2n], 2n]);
    r = l(L, { kind: 'removeByValueList', values: [2n], returnType: 'reverseIndex' });
    assert.deepEqual([r.next, r.result], [[7n, 9n, 5n], [3n, 1n]]);
    r = l(L, { kind: 'removeByValueRelRankRange', value: 6n, rank: 0, returnType: 'none' });
    assert.deepEqual([r.next, r.result], [[2n, 2n, 5n], undefined]);
    r = l(L, { kind: 'removeByValue', value: 2n, returnType: 'index' });
    assert.deepEqual([r.next, r.result], [[7n, 9n, 5n], [1n, 3n]]);
  });

  it('changes nothing when a remove selects nothing, and answers nil on a missing bin', () => {
    assert.deepEqual(l(L, { kind: 'removeByValueRange', value: 100n }), { next: undefined, result: 0n });
    assert.deepEqual(l(undefined, { kind: 'removeByRankRange', rank: 0 }), { next: undefined, result: null });
    assert.deepEqual(l(undefined, { kind: 'getByIndex', index: 3 }), { next: undefined, result: null });
    assert.deepEqual(l(undefined, { kind: 'getByRank', rank: 0, returnType: 'none' }), { next: undefined, result: undefined });
  });

  it('keeps the original results of the older operations', () => {
    assert.deepEqual(l(L, { kind: 'removeByValue', value: 2n }), { next: [7n, 9n, 5n], result: 2n });
    assert.equal(lr(L, { kind: 'get', index: -1 }), 5n);
    assert.deepEqual(lr(L, { kind: 'getRange', index: 1, count: 2 }), [2n, 9n]);
    fails(() => l(L, { kind: 'getRange', index: 10 }), 'OP_NOT_APPLICABLE');
  });

  it('refuses bad input with the right result code and a message saying what to fix', () => {
    fails(() => l('text', { kind: 'getByRank', rank: 0 }), 'BIN_TYPE', /not a list/);
    fails(() => l(L, { kind: 'getByRank' }), 'PARAMETER', /needs a rank/);
    fails(() => l(L, { kind: 'getByIndexRange' }), 'PARAMETER', /needs an index/);
    fails(() => l(L, { kind: 'getByRankRange', rank: 1.5 }), 'PARAMETER', /must be an integer/);
    fails(() => l(L, { kind: 'getByRankRange', rank: 0, count: -1 }), 'PARAMETER', /count must be a non-negative integer/);
    fails(() => l(L, { kind: 'getByRank', rank: 0, returnType: 'key' }), 'PARAMETER', /"key" is not a list return type/);
    fails(() => l(L, { kind: 'getByRank', rank: 0, returnType: 'bogus' as CdtReturnType }), 'PARAMETER', /not a list return type/);
    fails(() => l(L, { kind: 'getByRank', rank: 0, inverted: true }), 'OP_NOT_APPLICABLE', /inverted/);
    fails(() => l(L, { kind: 'append', value: 1n, returnType: 'count' }), 'PARAMETER', /takes no return type/);
    fails(() => l(L, { kind: 'getByValueRelRankRange', rank: 0 }), 'PARAMETER', /needs a value/);
    fails(() => l(undefined, { kind: 'getByRankRange' }), 'PARAMETER', /needs a rank/);
  });

  it('classifies gets as reads and removes as writes', () => {
    assert.equal(isWriteOperation({ op: 'list', bin: 'l', kind: 'getByRankRange', rank: 0 }), false);
    assert.equal(isWriteOperation({ op: 'list', bin: 'l', kind: 'getByValueRelRankRange', value: 1n, rank: 0 }), false);
    assert.equal(isWriteOperation({ op: 'list', bin: 'l', kind: 'removeByRankRange', rank: 0 }), true);
    assert.equal(isWriteOperation({ op: 'map', bin: 'm', kind: 'getByKeyRange' }), false);
    assert.equal(isWriteOperation({ op: 'map', bin: 'm', kind: 'removeByKeyList', keys: [] }), true);
  });
});

describe('transaction/cdt: map selectors', () => {
  // inserted out of key order on purpose: by-index operations use key order
  const M = new Map<MapKey, BinValue>([['d', 4n], ['a', 17n], ['c', 2n], ['b', 10n]]);

  it('gets by index in key order, with key, value, key-value and index return types', () => {
    assert.deepEqual(entries(mr(M, { kind: 'getByIndex', index: 0 })), [['a', 17n]]);
    assert.equal(mr(M, { kind: 'getByIndex', index: -1, returnType: 'key' }), 'd');
    assert.equal(mr(M, { kind: 'getByIndex', index: 1, returnType: 'value' }), 10n);
    assert.equal(mr(M, { kind: 'getByIndex', index: 1, returnType: 'rank' }), 2n, '10 ranks third among 2, 4, 10, 17');
    assert.deepEqual(entries(mr(M, { kind: 'getByIndexRange', index: 1, count: 2 })), [['b', 10n], ['c', 2n]]);
    assert.deepEqual(mr(M, { kind: 'getByIndexRange', index: -2, returnType: 'key' }), ['c', 'd']);
    assert.deepEqual(mr(M, { kind: 'getByIndexRange', index: 1, count: 2, inverted: true, returnType: 'key' }), ['a', 'd']);
    assert.deepEqual(mr(M, { kind: 'getByIndexRange', index: 0, count: 2, returnType: 'reverseIndex' }), [3n, 2n]);
    fails(() => m(M, { kind: 'getByIndex', index: 4 }), 'OP_NOT_APPLICABLE', /out of bounds/);
  });

  it('gets by rank (value order), entries in rank order', () => {
    assert.deepEqual(entries(mr(M, { kind: 'getByRank', rank: 0 })), [['c', 2n]]);
    assert.equal(mr(M, { kind: 'getByRank', rank: -1, returnType: 'key' }), 'a');
    assert.deepEqual(entries(mr(M, { kind: 'getByRankRange', rank: 0, count: 3 })), [['c', 2n], ['d', 4n], ['b', 10n]]);
    assert.deepEqual(mr(M, { kind: 'getByRankRange', rank: -2, returnType: 'value' }), [10n, 17n]);
    assert.deepEqual(mr(M, { kind: 'getByRankRange', rank: -2, returnType: 'index' }), [0n, 1n], 'indexes (key order) ascending');
    assert.deepEqual(mr(M, { kind: 'getByRankRange', rank: 0, count: 1, inverted: true, returnType: 'key' }), ['a', 'b', 'd']);
  });

  it('gets key ranges and value ranges with open bounds', () => {
    assert.deepEqual(entries(mr(M, { kind: 'getByKeyRange', key: 'b', keyEnd: 'd' })), [['b', 10n], ['c', 2n]]);
    assert.deepEqual(mr(M, { kind: 'getByKeyRange', key: 'b', returnType: 'key' }), ['b', 'c', 'd']);
    assert.deepEqual(mr(M, { kind: 'getByKeyRange', keyEnd: 'b', returnType: 'value' }), [17n]);
    assert.equal(mr(M, { kind: 'getByKeyRange', key: 'b', keyEnd: 'd', inverted: true, returnType: 'count' }), 2n);
    assert.deepEqual(entries(mr(M, { kind: 'getByValueRange', value: 4n, valueEnd: 17n })), [['b', 10n], ['d', 4n]], 'key order');
    assert.deepEqual(mr(M, { kind: 'getByValueRange', value: 10n, returnType: 'key' }), ['a', 'b']);
    assert.deepEqual(mr(M, { kind: 'getByValueRange', valueEnd: 10n, returnType: 'rank' }), [0n, 1n]);
    assert.deepEqual(mr(M, { kind: 'getByValueRange', value: null, valueEnd: null, returnType: 'count' }), 4n);
  });

  it('orders integer keys before string keys before double keys', () => {
    const mixed = new Map<MapKey, BinValue>([[1.5, 'd'], ['x', 's'], [7n, 'i'], [-2n, 'j']]);
    assert.deepEqual(mr(mixed, { kind: 'getByIndexRange', index: 0, returnType: 'key' }), [-2n, 7n, 'x', 1.5]);
    assert.deepEqual(mr(mixed, { kind: 'getByKeyRange', key: 0n, keyEnd: 'zz', returnType: 'key' }), [7n, 'x']);
  });

  it('gets by key list and value list', () => {
    assert.deepEqual(mr(M, { kind: 'getByKeyList', keys: ['d', 'a', 'zz'] }), [17n, 4n], 'values in key order');
    assert.deepEqual(mr(M, { kind: 'getByKeyList', keys: ['d', 'a'], returnType: 'keyValue', inverted: true }), new Map([['b', 10n], ['c', 2n]]));
    assert.deepEqual(mr(M, { kind: 'getByValueList', values: [2n, 17n], returnType: 'key' }), ['a', 'c']);
    assert.deepEqual(mr(M, { kind: 'getByKeys', keys: ['d', 'a'] }), new Map([['d', 4n], ['a', 17n]]), 'the original getByKeys result');
    assert.deepEqual(mr(M, { kind: 'getByKeys', keys: ['d', 'a'], returnType: 'index' }), [0n, 3n]);
  });

  it('gets by key-relative index and value-relative rank ranges (Aerospike\'s examples)', () => {
    const K = new Map<MapKey, BinValue>([[0n, 17n], [4n, 2n], [5n, 15n], [9n, 10n]]);
    const byKey = (key: bigint, index: number, count?: number) =>
      entries(mr(K, { kind: 'getByKeyRelIndexRange', key, index, ...(count === undefined ? {} : { count }) }));
    assert.deepEqual(byKey(5n, 0), [[5n, 15n], [9n, 10n]]);
    assert.deepEqual(byKey(5n, 1), [[9n, 10n]]);
    assert.deepEqual(byKey(5n, -1), [[4n, 2n], [5n, 15n], [9n, 10n]]);
    assert.deepEqual(byKey(3n, 2), [[9n, 10n]]);
    assert.deepEqual(byKey(3n, -2), [[0n, 17n], [4n, 2n], [5n, 15n], [9n, 10n]]);
    assert.deepEqual(byKey(5n, 0, 1), [[5n, 15n]]);
    assert.deepEqual(byKey(5n, 1, 2), [[9n, 10n]]);
    assert.deepEqual(byKey(5n, -1, 1), [[4n, 2n]]);
    assert.deepEqual(byKey(3n, 2, 1), [[9n, 10n]]);
    assert.deepEqual(byKey(3n, -2, 2), [[0n, 17n]]);
    const byValue = (value: bigint, rank: number, count?: number) =>
      entries(mr(K, { kind: 'getByValueRelRankRange', value, rank, ...(count === undefined ? {} : { count }) }));
    assert.deepEqual(byValue(11n, 1), [[0n, 17n]]);
    assert.deepEqual(byValue(11n, -1), [[9n, 10n], [5n, 15n], [0n, 17n]]);
    assert.deepEqual(byValue(11n, 1, 1), [[0n, 17n]]);
    assert.deepEqual(byValue(11n, -1, 1), [[9n, 10n]]);
  });

  it('removes by index, rank, key range, value range, lists and relative ranges', () => {
    const keysOf = (x: BinValue | null | undefined): MapKey[] => [...(x as ReadonlyMap<MapKey, BinValue>).keys()].sort(cdtCompare);
    let r = m(M, { kind: 'removeByIndex', index: 0, returnType: 'keyValue' });
    assert.deepEqual([keysOf(r.next), entries(r.result)], [['b', 'c', 'd'], [['a', 17n]]]);
    r = m(M, { kind: 'removeByIndexRange', index: 1 });
    assert.deepEqual([keysOf(r.next), r.result], [['a'], 3n]);
    r = m(M, { kind: 'removeByRank', rank: 0, returnType: 'key' });
    assert.deepEqual([keysOf(r.next), r.result], [['a', 'b', 'd'], 'c']);
    r = m(M, { kind: 'removeByRankRange', rank: 0, count: 2, inverted: true, returnType: 'value' });
    assert.deepEqual([keysOf(r.next), r.result], [['c', 'd'], [17n, 10n]]);
    r = m(M, { kind: 'removeByKeyRange', key: 'b', keyEnd: 'c' });
    assert.deepEqual([keysOf(r.next), r.result], [['a', 'c', 'd'], 1n]);
    r = m(M, { kind: 'removeByValueRange', value: 4n, valueEnd: 11n, returnType: 'key' });
    assert.deepEqual([keysOf(r.next), r.result], [['a', 'c'], ['b', 'd']]);
    r = m(M, { kind: 'removeByKeyList', keys: ['a', 'b', 'nope'] });
    assert.deepEqual([keysOf(r.next), r.result], [['c', 'd'], 2n]);
    r = m(M, { kind: 'removeByValueList', values: [2n], inverted: true });
    assert.deepEqual([keysOf(r.next), r.result], [['c'], 3n]);
    r = m(M, { kind: 'removeByKeyRelIndexRange', key: 'b', index: 1, count: 1, returnType: 'key' });
    assert.deepEqual([keysOf(r.next), r.result], [['a', 'b', 'd'], ['c']]);
    r = m(M, { kind: 'removeByValueRelRankRange', value: 10n, rank: 0, returnType: 'key' });
    assert.deepEqual([keysOf(r.next), r.result], [['c', 'd'], ['b', 'a']], 'keys in rank order');
  });

  it('keeps the original results of the older map operations', () => {
    assert.equal(mr(M, { kind: 'getByKey', key: 'b' }), 10n);
    assert.equal(mr(M, { kind: 'getByKey', key: 'zz' }), null);
    assert.deepEqual(mr(M, { kind: 'getByValue', value: 2n }), ['c']);
    assert.deepEqual(m(M, { kind: 'removeByKey', key: 'a' }).result, 17n);
    assert.deepEqual(m(M, { kind: 'removeByValue', value: 2n }).result, 1n);
    assert.equal(mr(M, { kind: 'getByKey', key: 'b', returnType: 'index' }), 1n);
    assert.equal(mr(M, { kind: 'getByKey', key: 'zz', returnType: 'index' }), -1n, 'not found: -1, as Aerospike');
    assert.equal(mr(M, { kind: 'getByKey', key: 'zz', returnType: 'exists' }), false);
  });

  it('refuses bad input with the right result code', () => {
    fails(() => m([1n], { kind: 'getByRank', rank: 0 }), 'BIN_TYPE', /does not hold a map/);
    fails(() => m(M, { kind: 'getByRank', rank: -5 }), 'OP_NOT_APPLICABLE');
    fails(() => m(M, { kind: 'getByIndex', index: 0, inverted: true }), 'OP_NOT_APPLICABLE');
    fails(() => m(M, { kind: 'getByIndex', index: 0, returnType: 'bogus' as CdtReturnType }), 'PARAMETER', /not a map return type/);
    fails(() => m(M, { kind: 'getByKeyRelIndexRange', index: 0 }), 'PARAMETER', /needs a key/);
    fails(() => m(M, { kind: 'getByKeyList' }), 'PARAMETER', /needs a list of keys/);
    fails(() => m(M, { kind: 'put', key: 'x', value: 1n, inverted: true }), 'PARAMETER', /takes no inverted flag/);
  });
});
