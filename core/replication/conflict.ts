/**
 * Which of two copies of a record wins (duplicate resolution), as Aerospike's
 * conflict-resolution-policy: by generation (then last-update time), or by last-update time
 * (then generation). Tombstones compete like records, so a durable delete beats the copies it
 * deleted. Used by replica writes that arrive out of order and by migrations.
 */
import type { RecordMeta } from '../plugin-api/index.ts';

export type ConflictResolution = 'generation' | 'last-update-time';

/** > 0 when `a` wins over `b`, < 0 when `b` wins, 0 when they are the same version. */
export function compareVersions(a: Pick<RecordMeta, 'generation' | 'lastUpdateMs'>, b: Pick<RecordMeta, 'generation' | 'lastUpdateMs'>, rule: ConflictResolution = 'generation'): number {
  const byGen = a.generation - b.generation;
  const byTime = a.lastUpdateMs - b.lastUpdateMs;
  if (rule === 'generation') return byGen !== 0 ? byGen : byTime;
  return byTime !== 0 ? byTime : byGen;
}
