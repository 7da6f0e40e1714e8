/**
 * Applying a copy of a record that another node sends — its master's replica write, or a
 * migration — under the record's lock. The copy is kept only when it wins over the stored one
 * by the namespace's conflict resolution (generation or last-update time), so copies that
 * arrive late or twice never roll a record back. Listeners (indexes) hear about the change.
 */
import { decodeBins, type Bins, type RecordMeta } from '../model/index.ts';
import { isPromise, type StoredMeta, type StoredRecord, type WriteExpectation, type WriteOutcome } from '../plugin-api/index.ts';
import { compareVersions } from '../replication/conflict.ts';
import type { ReplicaChange } from '../replication/replica-writes.ts';
import type { Namespace } from '../storage/namespace.ts';
import { DbError } from '../errors/index.ts';
import { emit, lockKeyOf, namespaceOf, type KernelState } from './kernel-state.ts';
import type { RecordChange } from './kernel-types.ts';
import { andThen, type Maybe } from './maybe-async.ts';

/**
 * A change whose bins are decoded from the stored payloads only when a listener reads them (once):
 * most namespaces have no index, and a replica write then needs neither decoded. A class (its
 * getters on the prototype): one small object per change, no closures.
 */
class CopyChange implements RecordChange {
  readonly namespace: string;
  readonly set: string;
  readonly digest: Uint8Array;
  readonly meta: RecordMeta | undefined;
  readonly cause: 'write' | 'delete';
  #beforeBytes: Uint8Array | undefined;
  #afterBytes: Uint8Array | undefined;
  #before: Bins | undefined | null = null;
  #after: Bins | undefined | null = null;

  constructor(namespace: string, set: string, digest: Uint8Array, meta: RecordMeta | undefined, cause: 'write' | 'delete', before: Uint8Array | undefined, after: Uint8Array | undefined) {
    this.namespace = namespace;
    this.set = set;
    this.digest = digest;
    this.meta = meta;
    this.cause = cause;
    this.#beforeBytes = before;
    this.#afterBytes = after;
  }

  get before(): Bins | undefined {
    if (this.#before === null) this.#before = this.#beforeBytes === undefined ? undefined : decodeBins(this.#beforeBytes);
    return this.#before;
  }

  get after(): Bins | undefined {
    if (this.#after === null) this.#after = this.#afterBytes === undefined ? undefined : decodeBins(this.#afterBytes);
    return this.#after;
  }
}

/**
 * True when the copy changed what is stored. A copy of a free record in a memory namespace is
 * applied in the caller's turn (no microtask per step: see maybe-async.ts), as the write path's
 * steps are.
 */
export function applyCopy(s: KernelState, namespace: string, change: ReplicaChange): Promise<boolean> {
  try {
    return Promise.resolve(applyCopyMaybe(s, namespace, change));
  } catch (err) {
    return Promise.reject(err);
  }
}

/** `applyCopy` answering directly when the engine does (a throw is thrown). */
export function applyCopyMaybe(s: KernelState, namespace: string, change: ReplicaChange): Maybe<boolean> {
  const ns = namespaceOf(s, namespace);
  const digest = change.kind === 'put' ? change.record.digest : change.digest;
  return s.locks.run(lockKeyOf(namespace, digest), () => {
    const engine = ns.engine;
    if (engine.getMeta !== undefined && !readsBins(s, namespace)) {
      // nobody reads the bins the copy replaces: the stored metadata is enough to compare versions
      const meta = engine.getMeta(digest);
      if (!isPromise(meta)) return decide(s, ns, namespace, change, meta);
      // An engine that answers later: a stale copy is told from the metadata alone; one that wins
      // reads the stored record too, so that an index created meanwhile still learns the bins it
      // replaces (its build may have read them).
      return meta.then((m) => (m === undefined || loses(ns, change, m) ? decide(s, ns, namespace, change, m) : andThen(engine.get(digest), (st) => decide(s, ns, namespace, change, st))));
    }
    const stored = engine.get(digest);
    return isPromise(stored) ? stored.then((st) => decide(s, ns, namespace, change, st)) : decide(s, ns, namespace, change, stored);
  });
}

/** Whether some listener reads the bins of this namespace's changes. */
function readsBins(s: KernelState, namespace: string): boolean {
  for (const l of s.listeners) {
    if (l.onChange !== undefined && (l.readsBins === undefined || l.readsBins(namespace))) return true;
  }
  return false;
}

/** Whether the stored copy (`stored`) is as new as `change` or newer: the change is not applied. */
function loses(ns: Namespace, change: ReplicaChange, stored: StoredMeta): boolean {
  if (change.kind === 'remove') return stored.meta.generation > change.generation;
  return compareVersions(change.record.meta, stored.meta, ns.config.conflictResolution ?? 'generation') <= 0;
}

/**
 * Applies `change` over what is stored (`stored`: the record, or — when no listener reads bins —
 * its metadata alone), under the record's lock.
 */
function decide(s: KernelState, ns: Namespace, namespace: string, change: ReplicaChange, stored: StoredMeta | StoredRecord | undefined): Maybe<boolean> {
  if (stored !== undefined && loses(ns, change, stored)) return false;
  if (change.kind === 'remove') {
    if (stored === undefined) return false;
    // (a tombstone the removal is newer than goes too: the master keeps nothing either)
    const out = ns.engine.remove(change.digest, stored.tombstone ? ANY : { kind: 'generation', equals: stored.meta.generation });
    if (isPromise(out)) return out.then((o) => removed(s, namespace, change.digest, stored, o));
    return removed(s, namespace, change.digest, stored, out);
  }
  const rec = change.record;
  // under the lock the engine's check is a safety net; a stored tombstone counts as absent there
  const out = ns.engine.put(rec, stored === undefined || stored.tombstone ? ABSENT : { kind: 'generation', equals: stored.meta.generation });
  if (isPromise(out)) return out.then((o) => kept(s, namespace, rec, stored, o));
  return kept(s, namespace, rec, stored, out);
}

const ABSENT: WriteExpectation = { kind: 'absent' };
const ANY: WriteExpectation = { kind: 'any' };

/** The stored payload when it was read (the record), else undefined (its metadata alone). */
function payloadOf(stored: StoredMeta | StoredRecord): Uint8Array | undefined {
  return (stored as Partial<StoredRecord>).payload;
}

function removed(s: KernelState, namespace: string, digest: Uint8Array, stored: StoredMeta | StoredRecord, out: WriteOutcome): boolean {
  if (out.ok && !stored.tombstone) emit(s, new CopyChange(namespace, stored.set, digest, undefined, 'delete', payloadOf(stored), undefined));
  return out.ok;
}

function kept(s: KernelState, namespace: string, rec: StoredRecord, stored: StoredMeta | StoredRecord | undefined, out: WriteOutcome): boolean {
  if (!out.ok) throw new DbError('SERVER_ERROR', `storage refused a locked write (${out.reason})`, { hint: 'this is a storage engine bug; report it' });
  const had = stored !== undefined && !stored.tombstone;
  if (had || !rec.tombstone) {
    emit(s, new CopyChange(namespace, rec.set, rec.digest, rec.tombstone ? undefined : rec.meta, rec.tombstone ? 'delete' : 'write', had ? payloadOf(stored) : undefined, rec.tombstone ? undefined : rec.payload));
  }
  return true;
}
