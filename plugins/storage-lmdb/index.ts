import type { StoragePlugin } from '../../core/plugin-api/index.ts';
import { PLUGIN_API_VERSION } from '../../core/plugin-api/index.ts';
import { LmdbEngine } from './lmdb-engine.ts';
import { resolveOptions } from './options.ts';

export type { LmdbStorageOptions, CommitMode } from './options.ts';
export type { LmdbEngine, SetCounters, OpenReport } from './lmdb-engine.ts';

/**
 * The durable storage engine on LMDB (memory-mapped, transactional, crash-safe).
 * Namespace storage options: dataDir (required), commit ('sync' | 'async'), flushIntervalMs,
 * mapSize, maxDataBytes, maxRecordBytes — see LmdbStorageOptions.
 */
export function lmdbStorage(): StoragePlugin {
  return {
    kind: 'storage',
    name: 'storage-lmdb',
    apiVersion: PLUGIN_API_VERSION,
    async create(ctx, namespace, options) {
      return LmdbEngine.open(ctx, namespace.name, resolveOptions(namespace, options));
    },
  };
}
