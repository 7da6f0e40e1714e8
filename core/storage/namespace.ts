import type { StorageEngine, StoredRecord } from '../plugin-api/index.ts';
import { DbError } from '../errors/index.ts';
import { isExpired, TTL_DONT_UPDATE, TTL_NEVER_EXPIRE, type NamespaceConfig, type VoidTime } from '../model/index.ts';

/** A truncate marker: records of `set` (or of every set) last updated before `beforeMs` are gone. */
export interface TruncateMarker {
  readonly set: string | undefined;
  readonly beforeMs: number;
}

/**
 * A namespace: its configuration, its engine and the rules that decide whether a stored
 * record is visible (not a tombstone, not expired, not truncated).
 */
export class Namespace {
  private cfg: NamespaceConfig;
  readonly engine: StorageEngine;
  private readonly markers = new Map<string, number>(); // set ('' null set, '*' all) → beforeMs
  /** Extra storage statistics for admin info (eviction, stop-writes, tombstones collected); set by the node. */
  extraStats: (() => Array<[string, string | number]>) | undefined;

  constructor(config: NamespaceConfig, engine: StorageEngine) {
    this.cfg = config;
    this.engine = engine;
  }

  get config(): NamespaceConfig {
    return this.cfg;
  }

  /** Takes new settings while running (live configuration); the name and the storage stay. */
  reconfigure(config: NamespaceConfig): void {
    if (config.name !== this.cfg.name || config.storage !== this.cfg.storage) {
      throw new DbError('PARAMETER', `namespace '${this.cfg.name}': its name and storage engine cannot change while the node runs`, { hint: 'change them in the config file and restart' });
    }
    this.cfg = config;
  }

  get name(): string {
    return this.config.name;
  }

  /** The void time a write gets. `ttl` follows Aerospike: -1 never, -2 keep, 0 namespace default, >0 seconds. */
  voidTimeFor(ttl: number, nowMs: number, existing: VoidTime | undefined): VoidTime {
    if (!Number.isInteger(ttl) || ttl < TTL_DONT_UPDATE) {
      throw new DbError('PARAMETER', `TTL ${ttl} is not valid`, { hint: 'use -1 (never expire), -2 (keep the current TTL), 0 (namespace default) or a number of seconds' });
    }
    if (ttl === TTL_DONT_UPDATE) {
      if (existing !== undefined) return existing;
      ttl = 0;
    }
    if (ttl === TTL_NEVER_EXPIRE) return 0;
    if (ttl === 0) ttl = this.config.defaultTtl;
    if (ttl === 0) return 0;
    if (ttl > this.config.maxTtl) {
      throw new DbError('PARAMETER', `TTL ${ttl} s is above the namespace's maximum of ${this.config.maxTtl} s`, { hint: 'use a smaller TTL, or -1 for records that never expire' });
    }
    return Math.floor(nowMs / 1000) + ttl;
  }

  /** Whether a stored record is live for readers at `nowMs`. */
  isVisible(rec: StoredRecord, nowMs: number): boolean {
    if (rec.tombstone) return false;
    if (isExpired(rec.meta.voidTime, nowMs)) return false;
    if (this.markers.size > 0) {
      const all = this.markers.get('*');
      if (all !== undefined && rec.meta.lastUpdateMs < all) return false;
      const forSet = this.markers.get(rec.set);
      if (forSet !== undefined && rec.meta.lastUpdateMs < forSet) return false;
    }
    return true;
  }

  addTruncateMarker(marker: TruncateMarker): void {
    const k = marker.set ?? '*';
    const prev = this.markers.get(k) ?? 0;
    this.markers.set(k, Math.max(prev, marker.beforeMs));
  }

  truncateMarkers(): TruncateMarker[] {
    return [...this.markers].map(([k, beforeMs]) => ({ set: k === '*' ? undefined : k, beforeMs }));
  }
}
