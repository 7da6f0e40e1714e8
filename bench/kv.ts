/**
 * Key-value benchmarks: this node over gRPC (get and put throughput, p50/p99) side by side
 * with a bare grpc-js server answering the same message sizes; the in-process kernel's
 * get and put rates; the memory engine's bytes per record over 1,000,000 records.
 *
 *   npm run bench -- kv          (BENCH_SECONDS=5 by default)
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startNodeProcess } from '../test/helpers/process-node.ts';
import type { LoadResult } from './lib/loadgen.ts';
import { h2drive as drive } from './lib/h2load.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { SlipstreamClient } from '../core/client/index.ts';
import { BatchGetRequest, GetRequest, GetResponse, PutRequest, ScanRequest } from '../core/wire/generated/slipstream/v1/kv.ts';
import { KeyValueServiceService } from '../core/wire/generated/slipstream/v1/kv.ts';
import { toPbBins } from '../core/wire/convert.ts';
import { toPbKey } from '../core/client/index.ts';
import type { Bins } from '../core/model/index.ts';
import { Kernel } from '../core/transaction/kernel.ts';
import { Namespace } from '../core/storage/namespace.ts';
import { GuardedEngine } from '../core/storage/guarded-engine.ts';
import { singleNodeRouter } from '../core/transaction/routing.ts';
import { memoryStorage } from '../plugins/storage-memory/index.ts';
import { silentLogger, systemClock } from '../core/plugin-api/index.ts';
import { NAMESPACE_DEFAULTS, computeDigest } from '../core/model/index.ts';
import { cpuMicros } from './lib/process-cpu.ts';

const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 5);
const CONCURRENCY = Number(process.env['BENCH_CONCURRENCY'] ?? 64);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);
const KEYS = 10_000;
const bins: Bins = { name: 'user-000000', age: 42n, score: 3.25, tags: ['a', 'b'], blob: new Uint8Array(40) };

/** CPU seconds a process has used (user + system), from /proc. */
const cpuSeconds = (pid: number): number => cpuMicros(pid) / 1e6;

interface Measured extends LoadResult {
  /** Server CPU per call, µs. */
  readonly cpuUsPerOp: number;
}

/** Runs the load and measures the server process's CPU per call. */
async function measure(server: ChildProcess, address: string, path: string, reqs: readonly Buffer[], concurrency = CONCURRENCY): Promise<Measured> {
  const pid = server.pid as number;
  await drive(address, path, reqs, { concurrency, seconds: Math.min(2, SECONDS) }); // warm-up: JIT and pools
  const c0 = cpuSeconds(pid);
  const r = await drive(address, path, reqs, { concurrency, seconds: SECONDS });
  const c1 = cpuSeconds(pid);
  return { ...r, cpuUsPerOp: ((c1 - c0) * 1e6) / Math.max(1, r.ops) };
}

function row(name: string, r: Measured): string {
  return `| ${name} | ${Math.round(r.opsPerSec).toLocaleString('en-US')} | ${r.p50Ms.toFixed(2)} | ${r.p99Ms.toFixed(2)} | ${r.cpuUsPerOp.toFixed(0)} | ${Math.round(1e6 / r.cpuUsPerOp).toLocaleString('en-US')} | ${r.errors} |`;
}

