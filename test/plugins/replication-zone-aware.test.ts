import { strict as assert } from 'node:assert';
import { zoneAwareReplication } from '../../plugins/replication-zone-aware/index.ts';
import { globalKeyReplication } from '../../plugins/replication-global-key/index.ts';
import type { ClusterMember, ClusterView, NodeId } from '../../core/plugin-api/index.ts';
import { seededRandom } from '../../core/cluster/clock.ts';
import { changedRows, randomView, replicationStrategyKit, testContext, without } from 'slipstream/testing';

replicationStrategyKit({ plugin: zoneAwareReplication(), failureDomains: ['zone', 'rack'] });

describe('plugins/replication-zone-aware', () => {
  const s = zoneAwareReplication().create(testContext(), {});
  const g = globalKeyReplication().create(testContext(), {});

  for (const [n, racks, zones, rf] of [[8, 2, 2, 2], [8, 2, 2, 3], [12, 2, 3, 3], [6, 3, 1, 3], [9, 3, 3, 4]] as const) {
    it(`spreads copies over zones, then racks (${n} nodes, ${racks} racks × ${zones} zones, RF ${rf})`, () => {
      const v = randomView(seededRandom(n * 1000 + racks * 10 + zones), n, racks, zones);
      const byId = new Map<NodeId, ClusterMember>(v.succession.map((m) => [m.id, m]));
      const allZones = new Set(v.succession.map((m) => m.zoneId)).size;
      const allRacks = new Set(v.succession.map((m) => `${m.zoneId}/${m.rackId}`)).size;
      for (const row of s.assign(v, rf)) {
        const ms = row.map((id) => byId.get(id) as ClusterMember);
        assert.equal(new Set(ms.map((m) => m.zoneId)).size, Math.min(allZones, row.length), 'zones');
        assert.equal(new Set(ms.map((m) => `${m.zoneId}/${m.rackId}`)).size, Math.min(allRacks, row.length), 'racks');
      }
    });
  }

  it('prefers a new zone over a new rack in the same zone', () => {
    // nodes: zone 0 has racks 0 and 1; zone 1 has rack 0 only
    const v: ClusterView = {
      clusterKey: 1n,
      succession: [
        { id: 40n, rackId: 0, zoneId: 0 }, { id: 30n, rackId: 1, zoneId: 0 },
        { id: 20n, rackId: 0, zoneId: 1 }, { id: 10n, rackId: 1, zoneId: 0 },
      ],
    };
    const zoneOf = new Map(v.succession.map((m) => [m.id, m.zoneId]));
    for (const row of s.assign(v, 2)) assert.notEqual(zoneOf.get(row[0] as NodeId), zoneOf.get(row[1] as NodeId));
  });

  it('keeps global-key masters', () => {
    const v = randomView(seededRandom(21), 8, 2, 2);
    const a = s.assign(v, 3);
    const b = g.assign(v, 3);
    for (let p = 0; p < 4096; p++) assert.equal(a[p]?.[0], b[p]?.[0]);
  });

  it('a departing node changes only rows that held a copy on it', () => {
    const v = randomView(seededRandom(22), 9, 3, 3);
    const before = s.assign(v, 3);
    const gone = v.succession[4]?.id as NodeId;
    const after = s.assign(without(v, gone), 3);
    assert.equal(changedRows(before, after), before.filter((r) => r.includes(gone)).length);
  });
});
