/**
 * Cluster membership timings with real server processes on 127.0.0.1 and the default heartbeat
 * (150 ms × 10) and quantum (1810 ms):
 *  - start → membership: from spawning a new node until every node lists it (includes process
 *    boot), and from its gRPC port being ready until then;
 *  - death → re-formed: from SIGKILL of a member until the survivors agree on a cluster without it
 *    (heartbeat timeout + a short settle + a Paxos round: a death does not wait for the quantum).
 * Prints Markdown. `npm run bench -- cluster` (about a minute).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { startNodeProcess, type NodeProcess } from '../test/helpers/process-node.ts';
import { ClusterServiceClient, type GetClusterInfoResponse } from '../core/wire/generated/slipstream/v1/cluster.ts';
import { failures, measureDataPath } from './lib/cluster-data.ts';
import { gracefulLeaveRow } from './lib/cluster-leave.ts';

const REPS = Number(process.env['BENCH_REPS'] ?? 3);
const dir = mkdtempSync(join(tmpdir(), 'slipstream-bench-cluster-'));
const procs: NodeProcess[] = [];

function info(port: number): Promise<GetClusterInfoResponse> {
  const c = new ClusterServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
  return new Promise((resolve, reject) => c.getClusterInfo({}, (err, res) => { c.close(); if (err) reject(err); else resolve(res); }));
}

async function start(id: string, seeds: string[]): Promise<NodeProcess> {
  const file = join(dir, `${id}.json`);
  writeFileSync(file, JSON.stringify({
    node: { id, host: '127.0.0.1', port: 0, dataDir: join(dir, id) }, logLevel: 'warn',
    namespaces: [{ name: 'test', storage: 'storage-memory' }],
    cluster: { clusterName: 'bench', heartbeat: { address: '127.0.0.1:0' }, fabric: { address: '127.0.0.1:0' }, seeds },
  }));
  const p = await startNodeProcess(['--config', file], { timeoutMs: 60_000 });
  procs.push(p);
  return p;
}

async function agreed(nodes: NodeProcess[], want: string): Promise<boolean> {
  try {
    const rs = await Promise.all(nodes.map((n) => info(n.port)));
    return rs.every((r) => r.members.map((m) => m.nodeId).join(',') === want && r.state === 'online' && r.clusterKey === rs[0]?.clusterKey);
  } catch {
    return false;
  }
}

async function waitAgreed(nodes: NodeProcess[], want: string): Promise<number> {
  const t0 = performance.now();
  while (!(await agreed(nodes, want))) {
    if (performance.now() - t0 > 60_000) throw new Error(`no agreement on ${want}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return performance.now() - t0;
}

const ids = (n: number): string[] => Array.from({ length: n }, (_, i) => `B${n - i}`); // descending

interface Row { size: number; spawnToMember: number[]; readyToMember: number[]; deathToReformed: number[]; principalDeath: number[] }

async function run(size: number): Promise<Row> {
  const row: Row = { size, spawnToMember: [], readyToMember: [], deathToReformed: [], principalDeath: [] };
  for (let rep = 0; rep < REPS; rep++) {
    const all = ids(size);
    const first = await start(all[0] as string, []);
    const seed = (await info(first.port)).members[0]?.heartbeatAddress as string;
    const nodes = [first];
    for (const id of all.slice(1, -1)) nodes.push(await start(id, [seed]));
    await waitAgreed(nodes, all.slice(0, -1).join(','));
    // a new node joins (lowest id)
    const t0 = performance.now();
    const joiner = await start(all[all.length - 1] as string, [seed]);
    const tReady = performance.now();
    nodes.push(joiner);
    await waitAgreed(nodes, all.join(','));
    row.spawnToMember.push(performance.now() - t0);
    row.readyToMember.push(performance.now() - tReady);
    // a member dies
    const victim = nodes[1] as NodeProcess;
    const t1 = performance.now();
    await victim.stop('SIGKILL');
    const rest = nodes.filter((n) => n !== victim);
    await waitAgreed(rest, all.filter((_, i) => i !== 1).join(','));
    row.deathToReformed.push(performance.now() - t1);
    // the principal dies
    const t2 = performance.now();
    await first.stop('SIGKILL');
    const rest2 = rest.filter((n) => n !== first);
    await waitAgreed(rest2, all.filter((_, i) => i !== 1 && i !== 0).join(','));
    row.principalDeath.push(performance.now() - t2);
    for (const p of nodes) await p.stop('SIGKILL');
    procs.length = 0;
  }
  return row;
}

const fmt = (xs: number[]): string => {
  const s = [...xs].sort((a, b) => a - b);
  return `${Math.round(s[Math.floor(s.length / 2)] ?? 0)} (${Math.round(s[0] ?? 0)}–${Math.round(s[s.length - 1] ?? 0)})`;
};

try {
  const parts = (process.env['BENCH_CLUSTER'] ?? 'membership,data').split(',');
  // BENCH_CLUSTER=migration: the join's migration row alone, BENCH_MIGRATE_ROUNDS times (a fresh cluster each)
  if (parts.includes('migration')) {
    const k = (x: number): string => Math.round(x).toLocaleString('en-US');
    console.log(`\n### Cluster migration alone (real processes, 127.0.0.1, memory engine; load average ${loadavg().map((x) => x.toFixed(1)).join(' ')} at the start)\n`);
    console.log('| round | records received | records/s | join → online | load average (1 min) |');
    console.log('|---|---|---|---|---|');
    const rates: number[] = [];
    for (let r = 1; r <= Number(process.env['BENCH_MIGRATE_ROUNDS'] ?? 3); r++) {
      const m = (await measureDataPath({ migrationOnly: true })).migration;
      rates.push(m.perSecond);
      console.log(`| ${r} | ${k(m.records)} | ${k(m.perSecond)} | ${k(m.ms)} ms | ${(loadavg()[0] ?? 0).toFixed(1)} |`);
    }
    const sorted = [...rates].sort((x, y) => x - y);
    console.log(`| median (min–max) | | ${k(sorted[Math.floor(sorted.length / 2)] ?? 0)} (${k(sorted[0] ?? 0)}–${k(sorted[sorted.length - 1] ?? 0)}) | | |`);
  }
  if (parts.includes('data')) {
    const load0 = loadavg();
    const d = await measureDataPath();
    const k = (x: number): string => Math.round(x).toLocaleString('en-US');
    console.log(`\n### Cluster data path (real processes, 127.0.0.1, memory engine, default heartbeat; load average ${load0.map((x) => x.toFixed(1)).join(' ')} at the start)\n`);
    console.log('| measure | value |');
    console.log('|---|---|');
    const med = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] ?? 0;
    const span = (xs: number[], f: (x: number) => string): string => `${f(med(xs))} (${f(Math.min(...xs))}–${f(Math.max(...xs))})`;
    const rounds = Math.max(d.writes.grpc.rf1.length, d.writes.aerospike.rf1.length);
    const roundMs = Number(process.env['BENCH_WRITE_ROUND_MS'] ?? Number(process.env['BENCH_MS'] ?? 5000) / 2);
    for (const [name, w, how] of [
      ['gRPC client', d.writes.grpc, '48 in flight through all nodes'],
      ['official Aerospike client', d.writes.aerospike, 'Aerospike protocol, partition-aware, 48 in flight'],
    ] as const) {
      if (w.rf1.length === 0 || w.rf2.length === 0) { // one side only (BENCH_WRITE_RFS)
        for (const [rf, rs] of [['1', w.rf1], ['2', w.rf2]] as const) if (rs.length > 0) console.log(`| RF ${rf}, ${name}: writes/s, node CPU per write, load generator CPU per write (median) | ${k(med(rs.map((r) => r.perSecond)))}, ${k(med(rs.map((r) => r.nodeCpuUs)))} µs, ${k(med(rs.map((r) => r.clientCpuUs)))} µs |`);
        continue;
      }
      const r1 = w.rf1.map((r) => r.perSecond);
      const r2 = w.rf2.map((r) => r.perSecond);
      const pairs = r2.map((x, i) => x / (r1[i] ?? 1));
      const cpu = (rs: typeof w.rf1, f: 'nodeCpuUs' | 'clientCpuUs'): number => med(rs.map((r) => r[f]));
      console.log(`| writes/s, 3 nodes RF 1, ${name} (${how}; median (min–max) of ${rounds} rounds of ${roundMs / 1000} s, RF 1 and RF 2 alternating) | ${span(r1, k)} |`);
      console.log(`| writes/s, 3 nodes RF 2 (commit level all), ${name} | ${span(r2, k)} (${(med(r2) / med(r1)).toFixed(2)}× RF 1; round pairs ${Math.min(...pairs).toFixed(2)}–${Math.max(...pairs).toFixed(2)}×) |`);
      console.log(`| CPU per write, the 3 node processes together, RF 1 / RF 2, ${name} (median) | ${k(cpu(w.rf1, 'nodeCpuUs'))} / ${k(cpu(w.rf2, 'nodeCpuUs'))} µs (RF 2 ${cpu(w.rf2, 'nodeCpuUs') >= cpu(w.rf1, 'nodeCpuUs') ? '+' : '−'}${k(Math.abs(cpu(w.rf2, 'nodeCpuUs') - cpu(w.rf1, 'nodeCpuUs')))}) |`);
      console.log(`| CPU per write, the load generator, RF 1 / RF 2, ${name} (median) | ${k(cpu(w.rf1, 'clientCpuUs'))} / ${k(cpu(w.rf2, 'clientCpuUs'))} µs |`);
      const copies = w.rf2.flatMap((r) => (r.copiesPerRequest === undefined ? [] : [r.copiesPerRequest]));
      if (copies.length > 0) console.log(`| replica copies per fabric request, RF 2, ${name} (median (min–max) of the rounds; calls sent together, one request in flight per replica) | ${span(copies, (x) => x.toFixed(1))} |`);
    }
    if (process.env['BENCH_CLUSTER_WRITES_ONLY'] === '1') {
      console.log(`| operations that failed (TIMEOUT) during the write rounds | ${k(failures.count)} |`);
      process.exit(0);
    }
    console.log(`| get/s through a node, keys it masters (direct) | ${k(d.getDirect)} |`);
    console.log(`| get/s through the same node, keys mastered elsewhere (proxied) | ${k(d.getProxied)} (${(d.getProxied / d.getDirect).toFixed(2)}× direct) |`);
    console.log(`| migration: node joining a 2-node RF 2 cluster | ${k(d.migration.records)} records received, ${k(d.migration.perSecond)} records/s; join → online ${k(d.migration.ms)} ms |`);
    console.log(`| peer: client puts/s that loaded those records (64 in flight, RF 2) | ${k(d.migration.loadPerSecond)} (migration ${(d.migration.perSecond / d.migration.loadPerSecond).toFixed(1)}× puts) |`);
    console.log(`| SIGKILL of a member under write load: writes failing for | ${k(d.sigkillWindowMs)} ms |`);
    console.log(`| floor: SIGKILL → survivors re-formed without it (heartbeat timeout + quantum) | ${k(d.sigkillReformedMs)} ms |`);
    console.log(await gracefulLeaveRow());
    console.log(`| operations that failed (TIMEOUT) during the throughput and migration runs | ${k(failures.count)} |`);
  }
  if (!parts.includes('membership')) process.exit(0);
  const rows: Row[] = [];
  for (const size of [3, 5]) rows.push(await run(size));
  console.log(`\n### Cluster membership (real processes, 127.0.0.1, heartbeat 150 ms × 10, quantum 1810 ms; ms, median (min–max) of ${REPS})\n`);
  console.log('| nodes | new node: spawn → member | new node: ready → member | member SIGKILL → re-formed | principal SIGKILL → re-formed |');
  console.log('|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.size} | ${fmt(r.spawnToMember)} | ${fmt(r.readyToMember)} | ${fmt(r.deathToReformed)} | ${fmt(r.principalDeath)} |`);
} finally {
  for (const p of procs) await p.stop('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}
