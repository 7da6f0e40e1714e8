import { DbError } from '../errors/index.ts';
import type { Clock, Logger, StoredRecord, WriteExpectation } from '../plugin-api/index.ts';
import {
  checkBinName, checkSetName, computeDigest, decodeBins, decodeUserKey, encodeBins, encodeUserKey, isExpired,
  keyFromDigest, partitionOf, checkInt64, digestString, N_PARTITIONS,
  type Bins, type BinValue, type DbRecord, type RecordKey, type RecordMeta, type UserKey,
} from '../model/index.ts';
import type { Namespace } from '../storage/namespace.ts';
import { removeStoredIf } from '../storage/eviction.ts';
import { RecordLocks } from './record-lock.ts';
import { checkExists, checkGeneration, DEFAULT_WRITE_POLICY, type ReadPolicy, type RecordPredicate, type WritePolicy } from './policy.ts';
import type { PartitionRouter } from './routing.ts';
import { isWriteOperation, type Operation } from './operations.ts';
import { applyListOp, applyMapOp } from './cdt.ts';
import type { Forwarding } from './forwarding.ts';

/** A record change, reported to listeners (indexes, XDR) while the record's lock is held. */
export interface RecordChange {
  readonly namespace: string;
  readonly set: string;
  readonly digest: Uint8Array;
  /** Bins before the change; undefined when the record did not exist. */
  readonly before: Bins | undefined;
  /** Bins after the change; undefined when the record is gone. */
  readonly after: Bins | undefined;
  readonly meta: RecordMeta | undefined;
  readonly cause: 'write' | 'delete' | 'expire' | 'evict';
}

export interface ChangeListener {
  onChange?(change: RecordChange): void;
  /** A promise it returns (saving the truncate marker) is awaited before records are removed. */
  onTruncate?(namespace: string, set: string | undefined, beforeMs: number): void | Promise<void>;
}

/** What a locked read-modify-write step decides. */
export type Mutation =
  | { readonly kind: 'none' }
  | { readonly kind: 'write'; readonly bins: Bins; readonly ttl?: number }
  | { readonly kind: 'touch'; readonly ttl?: number }
  | { readonly kind: 'delete' };

/** The record as a mutation step sees it. */
export interface CurrentRecord {
  readonly key: RecordKey;
  readonly bins: Bins;
  readonly meta: RecordMeta;
}

export interface ScanRequest {
  readonly namespace: string;
  readonly set?: string;
  /** Partitions in order; all when absent. */
  readonly partitions?: readonly number[];
  /** Resume after this digest within the first partition. */
  readonly afterDigest?: Uint8Array;
  /** Return only these bins; all when absent. */
  readonly bins?: readonly string[];
  /** Return metadata only. */
  readonly noBins?: boolean;
  readonly maxRecords?: number;
  readonly filter?: RecordPredicate;
  readonly signal?: AbortSignal;
}

export interface OperateResult {
  readonly meta: RecordMeta | undefined;
  /** Results of the read-like operations by bin (a bin read twice gives a list of both results). */
  readonly bins: Bins;
}

export interface KernelOptions {
  readonly namespaces: readonly Namespace[];
  readonly clock: Clock;
  readonly router: PartitionRouter;
  readonly logger: Logger;
  readonly transactionPendingLimit?: number;
}

export interface KernelCounters {
  reads: number;
  writes: number;
  deletes: number;
  notFound: number;
  errors: number;
  scans: number;
  batches: number;
}

/**
 * The transaction layer: every single-record operation is addressed by digest and
 * partition, checked against the partition table, serialised per record, and applied with
 * Aerospike's policies (exists action, generation, TTL, send-key, durable delete).
 */
