/**
 * Removal of records outside the write path: truncation (with its durable marker), expiry
 * sweeps, and the one-record removal eviction and the tomb raider use, each under the record lock.
 */
import { DbError } from '../errors/index.ts';
import type { StoredRecord } from '../plugin-api/index.ts';
import { checkSetName, decodeBins, isExpired } from '../model/index.ts';
import { removeStoredIf as removeStoredRecordIf } from '../storage/eviction.ts';
import { emit, lockKeyOf, namespaceOf, type KernelState } from './kernel-state.ts';

/** Removes every record of the namespace (or set) last updated before `beforeMs` (default: now). */
export async function truncate(s: KernelState, namespace: string, set?: string, beforeMs?: number): Promise<number> {
  const ns = namespaceOf(s, namespace);
  if (set !== undefined) checkSetName(set);
  const now = s.clock.now();
  const cutoff = beforeMs ?? now + 1;
  if (!Number.isFinite(cutoff) || cutoff <= 0) throw new DbError('PARAMETER', `truncate cut-off ${beforeMs} is not a valid time`);
  if (cutoff > now + 1) {
    throw new DbError('PARAMETER', 'the truncate cut-off is in the future', { hint: 'give a last-update time that is not later than now' });
  }
  if (s.forwarding?.clusterWide() === true) return s.forwarding.truncate(namespace, set, cutoff, () => truncate(s, namespace, set, cutoff));
  ns.addTruncateMarker({ set, beforeMs: cutoff });
  const durable: Promise<void>[] = [];
  for (const l of s.listeners) {
    try {
      const r = l.onTruncate?.(namespace, set, cutoff);
      if (r !== undefined) durable.push(r);
    } catch (err) {
      s.logger.error({ err }, 'a truncate listener failed');
    }
  }
  // The marker must be durable before any record goes: a crash part-way through the
  // engine's truncate is finished at restart from the marker.
  const saved = await Promise.allSettled(durable);
  const failed = saved.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed !== undefined) {
    const reason = failed.reason instanceof Error ? failed.reason.message : String(failed.reason);
    throw new DbError('SERVER_ERROR', `the truncate marker could not be saved (${reason}); no records were removed`, {
      hint: 'the records are hidden on this node until it restarts; retry the truncate', cause: failed.reason,
    });
  }
  return ns.engine.truncate({ ...(set === undefined ? {} : { set }), beforeMs: cutoff });
}

/**
 * Removes one stored record or tombstone under its record lock if `still` holds for what is
 * stored at that moment (eviction, the tomb raider). Listeners hear about live records.
 */
export async function removeStoredIf(s: KernelState, namespace: string, digest: Uint8Array, still: (current: StoredRecord) => boolean, cause: 'evict' | 'expire'): Promise<boolean> {
  const ns = namespaceOf(s, namespace);
  return s.locks.run(lockKeyOf(namespace, digest), async () => {
    const gone = await removeStoredRecordIf(ns.engine, digest, still);
    if (gone === undefined) return false;
    if (!gone.tombstone) emit(s, { namespace, set: gone.set, digest: gone.digest, before: decodeBins(gone.payload), after: undefined, meta: undefined, cause });
    return true;
  });
}

/** Removes expired records of a namespace, telling listeners; returns how many went. */
export async function sweepExpired(s: KernelState, namespace: string): Promise<number> {
  const ns = namespaceOf(s, namespace);
  const now = s.clock.now();
  const expired: StoredRecord[] = [];
  for await (const rec of ns.engine.scan({})) {
    if (isExpired(rec.meta.voidTime, now)) expired.push(rec);
  }
  let removed = 0;
  for (const rec of expired) {
    const still = (cur: StoredRecord): boolean => !cur.tombstone && isExpired(cur.meta.voidTime, s.clock.now());
    if (await removeStoredIf(s, namespace, rec.digest, still, 'expire')) removed++;
  }
  return removed;
}
