/**
 * Eviction and stop-writes for one namespace (Aerospike's nsup eviction, simplified).
 *
 * The namespace has a size (`sizeBytes`): the 100 % against which use is measured — disk
 * bytes for a persistent engine, memory bytes for an in-memory one. Above `evictUsedPct` the
 * records nearest to expiry are evicted first (records that never expire are never evicted)
 * until use is back under the mark; at or above `stopWritesUsedPct` writes fail with
 * OUT_OF_SPACE (deletes, durable deletes and reads go on) until space is freed.
 */
import type { Clock, Logger, StorageEngine, StoredRecord, TimerHandle, WriteExpectation, WriteOutcome, EngineStats } from '../plugin-api/index.ts';
import { DbError } from '../errors/index.ts';
import { Type, parseWithSchema, type TSchema } from '../schema/index.ts';

export interface EvictionConfig {
  /** The namespace's size in bytes; 0 turns eviction and stop-writes off. */
  readonly sizeBytes: number;
  /** Evict above this percentage of sizeBytes (Aerospike evict-used-pct); 0 = never evict. */
  readonly evictUsedPct: number;
  /** Refuse writes at or above this percentage (Aerospike stop-writes-used-pct, default 70). */
  readonly stopWritesUsedPct: number;
  /** Evict this many tenths of a percent of sizeBytes below the mark, so eviction does not run on every check (default 5 = 0.5 %). */
  readonly evictTenthsPct: number;
  /** Milliseconds between background checks (default 1000). */
  readonly checkPeriodMs: number;
}

export const EVICTION_DEFAULTS: EvictionConfig = {
  sizeBytes: 0,
  evictUsedPct: 60,
  stopWritesUsedPct: 70,
  evictTenthsPct: 5,
  checkPeriodMs: 1000,
};

const pct = (description: string, min: number, def: number): TSchema => Type.Integer({ minimum: min, maximum: 100, default: def, description, hint: 'percentages are whole numbers' });

/** The `eviction` section of a namespace. */
export const evictionSchema = Type.Object({
  sizeBytes: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, default: 0, description: 'the namespace size in bytes; 0: no eviction or stop-writes', hint: 'give the namespace size in bytes, or 0 for no limit' })),
  evictUsedPct: Type.Optional(pct('evict above this percentage of sizeBytes; 0: never evict', 0, 60)),
  stopWritesUsedPct: Type.Optional(pct('refuse writes at or above this percentage of sizeBytes', 1, 70)),
  evictTenthsPct: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000, default: 5, description: 'evict this many tenths of a percent below the mark' })),
  checkPeriodMs: Type.Optional(Type.Integer({ minimum: 10, maximum: 3_600_000, default: 1000, description: 'milliseconds between background checks' })),
}, { additionalProperties: false, title: 'eviction' });

/** Validates a namespace's `eviction` section (JSON) into an EvictionConfig. */
export function parseEvictionConfig(raw: unknown, path = 'eviction'): EvictionConfig {
  if (raw === undefined) return EVICTION_DEFAULTS;
  const cfg = parseWithSchema(evictionSchema, raw, `config ${path}`) as EvictionConfig;
  if (cfg.evictUsedPct !== 0 && cfg.evictUsedPct >= cfg.stopWritesUsedPct) {
    throw new DbError('PARAMETER', `config ${path}: evictUsedPct (${cfg.evictUsedPct}) must be below stopWritesUsedPct (${cfg.stopWritesUsedPct})`,
      { hint: 'evict before writes stop, e.g. evictUsedPct 60 and stopWritesUsedPct 70' });
  }
  return cfg;
}

/**
 * Removes records (and tombstones) on behalf of eviction and the tomb raider. A node passes
 * one that takes the record lock and tells change listeners (secondary indexes).
 */
export interface RecordRemover {
  /** Removes the stored record or tombstone if `still` holds for it at that moment; true when removed. */
  removeIf(digest: Uint8Array, still: (current: StoredRecord) => boolean): Promise<boolean>;
}

/**
 * A remover that talks to the engine directly and tells no one. A live record's removal is
 * conditional on its generation (atomic in the engine); a tombstone's is not (the contract
 * has no expectation for tombstones), so a write racing it could be lost: for tools and
 * tests, and for nodes only behind a record lock.
 */
export function engineRemover(engine: StorageEngine): RecordRemover {
  return {
    async removeIf(digest, still) {
      return (await removeStoredIf(engine, digest, still)) !== undefined;
    },
  };
}

/**
 * Removes the stored record or tombstone if `still` holds for it (a live record only at the
 * generation read); returns what was removed, undefined when nothing was.
 */