export class Kernel {
  private readonly namespaces = new Map<string, Namespace>();
  readonly clock: Clock;
  private partitionRouter: PartitionRouter;
  /** Proxying to the partition's master; undefined on a single node. */
  forwarding: Forwarding | undefined;
  readonly logger: Logger;
  private readonly locks: RecordLocks;
  private readonly listeners: ChangeListener[] = [];
  /** Bin names seen per namespace (for SHOW BINS). */
  private readonly binNameSets = new Map<string, Set<string>>();
  readonly counters: KernelCounters = { reads: 0, writes: 0, deletes: 0, notFound: 0, errors: 0, scans: 0, batches: 0 };

  constructor(options: KernelOptions) {
    for (const ns of options.namespaces) this.namespaces.set(ns.name, ns);
    this.clock = options.clock;
    this.partitionRouter = options.router;
    this.logger = options.logger;
    this.locks = new RecordLocks(options.transactionPendingLimit ?? 20);
  }

  get router(): PartitionRouter {
    return this.partitionRouter;
  }

  /** Routes by a cluster's partition map from now on, forwarding to masters elsewhere. */
  useRouting(router: PartitionRouter, forwarding: Forwarding): void {
    this.partitionRouter = router;
    this.forwarding = forwarding;
  }

  addListener(listener: ChangeListener): void {
    this.listeners.push(listener);
  }

  /** Bin names written in a namespace since the node started, sorted. */
  binNames(namespace: string): string[] {
    this.namespace(namespace);
    return [...(this.binNameSets.get(namespace) ?? [])].sort();
  }

  namespaceNames(): string[] {
    return [...this.namespaces.keys()];
  }

  namespace(name: string): Namespace {
    const ns = this.namespaces.get(name);
    if (ns === undefined) {
      throw new DbError('NAMESPACE', `namespace '${name}' is not configured on this node`, {
        hint: `use one of: ${this.namespaceNames().join(', ') || '(none)'}`,
      });
    }
    return ns;
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

  private route(key: RecordKey): Namespace {
    const ns = this.namespace(key.namespace);
    const master = this.router.masterOf(key.namespace, key.partition);
    if (master === undefined) {
      throw new DbError('UNAVAILABLE', `partition ${key.partition} of namespace '${key.namespace}' has no master`, { hint: 'wait for the cluster to settle and retry' });
    }
    if (master !== this.router.localNode) {
      throw new DbError('UNAVAILABLE', `partition ${key.partition} of namespace '${key.namespace}' is mastered by node ${master.toString(16).toUpperCase()}`, {
        hint: 'send the request to the master node (use the partition map)',
      });
    }
    return ns;
  }

  /** The key as stored: the record's set, and a user key only when the record keeps one. */
  private storedKey(key: RecordKey, stored: StoredRecord): RecordKey {
    const base = { namespace: key.namespace, set: stored.set, digest: key.digest, partition: key.partition };
    return stored.key === undefined ? base : { ...base, userKey: key.userKey ?? decodeUserKey(stored.key) };
  }

  private toRecord(key: RecordKey, stored: StoredRecord, only?: ReadonlySet<string>, noBins = false): DbRecord {
    return {
      key: this.storedKey(key, stored),
      meta: stored.meta,
      bins: noBins ? {} : decodeBins(stored.payload, only),
    };
  }

  /** The stored record if readers may see it now (not a tombstone, expired or truncated). */
  private visible(ns: Namespace, stored: StoredRecord | undefined): StoredRecord | undefined {
    return stored !== undefined && ns.isVisible(stored, this.clock.now()) ? stored : undefined;
  }

  /** Reads a record (all bins, some bins, or the header only). Missing records throw NOT_FOUND. */
  async get(key: RecordKey, options: { bins?: readonly string[]; headerOnly?: boolean } & ReadPolicy = {}): Promise<DbRecord> {
    if (this.forwarding?.remoteMaster(key) !== undefined) return this.forwarding.get(key, options, () => this.get(key, options));
    const stored = await this.getStored(key);
    const rec = this.toRecord(key, stored, options.bins === undefined ? undefined : new Set(options.bins), options.headerOnly === true);
    if (options.filter !== undefined && !options.filter(options.headerOnly === true || options.bins !== undefined ? this.toRecord(key, stored) : rec)) {
      throw filteredOut();
    }
    return rec;
  }

