import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeRecord } from 'slipstream/testing';
import { Evictor, engineRemover, parseEvictionConfig, type EvictionConfig } from '../../core/storage/eviction.ts';
import { TombRaider, parseTombRaiderConfig } from '../../core/storage/eviction-tombstones.ts';
import { lmdbStorage } from '../../plugins/storage-lmdb/index.ts';
import { memoryStorage } from '../../plugins/storage-memory/index.ts';
import { silentLogger, systemClock, ResultCode, DbError, type Clock, type StorageEngine, type StoredRecord } from '../../core/plugin-api/index.ts';
import { NAMESPACE_DEFAULTS } from '../../core/model/index.ts';

const NOW = 1_800_000_000_000;
const clock: Clock & { t: number } = { t: NOW, now() { return this.t; }, setTimeout: () => ({ id: 0 }), clearTimeout: () => {} };
const ctx = { nodeId: 1n, logger: silentLogger, clock: systemClock, signal: new AbortController().signal };
const ns = { name: 'bar', storage: 'x', ...NAMESPACE_DEFAULTS };

const dirs: string[] = [];
after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });
const engines: { name: string; open(): Promise<StorageEngine> }[] = [
  { name: 'storage-memory', open: () => memoryStorage().create(ctx, ns, {}) },
  {
    name: 'storage-lmdb',
    open: () => {
      const dir = mkdtempSync(join(tmpdir(), 'slip-evict-'));
      dirs.push(dir);
      return lmdbStorage().create(ctx, ns, { dataDir: dir });
    },
  },
];

/** A record of ~1 KB expiring `ttlSec` after NOW (0: never). */
function rec(key: string, ttlSec: number, gen = 1): StoredRecord {
  return makeRecord('s', key, 'x'.repeat(1000), { meta: { generation: gen, voidTime: ttlSec === 0 ? 0 : NOW / 1000 + ttlSec, lastUpdateMs: NOW - 1 } });
}

async function keysOf(engine: StorageEngine): Promise<Set<string>> {
  const out = new Set<string>();
  for await (const r of engine.scan({})) out.add(Buffer.from(r.key ?? []).subarray(1).toString());
  return out;
}

describe('eviction config', () => {
  it('has Aerospike-like defaults and refuses bad settings with hints', () => {
    assert.deepEqual(parseEvictionConfig(undefined), { sizeBytes: 0, evictUsedPct: 60, stopWritesUsedPct: 70, evictTenthsPct: 5, checkPeriodMs: 1000 });
    assert.equal(parseEvictionConfig({ sizeBytes: 1 << 20, evictUsedPct: 50 }).evictUsedPct, 50);
    assert.throws(() => parseEvictionConfig({ sizeByte: 5 }), (e: DbError) => e.code === 'PARAMETER' && /sizeByte: is not an eviction setting/.test(e.message) && /sizeBytes/.test(e.hint ?? ''));
    assert.throws(() => parseEvictionConfig({ evictUsedPct: 101 }), /from 0 to 100/);
    assert.throws(() => parseEvictionConfig({ evictUsedPct: 80, stopWritesUsedPct: 70 }), (e: DbError) => /must be below stopWritesUsedPct/.test(e.message) && e.hint !== undefined);
    assert.throws(() => parseEvictionConfig([]), /must be an object/);
    assert.deepEqual(parseTombRaiderConfig({ eligibleAgeSec: 60 }), { eligibleAgeSec: 60, periodSec: 86_400 });
    assert.throws(() => parseTombRaiderConfig({ age: 1 }), /not a tomb raider setting/);
  });
});

