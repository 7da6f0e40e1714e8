/**
 * Server CPU per call of networked record UDF calls and plain puts against a real node process,
 * split into the node's own CPU and its UDF host process's, over the Aerospike protocol and gRPC;
 * each row repeated (ROUNDS) so that one noisy second on a shared machine shows as spread. With
 * PROFILE=<dir> the node (and its host) run with --cpu-prof and the top self-time functions of
 * each are printed.
 * Rows: as-udf, as-put (Aerospike protocol), grpc-udf, grpc-put (gRPC) against the node;
 * bare-grpc-put and bare-h2-put drive the same Put requests against a bare grpc-js server
 * (bare-server.ts) and a bare node:http2 server (bare-h2-server.ts) that answer with a fixed
 * response: what the transport itself costs a call, apart from Slipstream's code.
 * bare-as-put, bare-as-conn-put and bare-as-fe-put do the same for the Aerospike protocol
 * (bare-as-server.ts): fixed answers from plain node:net sockets, the front end's connection
 * with fixed answers, the front end on a bare in-memory kernel.
 * With BASE=<another checkout>, rows named base:<row> run against a node started from that
 * checkout's code, interleaved round by round with this one's (an A/B), and rows named
 * oldgen:<row> drive this node with that checkout's Aerospike load generator; a summary gives
 * each row's min and median over the rounds.
 * NODE_FLAGS adds node flags to the nodes (e.g. --perf-basic-prof, for `perf record -p <pid>`).
 * Process-mode UDF rows also print the node's calls per call pipe write (the batch size the UDF
 * host gets, from the node's metrics).
 * Run: node --no-node-snapshot bench/lib/udf-net-costs.ts [process|in-process] [rows…]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { PutResponse } from '../../core/wire/generated/slipstream/v1/kv.ts';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
import { startNodeProcess } from '../../test/helpers/process-node.ts';
import { SlipstreamClient, toPbKey } from '../../core/client/index.ts';
import { ApplyRecordUdfRequest, UdfServiceService } from '../../core/wire/generated/slipstream/v1/udf.ts';
import { KeyValueServiceService, PutRequest } from '../../core/wire/generated/slipstream/v1/kv.ts';
import { toPbBins, toPbValue } from '../../core/wire/convert.ts';
import { aerospikeDrive, asRequest, udfApplyRequest } from './aerospike-load.ts';
import { h2drive } from './h2load.ts';
import { Info2, Op } from '../../core/server/aerospike/protocol.ts';
import { cpuProfileTop } from './cpuprofile-top.ts';
import { childPids, cpuMicros } from './process-cpu.ts';
import { callsPerWrite, hostBatchCount } from './udf-host-batches.ts';

const isolation = (process.argv[2] ?? 'process') as 'process' | 'in-process';
const rows = process.argv.slice(3).length > 0 ? process.argv.slice(3) : ['as-udf', 'as-put'];
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 3);
const ROUNDS = Number(process.env['ROUNDS'] ?? 3);
const PROFILE = process.env['PROFILE'];
const KEYS = 1000;
const MODULE = 'export function incr(rec, n) { rec.count = (rec.count ?? 0) + n; aerospike.update(rec); return rec.count; }';

/** CPU seconds of a process (0 once it is gone); `sys`: system time only. */
function ticks(pid: number, which: 'all' | 'sys' = 'all'): number {
  try {
    return cpuMicros(pid, { system: which === 'sys' }) / 1e6;
  } catch { return 0; }
}

const key = (i: number): string => `k${i}`;
const reqs: Record<string, { protocol: 'grpc' | 'aerospike'; frames: Buffer[]; path?: string }> = {
  'as-udf': { protocol: 'aerospike', frames: Array.from({ length: KEYS }, (_, i) => udfApplyRequest('test', 'a', key(i), 'bench', 'incr', [1n])) },
  'as-put': { protocol: 'aerospike', frames: Array.from({ length: KEYS }, (_, i) => asRequest({ info2: Info2.WRITE, namespace: 'test', set: 'q', key: key(i), ops: [{ name: 'count', value: BigInt(i), op: Op.WRITE }] })) },
  'grpc-udf': { protocol: 'grpc', path: UdfServiceService.applyRecordUdf.path, frames: Array.from({ length: KEYS }, (_, i) => Buffer.from(ApplyRecordUdfRequest.encode({ key: toPbKey({ namespace: 'test', set: 'g', key: key(i) }), call: { module: 'bench', function: 'incr', args: [toPbValue(1n)], timeoutMs: 0 } }).finish())) },
  'grpc-put': { protocol: 'grpc', path: KeyValueServiceService.put.path, frames: Array.from({ length: KEYS }, (_, i) => Buffer.from(PutRequest.encode({ key: toPbKey({ namespace: 'test', set: 'p', key: BigInt(i) }), bins: toPbBins({ count: BigInt(i) }) }).finish())) },
};

