/**
 * replication-global-key: Aerospike's standard succession algorithm, exactly
 * (as/src/fabric/partition_balance.c `fill_global_tables`). Every partition gets its own
 * ordering of the succession list by Jenkins-of-FNV hashes; the first RF nodes hold copies.
 * Options: `maxClusterSize` (AS_CLUSTER_SZ, power of two, default 256; Aerospike CE uses 8).
 */
import {
  DbError, PLUGIN_API_VERSION, standardNodeSequence,
  type NodeId, type PluginContext, type ReplicationPlugin, type ReplicationStrategy,
} from '../../core/plugin-api/index.ts';

const NAME = 'replication-global-key';

function readMaxClusterSize(options: Readonly<Record<string, unknown>>): number {
  const v = options['maxClusterSize'] ?? 256;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 2 || v > 32768 || (v & (v - 1)) !== 0) {
    throw new DbError('PARAMETER', `${NAME}: maxClusterSize must be a power of two between 2 and 32768, got ${JSON.stringify(v)}`, {
      hint: 'Set maxClusterSize to 8 (Aerospike CE), 256 (the default) or another power of two',
    });
  }
  return v;
}

export function globalKeyReplication(): ReplicationPlugin {
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
          const ids = view.succession.map((m) => m.id);
          if (ids.length > maxClusterSize) {
            throw new DbError('PARAMETER', `cluster of ${ids.length} nodes exceeds maxClusterSize ${maxClusterSize}`, {
              hint: 'Raise the replication strategy option maxClusterSize',
            });
          }
          const key = ids.map((id) => id.toString(16)).join(',');
          if (key !== lastKey) {
            lastSeq = standardNodeSequence(ids, maxClusterSize);
            lastKey = key;
          }
          const copies = Math.min(replicationFactor, ids.length);
          return lastSeq.map((seq) => {
            const out: NodeId[] = new Array<NodeId>(copies);
            for (let i = 0; i < copies; i++) out[i] = ids[seq[i] as number] as NodeId;
            return out;
          });
        },
      };
    },
  };
}

export default globalKeyReplication;
