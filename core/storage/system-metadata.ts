/**
 * System metadata (Aerospike's SMD): the node's small, durable facts that are not records —
 * secondary-index definitions, UDF modules, truncate markers, users and roles, the session
 * secret — and, on a cluster, the same facts on every node (core/replication/smd-sync.ts).
 *
 * A store holds modules (e.g. 'sindex', 'udf', 'truncate'), each a map from a string key to
 * a JSON value with a version: a generation (+1 per write of the key, deletions included) and
 * an update time. A deletion leaves a versioned tombstone, so that a node which still holds the
 * old value learns it is gone instead of bringing it back. Copies from other nodes are merged
 * item by item: the higher version wins (`compareVersions`), so every node that has seen the
 * same items holds the same values whatever the order they arrived in.
 *
 * The store sits on a backend: durable ones come from the storage slot (a storage plugin's
 * `openSystemMetadata`, e.g. LMDB in the node's data directory; a write resolves only once it is
 * on disk), `memorySystemMetadata` keeps everything in memory.
 * Both hand out copies, so a caller can never change stored state by mutating a value.
 */
import { DbError } from '../errors/index.ts';
import { createHash } from 'node:crypto';
import type { SystemMetadataBackend, SystemMetadataEntry } from '../plugin-api/index.ts';

export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [k: string]: JsonValue };

export interface SmdEntry<T extends JsonValue = JsonValue> {
  readonly key: string;
  readonly value: T;
  /** 1 on the first write of the key, then +1 per write. */
  readonly generation: number;
  readonly updatedMs: number;
}

export interface SmdChange<T extends JsonValue = JsonValue> {
  readonly module: string;
  readonly key: string;
  /** The new entry, or undefined when the key was deleted. */
  readonly entry: SmdEntry<T> | undefined;
  /** 'local' for a write made on this node, 'remote' for a newer copy merged from another node. */
  readonly origin: 'local' | 'remote';
}

/**
 * One versioned item as nodes exchange it: a value or a tombstone (`deleted`, json 'null').
 * Generation 0 marks a default a node wrote for itself at start (the first admin user, the
 * session secret): any real write outranks it, and of two defaults the older one stays.
 */
export interface SmdItem {
  readonly module: string;
  readonly key: string;
  readonly json: string;
  readonly generation: number;
  readonly updatedMs: number;
  readonly deleted: boolean;
}

type Version = Pick<SmdItem, 'json' | 'generation' | 'updatedMs' | 'deleted'>;

/**
 * Orders two versions of one item (> 0 when `a` wins): higher generation; at equal generation
 * the later update (the earlier one for defaults, generation 0), then a deletion over a value,
 * then the greater JSON text, so that every node picks the same winner.
 */
export function compareVersions(a: Version, b: Version): number {
  if (a.generation !== b.generation) return a.generation - b.generation;
  if (a.updatedMs !== b.updatedMs) return a.generation === 0 ? b.updatedMs - a.updatedMs : a.updatedMs - b.updatedMs;
  if (a.deleted !== b.deleted) return a.deleted ? 1 : -1;
  return a.json < b.json ? -1 : a.json > b.json ? 1 : 0;
}

/** One module of the store, typed by its value. */
export interface SmdModule<T extends JsonValue> {
  get(key: string): SmdEntry<T> | undefined;
  /** Every entry, in ascending key order. */
  list(): SmdEntry<T>[];
  /** Writes a value; resolves once it is durable. */
  set(key: string, value: T): Promise<SmdEntry<T>>;
  /**
   * Read-modify-write, atomic with respect to other writes of the store: `fn` gets the current
   * value (or undefined) and returns the new one, or undefined to delete.
   */
  update(key: string, fn: (current: T | undefined) => T | undefined): Promise<SmdEntry<T> | undefined>;
  /** Removes a key (leaving a versioned tombstone); false when it was not there. */
  delete(key: string): Promise<boolean>;
  /**
   * Writes a default (generation 0) when the key has never been written here: a value this node
   * needs at start that must not displace the one the cluster already agreed (see SmdItem).
   */
  setDefault(key: string, value: T): Promise<SmdEntry<T>>;
}

