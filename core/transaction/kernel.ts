/**
 * The transaction layer's facade: the kernel composes its paths — read (read-path.ts), write
 * (write-path.ts), operate (operate.ts), batch and scan (batch-scan.ts), and removal outside the
 * write path (record-removal.ts: truncate, expiry, eviction) — over one shared state
 * (kernel-state.ts). Its types are in kernel-types.ts.
 */
import { DbError } from '../errors/index.ts';
import type { StoredRecord } from '../plugin-api/index.ts';
import {
  checkBinName, checkSetName, computeDigest, keyFromDigest, partitionOf, checkInt64,
  type Bins, type DbRecord, type RecordKey, type RecordMeta, type UserKey,
} from '../model/index.ts';
import type { Clock, Logger } from '../plugin-api/index.ts';
import type { Namespace } from '../storage/namespace.ts';
import { RecordLocks } from './record-lock.ts';
import { settled, type Maybe } from './maybe-async.ts';
import { DEFAULT_WRITE_POLICY, type ReadPolicy, type RecordPredicate, type WritePolicy } from './policy.ts';
import type { ScanPage, ScanPageRequest } from './cluster-scan.ts';
import type { PartitionRouter } from './routing.ts';
import { isWriteOperation, type Operation } from './operations.ts';
import type { ExpressionCompiler } from './expression-ops.ts';
import type { ChangeListener, CurrentRecord, FabricCounters, KernelCounters, KernelOptions, Mutation, OperateResult, ScanRequest } from './kernel-types.ts';
import { namespaceNames, namespaceOf, replicaServesHere, type KernelState } from './kernel-state.ts';
import type { Forwarding } from './forwarding.ts';
import type { ReplicaChange, ReplicaWriter } from '../replication/replica-writes.ts';
import { applyCopy } from './copy-apply.ts';
import type { MigrationGate } from './kernel-state.ts';
import * as read from './read-path.ts';
import * as write from './write-path.ts';
import { operate } from './operate.ts';
import * as many from './batch-scan.ts';
import * as removal from './record-removal.ts';

export type { RecordChange, ChangeListener, Mutation, CurrentRecord, ScanRequest, OperateResult, KernelOptions, KernelCounters, FabricCounters } from './kernel-types.ts';

/**
 * The transaction layer: every single-record operation is addressed by digest and
 * partition, checked against the partition table, serialised per record, and applied with
 * Aerospike's policies (exists action, generation, TTL, send-key, durable delete).
 */
export class Kernel {
  private readonly state: KernelState;
  readonly clock: Clock;
  /** Proxying to the partition's master; undefined on a single node. */
  get forwarding(): Forwarding | undefined {
    return this.state.forwarding;
  }

  /** Migrations (partitions being filled); undefined on a single node. */
  get migration(): MigrationGate | undefined {
    return this.state.migration;
  }

  /** Replica writes; undefined on a single node. */
  get replicas(): ReplicaWriter | undefined {
    return this.state.replicas;
  }

  #fabric: FabricCounters | undefined;
  /** What the cluster's fabric counts (statistics and metrics); undefined on a single node. */
  get fabric(): FabricCounters | undefined {
    return this.#fabric;
  }
  readonly logger: Logger;
  readonly counters: KernelCounters = { reads: 0, writes: 0, deletes: 0, notFound: 0, errors: 0, scans: 0, batches: 0, replicaReads: 0 };

  constructor(options: KernelOptions) {
    this.clock = options.clock;
    this.logger = options.logger;
    this.state = {
      namespaces: new Map(options.namespaces.map((ns): [string, Namespace] => [ns.name, ns])),
      clock: options.clock,
      router: options.router,
      forwarding: undefined,
      replicas: undefined,
      migration: undefined,
      logger: options.logger,
      locks: new RecordLocks(options.transactionPendingLimit ?? 20),
      listeners: [],
      binNameSets: new Map(),
      counters: this.counters,
      expressions: undefined,
    };
  }

  /** Gives the kernel the expression engine that expression operations run on. */
  useExpressions(compiler: ExpressionCompiler): void {
    this.state.expressions = compiler;
  }

  get router(): PartitionRouter {
    return this.state.router;
  }

  /**
   * Routes by a cluster's partition map from now on, forwarding to masters elsewhere and
   * writing every change of a mastered record to its replicas.
   */
  useRouting(router: PartitionRouter, forwarding: Forwarding, replicas?: ReplicaWriter, migration?: MigrationGate, fabric?: FabricCounters): void {
    this.#fabric = fabric;
    this.state.router = router;
    this.state.forwarding = forwarding;
    this.state.replicas = replicas;
    this.state.migration = migration;
  }

