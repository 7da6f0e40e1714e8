/** A namespace as configured. Storage options are the engine plugin's own. */
export interface NamespaceConfig {
  readonly name: string;
  /** Name of the storage plugin, e.g. 'storage-memory'. */
  readonly storage: string;
  readonly storageOptions?: Readonly<Record<string, unknown>>;
  /** Default TTL in seconds for writes with TTL 0; 0 means never expire. */
  readonly defaultTtl: number;
  /** Largest encoded record, bytes. */
  readonly maxRecordBytes: number;
  readonly replicationFactor: number;
  /**
   * When a write is answered: 'all' (default) once every replica has it, 'master' after the
   * master's own write (replicas follow in the background; a master's death can lose it).
   */
  readonly writeCommitLevel?: 'all' | 'master';
  /**
   * Which copy of a record wins when copies differ (after a split, or a node that kept old
   * copies): 'generation' (default: higher generation, then later last-update time) or
   * 'last-update-time' (later last-update time, then higher generation).
   */
  readonly conflictResolution?: 'generation' | 'last-update-time';
  /** Seconds between expiry sweeps. */
  readonly nsupPeriod: number;
  /** Allow writes with a TTL when default-ttl is 0 (Aerospike's allow-ttl-without-nsup is about nsup; this is simpler). */
  readonly maxTtl: number;
  /** Eviction and stop-writes settings (validated by core/storage/eviction.ts); off when absent. */
  readonly eviction?: Readonly<Record<string, unknown>>;
  /** Tombstone collection settings (validated by core/storage/eviction-tombstones.ts). */
  readonly tombRaider?: Readonly<Record<string, unknown>>;
}

export const NAMESPACE_DEFAULTS = {
  defaultTtl: 0,
  maxRecordBytes: 1024 * 1024,
  replicationFactor: 2,
  nsupPeriod: 120,
  maxTtl: 10 * 365 * 24 * 3600,
} as const;
