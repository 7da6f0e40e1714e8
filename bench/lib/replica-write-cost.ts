/**
 * The CPU a replica write costs on the fabric, apart from everything else a cluster does: two
 * fabrics over real TCP on 127.0.0.1 in this one process, the master side sending replica
 * writes (ReplicaWriter, commit level all, IN_FLIGHT at once, default 48) and the replica side serving them (it
 * decodes each copy and applies nothing). Prints the CPU per replicated write (both ends
 * together: encode, frames, acks, socket writes and reads, decode, timers) over rounds. With
 * SPLIT=1 the replica side runs in a second process (as on a cluster: each batch of frames wakes
 * the other process), and that process's CPU (/proc) is added.
 *
 * `node bench/lib/replica-write-cost.ts [tree]` — `tree` is a checkout whose core/ is measured
 * (default: this one), so that two versions of the fabric can be compared back to back, e.g.
 * an export of main against a branch. WRITES (default 20,000) per round, ROUNDS (default 5).
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { cpuMicros } from './process-cpu.ts';

const tree = resolve(process.argv[2] ?? new URL('../..', import.meta.url).pathname);
const from = async <T>(path: string): Promise<T> => import(pathToFileURL(resolve(tree, path)).href) as Promise<T>;
type M = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- modules of another tree

const { Fabric } = await from<M>('core/cluster/fabric.ts');
const { tcpTransport } = await from<M>('core/cluster/tcp-transport.ts');
const { FabricCalls } = await from<M>('core/replication/remote-calls.ts');
const { ReplicaWriter } = await from<M>('core/replication/replica-writes.ts');
const { silentLogger, systemClock } = await from<M>('core/plugin-api/index.ts');
const { basicRetransmit } = await from<M>('plugins/retransmit-basic/index.ts');

const WRITES = Number(process.env['WRITES'] ?? 20_000);
const ROUNDS = Number(process.env['ROUNDS'] ?? 5);
const IN_FLIGHT = Number(process.env['IN_FLIGHT'] ?? 48);

async function node(id: bigint, inc: number): Promise<{ fabric: M; calls: M }> {
  const ctx = { nodeId: id, logger: silentLogger, clock: systemClock, signal: new AbortController().signal };
  const fabric = new Fabric({
    nodeId: id, clusterName: 'bench', transport: tcpTransport({ channel: 'fabric' }), clock: systemClock, logger: silentLogger,
    incarnation: inc, clusterKey: () => 0xabcn, retransmit: basicRetransmit().create(ctx, {}),
  });
  await fabric.start('127.0.0.1:0');
  return { fabric, calls: new FabricCalls(fabric, id, systemClock, silentLogger) };
}

async function serveReplica(masterAddress: string): Promise<M> {
  const replica = await node(2n, 22);
  replica.fabric.setPeerAddress(1n, masterAddress);
  new ReplicaWriter({ calls: replica.calls, clock: systemClock, replicasOf: () => [] }).serve(async (_ns: string, change: M) => {
    if (change['kind'] !== 'put') throw new Error('unexpected change');
    return true;
  });
  return replica;
}

if (process.env['REPLICA_OF'] !== undefined) {
  // the replica's own process (SPLIT=1): tells the master its address and serves until killed
  const replica = await serveReplica(process.env['REPLICA_OF']);
  process.send?.({ address: replica.fabric.address });
  await new Promise(() => {});
}

const master = await node(1n, 11);
// SPLIT=1: the replica runs in a process of its own, as on a cluster (each frame wakes the other
// process); its CPU is read from /proc and added
let child: ChildProcess | undefined;
let replica: M | undefined;
if (process.env['SPLIT'] === '1') {
  const c = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), tree], { env: { ...process.env, REPLICA_OF: master.fabric.address }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  child = c;
  master.fabric.setPeerAddress(2n, await new Promise<string>((ok) => c.once('message', (m: { address: string }) => ok(m.address))));
} else {
  replica = await serveReplica(master.fabric.address);
  master.fabric.setPeerAddress(2n, replica['fabric'].address);
}
const writer = new ReplicaWriter({ calls: master.calls, clock: systemClock, replicasOf: () => [2n], deadlineMs: 10_000 });

// a record like the cluster bench's: a 100-byte string and an integer, in a small set
const payload = randomBytes(130);
const digests = Array.from({ length: 4096 }, () => randomBytes(20));
const record = (i: number): M => ({
  digest: digests[i % digests.length], partition: i % 4096, set: 'w', key: undefined, payload, tombstone: false,
  meta: { generation: 1 + (i % 7), voidTime: 0, lastUpdate: Date.now() },
});

async function round(n: number): Promise<number> {
  let next = 0;
  const other = (): number => (child === undefined ? 0 : cpuMicros(child.pid as number));
  const c0 = process.cpuUsage();
  const o0 = other();
  await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
    while (next < n) await writer.write('r2', { kind: 'put', record: record(next++) }, 'all');
  }));
  const c = process.cpuUsage(c0);
  return (c.user + c.system + other() - o0) / n;
}

await round(2000); // warm-up
const us: number[] = [];
for (let r = 0; r < ROUNDS; r++) us.push(await round(WRITES));
us.sort((a, b) => a - b);
console.log(`${tree}: CPU per replicated write (both ends${child === undefined ? '' : ', two processes'}, ${IN_FLIGHT} in flight), median ${us[Math.floor(us.length / 2)]?.toFixed(1)} µs, least ${us[0]?.toFixed(1)} µs (${us.map((x) => x.toFixed(1)).join(', ')}) of ${ROUNDS} rounds of ${WRITES}; copies per request ${((2000 + ROUNDS * WRITES) / master.calls.stats.calls).toFixed(1)}; fabric resends ${master.fabric.stats.resent}`);
master.fabric.stop();
replica?.['fabric'].stop();
child?.kill('SIGKILL');
process.exit(0);
