/**
 * The node's durable system metadata on LMDB (an environment of its own in the folder the node
 * gives): writes are committed and flushed to disk before they resolve, so a crash keeps every
 * resolved write.
 */
import { mkdirSync } from 'node:fs';
import { open, type Database, type RootDatabase } from 'lmdb';
import { DbError, type SystemMetadataBackend, type SystemMetadataEntry } from 'slipstream/plugin-api';

export async function openLmdbSystemMetadata(dir: string): Promise<SystemMetadataBackend> {
  let root: RootDatabase;
  let db: Database<SystemMetadataEntry, string>;
  try {
    mkdirSync(dir, { recursive: true });
    root = open({ path: dir, maxDbs: 2, mapSize: 16 * 1024 * 1024 });
    db = root.openDB<SystemMetadataEntry, string>({ name: 'smd', encoding: 'msgpack' });
  } catch (err) {
    throw new DbError('PARAMETER', `cannot open the system metadata store in ${dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      { hint: 'point the node\'s data directory at a place this process may create and write', cause: err, plugin: 'storage-lmdb' });
  }
  let closed = false;
  return {
    read: (id) => db.get(id),
    range(prefix) {
      const out: [string, SystemMetadataEntry][] = [];
      // every id that starts with the prefix sorts before the prefix with its last character raised
      const end = `${prefix.slice(0, -1)}${String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1)}`;
      for (const { key, value } of db.getRange({ start: prefix, end })) out.push([key, value]);
      return out;
    },
    moduleNames() {
      const names: string[] = [];
      let start = '';
      for (;;) {
        let next: string | undefined;
        for (const key of db.getKeys({ start, limit: 1 })) next = key;
        if (next === undefined) return names;
        const name = next.slice(0, next.indexOf('\u0000'));
        names.push(name);
        start = `${name}\u0001`;
      }
    },
    async atomically(fn) {
      const result = await db.transaction(() => fn({
        put: (id, e) => { db.putSync(id, e); },
        remove: (id) => { db.removeSync(id); },
        read: (id) => db.get(id),
      }));
      await db.flushed;
      return result;
    },
    async close() {
      if (closed) return;
      closed = true;
      await root.close();
    },
  };
}
