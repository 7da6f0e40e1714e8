/**
 * UDF benchmarks: record UDF calls/s over gRPC (a real node process, UdfService.ApplyRecordUdf)
 * and in-process through the kernel, and aggregation throughput in records/s against a plain
 * scan of the same records.
 * Run: npx node --no-node-snapshot bench/udf.ts [records]   (BENCH_SECONDS=3 for each gRPC run)
 */
import { Kernel } from '../core/transaction/kernel.ts';
import { Namespace } from '../core/storage/namespace.ts';
import { GuardedEngine } from '../core/storage/guarded-engine.ts';
import { singleNodeRouter } from '../core/transaction/routing.ts';
import { memoryStorage } from '../plugins/storage-memory/index.ts';
import { silentLogger, type Clock } from '../core/plugin-api/index.ts';
import { NAMESPACE_DEFAULTS } from '../core/model/index.ts';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UdfEngine } from '../core/udf/index.ts';
import type { UdfIsolation } from '../core/udf/engine.ts';
import { aggregateScan, executeRecordUdf } from '../core/udf/kernel-bridge.ts';
import { startNodeProcess } from '../test/helpers/process-node.ts';
import { drive } from './lib/loadgen.ts';
import { SlipstreamClient, toPbKey } from '../core/client/index.ts';
import { ApplyRecordUdfRequest, UdfServiceService } from '../core/wire/generated/slipstream/v1/udf.ts';
import { toPbBins, toPbValue } from '../core/wire/convert.ts';
import { KeyValueServiceService, PutRequest } from '../core/wire/generated/slipstream/v1/kv.ts';

const N = Number(process.argv[2] ?? 50_000);
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 3);
const BENCH_MODULE = `
export function incr(rec, n) { rec.count = (rec.count ?? 0) + n; aerospike.update(rec); return rec.count; }
export function sum(stream, bin) { return stream.map((r) => r[bin]).reduce((a, b) => a + b); }
export function byColor(stream) { return stream.groupBy((r) => r.color, 0, (n, r) => n + r.v, (a, b) => a + b); }
`;

