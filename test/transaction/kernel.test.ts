import { strict as assert } from 'node:assert';
import { Kernel, type RecordChange } from '../../core/transaction/kernel.ts';
import { Namespace } from '../../core/storage/namespace.ts';
import { GuardedEngine } from '../../core/storage/guarded-engine.ts';
import { singleNodeRouter } from '../../core/transaction/routing.ts';
import { writePolicy } from '../../core/transaction/policy.ts';
import { memoryStorage } from '../../plugins/storage-memory/index.ts';
import { silentLogger, type StorageEngine, type StoredRecord } from '../../core/plugin-api/index.ts';
import { NAMESPACE_DEFAULTS } from '../../core/model/index.ts';
import { DbError } from '../../core/errors/index.ts';
import { ManualClock } from '../helpers/manual-clock.ts';

/**
 * An engine that answers every get, put and remove a turn later, as one that goes to disk does
 * (the memory engine answers at once, so writes on one record never wait for each other).
 */
function answeringLater(engine: StorageEngine): StorageEngine {
  return {
    capabilities: engine.capabilities,
    get: (d) => Promise.resolve().then(() => engine.get(d)),
    put: (r, e) => Promise.resolve().then(() => engine.put(r, e)),
    remove: (d, e) => Promise.resolve().then(() => engine.remove(d, e)),
    scan: (o) => engine.scan(o),
    truncate: (o) => engine.truncate(o),
    stats: () => engine.stats(),
    close: () => engine.close(),
  };
}

async function kernel(pendingLimit = 20, router = singleNodeRouter(1n), later = false): Promise<{ k: Kernel; clock: ManualClock; changes: RecordChange[]; engine: StorageEngine }> {
  const clock = new ManualClock();
  const cfg = { name: 'test', storage: 'storage-memory', ...NAMESPACE_DEFAULTS };
  const memory = await memoryStorage().create({ nodeId: 1n, logger: silentLogger, clock, signal: new AbortController().signal }, cfg, {});
  const engine = later ? answeringLater(memory) : memory;
  const k = new Kernel({ namespaces: [new Namespace(cfg, new GuardedEngine(engine, 'storage-memory'))], clock, router, logger: silentLogger, transactionPendingLimit: pendingLimit });
  const changes: RecordChange[] = [];
  k.addListener({ onChange: (c) => changes.push(c) });
  return { k, clock, changes, engine };
}

