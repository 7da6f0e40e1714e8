/** Durable system metadata as a node opens it: the LMDB storage plugin's store in `<dataDir>/smd`. */
import { join } from 'node:path';
import { silentLogger, systemClock } from '../../core/plugin-api/index.ts';
import { durableSystemMetadata, type SystemMetadataStore } from '../../core/storage/system-metadata.ts';
import { lmdbStorage } from '../../plugins/storage-lmdb/index.ts';

export async function openDurableSystemMetadata(dataDir: string, now: () => number = Date.now): Promise<SystemMetadataStore> {
  const plugin = lmdbStorage();
  const ctx = { nodeId: 1n, logger: silentLogger, clock: systemClock, signal: new AbortController().signal };
  return durableSystemMetadata(await (plugin.openSystemMetadata as NonNullable<typeof plugin.openSystemMetadata>)(ctx, join(dataDir, 'smd')), now);
}
