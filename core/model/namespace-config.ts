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
