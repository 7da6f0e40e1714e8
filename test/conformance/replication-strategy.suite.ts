/**
 * The conformance suite every ReplicationStrategy plugin must pass. Third-party authors:
 * `replicationStrategyConformance(myPlugin)` inside a mocha file.
 */
import { strict as assert } from 'node:assert';
import {
  DbError, PLUGIN_API_VERSION, silentLogger,
  type ClusterMember, type ClusterView, type NodeId, type PluginContext, type ReplicationPlugin,
} from '../../core/plugin-api/index.ts';
import { FakeClock, seededRandom } from '../../core/cluster/clock.ts';

export function testContext(nodeId: NodeId = 1n): PluginContext {
  return { nodeId, logger: silentLogger, clock: new FakeClock(), signal: new AbortController().signal };
}

/** A view of `n` members with random 64-bit ids, in succession order (descending id). */
export function randomView(rand: () => number, n: number, racks = 1, zones = 1): ClusterView {
  const ids = new Set<NodeId>();
  while (ids.size < n) {
    ids.add((BigInt(Math.floor(rand() * 2 ** 32)) << 32n) | BigInt(Math.floor(rand() * 2 ** 32)) | 1n);
  }
  const sorted = [...ids].sort((a, b) => (a > b ? -1 : a < b ? 1 : 0));
  return {
    clusterKey: 0xabcdefn,
    succession: sorted.map((id, i) => ({ id, rackId: i % racks, zoneId: Math.floor(i / racks) % zones })),
  };
}

export function without(view: ClusterView, id: NodeId): ClusterView {
  return { clusterKey: view.clusterKey + 1n, succession: view.succession.filter((m) => m.id !== id) };
}

/** Rows (as comma-joined ids) that differ between two tables. */
export function changedRows(a: readonly (readonly NodeId[])[], b: readonly (readonly NodeId[])[]): number {
  let n = 0;
  for (let p = 0; p < 4096; p++) if ((a[p] ?? []).join(',') !== (b[p] ?? []).join(',')) n++;
  return n;
}

export function replicationStrategyConformance(plugin: ReplicationPlugin): void {
  describe(`replication strategy conformance: ${plugin.name}`, () => {
    const rand = seededRandom(0x5eed);
    const strategy = plugin.create(testContext(), {});

    it('is a replication plugin of the current API version', () => {
      assert.equal(plugin.kind, 'replication');
      assert.equal(plugin.apiVersion, PLUGIN_API_VERSION);
      assert.match(plugin.name, /^replication-[a-z0-9-]+$/);
    });

    for (const [n, rf] of [[1, 1], [1, 2], [2, 2], [3, 2], [3, 3], [4, 5], [5, 3], [8, 2], [12, 4]] as const) {
      it(`gives 4096 rows of min(RF, nodes) distinct members (nodes ${n}, RF ${rf})`, () => {
        const view = randomView(rand, n, 3, 2);
        const members = new Set(view.succession.map((m) => m.id));
        const table = strategy.assign(view, rf);
        assert.equal(table.length, 4096);
        for (const row of table) {
          assert.equal(row.length, Math.min(n, rf));
          assert.equal(new Set(row).size, row.length, 'a node holds two copies of one partition');
          for (const id of row) assert.ok(members.has(id), `node ${id} is not a member`);
        }
      });
    }

    it('is deterministic: two instances and two calls give the same table', () => {
      const view = randomView(rand, 5, 2, 1);
      const other = plugin.create(testContext(99n), {});
      const a = strategy.assign(view, 3);
      assert.deepEqual(other.assign(view, 3), a);
      assert.deepEqual(strategy.assign({ ...view, succession: [...view.succession] }, 3), a);
    });

    it('balances masters within 15 % of the mean', () => {
      for (const n of [2, 3, 5, 8]) {
        const view = randomView(rand, n, 2, 1);
        const counts = new Map<NodeId, number>();
        for (const row of strategy.assign(view, 2)) counts.set(row[0] as NodeId, (counts.get(row[0] as NodeId) ?? 0) + 1);
        assert.equal(counts.size, n);
        for (const c of counts.values()) assert.ok(Math.abs(c - 4096 / n) < 0.15 * (4096 / n), `n=${n}: ${[...counts.values()]}`);
      }
    });

    it('moves few partitions when one node leaves', () => {
      const view = randomView(rand, 6, 3, 1);
      const before = strategy.assign(view, 2);
      const gone = (view.succession[2] as ClusterMember).id;
      const after = strategy.assign(without(view, gone), 2);
      const held = before.filter((r) => r.includes(gone)).length;
      const changed = changedRows(before, after);
      assert.ok(changed >= held, 'every row that held the departed node must change');
      assert.ok(changed <= held * 1.25, `changed ${changed} rows, the departed node held ${held}`);
    });

    it('rejects a replication factor below 1 with a DbError', () => {
      const view = randomView(rand, 3);
      assert.throws(() => strategy.assign(view, 0), (e: unknown) => e instanceof DbError && e.code === 'PARAMETER');
    });

    it('gives empty rows for an empty cluster', () => {
      const table = strategy.assign({ clusterKey: 0n, succession: [] }, 2);
      assert.equal(table.length, 4096);
      assert.ok(table.every((r) => r.length === 0));
    });
  });
}
