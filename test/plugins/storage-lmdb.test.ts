import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, chmodSync, writeFileSync, readdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { storageEngineKit, makeRecord } from 'slipstream/testing';
import { lmdbStorage, type LmdbEngine } from '../../plugins/storage-lmdb/index.ts';
import { silentLogger, systemClock, DbError, type PluginContext, type StorageEngine, type StoredRecord } from '../../core/plugin-api/index.ts';
import { NAMESPACE_DEFAULTS, computeDigest } from '../../core/model/index.ts';

const ctx: PluginContext = { nodeId: 1n, logger: silentLogger, clock: systemClock, signal: new AbortController().signal };
const ns = { name: 'bar', storage: 'storage-lmdb', ...NAMESPACE_DEFAULTS };

function openLmdb(options: Record<string, unknown>): Promise<StorageEngine> {
  return lmdbStorage().create(ctx, ns, options);
}

async function rejects(p: Promise<unknown>, code: string, match: RegExp): Promise<DbError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof DbError, `expected a DbError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.match(err.message, match);
    return err;
  }
  assert.fail('expected a rejection');
}

for (const commit of ['sync', 'async'] as const) {
  storageEngineKit({
    plugin: lmdbStorage(), name: `storage-lmdb (${commit} commit)`, capabilities: { durable: true },
    options: (dir) => ({ dataDir: dir, commit, mapSize: 8 * 1024 * 1024 }),
  });
}

describe('storage-lmdb', function () {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'slip-lmdb-')); });
  afterEach(() => {
    try { chmodSync(dir, 0o755); } catch { /* gone */ }
    rmSync(dir, { recursive: true, force: true });
  });

  describe('options', () => {
    it('requires a data directory, with a hint', async () => {
      const err = await rejects(openLmdb({}), 'PARAMETER', /namespace bar: storage-lmdb option dataDir: is required/);
      assert.match(err.hint ?? '', /dataDir/);
    });

    it('refuses an unknown commit mode', async () => {
      const err = await rejects(openLmdb({ dataDir: dir, commit: 'eventually' }), 'PARAMETER', /option commit: must be "sync" or "async"/);
      assert.ok(err.hint);
    });

    it('refuses unknown options and names the known ones', async () => {
      const err = await rejects(openLmdb({ dataDir: dir, comit: 'sync' }), 'PARAMETER', /option comit: is not a storage-lmdb setting/);
      assert.match(err.hint ?? '', /commit/);
    });

    for (const [name, value] of [['flushIntervalMs', 0], ['mapSize', 12], ['maxDataBytes', -5], ['maxRecordBytes', 1.5], ['flushIntervalMs', '100']] as const) {
      it(`refuses ${name} = ${JSON.stringify(value)}`, async () => {
        const err = await rejects(openLmdb({ dataDir: dir, [name]: value }), 'PARAMETER', new RegExp(`option ${name}: must be an integer`));
        assert.ok(err.hint);
      });
    }

    it('creates a missing data directory, nested', async () => {
      const nested = join(dir, 'a', 'b', 'bar');
      const engine = await openLmdb({ dataDir: nested });
      await engine.put(makeRecord('s', 'k', 'v'), { kind: 'any' });
      await engine.close();
      assert.ok(readdirSync(nested).includes('data.mdb'));
    });

    it('refuses an unwritable data directory with a hint', async () => {
      // root writes anywhere a mode allows, so as root use a directory no one may create in
      const target = process.getuid?.() === 0 ? '/sys/slipstream-test-no-such-dir' : join(dir, 'sub');
      chmodSync(dir, 0o500);
      const err = await rejects(openLmdb({ dataDir: target }), 'PARAMETER', /cannot use .* as the data directory of namespace bar/);
      assert.match(err.hint ?? '', /writ/);
    });

    it('refuses a data directory that is a file', async () => {
      const file = join(dir, 'file');
      writeFileSync(file, 'x');
      await rejects(openLmdb({ dataDir: file }), 'PARAMETER', /cannot use/);
    });

    it('refuses a data directory already open in this process, and allows it after close', async () => {
      const a = await openLmdb({ dataDir: dir });
      const err = await rejects(openLmdb({ dataDir: dir }), 'PARAMETER', /in use by process \d+ \(this process\)/);
      assert.match(err.hint ?? '', /own storageOptions.dataDir/);
      await a.close();
      const b = await openLmdb({ dataDir: dir });
      await b.close();
    });

    it('takes over the lock left by a process that died', async () => {
      const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
      writeFileSync(join(dir, 'slipstream.lock'), `${dead.stdout}\n`);
      const engine = await openLmdb({ dataDir: dir });
      await engine.close();
      assert.equal(existsSync(join(dir, 'slipstream.lock')), false);
    });

    it('reports the record size limit as a capability and enforces it', async () => {
      const engine = await openLmdb({ dataDir: dir, maxRecordBytes: 100 });
      try {
        assert.equal(engine.capabilities.persistent, true);
        assert.equal(engine.capabilities.maxRecordBytes, 100);
        await rejects(Promise.resolve(engine.put(makeRecord('s', 'big', 'x'.repeat(101)), { kind: 'any' })), 'RECORD_TOO_BIG', /101 bytes/);
        assert.deepEqual(await engine.put(makeRecord('s', 'ok', 'x'.repeat(100)), { kind: 'any' }), { ok: true });
      } finally {
        await engine.close();
      }
    });

    it('fails writes beyond maxDataBytes with OUT_OF_SPACE, keeps reads, and accepts writes after deletes', async () => {
      const engine = await openLmdb({ dataDir: dir, maxDataBytes: 4096 });
      try {
        const written: StoredRecord[] = [];
        let err: unknown;
        for (let i = 0; i < 100 && err === undefined; i++) {
          const r = makeRecord('s', `k${i}`, 'x'.repeat(200));
          try { await engine.put(r, { kind: 'any' }); written.push(r); } catch (e) { err = e; }
        }
        assert.ok(err instanceof DbError && err.code === 'OUT_OF_SPACE', String(err));
        assert.match(err.message, /exceed its limit of 4096 bytes/);
        assert.ok(written.length > 5 && written.length < 20, `${written.length} written`);
        const st = await engine.stats();
        assert.ok(st.diskBytes <= 4096);
        assert.equal(st.records, written.length);
        assert.ok(await engine.get((written[0] as StoredRecord).digest));
        await engine.remove((written[0] as StoredRecord).digest, { kind: 'any' });
        await engine.put(makeRecord('s', 'after-delete', 'x'.repeat(200)), { kind: 'any' });
      } finally {
        await engine.close();
      }
    });

    it('grows past its initial map size', async () => {
      const engine = await openLmdb({ dataDir: dir, mapSize: 64 * 1024 });
      try {
        for (let i = 0; i < 40; i++) await engine.put(makeRecord('s', `k${i}`, 'x'.repeat(10_000)), { kind: 'any' });
        assert.equal((await engine.stats()).records, 40);
      } finally {
        await engine.close();
      }
    });
  });

  describe('behaviour', () => {
    it('stores keys partition-major: a partition scan reads only that partition', async () => {
      const engine = await openLmdb({ dataDir: dir });
      try {
        const recs = Array.from({ length: 1999 }, (_, i) => makeRecord('s', `k${i}`, `${i}`));
        let z = 0;
        while (makeRecord('s', `p0-${z}`, '').partition !== 0) z++;
        recs.push(makeRecord('s', `p0-${z}`, 'in partition 0'));
        await Promise.all(recs.map((r) => engine.put(r, { kind: 'any' })));
        const pid = (recs[0] as StoredRecord).partition;
        const got: StoredRecord[] = [];
        for await (const r of engine.scan({ partitions: [pid, 4095] })) got.push(r);
        assert.deepEqual(got.map((r) => r.partition).filter((p) => p !== pid && p !== 4095), []);
        assert.equal(got.length, recs.filter((r) => r.partition === pid || r.partition === 4095).length);
        // resume in the middle of a long scan, more than one internal chunk
        let n = 0;
        let last: StoredRecord | undefined;
        for await (const r of engine.scan({})) { n++; last = r; if (n === 1500) break; }
        const all: StoredRecord[] = [];
        for await (const r of engine.scan({})) all.push(r);
        assert.equal(all.length, 2000);
        const lastRec = last as StoredRecord;
        const expected = all.filter((r) => r.partition === lastRec.partition && Buffer.compare(r.digest, lastRec.digest) > 0).map((r) => Buffer.from(r.digest).toString('hex'));
        const rest: string[] = [];
        for await (const r of engine.scan({ partitions: [lastRec.partition], afterDigest: lastRec.digest })) rest.push(Buffer.from(r.digest).toString('hex'));
        assert.deepEqual(rest, expected);
        // with no partition list the resume point applies to partition 0, and the scan goes on through 4095
        const first = all[0] as StoredRecord;
        assert.equal(first.partition, 0);
        let count = 0;
        for await (const _ of engine.scan({ afterDigest: first.digest })) count++;
        assert.equal(count, 1999);
      } finally {
        await engine.close();
      }
    });

    it('answers concurrent create-only writes of one key with exactly one success', async () => {
      const engine = await openLmdb({ dataDir: dir });
      try {
        const outcomes = await Promise.all(Array.from({ length: 20 }, (_, i) => engine.put(makeRecord('s', 'same', `v${i}`), { kind: 'absent' })));
        assert.equal(outcomes.filter((o) => o.ok).length, 1);
        assert.equal(outcomes.filter((o) => !o.ok && o.reason === 'RECORD_EXISTS').length, 19);
        // and generation checks: only one of many writers expecting generation 1 wins
        const gen = await Promise.all(Array.from({ length: 10 }, (_, i) =>
          engine.put(makeRecord('s', 'same', `w${i}`, { meta: { generation: 2, voidTime: 0, lastUpdateMs: 1 } }), { kind: 'generation', equals: 1 })));
        assert.equal(gen.filter((o) => o.ok).length, 1);
        assert.equal((await engine.stats()).records, 1);
      } finally {
        await engine.close();
      }
    });

    it('keeps per-set counts and bytes across a clean restart and recounts after an unclean one', async () => {
      let engine = await openLmdb({ dataDir: dir });
      for (let i = 0; i < 30; i++) await engine.put(makeRecord(i < 10 ? 'a' : 'b', `${i}`, 'payload'), { kind: 'any' });
      await engine.put(makeRecord('a', 'gone', '', { tombstone: true }), { kind: 'any' });
      const before = await engine.stats();
      const perSet = (engine as LmdbEngine).setStats();
      await engine.close();
      engine = await openLmdb({ dataDir: dir });
      assert.equal((engine as LmdbEngine).openReport.cleanShutdown, true);
      assert.deepEqual(await engine.stats(), before);
      assert.deepEqual((engine as LmdbEngine).setStats(), perSet);
      assert.deepEqual(perSet.get('a'), { records: 10, tombstones: 1, bytes: perSet.get('a')?.bytes });
      // a crash: the process dies without close(); simulate by a child process that writes and exits hard
      await engine.close();
      const script = `
        import { lmdbStorage } from ${JSON.stringify(new URL('../../plugins/storage-lmdb/index.ts', import.meta.url).href)};
        import { silentLogger, systemClock } from ${JSON.stringify(new URL('../../core/plugin-api/index.ts', import.meta.url).href)};
        import { makeRecord } from ${JSON.stringify(new URL('../../core/testing/index.ts', import.meta.url).href)};
        const e = await lmdbStorage().create({ nodeId: 1n, logger: silentLogger, clock: systemClock, signal: new AbortController().signal },
          { name: 'bar', storage: 'storage-lmdb', defaultTtl: 0, maxRecordBytes: 1 << 20, replicationFactor: 1, nsupPeriod: 120, maxTtl: 1e9 },
          { dataDir: ${JSON.stringify(dir)} });
        for (let i = 0; i < 5; i++) await e.put(makeRecord('c', 'x' + i, 'p'), { kind: 'any' });
        await e.remove(makeRecord('a', '0', '').digest, { kind: 'any' });
        process.kill(process.pid, 'SIGKILL');`;
      const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
      assert.equal(child.signal, 'SIGKILL', child.stderr);
      engine = await openLmdb({ dataDir: dir });
      try {
        assert.equal((engine as LmdbEngine).openReport.cleanShutdown, false);
        const st = await engine.stats();
        assert.equal(st.records, 34);
        assert.equal(st.tombstones, 1);
        assert.equal(st.sets.get('a'), 9);
        assert.equal(st.sets.get('c'), 5);
      } finally {
        await engine.close();
      }
    });

    it('async mode acknowledges at commit, reads its own writes, and keeps them across close and a sync reopen', async () => {
      const engine = await openLmdb({ dataDir: dir, commit: 'async', flushIntervalMs: 20 });
      try {
        await engine.put(makeRecord('s', 'k', 'v'), { kind: 'any' });
        assert.ok(await engine.get(computeDigest('s', 'k')));
        await new Promise((r) => setTimeout(r, 60));
      } finally {
        await engine.close();
      }
      const again = await openLmdb({ dataDir: dir, commit: 'sync' });
      try {
        assert.equal(Buffer.from((await again.get(computeDigest('s', 'k')))?.payload ?? []).toString(), 'v');
      } finally {
        await again.close();
      }
    });

    it('offers getMeta: the metadata read off the stored value, whatever was read just before', async () => {
      const engine = await openLmdb({ dataDir: dir });
      try {
        assert.equal(typeof engine.getMeta, 'function');
        const a = makeRecord('s', 'a', 'x'.repeat(3000), { meta: { generation: 4, voidTime: 10, lastUpdateMs: 1.5 } });
        const b = makeRecord('other', 'b', 'y', { meta: { generation: 2, voidTime: 0, lastUpdateMs: 2.5 } });
        await engine.put(a, { kind: 'any' });
        await engine.put(b, { kind: 'any' });
        const ma = await engine.getMeta?.(a.digest);
        const mb = await engine.getMeta?.(b.digest);
        assert.deepEqual(ma, { set: 's', meta: a.meta, tombstone: false }, 'not overwritten by the next read');
        assert.deepEqual(mb, { set: 'other', meta: b.meta, tombstone: false });
      } finally {
        await engine.close();
      }
    });

    it('throws on use after close', async () => {
      const engine = await openLmdb({ dataDir: dir });
      await engine.close();
      await engine.close(); // idempotent
      await rejects(Promise.resolve(engine.get(computeDigest('s', 'k'))), 'SERVER_ERROR', /closed engine/);
      await rejects(Promise.resolve(engine.put(makeRecord('s', 'k', 'v'), { kind: 'any' })), 'SERVER_ERROR', /closed engine/);
    });

    it('truncate leaves newer records and keeps tombstones out of the count', async () => {
      const engine = await openLmdb({ dataDir: dir });
      try {
        for (let i = 0; i < 1200; i++) {
          await engine.put(makeRecord(i % 2 === 0 ? 'even' : 'odd', `${i}`, 'x', { meta: { generation: 1, voidTime: 0, lastUpdateMs: i } }), { kind: 'any' });
        }
        await engine.put(makeRecord('even', 'ts', '', { tombstone: true, meta: { generation: 1, voidTime: 0, lastUpdateMs: 0 } }), { kind: 'any' });
        assert.equal(await engine.truncate({ set: 'even', beforeMs: 1000 }), 500);
        const st = await engine.stats();
        assert.equal(st.sets.get('even'), 100);
        assert.equal(st.sets.get('odd'), 600);
        assert.equal(st.tombstones, 0);
      } finally {
        await engine.close();
      }
    });
  });
});
