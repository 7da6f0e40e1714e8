/** The kernel's types: record changes and their listeners, mutations, scans, operate results, options and counters. */
import type { Clock, Logger } from '../plugin-api/index.ts';
import type { Bins, BinValue, RecordKey, RecordMeta } from '../model/index.ts';
import type { Namespace } from '../storage/namespace.ts';
import type { RecordPredicate } from './policy.ts';
import type { PartitionRouter } from './routing.ts';

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
  /**
   * Whether onChange reads a change's `before` / `after` bins for records of `namespace`. A
   * listener that says no lets a replica apply a copy without reading the stored record's payload
   * (its metadata is enough to compare versions); absent means it may read them.
   */
  readsBins?(namespace: string): boolean;
  /** A promise it returns (saving the truncate marker) is awaited before records are removed. */
  onTruncate?(namespace: string, set: string | undefined, beforeMs: number): void | Promise<void>;
}

/** What a locked read-modify-write step decides. */
export type Mutation =
  | { readonly kind: 'none' }
  | { readonly kind: 'write'; readonly bins: Bins; readonly ttl?: number; readonly meta?: RecordMeta }
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
  /** The time (ms since the epoch, the node's clock) after which the client no longer waits: a page asked of another node waits no longer. */
  readonly deadline?: number;
}

/**
 * What a cluster's fabric counts, for statistics and metrics only (read when they are shown): the
 * objects the fabric and its remote calls keep their counters in.
 */
export interface FabricCounters {
  /** Fabric messages (Fabric.stats): sent, resent, acked, timedOut, undelivered, received, duplicates, refusedForeign, refusedStale. */
  readonly messages: Readonly<Record<string, number>>;
  /** Remote calls over the fabric (FabricCalls.stats): calls, answered, failed, timedOut, notDelivered, served, departed, batches, batched. */
  readonly calls: Readonly<Record<string, number>>;
  /** Heartbeats ignored because their node speaks another fabric protocol version. */
  refusedVersion(): number;
}

export interface OperateResult {
  readonly meta: RecordMeta | undefined;
  /** Results of the read-like operations by bin (a bin read twice gives a list of both results). */
  readonly bins: Bins;
  /**
   * What each operation returned, in operation order: (bin, value) pairs (a read of all bins
   * gives every bin; a write none). Absent when the answer came from another node.
   */
  readonly perOp?: ReadonlyArray<ReadonlyArray<readonly [string, BinValue]>>;
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
  /** Reads served by this node from its replica copy (the read policy allowed a replica). */
  replicaReads: number;
}