async function grpcBench(): Promise<string[]> {
  const lines: string[] = [];
  const putReqs = Array.from({ length: KEYS }, (_, i) => Buffer.from(PutRequest.encode({ key: toPbKey({ namespace: 'test', set: 'bench', key: `k${i}` }), bins: toPbBins(bins) }).finish()));
  const digestReqs = Array.from({ length: KEYS }, (_, i) => Buffer.from(GetRequest.encode({ key: toPbKey({ namespace: 'test', set: 'bench', digest: computeDigest('bench', `k${i}`) }), bins: [], headerOnly: false, filterJson: '' }).finish()));
  const getReqs = Array.from({ length: KEYS }, (_, i) => Buffer.from(GetRequest.encode({ key: toPbKey({ namespace: 'test', set: 'bench', key: `k${i}` }), bins: [], headerOnly: false, filterJson: '' }).finish()));

  const dataDir = mkdtempSync(join(tmpdir(), 'slipstream-bench-'));
  const node = await startNodeProcess(['--port', '0', '--log-level', 'warn', '--data-dir', dataDir]);
  const addr = `127.0.0.1:${node.port}`;
  // every key exists before the first get, so no get is a NOT_FOUND
  const client = await SlipstreamClient.connect({ hosts: addr });
  for (let i = 0; i < KEYS; i++) await client.put({ namespace: 'test', set: 'bench', key: `k${i}` }, bins);
  // The bare server answers with a real record's response, so message sizes are equal.
  const rec = await client.unary(KeyValueServiceService.get, GetRequest.decode(getReqs[0] as Buffer));
  client.close();
  const encoded = Buffer.from(GetResponse.encode(rec).finish()).toString('base64');
  const bare = spawn(process.execPath, [fileURLToPath(new URL('./lib/bare-server.ts', import.meta.url)), encoded], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve) => bare.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
  const bareAddr = `127.0.0.1:${port}`;

  // Rounds alternate between the two servers; each row is the round with the median server
  // CPU per call, which steadies numbers on a shared 2-core machine.
  const runs: Record<'put' | 'get' | 'dget' | 'bput' | 'bget', Measured[]> = { put: [], get: [], dget: [], bput: [], bget: [] };
  for (let round = 0; round < ROUNDS; round++) {
    runs.put.push(await measure(node.child, addr, KeyValueServiceService.put.path, putReqs));
    runs.bput.push(await measure(bare, bareAddr, KeyValueServiceService.put.path, putReqs));
    runs.get.push(await measure(node.child, addr, KeyValueServiceService.get.path, getReqs));
    runs.bget.push(await measure(bare, bareAddr, KeyValueServiceService.get.path, getReqs));
    runs.dget.push(await measure(node.child, addr, KeyValueServiceService.get.path, digestReqs));
  }
  bare.kill();

  // Bulk reads: whole records are transcoded from storage; naming the bins takes the decoding path.
  const BATCH = 100;
  const names = Object.keys(bins);
  const scanReq = (b: string[], recordsPerMessage = 1): Buffer[] => [Buffer.from(ScanRequest.encode({ namespace: 'test', set: 'bench', partitions: [], afterDigest: new Uint8Array(0), bins: b, noBins: false, maxRecords: 0n, filterJson: '', recordsPerMessage }).finish())];
  const batchReqs = (b: string[]): Buffer[] => Array.from({ length: KEYS / BATCH }, (_, j) => Buffer.from(BatchGetRequest.encode({
    keys: Array.from({ length: BATCH }, (_, i) => toPbKey({ namespace: 'test', set: 'bench', digest: computeDigest('bench', `k${j * BATCH + i}`) })), bins: b, headerOnly: false, filterJson: '',
  }).finish()));
  const bulk = {
    scan: await measure(node.child, addr, KeyValueServiceService.scan.path, scanReq([]), 2),
    scanNamed: await measure(node.child, addr, KeyValueServiceService.scan.path, scanReq(names), 2),
    scanPacked: await measure(node.child, addr, KeyValueServiceService.scan.path, scanReq([], 256), 2),
    scanPackedNamed: await measure(node.child, addr, KeyValueServiceService.scan.path, scanReq(names, 256), 2),
    batch: await measure(node.child, addr, KeyValueServiceService.batchGet.path, batchReqs([]), 8),
    batchNamed: await measure(node.child, addr, KeyValueServiceService.batchGet.path, batchReqs(names), 8),
  };
  await node.stop();
  rmSync(dataDir, { recursive: true, force: true });
  const median = (rs: Measured[]): Measured => [...rs].sort((x, y) => x.cpuUsPerOp - y.cpuUsPerOp)[Math.floor(rs.length / 2)] as Measured;
  const put = median(runs.put), bput = median(runs.bput), get = median(runs.get), bget = median(runs.bget), dget = median(runs.dget);

  lines.push(`gRPC over loopback, ${CONCURRENCY} calls in flight on 2 HTTP/2 connections from a lean node:http2 load generator, ${SECONDS} s per row, ` +
    `${GetResponse.encode(rec).finish().length}-byte get responses, ${(putReqs[0] as Buffer).length}-byte put requests, median of ${ROUNDS} rounds. ` +
    'With 2 cores the load generator and the server share the machine, so "ops/s" is what one client core could push; ' +
    '"server CPU µs/op" is measured from /proc and "ceiling" (1 s / CPU per call) is what one server core can serve.', '');
  lines.push('| target | ops/s | p50 ms | p99 ms | server CPU µs/op | ceiling ops/s/core | errors |', '|---|---:|---:|---:|---:|---:|---:|');
  lines.push(row('slipstream put', put), row('bare grpc-js put', bput), row('slipstream get', get), row('slipstream get by digest', dget), row('bare grpc-js get', bget));
  const bulkRow = (name: string, r: Measured, per: number, unit: string): string =>
    `| ${name} | ${Math.round(r.opsPerSec * per).toLocaleString('en-US')} | ${(r.cpuUsPerOp / per).toFixed(1)} | ${Math.round((1e6 * per) / r.cpuUsPerOp).toLocaleString('en-US')} | ${unit} |`;
  const bulkLines = ['', `Bulk reads over gRPC from the same node (${KEYS.toLocaleString('en-US')} records; scans 2 in flight, batches of ${BATCH} digests 8 in flight). ` +
    'Whole records are transcoded from their stored bytes; naming the bins (all five here) takes the decoding path. A scan sends one record per message unless it asks for more (`records_per_message`; the TypeScript client asks for 256).', '',
    '| read | records/s | server CPU µs/record | ceiling records/s/core | |', '|---|---:|---:|---:|---|',
    bulkRow('scan, whole records', bulk.scan, KEYS, 'transcoded'), bulkRow('scan, bins named', bulk.scanNamed, KEYS, 'decoded'),
    bulkRow('scan, whole records, 256 per message', bulk.scanPacked, KEYS, 'transcoded'), bulkRow('scan, bins named, 256 per message', bulk.scanPackedNamed, KEYS, 'decoded'),
    bulkRow(`batch get ×${BATCH}, whole records`, bulk.batch, BATCH, 'transcoded'), bulkRow(`batch get ×${BATCH}, bins named`, bulk.batchNamed, BATCH, 'decoded')];
  lines.push('', `slipstream / bare: get **${(get.opsPerSec / bget.opsPerSec).toFixed(2)}** measured, **${(bget.cpuUsPerOp / get.cpuUsPerOp).toFixed(2)}** by server ceiling; ` +
    `get by digest (the client hashes the key, as Aerospike's clients do) **${(dget.opsPerSec / bget.opsPerSec).toFixed(2)}** measured, **${(bget.cpuUsPerOp / dget.cpuUsPerOp).toFixed(2)}** by server ceiling; ` +
    `put **${(put.opsPerSec / bput.opsPerSec).toFixed(2)}** measured, **${(bput.cpuUsPerOp / put.cpuUsPerOp).toFixed(2)}** by server ceiling.`);
  lines.push(...bulkLines);
  return lines;
}

