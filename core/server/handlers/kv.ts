import type { handleServerStreamingCall, handleUnaryCall, UntypedServiceImplementation } from '@grpc/grpc-js';
import {
  KeyValueServiceService, BatchGetResponse, BatchOperateResponse, BatchOperateResult, type BatchGetRequest, type BatchEntry as PbBatchEntry, type BatchOperateRequest,
  type GetRequest, type GetResponse, type KeyValueServiceServer, type ScanRequest, type ScanResponse,
} from '../../wire/generated/slipstream/v1/kv.ts';
import type { ReadPolicy as PbReadPolicy, WritePolicy as PbWritePolicy } from '../../wire/generated/slipstream/v1/types.ts';
import { batchOperateChunks, MAX_BATCH_ENTRIES, type BatchEntry, type BatchSuccess } from '../../transaction/batch-operate.ts';
import type { ServiceLocator } from '../../services/locator.ts';
import { UDF_RUNNER_KEY } from '../../services/keys.ts';
import type { UdfCall } from '../../udf/engine.ts';
import { callOf, targetOf, toPbJob } from './udf.ts';
import { toPbValue } from '../../wire/convert.ts';
import { acceptingEncoded, EncodedResponse } from '../wire/encoded.ts';
import { encodeBatchGetResponse, encodeGetResponse, encodeScanPage } from '../wire/get-response.ts';
import { DbError } from '../../errors/index.ts';
import type { RecordKey } from '../../model/index.ts';
import type { Kernel } from '../../transaction/kernel.ts';
import type { Logger } from '../../plugin-api/index.ts';
import { checkRecordsPerMessage, pages } from '../wire/pages.ts';
import type { ReadPolicy, RecordPredicate } from '../../transaction/policy.ts';
import { fromPbBins, toPbBins, toPbMeta, toPbRecord } from '../../wire/convert.ts';
import { callDeadline, callReadPolicy, callWritePolicy, fromPbKey, fromPbWritePolicy, refusePolicyFields, JOB_REFUSES, RECORD_UDF_REFUSES, type WritePolicyField } from './request-mapping.ts';
import { MAX_MESSAGE_BYTES } from '../grpc-server.ts';
import { fromPbOperation } from './operations.ts';
import { recordFilter } from '../../query/record-filter.ts';
import { serverStream, unary } from '../rpc.ts';

export const MAX_BATCH_KEYS = 5000;

/** KeyValueService handlers; Get, BatchGet and Scan may answer with pre-encoded bytes (the fast path). */
export type KeyValueHandlers = Pick<KeyValueServiceServer, 'put' | 'exists' | 'delete' | 'touch' | 'operate' | 'truncate' | 'startOperationJob'>
  & {
    get: handleUnaryCall<GetRequest, GetResponse | EncodedResponse>;
    batchGet: handleUnaryCall<BatchGetRequest, BatchGetResponse | EncodedResponse>;
    batchOperate: handleUnaryCall<BatchOperateRequest, BatchOperateResponse | EncodedResponse>;
    scan: handleServerStreamingCall<ScanRequest, ScanResponse | EncodedResponse>;
  } & UntypedServiceImplementation;

/** The KeyValueService definition to register with keyValueHandlers. */
export const keyValueService = acceptingEncoded(KeyValueServiceService, ['get', 'batchGet', 'batchOperate', 'scan']);

/** Keys read and encoded at a time: a batch holds at most the message cap plus one chunk. */
const BATCH_CHUNK_KEYS = 32;

/**
 * A batch's answer is one gRPC message. It is read and encoded a chunk of keys at a time (the
 * encodings of a repeated field concatenate), and refused as soon as it passes the message cap,
 * so memory stays bounded by the cap whatever the batch asks for.
 */
