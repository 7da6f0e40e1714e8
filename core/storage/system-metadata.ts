/**
 * System metadata (Aerospike's SMD): the node's own small, durable facts that are not
 * records — secondary-index definitions, UDF modules, truncate markers, users and roles.
 *
 * A store holds modules (e.g. 'sindex', 'udf', 'truncate'), each a map from a string key to
 * a JSON value with a generation and an update time (what a cluster needs later to merge
 * copies). The store sits on a backend: durable ones come from the storage slot (a storage
 * plugin's `openSystemMetadata`, e.g. LMDB in the node's data directory; a write resolves only
 * once it is on disk), `memorySystemMetadata` keeps everything in memory.
 * Both hand out copies, so a caller can never change stored state by mutating a value.
 */
import { DbError } from '../errors/index.ts';
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
  /** Removes a key; false when it was not there. */
  delete(key: string): Promise<boolean>;
}

export interface SystemMetadataStore {
  readonly durable: boolean;
  module<T extends JsonValue>(name: string): SmdModule<T>;
  /** Names of the modules that hold at least one entry. */
  modules(): string[];
  /** Called after every change is durable; returns a function that unsubscribes. */
  watch(listener: (change: SmdChange) => void): () => void;
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

/** The storage under the store: a sorted map from `module\0key` to StoredEntry. */
type Backend = SystemMetadataBackend;

class Store implements SystemMetadataStore {
  readonly durable: boolean;
  private readonly backend: Backend;
  private readonly listeners = new Set<(change: SmdChange) => void>();
  private readonly now: () => number;
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
    const apply = async (key: string, fn: (current: T | undefined) => T | undefined): Promise<{ changed: boolean; entry: SmdEntry<T> | undefined }> => {
      store.checkOpen();
      checkKey(key);
      let thrown: unknown;
      const result = await store.backend.atomically((tx) => {
        try {
          const cur = tx.read(id(key));
          const next = fn(cur === undefined ? undefined : (JSON.parse(cur.json) as T));
          if (next === undefined) {
            if (cur !== undefined) tx.remove(id(key));
            return { changed: cur !== undefined, stored: undefined };
          }
          const stored: StoredEntry = { json: toJson(next), generation: (cur?.generation ?? 0) + 1, updatedMs: store.now() };
          tx.put(id(key), stored);
          return { changed: true, stored };
        } catch (err) {
          thrown = err;
          return { changed: false, stored: undefined };
        }
      });
      if (thrown !== undefined) throw thrown;
      const entry = result.stored === undefined ? undefined : toEntry<T>(key, result.stored);
      if (result.changed) store.emit({ module: name, key, entry });
      return { changed: result.changed, entry };
    };
    return {
      get(key) {
        store.checkOpen();
        checkKey(key);
        const s = store.backend.read(id(key));
        return s === undefined ? undefined : toEntry<T>(key, s);
      },
      list() {
        store.checkOpen();
        const prefix = `${name}\u0000`;
        return store.backend.range(prefix).map(([k, s]) => toEntry<T>(k.slice(prefix.length), s));
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
    };
  }

  modules(): string[] {
    this.checkOpen();
    return this.backend.moduleNames();
  }

  watch(listener: (change: SmdChange) => void): () => void {
    this.listeners.add(listener);
    return () => { this.listeners.delete(listener); };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    await this.backend.close();
  }

  private emit(change: SmdChange): void {
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
