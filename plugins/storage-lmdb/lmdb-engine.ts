import { open, type Database, type RootDatabase } from 'lmdb';
import type {
  EngineStats, Logger, PluginContext, ScanOptions, StorageCapabilities, StorageEngine, StoredMeta, StoredRecord, TimerHandle,
  TruncateOptions, WriteExpectation, WriteOutcome,
} from 'slipstream/plugin-api';
import { DbError, N_PARTITIONS } from 'slipstream/plugin-api';
import type { ResolvedOptions } from './options.ts';
import {
  decodeMeta, decodeRecord, encodeValue, isTombstone, KEY_BYTES, lastUpdateMs, partitionStart, recordKey, setIs, valueInfo, type ValueInfo,
} from './record-layout.ts';
import { acquireDirLock, type DirLock } from './dir-lock.ts';

const OK: WriteOutcome = { ok: true };
const PLUGIN = 'storage-lmdb';
/** Records read per synchronous step of a scan; no read transaction is held across yields. */
const SCAN_CHUNK = 512;
const STATS_KEY = 'stats';
const STATS_FORMAT = 1;
/** Milliseconds between recovery progress reports. */
const PROGRESS_MS = 1000;

/** Per-set counters, kept in memory, saved on a clean close and recounted after a crash. */
export interface SetCounters {
  records: number;
  tombstones: number;
  /** Key and value bytes stored for the set's records and tombstones. */
  bytes: number;
}

interface SavedStats {
  readonly format: number;
  readonly sets: Readonly<Record<string, SetCounters>>;
}

/** lmdb-js has `sync(callback)` on the root database (mdb_env_sync) but does not declare it. */
interface SyncableRoot {
  sync(callback: (err?: unknown) => void): void;
}

type WriteResult =
  | { readonly kind: 'done'; readonly outcome: WriteOutcome }
  | { readonly kind: 'full'; readonly needed: number };

/** How the engine came up; the node reports it while recovering. */
export interface OpenReport {
  /** True when the last close was clean and the saved counters were used. */
  readonly cleanShutdown: boolean;
  readonly records: number;
  readonly tombstones: number;
  readonly ms: number;
}

/**
 * The LMDB engine: one LMDB environment per namespace (in `dataDir`), one sub-database of
 * records keyed by partition ‖ digest. Conditional writes run inside LMDB write transactions,
 * which lmdb-js batches (all writes of one event turn commit together).
 */
export class LmdbEngine implements StorageEngine {
  readonly capabilities: StorageCapabilities;
  private readonly sets = new Map<string, SetCounters>();
  private totalBytes = 0;
  private closed = false;
  private dirty = false;
  private flushTimer: TimerHandle | undefined;
  private readonly pending = new Set<Promise<unknown>>();
  openReport: OpenReport = { cleanShutdown: false, records: 0, tombstones: 0, ms: 0 };

  private readonly ctx: PluginContext;
  private readonly opts: ResolvedOptions;
  private readonly root: RootDatabase;
  private readonly db: Database<Buffer, Buffer>;
  private readonly meta: Database<SavedStats, string>;
  private readonly lock: DirLock;
  private readonly log: Logger;

  private constructor(ctx: PluginContext, opts: ResolvedOptions, root: RootDatabase, db: Database<Buffer, Buffer>,
    meta: Database<SavedStats, string>, lock: DirLock, log: Logger) {
    this.ctx = ctx;
    this.opts = opts;
    this.root = root;
    this.db = db;
    this.meta = meta;
    this.lock = lock;
    this.log = log;
    this.capabilities = { persistent: true, maxRecordBytes: opts.maxRecordBytes };
  }

  static async open(ctx: PluginContext, namespace: string, opts: ResolvedOptions): Promise<LmdbEngine> {
    const lock = acquireDirLock(opts.dataDir, namespace);
    let root: RootDatabase;
    try {
      root = open({
        path: opts.dataDir,
        maxDbs: 4,
        mapSize: opts.mapSize,
        // sync: lmdb-js flushes each commit right after it (overlapping sync) and we wait for it.
        // async: no flush per commit; a timer flushes every flushIntervalMs.
        noSync: opts.commit === 'async',
      });
    } catch (err) {
      lock.release();
      throw new DbError('PARAMETER', `storage-lmdb cannot open the data files in ${opts.dataDir} for namespace ${namespace}: ${(err as Error).message}`,
        { hint: 'Check that storageOptions.dataDir is a writable directory holding only this namespace\'s LMDB files', plugin: PLUGIN, cause: err });
    }
    const db = root.openDB<Buffer, Buffer>({ name: 'records', encoding: 'binary', keyEncoding: 'binary' });
    const meta = root.openDB<SavedStats, string>({ name: 'meta', encoding: 'json' });
    const engine = new LmdbEngine(ctx, opts, root, db, meta, lock, ctx.logger.child({ namespace }));
    try {
      await engine.loadCounters();
    } catch (err) {
      await root.close();
      lock.release();
      throw engine.fault('open', err);
    }
    engine.scheduleFlush();
    return engine;
  }

