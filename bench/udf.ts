/**
 * UDF benchmarks: record UDF calls/s over gRPC (a real node process, UdfService.ApplyRecordUdf)
 * and in-process through the kernel, and aggregation throughput in records/s against a plain
 * scan of the same records.
 * Run: npm run bench -- udf   (or npx node --no-node-snapshot bench/udf.ts [records]; BENCH_SECONDS=3 per network row;
 * BENCH_PAIRS=3 back-to-back pairs of Redis EVAL and the Aerospike protocol UDF row for the paired ratio, 0: none)
 */
import { Kernel } from '../core/transaction/kernel.ts';
import { Namespace } from '../core/storage/namespace.ts';
import { GuardedEngine } from '../core/storage/guarded-engine.ts';
import { singleNodeRouter } from '../core/transaction/routing.ts';
import { memoryStorage } from '../plugins/storage-memory/index.ts';
import { silentLogger, type Clock } from '../core/plugin-api/index.ts';
import { NAMESPACE_DEFAULTS } from '../core/model/index.ts';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { UdfEngine } from '../core/udf/index.ts';
import type { UdfIsolation } from '../core/udf/engine.ts';
import { aggregateScan, executeRecordUdf } from '../core/udf/kernel-bridge.ts';
import { startNodeProcess } from '../test/helpers/process-node.ts';
import { h2drive } from './lib/h2load.ts';
import { aerospikeDrive, asRequest, udfApplyRequest } from './lib/aerospike-load.ts';
import { cpuProfileByCategory, type CpuCategory } from './lib/cpuprofile-top.ts';
import { Info2, Op } from '../core/server/aerospike/protocol.ts';
import type { LoadResult } from './lib/loadgen.ts';
import { ensureRedis, redisBenchmark, startRedis } from './lib/redis.ts';
import { SlipstreamClient, toPbKey } from '../core/client/index.ts';
import { ApplyRecordUdfRequest, UdfServiceService } from '../core/wire/generated/slipstream/v1/udf.ts';
import { toPbBins, toPbValue } from '../core/wire/convert.ts';
import { KeyValueServiceService, PutRequest } from '../core/wire/generated/slipstream/v1/kv.ts';
import { cpuMicros } from './lib/process-cpu.ts';
import { callsPerWrite, hostBatchCount } from './lib/udf-host-batches.ts';

const N = Number(process.argv[2] ?? 50_000);
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 3);
const IN_FLIGHT = Number(process.env['BENCH_CONCURRENCY'] ?? 64);
const KEYS = 1000;
const BENCH_MODULE = `
export function incr(rec, n) { rec.count = (rec.count ?? 0) + n; aerospike.update(rec); return rec.count; }
export function sum(stream, bin) { return stream.map((r) => r[bin]).reduce((a, b) => a + b); }
export function byColor(stream) { return stream.groupBy((r) => r.color, 0, (n, r) => n + r.v, (a, b) => a + b); }
`;

/** CPU seconds a process and its children (the UDF host) have used (user + system). */
function cpuSeconds(pid: number): number {
  try {
    return cpuMicros(pid, { descendants: true }) / 1e6;
  } catch {
    return 0; // gone meanwhile
  }
}

interface Measured extends LoadResult {
  /** Server CPU (node + UDF host process) per call, µs. */
  readonly cpuUsPerOp: number;
  /** Process mode: UDF calls per write on the call pipe to the host during the row (the batch size). */
  readonly callsPerWrite?: number | undefined;
  /** The load generator's CPU per call, µs (it shares the cores with the server). */
  readonly clientUsPerOp: number;
}

/** CPU seconds of this process's waited-for children (cutime + cstime): what a redis-benchmark run cost once it has exited. */
function childrenCpuSeconds(): number {
  return cpuMicros('self', { waited: true }) / 1e6;
}

