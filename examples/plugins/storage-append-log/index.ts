/**
 * storage-append-log: a small durable storage engine, written as an out-of-tree plugin.
 *
 * Every namespace keeps its records in memory and appends each change, as one JSON line, to
 * `<dataDir>/records.log`; opening the namespace replays the log (and rewrites it compactly).
 * A write is acknowledged once its line is handed to the operating system (safe from a process
 * crash; `fsync: true` also survives a machine crash, at the cost of one fsync per write).
 *
 * It imports only `slipstream/plugin-api`, like every plugin.
 */
import { appendFileSync, closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  DbError, N_PARTITIONS, PLUGIN_API_VERSION, Type, digestString, partitionOf,
  type EngineStats, type PluginHealth, type ScanOptions, type Static, type StorageCapabilities, type StorageEngine,
  type StoragePlugin, type StoredRecord, type TruncateOptions, type WriteExpectation, type WriteOutcome,
} from 'slipstream/plugin-api';

/** The options, as JSON Schema: the node checks them (and fills the defaults) before `create`. */
export const appendLogOptions = Type.Object({
  dataDir: Type.String({ minLength: 1, description: 'folder of the log (relative: under the node data directory)', hint: 'set storageOptions.dataDir, e.g. "users"' }),
  fsync: Type.Optional(Type.Boolean({ default: false, description: 'fsync every write (survives a machine crash)' })),
}, { additionalProperties: false, title: 'storage-append-log' });

type Options = Static<typeof appendLogOptions>;

/** One line of the log. */
type Line =
  | { op: 'put'; d: string; s: string; g: number; v: number; u: number; k: string | null; b: string; t: boolean }
  | { op: 'del'; d: string };

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function toLine(r: StoredRecord): Line {
  return {
    op: 'put', d: hex(r.digest), s: r.set, g: r.meta.generation, v: r.meta.voidTime, u: r.meta.lastUpdateMs,
    k: r.key === undefined ? null : Buffer.from(r.key).toString('base64'), b: Buffer.from(r.payload).toString('base64'), t: r.tombstone,
  };
}

function fromLine(l: Extract<Line, { op: 'put' }>): StoredRecord {
  const digest = new Uint8Array(Buffer.from(l.d, 'hex'));
  return {
    digest, partition: partitionOf(digest), set: l.s, meta: { generation: l.g, voidTime: l.v, lastUpdateMs: l.u },
    key: l.k === null ? undefined : new Uint8Array(Buffer.from(l.k, 'base64')), payload: new Uint8Array(Buffer.from(l.b, 'base64')), tombstone: l.t,
  };
}

function checkExpect(old: StoredRecord | undefined, expect: WriteExpectation): WriteOutcome {
  const live = old !== undefined && !old.tombstone ? old : undefined;
  if (expect.kind === 'absent' && live !== undefined) return { ok: false, reason: 'RECORD_EXISTS' };
  if (expect.kind === 'generation') {
    if (live === undefined) return { ok: false, reason: 'NOT_FOUND' };
    if (live.meta.generation !== expect.equals) return { ok: false, reason: 'GENERATION' };
  }
  return { ok: true };
}

class AppendLogEngine implements StorageEngine {
  readonly capabilities: StorageCapabilities;
  /** One map per partition, digest (as a string) → record. */
  private readonly partitions: Map<string, StoredRecord>[] = Array.from({ length: N_PARTITIONS }, () => new Map());
  private readonly file: string;
  private readonly fsync: boolean;
  private fd: number;
  private closed = false;
  private records = 0;
  private tombstones = 0;
  private bytes = 0;
  private readonly sets = new Map<string, number>();

