import {
  N_PARTITIONS, isExpired, keyFromDigest, makeKey, partitionOf,
  type Bins, type DbRecord, type RecordMeta, type UserKey,
} from '../../model/index.ts';
import type { RecordSource, SourceScanOptions } from './record-source.ts';
import { digestString } from '../../model/index.ts';

export type WriteHook = (namespace: string, digest: Uint8Array, set: string, oldBins: Bins | undefined, newBins: Bins | undefined) => void;

/**
 * A plain in-memory record store implementing RecordSource, with the write paths that call
 * the index upkeep hook. Tests and benchmarks use it as a stand-in for the kernel.
 */
export class MemoryRecordSource implements RecordSource {
  private readonly data = new Map<string, Array<Map<string, DbRecord>>>();
  private readonly hooks: WriteHook[] = [];
  private clock: () => number;

  constructor(clock: () => number = Date.now) {
    this.clock = clock;
  }

  now(): number {
    return this.clock();
  }

  setClock(clock: () => number): void {
    this.clock = clock;
  }

  onWrite(hook: WriteHook): void {
    this.hooks.push(hook);
  }

  private parts(ns: string): Array<Map<string, DbRecord>> {
    let p = this.data.get(ns);
    if (p === undefined) {
      p = Array.from({ length: N_PARTITIONS }, () => new Map<string, DbRecord>());
      this.data.set(ns, p);
    }
    return p;
  }

  private emit(ns: string, digest: Uint8Array, set: string, before: Bins | undefined, after: Bins | undefined): void {
    for (const h of this.hooks) h(ns, digest, set, before, after);
  }

  /** Replaces a record's bins (creating it); ttlSeconds 0 = never expire. */
  put(ns: string, set: string, key: UserKey, bins: Bins, ttlSeconds = 0, sendKey = true): DbRecord {
    const k = makeKey(ns, set, key);
    const bucket = this.parts(ns)[k.partition] as Map<string, DbRecord>;
    const d = digestString(k.digest);
    const old = this.live(bucket, d, ns);
    const now = this.clock();
    const meta: RecordMeta = {
      generation: (old?.meta.generation ?? 0) + 1,
      voidTime: ttlSeconds > 0 ? Math.floor(now / 1000) + ttlSeconds : 0,
      lastUpdateMs: now,
    };
    const clean: Bins = {};
    for (const [b, v] of Object.entries(bins)) if (v !== null) clean[b] = v;
    const rec: DbRecord = { key: sendKey ? k : keyFromDigest(ns, set, k.digest), meta, bins: clean };
    bucket.set(d, rec);
    this.emit(ns, k.digest, set, old?.bins, clean);
    return rec;
  }

  delete(ns: string, digest: Uint8Array): boolean {
    const bucket = this.parts(ns)[partitionOf(digest)] as Map<string, DbRecord>;
    const d = digestString(digest);
    const old = this.live(bucket, d, ns);
    if (old === undefined) return false;
    bucket.delete(d);
    this.emit(ns, digest, old.key.set, old.bins, undefined);
    return true;
  }

  /** Removes expired records (as the expiry sweep does), calling the hook for each. */
  sweep(): number {
    let n = 0;
    const now = this.clock();
    for (const [ns, parts] of this.data) {
      for (const bucket of parts) {
        for (const [d, rec] of bucket) {
          if (isExpired(rec.meta.voidTime, now)) {
            bucket.delete(d);
            this.emit(ns, rec.key.digest, rec.key.set, rec.bins, undefined);
            n++;
          }
        }
      }
    }
    return n;
  }

  /** Removes a set's (or the namespace's) records last updated before `beforeMs`. */
  truncate(ns: string, set?: string, beforeMs = Infinity): number {
    let n = 0;
    for (const bucket of this.parts(ns)) {
      for (const [d, rec] of bucket) {
        if ((set === undefined || rec.key.set === set) && rec.meta.lastUpdateMs < beforeMs) {
          bucket.delete(d);
          this.emit(ns, rec.key.digest, rec.key.set, rec.bins, undefined);
          n++;
        }
      }
    }
    return n;
  }

  private live(bucket: Map<string, DbRecord>, d: string, ns: string): DbRecord | undefined {
    const r = bucket.get(d);
    if (r === undefined) return undefined;
    if (isExpired(r.meta.voidTime, this.clock())) {
      // lazily expire, as a read of an expired record does
      bucket.delete(d);
      this.emit(ns, r.key.digest, r.key.set, r.bins, undefined);
      return undefined;
    }
    return r;
  }

  async get(namespace: string, digest: Uint8Array): Promise<DbRecord | undefined> {
    return this.getSync(namespace, digest);
  }

  getSync(namespace: string, digest: Uint8Array): DbRecord | undefined {
    const r = this.data.get(namespace)?.[partitionOf(digest)]?.get(digestString(digest));
    return r === undefined || isExpired(r.meta.voidTime, this.clock()) ? undefined : r;
  }

  async *scan(namespace: string, options: SourceScanOptions): AsyncIterable<DbRecord> {
    const parts = this.data.get(namespace);
    if (parts === undefined) return;
    const now = this.clock();
    for (const p of options.partitions) {
      const bucket = parts[p];
      if (bucket === undefined) continue;
      const batch: DbRecord[] = [];
      for (const r of bucket.values()) {
        if (options.set !== undefined && r.key.set !== options.set) continue;
        if (isExpired(r.meta.voidTime, now)) continue;
        batch.push(r);
      }
      yield* batch;
    }
  }

  /** Records in the namespace (every set: an upper bound for one set), in O(partitions). */
  approxCount(namespace: string): number {
    let n = 0;
    for (const bucket of this.data.get(namespace) ?? []) n += bucket.size;
    return n;
  }

  /** Every live record (for reference answers in tests). */
  all(namespace: string): DbRecord[] {
    const now = this.clock();
    const out: DbRecord[] = [];
    for (const bucket of this.data.get(namespace) ?? []) for (const r of bucket.values()) if (!isExpired(r.meta.voidTime, now)) out.push(r);
    return out;
  }
}