  /**
   * The visible stored record with its payload still encoded, for paths that transcode it
   * straight to a wire format. Missing records throw NOT_FOUND.
   */
  async getStored(key: RecordKey): Promise<StoredRecord> {
    if (this.forwarding?.remoteMaster(key) !== undefined) return this.forwarding.getStored(key, () => this.getStored(key));
    const ns = this.route(key);
    this.counters.reads++;
    const stored = this.visible(ns, await ns.engine.get(key.digest));
    if (stored === undefined) {
      this.counters.notFound++;
      throw notFound();
    }
    return stored;
  }

  /** The record's metadata, or undefined when it does not exist. */
  async exists(key: RecordKey, policy: ReadPolicy = {}): Promise<RecordMeta | undefined> {
    if (this.forwarding?.remoteMaster(key) !== undefined) return this.forwarding.exists(key, policy, () => this.exists(key, policy));
    const ns = this.route(key);
    this.counters.reads++;
    const stored = this.visible(ns, await ns.engine.get(key.digest));
    if (stored === undefined) return undefined;
    if (policy.filter !== undefined && !policy.filter(this.toRecord(key, stored))) throw filteredOut();
    return stored.meta;
  }

  /**
   * The one read-modify-write path: reads the record under its lock, applies the policy's
   * checks, lets `step` decide the mutation, then writes it.
   */
  async mutate<T>(
    key: RecordKey,
    policy: WritePolicy,
    step: (current: CurrentRecord | undefined) => Promise<{ mutation: Mutation; value: T }> | { mutation: Mutation; value: T },
  ): Promise<{ meta: RecordMeta | undefined; value: T }> {
    const ns = this.route(key);
    return this.locks.run(lockKeyOf(key.namespace, key.digest), async () => {
      const stored = await ns.engine.get(key.digest);
      const now = this.clock.now();
      const live = stored !== undefined && ns.isVisible(stored, now) ? stored : undefined;
      if (stored !== undefined && live === undefined && !stored.tombstone) {
        // an expired or truncated record is still stored: listeners (indexes) drop what it held
        this.emit({ namespace: ns.name, set: stored.set, digest: key.digest, before: decodeBins(stored.payload), after: undefined, meta: undefined, cause: 'expire' });
      }
      checkGeneration(policy, live?.meta.generation);
      const current: CurrentRecord | undefined = live === undefined ? undefined : {
        key: this.storedKey(key, live),
        bins: decodeBins(live.payload),
        meta: live.meta,
      };
      if (policy.filter !== undefined && current !== undefined && !policy.filter(current)) throw filteredOut();
      const { mutation, value } = await step(current);
      const meta = await this.apply(ns, key, policy, stored, current, mutation, now);
      return { meta, value };
    });
  }

