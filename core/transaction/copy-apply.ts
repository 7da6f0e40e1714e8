/**
 * Applying a copy of a record that another node sends — its master's replica write, or a
 * migration — under the record's lock. The copy is kept only when it wins over the stored one
 * by the namespace's conflict resolution (generation or last-update time), so copies that
 * arrive late or twice never roll a record back. Listeners (indexes) hear about the change.
 */
import { decodeBins, type Bins } from '../model/index.ts';
import { compareVersions } from '../replication/conflict.ts';
import type { ReplicaChange } from '../replication/replica-writes.ts';
import { emit, lockKeyOf, namespaceOf, type KernelState } from './kernel-state.ts';
import type { RecordChange } from './kernel-types.ts';
import { store } from './write-path.ts';
import { andThen, settled, type Maybe } from './maybe-async.ts';

/**
 * A change whose bins are decoded from the stored payloads only when a listener reads them (once):
 * most namespaces have no index, and a replica write then needs neither decoded.
 */
function lazyChange(base: Omit<RecordChange, 'before' | 'after'>, before: Uint8Array | undefined, after: Uint8Array | undefined): RecordChange {
  let b: Bins | undefined | null = null;
  let a: Bins | undefined | null = null;
  return {
    ...base,
    get before() { return b === null ? (b = before === undefined ? undefined : decodeBins(before)) : b; },
    get after() { return a === null ? (a = after === undefined ? undefined : decodeBins(after)) : a; },
  };
}

/**
 * True when the copy changed what is stored. A copy of a free record in a memory namespace is
 * applied in the caller's turn (no microtask per step: see maybe-async.ts), as the write path's
 * steps are.
 */
export function applyCopy(s: KernelState, namespace: string, change: ReplicaChange): Promise<boolean> {
  return settled(() => {
    const ns = namespaceOf(s, namespace);
    const digest = change.kind === 'put' ? change.record.digest : change.digest;
    return s.locks.run(lockKeyOf(namespace, digest), () => andThen(ns.engine.get(digest), (stored): Maybe<boolean> => {
      const rule = ns.config.conflictResolution ?? 'generation';
      if (change.kind === 'remove') {
        if (stored === undefined || stored.meta.generation > change.generation) return false;
        return andThen(ns.engine.remove(digest, { kind: 'generation', equals: stored.meta.generation }), (out) => {
          if (out.ok && !stored.tombstone) {
            emit(s, lazyChange({ namespace, set: stored.set, digest, meta: undefined, cause: 'delete' }, stored.payload, undefined));
          }
          return out.ok;
        });
      }
      const rec = change.record;
      if (stored !== undefined && compareVersions(rec.meta, stored.meta, rule) <= 0) return false;
      return andThen(store(ns, rec, stored === undefined ? { kind: 'absent' } : { kind: 'generation', equals: stored.meta.generation }), () => {
        const before = stored === undefined || stored.tombstone ? undefined : stored.payload;
        const after = rec.tombstone ? undefined : rec.payload;
        if (before !== undefined || after !== undefined) {
          emit(s, lazyChange({ namespace, set: rec.set, digest, meta: rec.tombstone ? undefined : rec.meta, cause: rec.tombstone ? 'delete' : 'write' }, before, after));
        }
        return true;
      });
    }));
  });
}
