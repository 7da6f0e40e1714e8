import { credentials, Metadata } from '@grpc/grpc-js';
import { ClusterServiceClient, type GetClusterInfoResponse, type GetPartitionMapResponse } from '../../core/wire/generated/slipstream/v1/cluster.ts';

/** A node's cluster view over its gRPC ClusterService (one connection per call; `metadata` carries a login). */
export function clusterInfo(port: number, metadata = new Metadata()): Promise<GetClusterInfoResponse> {
  const c = new ClusterServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
  return new Promise((resolve, reject) => c.getClusterInfo({}, metadata, (err, res) => { c.close(); if (err) reject(err); else resolve(res); }));
}

/** A node's partition map of a namespace over its gRPC ClusterService. */
export function partitionMap(port: number, namespace: string): Promise<GetPartitionMapResponse> {
  const c = new ClusterServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
  return new Promise((resolve, reject) => c.getPartitionMap({ namespace }, (err, res) => { c.close(); if (err) reject(err); else resolve(res); }));
}
