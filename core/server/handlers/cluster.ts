/**
 * gRPC handlers of slipstream.v1.ClusterService: cluster info (with the node's migrations),
 * the partition map, a summary of the node's own copies, and quiesce.
 */
import { DbError, type Logger } from '../../plugin-api/index.ts';
import type { ClusterServiceServer, GetClusterInfoResponse, GetPartitionDigestsResponse, GetPartitionMapResponse, MigrationProgress } from '../../wire/generated/slipstream/v1/cluster.ts';
import type { Kernel } from '../../transaction/kernel.ts';
import type { MigrationProgress as Progress } from '../../transaction/migration.ts';
import { summarizeCopies } from '../../transaction/copy-summary.ts';
import { unary } from '../rpc.ts';
import { hexId, type ClusterService } from '../../cluster/index.ts';

export function migrationMessage(p: Progress | undefined): MigrationProgress | undefined {
  if (p === undefined) return undefined;
  return {
    partitionsRemaining: p.partitionsRemaining, recordsReceived: BigInt(p.recordsReceived), recordsSent: BigInt(p.recordsSent),
    recordsDropped: BigInt(p.recordsDropped), receiveRate: p.receiveRate, sendRate: p.sendRate, lastFillRate: p.lastRate,
    maxIncoming: p.limits.maxIncoming, recordsPerSecond: p.limits.recordsPerSecond, sourcesRemaining: p.sourcesRemaining,
    recordsRemaining: BigInt(p.recordsRemaining),
  };
}

export function clusterInfoMessage(cluster: ClusterService, migrations?: Progress): GetClusterInfoResponse {
  const info = cluster.info();
  return {
    nodeId: hexId(info.nodeId),
    clusterName: info.clusterName,
    state: info.state,
    clusterKey: info.clusterKey.toString(16).toUpperCase(),
    principal: hexId(info.principal),
    members: info.members.map((m) => ({
      nodeId: hexId(m.id), serviceAddress: m.serviceAddress, heartbeatAddress: m.heartbeatAddress, fabricAddress: m.fabricAddress,
      state: m.state, rackId: m.rackId, zoneId: m.zoneId, alive: m.alive, quiesced: m.quiesced,
      partitions: [...m.masters.keys()].map((ns) => ({ namespace: ns, masters: m.masters.get(ns) ?? 0, replicas: m.replicas.get(ns) ?? 0 })),
    })),
    others: info.others.map(hexId),
    migrations: migrationMessage(migrations),
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

export function clusterHandlers(cluster: ClusterService, logger: Logger, kernel: Kernel, migrations: () => Progress | undefined): ClusterServiceServer {
  return {
    getClusterInfo: unary(logger, 'GetClusterInfo', async () => clusterInfoMessage(cluster, migrations())),
    getPartitionMap: unary(logger, 'GetPartitionMap', async (req: { namespace: string }) => partitionMapMessage(cluster, req.namespace)),
    getPartitionDigests: unary(logger, 'GetPartitionDigests', async (req: { namespace: string; detailPartitions: number[] }): Promise<GetPartitionDigestsResponse> => {
      if (!cluster.namespaces().includes(req.namespace)) {
        throw new DbError('NAMESPACE', `namespace '${req.namespace}' is not configured`, { hint: `configured namespaces: ${cluster.namespaces().join(', ')}` });
      }
      const { partitions, copies } = await summarizeCopies(kernel, req.namespace, req.detailPartitions);
      return { nodeId: hexId(cluster.nodeId), partitions, copies: copies.map((c) => ({ ...c, lastUpdateMs: BigInt(c.lastUpdateMs) })) };
    }),
    quiesce: unary(logger, 'Quiesce', async (req: { undo: boolean }) => {
      if (!cluster.quiesce(!req.undo)) throw new DbError('PARAMETER', 'this node is leaving the cluster: its quiesce cannot be undone', { hint: 'start the node again once it has stopped' });
      return cluster.departure();
    }),
  };
}
