/**
 * List and map selectors over real gRPC: the client encodes kinds, ranks, value/key ranges,
 * return types and inverted; the server converts them; results and result codes come back.
 */
import { strict as assert } from 'node:assert';
import { startTestNode, type TestNode } from '../helpers/node-harness.ts';
import { DbError, toPbKey, toPbOperation, type Operation } from '../../core/client/index.ts';
import { fromPbOperation } from '../../core/server/handlers/operations.ts';
import { KeyValueServiceService } from '../../core/wire/generated/slipstream/v1/kv.ts';
import { listOrder, mapOrder, withListOrder, withMapOrder, type MapKey, type BinValue } from '../../core/model/index.ts';

async function code(p: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof DbError, `expected a DbError, got ${String(err)}`);
    return { code: err.resultCode, message: err.message };
  }
  assert.fail('expected the call to fail');
}

describe('server/cdt selectors over gRPC', function () {
  let t: TestNode;
  before(async () => { t = await startTestNode({ config: { namespaces: [{ name: 'test', storage: 'storage-memory' }] } }); });
  after(async () => { await t?.stop(); });
  const k = (key: string) => ({ namespace: 'test', set: 'cdt', key });

  it('converts every new field both ways (client → protobuf → server)', () => {
    const ops: Array<Extract<Operation, { op: 'list' | 'map' }>> = [
      { op: 'list', bin: 'l', kind: 'getByValueRelRankRange', value: 5n, rank: -1, count: 2, returnType: 'reverseRank', inverted: true },
      { op: 'list', bin: 'l', kind: 'removeByValueRange', value: null, valueEnd: 'x', returnType: 'none' },
      { op: 'map', bin: 'm', kind: 'getByKeyRange', key: 'a', keyEnd: 'c', returnType: 'keyValue' },
      { op: 'map', bin: 'm', kind: 'removeByIndexRange', index: -2, count: 1, returnType: 'key', inverted: true },
      { op: 'map', bin: 'm', kind: 'getByValueList', values: [1n, 'two'], returnType: 'exists' },
      { op: 'map', bin: 'm', kind: 'getByRank', rank: 3 },
    ];
    for (const op of ops) {
      const back = fromPbOperation(toPbOperation(op));
      for (const [field, v] of Object.entries(op)) assert.deepEqual((back as Record<string, unknown>)[field], v, `${op.op} ${op.kind}: ${field}`);
    }
  });

  it('keeps list and map orders with the value: put, operate with create orders and setOrder, get, ORDERED_MAP results', async () => {
    const om = withMapOrder(new Map<MapKey, BinValue>([['b', 1n], ['a', 2n]]), 'keyOrdered');
    await t.client.put(k('ord'), { om, ol: withListOrder([3n, 1n], 'ordered'), um: new Map<MapKey, BinValue>([['b', 1n], ['a', 2n]]) });
    let rec = await t.client.get(k('ord'));
    assert.equal(mapOrder(rec.bins.om as ReadonlyMap<MapKey, BinValue>), 'keyOrdered');
    assert.deepEqual([...(rec.bins.om as ReadonlyMap<MapKey, BinValue>).keys()], ['a', 'b']);
    assert.equal(listOrder(rec.bins.ol as BinValue[]), 'ordered');
    assert.deepEqual(rec.bins.ol, [1n, 3n]);
    assert.equal(mapOrder(rec.bins.um as ReadonlyMap<MapKey, BinValue>), 'unordered');
    assert.deepEqual([...(rec.bins.um as ReadonlyMap<MapKey, BinValue>).keys()], ['b', 'a']);
    const r = await t.client.operate(k('ord'), [
      { op: 'list', bin: 'ol', kind: 'append', value: 2n },
      { op: 'map', bin: 'nm', kind: 'put', key: 'z', value: 1n, order: 'keyValueOrdered' },
      { op: 'map', bin: 'nm', kind: 'put', key: 'y', value: 2n },
      { op: 'map', bin: 'um', kind: 'setOrder', order: 'keyOrdered' },
      { op: 'list', bin: 'nl', kind: 'setOrder', order: 'ordered' },
      { op: 'map', bin: 'om', kind: 'getByIndexRange', index: 0, returnType: 'unorderedMap' },
    ]);
    assert.equal(mapOrder(r.bins.om as ReadonlyMap<MapKey, BinValue>), 'unordered');
    rec = await t.client.get(k('ord'));
    assert.deepEqual(rec.bins.ol, [1n, 2n, 3n]);
    assert.equal(mapOrder(rec.bins.nm as ReadonlyMap<MapKey, BinValue>), 'keyValueOrdered');
    assert.deepEqual([...(rec.bins.nm as ReadonlyMap<MapKey, BinValue>).keys()], ['y', 'z']);
    assert.deepEqual([...(rec.bins.um as ReadonlyMap<MapKey, BinValue>).keys()], ['a', 'b']);
    assert.equal(listOrder(rec.bins.nl as BinValue[]), 'ordered');
    assert.equal((await code(t.client.operate(k('ord'), [{ op: 'list', bin: 'ol', kind: 'insert', index: 0, value: 0n }]))).code, 26, 'insert into an ordered list');
    assert.equal((await code(t.client.operate(k('ord'), [{ op: 'map', bin: 'om', kind: 'size', order: 'keyOrdered' }]))).code, 4, 'an order on an operation that takes none');
  });

  it('runs list by-rank, by-value-range and inverted selectors atomically', async () => {
    await t.client.put(k('l'), { l: [7n, 2n, 9n, 2n, 5n] });
    const r = await t.client.operate(k('l'), [
      { op: 'list', bin: 'l', kind: 'getByRankRange', rank: -2, returnType: 'value' },
      { op: 'list', bin: 'l', kind: 'getByValueRange', value: 2n, valueEnd: 7n, returnType: 'index' },
      { op: 'list', bin: 'l', kind: 'getByRank', rank: 0, returnType: 'reverseIndex' },
      { op: 'list', bin: 'l', kind: 'removeByRankRange', rank: 0, count: 2, inverted: true, returnType: 'value' },
      { op: 'list', bin: 'l', kind: 'size' },
    ]);
    assert.deepEqual(r.bins['l'], [[7n, 9n], [1n, 3n, 4n], 3n, [7n, 9n, 5n], 2n]);
    assert.deepEqual((await t.client.get(k('l'))).bins['l'], [2n, 2n]);
  });

  it('runs map by-index (key order), by-rank and key-range selectors', async () => {
    await t.client.put(k('m'), { m: new Map<MapKey, BinValue>([['d', 4n], ['a', 17n], ['c', 2n], ['b', 10n]]) });
    const r = await t.client.operate(k('m'), [
      { op: 'map', bin: 'm', kind: 'getByIndex', index: 0, returnType: 'key' },
      { op: 'map', bin: 'm', kind: 'getByRankRange', rank: 0, count: 2, returnType: 'keyValue' },
      { op: 'map', bin: 'm', kind: 'getByKeyRange', key: 'b', returnType: 'count' },
    ]);
    assert.deepEqual(r.bins['m'], ['a', new Map([['c', 2n], ['d', 4n]]), 3n]);
    const removed = await t.client.operate(k('m'), [{ op: 'map', bin: 'm', kind: 'removeByValueRange', value: 10n, returnType: 'key' }]);
    assert.deepEqual(removed.bins['m'], ['a', 'b']);
    assert.deepEqual((await t.client.get(k('m'))).bins['m'], new Map([['d', 4n], ['c', 2n]]));
    assert.equal(r.meta?.generation, 1, 'reads alone do not write');
  });

  it('answers OP_NOT_APPLICABLE (26), PARAMETER (4) and BIN_TYPE (12) with messages, changing nothing', async () => {
    await t.client.put(k('e'), { l: [1n, 2n], s: 'text' });
    const oob = await code(t.client.operate(k('e'), [{ op: 'list', bin: 'l', kind: 'removeByRank', rank: 0 }, { op: 'list', bin: 'l', kind: 'getByRank', rank: 5 }]));
    assert.equal(oob.code, 26);
    assert.match(oob.message, /rank 5 is out of bounds/);
    assert.deepEqual((await t.client.get(k('e'))).bins['l'], [1n, 2n], 'the earlier remove was not applied');
    assert.equal((await code(t.client.operate(k('e'), [{ op: 'list', bin: 'l', kind: 'getByRank', rank: 0, returnType: 'keyValue' }]))).code, 4);
    assert.equal((await code(t.client.operate(k('e'), [{ op: 'list', bin: 's', kind: 'getByRankRange', rank: 0 }]))).code, 12);
    assert.equal((await code(t.client.operate(k('e'), [{ op: 'list', bin: 'l', kind: 'getByRankRange' }]))).code, 4);
  });

  it('refuses an unknown return type number from another client with PARAMETER (4)', async () => {
    await t.client.put(k('raw'), { l: [1n] });
    const pb = toPbOperation({ op: 'list', bin: 'l', kind: 'getByRankRange', rank: 0 });
    assert.ok(pb.op?.$case === 'list');
    const bad = { op: { $case: 'list' as const, value: { ...pb.op.value, returnType: 99 as 0 } } };
    const res = await code(t.client.unary(KeyValueServiceService.operate, { key: toPbKey(k('raw')), operations: [bad] }));
    assert.equal(res.code, 4);
    assert.match(res.message, /unknown return type 99/);
  });
});

