import { strict as assert } from 'node:assert';
import { Kernel } from '../../core/transaction/kernel.ts';
import { Namespace } from '../../core/storage/namespace.ts';
import { GuardedEngine } from '../../core/storage/guarded-engine.ts';
import { singleNodeRouter } from '../../core/transaction/routing.ts';
import { memoryStorage } from '../../plugins/storage-memory/index.ts';
import { silentLogger } from '../../core/plugin-api/index.ts';
import { NAMESPACE_DEFAULTS, mapOrder, type BinValue, type MapKey } from '../../core/model/index.ts';
import { memorySystemMetadata } from '../../core/storage/system-metadata.ts';
import { UdfEngine } from '../../core/udf/index.ts';
import { aggregateScan, executeRecordUdf } from '../../core/udf/kernel-bridge.ts';
import { UdfJobs } from '../../core/udf/jobs.ts';
import { SmdModuleStore } from '../../core/udf/smd-store.ts';
import { ManualClock } from '../helpers/manual-clock.ts';
import { rejects } from './helpers.ts';

const MODULE = `
export function add(rec, bin, n) { rec[bin] = (rec[bin] ?? 0) + n; record.setTtl(rec, 100); aerospike.update(rec); return rec[bin]; }
export function fail(rec) { rec.x = 1; aerospike.update(rec); throw new Error('1000:no'); }
export function drop(rec) { aerospike.remove(rec); return record.gen(rec); }
export function putKey(rec, bin, k, v) { rec[bin][k] = v; aerospike.update(rec); }
export function total(stream, bin) { return stream.map((r) => r[bin] ?? 0).reduce((a, b) => a + b); }
`;

