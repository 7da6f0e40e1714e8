/**
 * Backup and restore, end to end on real nodes: a namespace of every value type (keys of
 * every kind, records with and without their key, TTLs, generations above 1, sets, HLLs,
 * ordered lists and maps; test/helpers/round-trip-records.ts), with a
 * secondary index and a UDF module, backed up, truncated, restored, and compared record by
 * record — on the memory engine and on LMDB. Interrupted backups and restores continue;
 * damaged files are refused with the file and the offset.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, readdirSync, readFileSync, existsSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { startTestNode, type TestNode } from '../helpers/node-harness.ts';
import { memoryStorage } from '../../plugins/storage-memory/index.ts';
import { lmdbStorage } from '../../plugins/storage-lmdb/index.ts';
import { DbError } from '../../core/errors/index.ts';
import type { ClientRecord, SlipstreamClient } from '../../core/client/index.ts';
import { digestHex } from '../../core/model/index.ts';
import { compareFingerprints, fingerprints, loadRecords, type RecordPrint } from '../helpers/round-trip-records.ts';
import { QueryServiceService } from '../../core/wire/generated/slipstream/v1/query.ts';
import { UdfServiceService } from '../../core/wire/generated/slipstream/v1/udf.ts';
import { runBackup, BACKUP_STATE } from '../../core/tools/backup/backup.ts';
import { runRestore, RESTORE_STATE } from '../../core/tools/backup/restore.ts';
import { readManifest } from '../../core/tools/backup/manifest.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);
const MODULE = 'export function bump(rec) {\n  rec.n = (rec.n ?? 0n) + 1n;\n  return rec.n;\n}\n';

/** Every record read back (a scan), fingerprinted; each record's bins are checked against the generator on the way. */
async function snapshot(client: SlipstreamClient, ns: string): Promise<Map<string, RecordPrint>> {
  const wrong: string[] = [];
  const out = await fingerprints(client, ns, wrong);
  assert.deepEqual(wrong.slice(0, 10), [], `records whose bins are not what was written (${wrong.length})`);
  return out;
}

/** Record by record: set, user key, generation, void time, TTL within a second, bins byte for byte. */
function assertSame(before: Map<string, RecordPrint>, after: Map<string, RecordPrint>): void {
  assert.equal(after.size, before.size, 'record count');
  const diff = compareFingerprints(before, after, 10);
  assert.deepEqual(diff.examples, [], `${diff.count} differences`);
}