async function kernelBench(): Promise<string[]> {
  const cfg = { name: 'test', storage: 'storage-memory', ...NAMESPACE_DEFAULTS };
  const engine = await memoryStorage().create({ nodeId: 1n, logger: silentLogger, clock: systemClock, signal: new AbortController().signal }, cfg, {});
  const kernel = new Kernel({ namespaces: [new Namespace(cfg, new GuardedEngine(engine, 'storage-memory'))], clock: systemClock, router: singleNodeRouter(1n), logger: silentLogger });
  const keys = Array.from({ length: KEYS }, (_, i) => kernel.key('test', 'bench', `k${i}`));
  const N = 300_000;
  let t0 = performance.now();
  for (let i = 0; i < N; i++) await kernel.put(keys[i % KEYS]!, bins);
  const putRate = N / ((performance.now() - t0) / 1000);
  t0 = performance.now();
  for (let i = 0; i < N; i++) await kernel.get(keys[i % KEYS]!);
  const getRate = N / ((performance.now() - t0) / 1000);
  return ['', `In-process kernel (memory engine, one caller, ${N.toLocaleString('en-US')} ops): put **${Math.round(putRate).toLocaleString('en-US')}/s**, get **${Math.round(getRate).toLocaleString('en-US')}/s**.`];
}

async function memoryBench(): Promise<string[]> {
  const child = spawn(process.execPath, ['--expose-gc', fileURLToPath(new URL('./lib/memory-per-record.ts', import.meta.url))], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  await new Promise((r) => child.on('exit', r));
  return ['', out.trim()];
}

const only = process.argv.slice(2);
const parts: string[] = ['## Key-value', ''];
if (only.length === 0 || only.includes('grpc')) parts.push(...await grpcBench());
if (only.length === 0 || only.includes('kernel')) parts.push(...await kernelBench());
if (only.length === 0 || only.includes('memory')) parts.push(...await memoryBench());
console.log(parts.join('\n'));
