/**
 * The official Aerospike client against a 3-node cluster of real node processes: it learns
 * every node from one seed (peers-clear-std), builds the partition map from each node's
 * replicas bitmaps, and sends each key to the partition's master.
 */
import { strict as assert } from 'node:assert';
import Aerospike from 'aerospike';
import { ProcessCluster } from '../helpers/process-cluster.ts';
import { until } from '../helpers/until.ts';
import { aerospikeInfo as info } from '../helpers/aerospike-info.ts';

const HB = { intervalMs: 50, timeout: 5 };

/** Partitions whose bit is set in a replicas bitmap. */
function owned(b64: string): number[] {
  const b = Buffer.from(b64, 'base64');
  const out: number[] = [];
  for (let p = 0; p < 4096; p++) if (((b[p >> 3] as number) & (0x80 >> (p & 7))) !== 0) out.push(p);
  return out;
}

describe('Aerospike protocol: the official client on a 3-node cluster', function () {
  // three real node processes start and form a cluster: minutes on a loaded machine
  this.timeout(300_000);
  const cluster = new ProcessCluster({ name: 'as-cluster', clusterName: 'alpha', heartbeat: HB });

  after(() => cluster.close());

  it('learns the three nodes from one seed and routes each key to its partition\'s master', async () => {
    // A3 alone, then A2 and A1 seeded by its heartbeat address (learnt over the gRPC ClusterService)
    const [a, b, c] = await cluster.startCluster(['A3', 'A2', 'A1']);
    const nodes = [a, b, c];

    // every node lists the two others as peers, and the masters split the 4096 partitions
    await until('the peers and partition maps settle', async () => {
      const peers = await Promise.all(nodes.map((n) => info(n.port, 'peers-clear-std')));
      if (!peers.every((p) => (p.match(/\[A\d,,\[127\.0\.0\.1:\d+\]\]/g) ?? []).length === 2)) return undefined;
      const maps = await Promise.all(nodes.map((n) => info(n.port, 'replicas')));
      const counts = maps.map((m) => owned(m.split(',')[2] ?? '').length);
      return counts.reduce((x, y) => x + y, 0) === 4096 && counts.every((n) => n > 0) ? counts : undefined;
    }, 60_000);

    // a late partition map change (a node's ownership moving after the first tend) is retried, as
    // applications configure their clients for cluster transitions
    const timeout = { totalTimeout: 30_000, socketTimeout: 10_000, maxRetries: 10, sleepBetweenRetries: 300 };
    const client = await Aerospike.connect({
      hosts: [{ addr: '127.0.0.1', port: b.port }], log: { level: Aerospike.log.OFF },
      policies: { read: timeout, write: timeout, batch: timeout, scan: { ...timeout, maxRetries: 5 }, info: { timeout: 20_000 } },
    });
    try {
      await until('the client knows 3 nodes', async () => (client.getNodes().length === 3 ? true : undefined), 30_000);
      assert.deepEqual(client.getNodes().map((n) => n.name).sort(), ['A1', 'A2', 'A3']);
      for (let i = 0; i < 150; i++) {
        try {
          await client.put(new Aerospike.Key('test', 'routed', i), { i });
        } catch (e) {
          const maps = await Promise.all(nodes.map((n) => info(n.port, 'partition-generation')));
          throw new Error(`put ${i}: ${(e as { code: number }).code} ${(e as Error).message}; generations ${maps.join(' ')}; counts ${(await Promise.all(nodes.map((n) => info(n.port, 'replicas')))).map((m) => owned(m.split(',')[2] ?? '').length).join(' ')}`);
        }
      }
      for (let i = 0; i < 150; i++) assert.equal((await client.get(new Aerospike.Key('test', 'routed', i))).bins.i, i);
      // a batch is split by node, a scan asks each node for its partitions
      const batch = await client.batchGet(Array.from({ length: 150 }, (_, i) => new Aerospike.Key('test', 'routed', i)));
      assert.ok(batch.every((r, i) => r.status === 0 && r.record.bins.i === i));
      const scanned = await client.scan('test', 'routed').results();
      assert.deepEqual(scanned.map((r) => r.bins.i as number).sort((x, y) => x - y), Array.from({ length: 150 }, (_, i) => i));
      // commit-to-master writes (info3 COMMIT_MASTER) are answered and kept
      for (let i = 0; i < 20; i++) await client.put(new Aerospike.Key('test', 'routed', 1000 + i), { i }, {}, { commitLevel: Aerospike.policy.commitLevel.MASTER });
      // the write that was just answered may still be on its way to the replica: read from the master
      for (let i = 0; i < 20; i++) assert.equal((await client.get(new Aerospike.Key('test', 'routed', 1000 + i))).bins.i, i);
      // replica reads: the client picks a replica's node from the replicas bitmaps, and that node
      // answers from its own copy instead of proxying to the master
      const statOf = async (name: string): Promise<number> => {
        let sum = 0;
        for (const n of nodes) sum += Number(new RegExp(`(?:^|;)${name}=(\\d+)`).exec(await info(n.port, 'statistics'))?.[1] ?? 'NaN');
        return sum;
      };
      const proxiedBefore = await statOf('client_proxy_complete');
      const replicaBefore = await statOf('client_read_replica');
      for (let i = 0; i < 150; i++) {
        const rec = await client.get(new Aerospike.Key('test', 'routed', i), { replica: Aerospike.policy.replica.ANY });
        assert.equal(rec.bins.i, i);
      }
      const replicaReads = (await statOf('client_read_replica')) - replicaBefore;
      assert.ok(replicaReads > 20, `only ${replicaReads} of 150 reads with replica ANY were served by a replica`);
      assert.equal((await statOf('client_proxy_complete')) - proxiedBefore, 0, 'a replica read was proxied');
      // the client opened data connections to every node: it sent each key to its master
      const stats = client.stats() as { nodes: Array<{ name: string; asyncConnections: { inPool: number; inUse: number } }> };
      for (const n of stats.nodes) assert.ok(n.asyncConnections.inPool + n.asyncConnections.inUse > 0, `no commands went to ${n.name}: ${JSON.stringify(stats)}`);
    } finally {
      await client.close();
    }
  });
});
