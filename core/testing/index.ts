/**
 * `slipstream/testing`: the conformance kits for plugin authors (mocha suites: call a kit at
 * the top level of a test file), and the helpers they use. Every built-in plugin passes them.
 */
export { storageEngineKit, makeRecord } from './storage-engine-kit.ts';
export type { StorageEngineKitTarget } from './storage-engine-kit.ts';
export { replicationStrategyKit, randomView, without, changedRows } from './replication-kit.ts';
export type { ReplicationStrategyKitTarget } from './replication-kit.ts';
export { retransmitStrategyKit, driveUnacked, retransmitContext } from './retransmit-kit.ts';
export type { RetransmitStrategyKitTarget } from './retransmit-kit.ts';
export {
  testContext, testNamespace, checkedOptions, createReplication, createRetransmit, openEngine, FakeClock, seededRandom,
} from './context.ts';
