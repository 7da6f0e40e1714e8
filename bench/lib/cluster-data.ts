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
import Aerospike from 'aerospike';
import { cpuMicros, ownCpuMicros } from './process-cpu.ts';

function info(port: number): Promise<GetClusterInfoResponse> {
  const c = new ClusterServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
  return new Promise((resolve, reject) => c.getClusterInfo({}, (err, res) => { c.close(); if (err) reject(err); else resolve(res); }));
}

function partitionMap(port: number): Promise<GetPartitionMapResponse> {
  const c = new ClusterServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
  return new Promise((resolve, reject) => c.getPartitionMap({ namespace: 'test' }, (err, res) => { c.close(); if (err) reject(err); else resolve(res); }));
}

/** A namespace of the bench's nodes (memory engine). */
export interface BenchNamespace { readonly name: string; readonly rf: number }

/** Bench nodes (memory engine) started one by one, the first one the others' seed. `main`: another checkout's core/main.ts. */
export class Cluster {
  readonly dir = mkdtempSync(join(tmpdir(), 'slipstream-bench-dp-'));
  readonly procs = new Map<string, NodeProcess>();
  seed = '';
  readonly namespaces: readonly BenchNamespace[];
  readonly nodeFlags: readonly string[];
  readonly main: string | undefined;
  constructor(namespaces: readonly BenchNamespace[], nodeFlags: readonly string[] = [], main?: string) {
    this.namespaces = namespaces;
    this.nodeFlags = nodeFlags;
    this.main = main;
  }
  async start(id: string): Promise<NodeProcess> {
    const file = join(this.dir, `${id}.json`);
    writeFileSync(file, JSON.stringify({
      node: { id, host: '127.0.0.1', port: 0, dataDir: join(this.dir, id) }, logLevel: 'warn',
      namespaces: this.namespaces.map((n) => ({ name: n.name, storage: 'storage-memory', replicationFactor: n.rf })),
      cluster: { clusterName: 'bench', heartbeat: { address: '127.0.0.1:0' }, fabric: { address: '127.0.0.1:0' }, seeds: this.seed === '' ? [] : [this.seed] },
    }));
    const p = await startNodeProcess(['--config', file], { timeoutMs: 60_000, nodeFlags: this.nodeFlags, ...(this.main === undefined ? {} : { main: this.main }) });
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
  async stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    for (const p of this.procs.values()) await p.stop(signal);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Keys the write rounds cycle through (`k0`…), per namespace. */
export const WRITE_KEYS = 50_000;

/**
 * Writes every one of the WRITE_KEYS keys once (`concurrency` at a time), then keeps writing for
 * `ms`: the warm-up before write rounds are measured. Until every key exists a round creates
 * records (the storage grows, and with it the process's memory: page faults, heap growth), and
 * the first seconds of a code path run unoptimised; an RF 2 namespace, written at half the rate,
 * takes twice as long to get there, so a short warm-up measures its growth, not its steady state.
 */
export async function warmUp(concurrency: number, put: (i: number) => Promise<unknown>, ms: number): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    for (let i = next++; i < WRITE_KEYS; i = next++) {
      try {
        await put(i);
      } catch {
        failures.count++;
      }
    }
  }));
  await rate(ms, concurrency, put);
}

/** Failed operations seen by rate() (TIMEOUTs on an overloaded machine), reported with the results. */
export const failures = { count: 0 };

