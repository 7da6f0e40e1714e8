/**
 * System metadata on every node, on simulated clusters (deterministic; a failure names its
 * seed — rerun one with SLIPSTREAM_SIM_SEED=<seed> npm test -- --grep "system metadata on a cluster"):
 * writes and deletes through random nodes over a lossy, duplicating fabric, nodes that crash and
 * come back with what they had stored, nodes that join late; a checker records every
 * acknowledged write's version and demands that, once the cluster is whole, every node holds
 * exactly the highest version of every item (nothing acknowledged lost unless a higher version
 * replaced it, no deletion undone).
 */
import { strict as assert } from 'node:assert';
import { createClusterService, type ClusterService } from '../../core/cluster/cluster-service.ts';
import { FakeClock, seededRandom } from '../../core/cluster/clock.ts';
import { SimNetwork, type SimFaults } from '../../core/cluster/sim-network.ts';
import { silentLogger, type NodeId, type PluginContext } from '../../core/plugin-api/index.ts';
import { FabricCalls } from '../../core/replication/remote-calls.ts';
import { SmdSync } from '../../core/replication/smd-sync.ts';
import { compareVersions, memorySystemMetadata, type SmdItem, type SystemMetadataStore } from '../../core/storage/system-metadata.ts';
import { globalKeyReplication } from '../../plugins/replication-global-key/index.ts';
import { basicRetransmit } from '../../plugins/retransmit-basic/index.ts';

const fixed = process.env['SLIPSTREAM_SIM_SEED'];
const seeds = fixed === undefined ? [3, 4] : [Number(fixed)];

interface SmdNode { readonly id: NodeId; readonly svc: ClusterService; readonly sync: SmdSync; readonly store: SystemMetadataStore }

/** Simulated nodes with cluster service + fabric calls + SMD sync; each node's store outlives its process (durable). */
function smdCluster(seed: number, all: readonly NodeId[], faults: SimFaults) {
  const clock = new FakeClock();
  const net = new SimNetwork(clock, seed, faults);
  const rand = seededRandom(seed ^ 0x2545f491);
  const host = (id: NodeId): string => `n${id.toString(16)}`;
  const seedsOf = all.map((id) => `${host(id)}:3002`);
  const stores = new Map<NodeId, SystemMetadataStore>();
  const nodes = new Map<NodeId, SmdNode>();
  const ctx = (id: NodeId): PluginContext => ({ nodeId: id, logger: silentLogger, clock, signal: new AbortController().signal });
  const c = {
    clock, nodes, stores,
    async start(id: NodeId): Promise<SmdNode> {
      const svc = createClusterService({
        nodeId: id, clusterName: 'sim', heartbeatAddress: `${host(id)}:3002`, fabricAddress: `${host(id)}:3001`,
        seeds: seedsOf.filter((s) => s !== `${host(id)}:3002`), heartbeatIntervalMs: 150, heartbeatTimeout: 10,
        transport: net.factory(host(id)), clock, replication: globalKeyReplication().create(ctx(id), {}),
        retransmit: basicRetransmit().create(ctx(id), { intervalMs: 50 }), namespaces: [{ name: 'test', replicationFactor: 2 }], random: rand,
      });
      let store = stores.get(id);
      if (store === undefined) stores.set(id, store = memorySystemMetadata(() => clock.now()));
      const calls = new FabricCalls(svc.fabric, id, clock, silentLogger, rand);
      const sync = new SmdSync({ calls, cluster: svc, store, clock, logger: silentLogger });
      await svc.start();
      const n = { id, svc, sync, store };
      nodes.set(id, n);
      return n;
    },
    async kill(id: NodeId): Promise<void> {
      const n = nodes.get(id);
      nodes.delete(id);
      n?.sync.stop();
      await n?.svc.stop();
    },
    /** Advances time until the running nodes agree on one cluster with all of them in it and are caught up; ms or -1. */
    async converge(maxMs = 30_000): Promise<number> {
      const start = clock.now();
      const ids = [...nodes.keys()];
      const agreed = (): boolean => {
        const keys = ids.map((id) => nodes.get(id)?.svc.view());
        return keys.every((v) => v !== undefined && v.clusterKey === keys[0]?.clusterKey && v.succession.length === ids.length)
          && ids.every((id) => nodes.get(id)?.sync.caughtUp() === true);
      };
      while (!agreed()) {
        if (clock.now() - start >= maxMs) return -1;
        clock.advance(5);
        await new Promise((r) => setImmediate(r));
      }
      return clock.now() - start;
    },
    /** Advances time until every promise settled; their outcomes. */
    async drive<T>(p: Promise<T>, maxMs = 10_000): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
      let out: { ok: true; value: T } | { ok: false; error: unknown } | undefined;
      p.then((value) => { out = { ok: true, value }; }, (error: unknown) => { out = { ok: false, error }; });
      const end = clock.now() + maxMs;
      while (out === undefined && clock.now() < end) {
        await new Promise((r) => setImmediate(r));
        if (out === undefined) clock.advance(1);
      }
      return out ?? { ok: false, error: new Error('did not settle in simulated time') };
    },
    async idle(ms: number): Promise<void> {
      const end = clock.now() + ms;
      while (clock.now() < end) {
        clock.advance(5);
        await new Promise((r) => setImmediate(r));
      }
    },
    async stopAll(): Promise<void> {
      for (const id of [...nodes.keys()]) await c.kill(id);
    },
  };
  return c;
}

const itemId = (i: Pick<SmdItem, 'module' | 'key'>): string => `${i.module}/${i.key}`;