  /** Per-set counters: records, tombstones and bytes (a copy). */
  setStats(): ReadonlyMap<string, SetCounters> {
    const out = new Map<string, SetCounters>();
    for (const [name, c] of this.sets) out.set(name, { ...c });
    return out;
  }

  async get(digest: Uint8Array): Promise<StoredRecord | undefined> {
    this.checkOpen('get');
    const key = recordKey(digest);
    let value: Buffer | undefined;
    try {
      value = this.db.getBinary(key);
    } catch (err) {
      throw this.fault('get', err);
    }
    return value === undefined ? undefined : decodeRecord(key, value);
  }

  /** The metadata alone, read off the value in LMDB's own buffer: the record is not copied out. */
  async getMeta(digest: Uint8Array): Promise<StoredMeta | undefined> {
    this.checkOpen('getMeta');
    const key = recordKey(digest);
    try {
      const value = this.db.getBinaryFast(key);
      return value === undefined ? undefined : decodeMeta(value);
    } catch (err) {
      throw this.fault('getMeta', err);
    }
  }

  async put(record: StoredRecord, expect: WriteExpectation): Promise<WriteOutcome> {
    this.checkOpen('put');
    checkDigest(record.digest);
    if (record.payload.length > this.opts.maxRecordBytes) {
      throw new DbError('RECORD_TOO_BIG', `record of ${record.payload.length} bytes is larger than the limit of ${this.opts.maxRecordBytes} bytes`,
        { hint: 'Store less in one record, or raise maxRecordBytes for the namespace', plugin: PLUGIN });
    }
    const key = recordKey(record.digest);
    const value = encodeValue(record);
    const info = valueInfo(value);
    const result = await this.write('put', (): WriteResult => {
      const oldBuf = this.db.getBinary(key);
      const old = oldBuf === undefined ? undefined : valueInfo(oldBuf);
      const outcome = check(old, expect);
      if (!outcome.ok) return { kind: 'done', outcome };
      const growth = info.bytes - (old?.bytes ?? 0);
      if (growth > 0 && this.totalBytes + growth > this.opts.maxDataBytes) return { kind: 'full', needed: growth };
      this.db.putSync(key, value);
      if (old !== undefined) this.account(old, -1);
      this.account(info, 1);
      return { kind: 'done', outcome: OK };
    });
    if (result.kind === 'full') {
      throw new DbError('OUT_OF_SPACE', `namespace data would exceed its limit of ${this.opts.maxDataBytes} bytes (${this.totalBytes} stored, ${result.needed} more needed)`,
        { hint: 'Delete or expire records, or raise storageOptions.maxDataBytes', plugin: PLUGIN });
    }
    return result.outcome;
  }

  async remove(digest: Uint8Array, expect: WriteExpectation): Promise<WriteOutcome> {
    this.checkOpen('remove');
    checkDigest(digest);
    const key = recordKey(digest);
    const result = await this.write('remove', (): WriteResult => {
      const oldBuf = this.db.getBinary(key);
      const old = oldBuf === undefined ? undefined : valueInfo(oldBuf);
      const outcome = check(old, expect);
      if (!outcome.ok) return { kind: 'done', outcome };
      if (old === undefined) return { kind: 'done', outcome: { ok: false, reason: 'NOT_FOUND' } };
      this.db.removeSync(key);
      this.account(old, -1);
      return { kind: 'done', outcome: OK };
    });
    return result.kind === 'done' ? result.outcome : OK; // 'full' cannot happen on remove
  }

  async *scan(options: ScanOptions): AsyncIterable<StoredRecord> {
    this.checkOpen('scan');
    const withTombstones = options.includeTombstones === true;
    const ranges: { start: Buffer; end: Buffer }[] = [];
    if (options.partitions === undefined) {
      ranges.push({ start: partitionStart(0), end: partitionStart(N_PARTITIONS) });
    } else {
      for (const pid of options.partitions) {
        if (!Number.isInteger(pid) || pid < 0 || pid >= N_PARTITIONS) {
          throw new DbError('PARAMETER', `partition id ${pid} is out of range 0..${N_PARTITIONS - 1}`, { plugin: PLUGIN });
        }
        ranges.push({ start: partitionStart(pid), end: partitionStart(pid + 1) });
      }
    }
    const setFilter = options.set === undefined ? undefined : Buffer.from(options.set, 'utf8');
    let first = true;
    for (const range of ranges) {
      let start = range.start;
      let exclusive = false;
      if (first && options.afterDigest !== undefined) {
        start = Buffer.concat([range.start, Buffer.from(options.afterDigest)]);
        exclusive = true;
      }
      first = false;
      for (;;) {
        if (this.closed) return;
        const chunk = this.readChunk(start, exclusive, range.end);
        for (const { key, value } of chunk) {
          if (!withTombstones && isTombstone(value)) continue;
          if (setFilter !== undefined && !setIs(value, setFilter)) continue;
          yield decodeRecord(key, value);
        }
        if (chunk.length < SCAN_CHUNK) break;
        start = (chunk[chunk.length - 1] as { key: Buffer }).key;
        exclusive = true;
      }
    }
  }

