import type { StoragePlugin } from '../../core/plugin-api/index.ts';
import { DbError, PLUGIN_API_VERSION } from '../../core/plugin-api/index.ts';
import { MemoryEngine } from './memory-engine.ts';

export interface MemoryStorageOptions {
  /** Largest record payload in bytes; defaults to the namespace's max record size. */
  readonly maxRecordBytes?: number;
}

/** The in-memory storage engine: fast, not persistent. */
export function memoryStorage(): StoragePlugin {
  return {
    kind: 'storage',
    name: 'storage-memory',
    apiVersion: PLUGIN_API_VERSION,
    async create(_ctx, namespace, options) {
      const max = options['maxRecordBytes'] ?? namespace.maxRecordBytes;
      if (typeof max !== 'number' || !Number.isInteger(max) || max <= 0) {
        throw new DbError('PARAMETER', `storage-memory option maxRecordBytes must be a positive integer, got ${JSON.stringify(max)}`);
      }
      return new MemoryEngine(max);
    },
  };
}
