import { strict as assert } from 'node:assert';
import { simCluster, ids, HB_MS, HB_TIMEOUT } from './sim-harness.ts';
import { defaultQuantumMs } from '../../core/cluster/config.ts';

const QUANTUM = defaultQuantumMs(HB_MS, HB_TIMEOUT);

describe('cluster/formation (simulated network)', () => {
  it('a node without seeds forms a cluster of one at once and is online', async () => {
    const c = simCluster(1, [{ id: 0xa1n }]);
    // no seeds for a lone node: the harness passes the other nodes' addresses, which are none
    await c.start(0xa1n);
    c.clock.advance(50);
    const svc = c.services.get(0xa1n);
    assert.equal(svc?.state(), 'online');
    assert.deepEqual(svc?.view()?.succession.map((m) => m.id), [0xa1n]);
    const t = svc?.partitionTable('test');
    assert.equal(t?.effectiveReplicationFactor, 1);
    assert.equal(t?.counts.get(0xa1n)?.masters, 4096);
    await c.stopAll();
  });

  it('three nodes form one cluster, principal = highest id, identical tables, balanced counts', async () => {
    const nodes = ids(0x30, 0x10, 0x20);
    const c = simCluster(2, nodes.map((id) => ({ id })));
    for (const id of nodes) await c.start(id);
    const took = c.converge();
    assert.ok(took >= 0, 'did not converge');
    assert.ok(took < 2 * QUANTUM + 1000, `took ${took} ms`);
    c.clock.advance(2 * HB_MS);
    const info = c.services.get(0x10n)?.info();
    assert.equal(info?.principal, 0x30n);
    assert.deepEqual(info?.members.map((m) => m.id), ids(0x30, 0x20, 0x10));
    assert.ok(info?.members.every((m) => m.state === 'online'));
    const t = c.services.get(0x20n)?.partitionTable('test');
    assert.equal(t?.effectiveReplicationFactor, 2);
    let masters = 0;
    for (const [, cnt] of t?.counts ?? []) {
      masters += cnt.masters;
      assert.ok(Math.abs(cnt.masters - 4096 / 3) < 150 && Math.abs(cnt.replicas - 4096 / 3) < 150, JSON.stringify(cnt));
    }
    assert.equal(masters, 4096);
    assert.equal(c.services.get(0x10n)?.partitionTable('bar')?.effectiveReplicationFactor, 3);
    assert.deepEqual(c.violations, []);
    await c.stopAll();
  });

  it('a dead node leaves within the heartbeat timeout plus a short settle (not a whole quantum) and rejoins when restarted', async () => {
    const nodes = ids(5, 4, 3, 2, 1);
    const c = simCluster(3, nodes.map((id) => ({ id })));
    for (const id of nodes) await c.start(id);
    assert.ok(c.converge() >= 0);
    // deaths at five points of the quantum (one of them just after a decision, when waiting for
    // the next quantum boundary would cost a whole quantum), then the principal's death
    for (let k = 0; k < 5; k++) {
      c.clock.advance(Math.floor((QUANTUM * k) / 5) + 37);
      await c.kill(3n);
      const took = c.converge(ids(5, 4, 2, 1));
      const bound = HB_MS * (HB_TIMEOUT + 1) + Math.floor(QUANTUM / 6) + 2 * HB_MS + 200;
      assert.ok(took >= 0 && took <= bound, `death ${k}: re-formed after ${took} ms, more than ${bound}`);
      await c.start(3n);
      assert.ok(c.converge() >= 0, 'did not rejoin');
    }
    for (const victim of [3n, 5n]) { // a member, then the principal
      await c.kill(victim);
      const took = c.converge();
      assert.ok(took >= 0, `did not re-form without ${victim}`);
      // heartbeat timeout (+ the one interval in which it is noticed), the settle time (a sixth of
      // the quantum), a Paxos round: no waiting for the next quantum boundary
      const bound = HB_MS * (HB_TIMEOUT + 1) + Math.floor(QUANTUM / 6) + 2 * HB_MS + 200;
      assert.ok(took <= bound, `re-formed after ${took} ms, more than ${bound}`);
    }
    await c.start(5n);
    assert.ok(c.converge() >= 0, 'did not rejoin');
    assert.equal(c.services.get(1n)?.info().principal, 5n);
    assert.deepEqual(c.violations, []);
    await c.stopAll();
  });

  it('nodes of another cluster name never merge', async () => {
    const c = simCluster(4, [{ id: 9n, clusterName: 'a' }, { id: 8n, clusterName: 'a' }, { id: 7n, clusterName: 'b' }, { id: 6n, clusterName: 'b' }]);
    for (const id of ids(9, 8, 7, 6)) await c.start(id);
    assert.ok(c.converge(ids(9, 8)) >= 0);
    assert.ok(c.converge(ids(7, 6)) >= 0);
    c.clock.advance(10_000);
    assert.deepEqual(c.services.get(7n)?.view()?.succession.map((m) => m.id), ids(7, 6));
    assert.deepEqual(c.services.get(9n)?.view()?.succession.map((m) => m.id), ids(9, 8));
    assert.deepEqual(c.services.get(9n)?.info().others, []);
    await c.stopAll();
  });

  it('a partition splits into two clusters, and healing converges to one', async () => {
    const nodes = ids(1, 2, 3, 4, 5);
    const c = simCluster(5, nodes.map((id) => ({ id })));
    for (const id of nodes) await c.start(id);
    assert.ok(c.converge() >= 0);
    c.net.partition([[c.host(1n), c.host(2n)], [c.host(3n), c.host(4n), c.host(5n)]]);
    assert.ok(c.converge(ids(2, 1)) >= 0, 'minority side did not form');
    assert.ok(c.converge(ids(5, 4, 3)) >= 0, 'majority side did not form');
    assert.notEqual(c.services.get(1n)?.view()?.clusterKey, c.services.get(5n)?.view()?.clusterKey);
    c.net.heal();
    assert.ok(c.converge() >= 0, 'did not heal');
    assert.deepEqual(c.violations, []);
    await c.stopAll();
  });

  it('evicts a node that cannot hear every member (clique eviction)', async () => {
    const nodes = ids(4, 3, 2, 1);
    const c = simCluster(6, nodes.map((id) => ({ id })));
    for (const id of nodes) await c.start(id);
    assert.ok(c.converge() >= 0);
    c.net.blockOneWay(c.host(2n), c.host(3n)); // 3 stops hearing 2
    assert.ok(c.converge(ids(4, 3, 1)) >= 0 || c.converge(ids(4, 2, 1)) >= 0, 'no clique cluster formed');
    const members = c.services.get(4n)?.view()?.succession.map((m) => m.id) ?? [];
    assert.ok(!(members.includes(2n) && members.includes(3n)), `both 2 and 3 stayed: ${members}`);
    c.net.heal();
    assert.ok(c.converge() >= 0);
    assert.deepEqual(c.violations, []);
    await c.stopAll();
  });

  it('rack-aware tables agree on every member (racks travel with the agreed list)', async () => {
    const c = simCluster(7, [{ id: 4n, rackId: 1 }, { id: 3n, rackId: 2 }, { id: 2n, rackId: 1 }, { id: 1n, rackId: 2 }], undefined, { rackAware: true });
    for (const id of ids(4, 3, 2, 1)) await c.start(id);
    assert.ok(c.converge() >= 0);
    const t = c.services.get(1n)?.partitionTable('test');
    const rack = new Map([[4n, 1], [3n, 2], [2n, 1], [1n, 2]]);
    assert.ok(t?.rows.every((r) => rack.get(r[0] as bigint) !== rack.get(r[1] as bigint)));
    assert.deepEqual(c.violations, []);
    await c.stopAll();
  });
});
