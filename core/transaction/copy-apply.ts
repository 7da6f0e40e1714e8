/**
 * Applying a copy of a record that another node sends — its master's replica write, or a
 * migration — under the record's lock. The copy is kept only when it wins over the stored one
 * by the namespace's conflict resolution (generation or last-update time), so copies that
 * arrive late or twice never roll a record back. Listeners (indexes) hear about the change.
 */
import { decodeBins } from '../model/index.ts';
import { compareVersions } from '../replication/conflict.ts';
import type { ReplicaChange } from '../replication/replica-writes.ts';
import { emit, lockKeyOf, namespaceOf, type KernelState } from './kernel-state.ts';
import { store } from './write-path.ts';

/** True when the copy changed what is stored. */
export async function applyCopy(s: KernelState, namespace: string, change: ReplicaChange): Promise<boolean> {
  const ns = namespaceOf(s, namespace);
  const digest = change.kind === 'put' ? change.record.digest : change.digest;
  return s.locks.run(lockKeyOf(namespace, digest), async () => {
    const stored = await ns.engine.get(digest);
    const rule = ns.config.conflictResolution ?? 'generation';
    if (change.kind === 'remove') {
      if (stored === undefined || stored.meta.generation > change.generation) return false;
      const out = await ns.engine.remove(digest, { kind: 'generation', equals: stored.meta.generation });
      if (out.ok && !stored.tombstone) {
        emit(s, { namespace, set: stored.set, digest, before: decodeBins(stored.payload), after: undefined, meta: undefined, cause: 'delete' });
      }
      return out.ok;
    }
    const rec = change.record;
    if (stored !== undefined && compareVersions(rec.meta, stored.meta, rule) <= 0) return false;
    await store(ns, rec, stored === undefined ? { kind: 'absent' } : { kind: 'generation', equals: stored.meta.generation });
    const before = stored === undefined || stored.tombstone ? undefined : decodeBins(stored.payload);
    const after = rec.tombstone ? undefined : decodeBins(rec.payload);
    if (before !== undefined || after !== undefined) {
      emit(s, { namespace, set: rec.set, digest, before, after, meta: rec.tombstone ? undefined : rec.meta, cause: rec.tombstone ? 'delete' : 'write' });
    }
    return true;
  });
}
