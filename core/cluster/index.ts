/** The cluster kernel: one entry point (createClusterService) and what it is built from. */
export { createClusterService } from './cluster-service.ts';
export type { ClusterService, ClusterServiceOptions, ClusterInfo, MemberInfo, ClusterChange } from './cluster-service.ts';
export { validateClusterConfig, validateClusterLayout, parseNodeId, defaultQuantumMs, CLUSTER_DEFAULTS } from './config.ts';
export type { ClusterConfig } from './config.ts';
export { buildPartitionTable, tableFingerprint } from './partition-table.ts';
export type { PartitionTable, NamespaceReplication } from './partition-table.ts';
export { tcpTransport } from './tcp-transport.ts';
export { SimNetwork, NO_FAULTS } from './sim-network.ts';
export type { SimFaults } from './sim-network.ts';
export type { Transport, TransportFactory, Channel } from './transport.ts';
export { parseAddress } from './transport.ts';
export { FakeClock, seededRandom, systemClock } from './clock.ts';
export type { NodeState } from './messages.ts';
export { hexId } from './messages.ts';
export { Fabric } from './fabric.ts';