  private async apply(
    ns: Namespace, key: RecordKey, policy: WritePolicy, stored: StoredRecord | undefined,
    current: CurrentRecord | undefined, mutation: Mutation, now: number,
  ): Promise<RecordMeta | undefined> {
    // Under the record lock the engine's check is a safety net: a stored record that is
    // invisible (expired, truncated, tombstone) is replaced as if absent.
    const casExpect: WriteExpectation = stored === undefined
      ? { kind: 'absent' }
      : current === undefined ? { kind: 'any' } : { kind: 'generation', equals: stored.meta.generation };
    switch (mutation.kind) {
      case 'none':
        return current?.meta;
      case 'touch': {
        if (current === undefined || stored === undefined) throw notFound();
        const meta: RecordMeta = {
          generation: nextGeneration(current.meta.generation),
          voidTime: ns.voidTimeFor(mutation.ttl ?? policy.ttl, now, current.meta.voidTime),
          lastUpdateMs: now,
        };
        await this.store(ns, { ...stored, meta }, casExpect);
        this.counters.writes++;
        this.emit({ namespace: ns.name, set: stored.set, digest: key.digest, before: current.bins, after: current.bins, meta, cause: 'write' });
        return meta;
      }
      case 'delete': {
        if (current === undefined || stored === undefined) throw notFound();
        if (policy.durableDelete) {
          const meta: RecordMeta = { generation: nextGeneration(current.meta.generation), voidTime: 0, lastUpdateMs: now };
          await this.store(ns, { ...stored, meta, payload: new Uint8Array(0), tombstone: true }, casExpect);
        } else {
          const out = await ns.engine.remove(key.digest, casExpect);
          if (!out.ok) throw new DbError('SERVER_ERROR', `storage refused a locked delete (${out.reason})`);
        }
        this.counters.deletes++;
        this.emit({ namespace: ns.name, set: stored.set, digest: key.digest, before: current.bins, after: undefined, meta: undefined, cause: 'delete' });
        return undefined;
      }
      case 'write': {
        const bins: Bins = {};
        for (const [name, v] of Object.entries(mutation.bins)) {
          checkBinName(name);
          if (v !== null) bins[name] = v;
        }
        if (Object.keys(bins).length === 0) {
          // Aerospike: a write that leaves no bins deletes the record.
          if (current === undefined) {
            throw new DbError('PARAMETER', 'the write has no bins with values, so there is no record to create', { hint: 'give at least one bin a non-nil value' });
          }
          return this.apply(ns, key, policy, stored, current, { kind: 'delete' }, now);
        }
        const payload = encodeBins(bins);
        const limit = Math.min(ns.config.maxRecordBytes, ns.engine.capabilities.maxRecordBytes);
        if (payload.length > limit) {
          throw new DbError('RECORD_TOO_BIG', `the record would be ${payload.length} bytes; namespace '${ns.name}' allows ${limit}`, {
            hint: 'store less per record (split it over several keys) or raise max-record-size',
          });
        }
        // Generations stay monotonic across a durable delete: the tombstone's generation counts.
        const base = current !== undefined ? current.meta.generation : stored?.tombstone === true ? stored.meta.generation : 0;
        const meta: RecordMeta = {
          generation: nextGeneration(base),
          voidTime: ns.voidTimeFor(mutation.ttl ?? policy.ttl, now, current?.meta.voidTime),
          lastUpdateMs: now,
        };
        const storedKey = policy.sendKey && key.userKey !== undefined
          ? encodeUserKey(key.userKey)
          : (current !== undefined ? stored?.key : undefined);
        const set = current !== undefined ? (stored as StoredRecord).set : key.set;
        await this.store(ns, { digest: key.digest, partition: key.partition, set, meta, key: storedKey, payload, tombstone: false }, casExpect);
        this.counters.writes++;
        let names = this.binNameSets.get(ns.name);
        if (names === undefined) this.binNameSets.set(ns.name, names = new Set());
        for (const b in bins) names.add(b);
        this.emit({ namespace: ns.name, set, digest: key.digest, before: current?.bins, after: bins, meta, cause: 'write' });
        return meta;
      }
    }
  }

  private async store(ns: Namespace, rec: StoredRecord, expect: WriteExpectation): Promise<void> {
    const out = await ns.engine.put(rec, expect);
    if (!out.ok) throw new DbError('SERVER_ERROR', `storage refused a locked write (${out.reason})`, { hint: 'this is a storage engine bug; report it' });
  }

  private emit(change: RecordChange): void {
    for (const l of this.listeners) {
      try {
        l.onChange?.(change);
      } catch (err) {
        this.logger.error({ err }, 'a change listener failed');
      }
    }
  }

