import type { NodeId } from './context.ts';
import type { PluginHealth } from './lifecycle.ts';

/** A cluster member as the replication strategy sees it. */
export interface ClusterMember {
  readonly id: NodeId;
  readonly rackId: number;
  readonly zoneId: number;
}

/** The agreed cluster: members in succession order (descending node id; element 0 is the principal). */
export interface ClusterView {
  readonly clusterKey: bigint;
  readonly succession: readonly ClusterMember[];
}

/**
 * Places the copies of every partition.
 *
 * Guarantees a strategy must give (the replication kit checks each):
 * - pure and deterministic: the same view and replication factor give the same table on every
 *   node and in every instance (no clock, no randomness, no node-local state in the answer);
 * - every row holds min(replicationFactor, members) distinct members; an empty cluster gives
 *   4096 empty rows; a replication factor below 1 is a PARAMETER DbError;
 * - masters are balanced (each member masters about 4096 / n partitions);
 * - minimal movement: when one member leaves, little more than the rows that held it change;
 * - a strategy that uses failure domains (rack, zone) puts copies on distinct domains whenever
 *   there are enough of them.
 *
 * How it is called: on the cluster's event loop when the membership changes (not per request);
 * `assign` may take milliseconds. A throw is counted as a plugin error and the cluster keeps its
 * previous table.
 */
export interface ReplicationStrategy {
  /**
   * For each of the 4096 partitions, `[master, ...replicas]`, of length
   * min(replicationFactor, succession.length).
   */
  assign(view: ClusterView, replicationFactor: number): readonly (readonly NodeId[])[];
  /** Optional: how the strategy is doing (SHOW PLUGINS, admin API). */
  health?(): PluginHealth;
  /** Optional: called once when the node stops. */
  stop?(): void | Promise<void>;
}