for (const target of engines) {
  describe(`eviction and stop-writes on ${target.name}`, () => {
    let engine: StorageEngine;
    beforeEach(async () => { engine = await target.open(); });
    afterEach(async () => { await engine.close(); });

    function evictor(config: Partial<EvictionConfig>): Evictor {
      return new Evictor({ namespace: 'bar', engine, config: { ...parseEvictionConfig(undefined), ...config }, remover: engineRemover(engine), clock, logger: silentLogger });
    }

    it('does nothing below the high-water mark or without a size', async () => {
      for (let i = 0; i < 10; i++) await engine.put(rec(`k${i}`, 100 + i), { kind: 'any' });
      assert.equal((await evictor({ sizeBytes: 0 }).check()).evicted, 0);
      const r = await evictor({ sizeBytes: 1_000_000 }).check();
      assert.equal(r.evicted, 0);
      assert.equal(r.stopWrites, false);
      assert.ok(r.usedBytes > 10_000 && r.usedPct > 1);
    });

    it('evicts the records nearest to expiry first, never those without a TTL, down under the mark', async () => {
      // 20 records expiring in 1000+i s (i shuffled), 10 that never expire; ~31 KB used
      const order = [13, 2, 19, 7, 0, 11, 5, 17, 3, 9, 15, 1, 18, 6, 12, 4, 16, 8, 14, 10];
      for (const i of order) await engine.put(rec(`ttl${i}`, 1000 + i * 10), { kind: 'any' });
      for (let i = 0; i < 10; i++) await engine.put(rec(`forever${i}`, 0), { kind: 'any' });
      const used = (await evictor({ sizeBytes: 1 << 30 }).check()).usedBytes;
      // size such that the mark (60 %) sits at about 22 of the 30 records
      const size = Math.round(used * 22 / 30 / 0.6);
      const ev = evictor({ sizeBytes: size, evictTenthsPct: 0 });
      const r = await ev.check();
      assert.ok(r.evicted >= 7 && r.evicted <= 9, `evicted ${r.evicted}`);
      assert.ok(r.usedPct <= 60, `used ${r.usedPct}%`);
      const left = await keysOf(engine);
      for (let i = 0; i < 10; i++) assert.ok(left.has(`forever${i}`));
      for (let i = 0; i < 20; i++) assert.equal(left.has(`ttl${i}`), i >= r.evicted, `ttl${i} (evicted ${r.evicted})`);
      assert.equal(r.evictedThroughVoidTime, NOW / 1000 + 1000 + (r.evicted - 1) * 10);
      assert.equal(ev.stats().evicted, r.evicted);
      assert.equal((await ev.check()).evicted, 0, 'below the mark now');
    });

    it('evicts only part of the records sharing the threshold void time', async () => {
      for (let i = 0; i < 20; i++) await engine.put(rec(`same${i}`, 500), { kind: 'any' });
      const used = (await evictor({ sizeBytes: 1 << 30 }).check()).usedBytes;
      const r = await evictor({ sizeBytes: Math.round(used / 0.6 * 0.75), evictTenthsPct: 0 }).check();
      assert.ok(r.evicted >= 4 && r.evicted <= 6, `evicted ${r.evicted}`);
      assert.equal((await keysOf(engine)).size, 20 - r.evicted);
    });

    it('does not evict a record rewritten since the scan', async () => {
      await engine.put(rec('a', 10), { kind: 'any' });
      const remover = engineRemover(engine);
      const stale = rec('a', 10);
      await engine.put(rec('a', 10, 2), { kind: 'any' });
      assert.equal(await remover.removeIf(stale.digest, (cur) => cur.meta.generation === 1), false);
      assert.ok(await engine.get(stale.digest));
    });

    it('stops writes at the limit with OUT_OF_SPACE (8), keeps reads, deletes and durable deletes, and recovers', async () => {
      for (let i = 0; i < 10; i++) await engine.put(rec(`k${i}`, 0), { kind: 'any' });
      const used = (await evictor({ sizeBytes: 1 << 30 }).check()).usedBytes;
      const ev = evictor({ sizeBytes: Math.round(used / 0.72), evictUsedPct: 0 }); // 72 % used, stop at 70 %
      const guarded = ev.guard(engine);
      const r = await ev.check();
      assert.equal(r.stopWrites, true);
      assert.equal(ev.stopWrites, true);
      await assert.rejects(Promise.resolve(guarded.put(rec('new', 0), { kind: 'any' })), (e: DbError) => {
        assert.equal(e.code, 'OUT_OF_SPACE');
        assert.equal(e.resultCode, ResultCode.OUT_OF_SPACE);
        assert.equal(e.resultCode, 8);
        assert.match(e.message, /namespace bar is at 7\d\.\d% of its .* \(stop-writes at 70%\): writes are refused, reads go on/);
        assert.match(e.hint ?? '', /delete records/);
        return true;
      });
      assert.ok(await guarded.get(rec('k0', 0).digest), 'reads go on');
      assert.equal((await guarded.put({ ...rec('k1', 0), tombstone: true, payload: new Uint8Array(0) }, { kind: 'any' })).ok, true, 'durable delete');
      assert.equal((await guarded.remove(rec('k2', 0).digest, { kind: 'any' })).ok, true, 'delete');
      await guarded.remove(rec('k3', 0).digest, { kind: 'any' });
      assert.equal((await ev.check()).stopWrites, false);
      assert.equal((await guarded.put(rec('new', 0), { kind: 'any' })).ok, true);
    });

    it('engages stop-writes between checks while writes pour in', async () => {
      const ev = evictor({ sizeBytes: 100_000, evictUsedPct: 0 });
      const guarded = ev.guard(engine);
      await ev.check();
      let refused: unknown;
      let i = 0;
      for (; i < 500 && refused === undefined; i++) {
        try { await guarded.put(rec(`w${i}`, 0), { kind: 'any' }); } catch (e) { refused = e; }
      }
      assert.ok(refused instanceof DbError && refused.code === 'OUT_OF_SPACE');
      assert.ok(i < 120, `refused only after ${i} writes`);
      assert.ok(ev.stats().usedPct >= 70);
    });

    it('the tomb raider removes tombstones past their eligible age only, and waits while they are needed', async () => {
      const old = { ...rec('old', 0), tombstone: true, payload: new Uint8Array(0), meta: { generation: 3, voidTime: 0, lastUpdateMs: NOW - 2 * 86_400_000 } };
      const young = { ...rec('young', 0), tombstone: true, payload: new Uint8Array(0), meta: { generation: 3, voidTime: 0, lastUpdateMs: NOW - 3_600_000 } };
      const liveOld = { ...rec('live', 0), meta: { generation: 1, voidTime: 0, lastUpdateMs: NOW - 5 * 86_400_000 } };
      for (const r of [old, young, liveOld]) await engine.put(r, { kind: 'any' });
      let needed = true;
      const raider = new TombRaider({ namespace: 'bar', engine, remover: engineRemover(engine), clock, logger: silentLogger, config: parseTombRaiderConfig(undefined), stillNeeded: () => needed });
      assert.equal(await raider.run(), 0);
      needed = false;
      assert.equal(await raider.run(), 1);
      assert.equal(await engine.get(old.digest), undefined);
      assert.equal((await engine.get(young.digest))?.tombstone, true);
      assert.equal((await engine.get(liveOld.digest))?.tombstone, false);
      assert.equal((await engine.stats()).tombstones, 1);
      assert.equal(raider.removed, 1);
    });
  });
}
