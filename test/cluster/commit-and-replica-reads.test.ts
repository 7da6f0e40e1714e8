/**
 * Per-request commit level and replica reads on simulated clusters (deterministic; rerun a seed
 * with SLIPSTREAM_SIM_SEED=<seed> npm test -- --grep "commit level"): a commit-to-master write
 * is answered while its replica cannot be reached, a commit-to-all one is not; a read that
 * allows a replica is served by a node holding a copy without going to the master.
 */
import { strict as assert } from 'node:assert';
import { DbError } from '../../core/errors/index.ts';
import type { NodeId } from '../../core/plugin-api/index.ts';
import type { RecordKey } from '../../core/model/index.ts';
import { writePolicy } from '../../core/transaction/policy.ts';
import { simDataCluster, type DataNode, type SimDataCluster } from './sim-data-harness.ts';

const fixed = process.env['SLIPSTREAM_SIM_SEED'];
const seed = fixed === undefined ? 21 : Number(fixed);
const IDS = [0x300n, 0x200n, 0x100n];

/** A key of the cluster with its master, its replica and the third node (which holds no copy). */
function roles(c: SimDataCluster, name: string): { key: RecordKey; master: DataNode; replica: DataNode; other: DataNode } {
  const any = c.nodes.get(IDS[0] as NodeId) as DataNode;
  const key = any.kernel.key('test', 's', name);
  const copies = any.path.router.copiesOf?.('test', key.partition) ?? [];
  assert.equal(copies.length, 2, 'RF 2: two copies');
  const node = (id: NodeId | undefined): DataNode => c.nodes.get(id as NodeId) as DataNode;
  const other = IDS.find((id) => !copies.includes(id));
  return { key, master: node(copies[0]), replica: node(copies[1]), other: node(other) };
}

async function started(c: SimDataCluster): Promise<void> {
  for (const id of IDS) await c.start(id);
  assert.ok(await c.converge() >= 0, `seed ${seed}: the cluster formed`);
}

/** The value of bin v stored on one node's own copy (no routing), or undefined. */
async function localValue(n: DataNode, key: RecordKey): Promise<bigint | undefined> {
  const stored = await n.kernel.namespace('test').engine.get(key.digest);
  if (stored === undefined) return undefined;
  return n.kernel.scannedRecord('test', stored).bins['v'] as bigint;
}

