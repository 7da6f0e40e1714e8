/** The kernel's read path: one record, whole, some bins or its header, or only its metadata. */
import type { StoredRecord } from '../plugin-api/index.ts';
import type { DbRecord, RecordKey, RecordMeta } from '../model/index.ts';
import type { ReadPolicy } from './policy.ts';
import { filteredOut, notFound, routeRead, toRecord, visible, type KernelState, settleCopy } from './kernel-state.ts';
import { andThen, settled, type Maybe } from './maybe-async.ts';

export interface ReadOptions extends ReadPolicy {
  readonly bins?: readonly string[];
  readonly headerOnly?: boolean;
}

/** Reads a record (all bins, some bins, or the header only). Missing records throw NOT_FOUND. */
export async function get(s: KernelState, key: RecordKey, options: ReadOptions = {}): Promise<DbRecord> {
  const stored = await getStored(s, key, options);
  const rec = toRecord(key, stored, options.bins === undefined ? undefined : new Set(options.bins), options.headerOnly === true);
  if (options.filter !== undefined && !options.filter(options.headerOnly === true || options.bins !== undefined ? toRecord(key, stored) : rec)) {
    throw filteredOut();
  }
  return rec;
}

/**
 * The visible stored record with its payload still encoded, for paths that transcode it
 * straight to a wire format. Missing records throw NOT_FOUND.
 */
export function getStored(s: KernelState, key: RecordKey, policy: ReadPolicy = {}): Promise<StoredRecord> {
  return settled(() => getStoredMaybe(s, key, policy));
}

/** `getStored` answering directly when the engine does (a throw is thrown); a promise otherwise. */
export function getStoredMaybe(s: KernelState, key: RecordKey, policy: ReadPolicy = {}): Maybe<StoredRecord> {
  const ns = routeRead(s, key, policy);
  const settling = settleCopy(s, key);
  const read = (): Maybe<StoredRecord> => {
    s.counters.reads++;
    return andThen(ns.engine.get(key.digest), (found) => {
      const stored = visible(s, ns, found);
      if (stored === undefined) {
        s.counters.notFound++;
        throw notFound();
      }
      return stored;
    });
  };
  return settling === undefined ? read() : settling.then(read);
}

/** The record's metadata, or undefined when it does not exist. */
export function exists(s: KernelState, key: RecordKey, policy: ReadPolicy = {}): Promise<RecordMeta | undefined> {
  return settled(() => {
    const ns = routeRead(s, key, policy);
    const settling = settleCopy(s, key);
    const read = (): Maybe<RecordMeta | undefined> => {
      s.counters.reads++;
      return andThen(ns.engine.get(key.digest), (found) => {
        const stored = visible(s, ns, found);
        if (stored === undefined) return undefined;
        if (policy.filter !== undefined && !policy.filter(toRecord(key, stored))) throw filteredOut();
        return stored.meta;
      });
    };
    return settling === undefined ? read() : settling.then(read);
  });
}