const dir = mkdtempSync(join(tmpdir(), 'slipstream-udf-net-'));
const profDir = PROFILE === undefined ? undefined : mkdtempSync(join(tmpdir(), 'slipstream-udf-prof-'));
const BASE = process.env['BASE'];
type Start = typeof startNodeProcess;
type Drive = typeof aerospikeDrive;
const loadBase = async <T>(file: string): Promise<T> => await import(pathToFileURL(join(BASE ?? '', file)).href) as T;
async function startNode(start: Start, name = 'node'): Promise<{ node: Awaited<ReturnType<Start>>; pid: number }> {
  const data = join(dir, name);
  mkdirSync(data);
  writeFileSync(join(data, 'node.json'), JSON.stringify({ node: { host: '127.0.0.1', port: 0, dataDir: data, metricsPort: 0 }, namespaces: [{ name: 'test', storage: 'storage-memory' }], udf: { isolation } }));
  const node = await start(['--config', join(data, 'node.json'), '--log-level', 'warn'], { nodeFlags: [...(profDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profDir}`]), ...(process.env['NODE_FLAGS'] ?? '').split(' ').filter((f) => f !== '')] });
  const client = await SlipstreamClient.connect({ hosts: `127.0.0.1:${node.port}` });
  await client.unary(UdfServiceService.registerModule, { fileName: 'bench.js', source: MODULE }, { timeoutMs: 60_000 });
  client.close();
  return { node, pid: node.child.pid ?? 0 };
}
const { node, pid } = await startNode(startNodeProcess);
const base = BASE === undefined ? undefined : await startNode((await loadBase<{ startNodeProcess: Start }>('test/helpers/process-node.ts')).startNodeProcess, 'base');
const oldDrive = BASE === undefined ? undefined : (await loadBase<{ aerospikeDrive: Drive }>('bench/lib/aerospike-load.ts')).aerospikeDrive;
/** The bare servers, started on first use: pid and port. */
const bare = new Map<string, { proc: ChildProcess; port: number }>();
async function bareServer(row: string): Promise<{ proc: ChildProcess; port: number }> {
  const known = bare.get(row);
  if (known !== undefined) return known;
  const file = row === 'bare-grpc-put' ? './bare-server.ts' : row.startsWith('bare-as-') ? './bare-as-server.ts' : './bare-h2-server.ts';
  // a Put's answer as the node sends it (for the bare grpc-js server: an empty GetResponse is its other answer)
  const arg = row === 'bare-grpc-put' ? '' : row === 'bare-as-put' ? 'fixed' : row === 'bare-as-fe-put' ? 'front-end' : row === 'bare-as-conn-put' ? 'connection' : Buffer.from(PutResponse.encode({ meta: { generation: 1, ttl: -1n, lastUpdateMs: BigInt(Date.now()), voidTime: 0 } }).finish()).toString('base64');
  const proc = spawn(process.execPath, ['--no-node-snapshot', fileURLToPath(new URL(file, import.meta.url)), arg], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve) => proc.stdout?.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
  const started = { proc, port };
  bare.set(row, started);
  return started;
}
/** Drives one row for `seconds`; the pid whose CPU counts as the server's. */
const drive = async (r: string, seconds: number): Promise<{ res: Awaited<ReturnType<typeof h2drive>>; server: number }> => {
  if (r.startsWith('bare-')) {
    const b = await bareServer(r);
    if (r.startsWith('bare-as-')) return { res: await aerospikeDrive(b.port, reqs['as-put']?.frames ?? [], { concurrency: 64, seconds }), server: b.proc.pid ?? 0 };
    return { res: await h2drive(`127.0.0.1:${b.port}`, KeyValueServiceService.put.path, reqs['grpc-put']?.frames ?? [], { concurrency: 64, seconds }), server: b.proc.pid ?? 0 };
  }
  const [side, name] = r.includes(':') ? r.split(':') as [string, string] : ['this', r];
  const q = reqs[name];
  if (q === undefined) throw new Error(`unknown row ${r}`);
  const target = side === 'base' ? base : { node, pid };
  if (target === undefined) throw new Error(`${r} needs BASE=<checkout>`);
  const gen = side === 'oldgen' ? oldDrive ?? aerospikeDrive : aerospikeDrive;
  const res = q.protocol === 'grpc' ? await h2drive(`127.0.0.1:${target.node.port}`, q.path ?? '', q.frames, { concurrency: 64, seconds }) : await gen(target.node.port, q.frames, { concurrency: 64, seconds });
  return { res, server: target.pid };
};
const summary = new Map<string, { node: number[]; client: number[]; rate: number[] }>();
try {
  for (const r of rows) await drive(r, 1);
  for (let round = 0; round < ROUNDS; round++) {
    for (const r of rows) {
      const server = r.startsWith('bare-') ? (await bareServer(r)).proc.pid ?? 0 : r.startsWith('base:') ? base?.pid ?? 0 : pid;
      const hosts = r.startsWith('bare-') ? [] : childPids(server);
      const n0 = ticks(server);
      const s0 = ticks(server, 'sys');
      const me0 = process.cpuUsage();
      const h0 = hosts.map((p) => ticks(p));
      const metricsPort = r.startsWith('bare-') ? undefined : r.startsWith('base:') ? base?.node.metricsPort : node.metricsPort;
      const b0 = await hostBatchCount(metricsPort);
      const { res } = await drive(r, SECONDS);
      const perWrite = callsPerWrite(b0, await hostBatchCount(metricsPort));
      const batch = perWrite === undefined ? '' : ` calls/write ${perWrite.toFixed(1)}`;
      const n = ((ticks(server) - n0) * 1e6) / res.ops;
      const sys = ((ticks(server, 'sys') - s0) * 1e6) / res.ops;
      const me = process.cpuUsage(me0);
      const client = (me.user + me.system) / res.ops;
      const clientSys = me.system / res.ops;
      const h = (hosts.map((p) => ticks(p)).reduce((a, b) => a + b, 0) - h0.reduce((a, b) => a + b, 0)) * 1e6 / res.ops;
      const seen = summary.get(r) ?? { node: [], client: [], rate: [] };
      seen.node.push(n + h);
      seen.client.push(client);
      seen.rate.push(res.opsPerSec);
      summary.set(r, seen);
      console.log(`${r.padEnd(13)} [${isolation}] ${Math.round(res.opsPerSec).toLocaleString('en-US').padStart(7)}/s  node ${n.toFixed(1).padStart(5)} µs/call (sys ${sys.toFixed(1)})  host ${h.toFixed(1).padStart(5)}  total ${(n + h).toFixed(1).padStart(5)}  client ${client.toFixed(1)} (sys ${clientSys.toFixed(1)})  p50 ${res.p50Ms.toFixed(2)} ms  errors ${res.errors}${batch}  load ${loadavg()[0]?.toFixed(1)}`);
    }
  }
  const mid = (xs: number[]): string => { const s = [...xs].sort((a, b) => a - b); return `min ${(s[0] ?? 0).toFixed(1)} median ${(s[Math.floor(s.length / 2)] ?? 0).toFixed(1)}`; };
  console.log(`\nsummary over ${ROUNDS} rounds (µs/call):`);
  for (const [r, v] of summary) console.log(`${r.padEnd(18)} server ${mid(v.node)}  client ${mid(v.client)}  calls/s median ${Math.round([...v.rate].sort((a, b) => a - b)[Math.floor(v.rate.length / 2)] ?? 0).toLocaleString('en-US')}`);
} finally {
  for (const b of bare.values()) b.proc.kill('SIGINT');
  await node.stop();
  await base?.node.stop();
  rmSync(dir, { recursive: true, force: true });
}
if (profDir !== undefined) {
  await new Promise((res) => setTimeout(res, 800));
  for (const f of readdirSync(profDir).filter((x) => x.endsWith('.cpuprofile'))) {
    const who = f.split('.')[3] === String(pid) ? 'NODE' : 'HOST/other';
    const out = cpuProfileTop(join(profDir, f), { windowSeconds: SECONDS * ROUNDS * rows.length, top: Number(PROFILE) || 45 });
    if (out.startsWith('0 ms') || /^\d ms/.test(out)) continue;
    console.log(`\n===== ${who} ${f}\n${out}`);
  }
  if (process.env['KEEP_PROFILE'] === undefined) rmSync(profDir, { recursive: true, force: true });
  else console.log(`profiles kept in ${profDir}`);
}
