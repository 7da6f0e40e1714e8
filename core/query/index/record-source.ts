import type { DbRecord, PartitionId } from '../../model/index.ts';

export interface SourceScanOptions {
  /** Only records of this set ('' is the null set); every set when absent. */
  readonly set?: string;
  /** Only these partitions, in this order. */
  readonly partitions: readonly PartitionId[];
  /** Only these bins are needed (a source may return more); all when absent. */
  readonly bins?: readonly string[];
  /** The query's deadline (the node's clock): a scan across a cluster waits no longer for another node's page. */
  readonly deadline?: number;
}

/**
 * What queries and index builds need from the kernel: read one live record by digest, and
 * scan partitions. Expired records must not be returned. Implemented by the transaction
 * layer (locally mastered partitions) and by an in-memory model in tests.
 */
export interface RecordSource {
  get(namespace: string, digest: Uint8Array): Promise<DbRecord | undefined>;
  scan(namespace: string, options: SourceScanOptions): AsyncIterable<DbRecord>;
  /**
   * The records this node stores itself (every partition it holds a copy of, on a cluster),
   * which is what its indexes cover; `scan` when absent.
   */
  scanHeld?(namespace: string, options: SourceScanOptions): AsyncIterable<DbRecord>;
  /** The current time, ms since the epoch (for TTL in expressions); Date.now() when absent. */
  now?(): number;
  /**
   * Whether the node's indexes cover only part of the namespace (other nodes master some of
   * its partitions): queries then scan the cluster instead of using a local index.
   */
  partial?(namespace: string): boolean;
  /** Approximate live records in a namespace (and set), for the planner; unknown when absent. */
  approxCount?(namespace: string, set?: string): number | undefined;
}