/** Every acknowledged write's version; per item the highest must survive everywhere. */
class VersionChecker {
  readonly best = new Map<string, SmdItem>();
  record(store: SystemMetadataStore, module: string, key: string): void {
    const item = store.items(module).find((i) => i.key === key);
    if (item === undefined) return;
    const cur = this.best.get(itemId(item));
    if (cur === undefined || compareVersions(item, cur) > 0) this.best.set(itemId(item), item);
  }
  check(nodes: Iterable<SmdNode>, ctx: string): void {
    for (const n of nodes) {
      const items = new Map(n.store.items().map((i) => [itemId(i), i]));
      for (const [id, want] of this.best) {
        const got = items.get(id);
        assert.ok(got !== undefined, `${ctx}: node ${n.id} lacks ${id}`);
        assert.deepEqual(got, want, `${ctx}: node ${n.id} holds another version of ${id}`);
      }
      assert.equal(items.size, this.best.size, `${ctx}: node ${n.id} holds items nobody acknowledged`);
    }
  }
}

describe('system metadata on a cluster (simulated)', function () {
  this.timeout(240_000);

  for (const seed of seeds) {
    it(`seed ${seed}: writes and deletes through any node over a lossy fabric, a crash and restart, two late joiners — every node ends with the highest version of every item`, async () => {
      const rand = seededRandom(seed * 7919);
      const first: NodeId[] = [0x30n, 0x20n, 0x10n];
      const later: NodeId[] = [0x40n, 0x50n];
      const c = smdCluster(seed, [...first, ...later], { minDelayMs: 1, maxDelayMs: 12, dropRate: 0.05, duplicateRate: 0.05 });
      const ctx = `seed ${seed}`;
      const checker = new VersionChecker();
      const modules = ['udf', 'sindex', 'truncate', 'security-users'];
      try {
        for (const id of first) await c.start(id);
        assert.ok(await c.converge() >= 0, `${ctx}: the first three form a cluster`);
        const step = async (n: number): Promise<void> => {
          for (let i = 0; i < n; i++) {
            const live = [...c.nodes.values()];
            const node = live[Math.floor(rand() * live.length)] as SmdNode;
            const module = modules[Math.floor(rand() * modules.length)] as string;
            const key = `k${Math.floor(rand() * 6)}`;
            const m = node.store.module<{ v: number }>(module);
            const del = rand() < 0.25;
            const r = await c.drive<unknown>(del ? m.delete(key) : m.set(key, { v: Math.floor(rand() * 1000) }));
            assert.ok(r.ok, `${ctx}: a write resolves (${r.ok ? '' : String(r.error)})`);
            checker.record(node.store, module, key);
            await c.idle(Math.floor(rand() * 40));
          }
        };
        await step(25);
        // a crash: the node keeps what it had stored; writes go on without it, deletes included
        const victim = first[Math.floor(rand() * first.length)] as NodeId;
        await c.kill(victim);
        await c.idle(3000);
        await step(25);
        await c.start(victim);
        await step(10);
        for (const id of later) await c.start(id);
        await step(15);
        const ms = await c.converge(60_000);
        assert.ok(ms >= 0, `${ctx}: the five nodes form one cluster and are caught up`);
        // repairs of lost pushes run on the principal's periodic check
        const end = c.clock.now() + 30_000;
        const digests = (): Set<string> => new Set([...c.nodes.values()].map((n) => n.store.digest()));
        while (digests().size > 1 && c.clock.now() < end) await c.idle(100);
        assert.equal(digests().size, 1, `${ctx}: every node holds the same system metadata`);
        checker.check(c.nodes.values(), ctx);
      } finally {
        await c.stopAll();
      }
    });
  }

  it('a returning node with older items converges, deletions made while it was away stay deleted, and a newcomer\'s default does not replace the established one', async () => {
    const c = smdCluster(5, [0x3n, 0x2n, 0x1n], { minDelayMs: 1, maxDelayMs: 3, dropRate: 0, duplicateRate: 0 });
    try {
      for (const id of [0x3n, 0x2n]) await c.start(id);
      assert.ok(await c.converge() >= 0);
      const a = c.nodes.get(0x3n) as SmdNode;
      await c.drive(a.store.module('udf').set('gone.lua', 'old'));
      await c.drive(a.store.module('udf').set('kept.lua', 'v1'));
      await c.drive(a.store.module('security').setDefault('session-secret', 'first'));
      const b = c.nodes.get(0x2n) as SmdNode;
      assert.equal(b.store.module('udf').get('gone.lua')?.value, 'old', 'a write reaches the other member before it resolves');
      await c.kill(0x2n);
      await c.idle(3000);
      await c.drive(a.store.module('udf').delete('gone.lua'));
      await c.drive(a.store.module('udf').set('kept.lua', 'v2'));
      // a node that was never in the cluster makes its own default secret, later
      await c.idle(500);
      const fresh = await c.start(0x1n);
      await c.drive(fresh.store.module('security').setDefault('session-secret', 'second'));
      await c.start(0x2n);
      assert.ok(await c.converge() >= 0);
      for (const n of c.nodes.values()) {
        assert.equal(n.store.module('udf').get('gone.lua'), undefined, `node ${n.id}: the deletion stays`);
        assert.equal(n.store.module('udf').get('kept.lua')?.value, 'v2', `node ${n.id}: the newer value wins`);
        assert.equal(n.store.module('security').get('session-secret')?.value, 'first', `node ${n.id}: the established default stays`);
      }
      // a real write (generation 1) outranks any default
      await c.drive(fresh.store.module('security').set('session-secret', 'rotated'));
      for (const n of c.nodes.values()) assert.equal(n.store.module('security').get('session-secret')?.value, 'rotated');
    } finally {
      await c.stopAll();
    }
  });
});
