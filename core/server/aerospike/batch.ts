/**
 * Batch-index commands (info1 BATCH, field 41): rows of reads, writes, deletes, operate and
 * record UDFs, each run as its single-record command would run; every key gets an answer row
 * (transaction_ttl = its index in the request), then a LAST row.
 */
import { DbError, toDbError } from '../../errors/index.ts';
import type { FrontEndContext } from './context.ts';
import { ResponseWriter, malformed, parseOpsAndFields, type Msg, type OutMsg } from './message.ts';
import { Field, Info2, Info3 } from './protocol.ts';
import { keyOf, runRecordCommand } from './records.ts';
import { runRecordUdf } from './udf.ts';
import type { Reply } from './connection.ts';

const ROW_REPEAT = 0x01;
const ROW_INFO = 0x02;
const ROW_GEN = 0x04;
const ROW_TTL = 0x08;
const ROW_INFO4 = 0x10;

/** Largest number of keys in one batch. */
export const MAX_BATCH_ROWS = 100_000;
const PAGE_BYTES = 128 * 1024;

interface Row {
  readonly index: number;
  readonly msg: Msg;
}

/** The rows of a batch field, each as a keyed message. */
export function parseBatch(data: Buffer, parentFilter: Buffer | undefined): Row[] {
  if (data.length < 5) throw malformed('the batch field is too short');
  const n = data.readUInt32BE(0);
  if (n > MAX_BATCH_ROWS) throw new DbError('BATCH_MAX_REQUESTS', `a batch may hold ${MAX_BATCH_ROWS} keys; this one has ${n}`, { hint: 'split the batch' });
  let p = 5;
  const rows: Row[] = [];
  let prev: Msg | undefined;
  for (let i = 0; i < n; i++) {
    if (p + 25 > data.length) throw malformed(`batch row ${i} is cut off`);
    const index = data.readUInt32BE(p);
    const digest = data.subarray(p + 4, p + 24);
    const flags = data[p + 24] as number;
    p += 25;
    if (flags & ROW_REPEAT) {
      if (prev === undefined) throw malformed('the first batch row cannot repeat a previous one');
      rows.push({ index, msg: { ...prev, fields: prev.fields.with(Field.DIGEST, digest) } });
      continue;
    }
    const need = (k: number): void => { if (p + k > data.length) throw malformed(`batch row ${i} is cut off`); };
    need(1);
    const info1 = data[p++] as number;
    let info2 = 0;
    let info3 = 0;
    let info4 = 0;
    let generation = 0;
    let recordTtl = 0;
    if (flags & ROW_INFO) { need(2); info2 = data[p++] as number; info3 = data[p++] as number; }
    if (flags & ROW_INFO4) { need(1); info4 = data[p++] as number; }
    if (flags & ROW_GEN) { need(2); generation = data.readUInt16BE(p); p += 2; }
    if (flags & ROW_TTL) { need(4); recordTtl = data.readUInt32BE(p); p += 4; }
    need(4);
    const nFields = data.readUInt16BE(p);
    const nOps = data.readUInt16BE(p + 2);
    p += 4;
    const parsed = parseOpsAndFields(data, p, nFields, nOps);
    p = parsed.next;
    const fields = parsed.fields;
    fields.set(Field.DIGEST, digest);
    if (!fields.has(Field.FILTER) && parentFilter !== undefined) fields.set(Field.FILTER, parentFilter);
    prev = { info1, info2, info3, info4, generation, recordTtl, transactionTtl: 0, fields, ops: parsed.ops };
    rows.push({ index, msg: prev });
  }
  return rows;
}

async function runRow(ctx: FrontEndContext, row: Row): Promise<OutMsg> {
  try {
    const key = keyOf(ctx.kernel, row.msg.fields);
    if (row.msg.fields.has(Field.UDF_PACKAGE_NAME)) return await runRecordUdf(ctx, row.msg, key);
    return await runRecordCommand(ctx.kernel, row.msg, key);
  } catch (err) {
    const e = toDbError(err);
    if (e.code === 'SERVER_ERROR') ctx.logger.error({ err }, 'a batch row failed');
    return { resultCode: e.resultCode >= 0 && e.resultCode <= 255 ? e.resultCode : 1 };
  }
}

/** Rows run at a time (rows of one record run in request order, as Aerospike's batch does). */
const BATCH_CHUNK_ROWS = 32;

/** Runs rows concurrently, except that rows of one record run one after another in order. */
async function runChunk(ctx: FrontEndContext, rows: readonly Row[]): Promise<OutMsg[]> {
  const answers = new Array<OutMsg>(rows.length);
  const byRecord = new Map<string, number[]>();
  rows.forEach((r, i) => {
    const digest = r.msg.fields.get(Field.DIGEST);
    const id = `${r.msg.fields.get(Field.NAMESPACE)?.toString('latin1') ?? ''}\u0000${digest?.toString('hex') ?? i}`;
    const list = byRecord.get(id);
    if (list === undefined) byRecord.set(id, [i]);
    else list.push(i);
  });
  await Promise.all([...byRecord.values()].map(async (indexes) => {
    for (const i of indexes) answers[i] = await runRow(ctx, rows[i] as Row);
  }));
  return answers;
}

export async function runBatch(ctx: FrontEndContext, msg: Msg, reply: Reply, compress: (b: Buffer) => Buffer): Promise<void> {
  const data = msg.fields.get(Field.BATCH_INDEX) ?? msg.fields.get(Field.BATCH_INDEX_WITH_SET);
  if (data === undefined) throw new DbError('PARAMETER', 'a batch message needs field 41 (batch index)');
  const rows = parseBatch(data, msg.fields.get(Field.FILTER));
  ctx.kernel.counters.batches++;
  // rows run a chunk at a time and their answers go out as pages fill (waiting for the client
  // to take them), so a batch holds one chunk of records whatever it asks for
  let page = new ResponseWriter(64 * 1024);
  for (let start = 0; start < rows.length; start += BATCH_CHUNK_ROWS) {
    const chunk = rows.slice(start, start + BATCH_CHUNK_ROWS);
    const answers = await runChunk(ctx, chunk);
    for (let i = 0; i < chunk.length; i++) {
      page.add({ ...(answers[i] as OutMsg), transactionTtl: (chunk[i] as Row).index });
      if (page.length >= PAGE_BYTES) {
        await reply.send(compress(page.finish()));
        page = new ResponseWriter(64 * 1024);
        if (reply.closed) return;
      }
    }
  }
  page.add({ resultCode: 0, info3: Info3.LAST });
  await reply.send(compress(page.finish()));
}

export { Info2 };
