/**
 * The replication kit: the conformance suite every replication strategy passes. Inside a
 * mocha file:
 *
 *   import { replicationStrategyKit } from 'slipstream/testing';
 *   replicationStrategyKit({ plugin: myReplication(), failureDomains: ['rack'] });
 *
 * It checks the contract's guarantees: rows of min(RF, n) distinct members, determinism,
 * master balance, minimal movement when a node leaves, a PARAMETER error for RF < 1, and — for
 * each failure domain the strategy claims — copies on distinct domains whenever there are
 * enough of them.
 */
import { strict as assert } from 'node:assert';
import {
  DbError, PLUGIN_API_VERSION,
  type ClusterMember, type ClusterView, type NodeId, type ReplicationPlugin,
} from '../plugin-api/index.ts';
import { isJsonSchema } from '../schema/index.ts';
import { seededRandom } from '../cluster/clock.ts';
import { createReplication, testContext } from './context.ts';

export interface ReplicationStrategyKitTarget {
  readonly plugin: ReplicationPlugin;
  /** Options to create it with (checked against its schema). Default: {}. */
  readonly options?: Readonly<Record<string, unknown>>;
  /** Suite title (default: the plugin's name). */
  readonly name?: string;
  /** The failure domains the strategy claims to spread copies over. */
  readonly failureDomains?: readonly ('rack' | 'zone')[];
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

export function replicationStrategyKit(target: ReplicationStrategyKitTarget): void {
  const plugin = target.plugin;
  const options = target.options ?? {};
  describe(`replication strategy kit: ${target.name ?? plugin.name}`, () => {
    const rand = seededRandom(0x5eed);
    const strategy = createReplication(plugin, options);

    it('is a replication plugin of the current API version with an options schema', () => {
      assert.equal(plugin.kind, 'replication');
      assert.equal(plugin.apiVersion, PLUGIN_API_VERSION);
      assert.match(plugin.name, /^replication-[a-z0-9-]+$/);
      assert.ok(isJsonSchema(plugin.optionsSchema), 'optionsSchema must be a JSON Schema');
    });

    for (const domain of target.failureDomains ?? []) {
      it(`puts copies on distinct ${domain}s whenever there are enough`, () => {
        for (const [n, racks, zones, rf] of [[6, 3, 1, 3], [8, 2, 2, 2], [9, 3, 3, 3], [12, 4, 3, 3]] as const) {
          const view = randomView(rand, n, racks, zones);
          const byId = new Map(view.succession.map((m) => [m.id, m]));
          const key = (m: ClusterMember): string => (domain === 'zone' ? `${m.zoneId}` : `${m.zoneId}/${m.rackId}`);
          const available = new Set(view.succession.map(key)).size;
          for (const row of strategy.assign(view, rf)) {
            const used = new Set(row.map((id) => key(byId.get(id) as ClusterMember)));
            assert.equal(used.size, Math.min(row.length, available), `n=${n} racks=${racks} zones=${zones} RF=${rf}: copies share a ${domain}`);
          }
        }
      });
    }

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
      const other = createReplication(plugin, options, testContext(99n));
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