async function rejectsWith(p: Promise<unknown>, code: string, re?: RegExp): Promise<DbError> {
  let caught: unknown;
  try { await p; } catch (err) { caught = err; }
  assert.ok(caught instanceof DbError, `expected a DbError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  if (re !== undefined) assert.match(caught.message, re);
  return caught;
}

for (const engine of ['storage-memory', 'storage-lmdb'] as const) {
  describe(`backup and restore (${engine})`, function () {
    this.timeout(180_000);
    let dir: string;
    let t: TestNode;
    const N = 1500;

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'slip-backup-'));
      t = await startTestNode({
        plugins: [memoryStorage(), lmdbStorage()],
        config: {
          node: { id: 'C1', host: '127.0.0.1', port: 0, dataDir: join(dir, 'data') },
          namespaces: [
            { name: 'test', storage: engine, ...(engine === 'storage-lmdb' ? { storageOptions: { dataDir: 'test' } } : {}) },
            { name: 'other', storage: 'storage-memory' },
            { name: 'tiny', storage: 'storage-memory', maxRecordBytes: 200 },
          ],
        },
      });
      await loadRecords(t.client, 'test', N, { batch: 100, inFlight: 4 });
      await t.client.unary(QueryServiceService.createIndex, { namespace: 'test', name: 'by_i', set: 'people', bin: 'i', type: 'NUMERIC', collection: 'DEFAULT' });
      await t.client.unary(UdfServiceService.registerModule, { fileName: 'counter.js', source: MODULE });
    });
    after(async () => {
      await t?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    it('round trip: back up, truncate, drop the index and the module, restore, and every record is equal', async () => {
      const before = await snapshot(t.client, 'test');
      assert.equal(before.size, N);
      const out = join(dir, 'full');
      const progress: number[] = [];
      const b = await runBackup({ client: t.client, namespace: 'test', directory: out, parallel: 3, fileLimitBytes: 24 * 1024, blockBytes: 4 * 1024, progress: (p) => progress.push(p.done) });
      assert.equal(b.records, N);
      assert.ok(b.files >= 3, `split into ${b.files} files`);
      assert.equal(b.indexes, 1);
      assert.equal(b.modules, 1);
      const manifest = await readManifest(out);
      assert.equal(manifest.files.reduce((n, f) => n + f.records, 0), N);
      assert.ok(!existsSync(join(out, BACKUP_STATE)), 'the state file is gone once the backup is done');
      assert.ok(progress.length > 0 && progress.at(-1) === N, 'progress was reported up to the end');

      assert.equal(await t.client.truncate('test'), N);
      await t.client.unary(QueryServiceService.dropIndex, { namespace: 'test', name: 'by_i' });
      await t.client.unary(UdfServiceService.removeModule, { name: 'counter.js' });
      assert.equal((await snapshot(t.client, 'test')).size, 0);

      const r = await runRestore({ client: t.client, directory: out, parallel: 2, batchSize: 200 });
      assert.deepEqual({ restored: r.restored, failed: r.failed, skipped: r.skippedExists + r.skippedExpired + r.skippedGeneration }, { restored: N, failed: 0, skipped: 0 });
      assert.equal(r.indexesCreated, 1);
      assert.equal(r.modulesRegistered, 1);
      assertSame(before, await snapshot(t.client, 'test'));
      const idx = (await t.client.unary(QueryServiceService.listIndexes, { namespace: 'test' })).indexes;
      assert.deepEqual(idx.map((i) => [i.name, i.set, i.bin, i.type]), [['by_i', 'people', 'i', 'NUMERIC']]);
      const mod = await t.client.unary(UdfServiceService.getModule, { name: 'counter.js' });
      assert.equal(mod.source, MODULE);

      // restoring again: the generations are not newer, so every record is skipped; replace writes them all
      const again = await runRestore({ client: t.client, directory: out });
      assert.equal(again.skippedGeneration, N);
      assert.equal(again.restored, 0);
      assert.equal(again.indexesExisting, 1);
      const create = await runRestore({ client: t.client, directory: out, policy: 'createOnly', noIndexes: true, noUdfs: true });
      assert.equal(create.skippedExists, N);
      const replace = await runRestore({ client: t.client, directory: out, policy: 'replace', noIndexes: true, noUdfs: true });
      assert.equal(replace.restored, N);
      assertSame(before, await snapshot(t.client, 'test'));
    });

    it('restores into another namespace, and backs up only the sets, partitions and times asked for', async () => {
      const out = join(dir, 'people');
      const b = await runBackup({ client: t.client, namespace: 'test', directory: out, sets: ['people'], noIndexes: true, noUdfs: true, compression: 'gzip' });
      assert.equal(b.records, N / 3);
      const r = await runRestore({ client: t.client, directory: out, namespace: 'other' });
      assert.equal(r.restored, N / 3);
      const copied = await snapshot(t.client, 'other');
      const source = new Map([...(await snapshot(t.client, 'test'))].filter(([, s]) => s.set === 'people'));
      assertSame(source, copied);

      const two = await runBackup({ client: t.client, namespace: 'test', directory: join(dir, 'two-sets'), sets: ['people', 'things'], partitions: [0, 1, 2, 3], compression: 'none' });
      const inTwo = [...source.keys()].length; // just a bound
      assert.ok(two.records > 0 && two.records < inTwo, `${two.records} records in 4 partitions of two sets`);
      const late = await runBackup({ client: t.client, namespace: 'test', directory: join(dir, 'late'), modifiedAfterMs: Date.now() + 60_000 });
      assert.equal(late.records, 0);
    });

    it('an interrupted backup and an interrupted restore continue where they stopped', async () => {
      const before = await snapshot(t.client, 'test');
      const out = join(dir, 'interrupted');
      const ac = new AbortController();
      const watch = setInterval(() => {
        try {
          const s = JSON.parse(readFileSync(join(out, BACKUP_STATE), 'utf8')) as { done: number[] };
          if (s.done.length >= 500) ac.abort();
        } catch { /* not written yet */ }
      }, 5);
      await rejectsWith(runBackup({ client: t.client, namespace: 'test', directory: out, parallel: 2, recordsPerSecond: 4000, blockBytes: 2048, signal: ac.signal }), 'CLIENT_ABORT', /--continue|interrupted/);
      clearInterval(watch);
      const state = JSON.parse(readFileSync(join(out, BACKUP_STATE), 'utf8')) as { done: number[] };
      assert.ok(state.done.length >= 500 && state.done.length < 4096, `stopped part-way (${state.done.length} partitions done)`);
      assert.ok(!existsSync(join(out, 'backup.json')));
      await rejectsWith(runBackup({ client: t.client, namespace: 'test', directory: out }), 'PARAMETER', /unfinished backup/);
      const b = await runBackup({ client: t.client, namespace: 'test', directory: out, resume: true });
      assert.equal(b.records, N, 'every record once, none twice');

      await t.client.truncate('test');
      const ac2 = new AbortController();
      const watch2 = setInterval(() => {
        try {
          const s = JSON.parse(readFileSync(join(out, RESTORE_STATE), 'utf8')) as { blocks: Record<string, number[]> };
          if (Object.values(s.blocks).flat().length >= 2) ac2.abort();
        } catch { /* not written yet */ }
      }, 5);
      await rejectsWith(runRestore({ client: t.client, directory: out, parallel: 1, batchSize: 50, recordsPerSecond: 3000, signal: ac2.signal }), 'CLIENT_ABORT');
      clearInterval(watch2);
      const partial = (await snapshot(t.client, 'test')).size;
      assert.ok(partial > 0 && partial < N, `stopped part-way (${partial} records restored)`);
      const r = await runRestore({ client: t.client, directory: out, resume: true });
      assert.equal(r.failed, 0);
      assert.equal(r.restored + r.skippedGeneration, N, 'the records of the block in flight may be sent again and are then skipped as not newer');
      assertSame(before, await snapshot(t.client, 'test'));
      assert.ok(!existsSync(join(out, RESTORE_STATE)));
    });

    it('a damaged or cut-short file fails naming the file and the offset', async () => {
      const out = join(dir, 'damaged');
      await runBackup({ client: t.client, namespace: 'test', directory: out, fileLimitBytes: 32 * 1024, noIndexes: true, noUdfs: true });
      const files = readdirSync(out).filter((f) => f.endsWith('.slb')).sort();
      const victim = join(out, files[1] as string);
      const bytes = readFileSync(victim);
      const flipped = Buffer.from(bytes);
      const at = Math.floor(bytes.length / 2);
      flipped[at] = (flipped[at] as number) ^ 0xff;
      writeFileSync(victim, flipped);
      const e = await rejectsWith(runRestore({ client: t.client, directory: out, namespace: 'other', policy: 'replace', parallel: 1 }), 'PARAMETER');
      assert.match(e.message, new RegExp(`backup file ${victim.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is corrupt at byte offset \\d+: the block checksum`));
      writeFileSync(victim, bytes.subarray(0, bytes.length - 40));
      const cut = await rejectsWith(runRestore({ client: t.client, directory: out, namespace: 'other', policy: 'replace', parallel: 1 }), 'PARAMETER');
      assert.match(cut.message, /is corrupt at byte offset \d+: (a block of \d+ bytes runs past the end|the file ends without its end marker)/);
    });

    if (engine === 'storage-memory') {
      it('backs up and restores only the sets and bins asked for, and refuses sets and bins the backup does not hold', async () => {
        const out = join(dir, 'some');
        await runBackup({ client: t.client, namespace: 'test', directory: out, noUdfs: true });
        await t.client.truncate('other');
        for (const i of (await t.client.unary(QueryServiceService.listIndexes, { namespace: 'other' })).indexes) {
          await t.client.unary(QueryServiceService.dropIndex, { namespace: 'other', name: i.name });
        }
        const source = new Map<string, ClientRecord>();
        for await (const rec of t.client.scan('test', { set: 'things' })) source.set(digestHex(rec.digest), rec);
        assert.equal(source.size, N / 3);

        const r = await runRestore({ client: t.client, directory: out, namespace: 'other', sets: ['things'], bins: ['s', 'i', 'hll'] });
        assert.deepEqual({ restored: r.restored, filtered: r.skippedFiltered, failed: r.failed }, { restored: N / 3, filtered: N - N / 3, failed: 0 });
        // the index of set people is not made in a restore of set things
        assert.deepEqual((await t.client.unary(QueryServiceService.listIndexes, { namespace: 'other' })).indexes.map((i) => i.name), []);
        let seen = 0;
        for await (const rec of t.client.scan('other')) {
          seen++;
          const from = source.get(digestHex(rec.digest));
          assert.ok(from !== undefined, `record ${digestHex(rec.digest)} of set ${rec.set} is not one of set things`);
          const want = Object.fromEntries(['hll', 'i', 's'].filter((b) => from.bins[b] !== undefined).map((b) => [b, from.bins[b]]));
          assert.deepEqual(rec.bins, want);
          assert.deepEqual([rec.meta.generation, rec.meta.voidTime], [from.meta.generation, from.meta.voidTime]);
        }
        assert.equal(seen, N / 3);

        // only the bin hll (every tenth record has one): the others hold none of the listed bins and are skipped
        await t.client.truncate('other');
        const h = await runRestore({ client: t.client, directory: out, namespace: 'other', sets: ['things', 'people'], bins: ['hll'], noIndexes: true });
        const withHll = Array.from({ length: N }, (_, i) => i).filter((i) => i % 10 === 0 && i % 3 !== 2).length;
        assert.deepEqual({ restored: h.restored, filtered: h.skippedFiltered }, { restored: withHll, filtered: N - withHll });

        const people = join(dir, 'people-only');
        await runBackup({ client: t.client, namespace: 'test', directory: people, sets: ['people'], noUdfs: true, noIndexes: true });
        await rejectsWith(runRestore({ client: t.client, directory: people, namespace: 'other', sets: ['peopel'] }), 'PARAMETER', /the backup holds no set 'peopel': it was taken of the sets 'people'/);
        await rejectsWith(runRestore({ client: t.client, directory: people, namespace: 'other', bins: [] }), 'PARAMETER', /the bin list is empty/);
        // an interrupted restore continues only with the same sets and bins
        writeFileSync(join(people, RESTORE_STATE), JSON.stringify({ version: 1, namespace: 'other', sets: ['people'], blocks: {}, counts: { restored: 0, skippedExpired: 0, skippedExists: 0, skippedGeneration: 0, failed: 0, failures: {} } }));
        await rejectsWith(runRestore({ client: t.client, directory: people, namespace: 'other', resume: true }), 'PARAMETER', /the interrupted restore took the sets people, this one all sets/);
        const resumed = await runRestore({ client: t.client, directory: people, namespace: 'other', resume: true, sets: ['people'], policy: 'replace' });
        assert.equal(resumed.restored, N / 3);

        // a backup of some bins: records with none of them are left out on the node
        const binsOut = join(dir, 'some-bins');
        const b = await runBackup({ client: t.client, namespace: 'test', directory: binsOut, sets: ['things'], bins: ['hll', 's'], noUdfs: true, noIndexes: true });
        assert.equal(b.records, N / 3);
        assert.deepEqual((await readManifest(binsOut)).bins, ['hll', 's']);
        const hllOnly = await runBackup({ client: t.client, namespace: 'test', directory: join(dir, 'hll-bins'), sets: ['things'], bins: ['hll'], noUdfs: true, noIndexes: true });
        assert.equal(hllOnly.records, [...source.values()].filter((rec) => rec.bins['hll'] !== undefined).length);
        await rejectsWith(runRestore({ client: t.client, directory: binsOut, namespace: 'other', bins: ['i'] }), 'PARAMETER', /the backup holds no bin 'i': it was taken of the bins 'hll', 's'/);
        await t.client.truncate('other');
        const rb = await runRestore({ client: t.client, directory: binsOut, namespace: 'other' });
        assert.equal(rb.restored, N / 3);
        for await (const rec of t.client.scan('other')) {
          const from = source.get(digestHex(rec.digest));
          assert.ok(from !== undefined);
          assert.deepEqual(rec.bins, Object.fromEntries(['hll', 's'].filter((x) => from.bins[x] !== undefined).map((x) => [x, from.bins[x]])));
          assert.deepEqual([rec.meta.generation, rec.meta.voidTime], [from.meta.generation, from.meta.voidTime]);
        }
        await rejectsWith(runBackup({ client: t.client, namespace: 'test', directory: join(dir, 'no-bins'), bins: [] }), 'PARAMETER', /the bin list is empty/);
      });

      it('the command-line tools: asbackup/asrestore flags, a summary, exit status 1 when records fail', async () => {
        const out = join(dir, 'cli');
        const addr = ['-h', '127.0.0.1', '-p', String(t.node.port)];
        const b = await run(process.execPath, [join(ROOT, 'bin/slipstream-backup.js'), ...addr, '-n', 'test', '-s', 'people', '-d', out, '-z', 'zstd', '--no-progress'], { cwd: ROOT });
        assert.match(b.stdout, new RegExp(`backed up ${N / 3} records of namespace test into \\d+ files`));
        const r = await run(process.execPath, [join(ROOT, 'bin/slipstream-restore.js'), ...addr, '-d', out, '-n', 'test,other', '-r', '--no-progress'], { cwd: ROOT });
        assert.match(r.stdout, new RegExp(`restored ${N / 3} records into namespace other`));
        assert.match(r.stdout, /failed 0/);
        const hlls = await run(process.execPath, [join(ROOT, 'bin/slipstream-backup.js'), ...addr, '-n', 'test', '-s', 'people', '-B', 'hll,nobin', '-d', join(dir, 'cli-hll'), '--no-progress'], { cwd: ROOT });
        assert.match(hlls.stdout, new RegExp(`backed up ${N / 30} records of namespace test`));
        // asrestore's -s and -B: only the records of set people holding the bin hll (every thirtieth), with that bin alone
        const some = await run(process.execPath, [join(ROOT, 'bin/slipstream-restore.js'), ...addr, '-d', out, '-n', 'test,other', '-s', 'people', '-B', 'hll', '-r', '--no-progress'], { cwd: ROOT });
        assert.match(some.stdout, new RegExp(`restored ${N / 30} records into namespace other`));
        assert.match(some.stdout, new RegExp(`skipped ${N / 3 - N / 30}: 0 expired, 0 existed \\(create-only\\), 0 not newer than the stored generation, ${N / 3 - N / 30} not in the listed sets or without a listed bin`));
        // a namespace whose records may hold 200 bytes: every record fails, with its reason, and the exit status says so
        let failure: { code?: number; stdout?: string } = {};
        try {
          await run(process.execPath, [join(ROOT, 'bin/slipstream-restore.js'), ...addr, '-d', out, '-n', 'tiny', '--no-progress', '--no-indexes'], { cwd: ROOT });
        } catch (err) {
          failure = err as typeof failure;
        }
        assert.equal(failure.code, 1);
        assert.match(failure.stdout ?? '', new RegExp(`failed ${N / 3}\\n  ${N / 3} × RECORD_TOO_BIG \\(13\\), e\\.g\\. the record would be \\d+ bytes`));
        let bad: { code?: number; stderr?: string } = {};
        try {
          await run(process.execPath, [join(ROOT, 'bin/slipstream-restore.js'), ...addr, '-d', join(dir, 'nothing-here')], { cwd: ROOT });
        } catch (err) {
          bad = err as typeof bad;
        }
        assert.equal(bad.code, 1);
        assert.match(bad.stderr ?? '', /no backup manifest at .*backup\.json/);
      });
    }
  });
}
