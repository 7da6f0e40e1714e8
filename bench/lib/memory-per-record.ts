/**
 * Bytes per record of the memory engine: resident and heap growth over 1,000,000 records
 * with ~100-byte payloads, with the index overhead (everything but the payload) separated.
 * Run with --expose-gc.
 */
import { memoryStorage } from '../../plugins/storage-memory/index.ts';
import { silentLogger, systemClock } from '../../core/plugin-api/index.ts';
import { NAMESPACE_DEFAULTS, computeDigest, partitionOf } from '../../core/model/index.ts';

const N = Number(process.env['BENCH_RECORDS'] ?? 1_000_000);
const PAYLOAD = 100;
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

const cfg = { name: 'test', storage: 'storage-memory', ...NAMESPACE_DEFAULTS };
const engine = await memoryStorage().create({ nodeId: 1n, logger: silentLogger, clock: systemClock, signal: new AbortController().signal }, cfg, {});
const payload = new Uint8Array(PAYLOAD).fill(7);
gc(); gc();
const before = process.memoryUsage();
for (let i = 0; i < N; i++) {
  const digest = computeDigest('s', `key-${i}`);
  await engine.put({ digest, partition: partitionOf(digest), set: 's', meta: { generation: 1, voidTime: 0, lastUpdateMs: 1_700_000_000_000 }, key: undefined, payload, tombstone: false }, { kind: 'any' });
}
gc(); gc();
const after = process.memoryUsage();
const heap = (after.heapUsed - before.heapUsed) / N;
const rss = (after.rss - before.rss) / N;
const stats = await engine.stats();
console.log(`Memory engine, ${N.toLocaleString('en-US')} records of ${PAYLOAD}-byte payloads (set 's', no stored key): ` +
  `heap growth **${heap.toFixed(1)} B/record**, resident growth **${rss.toFixed(1)} B/record**; ` +
  `payload ${PAYLOAD} B, so index overhead (digest key, metadata header, map entry) is **${(heap - PAYLOAD).toFixed(1)} B/record** on the heap ` +
  `(engine's own count: ${stats.records.toLocaleString('en-US')} records, ${(stats.memoryBytes / N).toFixed(1)} B/record of strings).`);