export interface SystemMetadataStore {
  readonly durable: boolean;
  module<T extends JsonValue>(name: string): SmdModule<T>;
  /** Names of the modules that hold at least one entry. */
  modules(): string[];
  /** Called after every change is durable; returns a function that unsubscribes. */
  watch(listener: (change: SmdChange) => void): () => void;
  /** Every item of the store (or of one module), tombstones included, in ascending (module, key) order. */
  items(module?: string): SmdItem[];
  /** Stores the items that win over the stored versions (atomically); resolves with those taken. */
  merge(items: readonly SmdItem[]): Promise<SmdItem[]>;
  /** A short hash of every item's version (of one module, or of all): equal stores, equal digests. */
  digest(module?: string): string;
  /**
   * On a cluster: `fn` sends every item written here to the other members, and a write resolves
   * only once it has (undefined: writes stay local). `fn` must not throw.
   */
  replicateWith(fn: ((items: readonly SmdItem[]) => Promise<void>) | undefined): void;
  close(): Promise<void>;
}

const MODULE_NAME = /^[a-z][a-z0-9_-]{0,31}$/;
const MAX_KEY_BYTES = 400;
const MAX_VALUE_BYTES = 4 * 1024 * 1024;

function checkModule(name: string): void {
  if (!MODULE_NAME.test(name)) {
    throw new DbError('PARAMETER', `system metadata module name ${JSON.stringify(name)} is not valid`,
      { hint: 'use 1 to 32 characters: lower-case letters, digits, _ and -, starting with a letter' });
  }
}

function checkKey(key: string): void {
  if (typeof key !== 'string' || key.length === 0 || Buffer.byteLength(key) > MAX_KEY_BYTES || key.includes('\u0000')) {
    throw new DbError('PARAMETER', `system metadata key ${JSON.stringify(key)} is not valid`,
      { hint: `use a non-empty string of at most ${MAX_KEY_BYTES} bytes without NUL characters` });
  }
}

/** Serializes a value, refusing what JSON cannot carry faithfully (bigint, undefined, NaN, functions, cycles). */
function toJson(value: JsonValue): string {
  let text: string;
  try {
    text = JSON.stringify(value, (_k, v: unknown) => {
      if (typeof v === 'bigint' || typeof v === 'function' || typeof v === 'symbol' || v === undefined) {
        throw new TypeError(`a ${typeof v} value`);
      }
      if (typeof v === 'number' && !Number.isFinite(v)) throw new TypeError(`the number ${v}`);
      return v;
    });
  } catch (err) {
    throw new DbError('PARAMETER', `system metadata value cannot be stored as JSON: ${(err as Error).message}`,
      { hint: 'store plain JSON: objects, arrays, strings, finite numbers, booleans and null (encode bigints as strings)' });
  }
  if (Buffer.byteLength(text) > MAX_VALUE_BYTES) {
    throw new DbError('PARAMETER', `system metadata value of ${Buffer.byteLength(text)} bytes is larger than ${MAX_VALUE_BYTES}`,
      { hint: 'keep system metadata small; large payloads belong in records' });
  }
  return text;
}

/** What is stored per key. */
type StoredEntry = SystemMetadataEntry;

function toEntry<T extends JsonValue>(key: string, s: StoredEntry): SmdEntry<T> {
  return { key, value: JSON.parse(s.json) as T, generation: s.generation, updatedMs: s.updatedMs };
}

function toItem(id: string, s: StoredEntry): SmdItem {
  const cut = id.indexOf('\u0000');
  return { module: id.slice(0, cut), key: id.slice(cut + 1), json: s.json, generation: s.generation, updatedMs: s.updatedMs, deleted: s.deleted === true };
}

function versionOf(s: StoredEntry): Version {
  return { json: s.json, generation: s.generation, updatedMs: s.updatedMs, deleted: s.deleted === true };
}