const row = (name: string, r: { opsPerSec: number; p50Ms?: number | undefined; p99Ms?: number; cpuUsPerOp?: number; clientUsPerOp?: number; errors?: number }): string =>
  `| ${name} | ${Math.round(r.opsPerSec).toLocaleString('en-US')} | ${r.p50Ms === undefined ? '–' : r.p50Ms.toFixed(2)} | ${r.p99Ms === undefined ? '–' : r.p99Ms.toFixed(2)} | ${r.cpuUsPerOp === undefined ? '–' : r.cpuUsPerOp.toFixed(0)} | ${r.clientUsPerOp === undefined ? '–' : r.clientUsPerOp.toFixed(0)} | ${r.errors ?? 0} |`;

/** Parts of a networked call's path, for the profile breakdown (script URLs; first match wins). */
const PATH_PARTS: readonly CpuCategory[] = [
  { name: 'HTTP/2 (node:http2) + grpc-js', match: /node:internal\/http2|@grpc\/grpc-js/ },
  { name: 'protobuf decode/encode + wire conversion', match: /core\/wire\/|@bufbuild|protobufjs|long\// },
  { name: 'gRPC handlers (server/rpc, handlers)', match: /core\/server\/(rpc|handlers|grpc-server|security-guard|unknown-fields|metrics)/ },
  { name: 'Aerospike protocol front end (codec, connection)', match: /core\/server\/aerospike\// },
  { name: 'node port (first-byte sniffing)', match: /core\/server\/node-port/ },
  { name: 'kernel (routing, lock, mutate, policy)', match: /core\/(transaction|replication|cluster|query)\// },
  { name: 'storage (engine, record codec)', match: /core\/(storage|model)\/|plugins\/storage-/ },
  { name: 'UDF engine + call pipe (node side; in-process: incl. the isolate run)', match: /core\/udf\// },
  { name: 'sockets, streams, timers (node:net/stream/timers)', match: /node:(internal\/)?(net|stream|streams|timers|internal\/timers|internal\/stream_base|buffer|internal\/buffer|events|internal\/process|internal\/async_hooks|internal\/util)/ },
  { name: 'logging, metrics, other project code', match: /core\/|plugins\// },
];

/** The same for the UDF host process's profile. */
const HOST_PARTS: readonly CpuCategory[] = [
  { name: 'isolate run (isolated-vm entry, runtime JSON, the function)', match: /core\/udf\/sandbox\.ts/ },
  { name: 'call pipe, frames, lanes', match: /core\/udf\// },
  { name: 'sockets, streams, timers', match: /^node:/ },
];

const keyOfI = (i: number): string => `k${i}`;
/** The same call as pre-built requests: gRPC ApplyRecordUdf messages and Aerospike protocol UDF applies. */
const grpcUdfReqs = Array.from({ length: KEYS }, (_, i) => Buffer.from(ApplyRecordUdfRequest.encode({
  key: toPbKey({ namespace: 'test', set: 'g', key: keyOfI(i) }),
  call: { module: 'bench', function: 'incr', args: [toPbValue(1n)], timeoutMs: 0 },
}).finish()));
const asUdfReqs = Array.from({ length: KEYS }, (_, i) => udfApplyRequest('test', 'a', keyOfI(i), 'bench', 'incr', [1n]));

type Protocol = 'grpc' | 'aerospike';

/** A node process with the benchmark module registered. */
async function benchNode(isolation: UdfIsolation, nodeFlags: readonly string[] = []): Promise<{ addr: string; port: number; pid: number; metricsPort: number | undefined; stop: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'slipstream-bench-udf-'));
  writeFileSync(join(dir, 'node.json'), JSON.stringify({ node: { host: '127.0.0.1', port: 0, dataDir: dir, metricsPort: 0 }, namespaces: [{ name: 'test', storage: 'storage-memory' }], udf: { isolation } }));
  const node = await startNodeProcess(['--config', join(dir, 'node.json'), '--log-level', 'warn'], { nodeFlags });
  const addr = `127.0.0.1:${node.port}`;
  const client = await SlipstreamClient.connect({ hosts: addr });
  await client.unary(UdfServiceService.registerModule, { fileName: 'bench.js', source: BENCH_MODULE }, { timeoutMs: 60_000 });
  client.close();
  return { addr, port: node.port, pid: node.child.pid ?? 0, metricsPort: node.metricsPort, stop: async () => { await node.stop(); rmSync(dir, { recursive: true, force: true }); } };
}

/** Drives record UDF calls (or other pre-built requests) over one protocol. */
function drive(protocol: Protocol, node: { addr: string; port: number }, reqs: readonly Buffer[], concurrency: number, seconds: number, path: string = UdfServiceService.applyRecordUdf.path): Promise<LoadResult> {
  return protocol === 'grpc' ? h2drive(node.addr, path, reqs, { concurrency, seconds }) : aerospikeDrive(node.port, reqs, { concurrency, seconds });
}

/**
 * Record UDF calls against a real node process (`isolation` is its udf.isolation): 64 calls in
 * flight on 1,000 distinct keys from the lean node:http2 gRPC generator and from the raw
 * Aerospike protocol generator; one call at a time; a plain put on the same node, for scale.
 */
async function networkRecordUdf(isolation: UdfIsolation): Promise<{ udf: Measured; asUdf: Measured; put: Measured; asPut: Measured; one: Measured }> {
  const node = await benchNode(isolation);
  try {
    const measure = async (protocol: Protocol, reqs: readonly Buffer[], concurrency: number, path?: string): Promise<Measured> => {
      await drive(protocol, node, reqs, concurrency, Math.min(1, SECONDS), path); // warm-up
      const c0 = cpuSeconds(node.pid);
      const b0 = await hostBatchCount(node.metricsPort);
      const me = process.cpuUsage();
      const r = await drive(protocol, node, reqs, concurrency, SECONDS, path);
      const mine = process.cpuUsage(me);
      const cpuUsPerOp = ((cpuSeconds(node.pid) - c0) * 1e6) / Math.max(1, r.ops);
      return { ...r, cpuUsPerOp, clientUsPerOp: (mine.user + mine.system) / Math.max(1, r.ops), callsPerWrite: callsPerWrite(b0, await hostBatchCount(node.metricsPort)) };
    };
    const puts = Array.from({ length: KEYS }, (_, i) => Buffer.from(PutRequest.encode({ key: toPbKey({ namespace: 'test', set: 'p', key: BigInt(i) }), bins: toPbBins({ count: BigInt(i) }) }).finish()));
    const asPuts = Array.from({ length: KEYS }, (_, i) => asRequest({ info2: Info2.WRITE, namespace: 'test', set: 'q', key: keyOfI(i), ops: [{ name: 'count', value: BigInt(i), op: Op.WRITE }] }));
    const put = await measure('grpc', puts, IN_FLIGHT, KeyValueServiceService.put.path);
    const asPut = await measure('aerospike', asPuts, IN_FLIGHT);
    const udf = await measure('grpc', grpcUdfReqs, IN_FLIGHT);
    const asUdf = await measure('aerospike', asUdfReqs, IN_FLIGHT);
    const one = await measure('grpc', grpcUdfReqs, 1);
    return { udf, asUdf, put, asPut, one };
  } finally {
    await node.stop();
  }
}

/**
 * BENCH_PROFILE=1: where a networked record UDF call spends the server's CPU. For each protocol
 * and isolation mode, a node started with --cpu-prof (its UDF host too) serves only UDF calls
 * for BENCH_SECONDS; the profiles are cut into the parts of the path (PATH_PARTS), as µs of CPU
 * per call.
 */
async function profileRecordUdf(): Promise<string> {
  const lines = ['', `Profile of the server while it answers record UDF calls (${IN_FLIGHT} in flight, ${KEYS.toLocaleString('en-US')} keys, ${SECONDS} s; node --cpu-prof on the node and its UDF host; µs of sampled CPU per call, by the script of the innermost frame; "(program)" is V8/libuv/nghttp2 native work outside JavaScript, incl. the kernel's socket calls):`, ''];
  const runs: Array<{ label: string; calls: number; parts: Map<string, number> }> = [];
  for (const isolation of ['process', 'in-process'] as const) {
    for (const protocol of ['grpc', 'aerospike'] as const) {
      const dir = mkdtempSync(join(tmpdir(), 'slipstream-bench-prof-'));
      const node = await benchNode(isolation, ['--cpu-prof', `--cpu-prof-dir=${dir}`]);
      let r: LoadResult;
      try {
        await drive(protocol, node, protocol === 'grpc' ? grpcUdfReqs : asUdfReqs, IN_FLIGHT, 1);
        r = await drive(protocol, node, protocol === 'grpc' ? grpcUdfReqs : asUdfReqs, IN_FLIGHT, SECONDS);
      } finally {
        await node.stop();
      }
      await new Promise((res) => setTimeout(res, 500)); // the host writes its profile as it exits
      const parts = new Map<string, number>();
      for (const f of readdirSync(dir).filter((x) => x.endsWith('.cpuprofile'))) {
        // profiles are named CPU.<date>.<time>.<pid>.…: the node's own, or its UDF host process's
        const host = f.split('.')[3] !== String(node.pid);
        const p = cpuProfileByCategory(join(dir, f), host ? HOST_PARTS : PATH_PARTS, { windowSeconds: SECONDS });
        if (p.totalMs < 50) continue; // a logger's worker thread
        for (const row of p.rows) {
          const name = host ? `UDF host process: ${row.name}` : row.name;
          parts.set(name, (parts.get(name) ?? 0) + (row.ms * 1000) / Math.max(1, r.ops));
        }
      }
      rmSync(dir, { recursive: true, force: true });
      runs.push({ label: `${protocol === 'grpc' ? 'gRPC' : 'Aerospike'} [${isolation}], ${Math.round(r.opsPerSec).toLocaleString('en-US')}/s`, calls: r.ops, parts });
    }
  }
  const names = [...new Set(runs.flatMap((x) => [...x.parts.keys()]))]
    .sort((a, b) => Math.max(...runs.map((x) => x.parts.get(b) ?? 0)) - Math.max(...runs.map((x) => x.parts.get(a) ?? 0)));
  lines.push(`| part of the path | ${runs.map((x) => x.label).join(' | ')} |`, `|---|${runs.map(() => '---:').join('|')}|`);
  for (const n of names) lines.push(`| ${n} | ${runs.map((x) => (x.parts.get(n) ?? 0).toFixed(1)).join(' | ')} |`);
  lines.push(`| **total sampled CPU µs/call** | ${runs.map((x) => [...x.parts.values()].reduce((a, b) => a + b, 0).toFixed(1)).join(' | ')} |`);
  return lines.join('\n');
}

/** redis-benchmark's arguments for EVAL of the same one-line increment as the bench module's `incr`. */
const REDIS_EVAL = ['EVAL', "return redis.call('HINCRBY', KEYS[1], 'count', ARGV[1])", '1', 'key:__rand_int__', '1'];
/** Pairs of (Redis EVAL, Aerospike-protocol record UDF) rows measured back to back for the paired ratio. */
const PAIRS = Number(process.env['BENCH_PAIRS'] ?? 3);

/**
 * The goal's ratio from pairs close in time: Redis EVAL for ~2 s, then the Aerospike protocol
 * record UDF row on a process-mode node for 2 s, PAIRS times, the median of the pairs' ratios.
 * On this machine the same code runs at two speeds for stretches of seconds to minutes, the
 * load generators with it (docs/benchmarks.md, seventh round): a ratio from the same seconds
 * is less exposed to that than one against Redis measured before and after every node row.
 */
async function pairedRatio(): Promise<string> {
  const redis = ensureRedis();
  if ('missing' in redis) return `Paired ratio: not measured (${redis.missing})`;
  const server = await startRedis(redis.server);
  let node: Awaited<ReturnType<typeof benchNode>> | undefined;
  try {
    node = await benchNode('process');
    const seconds = 2;
    let redisRate = redisBenchmark(redis.benchmark, server.port, REDIS_EVAL, { clients: IN_FLIGHT, requests: 20_000, randomKeys: KEYS }).opsPerSec; // warm-up
    await aerospikeDrive(node.port, asUdfReqs, { concurrency: IN_FLIGHT, seconds: 1 }); // warm-up
    const ratios: number[] = [];
    const pairs: string[] = [];
    for (let i = 0; i < PAIRS; i++) {
      const r = redisBenchmark(redis.benchmark, server.port, REDIS_EVAL, { clients: IN_FLIGHT, requests: Math.max(10_000, Math.round(redisRate * seconds)), randomKeys: KEYS });
      redisRate = r.opsPerSec;
      const u = await aerospikeDrive(node.port, asUdfReqs, { concurrency: IN_FLIGHT, seconds });
      ratios.push(u.opsPerSec / r.opsPerSec);
      pairs.push(`${Math.round(u.opsPerSec).toLocaleString('en-US')} / ${Math.round(r.opsPerSec).toLocaleString('en-US')}`);
    }
    const sorted = [...ratios].sort((a, b) => a - b);
    const median = sorted.length % 2 === 1 ? sorted[(sorted.length - 1) / 2] as number : ((sorted[sorted.length / 2 - 1] as number) + (sorted[sorted.length / 2] as number)) / 2;
    return `Paired ratio, Aerospike protocol record UDF [process] / Redis EVAL, ${PAIRS} pairs of ${seconds} s back to back (a fresh node): median **${median.toFixed(2)}** (pairs ${ratios.map((x) => x.toFixed(2)).join(', ')}; calls/s UDF / Redis: ${pairs.join('; ')}).`;
  } finally {
    await node?.stop();
    await server.stop();
  }
}

/** redis-benchmark EVAL of the same one-line increment, 64 clients (one call in flight each) on 1,000 keys. */
async function redisEval(): Promise<{ opsPerSec: number; p50Ms: number | undefined; cpuUsPerOp: number; clientUsPerOp: number } | string> {
  const redis = ensureRedis();
  if ('missing' in redis) return redis.missing;
  const server = await startRedis(redis.server);
  try {
    const requests = Math.max(20_000, 30_000 * SECONDS);
    const c0 = cpuSeconds(server.pid);
    const b0 = childrenCpuSeconds();
    const r = redisBenchmark(redis.benchmark, server.port, REDIS_EVAL, { clients: IN_FLIGHT, requests, randomKeys: KEYS });
    return { ...r, cpuUsPerOp: ((cpuSeconds(server.pid) - c0) * 1e6) / requests, clientUsPerOp: ((childrenCpuSeconds() - b0) * 1e6) / requests };
  } finally {
    await server.stop();
  }
}

if (process.env['BENCH_PROFILE'] === '1') {
  console.log(await profileRecordUdf());
  process.exit(0);
}

{
  // one run, interleaved so that drift in the machine's load hits both sides: Redis, the node in
  // each isolation mode, Redis again
  const loadStart = loadavg();
  const redisBefore = await redisEval();
  const proc = await networkRecordUdf('process');
  const inproc = await networkRecordUdf('in-process');
  const redisAfter = await redisEval();
  const lines = ['', `Record UDF over the network: ${IN_FLIGHT} calls in flight on ${KEYS.toLocaleString('en-US')} distinct keys, ${SECONDS} s per row, lean node:http2 gRPC load generator (2 connections) and a raw Aerospike protocol generator (${IN_FLIGHT} connections, one request in flight on each, frames built with the front end's codec); Redis: redis-benchmark -c ${IN_FLIGHT} -r ${KEYS} EVAL of the same increment, before and after. Load generators share the 2 cores with the servers (their CPU per call is the "load generator" column: the bench process for ours, redis-benchmark's for Redis); load average (1/5/15 min) ${loadStart.map((x) => x.toFixed(1)).join(' / ')} at the start, ${loadavg().map((x) => x.toFixed(1)).join(' / ')} at the end.`, '',
    '| target | calls/s | p50 ms | p99 ms | server CPU µs/call | load generator CPU µs/call | errors |', '|---|---:|---:|---:|---:|---:|---:|'];
  lines.push(row('slipstream record UDF, gRPC [process]', proc.udf), row('slipstream record UDF, gRPC [in-process]', inproc.udf),
    row('slipstream record UDF, Aerospike protocol [process]', proc.asUdf), row('slipstream record UDF, Aerospike protocol [in-process]', inproc.asUdf),
    row('slipstream record UDF, 1 in flight [process]', proc.one), row('slipstream record UDF, 1 in flight [in-process]', inproc.one),
    row('slipstream plain put, gRPC (for scale) [process node]', proc.put), row('slipstream plain put, Aerospike protocol (for scale) [process node]', proc.asPut),
    row('slipstream plain put, gRPC (for scale) [in-process node]', inproc.put), row('slipstream plain put, Aerospike protocol (for scale) [in-process node]', inproc.asPut));
  if (typeof redisBefore === 'string' || typeof redisAfter === 'string') {
    lines.push('', `Redis: not measured (${typeof redisBefore === 'string' ? redisBefore : String(redisAfter)})`);
  } else {
    const redisRate = (redisBefore.opsPerSec + redisAfter.opsPerSec) / 2;
    const redisCpu = (redisBefore.cpuUsPerOp + redisAfter.cpuUsPerOp) / 2;
    lines.push(row('redis EVAL, before', redisBefore), row('redis EVAL, after', redisAfter), '',
      `record UDF / Redis EVAL (mean of before and after, ${Math.round(redisRate).toLocaleString('en-US')}/s): gRPC **${(proc.udf.opsPerSec / redisRate).toFixed(2)}** [process], **${(inproc.udf.opsPerSec / redisRate).toFixed(2)}** [in-process]; ` +
      `Aerospike protocol **${(proc.asUdf.opsPerSec / redisRate).toFixed(2)}** [process], **${(inproc.asUdf.opsPerSec / redisRate).toFixed(2)}** [in-process]. ` +
      `By server CPU per call (what a server could do on a core of its own; Redis ${((redisBefore.cpuUsPerOp + redisAfter.cpuUsPerOp) / 2).toFixed(1)} µs): ` +
      `gRPC **${(redisCpu / proc.udf.cpuUsPerOp).toFixed(2)}** [process], **${(redisCpu / inproc.udf.cpuUsPerOp).toFixed(2)}** [in-process]; ` +
      `Aerospike protocol **${(redisCpu / proc.asUdf.cpuUsPerOp).toFixed(2)}** [process], **${(redisCpu / inproc.asUdf.cpuUsPerOp).toFixed(2)}** [in-process]`);
  }
  const perWrite = (m: Measured): string => (m.callsPerWrite === undefined ? '–' : m.callsPerWrite.toFixed(1));
  lines.push('', `Process mode, record UDF calls per write on the call pipe to the UDF host (the batch size; each write is a round trip of system calls and wake-ups in both processes): gRPC ${perWrite(proc.udf)}, Aerospike protocol ${perWrite(proc.asUdf)}, 1 in flight ${perWrite(proc.one)}.`);
  if (PAIRS > 0) lines.push('', await pairedRatio());
  console.log(lines.join('\n'));
  console.log('');
}

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
