/**
 * Packing streamed results into messages (ScanRequest / QueryRequest `records_per_message`):
 * a page goes out when it holds `perMessage` items, reaches PAGE_BYTES, or PAGE_MAX_AGE_MS
 * after its first item (checked as items arrive), and at the end of the stream.
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
export async function* pages<T>(items: AsyncIterable<T>, perMessage: number, bytesOf: (item: T) => number): AsyncGenerator<T[]> {
  let page: T[] = [];
  let bytes = 0;
  let since = 0;
  for await (const item of items) {
    if (page.length === 0) since = performance.now();
    page.push(item);
    bytes += bytesOf(item);
    if (page.length >= perMessage || bytes >= PAGE_BYTES || performance.now() - since >= PAGE_MAX_AGE_MS) {
      yield page;
      page = [];
      bytes = 0;
    }
  }
  if (page.length > 0) yield page;
}
