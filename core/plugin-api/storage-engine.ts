import type { PartitionId, RecordMeta } from '../model/index.ts';
import type { PluginHealth } from './lifecycle.ts';

/** What an engine can do; the kernel reads these instead of guessing. */
export interface StorageCapabilities {
  /** Records survive a process restart. */
  readonly persistent: boolean;
  /** Largest record payload the engine accepts, in bytes. */
  readonly maxRecordBytes: number;
}

/**
 * One record as an engine stores it. The payload is opaque to the engine (the kernel owns
 * the bin codec). A tombstone (durable delete) has `tombstone: true` and an empty payload.
 */
export interface StoredRecord {
  readonly digest: Uint8Array;
  readonly partition: PartitionId;
  readonly set: string;
  readonly meta: RecordMeta;
  /** The user key, encoded (type byte then key bytes), when the writer sent it. */
  readonly key: Uint8Array | undefined;
  readonly payload: Uint8Array;
  readonly tombstone: boolean;
}

/**
 * What `getMeta` answers: a stored record's (or tombstone's) set and metadata, without its key
 * or payload.
 */
export interface StoredMeta {
  readonly set: string;
  readonly meta: RecordMeta;
  readonly tombstone: boolean;
}

/** A condition a write must meet, checked atomically with the write. */
export type WriteExpectation =
  | { readonly kind: 'any' }
  | { readonly kind: 'absent' }
  | { readonly kind: 'generation'; readonly equals: number };

/** Expected outcomes are values; faults (I/O, corruption) are thrown. */
export type WriteOutcome =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: 'GENERATION' | 'RECORD_EXISTS' | 'NOT_FOUND' };

export interface ScanOptions {
  /** Only these partitions, in this order; all 4096 when absent. */
  readonly partitions?: readonly PartitionId[];
  /** Only records of this set ('' is the null set); all sets when absent. */
  readonly set?: string;
  /** Resume after this digest in the first partition scanned. */
  readonly afterDigest?: Uint8Array;
  /** Include tombstones (for migrations and backups); off by default. */
  readonly includeTombstones?: boolean;
}

export interface TruncateOptions {
  /** Only this set; the whole namespace when absent. */
  readonly set?: string;
  /** Remove records whose last update is before this time (ms since the epoch). */
  readonly beforeMs: number;
}

export interface EngineStats {
  readonly records: number;
  readonly tombstones: number;
  /** Bytes of record data held in memory. */
  readonly memoryBytes: number;
  /** Bytes on disk (0 for in-memory engines). */
  readonly diskBytes: number;
  /** Live records per set name. */
  readonly sets: ReadonlyMap<string, number>;
}

/**
 * What `get`, `put` and `remove` return: a promise, or — for an engine that has the answer at
 * once, as an in-memory one does — the answer itself. A direct answer lets the kernel finish a
 * request in the same turn instead of waiting a microtask per call; a fault is then thrown
 * rather than rejected. Either is correct; callers `await` both alike.
 */
export type EngineAnswer<T> = T | Promise<T>;

/**
 * Whether an answer is still to come — a promise of any kind (an engine may use its own thenable)
 * — rather than the value itself: the test a caller of `get`/`put`/`remove` (or of any step that
 * may answer at once) makes before chaining on it.
 */
export function isPromise<T>(answer: T | Promise<T>): answer is Promise<T> {
  return typeof (answer as { then?: unknown } | null | undefined)?.then === 'function';
}

/**
 * The storage engine contract. One engine instance serves one namespace.
 * Records are addressed by digest; every scan yields partitions in the order asked
 * (ascending by default) and, within a partition, digests in ascending byte order,
 * so that a scan can resume after the last digest it returned.
 *
 * Guarantees the kernel relies on (the storage-engine kit checks them):
 * - Concurrency: the kernel serializes writes per digest, but calls for different digests,
 *   scans and stats run concurrently. A scan running while writes happen must not fail, must
 *   not yield a record twice, and yields every record that existed for the whole scan; records
 *   written or removed during the scan may or may not appear (no snapshot is required).
 * - Each call is atomic for its record: a `get` never sees half a `put`.
 * - `close` may be called more than once; the second call does nothing. After `close` no other
 *   method is called (the node wraps the engine to make sure).
 * - `stats` is called on every metrics scrape and INFO command: keep it O(1) or O(sets), from
 *   counters the engine maintains, never a walk over the records.
 * - Faults (I/O, corruption) are thrown; expected outcomes are values (WriteOutcome).
 */
export interface StorageEngine {
  readonly capabilities: StorageCapabilities;
  /** The record (or tombstone) for a digest, or undefined. Expired records are the kernel's concern. */
  get(digest: Uint8Array): EngineAnswer<StoredRecord | undefined>;
  /**
   * Optional: what `get` answers less the key and payload (set, metadata, tombstone flag), for a
   * caller that only compares versions — a replica deciding whether a copy is newer than its
   * own, a migration fill. Offer it when reading the metadata alone is cheaper than the record
   * (no payload copied or unpacked); without it the node calls `get` instead. Same atomicity as
   * `get`.
   */
  getMeta?(digest: Uint8Array): EngineAnswer<StoredMeta | undefined>;
  /** Writes a record or tombstone if `expect` holds (checked atomically against the stored record or tombstone-as-absent). */
  put(record: StoredRecord, expect: WriteExpectation): EngineAnswer<WriteOutcome>;
  /** Removes a record or tombstone without leaving anything behind. */
  remove(digest: Uint8Array, expect: WriteExpectation): EngineAnswer<WriteOutcome>;
  scan(options: ScanOptions): AsyncIterable<StoredRecord>;
  /** Removes matching records; returns how many were removed. */
  truncate(options: TruncateOptions): Promise<number>;
  stats(): Promise<EngineStats>;
  /** Flushes and releases resources. A second call does nothing. */
  close(): Promise<void>;
  /** Optional: called once after every plugin is created, before the node serves. */
  start?(): void | Promise<void>;
  /** Optional, cheap (no I/O): how the engine is doing, for SHOW PLUGINS and the admin API. */
  health?(): PluginHealth;
}
