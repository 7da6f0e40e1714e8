import type {
  EngineStats, ScanOptions, StorageEngine, StoredMeta, StoredRecord, TruncateOptions, WriteExpectation, WriteOutcome,
  StorageCapabilities,
} from 'slipstream/plugin-api';
import { N_PARTITIONS, partitionOf, digestString } from 'slipstream/plugin-api';
import { packRecord, packedInfo, packedGeneration, packedMeta, packedSet, packedTombstone, sameSetRecord, unpackRecord } from './record-string.ts';

const OK: WriteOutcome = { ok: true };

/**
 * The in-memory engine: one Map per partition from the digest (as a 20-char latin1 string)
 * to the packed record string.
 */
export class MemoryEngine implements StorageEngine {
  readonly capabilities: StorageCapabilities;
  private readonly partitions: Map<string, string>[] = [];
  private readonly setCounts = new Map<string, number>();
  private records = 0;
  private tombstones = 0;
  private bytes = 0;

  constructor(maxRecordBytes: number) {
    this.capabilities = { persistent: false, maxRecordBytes };
    for (let i = 0; i < N_PARTITIONS; i++) this.partitions.push(new Map());
  }

  /**
   * The digest last looked up and its map key. A write reads the record first (get, then put
   * with the same digest): the put reuses the key string, whose hash V8 keeps in it, instead of
   * making and hashing the same 20 characters again. The bytes are compared all the same, so a
   * caller that reuses one array for other digests gets the right key.
   */
  private lastDigest: Uint8Array | undefined;
  private lastKey = '';

  private mapFor(digest: Uint8Array): Map<string, string> {
    return this.partitions[partitionOf(digest)] as Map<string, string>;
  }

  /** The map key of a digest (its bytes as a latin1 string). */
  private keyOf(digest: Uint8Array): string {
    if (digest === this.lastDigest && sameDigest(digest, this.lastKey)) return this.lastKey;
    const k = digestString(digest);
    this.lastDigest = digest;
    this.lastKey = k;
    return k;
  }

  // get, put and remove answer directly (no promise): the kernel finishes a request in one turn
  get(digest: Uint8Array): StoredRecord | undefined {
    const k = this.keyOf(digest);
    const packed = this.mapFor(digest).get(k);
    return packed === undefined ? undefined : unpackRecord(k, packed, digest);
  }

  /** The metadata alone, read off the packed string (the payload is neither copied nor unpacked). */
  getMeta(digest: Uint8Array): StoredMeta | undefined {
    const packed = this.mapFor(digest).get(this.keyOf(digest));
    return packed === undefined ? undefined : packedMeta(packed);
  }

  put(record: StoredRecord, expect: WriteExpectation): WriteOutcome {
    const map = this.mapFor(record.digest);
    const k = this.keyOf(record.digest);
    const old = map.get(k);
    const outcome = check(old, expect);
    if (!outcome.ok) return outcome;
    const packed = packRecord(record);
    map.set(k, packed);
    if (old !== undefined && sameSetRecord(old, packed)) {
      // a record of a set replaced by one of the same set (most writes): only the bytes change
      this.bytes += packed.length - old.length;
      return OK;
    }
    if (old !== undefined) this.account(old, -1);
    this.account(packed, 1);
    return OK;
  }

  remove(digest: Uint8Array, expect: WriteExpectation): WriteOutcome {
    const map = this.mapFor(digest);
    const k = this.keyOf(digest);
    const old = map.get(k);
    const outcome = check(old, expect);
    if (!outcome.ok) return outcome;
    if (old === undefined) return { ok: false, reason: 'NOT_FOUND' };
    map.delete(k);
    this.account(old, -1);
    return OK;
  }

  async *scan(options: ScanOptions): AsyncIterable<StoredRecord> {
    const pids = options.partitions ?? Array.from({ length: N_PARTITIONS }, (_, i) => i);
    let after = options.afterDigest === undefined ? undefined : digestString(options.afterDigest);
    for (const pid of pids) {
      const map = this.partitions[pid];
      if (map === undefined || map.size === 0) { after = undefined; continue; }
      const keys = [...map.keys()].sort();
      for (const k of keys) {
        if (after !== undefined && k <= after) continue;
        const packed = map.get(k);
        if (packed === undefined) continue; // removed while we were yielding
        const rec = unpackRecord(k, packed);
        if (rec.tombstone && options.includeTombstones !== true) continue;
        if (options.set !== undefined && rec.set !== options.set) continue;
        yield rec;
      }
      after = undefined;
    }
  }

  async truncate(options: TruncateOptions): Promise<number> {
    let removed = 0;
    for (const map of this.partitions) {
      for (const [k, packed] of map) {
        const info = packedInfo(packed);
        if (options.set !== undefined && info.set !== options.set) continue;
        if (info.lastUpdateMs >= options.beforeMs) continue;
        map.delete(k);
        this.account(packed, -1);
        if (!info.tombstone) removed++;
      }
    }
    return removed;
  }

  async stats(): Promise<EngineStats> {
    return { records: this.records, tombstones: this.tombstones, memoryBytes: this.bytes, diskBytes: 0, sets: new Map(this.setCounts) };
  }

  async close(): Promise<void> {
    for (const map of this.partitions) map.clear();
  }

  private account(packed: string, sign: 1 | -1): void {
    this.bytes += sign * (packed.length + 20);
    if (packedTombstone(packed)) {
      this.tombstones += sign;
      return;
    }
    this.records += sign;
    const set = packedSet(packed);
    const n = (this.setCounts.get(set) ?? 0) + sign;
    if (n === 0) this.setCounts.delete(set);
    else this.setCounts.set(set, n);
  }
}

/** Whether the digest's bytes are the key string's characters. */
function sameDigest(digest: Uint8Array, key: string): boolean {
  if (digest.length !== key.length) return false;
  for (let i = 0; i < digest.length; i++) if (digest[i] !== key.charCodeAt(i)) return false;
  return true;
}

function check(old: string | undefined, expect: WriteExpectation): WriteOutcome {
  if (expect.kind === 'any') return OK;
  const live = old !== undefined && !packedTombstone(old);
  if (expect.kind === 'absent') return live ? { ok: false, reason: 'RECORD_EXISTS' } : OK;
  if (!live) return { ok: false, reason: 'NOT_FOUND' };
  return packedGeneration(old) === expect.equals ? OK : { ok: false, reason: 'GENERATION' };
}
