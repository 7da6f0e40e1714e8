import type { NodeId } from '../plugin-api/index.ts';
import type { PartitionId } from '../model/index.ts';

/**
 * Where each partition's master lives. Every operation asks, even on one node, so that the
 * data path is already shaped for the cluster.
 */
export interface PartitionRouter {
  /** The master node of a partition of a namespace, or undefined when no node holds it. */
  masterOf(namespace: string, partition: PartitionId): NodeId | undefined;
  readonly localNode: NodeId;
  /** The client-facing address of a node, when known (EXPLAIN names the master by it). */
  serviceAddressOf?(node: NodeId): string | undefined;
  /** The members of the cluster this node is in (itself included); absent on a single node. */
  members?(): readonly NodeId[];
  /** The nodes holding a partition: master first, then replicas; absent on a single node. */
  copiesOf?(namespace: string, partition: PartitionId): readonly NodeId[];
}

/** One node that masters every partition of every namespace. */
export function singleNodeRouter(nodeId: NodeId): PartitionRouter {
  return { localNode: nodeId, masterOf: () => nodeId };
}
