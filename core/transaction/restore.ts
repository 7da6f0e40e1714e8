import { DbError } from '../errors/index.ts';
import { checkBinName, isExpired, type Bins, type RecordKey, type RecordMeta } from '../model/index.ts';
import type { Kernel } from './kernel.ts';
import { DEFAULT_WRITE_POLICY } from './policy.ts';

/**
 * How a restore treats a record that already exists:
 * - `createOnly`: leave it (skipped, RECORD_EXISTS);
 * - `replace`: replace its bins and metadata with the backup's;
 * - `update`: merge the backup's bins into it and take the backup's metadata;
 * - `generationNewer` (the default, as asrestore's): replace it only when the backup's
 *   generation is greater than the stored one (else skipped, GENERATION).
 */
export type RestorePolicy = 'createOnly' | 'replace' | 'update' | 'generationNewer';

export const RESTORE_POLICIES: readonly RestorePolicy[] = ['createOnly', 'replace', 'update', 'generationNewer'];

/** One record to restore: its key (digest, set, and the user key when it was stored), bins and exact metadata. */
export interface RestoreInput {
  readonly key: RecordKey;
  readonly bins: Bins;
  readonly meta: RecordMeta;
}

/** What became of one restored record. */
export type RestoreOutcome =
  | { readonly status: 'restored' }
  | { readonly status: 'skipped'; readonly reason: 'expired' | 'exists' | 'generation'; readonly error: DbError };

/**
 * Writes a record with the metadata it was backed up with — generation, void time and
 * last-update time exactly as given — under the record lock, so indexes and other change
 * listeners see an ordinary write. A record whose void time has passed is skipped.
 */
export async function restoreRecord(kernel: Kernel, rec: RestoreInput, policy: RestorePolicy = 'generationNewer'): Promise<RestoreOutcome> {
  checkRestoreMeta(rec.meta);
  const names = Object.keys(rec.bins);
  for (const name of names) checkBinName(name);
  if (names.length === 0) {
    throw new DbError('PARAMETER', 'a restored record needs at least one bin', { hint: 'the backup entry is damaged; restore it from another copy' });
  }
  const now = kernel.clock.now();
  if (isExpired(rec.meta.voidTime, now)) {
    return { status: 'skipped', reason: 'expired', error: new DbError('NOT_FOUND', `the record expired at ${new Date(rec.meta.voidTime * 1000).toISOString()}`) };
  }
  const meta = visibleAfterTruncate(kernel, rec.key, rec.meta);
  const writePolicy = { ...DEFAULT_WRITE_POLICY, sendKey: rec.key.userKey !== undefined };
  const { value } = await kernel.mutate<RestoreOutcome>(rec.key, writePolicy, (cur) => {
    if (cur !== undefined && policy === 'createOnly') {
      return { mutation: { kind: 'none' }, value: { status: 'skipped', reason: 'exists', error: new DbError('RECORD_EXISTS', 'the record exists and the restore is create-only') } };
    }
    if (cur !== undefined && policy === 'generationNewer' && !(rec.meta.generation > cur.meta.generation)) {
      return {
        mutation: { kind: 'none' },
        value: { status: 'skipped', reason: 'generation', error: new DbError('GENERATION', `the stored generation ${cur.meta.generation} is not older than the backup's ${rec.meta.generation}`) },
      };
    }
    const bins = policy === 'update' && cur !== undefined ? { ...cur.bins, ...rec.bins } : rec.bins;
    return { mutation: { kind: 'write', bins, meta }, value: { status: 'restored' } };
  });
  return value;
}

/**
 * A record last updated before a truncate of its namespace or set would be hidden by the
 * truncate marker the moment it is written; restoring after a TRUNCATE is what a restore is
 * for, so such a record takes the marker's cut-off as its last-update time (the smallest
 * time that keeps it visible). Generation and void time stay exact.
 */
function visibleAfterTruncate(kernel: Kernel, key: RecordKey, meta: RecordMeta): RecordMeta {
  let cutoff = 0;
  for (const m of kernel.namespace(key.namespace).truncateMarkers()) {
    if (m.set === undefined || m.set === key.set) cutoff = Math.max(cutoff, m.beforeMs);
  }
  return meta.lastUpdateMs < cutoff ? { ...meta, lastUpdateMs: cutoff } : meta;
}

function checkRestoreMeta(meta: RecordMeta): void {
  if (!Number.isInteger(meta.generation) || meta.generation < 1 || meta.generation > 0xffffffff) {
    throw new DbError('PARAMETER', `generation ${meta.generation} cannot be restored`, { hint: 'a generation is 1 to 4294967295' });
  }
  if (!Number.isInteger(meta.voidTime) || meta.voidTime < 0) {
    throw new DbError('PARAMETER', `void time ${meta.voidTime} cannot be restored`, { hint: 'a void time is seconds since the epoch, or 0 for never' });
  }
  if (!Number.isFinite(meta.lastUpdateMs) || meta.lastUpdateMs < 0) {
    throw new DbError('PARAMETER', `last-update time ${meta.lastUpdateMs} cannot be restored`, { hint: 'give milliseconds since the epoch' });
  }
}
