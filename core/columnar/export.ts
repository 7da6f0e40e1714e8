/**
 * Records → Arrow record batches → an Arrow IPC stream or a Parquet file, as a stream of
 * byte chunks (apache-arrow builds the batches; parquet-wasm, the Rust parquet crate, writes
 * Parquet). The schema is given, or inferred from the first batch of records; a later value
 * that does not fit it stops the export with the bin and the record named.
 */
import { makeBuilder, RecordBatch, RecordBatchStreamWriter, Struct, Table, makeData, tableToIPC, type Builder, type Schema } from 'apache-arrow';
import * as parquet from 'parquet-wasm';
import { DbError } from '../errors/index.ts';
import { digestHex, type BinValue, type Hll, type DbRecord, type MapKey } from '../model/index.ts';
import { valueToJson } from '../query/expr/json.ts';
import { arrowSchema, fits, typeOfValue, unify, type ColumnSpec, type ColumnType } from './schema.ts';

export type ExportFormat = 'parquet' | 'arrow';

/** Metadata columns every export starts with (a bin of the same name is refused). */
export const META_COLUMNS = ['_key', '_set', '_digest', '_generation', '_void_time', '_last_update_ms'] as const;

export interface ExportOptions {
  readonly format: ExportFormat;
  /** Bin columns to use; inferred from the first batch when absent. */
  readonly columns?: readonly ColumnSpec[];
  /** Records per Arrow batch (and Parquet row group), default 10,000. */
  readonly batchRows?: number;
}

export interface ExportResult {
  readonly records: number;
  readonly columns: readonly ColumnSpec[];
}

/** The Arrow value of a bin value in a column of type `t`. */
function toArrowValue(v: BinValue, t: ColumnType): unknown {
  if (v === null) return null;
  if (t === 'json') return JSON.stringify(valueToJson(v));
  if (t === 'geojson') return (v as { text: string }).text;
  if (t === 'hll') return (v as Hll).bytes;
  if (typeof t === 'string') return v;
  if ('list' in t) return (v as readonly BinValue[]).map((x) => toArrowValue(x, t.list));
  if ('map' in t) return new Map([...(v as ReadonlyMap<MapKey, BinValue>)].map(([k, x]) => [k, toArrowValue(x, t.map.value)]));
  const out: Record<string, unknown> = {};
  for (const [name, ft] of Object.entries(t.struct)) {
    const x = (v as ReadonlyMap<MapKey, BinValue>).get(name);
    out[name] = x === undefined ? null : toArrowValue(x, ft);
  }
  return out;
}

function inferColumns(records: readonly DbRecord[]): ColumnSpec[] {
  const types = new Map<string, ColumnType | undefined>();
  for (const r of records) {
    for (const [name, v] of Object.entries(r.bins)) types.set(name, unify(types.get(name), typeOfValue(v)));
  }
  return [...types].map(([name, type]) => ({ name, type: type ?? 'json' }));
}

function keyColumnType(records: readonly DbRecord[]): ColumnType {
  let t: ColumnType | undefined;
  for (const r of records) t = unify(t, r.key.userKey === undefined ? undefined : typeOfValue(r.key.userKey));
  return t ?? 'string';
}

class Batcher {
  readonly schema: Schema;
  private readonly builders: Builder[];
  private readonly types: readonly ColumnType[];
  private readonly bins: readonly ColumnSpec[];
  rows = 0;

  constructor(keyType: ColumnType, bins: readonly ColumnSpec[]) {
    for (const c of bins) {
      if ((META_COLUMNS as readonly string[]).includes(c.name)) {
        throw new DbError('PARAMETER', `bin '${c.name}' has the name of a metadata column of the export`, { hint: 'export the other bins (name them), or rename the bin' });
      }
    }
    const all: ColumnSpec[] = [
      { name: '_key', type: keyType }, { name: '_set', type: 'string' }, { name: '_digest', type: 'binary' },
      { name: '_generation', type: 'int64' }, { name: '_void_time', type: 'int64' }, { name: '_last_update_ms', type: 'int64' }, ...bins,
    ];
    this.schema = arrowSchema(all);
    this.types = all.map((c) => c.type);
    this.bins = bins;
    this.builders = this.schema.fields.map((f) => makeBuilder({ type: f.type, nullValues: [null, undefined] }));
  }