describe('cluster/commit level and replica reads (simulated network)', function () {
  this.timeout(60_000);

  it(`seed ${seed}: commit level master answers while the replica cannot be reached; all fails in doubt`, async () => {
    const c = simDataCluster(seed, IDS, { rf: 2 });
    try {
      await started(c);
      const { key, master, replica } = roles(c, 'cl');
      // the master can no longer reach the replica (before the heartbeat notices: 1.5 s)
      c.net.blockOneWay(c.host(master.id), c.host(replica.id));
      const t0 = c.clock.now();
      const [m] = await c.drive([master.kernel.put(key, { v: 1n }, writePolicy({ commitLevel: 'master' }))], 500);
      assert.ok(m?.ok, `seed ${seed}: the commit-to-master write failed: ${String(m?.ok === false && m.error)}`);
      assert.ok(c.clock.now() - t0 < 100, `seed ${seed}: answered after ${c.clock.now() - t0} ms`);
      assert.equal(await localValue(replica, key), undefined, 'the replica does not have it: the answer came before it did');
      assert.equal(await localValue(master, key), 1n);

      const [a] = await c.drive([master.kernel.put(key, { v: 2n }, writePolicy({ commitLevel: 'all' }))], 1400);
      assert.ok(a !== undefined && !a.ok, `seed ${seed}: a commit-to-all write was answered without its replica`);
      assert.ok(a.error instanceof DbError && a.error.code === 'TIMEOUT' && a.error.inDoubt === true, `seed ${seed}: ${String(a.error)}`);
    } finally {
      await c.stopAll();
    }
  });

  it(`seed ${seed}: the namespace's writeCommitLevel applies when a write names none, and a request overrides it`, async () => {
    const c = simDataCluster(seed, IDS, { rf: 2, writeCommitLevel: 'master' });
    try {
      await started(c);
      const { key, master, replica } = roles(c, 'ns');
      c.net.blockOneWay(c.host(master.id), c.host(replica.id));
      const [d] = await c.drive([master.kernel.put(key, { v: 1n }, writePolicy())], 500);
      assert.ok(d?.ok, `seed ${seed}: the namespace's commit-to-master did not apply: ${String(d?.ok === false && d.error)}`);
      const [a] = await c.drive([master.kernel.put(key, { v: 2n }, writePolicy({ commitLevel: 'all' }))], 1400);
      assert.ok(a !== undefined && !a.ok && a.error instanceof DbError && a.error.code === 'TIMEOUT', `seed ${seed}: the request's commit level all was not used`);
    } finally {
      await c.stopAll();
    }
  });

  it(`seed ${seed}: a read allowing a replica is served by the replica's copy; master reads and nodes without a copy forward`, async () => {
    const c = simDataCluster(seed, IDS, { rf: 2 });
    try {
      await started(c);
      const { key, master, replica, other } = roles(c, 'rr');
      const [w] = await c.drive([other.kernel.put(key, { v: 1n }, writePolicy())]);
      assert.ok(w?.ok);
      const proxied = (n: DataNode): number => n.path.forwarding.counters.proxied;

      // the replica answers from its copy: nothing forwarded, counted as a replica read
      const before = { p: proxied(replica), r: replica.kernel.counters.replicaReads, m: master.path.forwarding.counters.fromProxy };
      for (const replicaPolicy of ['any', 'sequence', 'preferRack'] as const) {
        const [r] = await c.drive([replica.kernel.get(key, { replica: replicaPolicy })]);
        assert.ok(r?.ok && r.value.bins['v'] === 1n, `replica read (${replicaPolicy})`);
      }
      const [e] = await c.drive([replica.kernel.exists(key, { replica: 'any' })]);
      assert.ok(e?.ok && e.value?.generation === 1);
      const [b] = await c.drive([replica.kernel.batchGetStored([key], { replica: 'any' })]);
      assert.ok(b?.ok && !(b.value[0] instanceof DbError));
      assert.equal(proxied(replica), before.p, 'the replica forwarded a read it could serve');
      assert.equal(replica.kernel.counters.replicaReads, before.r + 5);
      assert.equal(master.path.forwarding.counters.fromProxy, before.m);

      // the master-only policy (the default) goes to the master
      const [m] = await c.drive([replica.kernel.get(key)]);
      assert.ok(m?.ok && m.value.bins['v'] === 1n);
      assert.equal(proxied(replica), before.p + 1, 'a master read was not forwarded');

      // a node without a copy forwards even when a replica may serve
      const op = proxied(other);
      const [o] = await c.drive([other.kernel.get(key, { replica: 'any' })]);
      assert.ok(o?.ok && o.value.bins['v'] === 1n);
      assert.equal(proxied(other), op + 1);
      // so does a batch read through it (each key goes to its master)
      const [bg] = await c.drive([other.kernel.batchGet([key, other.kernel.key('test', 's', 'absent')])]);
      assert.ok(bg?.ok && !(bg.value[0] instanceof DbError) && bg.value[0]?.bins['v'] === 1n, `batch read: ${String(bg?.ok && bg.value[0])}`);
      assert.ok(bg.value[1] instanceof DbError && bg.value[1].code === 'NOT_FOUND');

      // what a replica read may see: a commit-to-master write that has not reached the replica
      c.net.blockOneWay(c.host(master.id), c.host(replica.id));
      const [w2] = await c.drive([master.kernel.put(key, { v: 2n }, writePolicy({ commitLevel: 'master' }))], 300);
      assert.ok(w2?.ok);
      const [stale] = await c.drive([replica.kernel.get(key, { replica: 'any' })], 300);
      assert.ok(stale?.ok && stale.value.bins['v'] === 1n, 'the replica serves its own (older) copy');
      const [fresh] = await c.drive([other.kernel.get(key)], 300);
      assert.ok(fresh?.ok && fresh.value.bins['v'] === 2n, 'the master has the newer one');
    } finally {
      await c.stopAll();
    }
  });
});
