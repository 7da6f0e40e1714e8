/**
 * Scans and secondary-index queries by partition (an AS_MSG without a digest): the partitions
 * to start (PID_ARRAY) and to resume after a digest (DIGEST_ARRAY), max records, records per
 * second, bin projection, filter expression; answered as a stream of record rows (fields
 * namespace, digest, set, key) ended by a LAST row. Background queries (operation lists or a
 * record UDF) are answered at once and run as jobs.
 */
import { DbError } from '../../errors/index.ts';
import { GeoJson, digestString, type DbRecord, type RecordKey } from '../../model/index.ts';
import type { StoredRecord } from '../../plugin-api/index.ts';
import * as ast from '../../query/expr/ast.ts';
import type { Expr } from '../../query/expr/ast.ts';
import { QUERY_SUBSYSTEM } from '../../services/keys.ts';
import { UDF_RUNNER_KEY } from '../../services/keys.ts';
import type { ScanRequest } from '../../transaction/kernel.ts';
import type { FrontEndContext } from './context.ts';
import type { JobTracker } from './jobs.ts';
import { ResponseWriter, fieldString, type Msg, type OutMsg } from './message.ts';
import { deadlineOf, filterOf, isWrite, operationOf, policyOf } from './records.ts';
import { Field, Info1, Info3, Op, wireVoidTime } from './protocol.ts';
import { answerBy } from '../../transaction/policy.ts';
import { wireExpr } from './expressions.ts';
import { udfArgs } from './udf.ts';
import type { Reply } from './connection.ts';

/** Rows are sent in protos of about this many bytes. */
const PAGE_BYTES = 128 * 1024;

function u64(f: Buffer | undefined): number | undefined {
  if (f === undefined) return undefined;
  if (f.length !== 8) throw new DbError('PARAMETER', 'a u64 field needs 8 bytes');
  return Number(f.readBigUInt64BE(0));
}

function u32(f: Buffer | undefined): number | undefined {
  if (f === undefined) return undefined;
  if (f.length !== 4) throw new DbError('PARAMETER', 'a u32 field needs 4 bytes');
  return f.readUInt32BE(0);
}

interface Work {
  /** Fresh partitions, in order. */
  readonly fresh: number[];
  /** Partitions to resume after a digest. */
  readonly resume: Map<number, Uint8Array>;
}

function partitionsOf(msg: Msg): Work {
  const fresh: number[] = [];
  const resume = new Map<number, Uint8Array>();
  const pids = msg.fields.get(Field.PID_ARRAY);
  const digests = msg.fields.get(Field.DIGEST_ARRAY);
  const seen = new Set<number>();
  const add = (p: number): void => {
    if (p >= 4096) throw new DbError('PARAMETER', `partition ${p} does not exist`, { hint: 'partitions are numbered 0 to 4095' });
    if (seen.has(p)) throw new DbError('PARAMETER', `partition ${p} is listed twice`);
    seen.add(p);
  };
  if (pids !== undefined) {
    if (pids.length % 2 !== 0) throw new DbError('PARAMETER', 'the partition id array has an odd length');
    for (let i = 0; i < pids.length; i += 2) { const p = pids.readUInt16LE(i); add(p); fresh.push(p); }
  }
  if (digests !== undefined) {
    if (digests.length % 20 !== 0) throw new DbError('PARAMETER', 'the digest array is not a whole number of 20-byte digests');
    for (let i = 0; i < digests.length; i += 20) {
      const d = new Uint8Array(digests.subarray(i, i + 20));
      const p = ((d[0] as number) | ((d[1] as number) << 8)) & 0xfff;
      add(p);
      resume.set(p, d);
    }
  }
  if (pids === undefined && digests === undefined) for (let p = 0; p < 4096; p++) fresh.push(p);
  return { fresh, resume };
}

const COLLECTION_OF = ['DEFAULT', 'LIST', 'MAPKEYS', 'MAPVALUES'] as const;
const INDEX_TYPE_OF: Readonly<Record<number, string>> = { 1: 'NUMERIC', 3: 'STRING', 4: 'BLOB', 23: 'GEO2DSPHERE' };

/** The bin and particle type an index filter (field 22) is on. */
function indexTarget(range: Buffer): { bin: string; type: number } {
  if (range.length < 2 || range.length < 3 + (range[1] as number)) throw new DbError('PARAMETER', 'the index range field is cut off');
  const n = range[1] as number;
  return { bin: range.toString('utf8', 2, 2 + n), type: range[2 + n] as number };
}