  /**
   * Writes bins with the policy's exists action (update merges, replace replaces). Returns
   * the new metadata, or undefined when the write left no bins and so deleted the record.
   */
  async put(key: RecordKey, bins: Bins, policy: WritePolicy = DEFAULT_WRITE_POLICY): Promise<RecordMeta | undefined> {
    for (const name of Object.keys(bins)) checkBinName(name);
    if (this.forwarding?.remoteMaster(key) !== undefined) return this.forwarding.put(key, bins, policy, () => this.put(key, bins, policy));
    const { meta } = await this.mutate(key, policy, (cur) => {
      checkExists(policy, cur !== undefined);
      const merged: Bins = policy.exists === 'replace' || policy.exists === 'replaceOnly' || policy.exists === 'createOnly' || cur === undefined
        ? { ...bins }
        : { ...cur.bins, ...bins };
      return { mutation: { kind: 'write', bins: merged }, value: undefined };
    });
    return meta;
  }

  /** Deletes a record; throws NOT_FOUND when there is none. */
  async delete(key: RecordKey, policy: WritePolicy = DEFAULT_WRITE_POLICY): Promise<void> {
    if (this.forwarding?.remoteMaster(key) !== undefined) return this.forwarding.delete(key, policy, () => this.delete(key, policy));
    await this.mutate(key, policy, () => ({ mutation: { kind: 'delete' }, value: undefined }));
  }

  /** Resets the TTL and bumps the generation; throws NOT_FOUND when there is no record. */
  async touch(key: RecordKey, policy: WritePolicy = DEFAULT_WRITE_POLICY): Promise<RecordMeta> {
    if (this.forwarding?.remoteMaster(key) !== undefined) return this.forwarding.touch(key, policy, () => this.touch(key, policy));
    const { meta } = await this.mutate(key, policy, () => ({ mutation: { kind: 'touch' }, value: undefined }));
    return meta as RecordMeta;
  }

  /** Applies several operations to one record atomically. */
  async operate(key: RecordKey, ops: readonly Operation[], policy: WritePolicy = DEFAULT_WRITE_POLICY): Promise<OperateResult> {
    if (ops.length === 0) throw new DbError('PARAMETER', 'operate needs at least one operation');
    const writes = ops.some(isWriteOperation);
    if (this.forwarding?.remoteMaster(key) !== undefined) return this.forwarding.operate(key, ops, policy, writes, () => this.operate(key, ops, policy));
    if (!writes) {
      // read-only: no lock, no generation bump
      const rec = await this.get(key, policy.filter === undefined ? {} : { filter: policy.filter });
      return { meta: rec.meta, bins: readResults(rec.bins, ops) };
    }
    const { meta, value } = await this.mutate(key, policy, (cur) => {
      if (cur === undefined) checkExists(policy, false);
      else if (policy.exists === 'createOnly') checkExists(policy, true);
      return runOperations(cur, ops);
    });
    return { meta, bins: value };
  }

  /** Reads many records; each result is the record, or a DbError (NOT_FOUND and the like). */
  async batchGet(keys: readonly RecordKey[], options: { bins?: readonly string[]; headerOnly?: boolean } & ReadPolicy = {}): Promise<Array<DbRecord | DbError>> {
    return this.batch(keys, (k) => this.get(k, options));
  }

  /** batchGet of whole records with their payloads still encoded (see getStored). */
  async batchGetStored(keys: readonly RecordKey[]): Promise<Array<StoredRecord | DbError>> {
    return this.batch(keys, (k) => this.getStored(k));
  }

  private batch<T>(keys: readonly RecordKey[], read: (key: RecordKey) => Promise<T>): Promise<Array<T | DbError>> {
    this.counters.batches++;
    return Promise.all(keys.map(async (k) => {
      try {
        return await read(k);
      } catch (err) {
        if (err instanceof DbError) return err;
        throw err;
      }
    }));
  }

