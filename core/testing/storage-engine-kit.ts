/**
 * The storage-engine kit: the conformance suite every engine, built in or third-party, passes.
 * Inside a mocha file:
 *
 *   import { storageEngineKit } from 'slipstream/testing';
 *   storageEngineKit({ plugin: myStorage(), options: (dir) => ({ dir }), capabilities: { durable: true } });
 *
 * Each engine the kit opens gets options from `options(dir)` with an empty temporary folder of
 * its own; the options pass the plugin's schema first, as in a node. Capability flags say what
 * the engine claims, and the kit checks each claim: `durable` (records and tombstones survive
 * close and reopen on the same options; `capabilities.persistent` must agree).
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PLUGIN_API_VERSION, computeDigest, partitionOf, encodeUserKey, type StorageEngine, type StoragePlugin, type StoredRecord } from '../plugin-api/index.ts';
import { isJsonSchema } from '../schema/index.ts';
import { openEngine } from './context.ts';

export interface StorageEngineKitTarget {
  readonly plugin: StoragePlugin;
  /** Options of a fresh engine; `dir` is an empty temporary folder for it alone. Default: {}. */
  readonly options?: (dir: string) => Readonly<Record<string, unknown>>;
  /** Suite title (default: the plugin's name). */
  readonly name?: string;
  /** What the engine claims; the kit checks every claim. */
  readonly capabilities: {
    /** Records survive close and reopen with the same options. */
    readonly durable: boolean;
  };
}

export function makeRecord(set: string, key: string, payload: string, extra: Partial<StoredRecord> = {}): StoredRecord {
  const digest = computeDigest(set, key);
  return {
    digest,
    partition: partitionOf(digest),
    set,
    meta: { generation: 1, voidTime: 0, lastUpdateMs: 1_700_000_000_000 },
    key: encodeUserKey(key),
    payload: new Uint8Array(Buffer.from(payload)),
    tombstone: false,
    ...extra,
  };
}

async function collect(it: AsyncIterable<StoredRecord>): Promise<StoredRecord[]> {
  const out: StoredRecord[] = [];
  for await (const r of it) out.push(r);
  return out;
}