  /**
   * Applies a copy of a record sent by its master (a replica write) or by a migration, under
   * the record's lock, when it wins over the stored copy (see copy-apply.ts).
   */
  applyCopy(namespace: string, change: ReplicaChange): Promise<boolean> {
    return applyCopy(this.state, namespace, change);
  }

  addListener(listener: ChangeListener): void {
    this.state.listeners.push(listener);
  }

  /** Bin names written in a namespace since the node started, sorted. */
  binNames(namespace: string): string[] {
    this.namespace(namespace);
    return [...(this.state.binNameSets.get(namespace) ?? [])].sort();
  }

  namespaceNames(): string[] {
    return namespaceNames(this.state);
  }

  namespace(name: string): Namespace {
    return namespaceOf(this.state, name);
  }

  /** Builds a key from a user key, validating the namespace and set names. */
  key(namespace: string, set: string, userKey: UserKey): RecordKey {
    this.namespace(namespace);
    checkSetName(set);
    if (typeof userKey === 'bigint') checkInt64(userKey, 'integer key');
    if (typeof userKey === 'string' && userKey.length === 0) {
      throw new DbError('PARAMETER', 'a string key must not be empty', { hint: 'give the record a non-empty key' });
    }
    const digest = computeDigest(set, userKey);
    return { namespace, set, digest, partition: partitionOf(digest), userKey };
  }

  /** Builds a key from a digest (the record's set, when known, may be given for new writes). */
  keyFromDigest(namespace: string, set: string, digest: Uint8Array): RecordKey {
    this.namespace(namespace);
    checkSetName(set);
    return keyFromDigest(namespace, set, digest);
  }

  /** Reads a record (all bins, some bins, or the header only). Missing records throw NOT_FOUND. */
  get(key: RecordKey, options: { bins?: readonly string[]; headerOnly?: boolean } & ReadPolicy = {}): Promise<DbRecord> {
    if (this.#forwardsRead(key, options)) return this.forwarding!.get(key, options, () => this.get(key, options));
    return read.get(this.state, key, options);
  }

  /** Whether a read of `key` goes to its master elsewhere (not when a replica here may serve it). */
  #forwardsRead(key: RecordKey, policy: ReadPolicy): boolean {
    return this.forwarding?.remoteMaster(key) !== undefined && !replicaServesHere(this.state, key, policy);
  }

