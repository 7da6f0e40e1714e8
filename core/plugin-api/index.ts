/**
 * The only surface a plugin sees (`slipstream/plugin-api`). Plugins import from this module and
 * nothing else of Slipstream; everything a plugin needs is here.
 */
export { PLUGIN_API_VERSION } from './plugin.ts';
export type { Plugin, PluginKind, StoragePlugin, ReplicationPlugin, RetransmitPlugin } from './plugin.ts';
export type { PluginHealth, PluginLifecycle } from './lifecycle.ts';
export type { Clock, TimerHandle, Logger, NodeId, PluginContext } from './context.ts';
export { systemClock, silentLogger } from './context.ts';
export type {
  StorageEngine, StorageCapabilities, StoredRecord, StoredMeta, WriteExpectation, WriteOutcome, EngineAnswer,
  ScanOptions, TruncateOptions, EngineStats,
} from './storage-engine.ts';
export { isPromise } from './storage-engine.ts';
export type { ReplicationStrategy, ClusterView, ClusterMember } from './replication-strategy.ts';
export {
  standardNodeSequence, spreadRow, successionStrategy, successionOptionsSchema, fnv1a64, jenkinsOaat64, leBytes,
} from './succession.ts';
export type { FailureDomain } from './succession.ts';
export type { RetransmitStrategy, RetransmitState, FabricMessageKind } from './retransmit-strategy.ts';
export type { SystemMetadataBackend, SystemMetadataEntry, SystemMetadataTransaction } from './system-metadata.ts';
export { Type, checkSchema } from '../schema/index.ts';
export type { Static, TSchema, JsonSchema } from '../schema/index.ts';
export { DbError, ResultCode } from '../errors/index.ts';
export type { ResultCodeName } from '../errors/index.ts';
export { N_PARTITIONS, partitionOf, digestString, computeDigest, encodeUserKey, utf8Name } from '../model/index.ts';
export type { PartitionId, RecordMeta, NamespaceConfig } from '../model/index.ts';
