/**
 * A summary of the copies one node holds of a namespace's partitions: per partition the live
 * records, the tombstones and a SHA-256 over every copy in digest order (digest, generation,
 * last-update time, tombstone flag, contents). Two nodes hold the same copies of a partition
 * exactly when their summaries are equal — how operators and tests check replicas agree.
 */
import { createHash, type Hash } from 'node:crypto';
import type { Kernel } from './kernel.ts';

export interface PartitionCopySummary {
  readonly partition: number;
  readonly records: number;
  readonly tombstones: number;
  /** Hex SHA-256 over the copies in digest order. */
  readonly checksum: string;
}

export interface CopyVersion {
  readonly partition: number;
  readonly digest: string;
  readonly generation: number;
  readonly lastUpdateMs: number;
  readonly tombstone: boolean;
  /** Hex SHA-256 of the stored contents. */
  readonly content: string;
}

/**
 * The partitions of `namespace` of which this node holds any record or tombstone, by partition
 * id; and each copy of the `detail` partitions (to find which record differs).
 */
export async function summarizeCopies(kernel: Kernel, namespace: string, detail: readonly number[] = []): Promise<{ partitions: PartitionCopySummary[]; copies: CopyVersion[] }> {
  const out: PartitionCopySummary[] = [];
  const copies: CopyVersion[] = [];
  const wanted = new Set(detail);
  let current: { partition: number; records: number; tombstones: number; hash: Hash } | undefined;
  const close = (): void => {
    if (current !== undefined) out.push({ partition: current.partition, records: current.records, tombstones: current.tombstones, checksum: current.hash.digest('hex') });
  };
  const head = Buffer.alloc(13);
  // the engine yields partitions in ascending order and digests ascending within each
  for await (const r of kernel.namespace(namespace).engine.scan({ includeTombstones: true })) {
    if (current?.partition !== r.partition) {
      close();
      current = { partition: r.partition, records: 0, tombstones: 0, hash: createHash('sha256') };
    }
    if (r.tombstone) current.tombstones++;
    else current.records++;
    head.writeUInt32BE(r.meta.generation, 0);
    head.writeDoubleBE(r.meta.lastUpdateMs, 4);
    head.writeUInt8(r.tombstone ? 1 : 0, 12);
    current.hash.update(r.digest).update(head).update(r.payload);
    if (wanted.has(r.partition)) {
      copies.push({
        partition: r.partition, digest: Buffer.from(r.digest).toString('hex'), generation: r.meta.generation, lastUpdateMs: r.meta.lastUpdateMs,
        tombstone: r.tombstone, content: createHash('sha256').update(r.payload).digest('hex'),
      });
    }
  }
  close();
  return { partitions: out, copies };
}