  add(r: DbRecord, ordinal: number): void {
    const key = r.key.userKey ?? null;
    const keyType = this.types[0] as ColumnType;
    if (key !== null && !fits(key, keyType)) throw misfit('the user key', r, ordinal, keyType);
    const values: unknown[] = [
      toArrowValue(key, keyType), r.key.set, r.key.digest, BigInt(r.meta.generation), BigInt(r.meta.voidTime), BigInt(Math.floor(r.meta.lastUpdateMs)),
    ];
    for (const c of this.bins) {
      const v = Object.prototype.hasOwnProperty.call(r.bins, c.name) ? r.bins[c.name] as BinValue : null;
      if (!fits(v, c.type)) throw misfit(`bin '${c.name}'`, r, ordinal, c.type);
      values.push(toArrowValue(v, c.type));
    }
    for (let i = 0; i < values.length; i++) (this.builders[i] as Builder).append(values[i]);
    this.rows++;
  }

  flush(): RecordBatch {
    const children = this.builders.map((b) => b.flush());
    const batch = new RecordBatch(this.schema, makeData({ type: new Struct(this.schema.fields), length: this.rows, nullCount: 0, children }));
    this.rows = 0;
    return batch;
  }
}

function misfit(what: string, r: DbRecord, ordinal: number, t: ColumnType): DbError {
  return new DbError('BIN_TYPE', `${what} of record ${ordinal} (digest ${digestHex(r.key.digest)}) does not fit the column type ${JSON.stringify(t)} taken from ${ordinal > 1 ? 'the first records' : 'the schema'}`, {
    hint: 'give a schema (schema_json / --schema) with type "json" for that column, or a type that fits every record',
  });
}

/**
 * Streams the file's bytes for `records`; `done` is called with the count and the columns
 * when the last chunk has been produced.
 */
export async function* exportRecords(records: AsyncIterable<DbRecord>, opts: ExportOptions, done?: (r: ExportResult) => void): AsyncGenerator<Uint8Array> {
  const batchRows = Math.max(1, opts.batchRows ?? 10_000);
  const it = records[Symbol.asyncIterator]();
  const first: DbRecord[] = [];
  for (let n = 0; n < batchRows; n++) {
    const x = await it.next();
    if (x.done === true) break;
    first.push(x.value);
  }
  const columns = opts.columns ?? inferColumns(first);
  const batcher = new Batcher(keyColumnType(first), columns);
  let count = 0;
  async function* batches(): AsyncGenerator<RecordBatch> {
    for (const r of first) batcher.add(r, ++count);
    for (;;) {
      if (batcher.rows >= batchRows) yield batcher.flush();
      const x = await it.next();
      if (x.done === true) break;
      batcher.add(x.value, ++count);
    }
    if (batcher.rows > 0 || count === 0) yield batcher.flush();
  }
  if (opts.format === 'arrow') yield* arrowStream(batches());
  else yield* parquetStream(batches());
  done?.({ records: count, columns });
}

async function* arrowStream(batches: AsyncIterable<RecordBatch>): AsyncGenerator<Uint8Array> {
  const writer = new RecordBatchStreamWriter();
  const chunks: Uint8Array[] = [];
  let ended = false;
  const reading = (async () => { for await (const c of writer) chunks.push(c); ended = true; })();
  for await (const b of batches) {
    writer.write(b);
    await new Promise((r) => setImmediate(r));
    if (chunks.length > 0) yield Buffer.concat(chunks.splice(0));
  }
  writer.finish();
  await reading;
  if (!ended || chunks.length > 0) yield Buffer.concat(chunks.splice(0));
}

async function* parquetStream(batches: AsyncIterable<RecordBatch>): AsyncGenerator<Uint8Array> {
  const it = batches[Symbol.asyncIterator]();
  // An error of ours (a value that does not fit) would reach the caller as the writer's own
  // message; keep it and throw it instead.
  let failure: unknown;
  const source = new ReadableStream<parquet.RecordBatch>({
    async pull(ctrl) {
      try {
        const x = await it.next();
        if (x.done === true) { ctrl.close(); return; }
        const wasm = parquet.Table.fromIPCStream(tableToIPC(new Table([x.value]), 'stream')).recordBatch(0);
        if (wasm !== undefined) ctrl.enqueue(wasm);
      } catch (err) {
        failure = err;
        ctrl.error(err);
      }
    },
  });
  const props = new parquet.WriterPropertiesBuilder().setCompression(parquet.Compression.ZSTD).build();
  try {
    const out = await parquet.transformParquetStream(source, props);
    for await (const chunk of out as unknown as AsyncIterable<Uint8Array>) yield chunk;
  } catch (err) {
    throw failure ?? err;
  }
  if (failure !== undefined) throw failure;
}
