/**
 * replication-rendezvous: places copies by rendezvous (highest-random-weight) hashing, written
 * as an out-of-tree plugin. Each partition ranks the members by a hash of (member, partition);
 * the master is the top one and the replicas are the next ones, taken from racks (or zones)
 * that hold no copy yet whenever there are any. It does not use Aerospike's succession order.
 *
 * Why it meets the contract: the hash depends on nothing but the member id and the partition,
 * so every node computes the same table (deterministic); each member tops about 1/n of the
 * partitions (balance); a member leaving changes only the rows it was in, because the picks of
 * the others never depended on it (minimal movement).
 */
import {
  DbError, N_PARTITIONS, PLUGIN_API_VERSION, Type,
  type ClusterMember, type NodeId, type ReplicationPlugin, type ReplicationStrategy, type Static,
} from 'slipstream/plugin-api';

export const rendezvousOptions = Type.Object({
  spreadOver: Type.Optional(Type.Union([Type.Literal('rack'), Type.Literal('zone'), Type.Literal('none')], {
    default: 'rack', description: 'the failure domain copies avoid sharing', hint: 'use "rack", "zone" or "none"',
  })),
}, { additionalProperties: false, title: 'replication-rendezvous' });

/** A 32-bit mix of a 64-bit member id and a partition id (murmur3's finalizer on both halves). */
function weight(id: NodeId, pid: number): number {
  let h = Math.imul(Number(id & 0xffffffffn) ^ 0x9e3779b9, 0x85ebca6b) ^ Number((id >> 32n) & 0xffffffffn);
  h = Math.imul(h ^ (h >>> 16), 0xc2b2ae35) ^ Math.imul(pid + 1, 0x27d4eb2f);
  h = Math.imul(h ^ (h >>> 13), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 16), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

export function rendezvousReplication(): ReplicationPlugin {
  return {
    kind: 'replication',
    name: 'replication-rendezvous',
    apiVersion: PLUGIN_API_VERSION,
    version: '1.0.0',
    description: 'Rendezvous hashing, copies on distinct racks or zones',
    optionsSchema: rendezvousOptions,
    create(_ctx, options): ReplicationStrategy {
      const spreadOver = (options as Static<typeof rendezvousOptions>).spreadOver ?? 'rack';
      const domainOf = (m: ClusterMember): string => (spreadOver === 'zone' ? `${m.zoneId}` : spreadOver === 'rack' ? `${m.zoneId}/${m.rackId}` : `${m.id}`);
      let assignments = 0;
      return {
        assign(view, replicationFactor) {
          if (!Number.isInteger(replicationFactor) || replicationFactor < 1) {
            throw new DbError('PARAMETER', `replication factor must be a positive integer, got ${replicationFactor}`, { hint: 'set the namespace replicationFactor to 1 or more' });
          }
          assignments++;
          const members = view.succession;
          const copies = Math.min(replicationFactor, members.length);
          const table: NodeId[][] = [];
          const ranked = members.map((m) => ({ m, w: 0 }));
          for (let pid = 0; pid < N_PARTITIONS; pid++) {
            for (const r of ranked) r.w = weight(r.m.id, pid);
            // highest weight first; ties (rare) by id so that every node agrees
            ranked.sort((a, b) => b.w - a.w || (a.m.id < b.m.id ? -1 : 1));
            const row: NodeId[] = [];
            const usedDomains = new Set<string>();
            const taken = new Set<number>();
            while (row.length < copies) {
              let pick = ranked.findIndex((r, i) => !taken.has(i) && !usedDomains.has(domainOf(r.m)));
              if (pick < 0) pick = ranked.findIndex((_, i) => !taken.has(i)); // every domain used: the next best
              const chosen = ranked[pick] as { m: ClusterMember };
              taken.add(pick);
              usedDomains.add(domainOf(chosen.m));
              row.push(chosen.m.id);
            }
            table.push(row);
          }
          return table;
        },
        health: () => ({ ok: true, detail: `${assignments} tables computed, spread over ${spreadOver}` }),
      };
    },
  };
}

export default rendezvousReplication;
