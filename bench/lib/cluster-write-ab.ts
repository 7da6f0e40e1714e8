/**
 * The node CPU a replica write costs, A against B: two checkouts' servers, each a 3-node cluster
 * on 127.0.0.1 (memory engine) with namespaces r1 (RF 1) and r2 (RF 2, commit level all), loaded
 * in turn by the official Aerospike client (partition-aware, IN_FLIGHT writes at once, default
 * 48). Rounds alternate between the clusters and between RF 1 and RF 2 (each pair starts with the
 * other one in turn), so that the machine's load drifts over all four alike; the idle cluster
 * only sends heartbeats. Per checkout it prints the median node CPU per write (the three node
 * processes together, /proc) for RF 1 and RF 2, the median of each round pair's RF 2 − RF 1 (what
 * a replica write adds), and the writes/s and RF 2 / RF 1 ratios.
 *
 * `node bench/lib/cluster-write-ab.ts <treeA> [treeB]` — a tree is a checkout (with node_modules)
 * whose core/main.ts runs the nodes, e.g. an export of main against this branch; one tree measures
 * that one alone. ROUNDS (default 6), ROUND_MS (default 2000), IN_FLIGHT, WARM_MS (default 3000: the
 * warm-up writes every key of both namespaces once, then this long each). SYSCALLS=1 also counts
 * the nodes' socket system calls and context switches per write in every round (`perf stat` on
 * their pids; needs perf and the syscall tracepoints).
 */
import { resolve } from 'node:path';
import { spawn } from 'node:child_process';
import Aerospike from 'aerospike';
import { Cluster, WRITE_KEYS, warmUp, writeRound, type WriteRound } from './cluster-data.ts';

const trees = process.argv.slice(2).map((t) => resolve(t));
if (trees.length === 0) throw new Error('usage: node bench/lib/cluster-write-ab.ts <treeA> [treeB]');
const ROUNDS = Number(process.env['ROUNDS'] ?? 6);
const ROUND_MS = Number(process.env['ROUND_MS'] ?? 2000);
const IN_FLIGHT = Number(process.env['IN_FLIGHT'] ?? 48);
const WARM_MS = Number(process.env['WARM_MS'] ?? 3000);

const SYSCALLS = process.env['SYSCALLS'] === '1';
const EVENTS = ['syscalls:sys_enter_write', 'syscalls:sys_enter_writev', 'syscalls:sys_enter_read', 'syscalls:sys_enter_epoll_pwait', 'context-switches'];