/** Checks an item that came from another node before it may be stored. */
function checkItem(item: SmdItem): void {
  checkModule(item.module);
  checkKey(item.key);
  if (!Number.isSafeInteger(item.generation) || item.generation < 0 || !Number.isFinite(item.updatedMs) || typeof item.json !== 'string') {
    throw new DbError('PARAMETER', `system metadata item ${item.module}/${item.key} has no valid version`, { hint: 'run the same version on every node' });
  }
  if (Buffer.byteLength(item.json) > MAX_VALUE_BYTES) throw new DbError('PARAMETER', `system metadata item ${item.module}/${item.key} is too large`);
  JSON.parse(item.json);
}

/** The storage under the store: a sorted map from `module\0key` to StoredEntry. */
type Backend = SystemMetadataBackend;

class Store implements SystemMetadataStore {
  readonly durable: boolean;
  private readonly backend: Backend;
  private readonly listeners = new Set<(change: SmdChange) => void>();
  private readonly now: () => number;
  /** Digests per module ('' for all), dropped on every change. */
  private readonly digests = new Map<string, string>();
  private replicator: ((items: readonly SmdItem[]) => Promise<void>) | undefined;
  private closed = false;

  constructor(backend: Backend, durable: boolean, now: () => number) {
    this.backend = backend;
    this.durable = durable;
    this.now = now;
  }

  module<T extends JsonValue>(name: string): SmdModule<T> {
    checkModule(name);
    const id = (key: string): string => `${name}\u0000${key}`;
    const store = this;
    const live = (s: StoredEntry | undefined): StoredEntry | undefined => (s === undefined || s.deleted === true ? undefined : s);
    const apply = async (key: string, fn: (current: T | undefined, stored: StoredEntry | undefined) => T | undefined, generation?: number): Promise<{ changed: boolean; entry: SmdEntry<T> | undefined }> => {
      store.checkOpen();
      checkKey(key);
      let thrown: unknown;
      const result = await store.backend.atomically((tx) => {
        try {
          const stored = tx.read(id(key));
          const cur = live(stored);
          const next = fn(cur === undefined ? undefined : (JSON.parse(cur.json) as T), stored);
          if (next === undefined) {
            if (cur === undefined) return { changed: false, stored: undefined };
            const tomb: StoredEntry = { json: 'null', generation: cur.generation + 1, updatedMs: Math.max(store.now(), cur.updatedMs), deleted: true };
            tx.put(id(key), tomb);
            return { changed: true, stored: undefined, written: tomb };
          }
          const json = toJson(next);
          // writing what is already there is no change: no new version for other nodes to take
          if (cur !== undefined && cur.json === json && generation === undefined) return { changed: false, stored: cur };
          const entry: StoredEntry = { json, generation: generation ?? (stored?.generation ?? 0) + 1, updatedMs: Math.max(store.now(), stored?.updatedMs ?? 0) };
          tx.put(id(key), entry);
          return { changed: true, stored: entry, written: entry };
        } catch (err) {
          thrown = err;
          return { changed: false, stored: undefined };
        }
      });
      if (thrown !== undefined) throw thrown;
      const entry = result.stored === undefined ? undefined : toEntry<T>(key, result.stored);
      if (result.changed) {
        store.emit({ module: name, key, entry, origin: 'local' });
        const written = (result as { written?: StoredEntry }).written;
        if (written !== undefined) await store.replicator?.([toItem(id(key), written)]);
      }
      return { changed: result.changed, entry };
    };
    return {
      get(key) {
        store.checkOpen();
        checkKey(key);
        const s = live(store.backend.read(id(key)));
        return s === undefined ? undefined : toEntry<T>(key, s);
      },
      list() {
        store.checkOpen();
        const prefix = `${name}\u0000`;
        return store.backend.range(prefix).filter(([, s]) => s.deleted !== true).map(([k, s]) => toEntry<T>(k.slice(prefix.length), s));
      },
      async set(key, value) {
        return (await apply(key, () => value)).entry as SmdEntry<T>;
      },
      async update(key, fn) {
        return (await apply(key, fn)).entry;
      },
      async delete(key) {
        return (await apply(key, () => undefined)).changed;
      },
      async setDefault(key, value) {
        const r = await apply(key, (cur, stored) => (stored === undefined ? value : cur), 0);
        return (r.entry ?? this.get(key)) as SmdEntry<T>;
      },
    };
  }