  constructor(options: Options, maxRecordBytes: number) {
    this.capabilities = { persistent: true, maxRecordBytes };
    this.fsync = options.fsync ?? false;
    mkdirSync(options.dataDir, { recursive: true });
    this.file = join(options.dataDir, 'records.log');
    if (existsSync(this.file)) this.replay(readFileSync(this.file, 'utf8'));
    // rewrite the log compactly: one line per record still held
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, this.partitions.flatMap((m) => [...m.values()].map((r) => `${JSON.stringify(toLine(r))}\n`)).join(''));
    renameSync(tmp, this.file);
    this.fd = openSync(this.file, 'a');
  }

  private replay(text: string): void {
    for (const raw of text.split('\n')) {
      if (raw === '') continue;
      let line: Line;
      try { line = JSON.parse(raw) as Line; } catch { break; } // a torn last line: the write was never acknowledged
      if (line.op === 'put') this.apply(fromLine(line));
      else this.drop(new Uint8Array(Buffer.from(line.d, 'hex')));
    }
  }

  private map(digest: Uint8Array): Map<string, StoredRecord> {
    return this.partitions[partitionOf(digest)] as Map<string, StoredRecord>;
  }

  private count(r: StoredRecord, sign: 1 | -1): void {
    this.bytes += sign * (r.payload.length + 64);
    if (r.tombstone) { this.tombstones += sign; return; }
    this.records += sign;
    const n = (this.sets.get(r.set) ?? 0) + sign;
    if (n === 0) this.sets.delete(r.set); else this.sets.set(r.set, n);
  }

  private apply(r: StoredRecord): void {
    const m = this.map(r.digest);
    const k = digestString(r.digest);
    const old = m.get(k);
    if (old !== undefined) this.count(old, -1);
    m.set(k, r);
    this.count(r, 1);
  }

  private drop(digest: Uint8Array): StoredRecord | undefined {
    const m = this.map(digest);
    const k = digestString(digest);
    const old = m.get(k);
    if (old === undefined) return undefined;
    m.delete(k);
    this.count(old, -1);
    return old;
  }

  private append(line: Line): void {
    if (this.closed) throw new DbError('SERVER_ERROR', 'storage-append-log: the engine is closed');
    appendFileSync(this.fd, `${JSON.stringify(line)}\n`);
    if (this.fsync) fsyncSync(this.fd);
  }

  async get(digest: Uint8Array): Promise<StoredRecord | undefined> {
    return this.map(digest).get(digestString(digest));
  }

  async put(record: StoredRecord, expect: WriteExpectation): Promise<WriteOutcome> {
    if (record.payload.length > this.capabilities.maxRecordBytes) {
      throw new DbError('RECORD_TOO_BIG', `record of ${record.payload.length} bytes is larger than ${this.capabilities.maxRecordBytes}`);
    }
    const outcome = checkExpect(this.map(record.digest).get(digestString(record.digest)), expect);
    if (!outcome.ok) return outcome;
    // copy: the caller may reuse its buffers
    const copy: StoredRecord = { ...record, digest: record.digest.slice(), payload: record.payload.slice(), key: record.key?.slice() };
    this.append(toLine(copy));
    this.apply(copy);
    return outcome;
  }

  async remove(digest: Uint8Array, expect: WriteExpectation): Promise<WriteOutcome> {
    const old = this.map(digest).get(digestString(digest));
    const outcome = checkExpect(old, expect);
    if (!outcome.ok) return outcome;
    if (old === undefined) return { ok: false, reason: 'NOT_FOUND' };
    this.append({ op: 'del', d: hex(digest) });
    this.drop(digest);
    return outcome;
  }

  async *scan(options: ScanOptions): AsyncIterable<StoredRecord> {
    const pids = options.partitions ?? Array.from({ length: N_PARTITIONS }, (_, i) => i);
    let after = options.afterDigest === undefined ? undefined : digestString(options.afterDigest);
    for (const pid of pids) {
      const m = this.partitions[pid] as Map<string, StoredRecord>;
      // a sorted copy of the keys: writes during the scan change the map, never this list
      for (const k of [...m.keys()].sort()) {
        if (after !== undefined && k <= after) continue;
        const r = m.get(k);
        if (r === undefined) continue; // removed meanwhile
        if (r.tombstone && options.includeTombstones !== true) continue;
        if (options.set !== undefined && r.set !== options.set) continue;
        yield r;
      }
      after = undefined;
    }
  }

  async truncate(options: TruncateOptions): Promise<number> {
    let removed = 0;
    for (const m of this.partitions) {
      for (const r of [...m.values()]) {
        if ((options.set !== undefined && r.set !== options.set) || r.meta.lastUpdateMs >= options.beforeMs) continue;
        this.append({ op: 'del', d: hex(r.digest) });
        this.drop(r.digest);
        if (!r.tombstone) removed++;
      }
    }
    return removed;
  }

  /** O(sets): counters kept on every change, never a walk over the records. */
  async stats(): Promise<EngineStats> {
    return { records: this.records, tombstones: this.tombstones, memoryBytes: this.bytes, diskBytes: this.closed ? 0 : statSync(this.file).size, sets: new Map(this.sets) };
  }

  health(): PluginHealth {
    return { ok: !this.closed, detail: this.closed ? 'closed' : `${this.records} records, log ${this.file}` };
  }

  async close(): Promise<void> {
    if (this.closed) return; // a second close does nothing
    this.closed = true;
    closeSync(this.fd);
  }
}

export function appendLogStorage(): StoragePlugin {
  return {
    kind: 'storage',
    name: 'storage-append-log',
    apiVersion: PLUGIN_API_VERSION,
    version: '1.0.0',
    description: 'Records in memory, every change appended to a log file replayed at start',
    optionsSchema: appendLogOptions,
    async create(_ctx, namespace, options) {
      const o = options as Options;
      const max = namespace.maxRecordBytes;
      return new AppendLogEngine(o, max);
    },
  };
}

export default appendLogStorage;
