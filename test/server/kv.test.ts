import { strict as assert } from 'node:assert';
import { startTestNode, type TestNode } from '../helpers/node-harness.ts';
import { ManualClock } from '../helpers/manual-clock.ts';
import { DbError, GeoJson, expr as E, type ClientRecord } from '../../core/client/index.ts';
import { computeDigest, type Bins } from '../../core/model/index.ts';
import { exprToJsonText } from '../../core/query/expr/json.ts';
import { KeyValueServiceService, type ScanRequest, type ScanResponse } from '../../core/wire/generated/slipstream/v1/kv.ts';

async function code(p: Promise<unknown>): Promise<number> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof DbError, `expected a DbError, got ${String(err)}`);
    return err.resultCode;
  }
  assert.fail('expected the call to fail');
}

async function all<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe('server/kv over gRPC', function () {
  let t: TestNode;
  const clock = new ManualClock();
  before(async () => {
    t = await startTestNode({
      clock,
      config: {
        namespaces: [
          { name: 'test', storage: 'storage-memory' },
          { name: 'ttl', storage: 'storage-memory', defaultTtl: 100, maxRecordBytes: 4096, nsupPeriod: 0 },
        ],
        transactionPendingLimit: 2,
      },
    });
  });
  after(async () => { await t.stop(); });
  const k = (key: string | bigint, set = 'demo') => ({ namespace: 'test', set, key });

  it('round-trips every value type exactly, integers beyond 2^53 included', async () => {
    const bins: Bins = {
      big: 2n ** 63n - 1n,
      small: -(2n ** 63n),
      beyond: 2n ** 53n + 1n,
      dbl: 1.0,
      pi: 3.14159,
      s: 'héllo',
      b: new Uint8Array([0, 1, 255]),
      t: true,
      f: false,
      l: [1n, 'two', [3.5], new Map([['k', 1n]])],
      m: new Map<string | bigint, Bins[string]>([['a', 1n], [2n, 'x'], ['nested', [1n, 2n]]]),
      g: new GeoJson('{"type":"Point","coordinates":[-122.0,37.5]}'),
    };
    await t.client.put(k('types'), bins);
    const rec = await t.client.get(k('types'));
    assert.deepEqual(rec.bins, bins);
    assert.equal(typeof rec.bins['dbl'], 'number');
    assert.equal(typeof rec.bins['beyond'], 'bigint');
  });

  it('reads some bins, or the header only, and tells whether a record exists', async () => {
    await t.client.put(k('sel'), { a: 1n, b: 2n, c: 3n });
    assert.deepEqual((await t.client.get(k('sel'), { bins: ['a', 'c'] })).bins, { a: 1n, c: 3n });
    const h = await t.client.get(k('sel'), { headerOnly: true });
    assert.deepEqual(h.bins, {});
    assert.equal(h.meta.generation, 1);
    assert.equal((await t.client.exists(k('sel')))?.generation, 1);
    assert.equal(await t.client.exists(k('nope')), undefined);
  });

  it('fails a read of a missing record with NOT_FOUND (2)', async () => {
    assert.equal(await code(t.client.get(k('missing'))), 2);
  });

  it('counts generations and merges bins on update', async () => {
    const m1 = await t.client.put(k('gen'), { a: 1n });
    const m2 = await t.client.put(k('gen'), { b: 2n });
    assert.equal(m1.generation, 1);
    assert.equal(m2.generation, 2);
    assert.deepEqual((await t.client.get(k('gen'))).bins, { a: 1n, b: 2n });
  });

  it('removes a bin written as nil, and the record when no bins are left', async () => {
    await t.client.put(k('nil'), { a: 1n, b: 2n });
    await t.client.put(k('nil'), { a: null });
    assert.deepEqual((await t.client.get(k('nil'))).bins, { b: 2n });
    await t.client.put(k('nil'), { b: null });
    assert.equal(await code(t.client.get(k('nil'))), 2);
  });

  it('applies every exists action', async () => {
    await t.client.put(k('ex'), { a: 1n, b: 2n });
    assert.equal(await code(t.client.put(k('ex'), { a: 9n }, { exists: 'createOnly' })), 5);
    assert.equal(await code(t.client.put(k('ex-missing'), { a: 1n }, { exists: 'updateOnly' })), 2);
    assert.equal(await code(t.client.put(k('ex-missing'), { a: 1n }, { exists: 'replaceOnly' })), 2);
    await t.client.put(k('ex'), { c: 3n }, { exists: 'replace' });
    assert.deepEqual((await t.client.get(k('ex'))).bins, { c: 3n });
    await t.client.put(k('ex'), { d: 4n }, { exists: 'updateOnly' });
    assert.deepEqual((await t.client.get(k('ex'))).bins, { c: 3n, d: 4n });
    await t.client.put(k('ex'), { e: 5n }, { exists: 'replaceOnly' });
    assert.deepEqual((await t.client.get(k('ex'))).bins, { e: 5n });
    await t.client.put(k('ex-new'), { a: 1n }, { exists: 'createOnly' });
    assert.equal((await t.client.get(k('ex-new'))).meta.generation, 1);
  });

  it('checks generations (expect equal, expect greater)', async () => {
    await t.client.put(k('cas'), { v: 1n });
    await t.client.put(k('cas'), { v: 2n });
    assert.equal(await code(t.client.put(k('cas'), { v: 3n }, { generationPolicy: 'expectEqual', generation: 1 })), 3);
    const m = await t.client.put(k('cas'), { v: 3n }, { generationPolicy: 'expectEqual', generation: 2 });
    assert.equal(m.generation, 3);
    assert.equal(await code(t.client.put(k('cas'), { v: 4n }, { generationPolicy: 'expectGreater', generation: 3 })), 3);
    await t.client.put(k('cas'), { v: 4n }, { generationPolicy: 'expectGreater', generation: 10 });
    assert.equal(await code(t.client.delete(k('cas'), { generationPolicy: 'expectEqual', generation: 1 })), 3);
    assert.deepEqual((await t.client.get(k('cas'))).bins, { v: 4n });
  });

  it('deletes, and says NOT_FOUND (2) for a missing record', async () => {
    await t.client.put(k('del'), { a: 1n });
    await t.client.delete(k('del'));
    assert.equal(await code(t.client.get(k('del'))), 2);
    assert.equal(await code(t.client.delete(k('del'))), 2);
  });

  it('leaves a tombstone on a durable delete, and generations keep counting', async () => {
    await t.client.put(k('dd'), { a: 1n });
    await t.client.put(k('dd'), { a: 2n });
    await t.client.delete(k('dd'), { durableDelete: true });
    assert.equal(await code(t.client.get(k('dd'))), 2);
    const ns = (await t.client.namespaces()).find((n) => n.name === 'test');
    assert.ok((ns?.tombstones ?? 0n) >= 1n);
    const m = await t.client.put(k('dd'), { a: 3n }, { exists: 'createOnly' });
    assert.equal(m.generation, 4);
  });

  it('touches: bumps the generation and resets the TTL', async () => {
    await t.client.put(k('touch'), { a: 1n });
    const m = await t.client.touch(k('touch'), { ttl: 500 });
    assert.equal(m.generation, 2);
    assert.equal(m.ttl, 500);
    assert.equal(await code(t.client.touch(k('touch-missing'))), 2);
  });

  it('applies TTL rules: seconds, never (-1), keep (-2), namespace default (0), and expiry', async () => {
    const key = { namespace: 'ttl', set: 's', key: 'x' };
    assert.equal((await t.client.put(key, { a: 1n })).ttl, 100);
    assert.equal((await t.client.put(key, { a: 1n }, { ttl: 10 })).ttl, 10);
    assert.equal((await t.client.put(key, { a: 2n }, { ttl: -2 })).ttl, 10);
    clock.advance(4000);
    assert.equal((await t.client.get(key)).meta.ttl, 6);
    clock.advance(6000);
    assert.equal(await code(t.client.get(key)), 2, 'expired records are never returned');
    assert.equal(await t.client.exists(key), undefined);
    assert.equal((await t.client.put(key, { a: 1n }, { ttl: -1 })).ttl, -1);
    clock.advance(10_000_000);
    assert.equal((await t.client.get(key)).meta.ttl, -1);
    assert.equal(await code(t.client.put(key, { a: 1n }, { ttl: -3 })), 4);
  });

  it('sweeps expired records out of storage', async () => {
    for (let i = 0; i < 5; i++) await t.client.put({ namespace: 'ttl', set: 'sweep', key: i.toString() }, { a: 1n }, { ttl: 5 });
    const before = (await t.client.namespaces()).find((n) => n.name === 'ttl')?.records ?? 0n;
    clock.advance(6000);
    const removed = await t.node.kernel.sweepExpired('ttl');
    assert.ok(removed >= 5);
    const after = (await t.client.namespaces()).find((n) => n.name === 'ttl')?.records ?? 0n;
    assert.equal(before - after, BigInt(removed));
  });

  it('stores the user key only when sent, and returns it', async () => {
    await t.client.put(k('sk'), { a: 1n }, { sendKey: true });
    await t.client.put(k('nosk'), { a: 1n });
    assert.equal((await t.client.get(k('sk'))).userKey, 'sk');
    assert.equal((await t.client.get(k('nosk'))).userKey, undefined);
    await t.client.put(k(77n), { a: 1n }, { sendKey: true });
    assert.equal((await t.client.get(k(77n))).userKey, 77n);
  });

  it('addresses a record by digest as well as by key', async () => {
    await t.client.put(k('bydigest'), { a: 42n });
    const digest = computeDigest('demo', 'bydigest');
    const rec = await t.client.get({ namespace: 'test', set: 'demo', digest });
    assert.deepEqual(rec.bins, { a: 42n });
    assert.deepEqual(Buffer.from(rec.digest), Buffer.from(digest));
    assert.equal(await code(t.client.get({ namespace: 'test', set: 'demo', digest: new Uint8Array(5) })), 4);
  });

  it('operates atomically: add, append, prepend, write, read, touch', async () => {
    await t.client.put(k('op'), { n: 1n, s: 'b', d: 1.5 });
    const r = await t.client.operate(k('op'), [
      { op: 'add', bin: 'n', value: 5n },
      { op: 'add', bin: 'd', value: 0.25 },
      { op: 'append', bin: 's', value: 'c' },
      { op: 'prepend', bin: 's', value: 'a' },
      { op: 'write', bin: 'w', value: 'new' },
      { op: 'read', bin: 'n' },
      { op: 'read', bin: 's' },
      { op: 'touch' },
    ]);
    assert.deepEqual(r.bins, { n: 6n, s: 'abc' });
    assert.equal(r.meta?.generation, 2);
    assert.deepEqual((await t.client.get(k('op'))).bins, { n: 6n, s: 'abc', d: 1.75, w: 'new' });
  });

  it('fails an increment of a string bin with BIN_TYPE (12) and changes nothing', async () => {
    await t.client.put(k('bt'), { s: 'text', n: 1n });
    assert.equal(await code(t.client.operate(k('bt'), [{ op: 'add', bin: 'n', value: 1n }, { op: 'add', bin: 's', value: 1n }])), 12);
    assert.deepEqual((await t.client.get(k('bt'))).bins, { s: 'text', n: 1n });
    assert.equal(await code(t.client.operate(k('bt'), [{ op: 'add', bin: 'n', value: 1.5 }])), 12);
    assert.equal(await code(t.client.operate(k('bt'), [{ op: 'add', bin: 'n', value: 2n ** 63n - 1n }])), 4);
  });

  it('runs list operations', async () => {
    const r = await t.client.operate(k('list'), [
      { op: 'list', bin: 'l', kind: 'appendItems', values: [3n, 1n, 2n] },
      { op: 'list', bin: 'l', kind: 'append', value: 9n },
      { op: 'list', bin: 'l', kind: 'insert', index: 0, value: 0n },
      { op: 'list', bin: 'l', kind: 'sort' },
      { op: 'list', bin: 'l', kind: 'get', index: -1 },
      { op: 'list', bin: 'l', kind: 'getRange', index: 1, count: 2 },
      { op: 'list', bin: 'l', kind: 'size' },
      { op: 'list', bin: 'l', kind: 'increment', index: 0, value: 10n },
      { op: 'list', bin: 'l', kind: 'pop', index: 1 },
      { op: 'list', bin: 'l', kind: 'removeByValue', value: 9n },
    ]);
    assert.deepEqual(r.bins['l'], [3n, 4n, 5n, 9n, [1n, 2n], 5n, 10n, 1n, 1n]);
    assert.deepEqual((await t.client.get(k('list'))).bins['l'], [10n, 2n, 3n]);
    assert.equal(await code(t.client.operate(k('list'), [{ op: 'list', bin: 'l', kind: 'get', index: 10 }])), 26);
  });

  it('runs map operations', async () => {
    const r = await t.client.operate(k('map'), [
      { op: 'map', bin: 'm', kind: 'put', key: 'a', value: 1n },
      { op: 'map', bin: 'm', kind: 'putItems', items: new Map([['b', 2n], ['c', 3n]]) },
      { op: 'map', bin: 'm', kind: 'increment', key: 'a', value: 10n },
      { op: 'map', bin: 'm', kind: 'removeByKey', key: 'b' },
      { op: 'map', bin: 'm', kind: 'getByKey', key: 'c' },
      { op: 'map', bin: 'm', kind: 'size' },
    ]);
    assert.deepEqual(r.bins['m'], [1n, 3n, 11n, 2n, 3n, 2n]);
    assert.deepEqual((await t.client.get(k('map'))).bins['m'], new Map([['a', 11n], ['c', 3n]]));
    await t.client.put(k('notmap'), { m: 'str' });
    assert.equal(await code(t.client.operate(k('notmap'), [{ op: 'map', bin: 'm', kind: 'size' }])), 12);
  });

  it('deletes the record inside an operate and can write it again', async () => {
    await t.client.put(k('opdel'), { a: 1n });
    await t.client.operate(k('opdel'), [{ op: 'delete' }]);
    assert.equal(await code(t.client.get(k('opdel'))), 2);
    await t.client.operate(k('opdel'), [{ op: 'delete' }, { op: 'write', bin: 'b', value: 2n }], {});
    assert.deepEqual((await t.client.get(k('opdel'))).bins, { b: 2n });
  });

  it('batch-reads found and missing records in request order', async () => {
    await t.client.put(k('b1'), { v: 1n });
    await t.client.put(k('b3'), { v: 3n });
    const res = await t.client.batchGet([k('b1'), k('b2'), k('b3')]);
    assert.deepEqual((res[0] as ClientRecord).bins, { v: 1n });
    assert.ok(res[1] instanceof DbError && res[1].resultCode === 2);
    assert.deepEqual((res[2] as ClientRecord).bins, { v: 3n });
  });

  it('scans a set, some partitions, with a limit, and resumes from a cursor', async () => {
    for (let i = 0; i < 50; i++) await t.client.put({ namespace: 'test', set: 'scan', key: i.toString() }, { i: BigInt(i), pad: 'x' }, { sendKey: true });
    const recs = await all(t.client.scan('test', { set: 'scan' }));
    assert.equal(recs.length, 50);
    assert.deepEqual(new Set(recs.map((r) => r.bins['i'])), new Set(Array.from({ length: 50 }, (_, i) => BigInt(i))));
    assert.ok(recs.every((r) => typeof r.userKey === 'string'));
    const onlyI = await all(t.client.scan('test', { set: 'scan', bins: ['i'], maxRecords: 7 }));
    assert.equal(onlyI.length, 7);
    assert.ok(onlyI.every((r) => Object.keys(r.bins).join() === 'i'));
    // resume: take 20, then continue from the last cursor; together they are the whole set
    const first = recs.slice(0, 20);
    const last = first[first.length - 1] as ClientRecord;
    const pids = [...new Set(recs.map((r) => r.partition))].filter((p) => p >= last.partition).sort((a, b) => a - b);
    const rest = await all(t.client.scan('test', { set: 'scan', partitions: pids, afterDigest: last.digest }));
    assert.equal(first.length + rest.length, 50);
    const somePids = [...new Set(recs.map((r) => r.partition))].slice(0, 5);
    const some = await all(t.client.scan('test', { set: 'scan', partitions: somePids }));
    assert.equal(some.length, recs.filter((r) => somePids.includes(r.partition)).length);
    assert.equal(await code(all(t.client.scan('test', { partitions: [4096] }))), 4);
    assert.equal(await code(all(t.client.scan('nope'))), 20);
  });

  it('answers whole-record reads (transcoded from storage) exactly as reads of named bins', async () => {
    const bins: Bins = { i: 7n, big: 2n ** 62n, s: 'héllo', l: [1n, 'two', [3.5]], m: new Map<string | bigint, Bins[string]>([['k', 1n], [2n, null]]), g: new GeoJson('{"type":"Point","coordinates":[1,2]}') };
    const names = Object.keys(bins);
    for (let i = 0; i < 20; i++) await t.client.put({ namespace: 'test', set: 'fast', key: `f${i}` }, { ...bins, i: BigInt(i) }, { sendKey: i % 2 === 0 });
    await t.client.put({ namespace: 'ttl', set: 'fast', key: 'other-ns' }, bins);
    const whole = await all(t.client.scan('test', { set: 'fast' }));
    const named = await all(t.client.scan('test', { set: 'fast', bins: names }));
    assert.equal(whole.length, 20);
    assert.deepEqual(whole, named);
    const keys = [...Array.from({ length: 20 }, (_, i) => ({ namespace: 'test', set: 'fast', key: `f${i}` })), { namespace: 'test', set: 'fast', key: 'missing' }, { namespace: 'ttl', set: 'fast', key: 'other-ns' }];
    const batchWhole = await t.client.batchGet(keys);
    const batchNamed = await t.client.batchGet(keys, { bins: names });
    assert.deepEqual(batchWhole, batchNamed);
    assert.ok(batchWhole[20] instanceof DbError && batchWhole[20].resultCode === 2);
    assert.equal((batchWhole[21] as ClientRecord).namespace, 'ttl');
    assert.equal((batchWhole[21] as ClientRecord).meta.ttl, 100);
    for (let i = 0; i < 20; i++) assert.deepEqual(await t.client.get(keys[i] as ReturnType<typeof k>), batchWhole[i]);
  });

  it('packs a scan into messages of records_per_message records without changing what it returns', async () => {
    for (let i = 0; i < 300; i++) await t.client.put({ namespace: 'test', set: 'pack', key: `p${i}` }, { i: BigInt(i), s: 'x'.repeat(i % 50) }, { sendKey: i % 3 === 0 });
    const req = (recordsPerMessage: number, extra: Partial<ScanRequest> = {}): ScanRequest => ({
      namespace: 'test', set: 'pack', partitions: [], afterDigest: new Uint8Array(0), bins: [], noBins: false, maxRecords: 0n, filterJson: '', recordsPerMessage, ...extra,
    });
    const messages = (r: ScanRequest) => all(t.client.stream(KeyValueServiceService.scan, r));
    const flat = (ms: ScanResponse[]) => ms.flatMap((m) => (m.record !== undefined ? [m.record] : m.records));
    const one = await messages(req(1));
    assert.equal(one.length, 300);
    assert.ok(one.every((m) => m.record !== undefined && m.records.length === 0));
    for (const n of [7, 256, 1000]) {
      const packed = await messages(req(n));
      assert.ok(packed.every((m) => m.record === undefined && m.records.length <= n));
      assert.ok(packed.length >= Math.ceil(300 / n) && packed.length < 300, `${packed.length} messages for ${n} per message`);
      assert.deepEqual(flat(packed), flat(one), `records_per_message ${n}`);
    }
    // the decoding path (bins named, metadata only), a limit and a filter pack the same way
    for (const extra of [{ bins: ['i'] }, { noBins: true }, { maxRecords: 45n }, { filterJson: exprToJsonText(E.cmp('<', E.bin('i'), E.lit(100n))) }]) {
      assert.deepEqual(flat(await messages(req(16, extra))), flat(await messages(req(1, extra))), Object.keys(extra).join());
    }
    assert.equal(flat(await messages(req(16, { maxRecords: 45n }))).length, 45);
    // the client packs by default and yields records one by one
    assert.deepEqual((await all(t.client.scan('test', { set: 'pack' }))).map((r) => r.digest), flat(one).map((r) => r.key?.digest));
    assert.equal(await code(messages(req(1001))), 4);
  });

  it('truncates a set and a namespace', async () => {
    for (let i = 0; i < 10; i++) await t.client.put({ namespace: 'test', set: 'tr', key: i.toString() }, { a: 1n });
    await t.client.put({ namespace: 'test', set: 'keep', key: 'k' }, { a: 1n });
    assert.equal(await t.client.truncate('test', 'tr'), 10);
    assert.equal((await all(t.client.scan('test', { set: 'tr' }))).length, 0);
    assert.equal((await t.client.get({ namespace: 'test', set: 'keep', key: 'k' })).bins['a'], 1n);
    clock.advance(10);
    await t.client.put({ namespace: 'test', set: 'tr', key: 'after' }, { a: 1n });
    assert.equal((await t.client.get({ namespace: 'test', set: 'tr', key: 'after' })).bins['a'], 1n, 'writes after a truncate are kept');
  });

  it('refuses a batch whose answer would not fit in one gRPC message, on both read paths', async () => {
    const big = 'x'.repeat(1000 * 1000);
    const keys = Array.from({ length: 18 }, (_, i) => ({ namespace: 'test', set: 'huge', key: `h${i}` }));
    for (const key of keys) await t.client.put(key, { big });
    for (const options of [{}, { bins: ['big'] }]) {
      await assert.rejects(t.client.batchGet(keys, options), (e: unknown) => e instanceof DbError && e.resultCode === 151
        && /16 MiB/.test(e.message) && e.hint !== undefined && /split/.test(e.hint));
    }
    assert.equal((await t.client.batchGet(keys.slice(0, 10))).length, 10, 'a batch that fits is answered');
    await t.client.truncate('test', 'huge');
  });

  it('rejects bad input with the right result codes and helpful messages', async () => {
    assert.equal(await code(t.client.put({ namespace: 'nope', set: 's', key: 'k' }, { a: 1n })), 20);
    assert.equal(await code(t.client.put(k('x'), { 'a-very-long-bin-name': 1n })), 21);
    assert.equal(await code(t.client.put({ namespace: 'test', set: 's'.repeat(64), key: 'k' }, { a: 1n })), 4);
    assert.equal(await code(t.client.put({ namespace: 'ttl', set: 's', key: 'big' }, { a: 'x'.repeat(5000) })), 13);
    assert.equal(await code(t.client.put(k('x'), {})), 4);
    assert.equal(await code(t.client.put(k(''), { a: 1n })), 4);
    assert.equal(await code(t.client.put(k('x'), { g: new GeoJson('{"type":"Nope"}') })), 160);
    try {
      await t.client.get({ namespace: 'nope', set: 's', key: 'k' });
    } catch (err) {
      assert.ok(err instanceof DbError);
      assert.match(err.message, /namespace 'nope'/);
      assert.match(err.hint ?? '', /test/);
    }
  });

  it('applies filter expressions to reads, writes, batches and scans (FILTERED_OUT 27)', async () => {
    for (let i = 0; i < 10; i++) await t.client.put({ namespace: 'test', set: 'flt', key: `f${i}` }, { n: BigInt(i), s: i % 2 === 0 ? 'even' : 'odd' });
    const fk = (i: number) => ({ namespace: 'test', set: 'flt', key: `f${i}` });
    const big = E.cmp('>=', E.bin('n'), E.lit(5n));
    assert.equal((await t.client.get(fk(7), { filter: big })).bins['n'], 7n);
    assert.equal(await code(t.client.get(fk(2), { filter: big })), 27);
    assert.equal(await code(t.client.exists(fk(2), { filter: big })), 27);
    assert.equal(await code(t.client.put(fk(2), { n: 100n }, { filter: big })), 27);
    assert.equal((await t.client.get(fk(2))).bins['n'], 2n, 'a filtered-out write changes nothing');
    await t.client.put(fk(8), { n: 80n }, { filter: big });
    assert.equal((await t.client.get(fk(8))).bins['n'], 80n);
    const batch = await t.client.batchGet([fk(1), fk(9)], { filter: big });
    assert.ok(batch[0] instanceof DbError && batch[0].resultCode === 27);
    assert.equal((batch[1] as ClientRecord).bins['n'], 9n);
    const evens = await all(t.client.scan('test', { set: 'flt', filter: E.and(E.cmp('=', E.bin('s'), E.lit('even')), E.not(E.cmp('=', E.bin('n'), E.lit(4n)))) }));
    assert.deepEqual(evens.map((r) => r.bins['n']).sort((a, b) => Number(a) - Number(b)), [0n, 2n, 6n, 80n]);
    assert.equal(await code(all(t.client.scan('test', { set: 'flt', filter: { kind: 'nope' } as unknown as E.Expr }))), 4);
  });

  it('reports node, namespace, set and bin information and statistics', async () => {
    const info = await t.client.nodeInfo();
    assert.equal(info.nodeId, 'A1');
    assert.match(info.build, /node v24/);
    const sets = await t.client.sets('test');
    assert.ok(sets.some((s) => s.set === 'scan' && s.records === 50n));
    const bins = await t.client.bins('test');
    assert.ok(bins[0]?.bins.includes('pad'));
    const st = await t.client.statistics('test');
    assert.ok(Number(st.get('objects')) > 0);
    const node = await t.client.statistics();
    assert.ok(Number(node.get('client_write_success')) > 0);
  });
});

