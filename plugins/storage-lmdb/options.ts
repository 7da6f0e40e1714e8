import type { NamespaceConfig } from '../../core/plugin-api/index.ts';
import { DbError } from '../../core/plugin-api/index.ts';

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

const KNOWN = ['dataDir', 'commit', 'flushIntervalMs', 'mapSize', 'maxDataBytes', 'maxRecordBytes'];

function bad(message: string, hint: string): DbError {
  return new DbError('PARAMETER', message, { hint, plugin: 'storage-lmdb' });
}

function positiveInt(options: Readonly<Record<string, unknown>>, name: string, fallback: number, min = 1): number {
  const v = options[name];
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) {
    throw bad(`storage-lmdb option ${name} must be an integer of at least ${min}, got ${JSON.stringify(v)}`,
      `Set storageOptions.${name} to a whole number (bytes or milliseconds), or leave it out for the default`);
  }
  return v;
}

export function resolveOptions(namespace: NamespaceConfig, options: Readonly<Record<string, unknown>>): ResolvedOptions {
  const unknown = Object.keys(options).filter((k) => !KNOWN.includes(k));
  if (unknown.length > 0) {
    throw bad(`storage-lmdb does not know the option${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (namespace ${namespace.name})`,
      `Known options: ${KNOWN.join(', ')}`);
  }
  const dataDir = options['dataDir'];
  if (typeof dataDir !== 'string' || dataDir.length === 0) {
    throw bad(`storage-lmdb needs a data directory for namespace ${namespace.name}, got ${JSON.stringify(dataDir)}`,
      'Set storageOptions.dataDir to a directory path, e.g. "./data/' + namespace.name + '"');
  }
  const commit = options['commit'] ?? 'sync';
  if (commit !== 'sync' && commit !== 'async') {
    throw bad(`storage-lmdb option commit must be "sync" or "async", got ${JSON.stringify(commit)}`,
      'Use "sync" to acknowledge writes only once on disk, "async" to flush in the background');
  }
  const maxRecordBytes = positiveInt(options, 'maxRecordBytes', namespace.maxRecordBytes);
  const mapSize = positiveInt(options, 'mapSize', 256 * 1024 * 1024, 64 * 1024);
  const maxDataBytes = positiveInt(options, 'maxDataBytes', Number.MAX_SAFE_INTEGER, 1024);
  return {
    dataDir,
    commit,
    flushIntervalMs: positiveInt(options, 'flushIntervalMs', 1000),
    mapSize,
    maxDataBytes,
    maxRecordBytes,
  };
}
