/**
 * Profiles a node (or the bare grpc-js server) while it answers gets, and prints where its
 * CPU goes. Not a benchmark (bench/run.ts does not run it); a tool for the read path.
 *
 *   node bench/lib/profile-get.ts [node|bare] [--by-key | --put | --scan] [--seconds N]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { h2drive } from './h2load.ts';
import { cpuProfileTop } from './cpuprofile-top.ts';
import { SlipstreamClient, toPbKey } from '../../core/client/index.ts';
import { GetRequest, GetResponse, KeyValueServiceService, PutRequest, ScanRequest } from '../../core/wire/generated/slipstream/v1/kv.ts';
import { toPbBins } from '../../core/wire/convert.ts';
import { computeDigest, type Bins } from '../../core/model/index.ts';

const args = process.argv.slice(2);
const target = args.includes('bare') ? 'bare' : 'node';
const byKey = args.includes('--by-key');
const put = args.includes('--put');
const scan = args.includes('--scan');
const seconds = Number(args[args.indexOf('--seconds') + 1] ?? 10) || 10;
const KEYS = 10_000;
const bins: Bins = { name: 'user-000000', age: 42n, score: 3.25, tags: ['a', 'b'], blob: new Uint8Array(40) };
const dir = mkdtempSync(join(tmpdir(), 'slipstream-profile-'));
const main = fileURLToPath(new URL('../../core/main.ts', import.meta.url));
const bare = fileURLToPath(new URL('./bare-server.ts', import.meta.url));

// a node with the records, and the response the bare server answers with
const node = spawn(process.execPath, ['--no-node-snapshot', ...(target === 'node' ? ['--cpu-prof', '--cpu-prof-dir', dir] : []), main, '--port', '0', '--log-level', 'warn', '--data-dir', join(dir, 'data')],
  { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: { ...process.env, LOG_FORMAT: 'json' } });
const nodePort = await new Promise<number>((resolve) => node.on('message', (m: { port?: number }) => { if (typeof m.port === 'number') resolve(m.port); }));
const client = await SlipstreamClient.connect({ hosts: `127.0.0.1:${nodePort}` });
for (let i = 0; i < KEYS; i++) await client.put({ namespace: 'test', set: 'bench', key: `k${i}` }, bins);
const reqs = Array.from({ length: KEYS }, (_, i) => Buffer.from(GetRequest.encode({
  key: toPbKey({ namespace: 'test', set: 'bench', ...(byKey ? { key: `k${i}` } : { digest: computeDigest('bench', `k${i}`) }) }), bins: [], headerOnly: false, filterJson: '',
}).finish()));
const sample = await client.unary(KeyValueServiceService.get, GetRequest.decode(reqs[0] as Buffer));
client.close();

let server: ChildProcess = node;
let port = nodePort;
if (target === 'bare') {
  server = spawn(process.execPath, ['--cpu-prof', '--cpu-prof-dir', dir, bare, Buffer.from(GetResponse.encode(sample).finish()).toString('base64')], { stdio: ['ignore', 'pipe', 'inherit'] });
  port = await new Promise<number>((resolve) => server.stdout?.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
}
const putReqs = Array.from({ length: KEYS }, (_, i) => Buffer.from(PutRequest.encode({ key: toPbKey({ namespace: 'test', set: 'bench', key: `k${i}` }), bins: toPbBins(bins) }).finish()));
const scanReq = Buffer.from(ScanRequest.encode({ namespace: 'test', set: 'bench', partitions: [], afterDigest: new Uint8Array(0), bins: [], noBins: false, maxRecords: 0n, filterJson: '', recordsPerMessage: Number(process.env['PER_MESSAGE'] ?? 1) }).finish());
const r = scan
  ? await h2drive(`127.0.0.1:${port}`, KeyValueServiceService.scan.path, [scanReq], { concurrency: 2, seconds })
  : put
  ? await h2drive(`127.0.0.1:${port}`, KeyValueServiceService.put.path, putReqs, { concurrency: 64, seconds })
  : await h2drive(`127.0.0.1:${port}`, KeyValueServiceService.get.path, reqs, { concurrency: 64, seconds });
console.log(`${target} ${scan ? 'scan (calls)' : put ? 'put' : byKey ? 'get by key' : 'get by digest'}: ${Math.round(r.opsPerSec)} ops/s, p50 ${r.p50Ms.toFixed(2)} ms, ${r.errors} errors\n`);
for (const c of target === 'bare' ? [server, node] : [node]) {
  const exited = new Promise((resolve) => c.on('exit', resolve));
  c.kill(c === node ? 'SIGTERM' : 'SIGINT');
  await exited;
}
// the main thread's profile is the largest (a logger's worker thread writes a small one)
const profile = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(dir, f))
  .sort((a, b) => statSync(b).size - statSync(a).size)[0];
if (profile !== undefined) console.log(cpuProfileTop(profile, { windowSeconds: seconds - 0.5, top: Number(process.env['TOP'] ?? 45) }));
rmSync(dir, { recursive: true, force: true });