  /** Streams the live records of a namespace or set, partition by partition, in digest order. */
  async *scan(req: ScanRequest): AsyncGenerator<DbRecord> {
    const only = req.bins === undefined ? undefined : new Set(req.bins);
    for await (const stored of this.scanStored(req)) yield this.scannedRecord(req.namespace, stored, only, req.noBins === true);
  }

  /** A record scanStored() gave, decoded as scan() would return it (`only` these bins, or none). */
  scannedRecord(namespace: string, stored: StoredRecord, only?: ReadonlySet<string>, noBins = false): DbRecord {
    const key: RecordKey = { namespace, set: stored.set, digest: stored.digest, partition: stored.partition };
    return this.toRecord(key, stored, only, noBins);
  }

  /**
   * The records scan() would return, with their payloads still encoded, for paths that
   * transcode them straight to a wire format (`bins` and `noBins` are the caller's to apply).
   */
  async *scanStored(req: ScanRequest): AsyncGenerator<StoredRecord> {
    const ns = this.namespace(req.namespace);
    if (req.set !== undefined) checkSetName(req.set);
    const partitions = req.partitions ?? allPartitions();
    for (const p of partitions) {
      if (!Number.isInteger(p) || p < 0 || p >= N_PARTITIONS) {
        throw new DbError('PARAMETER', `partition ${p} does not exist`, { hint: `partitions are numbered 0 to ${N_PARTITIONS - 1}` });
      }
    }
    this.counters.scans++;
    let n = 0;
    const max = req.maxRecords ?? Infinity;
    const scanOpts = {
      partitions: partitions.filter((p) => this.router.masterOf(req.namespace, p) === this.router.localNode),
      ...(req.set === undefined ? {} : { set: req.set }),
      ...(req.afterDigest === undefined ? {} : { afterDigest: req.afterDigest }),
    };
    for await (const stored of ns.engine.scan(scanOpts)) {
      if (req.signal?.aborted === true) throw new DbError('SCAN_ABORT', 'the scan was cancelled');
      if (!ns.isVisible(stored, this.clock.now())) continue;
      if (req.filter !== undefined) {
        const key: RecordKey = { namespace: ns.name, set: stored.set, digest: stored.digest, partition: stored.partition };
        if (!req.filter(this.toRecord(key, stored))) continue;
      }
      yield stored;
      if (++n >= max) return;
    }
  }

  /** Removes every record of the namespace (or set) last updated before `beforeMs` (default: now). */
  async truncate(namespace: string, set?: string, beforeMs?: number): Promise<number> {
    const ns = this.namespace(namespace);
    if (set !== undefined) checkSetName(set);
    const now = this.clock.now();
    const cutoff = beforeMs ?? now + 1;
    if (!Number.isFinite(cutoff) || cutoff <= 0) throw new DbError('PARAMETER', `truncate cut-off ${beforeMs} is not a valid time`);
    if (cutoff > now + 1) {
      throw new DbError('PARAMETER', 'the truncate cut-off is in the future', { hint: 'give a last-update time that is not later than now' });
    }
    ns.addTruncateMarker({ set, beforeMs: cutoff });
    const durable: Promise<void>[] = [];
    for (const l of this.listeners) {
      try {
        const r = l.onTruncate?.(namespace, set, cutoff);
        if (r !== undefined) durable.push(r);
      } catch (err) {
        this.logger.error({ err }, 'a truncate listener failed');
      }
    }
    // The marker must be durable before any record goes: a crash part-way through the
    // engine's truncate is finished at restart from the marker.
    const saved = await Promise.allSettled(durable);
    const failed = saved.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) {
      const reason = failed.reason instanceof Error ? failed.reason.message : String(failed.reason);
      throw new DbError('SERVER_ERROR', `the truncate marker could not be saved (${reason}); no records were removed`, {
        hint: 'the records are hidden on this node until it restarts; retry the truncate', cause: failed.reason,
      });
    }
    return ns.engine.truncate({ ...(set === undefined ? {} : { set }), beforeMs: cutoff });
  }

