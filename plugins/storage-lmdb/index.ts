import { PLUGIN_API_VERSION, type StoragePlugin } from 'slipstream/plugin-api';
import { LmdbEngine } from './lmdb-engine.ts';
import { lmdbStorageOptions, resolveOptions } from './options.ts';
import { openLmdbSystemMetadata } from './system-metadata.ts';

export type { LmdbStorageOptions, CommitMode } from './options.ts';
export { lmdbStorageOptions } from './options.ts';
export { openLmdbSystemMetadata } from './system-metadata.ts';
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
    version: '1.0.0',
    description: 'Durable records on LMDB (memory-mapped, transactional, crash-safe)',
    optionsSchema: lmdbStorageOptions,
    async create(ctx, namespace, options) {
      return LmdbEngine.open(ctx, namespace.name, resolveOptions(namespace, options));
    },
    openSystemMetadata: (_ctx, dir) => openLmdbSystemMetadata(dir),
  };
}
