import { PLUGIN_API_VERSION, Type, type StoragePlugin } from 'slipstream/plugin-api';
import { MemoryEngine } from './memory-engine.ts';

export interface MemoryStorageOptions {
  /** Largest record payload in bytes; defaults to the namespace's max record size. */
  readonly maxRecordBytes?: number;
}

export const memoryStorageOptions = Type.Object({
  maxRecordBytes: Type.Optional(Type.Integer({ minimum: 1, description: "largest record payload in bytes (default: the namespace's maxRecordBytes)" })),
}, { additionalProperties: false, title: 'storage-memory' });

/** The in-memory storage engine: fast, not persistent. */
export function memoryStorage(): StoragePlugin {
  return {
    kind: 'storage',
    name: 'storage-memory',
    apiVersion: PLUGIN_API_VERSION,
    version: '1.0.0',
    description: 'In-memory records: fast, not persistent',
    optionsSchema: memoryStorageOptions,
    async create(_ctx, namespace, options) {
      return new MemoryEngine((options['maxRecordBytes'] as number | undefined) ?? namespace.maxRecordBytes);
    },
  };
}
