import { strict as assert } from 'node:assert';
import { rackAwareReplication } from '../../plugins/replication-rack-aware/index.ts';
import { globalKeyReplication } from '../../plugins/replication-global-key/index.ts';
import type { ClusterView, NodeId } from '../../core/plugin-api/index.ts';
import { seededRandom } from '../../core/cluster/clock.ts';
import { changedRows, randomView, replicationStrategyKit, testContext, without } from 'slipstream/testing';

replicationStrategyKit({ plugin: rackAwareReplication(), failureDomains: ['rack'] });

function racksOf(view: ClusterView): Map<NodeId, number> {
  return new Map(view.succession.map((m) => [m.id, m.rackId]));
}

describe('plugins/replication-rack-aware', () => {
  const s = rackAwareReplication().create(testContext(), {});
  const g = globalKeyReplication().create(testContext(), {});

  for (const [n, racks, rf] of [[6, 3, 3], [6, 2, 3], [5, 5, 2], [4, 2, 2], [7, 3, 2], [3, 1, 2]] as const) {
    it(`never puts two copies in one rack when avoidable (${n} nodes, ${racks} racks, RF ${rf})`, () => {
      const v = randomView(seededRandom(n * 100 + racks), n, racks);
      const rackOf = racksOf(v);
      for (const row of s.assign(v, rf)) {
        const used = new Set(row.map((id) => rackOf.get(id)));
        assert.equal(used.size, Math.min(racks, row.length), `row ${row.join(',')}`);
      }
    });
  }

  it('keeps global-key masters (master balance is unchanged)', () => {
    const v = randomView(seededRandom(11), 6, 3);
    const a = s.assign(v, 3);
    const b = g.assign(v, 3);
    for (let p = 0; p < 4096; p++) assert.equal(a[p]?.[0], b[p]?.[0]);
  });

  it('counts differ from global-key: the global order alone would co-locate copies', () => {
    // a guard that the adjustment does something: with 2 racks, global-key puts both copies on
    // one rack in about half the rows
    const v = randomView(seededRandom(12), 4, 2);
    const rackOf = racksOf(v);
    const same = g.assign(v, 2).filter((r) => rackOf.get(r[0] as NodeId) === rackOf.get(r[1] as NodeId)).length;
    assert.ok(same > 1000, String(same));
  });

  it('a departing node (racks still ≥ RF) changes only rows that held a copy on it', () => {
    const v = randomView(seededRandom(13), 7, 3);
    for (const m of v.succession) {
      const before = s.assign(v, 2);
      const after = s.assign(without(v, m.id), 2);
      assert.equal(changedRows(before, after), before.filter((r) => r.includes(m.id)).length);
    }
  });

  it('balances replicas within 20 % when racks have equal sizes', () => {
    const v = randomView(seededRandom(14), 6, 2);
    const counts = new Map<NodeId, number>();
    for (const row of s.assign(v, 2)) counts.set(row[1] as NodeId, (counts.get(row[1] as NodeId) ?? 0) + 1);
    for (const c of counts.values()) assert.ok(Math.abs(c - 4096 / 6) < 0.2 * (4096 / 6), String([...counts.values()]));
  });
});
