import type { NodeId } from './context.ts';

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
 * Places the copies of every partition. Pure and deterministic: the same view and
 * replication factor give the same table on every node.
 */
export interface ReplicationStrategy {
  /**
   * For each of the 4096 partitions, `[master, ...replicas]`, of length
   * min(replicationFactor, succession.length).
   */
  assign(view: ClusterView, replicationFactor: number): readonly (readonly NodeId[])[];
}