/** Runs `fn` from `concurrency` loops for `ms`; successful operations per second. */
export async function rate(ms: number, concurrency: number, fn: (i: number) => Promise<unknown>): Promise<number> {
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

/** One timed round of writes: its rate and the CPU it cost per successful write. */
export interface WriteRound {
  readonly perSecond: number;
  /** CPU of the three node processes together, µs per write. */
  readonly nodeCpuUs: number;
  /** CPU of the load generator (this process, the client included), µs per write. */
  readonly clientCpuUs: number;
  /** Replica copies per fabric request in this round (calls the nodes served / requests they sent; RF 2 rounds of a client that writes to the master). */
  copiesPerRequest?: number;
}

/** Rounds of one client, RF 1 and RF 2 measured alternately on the same nodes. */
export interface WriteRounds { readonly rf1: WriteRound[]; readonly rf2: WriteRound[] }

type Writer = (i: number) => Promise<unknown>;

/** Runs `put` for `ms` from `concurrency` loops, with the CPU the nodes and this process spent meanwhile. */
export async function writeRound(pids: readonly number[], ms: number, concurrency: number, put: Writer): Promise<WriteRound> {
  const nodes0 = pids.reduce((t, pid) => t + cpuMicros(pid), 0);
  const own0 = ownCpuMicros();
  const t0 = performance.now();
  const perSecond = await rate(ms, concurrency, put);
  const writes = Math.max(1, perSecond * ((performance.now() - t0) / 1000));
  const nodes1 = pids.reduce((t, pid) => t + cpuMicros(pid), 0);
  return { perSecond, nodeCpuUs: (nodes1 - nodes0) / writes, clientCpuUs: (ownCpuMicros() - own0) / writes };
}

/**
 * Write throughput with RF 1 against RF 2 on the same three node processes: two namespaces,
 * `r1` (RF 1) and `r2` (RF 2, commit level all), written in alternating rounds so that the
 * machine's load drifts over both alike (each round pair starts with the other one in turn).
 * Two clients, each 48 writes in flight: the TypeScript gRPC client sending through all three
 * nodes by round robin (routing 'seed': 2/3 of the writes are proxied to their master), and the
 * official Aerospike client (partition-aware, C) over the Aerospike protocol, which sends each
 * write to its master.
 */
async function writeRounds(rounds: number, ms: number): Promise<{ grpc: WriteRounds; aerospike: WriteRounds }> {
  const prof = process.env['BENCH_CLUSTER_PROFILE'];
  const c = new Cluster([{ name: 'r1', rf: 1 }, { name: 'r2', rf: 2 }], prof === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${prof}`]);
  let as: Awaited<ReturnType<typeof Aerospike.connect>> | undefined;
  const clients: SlipstreamClient[] = [];
  try {
    for (const id of ['C3', 'C2', 'C1']) await c.start(id);
    await c.agreed(['C3', 'C2', 'C1']);
    const pids = [...c.procs.values()].map((p) => p.child.pid as number);
    for (const p of c.procs.values()) clients.push(await SlipstreamClient.connect({ hosts: `127.0.0.1:${p.port}`, timeoutMs: 10_000, routing: 'seed' }));
    const policy = { totalTimeout: 10_000, socketTimeout: 10_000, maxRetries: 2 };
    as = await Aerospike.connect({
      hosts: [{ addr: '127.0.0.1', port: (c.procs.get('C3') as NodeProcess).port }], log: { level: Aerospike.log.OFF },
      policies: { write: policy, read: policy, info: { timeout: 10_000 } }, maxConnsPerNode: 128,
    });
    const client = as;
    for (let i = 0; i < 300 && client.getNodes().length < 3; i++) await new Promise((r) => setTimeout(r, 100));
    const s = 'x'.repeat(100);
    const grpc = (ns: string): Writer => (i) => (clients[i % 3] as SlipstreamClient).put({ namespace: ns, set: 'w', key: `k${i % WRITE_KEYS}` }, { v: BigInt(i), s });
    const asp = (ns: string): Writer => (i) => client.put(new Aerospike.Key(ns, 'w', `k${i % WRITE_KEYS}`), { v: i, s });
    const kinds = [
      { name: 'grpc' as const, rf1: grpc('r1'), rf2: grpc('r2') },
      { name: 'aerospike' as const, rf1: asp('r1'), rf2: asp('r2') },
    ].filter((k) => (process.env['BENCH_WRITE_CLIENTS'] ?? 'grpc,aerospike').split(',').includes(k.name));
    // warm-up: connections, JIT, every key of both namespaces created (by the faster client), then
    // a steady spell of each client on each namespace
    const warmMs = Number(process.env['BENCH_WRITE_WARM_MS'] ?? 3000);
    const filler = kinds.find((k) => k.name === 'aerospike') ?? kinds[0];
    for (const k of [...kinds].sort((a) => (a === filler ? -1 : 1))) {
      for (const rf of ['rf1', 'rf2'] as const) await (k === filler ? warmUp(48, k[rf], warmMs) : rate(warmMs, 48, k[rf]));
    }
    const out = { grpc: { rf1: [] as WriteRound[], rf2: [] as WriteRound[] }, aerospike: { rf1: [] as WriteRound[], rf2: [] as WriteRound[] } };
    // BENCH_WRITE_RFS=rf2 (say) measures one side only, e.g. to profile it
    const rfs = (process.env['BENCH_WRITE_RFS'] ?? 'rf1,rf2').split(',');
    for (let r = 0; r < rounds; r++) {
      for (const k of kinds) {
        for (const rf of (r % 2 === 0 ? ['rf1', 'rf2'] as const : ['rf2', 'rf1'] as const).filter((x) => rfs.includes(x))) {
          // the official client writes to the master: its RF 2 rounds' fabric calls are the replica copies
          const calls = rf === 'rf2' && k.name === 'aerospike' ? async (): Promise<{ sent: number; served: number }> => {
            const all = await Promise.all(clients.map((cl) => cl.statistics()));
            const sum = (name: string): number => all.reduce((t, st) => t + Number(st.get(name) ?? 0), 0);
            return { sent: sum('fabric_calls_sent'), served: sum('fabric_calls_served') };
          } : undefined;
          const before = await calls?.();
          const round = await writeRound(pids, ms, 48, k[rf]);
          const after = await calls?.();
          if (before !== undefined && after !== undefined && after.sent > before.sent) round.copiesPerRequest = (after.served - before.served) / (after.sent - before.sent);
          out[k.name][rf].push(round);
        }
      }
    }
    return out;
  } finally {
    for (const cl of clients) cl.close();
    await as?.close();
    // with profiles, the nodes must exit by themselves to write them
    await c.stop(prof === undefined ? 'SIGKILL' : 'SIGTERM');
  }
}

export interface DataPathResults {
  /** Write rounds, RF 1 and RF 2 alternating on the same nodes, per client. */
  writes: { grpc: WriteRounds; aerospike: WriteRounds };
  getDirect: number;
  getProxied: number;
  /** Records received by the joining node, join → online, its fill rate, and the client put rate that loaded the data (the peer). */
  migration: { records: number; ms: number; perSecond: number; loadPerSecond: number };
  /** Writes failing after a member's SIGKILL, and the survivors' re-formation without it (the floor). */
  sigkillWindowMs: number;
  sigkillReformedMs: number;
}

/** `migrationOnly`: the join's migration alone (no write rounds, gets or SIGKILL), e.g. to repeat that row. */
export async function measureDataPath(options: { migrationOnly?: boolean } = {}): Promise<DataPathResults> {
  const MS = Number(process.env['BENCH_MS'] ?? 5000);
  const writes = options.migrationOnly === true ? { grpc: { rf1: [], rf2: [] }, aerospike: { rf1: [], rf2: [] } }
    : await writeRounds(Number(process.env['BENCH_WRITE_ROUNDS'] ?? 5), Number(process.env['BENCH_WRITE_ROUND_MS'] ?? MS / 2));
  if (process.env['BENCH_CLUSTER_WRITES_ONLY'] === '1') return { writes, getDirect: 0, getProxied: 0, migration: { records: 0, ms: 0, perSecond: 0, loadPerSecond: 1 }, sigkillWindowMs: 0, sigkillReformedMs: 0 };

  // get: through node C3, keys it masters (direct) against keys others master (proxied); then a join's migration; then SIGKILL
  const c = new Cluster([{ name: 'test', rf: 2 }]);
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
    if (options.migrationOnly === true) {
      ca.close();
      return { writes, getDirect: 0, getProxied: 0, migration: { records: received, ms: joinMs, perSecond, loadPerSecond }, sigkillWindowMs: 0, sigkillReformedMs: 0 };
    }

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
      writes, getDirect, getProxied,
      migration: { records: received, ms: joinMs, perSecond, loadPerSecond },
      sigkillWindowMs: lastFail === 0 ? 0 : lastFail - killedAt,
      sigkillReformedMs: reformedMs,
    };
  } finally {
    await c.stop();
  }
}