describe('udf/kernel', function () {
  let k: Kernel;
  let engine: UdfEngine;
  const smd = memorySystemMetadata();
  before(async () => {
    const clock = new ManualClock();
    const cfg = { name: 'test', storage: 'storage-memory', ...NAMESPACE_DEFAULTS };
    const storage = await memoryStorage().create({ nodeId: 1n, logger: silentLogger, clock, signal: new AbortController().signal }, cfg, {});
    k = new Kernel({ namespaces: [new Namespace(cfg, new GuardedEngine(storage, 'storage-memory'))], clock, router: singleNodeRouter(1n), logger: silentLogger });
    engine = await UdfEngine.open({ store: new SmdModuleStore(smd), poolSize: 1 });
    await engine.register('k.js', MODULE);
  });
  after(() => engine.close());

  it('applies a record UDF under the kernel lock with generation and TTL', async () => {
    const key = k.key('test', 'demo', 'acct');
    const first = await executeRecordUdf(k, engine, key, { module: 'k', fn: 'add', args: ['n', 5n] });
    assert.equal(first.value, 5n);
    assert.equal(first.meta?.generation, 1);
    assert.ok((first.meta?.voidTime ?? 0) > 0);
    const runs = await Promise.all(Array.from({ length: 10 }, () => executeRecordUdf(k, engine, key, { module: 'k', fn: 'add', args: ['n', 1n] })));
    assert.deepEqual(runs.map((r) => r.value).sort(), Array.from({ length: 10 }, (_, i) => BigInt(6 + i)).sort());
    const rec = await k.get(key);
    assert.equal(rec.bins.n, 15n);
    assert.equal(rec.meta.generation, 11);
    const err = await rejects(executeRecordUdf(k, engine, key, { module: 'k', fn: 'fail' }));
    assert.equal(err.resultCode, 1000);
    assert.equal((await k.get(key)).bins.x, undefined);
    assert.equal((await executeRecordUdf(k, engine, key, { module: 'k', fn: 'drop' })).value, 11n);
    assert.equal(await k.exists(key), undefined);
    assert.equal((await executeRecordUdf(k, engine, key, { module: 'k', fn: 'drop' })).effect, 'delete');
  });

  it('keeps a stored key-ordered map key-ordered when a UDF changes it (as Aerospike\'s Lua keeps map flags)', async () => {
    const key = k.key('test', 'demo', 'ordered-map');
    await k.operate(key, [
      { op: 'map', bin: 'm', kind: 'setOrder', order: 'keyOrdered' },
      { op: 'map', bin: 'm', kind: 'putItems', items: new Map<MapKey, BinValue>([['m', 1n], ['t', 2n]]) },
    ]);
    await executeRecordUdf(k, engine, key, { module: 'k', fn: 'putKey', args: ['m', 'c', 3n] });
    const stored = (await k.get(key)).bins.m as ReadonlyMap<MapKey, BinValue>;
    assert.equal(mapOrder(stored), 'keyOrdered');
    assert.deepEqual([...stored.keys()], ['c', 'm', 't']);
    // the map operations see a key-ordered map: index 0 is the smallest key, not the one added last
    const r = await k.operate(key, [{ op: 'map', bin: 'm', kind: 'getByIndex', index: 0, returnType: 'key' }]);
    assert.equal(r.bins.m, 'c');
  });

  it('aggregates over a scan and runs throttled background jobs with progress and kill', async () => {
    for (let i = 0; i < 40; i++) await k.put(k.key('test', 'bg', BigInt(i)), { v: BigInt(i) });
    assert.deepEqual(await aggregateScan(k, engine, { module: 'k', fn: 'total', args: ['v'] }, { namespace: 'test', set: 'bg' }, { batchSize: 7 }), [780n]);
    const jobs = new UdfJobs(k, engine);
    const fast = jobs.start({ call: { module: 'k', fn: 'add', args: ['v', 1n] }, namespace: 'test', set: 'bg', records: (signal) => k.scan({ namespace: 'test', set: 'bg', signal }), total: 40 });
    const done = await jobs.wait(fast.id);
    assert.deepEqual({ status: done.status, done: done.done, succeeded: done.succeeded, failed: done.failed }, { status: 'done', done: 40, succeeded: 40, failed: 0 });
    assert.deepEqual(await aggregateScan(k, engine, { module: 'k', fn: 'total', args: ['v'] }, { namespace: 'test', set: 'bg' }), [820n]);
    const slow = jobs.start({ call: { module: 'k', fn: 'add', args: ['v', 1n] }, namespace: 'test', set: 'bg', records: (signal) => k.scan({ namespace: 'test', set: 'bg', signal }), recordsPerSecond: 50, total: 40 });
    await new Promise((r) => setTimeout(r, 150));
    const mid = jobs.get(slow.id);
    assert.ok(mid !== undefined && mid.done >= 3 && mid.done <= 12, `throttled progress ${mid?.done}`);
    assert.equal(jobs.kill(slow.id), true);
    const killed = await jobs.wait(slow.id);
    assert.equal(killed.status, 'killed');
    assert.ok(killed.done < 40);
    assert.deepEqual(jobs.list().map((j) => j.status), ['done', 'killed']);
    const failing = jobs.start({ call: { module: 'k', fn: 'fail' }, namespace: 'test', set: 'bg', records: (signal) => k.scan({ namespace: 'test', set: 'bg', signal, maxRecords: 3 }) });
    const f = await jobs.wait(failing.id);
    assert.deepEqual({ done: f.done, failed: f.failed }, { done: 3, failed: 3 });
    assert.match(f.errors[0] ?? '', /^1000: no/);
    await jobs.close();
  });

  it('keeps modules in system metadata', async () => {
    const entries = smd.module('udf').list();
    assert.deepEqual(entries.map((e) => e.key), ['k.js']);
    const again = await UdfEngine.open({ store: new SmdModuleStore(smd), poolSize: 1 });
    try {
      assert.equal(again.getModule('k')?.hash, engine.getModule('k')?.hash);
    } finally {
      again.close();
    }
  });
});
