/**
 * Ordered lists and maps (Aerospike's ListOrder / MapOrder) kept with the value: create orders,
 * setOrder, sorted inserts, by-index/by-rank semantics, return types, contexts that create
 * ordered containers, the record codec (old records still readable) and the fabric form.
 * A property test runs random writes on key-ordered maps and ordered lists against a plain
 * JavaScript model (a Map / array sorted after every change).
 */
import { strict as assert } from 'node:assert';
import { deserialize, serialize } from 'node:v8';
import fc from 'fast-check';
import { applyListOp } from '../../core/transaction/cdt/list.ts';
import { applyMapOp } from '../../core/transaction/cdt/map.ts';
import { applyCdtOperation } from '../../core/transaction/cdt/context.ts';
import { DbError } from '../../core/errors/index.ts';
import {
  decodeBins, encodeBins, GeoJson, listOrder, mapOrder, withListOrder, withMapOrder, type BinValue, type MapKey,
} from '../../core/model/index.ts';
import { fromFabric, toFabric } from '../../core/model/fabric-values.ts';
import { pack, toBinValue, unpack } from '../../core/server/aerospike/msgpack.ts';
import type { Operation } from '../../core/transaction/operations.ts';

type ListOp = Extract<Operation, { op: 'list' }>;
type MapOp = Extract<Operation, { op: 'map' }>;

function code(f: () => unknown): string {
  try { f(); } catch (err) { assert.ok(err instanceof DbError, String(err)); return err.code; }
  assert.fail('expected a failure');
}
const m = (...e: Array<[MapKey, BinValue]>) => new Map<MapKey, BinValue>(e);
const list = (kind: ListOp['kind'], extra: Partial<ListOp> = {}): ListOp => ({ op: 'list', bin: 'l', kind, ...extra });
const map = (kind: MapOp['kind'], extra: Partial<MapOp> = {}): MapOp => ({ op: 'map', bin: 'm', kind, ...extra });
const keysOf = (v: BinValue | undefined): MapKey[] => [...(v as ReadonlyMap<MapKey, BinValue>).keys()];

