/**
 * Packing streamed results into messages (ScanRequest / QueryRequest `records_per_message`):
 * a page goes out when it holds `perMessage` items, reaches PAGE_BYTES, or PAGE_MAX_AGE_MS
 * after its first item (even while the source is still looking for the next one, as a
 * filtered scan with rare matches does), and at the end of the stream.
 */
import { DbError } from '../../errors/index.ts';

/** At most this many records per message. */
export const MAX_RECORDS_PER_MESSAGE = 1000;
/** A page goes out at about this size (bytes, estimated) … */
export const PAGE_BYTES = 1024 * 1024;
/** … or this long after its first item, ms. */
export const PAGE_MAX_AGE_MS = 20;

/** Checks a request's records_per_message (0 and 1 both mean one record per message). */
export function checkRecordsPerMessage(n: number): number {
  if (!Number.isInteger(n) || n < 0 || n > MAX_RECORDS_PER_MESSAGE) {
    throw new DbError('PARAMETER', `records_per_message may be at most ${MAX_RECORDS_PER_MESSAGE}, got ${n}`, { hint: `ask for 1 to ${MAX_RECORDS_PER_MESSAGE}` });
  }
  return n;
}

/** Groups `items` into pages as described above; `bytesOf` estimates an item's encoded size. */
export async function* pages<T>(items: AsyncIterable<T>, perMessage: number, bytesOf: (item: T) => number, maxAgeMs = PAGE_MAX_AGE_MS): AsyncGenerator<T[]> {
  const it = items[Symbol.asyncIterator]();
  let page: T[] = [];
  let bytes = 0;
  let next: Promise<IteratorResult<T>> | undefined;
  // one timer per page: it settles `expired` when the page is maxAgeMs old
  let expired: Promise<undefined> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let done = false;
  const flush = (): T[] => {
    const full = page;
    page = [];
    bytes = 0;
    clearTimeout(timer);
    expired = undefined;
    return full;
  };
  try {
    for (;;) {
      next ??= it.next();
      const r = expired === undefined ? await next : await Promise.race([next, expired]);
      if (r === undefined) {
        yield flush(); // the page is old; the same `next` is still pending
        continue;
      }
      next = undefined;
      if (r.done === true) {
        done = true;
        break;
      }
      if (page.length === 0) expired = new Promise<undefined>((resolve) => { timer = setTimeout(resolve, maxAgeMs, undefined); });
      page.push(r.value);
      bytes += bytesOf(r.value);
      if (page.length >= perMessage || bytes >= PAGE_BYTES) yield flush();
    }
    if (page.length > 0) yield flush();
  } finally {
    clearTimeout(timer);
    if (!done) {
      // stopped early (the caller went away, or the source failed): close the source without
      // waiting for an item it may still be looking for
      next?.catch(() => undefined);
      it.return?.()?.catch(() => undefined);
    }
  }
}
