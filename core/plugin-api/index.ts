/**
 * The only surface a plugin sees. Plugins import from this module and nothing else in core.
 */
export { PLUGIN_API_VERSION } from './plugin.ts';
export type { Plugin, PluginKind, StoragePlugin, ReplicationPlugin, RetransmitPlugin } from './plugin.ts';
export type { Clock, TimerHandle, Logger, NodeId, PluginContext } from './context.ts';
export { systemClock, silentLogger } from './context.ts';
export type {
  StorageEngine, StorageCapabilities, StoredRecord, WriteExpectation, WriteOutcome,
  ScanOptions, TruncateOptions, EngineStats,
} from './storage-engine.ts';
export type { ReplicationStrategy, ClusterView, ClusterMember } from './replication-strategy.ts';
export { standardNodeSequence, spreadRow, successionStrategy, fnv1a64, jenkinsOaat64, leBytes } from './replication-strategy.ts';
export type { FailureDomain } from './replication-strategy.ts';
export type { RetransmitStrategy, RetransmitState, FabricMessageKind } from './retransmit-strategy.ts';
export { DbError, ResultCode } from '../errors/index.ts';
export type { ResultCodeName } from '../errors/index.ts';
export { N_PARTITIONS, partitionOf, digestString } from '../model/index.ts';
export type { PartitionId, RecordMeta, NamespaceConfig } from '../model/index.ts';
