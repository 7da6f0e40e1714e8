/**
 * The TypeScript client on a cluster: routing by the partition map (each request straight to
 * the node holding the record) against sending everything through one node (which proxies the
 * two thirds of the keys it does not master), on the same 3 real node processes (127.0.0.1,
 * memory engine, RF 2), in the same run: gets/s, puts/s, and gets/s with replica 'any'.
 * Prints Markdown. `npm run bench -- cluster-client` (about a minute; BENCH_MS per case).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { startNodeProcess, type NodeProcess } from '../test/helpers/process-node.ts';
import { SlipstreamClient, type ClientReplica } from '../core/client/index.ts';
import { ClusterServiceService } from '../core/wire/generated/slipstream/v1/cluster.ts';

const MS = Number(process.env['BENCH_MS'] ?? 5000);
const RECORDS = 20_000;
const CONCURRENCY = 32;
const dir = mkdtempSync(join(tmpdir(), 'slipstream-bench-client-'));
const procs: NodeProcess[] = [];

async function start(id: string, seeds: string[]): Promise<NodeProcess> {
  const file = join(dir, `${id}.json`);
  writeFileSync(file, JSON.stringify({
    node: { id, host: '127.0.0.1', port: 0, dataDir: join(dir, id) }, logLevel: 'warn',
    namespaces: [{ name: 'test', storage: 'storage-memory', replicationFactor: 2 }],
    cluster: { clusterName: 'bench-client', heartbeat: { address: '127.0.0.1:0' }, fabric: { address: '127.0.0.1:0' }, seeds },
  }));
  const p = await startNodeProcess(['--config', file], { timeoutMs: 90_000 });
  procs.push(p);
  return p;
}

let failed = 0;

/** Runs `fn` from CONCURRENCY loops for MS; successful operations per second. */
async function rate(fn: (i: number) => Promise<unknown>): Promise<number> {
  const end = performance.now() + MS;
  let n = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, async (_, w) => {
    for (let i = w; performance.now() < end; i += CONCURRENCY) {
      try {
        await fn(i);
        n++;
      } catch {
        failed++;
      }
    }
  }));
  return n / ((performance.now() - t0) / 1000);
}

async function main(): Promise<void> {
  const a = await start('D3', []);
  const admin = await SlipstreamClient.connect({ hosts: `127.0.0.1:${a.port}`, timeoutMs: 10_000 });
  const seed = (await admin.unary(ClusterServiceService.getClusterInfo, {})).members[0]?.heartbeatAddress as string;
  await Promise.all([start('D2', [seed]), start('D1', [seed])]);
  for (const t0 = Date.now(); ;) {
    const i = await admin.unary(ClusterServiceService.getClusterInfo, {});
    if (i.members.length === 3 && i.members.every((m) => m.state === 'online')) break;
    if (Date.now() - t0 > 120_000) throw new Error('the cluster did not form');
    await new Promise((r) => setTimeout(r, 100));
  }
  const viaOne = await SlipstreamClient.connect({ hosts: `127.0.0.1:${a.port}`, timeoutMs: 10_000, routing: 'seed' });
  const smart = await SlipstreamClient.connect({ hosts: `127.0.0.1:${a.port}`, timeoutMs: 10_000, routing: 'partition-map' });
  const key = (i: number) => ({ namespace: 'test', set: 'b', key: `k${i % RECORDS}` });
  await Promise.all(Array.from({ length: 64 }, async (_, w) => {
    // loading with commit level master: replicas follow in the background
    for (let i = w; i < RECORDS; i += 64) await smart.put(key(i), { v: BigInt(i), s: 'x'.repeat(100) }, { commitLevel: 'master' }, { maxRetries: 5 });
  }));
  // requests the nodes served for another node (each forwarded request once), over the whole cluster
  const admins = await Promise.all(procs.map((p) => SlipstreamClient.connect({ hosts: `127.0.0.1:${p.port}`, timeoutMs: 10_000 })));
  const proxied = async (): Promise<number> => {
    let sum = 0;
    for (const c of admins) {
      const st = await c.statistics();
      sum += Number(st.get('from_proxy_request'));
      if (process.env['BENCH_DEBUG'] !== undefined) console.error(c.address, st.get('from_proxy_request'), st.get('client_proxy_complete'), st.get('client_read_success'), st.get('client_write_success'));
    }
    return sum;
  };
  const rows: Array<[string, number, number, string]> = [];
  const measure = async (what: string, op: (c: SlipstreamClient, replica: ClientReplica) => (i: number) => Promise<unknown>, replica: ClientReplica = 'master'): Promise<void> => {
    await rate(op(smart, replica)); // warm-up (short runs under BENCH_MS=…)
    const p0 = await proxied();
    const direct = await rate(op(smart, replica));
    const p1 = await proxied();
    const one = await rate(op(viaOne, replica));
    const p2 = await proxied();
    rows.push([what, direct, one, `${p1 - p0} / ${p2 - p1}`]);
  };
  await measure('get', (c, replica) => (i) => c.get(key(i * 7919), { replica }));
  await measure('put', (c) => (i) => c.put(key(i * 7919), { v: BigInt(i), s: 'y'.repeat(100) }));
  await measure('get, replica any', (c, replica) => (i) => c.get(key(i * 7919), { replica }), 'any');
  const st = smart.routingStats();
  smart.close();
  viaOne.close();
  admin.close();
  for (const c of admins) c.close();

  const k = (n: number): string => Math.round(n).toLocaleString('en-US');
  console.log(`### Cluster client: routing by the partition map vs through one node (3 nodes, RF 2, memory; ${CONCURRENCY} concurrent requests, ${MS / 1000} s per case; load average ${loadavg()[0]?.toFixed(1)})`);
  console.log('');
  console.log('| operation | partition-map routing (ops/s) | through one node (ops/s) | ratio | requests proxied inside the cluster (map / one node) |');
  console.log('|---|---:|---:|---:|---|');
  for (const [what, d, o, p] of rows) console.log(`| ${what} | ${k(d)} | ${k(o)} | ${(d / o).toFixed(2)}× | ${p} |`);
  console.log('');
  console.log(`Client stats (partition-map): direct ${k(st?.direct ?? 0)}, proxied ${k(st?.proxied ?? 0)}, fallback ${k(st?.fallback ?? 0)}; failed operations ${k(failed)}.`);
}

try {
  await main();
} finally {
  for (const p of procs) await p.stop('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}