  /**
   * Removes one stored record or tombstone under its record lock if `still` holds for what is
   * stored at that moment (eviction, the tomb raider). Listeners hear about live records.
   */
  async removeStoredIf(namespace: string, digest: Uint8Array, still: (current: StoredRecord) => boolean, cause: 'evict' | 'expire'): Promise<boolean> {
    const ns = this.namespace(namespace);
    return this.locks.run(lockKeyOf(namespace, digest), async () => {
      const gone = await removeStoredIf(ns.engine, digest, still);
      if (gone === undefined) return false;
      if (!gone.tombstone) this.emit({ namespace, set: gone.set, digest: gone.digest, before: decodeBins(gone.payload), after: undefined, meta: undefined, cause });
      return true;
    });
  }

  /** Removes expired records of a namespace, telling listeners; returns how many went. */
  async sweepExpired(namespace: string): Promise<number> {
    const ns = this.namespace(namespace);
    const now = this.clock.now();
    const expired: StoredRecord[] = [];
    for await (const rec of ns.engine.scan({})) {
      if (isExpired(rec.meta.voidTime, now)) expired.push(rec);
    }
    let removed = 0;
    for (const rec of expired) {
      const still = (cur: StoredRecord): boolean => !cur.tombstone && isExpired(cur.meta.voidTime, this.clock.now());
      if (await this.removeStoredIf(namespace, rec.digest, still, 'expire')) removed++;
    }
    return removed;
  }
}

/** Serialises operations on one record. */
function lockKeyOf(namespace: string, digest: Uint8Array): string {
  return `${namespace}\0${digestString(digest)}`;
}

function notFound(): DbError {
  return new DbError('NOT_FOUND', 'record not found');
}

function filteredOut(): DbError {
  return new DbError('FILTERED_OUT', 'the record did not match the filter expression');
}

/** Generations count up and skip 0 when they wrap (0 means "no record"). */
function nextGeneration(gen: number): number {
  return gen >= 0xffffffff ? 1 : gen + 1;
}

function allPartitions(): number[] {
  return Array.from({ length: N_PARTITIONS }, (_, i) => i);
}

/**
 * Collects operation results by bin. As in Aerospike, a bin that several operations return
 * comes back as a list of their results, in operation order.
 */
class Results {
  readonly bins: Bins = {};
  private readonly counts = new Map<string, number>();
  add(bin: string, v: BinValue | undefined): void {
    if (v === undefined) return;
    const n = this.counts.get(bin) ?? 0;
    this.counts.set(bin, n + 1);
    if (n === 0) this.bins[bin] = v;
    else if (n === 1) this.bins[bin] = [this.bins[bin] as BinValue, v];
    else this.bins[bin] = [...(this.bins[bin] as BinValue[]), v];
  }
  addAll(bins: Bins): void {
    for (const [k, v] of Object.entries(bins)) this.add(k, v);
  }
}

function readResults(bins: Bins, ops: readonly Operation[]): Bins {
  const out = new Results();
  for (const op of ops) {
    if (op.op === 'read') {
      if (op.bin === undefined) out.addAll(bins);
      else out.add(op.bin, ownBin(bins, op.bin) ?? null);
    } else if (op.op === 'list') {
      out.add(op.bin, applyListOp(ownBin(bins, op.bin), op).result);
    } else if (op.op === 'map') {
      out.add(op.bin, applyMapOp(ownBin(bins, op.bin), op).result);
    }
  }
  return out.bins;
}