/** An index filter (field 22) as an expression on the bin (and the collection kind, field 26). */
function indexWhere(range: Buffer, indexType: number): Expr {
  let p = 0;
  const need = (n: number): void => { if (p + n > range.length) throw new DbError('PARAMETER', 'the index range field is cut off'); };
  need(2);
  const n = range[p++] as number;
  if (n !== 1) throw new DbError('PARAMETER', `a query takes one index filter, not ${n}`);
  const nameLen = range[p++] as number;
  need(nameLen + 1);
  const bin = range.toString('utf8', p, p + nameLen);
  p += nameLen;
  const type = range[p++] as number;
  need(4);
  const bl = range.readUInt32BE(p); p += 4; need(bl);
  const begin = range.subarray(p, p + bl); p += bl;
  need(4);
  const el = range.readUInt32BE(p); p += 4; need(el);
  const end = range.subarray(p, p + el);
  const elemOf = (test: (e: Expr) => Expr): Expr => {
    switch (indexType) {
      case 0: return test(ast.bin(bin));
      case 1: return ast.anyElem('list', ast.bin(bin), test(ast.elem));
      case 2: return ast.anyElem('mapkeys', ast.bin(bin), test(ast.elem));
      case 3: return ast.anyElem('mapvalues', ast.bin(bin), test(ast.elem));
      default: throw new DbError('PARAMETER', `index type ${indexType} is not known`);
    }
  };
  switch (type) {
    case 1: {
      if (bl !== 8 || el !== 8) throw new DbError('PARAMETER', 'an integer index range needs 8-byte bounds');
      const lo = begin.readBigInt64BE(0);
      const hi = end.readBigInt64BE(0);
      return elemOf((e) => (lo === hi ? ast.cmp('=', e, ast.lit(lo)) : ast.and(ast.cmp('>=', e, ast.lit(lo)), ast.cmp('<=', e, ast.lit(hi)))));
    }
    case 3: return elemOf((e) => ast.cmp('=', e, ast.lit(begin.toString('utf8'))));
    case 4: return elemOf((e) => ast.cmp('=', e, ast.lit(new Uint8Array(begin))));
    case 23: {
      const region = new GeoJson(begin.toString('utf8'));
      const shape = JSON.parse(region.text) as { type?: string };
      // a point asks for the regions that contain it; a region for the points within it
      return elemOf((e) => (shape.type === 'Point' ? ast.geoContains(e, ast.lit(region)) : ast.geoWithin(e, ast.lit(region))));
    }
    default: throw new DbError('PARAMETER', `an index filter on particle type ${type} is not supported`, { hint: 'filter on integers, strings, bytes or GeoJSON' });
  }
}

function rowOf(namespace: string, rec: { key: RecordKey; meta: DbRecord['meta']; bins: DbRecord['bins'] }, storedKey: Uint8Array | undefined, noBins: boolean): OutMsg {
  const fields: Array<[number, Buffer]> = [[Field.NAMESPACE, Buffer.from(namespace, 'utf8')], [Field.DIGEST, Buffer.from(rec.key.digest)]];
  if (rec.key.set !== '') fields.push([Field.SET, Buffer.from(rec.key.set, 'utf8')]);
  if (storedKey !== undefined) fields.push([Field.KEY, Buffer.from(storedKey)]);
  const bins = noBins ? [] : Object.keys(rec.bins).map((name) => ({ name, value: rec.bins[name] ?? null }));
  return { resultCode: 0, info1: noBins ? Info1.NOBINDATA : 0, generation: rec.meta.generation, voidTime: wireVoidTime(rec.meta.voidTime), fields, bins };
}

