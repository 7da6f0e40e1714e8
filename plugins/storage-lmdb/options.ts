import { Type, checkSchema, type NamespaceConfig } from 'slipstream/plugin-api';

export type CommitMode = 'sync' | 'async';

export interface LmdbStorageOptions {
  /** Directory of this namespace's data files (created when missing). Required. */
  readonly dataDir: string;
  /**
   * `sync` (default): a write is acknowledged only after its commit is flushed to disk.
   * `async`: a write is acknowledged once committed (visible, and safe from a process crash);
   * the disk flush follows within `flushIntervalMs` (a machine crash can lose that window).
   */
  readonly commit?: CommitMode;
  /** Async mode: most milliseconds between disk flushes. Default 1000. */
  readonly flushIntervalMs?: number;
  /** Initial LMDB map size in bytes (grows as needed up to `maxDataBytes`). Default 256 MiB. */
  readonly mapSize?: number;
  /** Hard cap on stored record bytes; writes beyond it fail with OUT_OF_SPACE. Default: none. */
  readonly maxDataBytes?: number;
  /** Largest record payload in bytes; defaults to the namespace's max record size. */
  readonly maxRecordBytes?: number;
}

export interface ResolvedOptions {
  readonly dataDir: string;
  readonly commit: CommitMode;
  readonly flushIntervalMs: number;
  readonly mapSize: number;
  readonly maxDataBytes: number;
  readonly maxRecordBytes: number;
}

export const lmdbStorageOptions = Type.Object({
  dataDir: Type.String({ minLength: 1, description: 'directory of the namespace data (relative: under the node data directory)', hint: 'Set storageOptions.dataDir to a directory path, e.g. "bar"' }),
  commit: Type.Optional(Type.Union([Type.Literal('sync'), Type.Literal('async')], {
    default: 'sync', hint: 'Use "sync" to acknowledge writes only once on disk, "async" to flush in the background',
  })),
  flushIntervalMs: Type.Optional(Type.Integer({ minimum: 1, default: 1000, description: 'async commit: most milliseconds between disk flushes' })),
  mapSize: Type.Optional(Type.Integer({ minimum: 64 * 1024, default: 256 * 1024 * 1024, description: 'initial LMDB map size in bytes' })),
  maxDataBytes: Type.Optional(Type.Integer({ minimum: 1024, description: 'hard cap on stored record bytes (default: none)' })),
  maxRecordBytes: Type.Optional(Type.Integer({ minimum: 1, description: "largest record payload in bytes (default: the namespace's maxRecordBytes)" })),
}, { additionalProperties: false, title: 'storage-lmdb' });

/** The engine's settings from checked options (the node checks them against the schema first; so does this). */
export function resolveOptions(namespace: NamespaceConfig, options: Readonly<Record<string, unknown>>): ResolvedOptions {
  checkSchema(lmdbStorageOptions, options, `namespace ${namespace.name}: storage-lmdb option `, { plugin: 'storage-lmdb' });
  const o = options as unknown as LmdbStorageOptions;
  return {
    dataDir: o.dataDir,
    commit: o.commit ?? 'sync',
    flushIntervalMs: o.flushIntervalMs ?? 1000,
    mapSize: o.mapSize ?? 256 * 1024 * 1024,
    maxDataBytes: o.maxDataBytes ?? Number.MAX_SAFE_INTEGER,
    maxRecordBytes: o.maxRecordBytes ?? namespace.maxRecordBytes,
  };
}