/** Runs operations in order over a working copy of the bins. */
function runOperations(cur: CurrentRecord | undefined, ops: readonly Operation[]): { mutation: Mutation; value: Bins } {
  const bins: Bins = { ...(cur?.bins ?? {}) };
  const out = new Results();
  let dirty = false;
  let touched = false;
  let deleted = false;
  for (const op of ops) {
    switch (op.op) {
      case 'read':
        if (op.bin === undefined) out.addAll(bins);
        else out.add(op.bin, ownBin(bins, op.bin) ?? null);
        break;
      case 'readHeader':
        break;
      case 'write':
        checkBinName(op.bin);
        if (op.value === null) delete bins[op.bin];
        else bins[op.bin] = op.value;
        dirty = true; deleted = false;
        break;
      case 'add': {
        checkBinName(op.bin);
        const old = ownBin(bins, op.bin);
        if (old === undefined || old === null) bins[op.bin] = op.value;
        else if (typeof old === 'bigint' && typeof op.value === 'bigint') bins[op.bin] = checkInt64(old + op.value, `bin '${op.bin}'`);
        else if (typeof old === 'number' && typeof op.value === 'number') bins[op.bin] = old + op.value;
        else throw new DbError('BIN_TYPE', `cannot add a ${typeof op.value === 'bigint' ? 'integer' : 'double'} to bin '${op.bin}', which holds a ${describe(old)}`, { hint: 'add integers to integer bins and doubles to double bins' });
        dirty = true; deleted = false;
        break;
      }
      case 'append':
      case 'prepend': {
        checkBinName(op.bin);
        const old = ownBin(bins, op.bin);
        if (old === undefined || old === null) bins[op.bin] = op.value;
        else if (typeof old === 'string' && typeof op.value === 'string') bins[op.bin] = op.op === 'append' ? old + op.value : op.value + old;
        else if (old instanceof Uint8Array && op.value instanceof Uint8Array) bins[op.bin] = new Uint8Array(Buffer.concat(op.op === 'append' ? [old, op.value] : [op.value, old]));
        else throw new DbError('BIN_TYPE', `cannot ${op.op} to bin '${op.bin}', which holds a ${describe(old)}`, { hint: `${op.op} strings to string bins and bytes to bytes bins` });
        dirty = true; deleted = false;
        break;
      }
      case 'touch':
        touched = true;
        break;
      case 'delete':
        for (const k of Object.keys(bins)) delete bins[k];
        deleted = true; dirty = false;
        break;
      case 'list': {
        checkBinName(op.bin);
        const r = applyListOp(ownBin(bins, op.bin), op);
        if (r.next !== undefined) { if (r.next === null) delete bins[op.bin]; else bins[op.bin] = r.next; dirty = true; deleted = false; }
        out.add(op.bin, r.result);
        break;
      }
      case 'map': {
        checkBinName(op.bin);
        const r = applyMapOp(ownBin(bins, op.bin), op);
        if (r.next !== undefined) { if (r.next === null) delete bins[op.bin]; else bins[op.bin] = r.next; dirty = true; deleted = false; }
        out.add(op.bin, r.result);
        break;
      }
    }
  }
  if (deleted && !dirty) {
    if (cur === undefined) throw notFound();
    return { mutation: { kind: 'delete' }, value: out.bins };
  }
  if (dirty) return { mutation: { kind: 'write', bins }, value: out.bins };
  if (touched) {
    if (cur === undefined) throw notFound();
    return { mutation: { kind: 'touch' }, value: out.bins };
  }
  return { mutation: { kind: 'none' }, value: out.bins };
}

/** A bin's value; never an inherited property such as 'constructor'. */
function ownBin(bins: Bins, name: string): BinValue | undefined {
  return Object.prototype.hasOwnProperty.call(bins, name) ? bins[name] : undefined;
}

function describe(v: BinValue): string {
  if (v === null) return 'nil';
  if (typeof v === 'bigint') return 'integer';
  if (typeof v === 'number') return 'double';
  if (v instanceof Uint8Array) return 'bytes';
  if (Array.isArray(v)) return 'list';
  if (v instanceof Map) return 'map';
  return typeof v;
}