describe('server/kv over gRPC: commit level and replica policies', function () {
  let t: TestNode;
  before(async () => { t = await startTestNode({ config: { namespaces: [{ name: 'test', storage: 'storage-memory' }] } }); });
  after(async () => { await t.stop(); });
  const key = { namespace: 'test', set: 'p', key: 'a' };

  it('takes commitLevel on writes and replica on reads (one node: it masters everything)', async () => {
    for (const commitLevel of ['all', 'master'] as const) {
      assert.equal((await t.client.put(key, { v: 1n }, { commitLevel })).ttl, -1);
      await t.client.touch(key, { commitLevel });
      await t.client.operate(key, [{ op: 'add', bin: 'v', value: 1n }], { commitLevel });
    }
    for (const replica of ['master', 'any', 'sequence', 'preferRack'] as const) {
      assert.equal((await t.client.get(key, { replica })).bins['v'], 2n);
      assert.ok(await t.client.exists(key, { replica }));
      const [r] = await t.client.batchGet([key], { replica });
      assert.ok(r !== undefined && !(r instanceof DbError) && r.bins['v'] === 2n);
    }
    await t.client.delete(key, { commitLevel: 'master' });
  });

  it('refuses unknown values with a hint, client-side and server-side', async () => {
    await assert.rejects(t.client.put(key, { v: 1n }, { commitLevel: 'some' as 'all' }), (e: DbError) => e.code === 'CLIENT_PARAM' && /commit level/.test(e.message));
    await assert.rejects(t.client.get(key, { replica: 'nearest' as 'any' }), (e: DbError) => e.code === 'CLIENT_PARAM' && /replica/.test(e.message));
    const pbKey = { namespace: 'test', set: 'p', id: { $case: 'stringKey' as const, value: 'a' } };
    const policy = { exists: 0, generationPolicy: 0, generation: 0, ttl: 0n, sendKey: false, durableDelete: false, filterJson: '', commitLevel: 9 } as const;
    assert.equal(await code(t.client.unary(KeyValueServiceService.put, { key: pbKey, bins: [{ name: 'v', value: { kind: { $case: 'int', value: 1n } } }], policy: policy as never }, {}, false)), 4);
    assert.equal(await code(t.client.unary(KeyValueServiceService.get, { key: pbKey, bins: [], headerOnly: false, filterJson: '', readPolicy: { replica: 9 as never } })), 4);
    // a read entry of a batch takes no commit level
    assert.equal(await code(t.client.unary(KeyValueServiceService.batchOperate, {
      entries: [{ key: pbKey, action: { $case: 'read', value: { bins: [], headerOnly: false } }, policy: { ...policy, commitLevel: 2 } as never }],
    }, {}, false)), 4);
  });
});
