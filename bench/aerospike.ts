/**
 * The Aerospike protocol against its peers, in one run: get and put over the Aerospike
 * protocol from a raw-socket load generator (pre-built frames, no client library in the way),
 * gRPC get on the same port, and Redis GET/SET (redis-benchmark against Debian's
 * redis-server, started here; installed with apt when missing and running as root).
 *
 *   npm run bench -- aerospike        (BENCH_SECONDS=5, BENCH_CONCURRENCY=64, BENCH_ROUNDS=3)
 */
import { spawn, spawnSync, execFileSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNodeProcess } from '../test/helpers/process-node.ts';
import { h2drive } from './lib/h2load.ts';
import { aerospikeDrive, aerospikeOnce, asRequest } from './lib/aerospike-load.ts';
import { Info1, Info2, Op } from '../core/server/aerospike/protocol.ts';
import { GetRequest, KeyValueServiceService } from '../core/wire/generated/slipstream/v1/kv.ts';
import { toPbKey } from '../core/client/index.ts';
import { computeDigest } from '../core/model/index.ts';
import { cpuMicros } from './lib/process-cpu.ts';

const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 5);
const CONCURRENCY = Number(process.env['BENCH_CONCURRENCY'] ?? 64);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);
const KEYS = 10_000;
const VALUE_BYTES = 100;

const cpuSeconds = (pid: number): number => cpuMicros(pid) / 1e6;

interface Measured { readonly opsPerSec: number; readonly cpuUsPerOp: number; readonly errors: number }

async function measureRaw(pid: number, port: number, frames: readonly Buffer[]): Promise<Measured> {
  await aerospikeDrive(port, frames, { seconds: Math.min(2, SECONDS), concurrency: CONCURRENCY });
  const c0 = cpuSeconds(pid);
  const r = await aerospikeDrive(port, frames, { seconds: SECONDS, concurrency: CONCURRENCY });
  const c1 = cpuSeconds(pid);
  return { opsPerSec: r.opsPerSec, cpuUsPerOp: ((c1 - c0) * 1e6) / Math.max(1, r.ops), errors: r.errors };
}

