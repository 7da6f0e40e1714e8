/**
 * replication-zone-aware: the standard succession order, then copies are spread across zones
 * first and, within a zone, across racks (a rack is identified by zone and rack id). The master
 * never moves; replicas rotate in the next node that adds an unused zone (else an unused rack),
 * keeping everything else in order.
 * Options: `maxClusterSize` (AS_CLUSTER_SZ, power of two, default 256).
 */
import {
  PLUGIN_API_VERSION, successionStrategy, successionOptionsSchema,
  type FailureDomain, type PluginContext, type ReplicationPlugin, type ReplicationStrategy,
} from 'slipstream/plugin-api';

const NAME = 'replication-zone-aware';
const DOMAINS: readonly FailureDomain[] = [(m) => m.zoneId, (m) => `${m.zoneId}/${m.rackId}`];

export function zoneAwareReplication(): ReplicationPlugin {
  return {
    kind: 'replication',
    name: NAME,
    apiVersion: PLUGIN_API_VERSION,
    version: '1.0.0',
    description: 'Standard placement with copies spread over zones, then racks',
    optionsSchema: successionOptionsSchema,
    create(_ctx: PluginContext, options: Readonly<Record<string, unknown>>): ReplicationStrategy {
      return successionStrategy(NAME, options, DOMAINS);
    },
  };
}

export default zoneAwareReplication;
