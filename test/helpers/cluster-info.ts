import { credentials, Metadata } from '@grpc/grpc-js';
import { ClusterServiceClient, type GetClusterInfoResponse, type GetPartitionDigestsResponse, type GetPartitionMapResponse } from '../../core/wire/generated/slipstream/v1/cluster.ts';

/** A node's cluster view over its gRPC ClusterService (one connection per call; `metadata` carries a login). */
export function clusterInfo(port: number, metadata = new Metadata()): Promise<GetClusterInfoResponse> {
  const c = new ClusterServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
  return new Promise((resolve, reject) => c.getClusterInfo({}, metadata, (err, res) => { c.close(); if (err) reject(err); else resolve(res); }));
}

/** A node's partition map of a namespace over its gRPC ClusterService. */
export function partitionMap(port: number, namespace: string, metadata = new Metadata()): Promise<GetPartitionMapResponse> {
  const c = new ClusterServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
  return new Promise((resolve, reject) => c.getPartitionMap({ namespace }, metadata, (err, res) => { c.close(); if (err) reject(err); else resolve(res); }));
}

/** A node's own copies of a namespace's partitions (counts and checksums; every record of `detailPartitions`). */
export function partitionDigests(port: number, namespace: string, detailPartitions: number[] = [], metadata = new Metadata()): Promise<GetPartitionDigestsResponse> {
  const c = new ClusterServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
  return new Promise((resolve, reject) => c.getPartitionDigests({ namespace, detailPartitions }, metadata, (err, res) => { c.close(); if (err) reject(err); else resolve(res); }));
}
