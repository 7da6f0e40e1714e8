/**
 * replication-global-key: Aerospike's standard succession algorithm, exactly
 * (as/src/fabric/partition_balance.c `fill_global_tables`). Every partition gets its own
 * ordering of the succession list by Jenkins-of-FNV hashes; the first RF nodes hold copies.
 * Options: `maxClusterSize` (AS_CLUSTER_SZ, power of two, default 256; Aerospike CE uses 8).
 */
import {
  PLUGIN_API_VERSION, successionStrategy, successionOptionsSchema,
  type PluginContext, type ReplicationPlugin, type ReplicationStrategy,
} from 'slipstream/plugin-api';

const NAME = 'replication-global-key';

export function globalKeyReplication(): ReplicationPlugin {
  return {
    kind: 'replication',
    name: NAME,
    apiVersion: PLUGIN_API_VERSION,
    version: '1.0.0',
    description: "Aerospike's standard succession placement",
    optionsSchema: successionOptionsSchema,
    create(_ctx: PluginContext, options: Readonly<Record<string, unknown>>): ReplicationStrategy {
      return successionStrategy(NAME, options);
    },
  };
}

export default globalKeyReplication;