export async function removeStoredIf(engine: StorageEngine, digest: Uint8Array, still: (current: StoredRecord) => boolean): Promise<StoredRecord | undefined> {
  const cur = await engine.get(digest);
  if (cur === undefined || !still(cur)) return undefined;
  const expect: WriteExpectation = cur.tombstone ? { kind: 'any' } : { kind: 'generation', equals: cur.meta.generation };
  return (await engine.remove(digest, expect)).ok ? cur : undefined;
}

export interface EvictionReport {
  readonly usedBytes: number;
  readonly usedPct: number;
  readonly stopWrites: boolean;
  readonly evicted: number;
  /** The void time (s) up to which records were evicted in this round; 0 when none were. */
  readonly evictedThroughVoidTime: number;
}

export interface EvictionStats {
  readonly usedBytes: number;
  readonly usedPct: number;
  readonly stopWrites: boolean;
  /** Records evicted since start. */
  readonly evicted: number;
  readonly config: EvictionConfig;
}

/** Bytes a record takes, as near as the evictor can tell without the engine's own layout. */
function approxBytes(rec: StoredRecord): number {
  return rec.payload.length + rec.set.length + (rec.key?.length ?? 0) + 40;
}

export class Evictor {
  readonly namespace: string;
  private cfg: EvictionConfig;
  private readonly engine: StorageEngine;
  private readonly remover: RecordRemover;
  private readonly clock: Clock;
  private readonly log: Logger;
  private usedBytes = 0;
  private stopped = false;
  private stopWritesOn = false;
  private evictedTotal = 0;
  private timer: TimerHandle | undefined;
  private running: Promise<EvictionReport> | undefined;
  private writesSinceCheck = 0;
  private bytesSinceCheck = 0;

  constructor(options: { namespace: string; engine: StorageEngine; config: EvictionConfig; remover: RecordRemover; clock: Clock; logger: Logger }) {
    this.namespace = options.namespace;
    this.engine = options.engine;
    this.cfg = options.config;
    this.remover = options.remover;
    this.clock = options.clock;
    this.log = options.logger;
  }

  get config(): EvictionConfig {
    return this.cfg;
  }

  /** Takes new thresholds while running (live configuration); the size and the check period stay. */
  reconfigure(config: EvictionConfig): void {
    if (config.sizeBytes !== this.cfg.sizeBytes || config.checkPeriodMs !== this.cfg.checkPeriodMs) {
      throw new DbError('PARAMETER', `namespace '${this.namespace}': eviction sizeBytes and checkPeriodMs cannot change while the node runs`, { hint: 'change them in the config file and restart' });
    }
    this.cfg = config;
  }

  get enabled(): boolean {
    return this.config.sizeBytes > 0;
  }

  get stopWrites(): boolean {
    return this.stopWritesOn;
  }

  stats(): EvictionStats {
    return { usedBytes: this.usedBytes, usedPct: this.pct(this.usedBytes), stopWrites: this.stopWritesOn, evicted: this.evictedTotal, config: this.config };
  }

  /** Starts the periodic check (after a first one). */
  async start(): Promise<EvictionReport> {
    const first = await this.check();
    this.schedule();
    return first;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
  }

  /** Measures use, evicts when above the mark, and sets or clears stop-writes. One at a time. */
  check(): Promise<EvictionReport> {
    this.running ??= this.runCheck().finally(() => { this.running = undefined; });
    return this.running;
  }

  /**
   * The engine as writers should see it: puts of live records fail with OUT_OF_SPACE while
   * stop-writes is on; tombstones, removals, reads and scans pass. Use is re-measured every
   * few writes so that stop-writes engages between background checks.
   */
  guard(inner: StorageEngine): StorageEngine {
    const self = this;
    return {
      capabilities: inner.capabilities,
      get: (d) => inner.get(d),
      ...(inner.getMeta === undefined ? {} : { getMeta: inner.getMeta.bind(inner) }),
      async put(record: StoredRecord, expect: WriteExpectation): Promise<WriteOutcome> {
        if (self.stopWritesOn && !record.tombstone) throw self.outOfSpace();
        const out = await inner.put(record, expect);
        if (self.enabled) {
          // Re-measure every 32 writes, or sooner when the bytes written since may reach the limit.
          self.bytesSinceCheck += approxBytes(record);
          const stopAt = (self.config.sizeBytes * self.config.stopWritesUsedPct) / 100;
          if (++self.writesSinceCheck >= 32 || self.usedBytes + self.bytesSinceCheck >= stopAt) await self.measure();
        }
        return out;
      },
      remove: (d, e) => inner.remove(d, e),
      scan: (o) => inner.scan(o),
      truncate: async (o) => {
        const n = await inner.truncate(o);
        if (self.enabled) await self.measure();
        return n;
      },
      stats: () => inner.stats(),
      close: () => inner.close(),
    };
  }

