import { strict as assert } from 'node:assert';
import { RecordLocks } from '../../core/transaction/record-lock.ts';
import { lockKeyOf } from '../../core/transaction/kernel-state.ts';
import { computeDigest } from '../../core/model/index.ts';
import { andThen, settled, type Maybe } from '../../core/transaction/maybe-async.ts';
import { GuardedEngine } from '../../core/storage/guarded-engine.ts';
import { DbError } from '../../core/errors/index.ts';
import { makeRecord } from 'slipstream/testing';
import type { StorageEngine } from '../../core/plugin-api/index.ts';

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('transaction/record-lock', () => {
  it('runs a free record\'s transaction at once and frees the lock in the same turn when it answers directly', async () => {
    const locks = new RecordLocks(2);
    const order: string[] = [];
    const p = locks.run('k', () => { order.push('a'); return 1; });
    order.push('after a');
    assert.equal(locks.size, 0);
    const q = locks.run('k', () => { order.push('b'); return 2; });
    assert.deepEqual(order, ['a', 'after a', 'b']);
    // answered directly: the value itself, no promise
    assert.deepEqual([p, q], [1, 2]);
  });

  it('frees the lock when the transaction throws at once or rejects later', async () => {
    const locks = new RecordLocks(2);
    // a throw at once is thrown at once (no rejected promise to make)
    assert.throws(() => locks.run('k', () => { throw new Error('at once'); }), /at once/);
    assert.equal(locks.size, 0);
    await assert.rejects(settled(() => locks.run('k', () => Promise.reject(new Error('later')))), /later/);
    assert.equal(locks.size, 0);
    assert.equal(await locks.run('k', () => 'free'), 'free');
  });

  it('queues transactions behind one that waits, in order, and refuses beyond the pending limit with KEY_BUSY', async () => {
    const locks = new RecordLocks(2);
    const order: string[] = [];
    let open!: () => void;
    const first = locks.run('k', () => new Promise<string>((resolve) => { open = () => resolve('first'); }));
    const second = locks.run('k', () => { order.push('second'); return 'second'; });
    const third = locks.run('k', async () => { order.push('third'); await tick(); return 'third'; });
    const other = locks.run('other', () => 'other');
    assert.equal(await other, 'other');
    const busy = await settled(() => locks.run('k', () => 'fourth')).then(() => undefined, (err: unknown) => err);
    assert.ok(busy instanceof DbError && busy.code === 'KEY_BUSY', String(busy));
    await tick();
    assert.deepEqual(order, []);
    open();
    assert.deepEqual(await Promise.all([first, second, third]), ['first', 'second', 'third']);
    assert.deepEqual(order, ['second', 'third']);
    assert.equal(locks.size, 0);
  });

  it('makes one started from inside a running transaction\'s turn on the same record wait for it, whether that one ends at once or later', async () => {
    for (const outerEnds of ['at once', 'later'] as const) {
      const locks = new RecordLocks(5);
      const order: string[] = [];
      let inner: Maybe<string> | undefined;
      const outer = locks.run('k', () => {
        order.push('outer starts');
        inner = locks.run('k', () => { order.push('inner'); return 'inner'; });
        const other = locks.run('other', () => { order.push('other record'); return 'other'; });
        void other;
        order.push('outer ends');
        return outerEnds === 'at once' ? 'outer' : tick().then(() => 'outer');
      });
      assert.deepEqual(await Promise.all([outer, inner]), ['outer', 'inner'], outerEnds);
      assert.deepEqual(order, ['outer starts', 'other record', 'outer ends', 'inner'], outerEnds);
      assert.equal(locks.size, 0);
    }
  });

  it('keys a record\'s lock by its namespace and digest: the same record the same key, any other record another', () => {
    const digests = Array.from({ length: 200 }, (_, i) => computeDigest('s', `k${i}`));
    const keys = new Set<string>();
    for (const ns of ['test', 'bar', 'a']) {
      for (const d of digests) {
        const k = lockKeyOf(ns, d);
        assert.equal(lockKeyOf(ns, new Uint8Array(d)), k);
        keys.add(k);
      }
      keys.add(lockKeyOf(ns, new Uint8Array(19)));
    }
    assert.equal(keys.size, 3 * 201);
  });

  it('chains steps at once for values and after the promise for promises; settled turns a throw into a rejection', async () => {
    const seen: number[] = [];
    const direct = andThen(1, (v) => { seen.push(v); return v + 1; });
    assert.equal(direct, 2);
    assert.deepEqual(seen, [1]);
    const later = andThen(Promise.resolve(5), (v) => v * 2);
    assert.ok(later instanceof Promise);
    assert.equal(await later, 10);
    // a thenable that is not a native promise is waited for, not taken as the value
    const thenable = { then: (ok: (v: number) => void) => ok(7) } as unknown as Promise<number>;
    assert.equal(await andThen(thenable, (v) => v + 1), 8);
    await assert.rejects(settled(() => { throw new Error('thrown'); }), /thrown/);
    assert.equal(await settled(() => 3), 3);
  });
});