  async truncate(options: TruncateOptions): Promise<number> {
    this.checkOpen('truncate');
    const setFilter = options.set === undefined ? undefined : Buffer.from(options.set, 'utf8');
    let removed = 0;
    let start = partitionStart(0);
    let exclusive = false;
    const end = partitionStart(N_PARTITIONS);
    for (;;) {
      const chunk = this.readChunk(start, exclusive, end);
      const doomed = chunk.filter(({ value }) =>
        (setFilter === undefined || setIs(value, setFilter)) && lastUpdateMs(value) < options.beforeMs).map(({ key }) => key);
      if (doomed.length > 0) {
        const r = await this.write('truncate', (): number => {
          let n = 0;
          for (const key of doomed) {
            const cur = this.db.getBinary(key);
            if (cur === undefined) continue;
            const info = valueInfo(cur);
            if ((options.set !== undefined && info.set !== options.set) || info.lastUpdateMs >= options.beforeMs) continue;
            this.db.removeSync(key);
            this.account(info, -1);
            if (!info.tombstone) n++;
          }
          return n;
        });
        removed += r;
      }
      if (chunk.length < SCAN_CHUNK) break;
      start = (chunk[chunk.length - 1] as { key: Buffer }).key;
      exclusive = true;
    }
    return removed;
  }

  async stats(): Promise<EngineStats> {
    let records = 0;
    let tombstones = 0;
    const sets = new Map<string, number>();
    for (const [name, c] of this.sets) {
      records += c.records;
      tombstones += c.tombstones;
      if (c.records > 0) sets.set(name, c.records);
    }
    // Data lives in the memory map, whose pages belong to the OS page cache: nothing is held
    // in the process heap per record, so memoryBytes is 0 and diskBytes counts stored bytes.
    return { records, tombstones, memoryBytes: 0, diskBytes: this.totalBytes, sets };
  }

