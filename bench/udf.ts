/**
 * UDF benchmarks (in-process): record UDF calls/s through the kernel, and aggregation
 * throughput in records/s against a plain scan of the same records.
 * Run: npx node --no-node-snapshot bench/udf.ts [records]
 */
import { Kernel } from '../core/transaction/kernel.ts';
import { Namespace } from '../core/storage/namespace.ts';
import { GuardedEngine } from '../core/storage/guarded-engine.ts';
import { singleNodeRouter } from '../core/transaction/routing.ts';
import { memoryStorage } from '../plugins/storage-memory/index.ts';
import { silentLogger, type Clock } from '../core/plugin-api/index.ts';
import { NAMESPACE_DEFAULTS } from '../core/model/index.ts';
import { UdfEngine } from '../core/udf/index.ts';
import { aggregateScan, executeRecordUdf } from '../core/udf/kernel-bridge.ts';

const N = Number(process.argv[2] ?? 50_000);
const clock = { now: () => Date.now() } as unknown as Clock;
const cfg = { name: 'test', storage: 'storage-memory', ...NAMESPACE_DEFAULTS };
const storage = await memoryStorage().create({ nodeId: 1n, logger: silentLogger, clock, signal: new AbortController().signal }, cfg, {});
const k = new Kernel({ namespaces: [new Namespace(cfg, new GuardedEngine(storage, 'storage-memory'))], clock, router: singleNodeRouter(1n), logger: silentLogger });
const engine = await UdfEngine.open({ poolSize: 2 });
await engine.register('bench.js', `
export function incr(rec, n) { rec.count = (rec.count ?? 0) + n; aerospike.update(rec); return rec.count; }
export function sum(stream, bin) { return stream.map((r) => r[bin]).reduce((a, b) => a + b); }
export function byColor(stream) { return stream.groupBy((r) => r.color, 0, (n, r) => n + r.v, (a, b) => a + b); }
`);
for (let i = 0; i < N; i++) await k.put(k.key('test', 'b', BigInt(i)), { v: BigInt(i), color: ['red', 'green', 'blue'][i % 3] as string, name: `record ${i}` });

async function timed(label: string, n: number, fn: () => Promise<unknown>): Promise<number> {
  const t = process.hrtime.bigint();
  await fn();
  const s = Number(process.hrtime.bigint() - t) / 1e9;
  const rate = n / s;
  console.log(`${label.padEnd(44)} ${Math.round(rate).toLocaleString('en-US').padStart(12)} /s  (${n} in ${s.toFixed(2)} s)`);
  return rate;
}

const CALLS = 5000;
await timed('record UDF, sequential (kernel + sandbox)', CALLS, async () => {
  for (let i = 0; i < CALLS; i++) await executeRecordUdf(k, engine, k.key('test', 'u', BigInt(i % 100)), { module: 'bench', fn: 'incr', args: [1n] });
});
await timed('record UDF, 32 concurrent keys', CALLS, async () => {
  let next = 0;
  await Promise.all(Array.from({ length: 32 }, async (_, w) => {
    while (next < CALLS) { next++; await executeRecordUdf(k, engine, k.key('test', 'u', BigInt(w)), { module: 'bench', fn: 'incr', args: [1n] }); }
  }));
});
const scan = await timed('plain scan (records)', N, async () => { let n = 0; for await (const r of k.scan({ namespace: 'test', set: 'b' })) n += r.bins.v === undefined ? 0 : 1; });
const agg = await timed('aggregation map+reduce (records)', N, () => aggregateScan(k, engine, { module: 'bench', fn: 'sum', args: ['v'] }, { namespace: 'test', set: 'b' }));
await timed('aggregation groupBy (records)', N, () => aggregateScan(k, engine, { module: 'bench', fn: 'byColor' }, { namespace: 'test', set: 'b' }));
console.log(`aggregation / scan rate: ${(agg / scan).toFixed(2)}`);
engine.close();
