import type { sendUnaryData, ServerReadableStream } from '@grpc/grpc-js';
import type { DataServiceServer, ExportResponse, ImportRequest, ImportResponse, RestoreRecord as PbRestoreRecord, RestoreResult } from '../../wire/generated/slipstream/v1/data.ts';
import { ColumnarFormat, RestorePolicy as PbRestorePolicy, RestoreStatus } from '../../wire/generated/slipstream/v1/data.ts';
import { exportRecords, type ExportResult } from '../../columnar/export.ts';
import { importRows, parseTypesJson, RowError, type ImportFormat, type ImportRow } from '../../columnar/import.ts';
import { parseSchemaJson, schemaJson } from '../../columnar/schema.ts';
import { recordFilter } from '../../query/record-filter.ts';
import { DEFAULT_WRITE_POLICY } from '../../transaction/policy.ts';
import { toServiceError } from '../../wire/status.ts';
import { DbError, ResultCode, toDbError } from '../../errors/index.ts';
import { computeDigest, DIGEST_BYTES, partitionOf, type UserKey } from '../../model/index.ts';
import type { Kernel } from '../../transaction/kernel.ts';
import type { Logger } from '../../plugin-api/index.ts';
import { restoreRecord, type RestoreInput, type RestorePolicy } from '../../transaction/restore.ts';
import { fromPbBins, fromPbValue } from '../../wire/convert.ts';
import { serverStream, unary } from '../rpc.ts';
import { refuseUnknownFields } from '../unknown-fields.ts';

/** Most records one RestoreRecords call may carry. */
export const MAX_RESTORE_BATCH = 10_000;

const POLICY: Record<number, RestorePolicy> = {
  [PbRestorePolicy.RESTORE_POLICY_UNSPECIFIED]: 'generationNewer',
  [PbRestorePolicy.RESTORE_POLICY_GENERATION_NEWER]: 'generationNewer',
  [PbRestorePolicy.RESTORE_POLICY_CREATE_ONLY]: 'createOnly',
  [PbRestorePolicy.RESTORE_POLICY_REPLACE]: 'replace',
  [PbRestorePolicy.RESTORE_POLICY_UPDATE]: 'update',
};

const SKIPPED: Record<'expired' | 'exists' | 'generation', RestoreStatus> = {
  expired: RestoreStatus.RESTORE_STATUS_SKIPPED_EXPIRED,
  exists: RestoreStatus.RESTORE_STATUS_SKIPPED_EXISTS,
  generation: RestoreStatus.RESTORE_STATUS_SKIPPED_GENERATION,
};

/** Largest file an Import call accepts. */
export const MAX_IMPORT_BYTES = 512 * 1024 * 1024;
/** Largest chunk of an Export stream message. */
const EXPORT_CHUNK_BYTES = 1024 * 1024;

/** DataService: bulk data in and out. */
export function dataHandlers(kernel: Kernel, logger: Logger): DataServiceServer {
  return {
    export: serverStream(logger, 'Export', (req, signal) => exportStream(kernel, req, signal)),
    import: (call: ServerReadableStream<ImportRequest, ImportResponse>, callback: sendUnaryData<ImportResponse>) => {
      importStream(kernel, call).then((res) => callback(null, res), (err: unknown) => {
        const e = toDbError(err);
        if (e.code === 'SERVER_ERROR') logger.error({ err, rpc: 'Import' }, 'request failed');
        callback(toServiceError(e), null);
      });
    },
    restoreRecords: unary(logger, 'RestoreRecords', async (req) => {
      kernel.namespace(req.namespace);
      const policy = POLICY[req.policy];
      if (policy === undefined) throw new DbError('PARAMETER', `restore policy ${req.policy} is not known`, { hint: 'use one of the RestorePolicy values' });
      if (req.records.length > MAX_RESTORE_BATCH) {
        throw new DbError('PARAMETER', `${req.records.length} records in one restore call; at most ${MAX_RESTORE_BATCH}`, { hint: 'send smaller batches' });
      }
      const results = await Promise.all(req.records.map(async (r): Promise<RestoreResult> => {
        try {
          const out = await restoreRecord(kernel, restoreInput(kernel, req.namespace, r), policy);
          if (out.status === 'restored') return { status: RestoreStatus.RESTORE_STATUS_RESTORED, resultCode: 0, message: '' };
          return { status: SKIPPED[out.reason], resultCode: ResultCode[out.error.code], message: out.error.message };
        } catch (err) {
          const e = toDbError(err);
          return { status: RestoreStatus.RESTORE_STATUS_FAILED, resultCode: e.resultCode, message: e.hint === undefined ? e.message : `${e.message} (${e.hint})` };
        }
      }));
      return { results };
    }),
  };
}

