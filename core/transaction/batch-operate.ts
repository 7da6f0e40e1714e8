/**
 * Batch operate: many records read and written in one call (Aerospike's batch writes —
 * BatchRead, BatchWrite, BatchDelete and BatchUDF records in one batch). Each entry is its own
 * single-record transaction with its own policy and result; the batch as a whole is not
 * atomic. Entries on the same record run one after another in request order (so a read placed
 * after a write sees it); entries on different records run concurrently, a bounded chunk at a
 * time (batchOperateChunks), so a batch's memory is bounded whatever it asks for.
 */
import { DbError, toDbError } from '../errors/index.ts';
import { digestString, type BinValue, type Bins, type RecordKey, type RecordMeta } from '../model/index.ts';
import type { Kernel } from './kernel.ts';
import type { Operation } from './operations.ts';
import type { RecordPredicate, ReplicaPolicy, WritePolicy } from './policy.ts';

/** The most entries one batch may hold (as BatchGet's keys). */
export const MAX_BATCH_ENTRIES = 5000;

/** One entry of a batch; `C` is how a record UDF call is described (the UDF subsystem's call). */
export type BatchEntry<C> =
  | { readonly kind: 'read'; readonly key: RecordKey; readonly bins?: readonly string[]; readonly headerOnly?: boolean; readonly filter?: RecordPredicate; readonly replica?: ReplicaPolicy }
  | { readonly kind: 'put'; readonly key: RecordKey; readonly bins: Bins; readonly policy?: WritePolicy }
  | { readonly kind: 'delete'; readonly key: RecordKey; readonly policy?: WritePolicy }
  | { readonly kind: 'operate'; readonly key: RecordKey; readonly operations: readonly Operation[]; readonly policy?: WritePolicy }
  | { readonly kind: 'udf'; readonly key: RecordKey; readonly call: C; readonly policy?: WritePolicy };

/** What an entry did: its record's metadata afterwards, bins (read or operate results), a UDF's return value. */
export interface BatchSuccess {
  readonly meta: RecordMeta | undefined;
  readonly bins: Bins;
  readonly udfResult?: BinValue;
}

/** Runs a record UDF for a batch entry (provided by the node's UDF subsystem). */
export type BatchUdf<C> = (key: RecordKey, call: C, policy: WritePolicy | undefined) => Promise<{ readonly value: BinValue; readonly meta: RecordMeta | undefined }>;

/**
 * Runs a batch; one result per entry, in order: what it did, or the DbError it failed with
 * (`inDoubt` set when a write's outcome is unknown).
 */
export async function batchOperate<C>(kernel: Kernel, entries: readonly BatchEntry<C>[], udf?: BatchUdf<C>): Promise<Array<BatchSuccess | DbError>> {
  const results: Array<BatchSuccess | DbError> = [];
  for await (const chunk of batchOperateChunks(kernel, entries, udf)) results.push(...chunk);
  return results;
}

/** Entries that may answer with bins (reads, operate, UDF) run at most this many at a time. */
export const BATCH_CHUNK_READS = 32;
/** Entries of any kind run at most this many at a time. */
export const BATCH_CHUNK_ENTRIES = 256;

/**
 * Runs a batch a chunk at a time and yields each chunk's results in entry order, so a caller
 * holds one chunk's records at a time (at most BATCH_CHUNK_READS entries that may answer with
 * bins). A caller that stops iterating stops the batch: entries after the last chunk yielded
 * do not run. Entries of one record run in request order across chunks as within one.
 */
export async function* batchOperateChunks<C>(kernel: Kernel, entries: readonly BatchEntry<C>[], udf?: BatchUdf<C>): AsyncGenerator<Array<BatchSuccess | DbError>> {
  if (entries.length === 0) throw new DbError('PARAMETER', 'a batch needs at least one entry');
  if (entries.length > MAX_BATCH_ENTRIES) {
    throw new DbError('BATCH_MAX_REQUESTS', `a batch may hold ${MAX_BATCH_ENTRIES} entries; this one has ${entries.length}`, { hint: 'split the batch' });
  }
  let start = 0;
  while (start < entries.length) {
    let end = start;
    let reads = 0;
    while (end < entries.length && end - start < BATCH_CHUNK_ENTRIES) {
      const kind = (entries[end] as BatchEntry<C>).kind;
      if (kind === 'read' || kind === 'operate' || kind === 'udf') {
        if (reads === BATCH_CHUNK_READS) break;
        reads++;
      }
      end++;
    }
    yield await runChunk(kernel, entries.slice(start, end), udf);
    start = end;
  }
}

/** Runs entries concurrently, except that entries of one record run one after another in order. */
async function runChunk<C>(kernel: Kernel, entries: readonly BatchEntry<C>[], udf: BatchUdf<C> | undefined): Promise<Array<BatchSuccess | DbError>> {
  const results = new Array<BatchSuccess | DbError>(entries.length);
  // entries of one record, in request order
  const byRecord = new Map<string, number[]>();
  entries.forEach((e, i) => {
    const id = `${e.key.namespace}\u0000${digestString(e.key.digest)}`;
    const list = byRecord.get(id);
    if (list === undefined) byRecord.set(id, [i]);
    else list.push(i);
  });
  await Promise.all([...byRecord.values()].map(async (indexes) => {
    for (const i of indexes) {
      try {
        results[i] = await runEntry(kernel, entries[i] as BatchEntry<C>, udf);
      } catch (err) {
        results[i] = toDbError(err);
      }
    }
  }));
  return results;
}

async function runEntry<C>(kernel: Kernel, e: BatchEntry<C>, udf: BatchUdf<C> | undefined): Promise<BatchSuccess> {
  switch (e.kind) {
    case 'read': {
      const rec = await kernel.get(e.key, {
        ...(e.bins === undefined ? {} : { bins: e.bins }), ...(e.headerOnly === true ? { headerOnly: true } : {}), ...(e.filter === undefined ? {} : { filter: e.filter }),
        ...(e.replica === undefined ? {} : { replica: e.replica }),
      });
      return { meta: rec.meta, bins: rec.bins };
    }
    case 'put': {
      if (Object.keys(e.bins).length === 0) throw new DbError('PARAMETER', 'a batch put needs at least one bin', { hint: 'send bins, or use a delete entry' });
      return { meta: await kernel.put(e.key, e.bins, e.policy), bins: {} };
    }
    case 'delete':
      await kernel.delete(e.key, e.policy);
      return { meta: undefined, bins: {} };
    case 'operate': {
      const r = await kernel.operate(e.key, e.operations, e.policy);
      return { meta: r.meta, bins: r.bins };
    }
    case 'udf': {
      if (udf === undefined) {
        throw new DbError('UNSUPPORTED_FEATURE', 'this node runs no UDFs, so a batch cannot apply one', { hint: 'enable the UDF subsystem, or leave UDF entries out' });
      }
      const r = await udf(e.key, e.call, e.policy);
      return { meta: r.meta, bins: {}, udfResult: r.value };
    }
  }
}
