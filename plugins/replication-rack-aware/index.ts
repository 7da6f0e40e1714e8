/**
 * replication-rack-aware: the standard succession order (as replication-global-key), then each
 * row is adjusted so that master and replicas sit on different racks whenever there are enough
 * racks (Aerospike's rack_aware_adjust_row, approximated as in its rebalance simulator). The master
 * never moves, so master balance equals global-key's; replicas rotate in the next node of an
 * unused rack, keeping everything else in order, so one membership change moves few partitions.
 * Options: `maxClusterSize` (AS_CLUSTER_SZ, power of two, default 256).
 */
import {
  PLUGIN_API_VERSION, successionStrategy, successionOptionsSchema,
  type FailureDomain, type PluginContext, type ReplicationPlugin, type ReplicationStrategy,
} from 'slipstream/plugin-api';

const NAME = 'replication-rack-aware';
const DOMAINS: readonly FailureDomain[] = [(m) => m.rackId];

export function rackAwareReplication(): ReplicationPlugin {
  return {
    kind: 'replication',
    name: NAME,
    apiVersion: PLUGIN_API_VERSION,
    version: '1.0.0',
    description: 'Standard placement with copies on distinct racks',
    optionsSchema: successionOptionsSchema,
    create(_ctx: PluginContext, options: Readonly<Record<string, unknown>>): ReplicationStrategy {
      return successionStrategy(NAME, options, DOMAINS);
    },
  };
}

export default rackAwareReplication;