  private outOfSpace(): DbError {
    const size = this.config.sizeBytes;
    return new DbError('OUT_OF_SPACE',
      `namespace ${this.namespace} is at ${this.pct(this.usedBytes).toFixed(1)}% of its ${formatBytes(size)} (stop-writes at ${this.config.stopWritesUsedPct}%): writes are refused, reads go on`,
      { hint: 'delete records, let them expire, lower TTLs so eviction can free space, or raise the namespace size' });
  }

  private pct(bytes: number): number {
    return this.config.sizeBytes === 0 ? 0 : (bytes * 100) / this.config.sizeBytes;
  }

  private static used(st: EngineStats, persistent: boolean): number {
    return persistent ? st.diskBytes : st.memoryBytes;
  }

  /** Re-reads use and updates stop-writes, without evicting. */
  private async measure(): Promise<void> {
    this.writesSinceCheck = 0;
    this.bytesSinceCheck = 0;
    this.usedBytes = Evictor.used(await this.engine.stats(), this.engine.capabilities.persistent);
    const on = this.pct(this.usedBytes) >= this.config.stopWritesUsedPct;
    if (on !== this.stopWritesOn) {
      this.stopWritesOn = on;
      if (on) this.log.warn({ namespace: this.namespace, usedBytes: this.usedBytes, usedPct: this.pct(this.usedBytes) }, 'stop-writes: namespace is full, refusing writes');
      else this.log.info({ namespace: this.namespace, usedBytes: this.usedBytes }, 'stop-writes cleared: namespace accepts writes again');
    }
  }

  private async runCheck(): Promise<EvictionReport> {
    if (!this.enabled) return { usedBytes: 0, usedPct: 0, stopWrites: false, evicted: 0, evictedThroughVoidTime: 0 };
    await this.measure();
    let evicted = 0;
    let through = 0;
    const mark = (this.config.sizeBytes * this.config.evictUsedPct) / 100;
    if (this.config.evictUsedPct > 0 && this.usedBytes > mark) {
      const target = this.usedBytes - mark + (this.config.sizeBytes * this.config.evictTenthsPct) / 1000;
      ({ evicted, through } = await this.evict(target));
      this.evictedTotal += evicted;
      await this.measure();
      this.log.info({ namespace: this.namespace, evicted, throughVoidTime: through, usedPct: this.pct(this.usedBytes) }, 'evicted records nearest to expiry');
    }
    return { usedBytes: this.usedBytes, usedPct: this.pct(this.usedBytes), stopWrites: this.stopWritesOn, evicted, evictedThroughVoidTime: through };
  }

  /**
   * Two passes, as Aerospike's nsup does: a histogram of bytes by void time picks the void
   * time up to which records must go to free `target` bytes; the second pass evicts records
   * with earlier void times, and at that void time only as many as needed.
   */
  private async evict(target: number): Promise<{ evicted: number; through: number }> {
    const byVoidTime = new Map<number, number>();
    for await (const rec of this.engine.scan({})) {
      if (rec.meta.voidTime === 0) continue;
      byVoidTime.set(rec.meta.voidTime, (byVoidTime.get(rec.meta.voidTime) ?? 0) + approxBytes(rec));
    }
    if (byVoidTime.size === 0) {
      this.log.warn({ namespace: this.namespace }, 'above the eviction mark but no record has a TTL: nothing can be evicted');
      return { evicted: 0, through: 0 };
    }
    let threshold = 0;
    let sum = 0;
    for (const vt of [...byVoidTime.keys()].sort((a, b) => a - b)) {
      threshold = vt;
      sum += byVoidTime.get(vt) as number;
      if (sum >= target) break;
    }
    const atThreshold: StoredRecord[] = [];
    let freed = 0;
    let evicted = 0;
    const evictOne = async (rec: StoredRecord): Promise<void> => {
      const vt = rec.meta.voidTime;
      const gen = rec.meta.generation;
      if (await this.remover.removeIf(rec.digest, (cur) => !cur.tombstone && cur.meta.voidTime === vt && cur.meta.generation === gen)) {
        evicted++;
        freed += approxBytes(rec);
      }
    };
    for await (const rec of this.engine.scan({})) {
      if (this.stopped) break;
      const vt = rec.meta.voidTime;
      if (vt === 0 || vt > threshold) continue;
      if (vt === threshold) atThreshold.push(rec);
      else await evictOne(rec);
    }
    for (const rec of atThreshold) {
      if (freed >= target || this.stopped) break;
      await evictOne(rec);
    }
    return { evicted, through: evicted > 0 ? threshold : 0 };
  }

  private schedule(): void {
    if (this.stopped || !this.enabled) return;
    this.timer = this.clock.setTimeout(() => {
      this.check().catch((err: unknown) => this.log.error({ namespace: this.namespace, err: (err as Error).message }, 'eviction check failed'))
        .finally(() => this.schedule());
    }, this.config.checkPeriodMs);
  }
}

function formatBytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(1)} GiB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} bytes`;
}