describe('client/operations return types', () => {
  it('refuses an unknown return type before sending, with PARAMETER', () => {
    assert.throws(() => toPbOperation({ op: 'list', bin: 'l', kind: 'getByRank', rank: 0, returnType: 'keys' as 'key' }),
      (e: unknown) => e instanceof DbError && e.code === 'PARAMETER' && /unknown return type "keys"/.test(e.message));
  });

  it('refuses a field an operation does not have (a JavaScript caller may pass any), naming it, instead of not sending it', () => {
    const refused = (op: unknown, field: RegExp): void => {
      assert.throws(() => toPbOperation(op as Operation), (e: unknown) => e instanceof DbError && e.code === 'PARAMETER' && field.test(e.message), JSON.stringify(op, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)));
    };
    refused({ op: 'hll', bin: 'h', kind: 'getCount', ctx: [{ type: 'listIndex', index: 0 }] }, /hll operation has no ctx/);
    refused({ op: 'read', bin: 'a', index: 1 }, /read operation has no index/);
    refused({ op: 'expRead', name: 'x', expression: '{}', ctx: [] }, /has no ctx/);
    refused({ op: 'list', bin: 'l', kind: 'append', value: 1n, flags: { addUnique: true, unique: true } }, /has no flags\.unique/);
    refused({ op: 'bit', bin: 'b', kind: 'get', offset: 0, size: 8, policy: { partial: true, overwrite: true } }, /has no policy\.overwrite/);
    // fields set to undefined are absent
    assert.doesNotThrow(() => toPbOperation({ op: 'read', bin: 'a', ...({ index: undefined } as object) } as Operation));
  });
});