async function batchAnswer<T>(keys: readonly RecordKey[], read: (chunk: RecordKey[]) => Promise<T[]>, encode: (chunk: RecordKey[], results: T[]) => Uint8Array): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let total = 0;
  for (let i = 0; i < keys.length; i += BATCH_CHUNK_KEYS) {
    const chunk = keys.slice(i, i + BATCH_CHUNK_KEYS);
    const bytes = encode(chunk, await read(chunk));
    total += bytes.length;
    if (total > MAX_MESSAGE_BYTES) {
      throw new DbError('BATCH_MAX_REQUESTS', `the answer to this batch of ${keys.length} keys passes ${MAX_MESSAGE_BYTES / 1048576} MiB, the most a gRPC message may hold, after ${i + chunk.length} keys`, {
        hint: 'split the batch into smaller ones, or name only the bins you need',
      });
    }
    parts.push(bytes);
  }
  return Buffer.concat(parts, total);
}

/** Encodes one BatchOperate result (the encodings of a repeated field concatenate). */
function encodeBatchResult(r: BatchSuccess | DbError, t: number): Uint8Array {
  const result = r instanceof DbError
    ? { resultCode: r.resultCode, message: r.message, inDoubt: r.inDoubt, bins: [] }
    : {
      resultCode: 0, message: '', inDoubt: false, bins: toPbBins(r.bins),
      ...(r.meta === undefined ? {} : { meta: toPbMeta(r.meta, t) }),
      ...(r.udfResult === undefined ? {} : { udfResult: toPbValue(r.udfResult) }),
    };
  return BatchOperateResponse.encode({ results: [result] }).finish();
}

const CAP_MIB = MAX_MESSAGE_BYTES / 1048576;
/** The answer row of an entry that did not run because the answer was full (not applied). */
const NOT_RUN = BatchOperateResponse.encode({ results: [BatchOperateResult.fromPartial({
  resultCode: 151, message: `not run: the answer to this batch reached ${CAP_MIB} MiB before this entry`,
})] }).finish();
/** The row of a read whose result does not fit (it changed nothing). */
const READ_TOO_LARGE = BatchOperateResponse.encode({ results: [BatchOperateResult.fromPartial({
  resultCode: 151, message: `its result does not fit in the ${CAP_MIB} MiB answer; read it in a smaller batch`,
})] }).finish();
/** The row of a write (put, delete, operate, UDF) that ran but whose result does not fit: in doubt to the client. */
const WRITE_TOO_LARGE = BatchOperateResponse.encode({ results: [BatchOperateResult.fromPartial({
  resultCode: 151, inDoubt: true, message: `its result does not fit in the ${CAP_MIB} MiB answer; it ran, so its write may have been applied`,
})] }).finish();
/** Room kept for each entry not yet answered, so its row always fits. */
const ROW_RESERVE = Math.max(NOT_RUN.length, READ_TOO_LARGE.length, WRITE_TOO_LARGE.length);

/**
 * The answer to a BatchOperate as one message, bounded by the message cap whatever the batch
 * asks for: results are encoded a chunk at a time as the batch runs; an entry whose result
 * would pass the cap (keeping room for a short row per entry still to come) is answered 151
 * instead (a read: "read it in a smaller batch"; a write that ran: 151 in doubt), and the batch
 * stops: entries after that chunk do not run and are answered 151 "not run" (not applied).
 */
async function batchOperateAnswer<C>(entries: readonly BatchEntry<C>[], chunks: AsyncGenerator<Array<BatchSuccess | DbError>>, now: () => number): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let total = 0;
  let answered = 0;
  let full = false;
  for await (const chunk of chunks) {
    const t = now();
    for (const r of chunk) {
      const entry = entries[answered] as BatchEntry<C>;
      answered++;
      const bytes = encodeBatchResult(r, t);
      if (total + bytes.length + (entries.length - answered) * ROW_RESERVE <= MAX_MESSAGE_BYTES) {
        parts.push(bytes);
        total += bytes.length;
        continue;
      }
      full = true;
      const row = entry.kind === 'read' ? READ_TOO_LARGE : WRITE_TOO_LARGE;
      parts.push(row);
      total += row.length;
    }
    if (full) break; // ends the generator: no further chunk runs
  }
  for (; answered < entries.length; answered++) {
    parts.push(NOT_RUN);
    total += NOT_RUN.length;
  }
  return Buffer.concat(parts, total);
}