function restoreInput(kernel: Kernel, namespace: string, r: PbRestoreRecord): RestoreInput {
  if (r.digest.length !== DIGEST_BYTES) {
    throw new DbError('PARAMETER', `a digest is ${DIGEST_BYTES} bytes, this one ${r.digest.length}`, { hint: 'send the record\'s digest as backed up' });
  }
  const digest = new Uint8Array(r.digest);
  let userKey: UserKey | undefined;
  if (r.userKey !== undefined) {
    const k = fromPbValue(r.userKey);
    if (typeof k !== 'bigint' && typeof k !== 'string' && !(k instanceof Uint8Array)) {
      throw new DbError('PARAMETER', 'a user key is an integer, a string or bytes', { hint: 'send the key as backed up' });
    }
    if (!Buffer.from(computeDigest(r.set, k)).equals(digest)) {
      throw new DbError('PARAMETER', 'the user key does not hash to the record\'s digest', { hint: 'the backup entry is damaged (or its set was renamed); restore it without its key' });
    }
    userKey = k;
  }
  const key = kernel.keyFromDigest(namespace, r.set, digest);
  return {
    key: userKey === undefined ? key : { ...key, userKey, partition: partitionOf(digest) },
    bins: fromPbBins(r.bins),
    meta: { generation: r.generation, voidTime: r.voidTime, lastUpdateMs: Number(r.lastUpdateMs) },
  };
}

async function* exportStream(kernel: Kernel, req: import('../../wire/generated/slipstream/v1/data.ts').ExportRequest, signal: AbortSignal): AsyncGenerator<ExportResponse> {
  kernel.namespace(req.namespace);
  const format = req.format === ColumnarFormat.COLUMNAR_FORMAT_ARROW_IPC ? 'arrow' : req.format === ColumnarFormat.COLUMNAR_FORMAT_PARQUET || req.format === ColumnarFormat.COLUMNAR_FORMAT_UNSPECIFIED ? 'parquet' : undefined;
  if (format === undefined) throw new DbError('PARAMETER', 'an export is Parquet or Arrow IPC', { hint: 'set format to COLUMNAR_FORMAT_PARQUET or COLUMNAR_FORMAT_ARROW_IPC' });
  const filter = recordFilter(req.filterJson, () => kernel.clock.now());
  const columns = req.schemaJson === '' ? undefined : parseSchemaJson(req.schemaJson);
  const records = kernel.scan({
    namespace: req.namespace, ...(req.set === undefined ? {} : { set: req.set }), ...(req.bins.length > 0 ? { bins: req.bins } : {}),
    ...(filter === undefined ? {} : { filter }), ...(req.maxRecords > 0n ? { maxRecords: Number(req.maxRecords) } : {}), signal,
  });
  let result: ExportResult | undefined;
  for await (const chunk of exportRecords(records, { format, ...(columns === undefined ? {} : { columns }) }, (r) => { result = r; })) {
    for (let at = 0; at < chunk.length; at += EXPORT_CHUNK_BYTES) yield { chunk: chunk.subarray(at, at + EXPORT_CHUNK_BYTES), records: 0n, schemaJson: '' };
  }
  yield { chunk: new Uint8Array(0), records: BigInt(result?.records ?? 0), schemaJson: result === undefined ? '' : schemaJson(result.columns) };
}

const IMPORT_FORMAT: Record<number, ImportFormat> = {
  [ColumnarFormat.COLUMNAR_FORMAT_UNSPECIFIED]: 'parquet', [ColumnarFormat.COLUMNAR_FORMAT_PARQUET]: 'parquet',
  [ColumnarFormat.COLUMNAR_FORMAT_ARROW_IPC]: 'arrow', [ColumnarFormat.COLUMNAR_FORMAT_CSV]: 'csv',
};

/**
 * Import: the first message carries the settings, the rest the file in chunks; rows are
 * written as the chunks arrive (the file is never held whole, docs/columnar.md).
 */
async function importStream(kernel: Kernel, call: AsyncIterable<ImportRequest>): Promise<ImportResponse> {
  const messages = call[Symbol.asyncIterator]();
  const head = await messages.next();
  if (head.done === true) throw new DbError('PARAMETER', 'the import stream was empty', { hint: 'send the settings, then the file in chunks' });
  const first: ImportRequest = head.value;
  refuseUnknownFields(first, 'Import');
  async function* chunks(): AsyncGenerator<Uint8Array> {
    if (first.chunk.length > 0) yield first.chunk;
    for (let m = await messages.next(); m.done !== true; m = await messages.next()) {
      refuseUnknownFields(m.value, 'Import');
      if (m.value.chunk.length > 0) yield m.value.chunk;
    }
  }
  kernel.namespace(first.namespace);
  const format = IMPORT_FORMAT[first.format];
  if (format === undefined) throw new DbError('PARAMETER', `import format ${first.format} is not known`, { hint: 'use Parquet, Arrow IPC or CSV' });
  const types = parseTypesJson(first.typesJson);
  const policy = { ...DEFAULT_WRITE_POLICY, exists: 'replace' as const, sendKey: first.sendKey };
  let imported = 0;
  let failed = 0;
  const errors: string[] = [];
  const fail = (message: string): void => {
    failed++;
    if (errors.length < 20) errors.push(message);
  };
  const write = async (r: ImportRow): Promise<void> => {
    try {
      await kernel.put(kernel.key(first.namespace, first.set, r.key), r.bins, policy);
      imported++;
    } catch (err) {
      fail(`row ${r.row}: ${toDbError(err).message}`);
    }
  };
  let pending: Promise<void>[] = [];
  for await (const r of importRows(chunks(), { format, keyColumn: first.keyColumn, types })) {
    if (r instanceof RowError) { fail(r.message); continue; }
    pending.push(write(r));
    if (pending.length >= 256) { await Promise.all(pending); pending = []; }
  }
  await Promise.all(pending);
  return { imported: BigInt(imported), failed: BigInt(failed), errors };
}