describe('transaction/cdt ordered lists and maps', () => {
  it('a put creates a map of its order; an existing map keeps its own', () => {
    const created = applyMapOp(undefined, map('put', { key: 'b', value: 1n, order: 'keyOrdered' })).next as ReadonlyMap<MapKey, BinValue>;
    assert.equal(mapOrder(created), 'keyOrdered');
    const more = applyMapOp(created, map('put', { key: 'a', value: 2n })).next;
    assert.deepEqual(keysOf(more), ['a', 'b'], 'a key-ordered map keeps its keys sorted');
    assert.equal(mapOrder(more as ReadonlyMap<MapKey, BinValue>), 'keyOrdered');
    const unordered = applyMapOp(m(['b', 1n]), map('put', { key: 'a', value: 2n, order: 'keyOrdered' })).next;
    assert.deepEqual(keysOf(unordered), ['b', 'a'], 'an unordered map keeps insertion order; the put order applies only on create');
    assert.equal(mapOrder(unordered as ReadonlyMap<MapKey, BinValue>), 'unordered');
  });

  it('setOrder sorts or unsorts a map, and creates an empty one on a missing bin', () => {
    const sorted = applyMapOp(m(['c', 1n], [1n, 2n], ['a', 3n]), map('setOrder', { order: 'keyValueOrdered' })).next as ReadonlyMap<MapKey, BinValue>;
    assert.deepEqual(keysOf(sorted), [1n, 'a', 'c'], 'integers sort before strings');
    assert.equal(mapOrder(sorted), 'keyValueOrdered');
    const back = applyMapOp(sorted, map('setOrder', { order: 'unordered' })).next as ReadonlyMap<MapKey, BinValue>;
    assert.equal(mapOrder(back), 'unordered');
    const empty = applyMapOp(undefined, map('setOrder', { order: 'keyOrdered' }));
    assert.equal((empty.next as ReadonlyMap<MapKey, BinValue>).size, 0);
    assert.equal(mapOrder(empty.next as ReadonlyMap<MapKey, BinValue>), 'keyOrdered');
    assert.equal(code(() => applyMapOp(undefined, map('setOrder'))), 'PARAMETER', 'setOrder needs an order');
    assert.equal(code(() => applyMapOp(m(), map('size', { order: 'keyOrdered' }))), 'PARAMETER', 'an order on a kind that takes none');
    assert.equal(code(() => applyMapOp(m(), map('setOrder', { order: 'sideways' as never }))), 'PARAMETER');
  });

  it('index and rank selections are the same for every map order; entries come back in the map\'s order', () => {
    const entries: Array<[MapKey, BinValue]> = [['d', 1n], ['b', 4n], ['a', 3n], ['c', 2n]];
    for (const order of ['unordered', 'keyOrdered', 'keyValueOrdered'] as const) {
      const v = withMapOrder(new Map(entries), order);
      assert.deepEqual(applyMapOp(v, map('getByIndex', { index: 0, returnType: 'key' })).result, 'a', order);
      assert.deepEqual(applyMapOp(v, map('getByRank', { rank: -1, returnType: 'key' })).result, 'b', order);
      assert.deepEqual(applyMapOp(v, map('getByIndexRange', { index: 1, count: 2, returnType: 'key' })).result, ['b', 'c'], order);
      const kv = applyMapOp(v, map('getByRankRange', { rank: 0, count: 2, returnType: 'keyValue' })).result as ReadonlyMap<MapKey, BinValue>;
      assert.equal(mapOrder(kv), order, 'keyValue answers a map of the source map\'s order');
      if (order !== 'unordered') assert.deepEqual(keysOf(kv), ['c', 'd']);
      const om = applyMapOp(v, map('getByRankRange', { rank: 0, count: 2, returnType: 'orderedMap' })).result as ReadonlyMap<MapKey, BinValue>;
      assert.equal(mapOrder(om), 'keyOrdered');
      assert.deepEqual(keysOf(om), ['c', 'd']);
      const um = applyMapOp(v, map('getByIndexRange', { index: 0, returnType: 'unorderedMap' })).result as ReadonlyMap<MapKey, BinValue>;
      assert.equal(mapOrder(um), 'unordered');
      assert.equal(code(() => applyListOp([1n], list('getByIndexRange', { index: 0, returnType: 'orderedMap' }))), 'PARAMETER', 'map return types are for maps');
      const removed = applyMapOp(v, map('removeByIndex', { index: 0 })).next as ReadonlyMap<MapKey, BinValue>;
      assert.equal(mapOrder(removed), order, 'a remove keeps the order');
      assert.ok(!removed.has('a'));
      const inc = applyMapOp(v, map('increment', { key: 'aa', value: 5n })).next as ReadonlyMap<MapKey, BinValue>;
      assert.deepEqual(keysOf(inc), order === 'unordered' ? ['d', 'b', 'a', 'c', 'aa'] : ['a', 'aa', 'b', 'c', 'd']);
      assert.equal(mapOrder(applyMapOp(v, map('clear')).next as ReadonlyMap<MapKey, BinValue>), order, 'clear keeps the order');
    }
  });

  it('an ordered list sorts what is appended; insert and set by index are OP_NOT_APPLICABLE', () => {
    const l = applyListOp(undefined, list('appendItems', { values: [3n, 1n, 2n], order: 'ordered' })).next as BinValue[];
    assert.deepEqual(l, [1n, 2n, 3n]);
    assert.equal(listOrder(l), 'ordered');
    const l2 = applyListOp(l, list('append', { value: 0n })).next as BinValue[];
    assert.deepEqual(l2, [0n, 1n, 2n, 3n]);
    assert.equal(listOrder(l2), 'ordered');
    assert.deepEqual(applyListOp(l, list('append', { value: 'x' })).next, [1n, 2n, 3n, 'x'], 'strings sort after integers');
    assert.equal(code(() => applyListOp(l, list('insert', { index: 0, value: 9n }))), 'OP_NOT_APPLICABLE');
    assert.equal(code(() => applyListOp(l, list('insertItems', { index: 0, values: [9n] }))), 'OP_NOT_APPLICABLE');
    assert.equal(code(() => applyListOp(l, list('set', { index: 0, value: 9n }))), 'OP_NOT_APPLICABLE');
    const inc = applyListOp(l, list('increment', { index: 0, value: 10n }));
    assert.equal(inc.result, 11n);
    assert.deepEqual(inc.next, [2n, 3n, 11n], 'the incremented element moves where it sorts');
    assert.equal(code(() => applyListOp(l, list('append', { value: 2n, flags: { addUnique: true } }))), 'ELEMENT_EXISTS');
    assert.deepEqual(applyListOp(l, list('getByIndex', { index: 0 })).result, 1n);
    assert.deepEqual(applyListOp(l, list('removeByValueRange', { value: 2n, valueEnd: 3n })).next, [1n, 3n]);
    assert.equal(listOrder(applyListOp(l, list('removeByValueRange', { value: 2n, valueEnd: 3n })).next as BinValue[]), 'ordered');
    // an existing unordered list keeps its order even when an append names one
    assert.deepEqual(applyListOp([3n, 1n], list('append', { value: 0n, order: 'ordered' })).next, [3n, 1n, 0n]);
    assert.equal(code(() => applyListOp([1n], list('insert', { index: 0, value: 1n, order: 'ordered' }))), 'PARAMETER', 'insert takes no order');
  });

  it('list setOrder sorts an unordered list and creates an empty ordered one on a missing bin', () => {
    const s = applyListOp([3n, 1n, 'a', 2n], list('setOrder', { order: 'ordered' }));
    assert.deepEqual(s, { next: [1n, 2n, 3n, 'a'], result: undefined });
    assert.equal(listOrder(s.next as BinValue[]), 'ordered');
    const u = applyListOp(s.next, list('setOrder', { order: 'unordered' })).next as BinValue[];
    assert.equal(listOrder(u), 'unordered');
    assert.deepEqual(applyListOp(u, list('insert', { index: 0, value: 9n })).next, [9n, 1n, 2n, 3n, 'a']);
    const e = applyListOp(undefined, list('setOrder', { order: 'ordered' })).next as BinValue[];
    assert.deepEqual(e, []);
    assert.equal(listOrder(e), 'ordered');
  });

  it('contexts create ordered lists and key-ordered maps, and keep nested ordered containers sorted', () => {
    // create: a key-ordered map at key "a", holding an ordered list at key "l"
    const r = applyCdtOperation(undefined, { op: 'list', bin: 'b', kind: 'append', value: 5n, order: 'ordered',
      ctx: [{ type: 'mapKey', key: 'a', create: { order: 'keyOrdered' } }, { type: 'mapKey', key: 'l', create: { order: 'keyOrdered' } }] });
    const top = r.next as ReadonlyMap<MapKey, BinValue>;
    assert.equal(mapOrder(top), 'keyOrdered');
    const inner = top.get('a') as ReadonlyMap<MapKey, BinValue>;
    assert.equal(mapOrder(inner), 'keyOrdered');
    assert.equal(listOrder(inner.get('l') as BinValue[]), 'ordered');
    const r2 = applyCdtOperation(top, { op: 'list', bin: 'b', kind: 'append', value: 1n, ctx: [{ type: 'mapKey', key: 'a' }, { type: 'mapKey', key: 'l' }] });
    const l2 = ((r2.next as ReadonlyMap<MapKey, BinValue>).get('a') as ReadonlyMap<MapKey, BinValue>).get('l') as BinValue[];
    assert.deepEqual(l2, [1n, 5n]);
    assert.equal(listOrder(l2), 'ordered');
    // a new key put into a nested key-ordered map lands in key order, and the outer map stays key-ordered
    const r3 = applyCdtOperation(r2.next, { op: 'map', bin: 'b', kind: 'put', key: 'c', value: 1n, ctx: [{ type: 'mapKey', key: 'a' }] });
    const a3 = (r3.next as ReadonlyMap<MapKey, BinValue>).get('a') as ReadonlyMap<MapKey, BinValue>;
    assert.deepEqual(keysOf(a3), ['c', 'l']);
    assert.equal(mapOrder(r3.next as ReadonlyMap<MapKey, BinValue>), 'keyOrdered');
    // an ordered list created through a list index step
    const r4 = applyCdtOperation(undefined, { op: 'list', bin: 'b', kind: 'append', value: 2n, ctx: [{ type: 'listIndex', index: 0, create: { order: 'ordered' } }] });
    assert.equal(listOrder(r4.next as BinValue[]), 'ordered');
    // a changed element of an ordered list moves where it sorts
    const outer = withListOrder([[1n], [5n]], 'ordered');
    const r5 = applyCdtOperation(outer, { op: 'list', bin: 'b', kind: 'append', value: 0n, ctx: [{ type: 'listIndex', index: 0 }] });
    assert.deepEqual(r5.next, [[1n, 0n], [5n]]);
    const r6 = applyCdtOperation(outer, { op: 'list', bin: 'b', kind: 'clear', ctx: [{ type: 'listIndex', index: 1 }] });
    assert.deepEqual(r6.next, [[], [1n]]);
    assert.equal(listOrder(r6.next as BinValue[]), 'ordered');
  });

  it('the record codec keeps orders; records written before ordered tags existed still read', () => {
    const bins = {
      om: withMapOrder(m(['b', 1n], ['a', withListOrder([2n, 1n], 'ordered')]), 'keyOrdered'),
      kv: withMapOrder(m([2n, 'x']), 'keyValueOrdered'),
      um: m(['b', 1n], ['a', 2n]),
      ol: withListOrder([3n, 1n], 'ordered'),
      ul: [3n, 1n],
    };
    const back = decodeBins(encodeBins(bins));
    assert.equal(mapOrder(back.om as ReadonlyMap<MapKey, BinValue>), 'keyOrdered');
    assert.deepEqual(keysOf(back.om), ['a', 'b']);
    assert.equal(listOrder((back.om as ReadonlyMap<MapKey, BinValue>).get('a') as BinValue[]), 'ordered');
    assert.equal(mapOrder(back.kv as ReadonlyMap<MapKey, BinValue>), 'keyValueOrdered');
    assert.equal(mapOrder(back.um as ReadonlyMap<MapKey, BinValue>), 'unordered');
    assert.deepEqual(keysOf(back.um), ['b', 'a']);
    assert.equal(listOrder(back.ol as BinValue[]), 'ordered');
    assert.deepEqual(back.ol, [1n, 3n]);
    assert.equal(listOrder(back.ul as BinValue[]), 'unordered');
    // bytes as the codec wrote them before ordered containers: one bin "m" = map {"b": 1}, tag 9, and a list tag 8
    const old = Buffer.from([2, 0, 1, 0x6d, 9, 1, 0, 0, 0, 3, 1, 0, 0, 0, 0x62, 10, 1, 0, 0, 0, 1, 0x6c, 8, 1, 0, 0, 0, 10, 7, 0, 0, 0]);
    const read = decodeBins(old);
    assert.deepEqual(read, { m: m(['b', 1n]), l: [7n] });
    assert.equal(mapOrder(read.m as ReadonlyMap<MapKey, BinValue>), 'unordered');
  });

  it('Aerospike msgpack: order headers read and written as the clients send them', () => {
    // the Node client's put of {a: 1}: a key-ordered map (reference capture)
    const bytes = Buffer.from('82c70001c0a2036101', 'hex');
    const v = toBinValue(unpack(bytes)) as ReadonlyMap<MapKey, BinValue>;
    assert.equal(mapOrder(v), 'keyOrdered');
    assert.deepEqual(keysOf(v), ['a']);
    assert.equal(pack(v).toString('hex'), '82c70001c0a2036101');
    assert.equal(pack(withMapOrder(m(['a', 1n]), 'keyValueOrdered')).toString('hex'), '82c70003c0a2036101');
    assert.equal(pack(m(['a', 1n])).toString('hex'), '81a2036101');
    const ol = toBinValue(unpack(Buffer.from('94c70001020103', 'hex'))) as BinValue[];
    assert.equal(listOrder(ol), 'ordered');
    assert.deepEqual(ol, [1n, 2n, 3n], 'an ordered list is sorted on the way in');
    assert.equal(pack(ol).toString('hex'), '94c70001010203');
    assert.equal(code(() => unpack(Buffer.from('92c70005c0', 'hex'))), 'PARAMETER', 'unknown list flags');
    assert.equal(code(() => unpack(Buffer.from('9201c70001', 'hex'))), 'PARAMETER', 'an order header that is not first');
  });

  it('orders and GeoJSON survive the fabric (structured clone) form', () => {
    const msg = { op: 'put', bins: { om: withMapOrder(m(['b', 1n], ['a', 2n]), 'keyOrdered'), g: new GeoJson('{"type":"Point","coordinates":[1,2]}'), n: [withListOrder([2n, 1n], 'ordered'), 1n] } };
    const back = fromFabric(deserialize(serialize(toFabric(msg)))) as typeof msg;
    assert.equal(mapOrder(back.bins.om), 'keyOrdered');
    assert.deepEqual(keysOf(back.bins.om), ['a', 'b']);
    assert.ok(back.bins.g instanceof GeoJson);
    assert.equal(listOrder(back.bins.n[0] as BinValue[]), 'ordered');
    assert.equal(back.bins.n[1], 1n);
  });

  it('property: random writes on a key-ordered map and an ordered list match a sorted JS model', () => {
    const key = fc.oneof(fc.integer({ min: -20, max: 20 }).map(BigInt), fc.constantFrom('a', 'b', 'c', 'aa', 'z'));
    const value = fc.integer({ min: -5, max: 5 }).map(BigInt);
    const cmpKey = (x: MapKey, y: MapKey): number => (typeof x === typeof y ? (x < y ? -1 : x > y ? 1 : 0) : typeof x === 'bigint' ? -1 : 1);
    const mapStep = fc.oneof(
      fc.record({ t: fc.constant('put' as const), k: key, v: value }),
      fc.record({ t: fc.constant('remove' as const), k: key }),
      fc.record({ t: fc.constant('removeIndex' as const), i: fc.integer({ min: 0, max: 5 }) }),
    );
    fc.assert(fc.property(fc.array(mapStep, { maxLength: 30 }), (steps) => {
      let cur: BinValue | undefined;
      const model = new Map<MapKey, bigint>();
      for (const s of steps) {
        if (s.t === 'put') {
          cur = applyMapOp(cur, map('put', { key: s.k, value: s.v, order: 'keyOrdered' })).next ?? cur;
          model.set(s.k, s.v);
        } else if (s.t === 'remove') {
          cur = applyMapOp(cur, map('removeByKey', { key: s.k })).next ?? cur;
          model.delete(s.k);
        } else {
          const sorted = [...model.keys()].sort(cmpKey);
          if (cur === undefined || s.i >= sorted.length) continue;
          cur = applyMapOp(cur, map('removeByIndex', { index: s.i })).next ?? cur;
          model.delete(sorted[s.i] as MapKey);
        }
        const want = [...model.keys()].sort(cmpKey);
        assert.deepEqual(cur === undefined ? [] : keysOf(cur), want);
        if (cur !== undefined) assert.equal(mapOrder(cur as ReadonlyMap<MapKey, BinValue>), 'keyOrdered');
      }
    }), { seed: 15_001, numRuns: 200 });
    fc.assert(fc.property(fc.array(fc.tuple(fc.boolean(), value), { maxLength: 30 }), (steps) => {
      let cur: BinValue | undefined;
      const model: bigint[] = [];
      for (const [add, v] of steps) {
        if (add) {
          cur = applyListOp(cur, list('append', { value: v, order: 'ordered' })).next;
          model.push(v);
        } else if (cur !== undefined) {
          cur = applyListOp(cur, list('removeByValue', { value: v, returnType: 'count' })).next ?? cur;
          for (let i = model.indexOf(v); i >= 0; i = model.indexOf(v)) model.splice(i, 1);
        }
        model.sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
        assert.deepEqual(cur ?? [], model);
        if (cur !== undefined) assert.equal(listOrder(cur as BinValue[]), 'ordered');
      }
    }), { seed: 15_002, numRuns: 200 });
  });
});