/** What a delete cannot use: it creates nothing (exists, send-key) and leaves no record to expire (TTL). */
const DELETE_REFUSES: readonly WritePolicyField[] = ['exists', 'ttl', 'send_key'];
/** What a touch cannot use: it creates nothing and deletes nothing. */
const TOUCH_REFUSES: readonly WritePolicyField[] = ['exists', 'send_key', 'durable_delete'];

/** A read entry takes only a filter from its policy; anything else set there would be ignored, so it is refused. */
function checkReadPolicy(p: PbWritePolicy | undefined, i: number): void {
  if (p === undefined) return;
  const set = [
    p.exists !== 0 ? 'exists' : '', p.generationPolicy !== 0 ? 'generation_policy' : '', p.generation !== 0 ? 'generation' : '',
    p.ttl !== 0n ? 'ttl' : '', p.sendKey ? 'send_key' : '', p.durableDelete ? 'durable_delete' : '', p.commitLevel !== 0 ? 'commit_level' : '',
  ].filter((f) => f !== '');
  if (set.length > 0) {
    throw new DbError('PARAMETER', `batch entry ${i} is a read, and a read takes no ${set.join(', ')}`, { hint: 'give a read entry only policy.filter_json' });
  }
}

/**
 * Serves KeyValueService over a kernel; `services` (when given) supplies the UDF runner for
 * batch entries that apply a record UDF.
 */
