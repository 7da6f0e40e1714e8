/**
 * The cluster data path, measured on real server processes on 127.0.0.1 (memory engine):
 * write throughput with RF 2 against RF 1 on the same 3 nodes, get served directly by the
 * master against get proxied by another node, the migration rate of a node that joins a loaded
 * cluster, and the window of failed writes after a member's SIGKILL (default heartbeat).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { startNodeProcess, type NodeProcess } from '../../test/helpers/process-node.ts';
import { ClusterServiceClient, type GetClusterInfoResponse, type GetPartitionMapResponse } from '../../core/wire/generated/slipstream/v1/cluster.ts';
import { SlipstreamClient } from '../../core/client/index.ts';
import { computeDigest, partitionOf } from '../../core/model/index.ts';

function info(port: number): Promise<GetClusterInfoResponse> {
  const c = new ClusterServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
  return new Promise((resolve, reject) => c.getClusterInfo({}, (err, res) => { c.close(); if (err) reject(err); else resolve(res); }));
}

function partitionMap(port: number): Promise<GetPartitionMapResponse> {
  const c = new ClusterServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
  return new Promise((resolve, reject) => c.getPartitionMap({ namespace: 'test' }, (err, res) => { c.close(); if (err) reject(err); else resolve(res); }));
}

class Cluster {
  readonly dir = mkdtempSync(join(tmpdir(), 'slipstream-bench-dp-'));
  readonly procs = new Map<string, NodeProcess>();
  seed = '';
  readonly rf: number;
  constructor(rf: number) {
    this.rf = rf;
  }
  async start(id: string): Promise<NodeProcess> {
    const file = join(this.dir, `${id}.json`);
    writeFileSync(file, JSON.stringify({
      node: { id, host: '127.0.0.1', port: 0, dataDir: join(this.dir, id) }, logLevel: 'warn',
      namespaces: [{ name: 'test', storage: 'storage-memory', replicationFactor: this.rf }],
      cluster: { clusterName: 'bench', heartbeat: { address: '127.0.0.1:0' }, fabric: { address: '127.0.0.1:0' }, seeds: this.seed === '' ? [] : [this.seed] },
    }));
    const p = await startNodeProcess(['--config', file], { timeoutMs: 60_000 });
    if (this.seed === '') this.seed = (await info(p.port)).members[0]?.heartbeatAddress ?? '';
    this.procs.set(id, p);
    return p;
  }
  async agreed(ids: string[], maxMs = 120_000): Promise<number> {
    const t0 = performance.now();
    for (;;) {
      try {
        const rs = await Promise.all(ids.map((id) => info((this.procs.get(id) as NodeProcess).port)));
        if (rs.every((r) => r.members.map((m) => m.nodeId).join(',') === ids.join(',') && r.state === 'online')) return performance.now() - t0;
      } catch { /* not yet */ }
      if (performance.now() - t0 > maxMs) throw new Error(`no agreement on ${ids.join(',')}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  async stop(): Promise<void> {
    for (const p of this.procs.values()) await p.stop('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Failed operations seen by rate() (TIMEOUTs on an overloaded machine), reported with the results. */
export const failures = { count: 0 };

/** Runs `fn` from `concurrency` loops for `ms`; successful operations per second. */
async function rate(ms: number, concurrency: number, fn: (i: number) => Promise<unknown>): Promise<number> {
  const end = performance.now() + ms;
  let n = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async (_, w) => {
    for (let i = w; performance.now() < end; i += concurrency) {
      try {
        await fn(i);
        n++;
      } catch {
        failures.count++;
      }
    }
  }));
  return n / ((performance.now() - t0) / 1000);
}

async function writeThroughput(rf: number, ms: number): Promise<number> {
  const c = new Cluster(rf);
  try {
    for (const id of ['C3', 'C2', 'C1']) await c.start(id);
    await c.agreed(['C3', 'C2', 'C1']);
    const clients = await Promise.all([...c.procs.values()].map((p) => SlipstreamClient.connect({ hosts: `127.0.0.1:${p.port}`, timeoutMs: 10_000, routing: 'seed' })));
    const put = (i: number) => (clients[i % 3] as SlipstreamClient).put({ namespace: 'test', set: 'w', key: `k${i % 50_000}` }, { v: BigInt(i), s: 'x'.repeat(100) });
    await rate(1000, 48, put); // warm-up
    const r = await rate(ms, 48, put);
    for (const cl of clients) cl.close();
    return r;
  } finally {
    await c.stop();
  }
}

export interface DataPathResults {
  writesRf1: number;
  writesRf2: number;
  getDirect: number;
  getProxied: number;
  /** Records received by the joining node, join → online, its fill rate, and the client put rate that loaded the data (the peer). */
  migration: { records: number; ms: number; perSecond: number; loadPerSecond: number };
  /** Writes failing after a member's SIGKILL, and the survivors' re-formation without it (the floor). */
  sigkillWindowMs: number;
  sigkillReformedMs: number;
}

export async function measureDataPath(): Promise<DataPathResults> {
  const MS = Number(process.env['BENCH_MS'] ?? 5000);
  const writesRf1 = await writeThroughput(1, MS);
  const writesRf2 = await writeThroughput(2, MS);

  // get: through node C3, keys it masters (direct) against keys others master (proxied); then a join's migration; then SIGKILL
  const c = new Cluster(2);
  try {
    for (const id of ['C3', 'C2']) await c.start(id);
    await c.agreed(['C3', 'C2']);
    const a = c.procs.get('C3') as NodeProcess;
    const ca = await SlipstreamClient.connect({ hosts: `127.0.0.1:${a.port}`, timeoutMs: 10_000, routing: 'seed' });
    const N = Number(process.env['BENCH_MIGRATE_RECORDS'] ?? 100_000);
    await rate(1, 1, async () => {}); // (no-op: keeps the helper's shape)
    let loaded = 0;
    const tLoad = performance.now();
    await Promise.all(Array.from({ length: 64 }, async (_, w) => {
      for (let i = w; i < N; i += 64) {
        try {
          await ca.put({ namespace: 'test', set: 'm', key: `r${i}` }, { v: BigInt(i), s: 'x'.repeat(100) });
          loaded++;
        } catch {
          failures.count++;
        }
      }
    }));
    const loadPerSecond = loaded / ((performance.now() - tLoad) / 1000);
    // a third node joins: it fills about 2/3 of the records (RF 2 over 3 nodes)
    const t0 = performance.now();
    await c.start('C1');
    await c.agreed(['C3', 'C2', 'C1']);
    const joinMs = performance.now() - t0;
    const c1 = await SlipstreamClient.connect({ hosts: `127.0.0.1:${(c.procs.get('C1') as NodeProcess).port}`, timeoutMs: 10_000 });
    // the fill may finish just after the node reports online: wait for its last rate
    let st = await c1.statistics();
    for (let i = 0; i < 100 && Number(st.get('migrate_last_rate')) === 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      st = await c1.statistics();
    }
    const received = Number(st.get('migrate_records_received'));
    const perSecond = Number(st.get('migrate_last_rate'));
    c1.close();

    const map = await partitionMap(a.port);
    const masterOf = (k: string): string => map.nodes[map.partitions[partitionOf(computeDigest('m', k))]?.nodeIndexes[0] ?? 0] ?? '';
    const direct: string[] = [];
    const proxied: string[] = [];
    for (let i = 0; i < N && (direct.length < 2000 || proxied.length < 2000); i++) (masterOf(`r${i}`) === 'C3' ? direct : proxied).push(`r${i}`);
    const getDirect = await rate(MS, 32, (i) => ca.get({ namespace: 'test', set: 'm', key: direct[i % direct.length] as string }));
    const getProxied = await rate(MS, 32, (i) => ca.get({ namespace: 'test', set: 'm', key: proxied[i % proxied.length] as string }));

    // SIGKILL C2 under a write load through C3 and C1: how long do writes fail?
    const c3 = ca;
    const c1b = await SlipstreamClient.connect({ hosts: `127.0.0.1:${(c.procs.get('C1') as NodeProcess).port}`, timeoutMs: 2000, routing: 'seed' });
    let killedAt = 0;
    let lastFail = 0;
    let stop = false;
    const load = Promise.all(Array.from({ length: 16 }, async (_, w) => {
      for (let i = w; !stop; i += 16) {
        try {
          await (w % 2 === 0 ? c3 : c1b).put({ namespace: 'test', set: 'k', key: `x${i % 5000}` }, { v: BigInt(i) });
        } catch {
          if (killedAt > 0) lastFail = performance.now();
          await new Promise((r) => setTimeout(r, 5));
        }
      }
    }));
    await new Promise((r) => setTimeout(r, 1500));
    killedAt = performance.now();
    await (c.procs.get('C2') as NodeProcess).stop('SIGKILL');
    c.procs.delete('C2');
    const reformedMs = await c.agreed(['C3', 'C1'], 60_000);
    await new Promise((r) => setTimeout(r, 8000));
    stop = true;
    await load;
    ca.close();
    c1b.close();
    return {
      writesRf1, writesRf2, getDirect, getProxied,
      migration: { records: received, ms: joinMs, perSecond, loadPerSecond },
      sigkillWindowMs: lastFail === 0 ? 0 : lastFail - killedAt,
      sigkillReformedMs: reformedMs,
    };
  } finally {
    await c.stop();
  }
}
