/**
 * gRPC handlers of slipstream.v1.ClusterService: cluster info and the partition map.
 */
import { DbError, type Logger } from '../../plugin-api/index.ts';
import type { ClusterServiceServer, GetClusterInfoResponse, GetPartitionMapResponse } from '../../wire/generated/slipstream/v1/cluster.ts';
import { unary } from '../rpc.ts';
import { hexId, type ClusterService } from '../../cluster/index.ts';

export function clusterInfoMessage(cluster: ClusterService): GetClusterInfoResponse {
  const info = cluster.info();
  return {
    nodeId: hexId(info.nodeId),
    clusterName: info.clusterName,
    state: info.state,
    clusterKey: info.clusterKey.toString(16).toUpperCase(),
    principal: hexId(info.principal),
    members: info.members.map((m) => ({
      nodeId: hexId(m.id), serviceAddress: m.serviceAddress, heartbeatAddress: m.heartbeatAddress, fabricAddress: m.fabricAddress,
      state: m.state, rackId: m.rackId, zoneId: m.zoneId, alive: m.alive,
      partitions: [...m.masters.keys()].map((ns) => ({ namespace: ns, masters: m.masters.get(ns) ?? 0, replicas: m.replicas.get(ns) ?? 0 })),
    })),
    others: info.others.map(hexId),
  };
}

export function partitionMapMessage(cluster: ClusterService, namespace: string): GetPartitionMapResponse {
  const table = cluster.partitionTable(namespace);
  if (table === undefined) {
    if (!cluster.namespaces().includes(namespace)) {
      throw new DbError('NAMESPACE', `namespace '${namespace}' is not configured`, { hint: `configured namespaces: ${cluster.namespaces().join(', ')}` });
    }
    throw new DbError('UNAVAILABLE', 'this node is not in a cluster yet', { hint: 'Retry in a moment, or ask another node' });
  }
  const info = cluster.info();
  const ids = info.members.map((m) => m.id);
  const index = new Map(ids.map((id, i) => [id, i]));
  return {
    namespace, generation: BigInt(table.generation), clusterKey: table.clusterKey.toString(16).toUpperCase(),
    replicationFactor: table.replicationFactor, effectiveReplicationFactor: table.effectiveReplicationFactor,
    nodes: ids.map(hexId), serviceAddresses: info.members.map((m) => m.serviceAddress),
    partitions: table.rows.map((row) => ({ nodeIndexes: row.map((id) => index.get(id) ?? 0) })),
  };
}

export function clusterHandlers(cluster: ClusterService, logger: Logger): ClusterServiceServer {
  return {
    getClusterInfo: unary(logger, 'GetClusterInfo', async () => clusterInfoMessage(cluster)),
    getPartitionMap: unary(logger, 'GetPartitionMap', async (req: { namespace: string }) => partitionMapMessage(cluster, req.namespace)),
  };
}