async function measureGrpc(pid: number, port: number, reqs: readonly Buffer[]): Promise<Measured> {
  const addr = `127.0.0.1:${port}`;
  await h2drive(addr, KeyValueServiceService.get.path, reqs, { concurrency: CONCURRENCY, seconds: Math.min(2, SECONDS) });
  const c0 = cpuSeconds(pid);
  const r = await h2drive(addr, KeyValueServiceService.get.path, reqs, { concurrency: CONCURRENCY, seconds: SECONDS });
  const c1 = cpuSeconds(pid);
  return { opsPerSec: r.opsPerSec, cpuUsPerOp: ((c1 - c0) * 1e6) / Math.max(1, r.ops), errors: r.errors };
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** redis-server and redis-benchmark, installed with apt when missing (as root). */
function redisTools(): { server: string; bench: string } | string {
  const find = (name: string): string | undefined => ['/usr/bin', '/usr/local/bin', '/usr/sbin'].map((d) => join(d, name)).find((p) => existsSync(p));
  if (find('redis-server') === undefined || find('redis-benchmark') === undefined) {
    if (process.getuid?.() !== 0) return 'redis-server is not installed (install the Debian package redis-server)';
    console.error('installing redis-server with apt-get …');
    spawnSync('apt-get', ['install', '-y', '-q', 'redis-server'], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  }
  const server = find('redis-server');
  const bench = find('redis-benchmark');
  return server === undefined || bench === undefined ? 'redis-server could not be installed' : { server, bench };
}

/** redis-benchmark for one command: requests/s and the server's CPU per request. */
function redisBench(tools: { bench: string }, redis: ChildProcess, port: number, test: 'get' | 'set'): Measured {
  const n = Math.max(50_000, Math.round(SECONDS * 60_000));
  const run = (requests: number): number => {
    const out = execFileSync(tools.bench, ['-p', String(port), '-t', test, '-n', String(requests), '-c', String(CONCURRENCY), '-r', String(KEYS), '-d', String(VALUE_BYTES), '-q', '--csv'], { encoding: 'utf8' });
    const line = out.trim().split('\n').find((l) => /^"(GET|SET)"/.test(l)) ?? '';
    return Number(line.split(',')[1]?.replace(/"/g, '') ?? 0);
  };
  run(Math.round(n / 5)); // warm-up
  const c0 = cpuSeconds(redis.pid as number);
  const rps = run(n);
  const c1 = cpuSeconds(redis.pid as number);
  return { opsPerSec: rps, cpuUsPerOp: ((c1 - c0) * 1e6) / n, errors: 0 };
}

function row(name: string, r: Measured): string {
  return `| ${name} | ${Math.round(r.opsPerSec).toLocaleString('en-US')} | ${r.cpuUsPerOp.toFixed(1)} | ${Math.round(1e6 / r.cpuUsPerOp).toLocaleString('en-US')} | ${r.errors} |`;
}

const median = (rs: Measured[]): Measured => [...rs].sort((x, y) => x.cpuUsPerOp - y.cpuUsPerOp)[Math.floor(rs.length / 2)] as Measured;

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'slipstream-bench-'));
  const node = await startNodeProcess(['--port', '0', '--log-level', 'warn', '--data-dir', dataDir]);
  const pid = node.child.pid as number;
  const value = 'x'.repeat(VALUE_BYTES);
  const puts = Array.from({ length: KEYS }, (_, i) => asRequest({ info2: Info2.WRITE, namespace: 'test', set: 'bench', key: `k${i}`, ops: [{ name: 'v', value, op: Op.WRITE }] }));
  const gets = Array.from({ length: KEYS }, (_, i) => asRequest({ info1: Info1.READ | Info1.GET_ALL, namespace: 'test', set: 'bench', key: `k${i}` }));
  const grpcGets = Array.from({ length: KEYS }, (_, i) => Buffer.from(GetRequest.encode({ key: toPbKey({ namespace: 'test', set: 'bench', digest: computeDigest('bench', `k${i}`) }), bins: [], headerOnly: false, filterJson: '' }).finish()));
  await aerospikeOnce(node.port, puts, 8); // every key exists before the first get

  const tools = redisTools();
  let redis: ChildProcess | undefined;
  let redisPort = 0;
  if (typeof tools !== 'string') {
    redisPort = await freePort();
    redis = spawn(tools.server, ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'], { stdio: 'ignore' });
    for (let i = 0; i < 100; i++) {
      if (spawnSync('redis-cli', ['-p', String(redisPort), 'ping'], { encoding: 'utf8' }).stdout?.includes('PONG')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    execFileSync(tools.bench, ['-p', String(redisPort), '-t', 'set', '-n', String(KEYS * 5), '-c', '16', '-r', String(KEYS), '-d', String(VALUE_BYTES), '-q'], { stdio: 'ignore' });
  }

  const runs: Record<'get' | 'put' | 'grpc' | 'rget' | 'rset', Measured[]> = { get: [], put: [], grpc: [], rget: [], rset: [] };
  for (let round = 0; round < ROUNDS; round++) {
    runs.get.push(await measureRaw(pid, node.port, gets));
    runs.put.push(await measureRaw(pid, node.port, puts));
    runs.grpc.push(await measureGrpc(pid, node.port, grpcGets));
    if (redis !== undefined && typeof tools !== 'string') {
      runs.rget.push(redisBench(tools, redis, redisPort, 'get'));
      runs.rset.push(redisBench(tools, redis, redisPort, 'set'));
    }
  }
  redis?.kill();
  await node.stop();
  rmSync(dataDir, { recursive: true, force: true });

  const get = median(runs.get), put = median(runs.put), grpc = median(runs.grpc);
  const lines = [
    '## Aerospike protocol vs gRPC vs Redis (`npm run bench -- aerospike`)', '',
    `One node (memory namespace), ${KEYS.toLocaleString('en-US')} records of one ${VALUE_BYTES}-byte string bin; ${CONCURRENCY} requests in flight, ` +
    `${SECONDS} s per row, median of ${ROUNDS} rounds. The Aerospike protocol rows come from a raw-socket load generator (${CONCURRENCY} connections, ` +
    'one request in flight on each, as the official clients use a connection; pre-built frames); gRPC get from the node:http2 load generator on the same port; ' +
    `Redis from redis-benchmark (-c ${CONCURRENCY} -r ${KEYS} -d ${VALUE_BYTES}) against Debian's redis-server, no persistence. ` +
    'The load generators share the 2 cores with the servers, so "ops/s" depends on the generator too; "server CPU µs/op" is from /proc and "ceiling" is 1 s / CPU per op.', '',
    '| target | ops/s | server CPU µs/op | ceiling ops/s/core | errors |', '|---|---:|---:|---:|---:|',
    row('Aerospike protocol get', get), row('Aerospike protocol put', put), row('gRPC get (same port)', grpc),
  ];
  if (runs.rget.length > 0) {
    const rget = median(runs.rget), rset = median(runs.rset);
    lines.push(row('Redis GET', rget), row('Redis SET', rset), '',
      `native get / Redis GET: **${(get.opsPerSec / rget.opsPerSec).toFixed(2)}** measured, **${(rget.cpuUsPerOp / get.cpuUsPerOp).toFixed(2)}** by server ceiling; ` +
      `native put / Redis SET: **${(put.opsPerSec / rset.opsPerSec).toFixed(2)}** measured; native get / gRPC get: **${(get.opsPerSec / grpc.opsPerSec).toFixed(2)}** measured, **${(grpc.cpuUsPerOp / get.cpuUsPerOp).toFixed(2)}** by ceiling.`);
  } else {
    lines.push('', `Redis rows skipped: ${String(tools)}.`);
  }
  console.log(lines.join('\n'));
}

await main();