export async function runScan(ctx: FrontEndContext, jobs: JobTracker, msg: Msg, reply: Reply, compress: (b: Buffer) => Buffer): Promise<void> {
  const { kernel } = ctx;
  const namespace = fieldString(msg, Field.NAMESPACE);
  if (namespace === undefined) throw new DbError('PARAMETER', 'the scan has no namespace field', { hint: 'send field 0 (namespace)' });
  kernel.namespace(namespace);
  const setName = fieldString(msg, Field.SET);
  const set = setName === undefined || setName === '' ? undefined : setName;
  const taskId = msg.fields.get(Field.TASK_ID);
  const trid = taskId === undefined || taskId.length !== 8 ? String(Date.now()) : taskId.readBigUInt64BE(0).toString();
  const rps = u32(msg.fields.get(Field.RECS_PER_SEC)) ?? 0;
  const udfOp = msg.fields.get(Field.UDF_OP)?.[0];
  const filterBytes = msg.fields.get(Field.FILTER);
  const range = msg.fields.get(Field.INDEX_RANGE);
  const indexType = msg.fields.get(Field.INDEX_TYPE)?.[0] ?? 0;
  let where: Expr | undefined = filterBytes === undefined || filterBytes.length === 0 ? undefined : wireExpr(filterBytes);
  if (range !== undefined) {
    const w = indexWhere(range, indexType);
    where = where === undefined ? w : ast.and(w, where);
  }

  if (udfOp === 1) {
    await reply.send(compress(finalRow(16, 'stream UDFs (aggregations) are finished by the Aerospike clients in Lua, which Slipstream does not run; use the gRPC UdfService Aggregate or AQL AGGREGATE')));
    return;
  }
  if (udfOp === 2) {
    const runner = ctx.services.get(UDF_RUNNER_KEY);
    if (runner === undefined) throw new DbError('UNSUPPORTED_FEATURE', 'this node runs without UDFs');
    const call = { module: fieldString(msg, Field.UDF_PACKAGE_NAME) ?? '', fn: fieldString(msg, Field.UDF_FUNCTION) ?? '', args: udfArgs(msg.fields.get(Field.UDF_ARGLIST)) };
    const job = await runner.startJob(call, { namespace, ...(set === undefined ? {} : { set }), ...(where === undefined ? {} : { where }) }, rps, policyOf(msg, false, undefined));
    jobs.trackUdf(trid, job.id);
    await reply.send(compress(finalRow(0)));
    return;
  }
  if (isWrite(msg)) {
    const ops = msg.ops.map(operationOf);
    const filter = filterOf(kernel, msg.fields);
    const scan: ScanRequest = { namespace, ...(set === undefined ? {} : { set }), ...(filter === undefined ? {} : { filter }) };
    if (range !== undefined) throw new DbError('UNSUPPORTED_FEATURE', 'a background operation query with an index filter is not supported yet', { hint: 'use a filter expression instead' });
    jobs.startOps(trid, kernel, scan, ops, policyOf(msg, false, undefined), rps);
    await reply.send(compress(finalRow(0)));
    return;
  }

  const noBins = (msg.info1 & Info1.NOBINDATA) !== 0;
  const projected = msg.ops.filter((o) => o.op === Op.READ && o.name !== '').map((o) => o.name);
  if (msg.ops.some((o) => o.op !== Op.READ)) throw new DbError('UNSUPPORTED_FEATURE', 'operations other than bin reads in a foreground scan or query are not supported yet');
  const only = projected.length > 0 ? new Set(projected) : undefined;
  const max = u64(msg.fields.get(Field.MAX_RECORDS)) ?? 0;
  const work = partitionsOf(msg);
  // partitions this node does not master (the client's map is behind the cluster's): marked
  // done with UNAVAILABLE (11), so that the client asks their master again
  const local = kernel.router.localNode;
  const away = [...work.fresh, ...work.resume.keys()].filter((p) => kernel.router.masterOf(namespace, p) !== local);
  if (away.length > 0) {
    const gone = new Set(away);
    work.fresh.splice(0, work.fresh.length, ...work.fresh.filter((p) => !gone.has(p)));
    for (const p of away) work.resume.delete(p);
  }
  // the client's total timeout (transaction_ttl; 0: none): a little before it (answerBy, so that
  // the node's TIMEOUT reaches the client before its own timer) the scan or query stops reading,
  // asks no node for more, and the stream ends with TIMEOUT (9)
  const ttlEnd = deadlineOf(kernel, msg);
  const deadline = ttlEnd === undefined ? undefined : answerBy(ttlEnd, kernel.clock.now());
  const started = Date.now();
  let sent = 0;
  let page = new ResponseWriter(PAGE_BYTES + 4096);
  const flush = async (): Promise<void> => {
    if (page.length === 0) return;
    const frame = page.finish();
    page = new ResponseWriter(PAGE_BYTES + 4096);
    await reply.send(compress(frame));
  };
  const emit = async (row: OutMsg): Promise<boolean> => {
    if (reply.closed) return false;
    page.add(row);
    sent++;
    if (page.length >= PAGE_BYTES) await flush();
    if (rps > 0) {
      const wait = started + (sent * 1000) / rps - Date.now();
      if (wait > 0) { await flush(); await new Promise((r) => setTimeout(r, wait)); }
    }
    return max === 0 || sent < max;
  };

  if (range === undefined) {
    const filter = filterOf(kernel, msg.fields);
    const base: ScanRequest = { namespace, ...(set === undefined ? {} : { set }), ...(filter === undefined ? {} : { filter }), ...(deadline === undefined ? {} : { deadline }) };
    const scans: ScanRequest[] = [...work.resume].map(([p, d]) => ({ ...base, partitions: [p], afterDigest: d }));
    if (work.fresh.length > 0) scans.push({ ...base, partitions: work.fresh });
    outer: for (const s of scans) {
      for await (const stored of kernel.scanStored(s)) {
        const rec = kernel.scannedRecord(namespace, stored, only, noBins);
        if (only !== undefined && Object.keys(rec.bins).length === 0) continue;
        if (!(await emit(rowOf(namespace, rec, (stored as StoredRecord).key, noBins)))) break outer;
      }
    }
  } else {
    const q = ctx.services.get(QUERY_SUBSYSTEM);
    if (q === undefined) throw new DbError('UNSUPPORTED_FEATURE', 'this node runs without secondary indexes');
    const name = fieldString(msg, Field.INDEX_NAME);
    if (name !== undefined && !q.indexes.list(namespace).some((i) => i.name === name)) throw new DbError('INDEX_NOT_FOUND', `index '${name}' does not exist`);
    // as on Aerospike, an index filter needs an index on its bin (it is never answered by a scan)
    const target = indexTarget(range);
    const collection = COLLECTION_OF[indexType] ?? 'DEFAULT';
    if (!q.indexes.list(namespace).some((i) => i.bin === target.bin && i.type === INDEX_TYPE_OF[target.type] && i.collection === collection && (i.set === undefined || i.set === set))) {
      throw new DbError('INDEX_NOT_FOUND', `no ${INDEX_TYPE_OF[target.type] ?? ''} index on bin '${target.bin}'${collection === 'DEFAULT' ? '' : ` (${collection})`} in namespace '${namespace}'`, { hint: 'create the index first' });
    }
    const partitions = [...work.fresh, ...work.resume.keys()];
    const order = new Map(partitions.map((p, i) => [p, i]));
    const rows: DbRecord[] = [];
    const spec = {
      namespace, ...(set === undefined ? {} : { set }), ...(where === undefined ? {} : { where }),
      ...(noBins ? { bins: [] } : only !== undefined ? { bins: [...only] } : {}), partitions: { ids: partitions },
      ...(name === undefined ? {} : { indexName: name }),
      ...(deadline === undefined ? {} : { deadline }),
    };
    for await (const row of q.engine.query(spec)) {
      const after = work.resume.get(row.record.key.partition);
      if (after !== undefined && digestString(row.record.key.digest) <= digestString(after)) continue;
      rows.push(row.record);
    }
    // partition by partition in the client's order, digest order within: so digests resume
    rows.sort((a, b) => ((order.get(a.key.partition) ?? 0) - (order.get(b.key.partition) ?? 0)) || (digestString(a.key.digest) < digestString(b.key.digest) ? -1 : 1));
    for (const rec of rows) {
      const stored = rec.key.userKey;
      const keyBytes = stored === undefined ? undefined : encodeKeyField(stored);
      if (!(await emit(rowOf(namespace, rec, keyBytes, noBins)))) break;
    }
  }
  for (const p of away) page.add({ resultCode: 11, info3: Info3.PARTITION_DONE, generation: p });
  page.add({ resultCode: 0, info3: Info3.LAST });
  await flush();
}

function encodeKeyField(k: string | bigint | Uint8Array): Uint8Array {
  if (typeof k === 'bigint') { const b = Buffer.alloc(9); b[0] = 1; b.writeBigInt64BE(k, 1); return b; }
  if (typeof k === 'string') return Buffer.concat([Buffer.from([3]), Buffer.from(k, 'utf8')]);
  return Buffer.concat([Buffer.from([4]), k]);
}

/** The LAST row ending a stream, with the stream's result (and a FAILURE bin with a message). */
export function finalRow(resultCode: number, failure?: string): Buffer {
  const w = new ResponseWriter();
  if (failure !== undefined) w.add({ resultCode, bins: [{ name: 'FAILURE', value: failure }] });
  w.add({ resultCode, info3: Info3.LAST });
  return w.finish();
}