  modules(): string[] {
    this.checkOpen();
    return this.backend.moduleNames().filter((m) => this.backend.range(`${m}\u0000`).some(([, s]) => s.deleted !== true));
  }

  watch(listener: (change: SmdChange) => void): () => void {
    this.listeners.add(listener);
    return () => { this.listeners.delete(listener); };
  }

  items(module?: string): SmdItem[] {
    this.checkOpen();
    if (module !== undefined) checkModule(module);
    const names = module === undefined ? this.backend.moduleNames() : [module];
    return names.flatMap((m) => this.backend.range(`${m}\u0000`).map(([id, s]) => toItem(id, s)));
  }

  replicateWith(fn: ((items: readonly SmdItem[]) => Promise<void>) | undefined): void {
    this.replicator = fn;
  }

  async merge(items: readonly SmdItem[]): Promise<SmdItem[]> {
    this.checkOpen();
    for (const item of items) checkItem(item);
    const taken = await this.backend.atomically((tx) => {
      const out: SmdItem[] = [];
      for (const item of items) {
        const id = `${item.module}\u0000${item.key}`;
        const cur = tx.read(id);
        if (cur !== undefined && compareVersions(item, versionOf(cur)) <= 0) continue;
        tx.put(id, { json: item.json, generation: item.generation, updatedMs: item.updatedMs, ...(item.deleted ? { deleted: true } : {}) });
        out.push(item);
      }
      return out;
    });
    for (const item of taken) {
      this.emit({
        module: item.module, key: item.key, origin: 'remote',
        entry: item.deleted ? undefined : { key: item.key, value: JSON.parse(item.json) as JsonValue, generation: item.generation, updatedMs: item.updatedMs },
      });
    }
    return taken;
  }

  digest(module?: string): string {
    const k = module ?? '';
    let d = this.digests.get(k);
    if (d === undefined) {
      const h = createHash('sha256');
      for (const i of this.items(module)) h.update(`${i.module}\u0000${i.key}\u0000${i.generation}\u0000${i.updatedMs}\u0000${i.deleted ? 1 : 0}\u0000${i.json.length}\u0000`).update(i.json);
      d = h.digest('base64url').slice(0, 22);
      this.digests.set(k, d);
    }
    return d;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    await this.backend.close();
  }

  private emit(change: SmdChange): void {
    this.digests.clear();
    for (const l of this.listeners) {
      try { l(change); } catch { /* a listener's fault is its own */ }
    }
  }

  private checkOpen(): void {
    if (this.closed) throw new DbError('SERVER_ERROR', 'system metadata store is closed', { hint: 'the node is shutting down; retry against a running node' });
  }
}

/** System metadata kept in memory only: for in-memory nodes and tests. */
export function memorySystemMetadata(now: () => number = Date.now): SystemMetadataStore {
  const map = new Map<string, StoredEntry>();
  const sortedIds = (): string[] => [...map.keys()].sort();
  const backend: Backend = {
    read: (id) => map.get(id),
    range(prefix) {
      return sortedIds().filter((id) => id.startsWith(prefix)).map((id) => [id, map.get(id) as StoredEntry]);
    },
    moduleNames: () => [...new Set(sortedIds().map((id) => id.slice(0, id.indexOf('\u0000'))))],
    async atomically(fn) {
      return fn({ put: (id, e) => { map.set(id, e); }, remove: (id) => { map.delete(id); }, read: (id) => map.get(id) });
    },
    async close() { map.clear(); },
  };
  return new Store(backend, false, now);
}

/** A durable store on a backend from the storage slot (see StoragePlugin.openSystemMetadata). */
export function durableSystemMetadata(backend: SystemMetadataBackend, now: () => number = Date.now): SystemMetadataStore {
  return new Store(backend, true, now);
}
