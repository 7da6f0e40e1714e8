import { makeKey, type Bins, type RecordMeta } from '../../core/model/index.ts';
import type { RecordView } from '../../core/udf/index.ts';

export const KEY = makeKey('test', 'demo', 'k1');

export function view(bins: Bins | undefined, meta: Partial<RecordMeta> = {}): RecordView {
  if (bins === undefined) return { key: KEY, exists: false, bins: {} };
  return { key: KEY, exists: true, bins, meta: { generation: 1, voidTime: 0, lastUpdateMs: 1_700_000_000_000, ...meta } };
}

export async function rejects(p: Promise<unknown>): Promise<Error & { resultCode?: number; code?: string }> {
  try {
    await p;
  } catch (err) {
    return err as Error & { resultCode?: number; code?: string };
  }
  throw new Error('expected a rejection');
}
