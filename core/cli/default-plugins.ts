import type { Plugin } from '../plugin-api/index.ts';
import { memoryStorage } from '../../plugins/storage-memory/index.ts';
import { lmdbStorage } from '../../plugins/storage-lmdb/index.ts';

/** The plugins every node binary registers. */
export function defaultPlugins(): Plugin[] {
  return [memoryStorage(), lmdbStorage()];
}