export function keyValueHandlers(kernel: Kernel, logger: Logger, services?: ServiceLocator): KeyValueHandlers {
  const now = (): number => kernel.clock.now();
  const filterOf = (json: string): { filter?: RecordPredicate } => {
    const filter = recordFilter(json, now);
    return filter === undefined ? {} : { filter };
  };
  const policyOf = (p: Parameters<typeof fromPbWritePolicy>[0]) => fromPbWritePolicy(p, now);
  /** A single-record write's policy: the call's deadline is the write's. */
  const writePolicyOf = (p: Parameters<typeof fromPbWritePolicy>[0], call: { getDeadline(): Date | number }) => callWritePolicy(p, call.getDeadline(), now);
  const batchEntryOf = (e: PbBatchEntry, i: number, deadline: Parameters<typeof callOf>[1], read: ReadPolicy): BatchEntry<UdfCall> => {
    const key = fromPbKey(kernel, e.key);
    const a = e.action;
    if (a === undefined) throw new DbError('PARAMETER', `batch entry ${i} has no action`, { hint: 'set one of read, put, delete, operate, udf' });
    // every write entry runs by the call's deadline, whether or not it has a policy of its own
    const policy = { policy: callWritePolicy(e.policy, deadline, now) };
    switch (a.$case) {
      case 'read':
        checkReadPolicy(e.policy, i);
        return {
          kind: 'read', key, ...(a.value.bins.length > 0 ? { bins: a.value.bins } : {}), headerOnly: a.value.headerOnly,
          ...filterOf(e.policy?.filterJson ?? ''), ...read,
        };
      case 'put': return { kind: 'put', key, bins: fromPbBins(a.value.bins), ...policy };
      case 'delete':
        refusePolicyFields(e.policy, DELETE_REFUSES, `batch entry ${i} (a delete)`);
        return { kind: 'delete', key, ...policy };
      case 'operate': {
        if (a.value.operations.length === 0) throw new DbError('PARAMETER', `batch entry ${i} (operate) has no operations`);
        return { kind: 'operate', key, operations: a.value.operations.map(fromPbOperation), ...policy };
      }
      case 'udf':
        refusePolicyFields(e.policy, RECORD_UDF_REFUSES, `batch entry ${i} (a record UDF)`);
        return { kind: 'udf', key, call: callOf(a.value, deadline), ...policy };
    }
  };
  /** A read's policy: the call's deadline is the read's (a read forwarded to its master waits no longer). */
  const readPolicyOf = (p: PbReadPolicy | undefined, call: { getDeadline(): Date | number }) => callReadPolicy(p, call.getDeadline(), now);
  const readOptionsOf = (req: { bins: string[]; headerOnly: boolean; filterJson: string; readPolicy?: PbReadPolicy | undefined }, call: { getDeadline(): Date | number }) =>
    ({ ...(req.bins.length > 0 ? { bins: req.bins } : {}), headerOnly: req.headerOnly, ...filterOf(req.filterJson), ...readPolicyOf(req.readPolicy, call) });
  return {
    put: unary(logger, 'Put', async (req, call) => {
      const key = fromPbKey(kernel, req.key);
      if (req.bins.length === 0) throw new DbError('PARAMETER', 'put needs at least one bin', { hint: 'send bins, or use Delete to remove a record' });
      const meta = await kernel.put(key, fromPbBins(req.bins), writePolicyOf(req.policy, call));
      return meta === undefined ? {} : { meta: toPbMeta(meta, now()) };
    }),
    get: unary(logger, 'Get', async (req, call): Promise<GetResponse | EncodedResponse> => {
      const key = fromPbKey(kernel, req.key);
      if (req.bins.length === 0 && !req.headerOnly && req.filterJson === '') {
        // the whole record: transcode the stored bytes straight to the response
        return new EncodedResponse(encodeGetResponse(key.namespace, await kernel.getStored(key, readPolicyOf(req.readPolicy, call)), now()));
      }
      const rec = await kernel.get(key, readOptionsOf(req, call));
      return { record: toPbRecord(rec, now()) };
    }),
    exists: unary(logger, 'Exists', async (req, call) => {
      const meta = await kernel.exists(fromPbKey(kernel, req.key), { ...filterOf(req.filterJson), ...readPolicyOf(req.readPolicy, call) });
      return meta === undefined ? { exists: false } : { exists: true, meta: toPbMeta(meta, now()) };
    }),
    delete: unary(logger, 'Delete', async (req, call) => {
      refusePolicyFields(req.policy, DELETE_REFUSES, 'a delete');
      await kernel.delete(fromPbKey(kernel, req.key), writePolicyOf(req.policy, call));
      return {};
    }),
    touch: unary(logger, 'Touch', async (req, call) => {
      refusePolicyFields(req.policy, TOUCH_REFUSES, 'a touch');
      const meta = await kernel.touch(fromPbKey(kernel, req.key), writePolicyOf(req.policy, call));
      return { meta: toPbMeta(meta, now()) };
    }),
    operate: unary(logger, 'Operate', async (req, call) => {
      const key = fromPbKey(kernel, req.key);
      const ops = req.operations.map(fromPbOperation);
      const res = await kernel.operate(key, ops, writePolicyOf(req.policy, call));
      return { ...(res.meta === undefined ? {} : { meta: toPbMeta(res.meta, now()) }), bins: toPbBins(res.bins) };
    }),
    batchGet: unary(logger, 'BatchGet', async (req, call): Promise<BatchGetResponse | EncodedResponse> => {
      if (req.keys.length > MAX_BATCH_KEYS) {
        throw new DbError('BATCH_MAX_REQUESTS', `a batch may hold ${MAX_BATCH_KEYS} keys; this one has ${req.keys.length}`, { hint: 'split the batch' });
      }
      const keys = req.keys.map((k) => fromPbKey(kernel, k));
      if (req.bins.length === 0 && !req.headerOnly && req.filterJson === '') {
        // whole records: transcode the stored bytes straight to the response
        const t = now();
        const policy = readPolicyOf(req.readPolicy, call);
        return new EncodedResponse(await batchAnswer(keys, (chunk) => kernel.batchGetStored(chunk, policy), (chunk, stored) =>
          encodeBatchGetResponse(stored.map((r, i) => (r instanceof DbError ? r : { namespace: (chunk[i] as RecordKey).namespace, record: r })), t)));
      }
      const options = readOptionsOf(req, call);
      const t = now();
      // encoded here rather than by the transport, so the size is known exactly before sending
      return new EncodedResponse(await batchAnswer(keys, (chunk) => kernel.batchGet(chunk, options), (_chunk, results) => BatchGetResponse.encode({
        results: results.map((r) => r instanceof DbError
          ? { resultCode: r.resultCode, message: r.message }
          : { resultCode: 0, record: toPbRecord(r, t), message: '' }),
      }).finish()));
    }),
    batchOperate: unary(logger, 'BatchOperate', async (req, call): Promise<BatchOperateResponse | EncodedResponse> => {
      if (req.entries.length > MAX_BATCH_ENTRIES) {
        throw new DbError('BATCH_MAX_REQUESTS', `a batch may hold ${MAX_BATCH_ENTRIES} entries; this one has ${req.entries.length}`, { hint: 'split the batch' });
      }
      const read = readPolicyOf(req.readPolicy, call);
      const entries = req.entries.map((e, i) => batchEntryOf(e, i, call.getDeadline(), read));
      const runner = services?.get(UDF_RUNNER_KEY);
      const chunks = batchOperateChunks<UdfCall>(kernel, entries, runner === undefined ? undefined : async (key, udf, policy) => {
        const r = await runner.apply(key, udf, policy);
        return { value: r.value, meta: r.meta };
      });
      return new EncodedResponse(await batchOperateAnswer(entries, chunks, now));
    }),
    startOperationJob: unary(logger, 'StartOperationJob', async (req) => {
      const runner = services?.get(UDF_RUNNER_KEY);
      if (runner === undefined) {
        throw new DbError('UNSUPPORTED_FEATURE', 'this node runs no background jobs (its UDF subsystem is off)', { hint: 'enable the UDF subsystem' });
      }
      refusePolicyFields(req.policy, JOB_REFUSES, 'a background operations job');
      const ops = req.operations.map(fromPbOperation);
      const job = await runner.startOperationJob(ops, targetOf(req.target), req.recordsPerSecond, policyOf(req.policy));
      return { job: toPbJob(job) };
    }),
    scan: serverStream(logger, 'Scan', async function* (req, signal, call): AsyncGenerator<ScanResponse | EncodedResponse> {
      if (req.afterDigest.length !== 0 && req.afterDigest.length !== 20) {
        throw new DbError('PARAMETER', `after_digest must be 20 bytes, got ${req.afterDigest.length}`);
      }
      const scan = {
        namespace: req.namespace,
        ...(req.set === undefined ? {} : { set: req.set }),
        ...(req.partitions.length > 0 ? { partitions: req.partitions } : {}),
        ...(req.afterDigest.length === 20 ? { afterDigest: req.afterDigest } : {}),
        ...(req.bins.length > 0 ? { bins: req.bins } : {}),
        noBins: req.noBins,
        ...(req.maxRecords > 0n ? { maxRecords: Number(req.maxRecords) } : {}),
        ...filterOf(req.filterJson),
        signal,
        // pages asked of other nodes wait no longer than the client does
        ...(Number.isFinite(callDeadline(call.getDeadline(), now)) ? { deadline: callDeadline(call.getDeadline(), now) } : {}),
      };
      const whole = req.bins.length === 0 && !req.noBins; // whole records: transcode the stored bytes
      const perMessage = checkRecordsPerMessage(req.recordsPerMessage);
      if (perMessage <= 1) {
        if (whole) {
          for await (const stored of kernel.scanStored(scan)) yield new EncodedResponse(encodeGetResponse(req.namespace, stored, now()));
        } else {
          for await (const rec of kernel.scan(scan)) yield { record: toPbRecord(rec, now()), records: [] };
        }
        return;
      }
      // packed: many records per message
      const only = req.bins.length > 0 ? new Set(req.bins) : undefined;
      for await (const page of pages(kernel.scanStored(scan), perMessage, (s) => s.payload.length + 64)) {
        yield whole
          ? new EncodedResponse(encodeScanPage(req.namespace, page, now()))
          : { records: page.map((s) => toPbRecord(kernel.scannedRecord(req.namespace, s, only, req.noBins), now())) };
      }
    }),
    truncate: unary(logger, 'Truncate', async (req) => {
      const removed = await kernel.truncate(req.namespace, req.set, req.beforeMs === 0n ? undefined : Number(req.beforeMs));
      return { removed: BigInt(removed) };
    }),
  };
}