describe('storage/guarded-engine answers', () => {
  const rec = makeRecord('s', 'k', 'v');
  function engine(answer: 'value' | 'promise' | 'throw' | 'reject' | 'thenable'): StorageEngine {
    const fault = new Error('disk on fire');
    const out = <T>(v: T): T | Promise<T> => {
      switch (answer) {
        case 'value': return v;
        case 'promise': return Promise.resolve(v);
        case 'throw': throw fault;
        case 'reject': return Promise.reject(fault);
        case 'thenable': return { then: (ok: (x: T) => void) => ok(v) } as unknown as Promise<T>;
      }
    };
    return {
      capabilities: { persistent: false, maxRecordBytes: 1 << 20 },
      get: () => out(rec), put: () => out({ ok: true }), remove: () => out({ ok: true }),
      scan: async function* () { /* none */ }, truncate: async () => 0, stats: async () => ({ records: 0, tombstones: 0, memoryBytes: 0, diskBytes: 0, sets: new Map() }), close: async () => {},
    };
  }

  it('passes a direct answer through as it is and makes any promise a native one', async () => {
    assert.equal(new GuardedEngine(engine('value'), 'x').get(rec.digest), rec);
    assert.deepEqual(new GuardedEngine(engine('value'), 'x').put(rec, { kind: 'any' }), { ok: true });
    for (const kind of ['promise', 'thenable'] as const) {
      const g = new GuardedEngine(engine(kind), 'x');
      const got = g.get(rec.digest);
      assert.ok(got instanceof Promise, kind);
      assert.equal(await got, rec);
      const put = g.remove(rec.digest, { kind: 'any' });
      assert.ok(put instanceof Promise, kind);
      assert.deepEqual(await put, { ok: true });
    }
  });

  it('names the plugin in a fault thrown at once or rejected, and counts it', async () => {
    for (const kind of ['throw', 'reject'] as const) {
      const counted: string[] = [];
      const g = new GuardedEngine(engine(kind), 'disk-plugin', (op) => counted.push(op));
      for (const call of [(): unknown => g.get(rec.digest), (): unknown => g.put(rec, { kind: 'any' }), (): unknown => g.remove(rec.digest, { kind: 'any' })]) {
        await assert.rejects(settled(call), (e: DbError) => e.code === 'SERVER_ERROR' && /storage plugin disk-plugin failed in (get|put|remove): disk on fire/.test(e.message));
      }
      assert.deepEqual(counted, ['get', 'put', 'remove'], kind);
    }
    const closed = new GuardedEngine(engine('value'), 'x');
    await closed.close();
    await assert.rejects(settled(() => closed.get(rec.digest)), /is closed/);
    await assert.rejects(settled(() => closed.put(rec, { kind: 'any' })), /is closed/);
    await assert.rejects(settled(() => closed.getMeta(rec.digest)), /is closed/);
  });

  it('reads metadata with the engine\'s getMeta when it has one, and with get when it has none (faults named alike)', async () => {
    const withoutMeta = engine('value');
    assert.equal(new GuardedEngine(withoutMeta, 'x').getMeta(rec.digest), rec, 'get answers for an engine without getMeta');
    const metaOnly = { set: 's', meta: rec.meta, tombstone: false };
    const asked: string[] = [];
    const withMeta: StorageEngine = { ...engine('value'), get: () => { asked.push('get'); return rec; }, getMeta: () => { asked.push('getMeta'); return metaOnly; } };
    assert.equal(new GuardedEngine(withMeta, 'x').getMeta(rec.digest), metaOnly);
    assert.deepEqual(asked, ['getMeta']);
    const later: StorageEngine = { ...engine('value'), getMeta: () => Promise.resolve(metaOnly) };
    assert.equal(await new GuardedEngine(later, 'x').getMeta(rec.digest), metaOnly);
    for (const kind of ['throw', 'reject'] as const) {
      const counted: string[] = [];
      await assert.rejects(settled(() => new GuardedEngine(engine(kind), 'disk-plugin', (op) => counted.push(op)).getMeta(rec.digest)), /failed in get: disk on fire/);
      const broken: StorageEngine = { ...engine('value'), getMeta: () => (kind === 'throw' ? (() => { throw new Error('bad header'); })() : Promise.reject(new Error('bad header'))) };
      await assert.rejects(settled(() => new GuardedEngine(broken, 'disk-plugin', (op) => counted.push(op)).getMeta(rec.digest)), /storage plugin disk-plugin failed in getMeta: bad header/);
      assert.deepEqual(counted, ['get', 'getMeta'], kind);
    }
  });
});