describe('transaction/kernel', () => {
  it('serialises writes to one record and refuses with KEY_BUSY beyond the pending limit', async () => {
    const { k } = await kernel(3, singleNodeRouter(1n), true);
    const key = k.key('test', 's', 'hot');
    await k.put(key, { n: 0n });
    const results = await Promise.allSettled(Array.from({ length: 20 }, () => k.operate(key, [{ op: 'add', bin: 'n', value: 1n }])));
    const busy = results.filter((r) => r.status === 'rejected' && (r.reason as DbError).code === 'KEY_BUSY').length;
    const ok = results.filter((r) => r.status === 'fulfilled').length;
    assert.ok(busy > 0);
    assert.ok(ok >= 4);
    assert.equal((await k.get(key)).bins['n'], BigInt(ok));
  });

  it('a write served from memory is stored in the caller\'s turn; one waiting on storage holds the record for the next', async () => {
    const now = await kernel();
    const key = now.k.key('test', 's', 'at-once');
    const stored = (): number | undefined => (now.engine.get(key.digest) as StoredRecord | undefined)?.meta.generation;
    const first = now.k.put(key, { n: 1n });
    // no turn has passed: the memory engine holds the record already, and the lock is free again
    assert.equal(stored(), 1);
    const second = now.k.put(key, { n: 2n });
    assert.equal(stored(), 2);
    assert.deepEqual([(await first)?.generation, (await second)?.generation], [1, 2]);
    const later = await kernel(20, singleNodeRouter(1n), true);
    const a = later.k.put(key, { n: 1n });
    const b = later.k.put(key, { n: 2n });
    assert.equal(await later.engine.get(key.digest), undefined);
    assert.deepEqual([(await a)?.generation, (await b)?.generation], [1, 2]);
    assert.equal((await later.k.get(key)).bins['n'], 2n);
  });

  it('loses no increments under concurrency within the limit', async () => {
    for (const later of [false, true]) {
      const { k } = await kernel(1000, singleNodeRouter(1n), later);
      const key = k.key('test', 's', 'counter');
      await Promise.all(Array.from({ length: 500 }, () => k.operate(key, [{ op: 'add', bin: 'n', value: 1n }])));
      const rec = await k.get(key);
      assert.equal(rec.bins['n'], 500n);
      assert.equal(rec.meta.generation, 500);
    }
  });

  it('tells listeners about writes, deletes and expiries with before and after bins', async () => {
    const { k, clock, changes } = await kernel();
    const key = k.key('test', 's', 'l');
    await k.put(key, { a: 1n });
    await k.put(key, { a: 2n });
    await k.delete(key);
    await k.put(key, { a: 3n }, writePolicy({ ttl: 5 }));
    clock.advance(6000);
    assert.equal(await k.sweepExpired('test'), 1);
    assert.deepEqual(changes.map((c) => [c.cause, c.before?.['a'], c.after?.['a']]), [
      ['write', undefined, 1n], ['write', 1n, 2n], ['delete', 2n, undefined], ['write', undefined, 3n], ['expire', 3n, undefined],
    ]);
  });

  it('refuses operations on partitions this node does not master', async () => {
    const { k } = await kernel(20, { localNode: 1n, masterOf: (_ns, pid) => (pid % 2 === 0 ? 1n : 2n) });
    let odd = k.key('test', 's', 'a');
    for (let i = 0; odd.partition % 2 === 0; i++) odd = k.key('test', 's', `k${i}`);
    await assert.rejects(k.put(odd, { a: 1n }), (e: unknown) => e instanceof DbError && e.code === 'UNAVAILABLE' && /node 2/.test(e.message));
  });

  it('re-raises engine faults as DbError naming the plugin and operation', async () => {
    const broken: StorageEngine = {
      capabilities: { persistent: false, maxRecordBytes: 1 << 20 },
      get: () => Promise.reject(new Error('disk on fire')),
      put: () => Promise.reject(new Error('disk on fire')),
      remove: () => Promise.reject(new Error('disk on fire')),
      scan: () => { throw new Error('disk on fire'); },
      truncate: () => Promise.reject(new Error('disk on fire')),
      stats: () => Promise.reject(new Error('disk on fire')),
      close: () => Promise.resolve(),
    };
    const cfg = { name: 'test', storage: 'storage-broken', ...NAMESPACE_DEFAULTS };
    const k = new Kernel({ namespaces: [new Namespace(cfg, new GuardedEngine(broken, 'storage-broken'))], clock: new ManualClock(), router: singleNodeRouter(1n), logger: silentLogger });
    await assert.rejects(k.get(k.key('test', 's', 'x')), (e: unknown) => e instanceof DbError && e.plugin === 'storage-broken' && /failed in get: disk on fire/.test(e.message));
  });

  it('removes records only once a truncate listener has made the marker durable, and fails the truncate when it cannot', async () => {
    const { k } = await kernel();
    const key = k.key('test', 's', 't');
    await k.put(key, { a: 1n });
    const ns = k.namespace('test');
    let releaseSave!: () => void;
    let storedWhenSaved = -1;
    k.addListener({
      onTruncate: () => new Promise<void>((resolve) => {
        releaseSave = () => { void ns.engine.stats().then((s) => { storedWhenSaved = s.records; resolve(); }); };
      }),
    });
    const truncating = k.truncate('test', 's');
    await new Promise((r) => setTimeout(r, 20));
    assert.equal((await ns.engine.stats()).records, 1, 'nothing removed while the marker is being saved');
    releaseSave();
    assert.equal(await truncating, 1);
    assert.equal(storedWhenSaved, 1);

    const { k: k2 } = await kernel();
    const key2 = k2.key('test', 's', 't');
    await k2.put(key2, { a: 1n });
    k2.addListener({ onTruncate: () => Promise.reject(new Error('metadata disk full')) });
    await assert.rejects(k2.truncate('test', 's'), (e: unknown) => e instanceof DbError && e.code === 'SERVER_ERROR'
      && /marker could not be saved \(metadata disk full\); no records were removed/.test(e.message) && e.hint !== undefined);
    const ns2 = k2.namespace('test');
    assert.equal((await ns2.engine.stats()).records, 1, 'the engine still holds the record');
  });

  it('never runs a write after its deadline: one that waited past it for the record is refused (TIMEOUT, not in doubt) and changes nothing', async () => {
    const { k, clock } = await kernel();
    const key = k.key('test', 's', 'late');
    await k.put(key, { v: 1n });
    // a write holds the record while a second one, due 100 ms from now, waits for it
    let release: () => void = () => {};
    const held = k.mutate(key, writePolicy(), async () => {
      await new Promise<void>((r) => { release = r; });
      return { mutation: { kind: 'write', bins: { v: 2n } }, value: undefined };
    });
    const late = k.put(key, { v: 3n }, writePolicy({ deadline: clock.now() + 100 }));
    const lateOutcome = late.then(() => undefined, (e: unknown) => e);
    await new Promise((r) => setImmediate(r));
    clock.advance(150);
    release();
    await held;
    const err = await lateOutcome;
    assert.ok(err instanceof DbError && err.code === 'TIMEOUT' && !err.inDoubt, `refused, not in doubt (got ${String(err)})`);
    const rec = await k.get(key);
    assert.equal(rec.bins['v'], 2n);
    assert.equal(rec.meta.generation, 2);
    // within its deadline the same write runs
    await k.put(key, { v: 4n }, writePolicy({ deadline: clock.now() + 100 }));
    assert.equal((await k.get(key)).bins['v'], 4n);
  });

  it('refuses a truncate cut-off in the future', async () => {
    const { k, clock } = await kernel();
    await assert.rejects(k.truncate('test', undefined, clock.now() + 60_000), (e: unknown) => e instanceof DbError && e.code === 'PARAMETER');
  });

  it('a scan on a single node stops at its deadline (TIMEOUT, not in doubt), records its filter drops included', async () => {
    const { k, clock } = await kernel();
    for (let i = 0; i < 50; i++) await k.put(k.key('test', 's', `r${i}`), { n: BigInt(i) });
    let read = 0;
    const dropAll = (): boolean => {
      read++;
      if (read === 10) clock.advance(1000); // the tenth record read takes the scan past its deadline
      return false;
    };
    const scan = async (): Promise<number> => { let n = 0; for await (const _r of k.scan({ namespace: 'test', filter: dropAll, deadline: clock.now() + 500 })) n++; return n; };
    await assert.rejects(scan(), (e: unknown) => e instanceof DbError && e.code === 'TIMEOUT' && !e.inDoubt && /scan's deadline passed/.test(e.message));
    assert.equal(read, 10, 'no record was read past the deadline');
    // without a deadline the same scan reads every record
    read = -1000;
    let all = 0;
    for await (const _r of k.scan({ namespace: 'test', filter: () => { all++; return true; } })) { /* drain */ }
    assert.equal(all, 50);
  });
});