/** Counts EVENTS of `pids` while `run` runs (perf stat), per event. */
async function counted<T>(pids: readonly number[], run: () => Promise<T>): Promise<{ out: T; counts: Map<string, number> }> {
  const perf = spawn('perf', ['stat', '-x', ',', '-e', EVENTS.join(','), '-p', pids.join(',')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let text = '';
  perf.stderr.on('data', (d: Buffer) => { text += d.toString(); });
  await new Promise((r) => setTimeout(r, 100));
  const out = await run();
  const done = new Promise((r) => perf.on('exit', r));
  perf.kill('SIGINT');
  await done;
  const counts = new Map<string, number>();
  for (const line of text.split('\n')) {
    const f = line.split(',');
    if (f.length > 2 && EVENTS.includes(f[2] as string)) counts.set((f[2] as string).replace('syscalls:sys_enter_', ''), Number(f[0]));
  }
  return { out, counts };
}

interface Side {
  readonly tree: string;
  readonly cluster: Cluster;
  readonly client: Awaited<ReturnType<typeof Aerospike.connect>>;
  readonly pids: number[];
  readonly rounds: { rf1: WriteRound[]; rf2: WriteRound[] };
  /** Per round (SYSCALLS=1): events per write. */
  readonly events: { rf1: Array<Map<string, number>>; rf2: Array<Map<string, number>> };
}

async function side(tree: string): Promise<Side> {
  const cluster = new Cluster([{ name: 'r1', rf: 1 }, { name: 'r2', rf: 2 }], [], resolve(tree, 'core/main.ts'));
  try {
    for (const id of ['C3', 'C2', 'C1']) await cluster.start(id);
    await cluster.agreed(['C3', 'C2', 'C1']);
  } catch (e) {
    await cluster.stop(); // its nodes and its directory
    throw e;
  }
  const policy = { totalTimeout: 10_000, socketTimeout: 10_000, maxRetries: 2 };
  const client = await Aerospike.connect({
    hosts: [{ addr: '127.0.0.1', port: (cluster.procs.get('C3') as { port: number }).port }], log: { level: Aerospike.log.OFF },
    policies: { write: policy, read: policy, info: { timeout: 10_000 } }, maxConnsPerNode: 128,
  });
  for (let i = 0; i < 300 && client.getNodes().length < 3; i++) await new Promise((r) => setTimeout(r, 100));
  return { tree, cluster, client, pids: [...cluster.procs.values()].map((p) => p.child.pid as number), rounds: { rf1: [], rf2: [] }, events: { rf1: [], rf2: [] } };
}

const s = 'x'.repeat(100);
const put = (c: Side, ns: string) => (i: number) => c.client.put(new Aerospike.Key(ns, 'w', `k${i % WRITE_KEYS}`), { v: i, s });
const median = (xs: readonly number[]): number => {
  const a = [...xs].sort((x, y) => x - y);
  return a.length === 0 ? NaN : a.length % 2 === 1 ? a[(a.length - 1) / 2] as number : ((a[a.length / 2 - 1] as number) + (a[a.length / 2] as number)) / 2;
};

const sides: Side[] = [];
try {
  for (const t of trees) sides.push(await side(t));
  for (const c of sides) { // warm-up: connections, JIT, every key of both namespaces created, then a steady spell
    await warmUp(IN_FLIGHT, put(c, 'r1'), WARM_MS);
    await warmUp(IN_FLIGHT, put(c, 'r2'), WARM_MS);
  }
  for (let r = 0; r < ROUNDS; r++) {
    for (const c of r % 2 === 0 ? sides : [...sides].reverse()) {
      for (const rf of r % 2 === 0 ? ['rf1', 'rf2'] as const : ['rf2', 'rf1'] as const) {
        const round = () => writeRound(c.pids, ROUND_MS, IN_FLIGHT, put(c, rf === 'rf1' ? 'r1' : 'r2'));
        if (!SYSCALLS) {
          c.rounds[rf].push(await round());
          continue;
        }
        const t0 = performance.now();
        const { out, counts } = await counted(c.pids, round);
        const writes = out.perSecond * ((performance.now() - t0) / 1000);
        c.rounds[rf].push(out);
        c.events[rf].push(new Map([...counts].map(([k, v]) => [k, v / writes])));
      }
    }
  }
  const load = (await import('node:os')).loadavg().map((x) => x.toFixed(1)).join(' ');
  console.log(`node CPU per write, official client, ${IN_FLIGHT} in flight, ${ROUNDS} round pairs of ${ROUND_MS} ms per checkout (load average now ${load})`);
  for (const c of sides) {
    const { rf1, rf2 } = c.rounds;
    const added = rf1.map((x, i) => (rf2[i] as WriteRound).nodeCpuUs - x.nodeCpuUs);
    const ratios = rf1.map((x, i) => (rf2[i] as WriteRound).perSecond / x.perSecond);
    console.log(`${c.tree}\n  RF 1 ${median(rf1.map((x) => x.nodeCpuUs)).toFixed(0)} µs, RF 2 ${median(rf2.map((x) => x.nodeCpuUs)).toFixed(0)} µs, `
      + `RF 2 adds ${median(added).toFixed(0)} µs (pairs ${added.map((x) => x.toFixed(0)).join(', ')})\n`
      + `  writes/s RF 1 ${median(rf1.map((x) => x.perSecond)).toFixed(0)}, RF 2 ${median(rf2.map((x) => x.perSecond)).toFixed(0)}, `
      + `RF 2 / RF 1 ${(median(rf2.map((x) => x.perSecond)) / median(rf1.map((x) => x.perSecond))).toFixed(2)}× (pairs ${ratios.map((x) => x.toFixed(2)).join(', ')})`);
    if (SYSCALLS) {
      for (const rf of ['rf1', 'rf2'] as const) {
        const names = [...new Set(c.events[rf].flatMap((m) => [...m.keys()]))];
        console.log(`  ${rf} per write (median of rounds): ${names.map((n) => `${n} ${median(c.events[rf].map((m) => m.get(n) ?? 0)).toFixed(2)}`).join(', ')}`);
      }
    }
  }
} finally {
  // every cluster is stopped even when a client fails to close (its nodes would outlive this process)
  for (const c of sides) {
    try {
      await c.client.close();
    } catch { /* the nodes are stopped below either way */ }
  }
  for (const c of sides) await c.cluster.stop();
}
process.exit(0);
