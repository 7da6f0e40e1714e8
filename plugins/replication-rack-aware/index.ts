/**
 * replication-rack-aware: the standard succession order (as replication-global-key), then each
 * row is adjusted so that master and replicas sit on different racks whenever there are enough
 * racks (Aerospike's rack_aware_adjust_row, approximated as in its rebalance simulator). The master
 * never moves, so master balance equals global-key's; replicas rotate in the next node of an
 * unused rack, keeping everything else in order, so one membership change moves few partitions.
 * Options: `maxClusterSize` (AS_CLUSTER_SZ, power of two, default 256).
 */
import {
  DbError, PLUGIN_API_VERSION, spreadRow, standardNodeSequence,
  type ClusterMember, type NodeId, type PluginContext, type ReplicationPlugin, type ReplicationStrategy,
} from '../../core/plugin-api/index.ts';

const NAME = 'replication-rack-aware';
const DOMAINS: readonly ((m: ClusterMember) => string | number)[] = [(m) => m.rackId];

function readMaxClusterSize(options: Readonly<Record<string, unknown>>): number {
  const v = options['maxClusterSize'] ?? 256;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 2 || v > 32768 || (v & (v - 1)) !== 0) {
    throw new DbError('PARAMETER', `${NAME}: maxClusterSize must be a power of two between 2 and 32768, got ${JSON.stringify(v)}`, {
      hint: 'Set maxClusterSize to a power of two such as 256 (the default)',
    });
  }
  return v;
}

export function rackAwareReplication(): ReplicationPlugin {
  return {
    kind: 'replication',
    name: NAME,
    apiVersion: PLUGIN_API_VERSION,
    create(_ctx: PluginContext, options: Readonly<Record<string, unknown>>): ReplicationStrategy {
      const maxClusterSize = readMaxClusterSize(options);
      let lastKey = '';
      let lastSeq: Uint16Array[] = [];
      return {
        assign(view, replicationFactor) {
          if (!Number.isInteger(replicationFactor) || replicationFactor < 1) {
            throw new DbError('PARAMETER', `replication factor must be a positive integer, got ${replicationFactor}`, {
              hint: 'Set the namespace replication factor to 1 or more',
            });
          }
          const members = view.succession;
          if (members.length > maxClusterSize) {
            throw new DbError('PARAMETER', `cluster of ${members.length} nodes exceeds maxClusterSize ${maxClusterSize}`, {
              hint: 'Raise the replication strategy option maxClusterSize',
            });
          }
          const key = members.map((m) => m.id.toString(16)).join(',');
          if (key !== lastKey) {
            lastSeq = standardNodeSequence(members.map((m) => m.id), maxClusterSize);
            lastKey = key;
          }
          const copies = Math.min(replicationFactor, members.length);
          return lastSeq.map((seq) => {
            const row: ClusterMember[] = Array.from(seq, (i) => members[i] as ClusterMember);
            spreadRow(row, copies, DOMAINS);
            const out: NodeId[] = new Array<NodeId>(copies);
            for (let i = 0; i < copies; i++) out[i] = (row[i] as ClusterMember).id;
            return out;
          });
        },
      };
    },
  };
}

export default rackAwareReplication;