  /**
   * The visible stored record with its payload still encoded, for paths that transcode it
   * straight to a wire format. Missing records throw NOT_FOUND.
   */
  getStored(key: RecordKey, policy: ReadPolicy = {}): Promise<StoredRecord> {
    if (this.#forwardsRead(key, policy)) return this.forwarding!.getStored(key, policy, () => this.getStored(key, policy));
    return read.getStored(this.state, key, policy);
  }

  /**
   * `getStored` for a front end's hot path: the record itself when it is read from memory here
   * (a failure then throws, in the caller's turn), else a promise — no promise or microtask for
   * a request served in one turn.
   */
  getStoredMaybe(key: RecordKey, policy: ReadPolicy = {}): Maybe<StoredRecord> {
    if (this.#forwardsRead(key, policy)) return this.forwarding!.getStored(key, policy, () => this.getStored(key, policy));
    return read.getStoredMaybe(this.state, key, policy);
  }

  /** The record's metadata, or undefined when it does not exist. */
  exists(key: RecordKey, policy: ReadPolicy = {}): Promise<RecordMeta | undefined> {
    if (this.#forwardsRead(key, policy)) return this.forwarding!.exists(key, policy, () => this.exists(key, policy));
    return read.exists(this.state, key, policy);
  }

  /**
   * The one read-modify-write path: reads the record under its lock, applies the policy's
   * checks, lets `step` decide the mutation, then writes it.
   */
  mutate<T>(
    key: RecordKey,
    policy: WritePolicy,
    step: (current: CurrentRecord | undefined) => Promise<{ mutation: Mutation; value: T }> | { mutation: Mutation; value: T },
  ): Promise<{ meta: RecordMeta | undefined; value: T }> {
    return write.mutate(this.state, key, policy, step);
  }

  /**
   * Writes bins with the policy's exists action (update merges, replace replaces). Returns
   * the new metadata, or undefined when the write left no bins and so deleted the record.
   */
  put(key: RecordKey, bins: Bins, policy: WritePolicy = DEFAULT_WRITE_POLICY): Promise<RecordMeta | undefined> {
    return settled(() => this.putMaybe(key, bins, policy));
  }

  /**
   * `put` for a front end's hot path: the new metadata itself when the write is stored in
   * memory here in this turn (a failure then throws), else a promise.
   */
  putMaybe(key: RecordKey, bins: Bins, policy: WritePolicy = DEFAULT_WRITE_POLICY): Maybe<RecordMeta | undefined> {
    // the local path checks the bin names itself (write.put), before it takes the record's lock
    if (this.forwarding?.remoteMaster(key) === undefined) return write.putMaybe(this.state, key, bins, policy);
    for (const name of Object.keys(bins)) checkBinName(name);
    return this.forwarding.put(key, bins, policy, () => this.put(key, bins, policy));
  }

  /** Deletes a record; throws NOT_FOUND when there is none. */
  async delete(key: RecordKey, policy: WritePolicy = DEFAULT_WRITE_POLICY): Promise<void> {
    if (this.forwarding?.remoteMaster(key) !== undefined) return this.forwarding.delete(key, policy, () => this.delete(key, policy));
    return write.remove(this.state, key, policy);
  }

  /** Resets the TTL and bumps the generation; throws NOT_FOUND when there is no record. */
  async touch(key: RecordKey, policy: WritePolicy = DEFAULT_WRITE_POLICY): Promise<RecordMeta> {
    if (this.forwarding?.remoteMaster(key) !== undefined) return this.forwarding.touch(key, policy, () => this.touch(key, policy));
    return write.touch(this.state, key, policy);
  }

  /** Applies several operations to one record atomically. */
  async operate(key: RecordKey, ops: readonly Operation[], policy: WritePolicy = DEFAULT_WRITE_POLICY): Promise<OperateResult> {
    if (ops.length === 0) throw new DbError('PARAMETER', 'operate needs at least one operation');
    if (this.forwarding?.remoteMaster(key) !== undefined) return this.forwarding.operate(key, ops, policy, ops.some(isWriteOperation), () => this.operate(key, ops, policy));
    return operate(this.state, key, ops, policy);
  }

  /** Reads many records; each result is the record, or a DbError (NOT_FOUND and the like). */
  batchGet(keys: readonly RecordKey[], options: { bins?: readonly string[]; headerOnly?: boolean } & ReadPolicy = {}): Promise<Array<DbRecord | DbError>> {
    return many.batchGet(this.state, keys, options, (k) => this.get(k, options));
  }

  /** batchGet of whole records with their payloads still encoded (see getStored). */
  batchGetStored(keys: readonly RecordKey[], policy: ReadPolicy = {}): Promise<Array<StoredRecord | DbError>> {
    return many.batchGetStored(this.state, keys, policy, (k) => this.getStored(k, policy));
  }

  /** Streams the live records of a namespace or set, partition by partition, in digest order. */
  scan(req: ScanRequest): AsyncGenerator<DbRecord> {
    return many.scan(this.state, req);
  }

  /** A record scanStored() gave, decoded as scan() would return it (`only` these bins, or none). */
  scannedRecord(namespace: string, stored: StoredRecord, only?: ReadonlySet<string>, noBins = false): DbRecord {
    return many.scannedRecord(namespace, stored, only, noBins);
  }

  /**
   * The records scan() would return, with their payloads still encoded, for paths that
   * transcode them straight to a wire format (`bins` and `noBins` are the caller's to apply).
   */
  scanStored(req: ScanRequest): AsyncGenerator<StoredRecord> {
    return many.scanStored(this.state, req);
  }

  /** A page of a cluster scan's share on this node (see batch-scan.ts scanPage): mastered and filled partitions only, else UNAVAILABLE. */
  scanPage(req: ScanPageRequest & { readonly filter?: RecordPredicate }): Promise<ScanPage> {
    return many.scanPage(this.state, req);
  }

  /** Every visible record this node stores, whoever masters it (what secondary indexes are built from). */
  scanHeld(req: ScanRequest): AsyncGenerator<StoredRecord> {
    return many.scanHeld(this.state, req);
  }

  /** Removes every record of the namespace (or set) last updated before `beforeMs` (default: now). */
  truncate(namespace: string, set?: string, beforeMs?: number): Promise<number> {
    return removal.truncate(this.state, namespace, set, beforeMs);
  }

  /**
   * Removes one stored record or tombstone under its record lock if `still` holds for what is
   * stored at that moment (eviction, the tomb raider). Listeners hear about live records.
   */
  removeStoredIf(namespace: string, digest: Uint8Array, still: (current: StoredRecord) => boolean, cause: 'evict' | 'expire'): Promise<boolean> {
    return removal.removeStoredIf(this.state, namespace, digest, still, cause);
  }

  /** Removes expired records of a namespace, telling listeners; returns how many went. */
  sweepExpired(namespace: string): Promise<number> {
    return removal.sweepExpired(this.state, namespace);
  }
}