export function storageEngineKit(target: StorageEngineKitTarget): void {
  const plugin = target.plugin;
  describe(`storage engine kit: ${target.name ?? plugin.name}`, function () {
    let engine: StorageEngine;
    let dir: string;
    const open = (): Promise<StorageEngine> => openEngine(plugin, target.options?.(dir) ?? {});
    beforeEach(async () => {
      dir = mkdtempSync(join(tmpdir(), 'slip-kit-'));
      engine = await open();
    });
    afterEach(async () => {
      await engine.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('is a storage plugin of the current API version with an options schema', () => {
      assert.equal(plugin.kind, 'storage');
      assert.equal(plugin.apiVersion, PLUGIN_API_VERSION);
      assert.match(plugin.name, /^storage-[a-z0-9-]+$/);
      assert.ok(isJsonSchema(plugin.optionsSchema), 'optionsSchema must be a JSON Schema');
    });

    it(`declares its capabilities truthfully (durable: ${target.capabilities.durable})`, () => {
      assert.equal(engine.capabilities.persistent, target.capabilities.durable);
      assert.ok(Number.isInteger(engine.capabilities.maxRecordBytes) && engine.capabilities.maxRecordBytes > 0);
    });

    it('may be closed twice', async () => {
      await engine.close();
      await engine.close();
      engine = await open();
    });

    it('scans while writes happen: no failure, no record twice, every record present throughout', async () => {
      const stable: StoredRecord[] = [];
      for (let i = 0; i < 200; i++) stable.push(makeRecord('s', `stable-${i}`, `v${i}`));
      for (const r of stable) await engine.put(r, { kind: 'any' });
      const seen = new Set<string>();
      let writes = 0;
      for await (const r of engine.scan({})) {
        const id = Buffer.from(r.digest).toString('hex');
        assert.ok(!seen.has(id), 'a scan yielded a record twice');
        seen.add(id);
        // writes and removes of other records while the scan runs
        await engine.put(makeRecord('s', `churn-${writes}`, 'x'), { kind: 'any' });
        if (writes % 3 === 0) await engine.remove(makeRecord('s', `churn-${writes}`, 'x').digest, { kind: 'any' });
        writes++;
      }
      for (const r of stable) assert.ok(seen.has(Buffer.from(r.digest).toString('hex')), 'a record present for the whole scan was not yielded');
    });

    it('returns undefined for a missing digest', async () => {
      assert.equal(await engine.get(computeDigest('s', 'nope')), undefined);
    });

    it('stores and returns a record with all its metadata', async () => {
      const rec = makeRecord('s', 'k1', 'hello', { meta: { generation: 7, voidTime: 1_900_000_000, lastUpdateMs: 1_700_000_000_123.5 } });
      assert.deepEqual(await engine.put(rec, { kind: 'any' }), { ok: true });
      const got = await engine.get(rec.digest);
      assert.ok(got);
      assert.deepEqual(Buffer.from(got.digest), Buffer.from(rec.digest));
      assert.equal(got.partition, rec.partition);
      assert.equal(got.set, 's');
      assert.deepEqual(got.meta, rec.meta);
      assert.deepEqual(Buffer.from(got.key ?? []), Buffer.from(rec.key ?? []));
      assert.equal(Buffer.from(got.payload).toString(), 'hello');
      assert.equal(got.tombstone, false);
    });

    it('keeps records without a stored key and with the null set', async () => {
      const rec = makeRecord('', 'k', 'x', { key: undefined });
      await engine.put(rec, { kind: 'any' });
      const got = await engine.get(rec.digest);
      assert.equal(got?.key, undefined);
      assert.equal(got?.set, '');
    });

    it('stores an empty and a large payload', async () => {
      const empty = makeRecord('s', 'e', '');
      const big = makeRecord('s', 'b', 'x'.repeat(512 * 1024));
      await engine.put(empty, { kind: 'any' });
      await engine.put(big, { kind: 'any' });
      assert.equal((await engine.get(empty.digest))?.payload.length, 0);
      assert.equal((await engine.get(big.digest))?.payload.length, 512 * 1024);
    });

    it('answers create-only on an existing record with RECORD_EXISTS and leaves it alone', async () => {
      const rec = makeRecord('s', 'k', 'one');
      await engine.put(rec, { kind: 'absent' });
      const again = await engine.put(makeRecord('s', 'k', 'two'), { kind: 'absent' });
      assert.deepEqual(again, { ok: false, reason: 'RECORD_EXISTS' });
      assert.equal(Buffer.from((await engine.get(rec.digest))?.payload ?? []).toString(), 'one');
    });

    it('checks the expected generation atomically', async () => {
      const rec = makeRecord('s', 'g', 'v1', { meta: { generation: 3, voidTime: 0, lastUpdateMs: 1 } });
      await engine.put(rec, { kind: 'any' });
      assert.deepEqual(await engine.put(makeRecord('s', 'g', 'v2'), { kind: 'generation', equals: 2 }), { ok: false, reason: 'GENERATION' });
      assert.deepEqual(await engine.put(makeRecord('s', 'g', 'v2'), { kind: 'generation', equals: 3 }), { ok: true });
      assert.deepEqual(await engine.put(makeRecord('s', 'other', 'v'), { kind: 'generation', equals: 1 }), { ok: false, reason: 'NOT_FOUND' });
      assert.equal(Buffer.from((await engine.get(rec.digest))?.payload ?? []).toString(), 'v2');
    });

    it('removes records, and says NOT_FOUND for a missing one', async () => {
      const rec = makeRecord('s', 'r', 'v');
      await engine.put(rec, { kind: 'any' });
      assert.deepEqual(await engine.remove(rec.digest, { kind: 'any' }), { ok: true });
      assert.equal(await engine.get(rec.digest), undefined);
      assert.deepEqual(await engine.remove(rec.digest, { kind: 'any' }), { ok: false, reason: 'NOT_FOUND' });
    });

    it('keeps tombstones, treats them as absent for create-only, and hides them from scans', async () => {
      const rec = makeRecord('s', 't', 'v');
      await engine.put(rec, { kind: 'any' });
      await engine.put({ ...rec, payload: new Uint8Array(0), tombstone: true, meta: { ...rec.meta, generation: 2 } }, { kind: 'any' });
      const got = await engine.get(rec.digest);
      assert.equal(got?.tombstone, true);
      assert.equal(got?.meta.generation, 2);
      assert.equal((await collect(engine.scan({}))).length, 0);
      assert.equal((await collect(engine.scan({ includeTombstones: true }))).length, 1);
      const st = await engine.stats();
      assert.equal(st.records, 0);
      assert.equal(st.tombstones, 1);
      assert.deepEqual(await engine.put(makeRecord('s', 't', 'again'), { kind: 'absent' }), { ok: true });
    });

    it('scans by partition order and ascending digest, filters by set, and resumes', async () => {
      const recs: StoredRecord[] = [];
      for (let i = 0; i < 300; i++) recs.push(makeRecord(i % 3 === 0 ? 'a' : 'b', `key-${i}`, `v${i}`));
      for (const r of recs) await engine.put(r, { kind: 'any' });
      const all = await collect(engine.scan({}));
      assert.equal(all.length, 300);
      for (let i = 1; i < all.length; i++) {
        const p = all[i - 1] as StoredRecord;
        const c = all[i] as StoredRecord;
        assert.ok(p.partition < c.partition || (p.partition === c.partition && Buffer.compare(p.digest, c.digest) < 0), 'scan order');
      }
      assert.equal((await collect(engine.scan({ set: 'a' }))).length, 100);
      const pids = [...new Set(recs.map((r) => r.partition))].slice(0, 10);
      const some = await collect(engine.scan({ partitions: pids }));
      assert.equal(some.length, recs.filter((r) => pids.includes(r.partition)).length);
      assert.ok(some.every((r) => pids.includes(r.partition)));
      // resume after the first record of a partition that holds two or more
      const byPid = new Map<number, StoredRecord[]>();
      for (const r of all) byPid.set(r.partition, [...(byPid.get(r.partition) ?? []), r]);
      const multi = [...byPid.entries()].find(([, rs]) => rs.length >= 2);
      if (multi !== undefined) {
        const [pid, rs] = multi;
        const rest = await collect(engine.scan({ partitions: [pid], afterDigest: (rs[0] as StoredRecord).digest }));
        assert.equal(rest.length, rs.length - 1);
      }
    });

    it('truncates a set or the namespace before a cut-off and counts what it removed', async () => {
      await engine.put(makeRecord('a', '1', 'x', { meta: { generation: 1, voidTime: 0, lastUpdateMs: 100 } }), { kind: 'any' });
      await engine.put(makeRecord('a', '2', 'x', { meta: { generation: 1, voidTime: 0, lastUpdateMs: 300 } }), { kind: 'any' });
      await engine.put(makeRecord('b', '3', 'x', { meta: { generation: 1, voidTime: 0, lastUpdateMs: 100 } }), { kind: 'any' });
      assert.equal(await engine.truncate({ set: 'a', beforeMs: 200 }), 1);
      assert.equal((await engine.stats()).records, 2);
      assert.equal(await engine.truncate({ beforeMs: 1000 }), 2);
      assert.equal((await engine.stats()).records, 0);
    });

    it('counts records per set and bytes', async () => {
      for (let i = 0; i < 10; i++) await engine.put(makeRecord(i < 4 ? 'x' : 'y', `${i}`, 'payload'), { kind: 'any' });
      const st = await engine.stats();
      assert.equal(st.records, 10);
      assert.equal(st.sets.get('x'), 4);
      assert.equal(st.sets.get('y'), 6);
      assert.ok(st.memoryBytes + st.diskBytes > 0);
    });

    it('overwrites keep counts exact', async () => {
      for (let i = 0; i < 5; i++) await engine.put(makeRecord('s', 'same', `v${i}`), { kind: 'any' });
      assert.equal((await engine.stats()).records, 1);
      // a record moving to another set, becoming a tombstone and a record again
      await engine.put(makeRecord('t', 'same', 'v', { digest: makeRecord('s', 'same', '').digest }), { kind: 'any' });
      let st = await engine.stats();
      assert.deepEqual([st.records, st.tombstones, st.sets.get('s'), st.sets.get('t')], [1, 0, undefined, 1]);
      await engine.put(makeRecord('t', 'same', '', { digest: makeRecord('s', 'same', '').digest, tombstone: true }), { kind: 'any' });
      st = await engine.stats();
      assert.deepEqual([st.records, st.tombstones, st.sets.get('t')], [0, 1, undefined]);
      await engine.put(makeRecord('s', 'same', 'back'), { kind: 'any' });
      st = await engine.stats();
      assert.deepEqual([st.records, st.tombstones, st.sets.get('s')], [1, 0, 1]);
    });

    it('answers getMeta, when it offers one, as get less the key and payload (records, tombstones, missing digests)', async () => {
      if (engine.getMeta === undefined) {
        // optional: the node reads the whole record with get instead
        assert.equal(typeof engine.get, 'function');
        return;
      }
      const live = makeRecord('sët', 'live', 'payload', { meta: { generation: 0xfffffffe, voidTime: 1_900_000_001, lastUpdateMs: 1_700_000_000_123.25 } });
      const plain = makeRecord('', 'plain', 'x', { key: undefined });
      const dead = makeRecord('s', 'dead', '', { tombstone: true, meta: { generation: 9, voidTime: 0, lastUpdateMs: 5 } });
      for (const r of [live, plain, dead]) await engine.put(r, { kind: 'any' });
      for (const r of [live, plain, dead]) {
        const got = await engine.get(r.digest);
        assert.ok(got);
        assert.deepEqual(await engine.getMeta(r.digest), { set: got.set, meta: got.meta, tombstone: got.tombstone });
        assert.deepEqual(await engine.getMeta(r.digest), { set: r.set, meta: r.meta, tombstone: r.tombstone });
      }
      assert.equal(await engine.getMeta(computeDigest('s', 'nope')), undefined);
      await engine.put(makeRecord('sët', 'live', 'again', { meta: { generation: 3, voidTime: 0, lastUpdateMs: 7 } }), { kind: 'any' });
      assert.deepEqual((await engine.getMeta(live.digest))?.meta, { generation: 3, voidTime: 0, lastUpdateMs: 7 });
      await engine.remove(plain.digest, { kind: 'any' });
      assert.equal(await engine.getMeta(plain.digest), undefined);
    });

    if (target.capabilities.durable) {
      const reopen = async (e: StorageEngine): Promise<StorageEngine> => { await e.close(); return open(); };
      it('keeps records and tombstones across close and reopen', async () => {
        const live = makeRecord('s', 'live', 'v', { meta: { generation: 5, voidTime: 0, lastUpdateMs: 42 } });
        const dead = makeRecord('s', 'dead', '', { tombstone: true });
        await engine.put(live, { kind: 'any' });
        await engine.put(dead, { kind: 'any' });
        engine = await reopen(engine);
        const got = await engine.get(live.digest);
        assert.equal(got?.meta.generation, 5);
        assert.equal(Buffer.from(got?.payload ?? []).toString(), 'v');
        assert.equal((await engine.get(dead.digest))?.tombstone, true);
      });
    }
  });
}