/** Record UDF calls over gRPC against a real node process (client and node share the 2 cores); `isolation` is the node's udf.isolation. */
async function grpcRecordUdf(isolation: UdfIsolation = 'process'): Promise<void> {
  // a memory-only node with the given UDF isolation
  const dir = mkdtempSync(join(tmpdir(), 'slipstream-bench-udf-'));
  writeFileSync(join(dir, 'node.json'), JSON.stringify({ node: { host: '127.0.0.1', port: 0, dataDir: dir }, namespaces: [{ name: 'test', storage: 'storage-memory' }], udf: { isolation } }));
  const node = await startNodeProcess(['--config', join(dir, 'node.json'), '--log-level', 'warn']);
  try {
    const addr = `127.0.0.1:${node.port}`;
    const client = await SlipstreamClient.connect({ hosts: addr });
    await client.unary(UdfServiceService.registerModule, { fileName: 'bench.js', source: BENCH_MODULE });
    client.close();
    const reqs = (keys: number) => Array.from({ length: keys }, (_, i) => Buffer.from(ApplyRecordUdfRequest.encode({
      key: toPbKey({ namespace: 'test', set: 'g', key: BigInt(i) }),
      call: { module: 'bench', function: 'incr', args: [toPbValue(1n)], timeoutMs: 0 },
    }).finish()));
    // the same node's plain put, for scale: what the UDF adds on top of a write
    const puts = Array.from({ length: 10_000 }, (_, i) => Buffer.from(PutRequest.encode({ key: toPbKey({ namespace: 'test', set: 'p', key: BigInt(i) }), bins: toPbBins({ count: BigInt(i) }) }).finish()));
    const p = await drive(addr, KeyValueServiceService.put.path, puts, { concurrency: 32, seconds: SECONDS });
    console.log(`${'plain put over gRPC, 32 in flight (for scale)'.padEnd(52)} ${Math.round(p.opsPerSec).toLocaleString('en-US').padStart(9)} /s  p50 ${p.p50Ms.toFixed(2)} ms  p99 ${p.p99Ms.toFixed(2)} ms  errors ${p.errors}`);
    for (const [label, concurrency, keys] of [['record UDF over gRPC, 1 in flight', 1, 100], ['record UDF over gRPC, 32 in flight (distinct keys)', 32, 10_000]] as const) {
      const r = await drive(addr, UdfServiceService.applyRecordUdf.path, reqs(keys), { concurrency, seconds: SECONDS });
      console.log(`${`${label} [${isolation}]`.padEnd(64)} ${Math.round(r.opsPerSec).toLocaleString('en-US').padStart(9)} /s  p50 ${r.p50Ms.toFixed(2)} ms  p99 ${r.p99Ms.toFixed(2)} ms  errors ${r.errors}`);
    }
  } finally {
    await node.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
await grpcRecordUdf('process');
await grpcRecordUdf('in-process');

const clock = { now: () => Date.now() } as unknown as Clock;
const cfg = { name: 'test', storage: 'storage-memory', ...NAMESPACE_DEFAULTS };
const storage = await memoryStorage().create({ nodeId: 1n, logger: silentLogger, clock, signal: new AbortController().signal }, cfg, {});
const k = new Kernel({ namespaces: [new Namespace(cfg, new GuardedEngine(storage, 'storage-memory'))], clock, router: singleNodeRouter(1n), logger: silentLogger });
const engine = await UdfEngine.open({ poolSize: 2 }); // isolation: 'process' (the default)
await engine.register('bench.js', BENCH_MODULE);
const inProcess = await UdfEngine.open({ poolSize: 2, isolation: 'in-process' });
await inProcess.register('bench.js', BENCH_MODULE);
for (let i = 0; i < N; i++) await k.put(k.key('test', 'b', BigInt(i)), { v: BigInt(i), color: ['red', 'green', 'blue'][i % 3] as string, name: `record ${i}` });

async function timed(label: string, n: number, fn: () => Promise<unknown>): Promise<number> {
  const t = process.hrtime.bigint();
  await fn();
  const s = Number(process.hrtime.bigint() - t) / 1e9;
  const rate = n / s;
  console.log(`${label.padEnd(56)} ${Math.round(rate).toLocaleString('en-US').padStart(12)} /s  (${n} in ${s.toFixed(2)} s)`);
  return rate;
}

const CALLS = 5000;
for (const [mode, e] of [['process', engine], ['in-process', inProcess]] as const) {
  await timed(`record UDF, sequential (kernel + sandbox) [${mode}]`, CALLS, async () => {
    for (let i = 0; i < CALLS; i++) await executeRecordUdf(k, e, k.key('test', 'u', BigInt(i % 100)), { module: 'bench', fn: 'incr', args: [1n] });
  });
  await timed(`record UDF, 32 concurrent keys [${mode}]`, CALLS, async () => {
    let next = 0;
    await Promise.all(Array.from({ length: 32 }, async (_, w) => {
      while (next < CALLS) { next++; await executeRecordUdf(k, e, k.key('test', 'u', BigInt(w)), { module: 'bench', fn: 'incr', args: [1n] }); }
    }));
  });
}
const scan = await timed('plain scan (records)', N, async () => { let n = 0; for await (const r of k.scan({ namespace: 'test', set: 'b' })) n += r.bins.v === undefined ? 0 : 1; });
const agg = await timed('aggregation map+reduce (records)', N, () => aggregateScan(k, engine, { module: 'bench', fn: 'sum', args: ['v'] }, { namespace: 'test', set: 'b' }));
await timed('aggregation groupBy (records)', N, () => aggregateScan(k, engine, { module: 'bench', fn: 'byColor' }, { namespace: 'test', set: 'b' }));
console.log(`aggregation / scan rate: ${(agg / scan).toFixed(2)}`);
const aggIn = await timed('aggregation map+reduce (records) [in-process]', N, () => aggregateScan(k, inProcess, { module: 'bench', fn: 'sum', args: ['v'] }, { namespace: 'test', set: 'b' }));
console.log(`aggregation / scan rate [in-process]: ${(aggIn / scan).toFixed(2)}`);
await engine.shutdown();
await inProcess.shutdown();