  /** Waits until every acknowledged write is on disk (in both commit modes). */
  async flush(): Promise<void> {
    await Promise.allSettled([...this.pending]);
    if (this.opts.commit === 'sync') {
      await this.db.flushed;
      return;
    }
    this.dirty = false;
    await new Promise<void>((resolve, reject) => {
      (this.root as unknown as SyncableRoot).sync((err?: unknown) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve()));
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (this.flushTimer !== undefined) this.ctx.clock.clearTimeout(this.flushTimer);
    await Promise.allSettled([...this.pending]);
    this.closed = true;
    try {
      const sets: Record<string, SetCounters> = {};
      for (const [name, c] of this.sets) sets[name] = c;
      await this.meta.put(STATS_KEY, { format: STATS_FORMAT, sets });
      await this.flush();
      await this.root.close();
    } finally {
      this.lock.release();
    }
  }

  // --- internals -------------------------------------------------------------------------

  private async write<T>(op: string, body: () => T): Promise<T> {
    let failure: unknown;
    const run = this.db.transaction(() => {
      try {
        return body();
      } catch (err) {
        failure = err;
        return undefined;
      }
    });
    this.pending.add(run);
    let result: T | undefined;
    try {
      result = await run;
      if (failure === undefined && this.opts.commit === 'sync') await this.db.flushed;
    } catch (err) {
      // The commit failed: counters were moved inside the transaction, so recount at next open.
      this.log.error({ err: (err as Error).message, op }, 'storage-lmdb commit failed');
      throw this.fault(op, err);
    } finally {
      this.pending.delete(run);
    }
    if (failure !== undefined || result === undefined) throw this.fault(op, failure);
    this.dirty = true;
    return result;
  }

  private readChunk(start: Buffer, exclusiveStart: boolean, end: Buffer): { key: Buffer; value: Buffer }[] {
    const out: { key: Buffer; value: Buffer }[] = [];
    try {
      for (const { key, value } of this.db.getRange({ start, end, exclusiveStart, limit: SCAN_CHUNK })) {
        out.push({ key, value });
      }
    } catch (err) {
      throw this.fault('scan', err);
    }
    return out;
  }

  private account(info: ValueInfo, sign: 1 | -1): void {
    let c = this.sets.get(info.set);
    if (c === undefined) {
      c = { records: 0, tombstones: 0, bytes: 0 };
      this.sets.set(info.set, c);
    }
    if (info.tombstone) c.tombstones += sign;
    else c.records += sign;
    c.bytes += sign * info.bytes;
    this.totalBytes += sign * info.bytes;
    if (c.records === 0 && c.tombstones === 0) this.sets.delete(info.set);
  }

  /** Loads the counters saved by a clean close, or recounts every record after a crash. */
  private async loadCounters(): Promise<void> {
    const t0 = Date.now();
    const saved = this.meta.get(STATS_KEY);
    const clean = saved !== undefined && saved.format === STATS_FORMAT;
    if (clean) {
      for (const [name, c] of Object.entries(saved.sets)) {
        this.sets.set(name, { ...c });
        this.totalBytes += c.bytes;
      }
      // From now on the saved counters go stale; a crash must lead to a recount.
      await this.meta.remove(STATS_KEY);
      await this.flush();
    } else {
      // After a crash: read every record's header to rebuild the counters, reporting progress.
      const total = (this.db.getStats() as { entryCount?: number }).entryCount ?? 0;
      if (total === 0) {
        // A new (or empty) store: nothing to recover, nothing to report as a crash.
        this.openReport = { cleanShutdown: true, records: 0, tombstones: 0, ms: Date.now() - t0 };
        this.log.info(this.openReport, 'storage-lmdb opened an empty store');
        return;
      }
      this.log.info({ total }, 'storage-lmdb recovering after an unclean shutdown: recounting records');
      let start = partitionStart(0);
      let exclusive = false;
      const end = partitionStart(N_PARTITIONS);
      let done = 0;
      let lastReport = Date.now();
      for (;;) {
        const chunk = this.readChunk(start, exclusive, end);
        for (const { value } of chunk) this.account(valueInfo(value), 1);
        done += chunk.length;
        if (Date.now() - lastReport >= PROGRESS_MS) {
          lastReport = Date.now();
          const secs = (lastReport - t0) / 1000;
          this.log.info({ done, total, pct: total === 0 ? 100 : Math.round((done * 1000) / total) / 10, recordsPerSec: Math.round(done / secs) }, 'storage-lmdb recovery progress');
          await new Promise((r) => setImmediate(r)); // let the log line out
        }
        if (chunk.length < SCAN_CHUNK) break;
        start = (chunk[chunk.length - 1] as { key: Buffer }).key;
        exclusive = true;
      }
    }
    let records = 0;
    let tombstones = 0;
    for (const c of this.sets.values()) {
      records += c.records;
      tombstones += c.tombstones;
    }
    const ms = Date.now() - t0;
    this.openReport = { cleanShutdown: clean, records, tombstones, ms };
    this.log.info({ ...this.openReport, recordsPerSec: ms === 0 ? undefined : Math.round(((records + tombstones) * 1000) / ms) },
      clean ? 'storage-lmdb opened after a clean shutdown' : 'storage-lmdb recovered: records recounted');
  }

  private scheduleFlush(): void {
    if (this.opts.commit !== 'async' || this.closed) return;
    this.flushTimer = this.ctx.clock.setTimeout(() => {
      if (this.closed) return;
      const next = (): void => this.scheduleFlush();
      if (!this.dirty) { next(); return; }
      this.flush().then(next, (err: unknown) => {
        this.log.error({ err: (err as Error).message }, 'storage-lmdb background flush failed');
        next();
      });
    }, this.opts.flushIntervalMs);
  }

  private checkOpen(op: string): void {
    if (this.closed) {
      throw new DbError('SERVER_ERROR', `storage-lmdb ${op} on a closed engine (${this.opts.dataDir})`, { plugin: PLUGIN });
    }
  }

  private fault(op: string, err: unknown): DbError {
    if (err instanceof DbError) return err;
    const message = err instanceof Error ? err.message : String(err);
    return new DbError('SERVER_ERROR', `storage-lmdb ${op} failed in ${this.opts.dataDir}: ${message}`, { plugin: PLUGIN, cause: err, inDoubt: op !== 'get' && op !== 'scan' });
  }
}

function check(old: ValueInfo | undefined, expect: WriteExpectation): WriteOutcome {
  if (expect.kind === 'any') return OK;
  const live = old !== undefined && !old.tombstone;
  if (expect.kind === 'absent') return live ? { ok: false, reason: 'RECORD_EXISTS' } : OK;
  if (!live) return { ok: false, reason: 'NOT_FOUND' };
  return old.generation === expect.equals ? OK : { ok: false, reason: 'GENERATION' };
}

function checkDigest(digest: Uint8Array): void {
  if (digest.length !== 20) {
    throw new DbError('PARAMETER', `a digest has 20 bytes, got ${digest.length}`, { plugin: PLUGIN });
  }
}

export { KEY_BYTES };
