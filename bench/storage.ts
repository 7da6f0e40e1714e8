/**
 * Storage benchmarks (in-process, engine level):
 *   - put and get rates on storage-lmdb in `sync` and `async` commit modes against storage-memory,
 *     one writer at a time (latency-bound) and 64 in flight (throughput);
 *   - cold-restart recovery on N records: opening after a clean shutdown, and the recount after
 *     a crash, in records/s.
 * Run: npx node --no-node-snapshot bench/storage.ts [opsPerCase=20000] [recoveryRecords=1000000]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open } from 'lmdb';
import { lmdbStorage, type LmdbEngine } from '../plugins/storage-lmdb/index.ts';
import { memoryStorage } from '../plugins/storage-memory/index.ts';
import { silentLogger, systemClock, type StorageEngine, type StoredRecord } from '../core/plugin-api/index.ts';
import { NAMESPACE_DEFAULTS, computeDigest, partitionOf, encodeUserKey } from '../core/model/index.ts';

const OPS = Number(process.argv[2] ?? 20_000);
const RECOVERY = Number(process.argv[3] ?? 1_000_000);
const ctx = { nodeId: 1n, logger: silentLogger, clock: systemClock, signal: new AbortController().signal };
const ns = { name: 'bench', storage: 'x', ...NAMESPACE_DEFAULTS };
const payload = new Uint8Array(Buffer.from('x'.repeat(200)));
const dirs: string[] = [];

function rec(i: number): StoredRecord {
  const digest = computeDigest('s', `key-${i}`);
  return { digest, partition: partitionOf(digest), set: 's', meta: { generation: 1, voidTime: 0, lastUpdateMs: Date.now() }, key: encodeUserKey(`key-${i}`), payload, tombstone: false };
}

async function openEngine(kind: string, dir?: string): Promise<StorageEngine> {
  if (kind === 'memory') return memoryStorage().create(ctx, ns, {});
  const d = dir ?? mkdtempSync(join(tmpdir(), 'slip-bench-'));
  if (dir === undefined) dirs.push(d);
  return lmdbStorage().create(ctx, ns, { dataDir: d, commit: kind === 'lmdb-sync' ? 'sync' : 'async', mapSize: 2 ** 31 });
}

async function rate(n: number, inFlight: number, op: (i: number) => unknown): Promise<number> {
  const t = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (next < n) await op(next++);
  }));
  return Math.round(n / ((performance.now() - t) / 1000));
}

const rows: string[][] = [['engine', 'put/s (1 at a time)', 'put/s (64 in flight)', 'get/s (1 at a time)', 'get/s (64 in flight)']];
for (const kind of ['memory', 'lmdb-sync', 'lmdb-async']) {
  const engine = await openEngine(kind);
  const serialN = kind === 'lmdb-sync' ? Math.min(OPS, 3000) : OPS;
  const recs = Array.from({ length: OPS }, (_, i) => rec(i));
  const put1 = await rate(serialN, 1, (i) => engine.put(recs[i] as StoredRecord, { kind: 'any' }));
  const put64 = await rate(OPS, 64, (i) => engine.put(recs[i] as StoredRecord, { kind: 'any' }));
  const get1 = await rate(OPS, 1, (i) => engine.get((recs[i] as StoredRecord).digest));
  const get64 = await rate(OPS, 64, (i) => engine.get((recs[i] as StoredRecord).digest));
  rows.push([kind, String(put1), String(put64), String(get1), String(get64)]);
  await engine.close();
}
console.log(`\nput/get, ${OPS} records of ${payload.length} B payload (${process.platform}, node ${process.version})`);
for (const r of rows) console.log(r.map((c, i) => c.padEnd(i === 0 ? 12 : 22)).join(''));

// ---- cold restart ---------------------------------------------------------------------------
const dir = mkdtempSync(join(tmpdir(), 'slip-bench-recovery-'));
dirs.push(dir);
let engine = await openEngine('lmdb-async', dir);
let t = performance.now();
const loadRate = await rate(RECOVERY, 256, (i) => engine.put(rec(i), { kind: 'any' }));
await engine.close();
console.log(`\nloaded ${RECOVERY} records at ${loadRate} puts/s (async commit, 256 in flight) in ${((performance.now() - t) / 1000).toFixed(1)} s`);

t = performance.now();
engine = await openEngine('lmdb-sync', dir);
const clean = (engine as LmdbEngine).openReport;
console.log(`clean restart: open in ${(performance.now() - t).toFixed(0)} ms (saved counters, ${clean.records} records)`);
await engine.close();

// Simulate a crash: drop the counters saved by the clean close, as a killed process leaves none.
const root = open({ path: dir, maxDbs: 4 });
await root.openDB({ name: 'meta', encoding: 'json' }).remove('stats');
await root.close();
t = performance.now();
engine = await openEngine('lmdb-sync', dir);
const ms = performance.now() - t;
const crash = (engine as LmdbEngine).openReport;
console.log(`crash restart: recounted ${crash.records} records in ${(ms / 1000).toFixed(2)} s = ${Math.round(crash.records / (ms / 1000))} records/s`);
t = performance.now();
let scanned = 0;
for await (const _ of engine.scan({})) scanned++;
const scanMs = performance.now() - t;
console.log(`full scan (what an index rebuild reads): ${scanned} records in ${(scanMs / 1000).toFixed(2)} s = ${Math.round(scanned / (scanMs / 1000))} records/s`);
await engine.close();
for (const d of dirs) rmSync(d, { recursive: true, force: true });
