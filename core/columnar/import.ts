/**
 * Parquet, Arrow IPC and CSV files → rows of (user key, bins), with a key column and an
 * optional type per column. Arrow types map to bin values: integers → integer (64-bit exact),
 * floats → double, Utf8 → string (GeoJSON or tagged JSON when the column says so, by its
 * `slipstream.type` metadata or the type mapping), Bool → boolean, Binary → bytes, List →
 * list, Struct and Map → map, timestamps and dates → integer milliseconds. CSV cells are
 * strings unless the mapping types them. The metadata columns of an export (`_set`,
 * `_digest`, …) are not imported as bins.
 *
 * Files are streamed, never held whole: CSV rows and Arrow IPC record batches are converted as
 * their bytes arrive; a Parquet file (whose index is at its end) is spooled to a temporary file
 * and read one record batch of a row group at a time (parquet-wasm over a file-backed Blob).
 */
import { tableFromIPC, DataType, RecordBatchReader, type Field, type Schema, type Vector } from 'apache-arrow';
import * as parquet from 'parquet-wasm';
import { parse as csvParser } from 'csv-parse';
import { openAsBlob } from 'node:fs';
import { mkdtemp, open as openFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DbError } from '../errors/index.ts';
import { checkBinName, parseGeoJson, parseHll, type BinValue, type Bins, type MapKey, type UserKey } from '../model/index.ts';
import { valueFromJson } from '../query/expr/json.ts';
import { META_COLUMNS } from './export.ts';
import { TYPE_METADATA } from './schema.ts';

export type ImportFormat = 'parquet' | 'arrow' | 'csv';
export type ImportType = 'int' | 'double' | 'string' | 'bool' | 'bytes' | 'geojson' | 'json';
const IMPORT_TYPES: readonly string[] = ['int', 'double', 'string', 'bool', 'bytes', 'geojson', 'json'];

export interface ImportRow {
  /** 1-based row number in the file. */
  readonly row: number;
  readonly key: UserKey;
  readonly bins: Bins;
}

export interface ImportOptions {
  readonly format: ImportFormat;
  readonly keyColumn: string;
  /** Types for columns, overriding the file's. */
  readonly types?: Readonly<Record<string, ImportType>>;
}

/** A row that could not be turned into a record, with why. */
export class RowError extends Error {
  readonly row: number;
  constructor(row: number, message: string) {
    super(`row ${row}: ${message}`);
    this.row = row;
  }
}

export function parseTypesJson(text: string): Record<string, ImportType> {
  if (text === '') return {};
  let j: unknown;
  try { j = JSON.parse(text); } catch (err) {
    throw new DbError('PARAMETER', `the type mapping is not JSON (${(err as Error).message})`, { hint: 'write {"column": "int", …}' });
  }
  if (j === null || typeof j !== 'object' || Array.isArray(j)) throw new DbError('PARAMETER', 'the type mapping is a JSON object', { hint: 'write {"column": "int", …}' });
  for (const [k, v] of Object.entries(j)) {
    if (typeof v !== 'string' || !IMPORT_TYPES.includes(v)) {
      throw new DbError('PARAMETER', `column '${k}': unknown type ${JSON.stringify(v)}`, { hint: `types are ${IMPORT_TYPES.join(', ')}` });
    }
  }
  return j as Record<string, ImportType>;
}

/** Rows of a record batch (or table) as bins; the columns were checked once, by `columns`. */
interface BatchLike { readonly numRows: number; getChildAt(i: number): Vector | null }

/** The file's columns, checked: the key column exists, every other column can be a bin. */
function columnsOf(schema: Schema, opts: ImportOptions): Array<{ field: Field; index: number; mapped: ImportType | undefined }> {
  const fields = schema.fields;
  if (!fields.some((f) => f.name === opts.keyColumn)) {
    throw new DbError('PARAMETER', `the file has no column '${opts.keyColumn}'`, { hint: `its columns: ${fields.map((f) => f.name).join(', ')}` });
  }
  const cols = fields.map((f, index) => ({ field: f, index, mapped: opts.types?.[f.name] }));
  for (const c of cols) {
    if (c.field.name !== opts.keyColumn && !(META_COLUMNS as readonly string[]).includes(c.field.name)) checkColumnName(c.field.name);
    if (c.mapped === undefined && !supported(c.field.type)) {
      throw new DbError('PARAMETER', `column '${c.field.name}' has Arrow type ${String(c.field.type)}, which has no bin type`, { hint: `map it to one of ${IMPORT_TYPES.join(', ')} (types_json / --types)` });
    }
  }
  return cols;
}

function* batchRows(batch: BatchLike, cols: ReturnType<typeof columnsOf>, opts: ImportOptions, firstRow: number): Generator<ImportRow | RowError> {
  const vectors = cols.map((c) => ({ ...c, vector: batch.getChildAt(c.index) as Vector }));
  const keyCol = vectors.find((c) => c.field.name === opts.keyColumn) as (typeof vectors)[number];
  const binCols = vectors.filter((c) => c.field.name !== opts.keyColumn && !(META_COLUMNS as readonly string[]).includes(c.field.name));
  for (let i = 0; i < batch.numRows; i++) {
    const row = firstRow + i;
    try {
      const key = toKey(convert(keyCol.vector.get(i), keyCol.field.type, keyCol.field, keyCol.mapped), opts.keyColumn);
      const bins: Bins = {};
      for (const c of binCols) {
        const v = convert(c.vector.get(i), c.field.type, c.field, c.mapped);
        if (v !== null) bins[c.field.name] = v;
      }
      yield { row, key, bins };
    } catch (err) {
      yield new RowError(row, err instanceof Error ? err.message : String(err));
    }
  }
}

/** Where a Parquet file is spooled while it is read (the system's temporary directory by default). */
export interface ImportStreamOptions extends ImportOptions {
  readonly tempDir?: string;
}

/**
 * Streams the rows of a file whose bytes `source` yields, each a row or the reason it cannot
 * be one. Holds one CSV record, one Arrow record batch or one Parquet record batch at a time.
 */
export async function* importRows(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, opts: ImportStreamOptions): AsyncGenerator<ImportRow | RowError> {
  if (opts.keyColumn === '') throw new DbError('PARAMETER', 'an import needs a key column', { hint: 'name the column holding each record\'s key (key_column / --key-column)' });
  if (opts.format === 'csv') { yield* csvRows(source, opts); return; }
  if (opts.format === 'parquet') { yield* parquetRows(source, opts); return; }
  const notArrow = (err: unknown): DbError => new DbError('PARAMETER', `the file is not an Arrow IPC stream or file (${(err as Error).message})`, { hint: 'check the file and the format' });
  let reader;
  try {
    reader = await RecordBatchReader.from(toAsync(source));
    await reader.open();
  } catch (err) {
    throw notArrow(err);
  }
  let cols: ReturnType<typeof columnsOf> | undefined;
  let row = 1;
  try {
    for await (const batch of reader) {
      cols ??= columnsOf(batch.schema, opts);
      yield* batchRows(batch, cols, opts, row);
      row += batch.numRows;
    }
  } catch (err) {
    if (err instanceof DbError) throw err;
    throw notArrow(err);
  }
  if (cols === undefined) columnsOf(reader.schema, opts);
}

async function* toAsync(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  for await (const chunk of source) if (chunk.length > 0) yield chunk;
}

async function* parquetRows(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, opts: ImportStreamOptions): AsyncGenerator<ImportRow | RowError> {
  const dir = await mkdtemp(join(opts.tempDir ?? tmpdir(), 'slipstream-import-'));
  try {
    const path = join(dir, 'import.parquet');
    const handle = await openFile(path, 'w');
    try {
      for await (const chunk of source) if (chunk.length > 0) await handle.write(chunk);
    } finally {
      await handle.close();
    }
    const notParquet = (err: unknown): DbError => new DbError('PARAMETER', `the file is not a Parquet file (${err instanceof Error ? err.message : String(err)})`, { hint: 'check the file and the format' });
    let stream: ReadableStream<parquet.RecordBatch>;
    try {
      const file = await parquet.ParquetFile.fromFile(await openAsBlob(path));
      stream = await file.stream({ batchSize: 8192 }) as ReadableStream<parquet.RecordBatch>;
    } catch (err) {
      throw notParquet(err);
    }
    let cols: ReturnType<typeof columnsOf> | undefined;
    let row = 1;
    const reader = stream.getReader();
    try {
      for (;;) {
        let next;
        try {
          next = await reader.read();
        } catch (err) {
          throw notParquet(err);
        }
        if (next.done) break;
        const table = tableFromIPC(next.value.intoIPCStream());
        cols ??= columnsOf(table.schema, opts);
        yield* batchRows(table, cols, opts, row);
        row += table.numRows;
      }
    } finally {
      reader.releaseLock();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function checkColumnName(name: string): void {
  try {
    checkBinName(name);
  } catch (err) {
    throw new DbError('PARAMETER', `column '${name}' cannot be a bin (${(err as Error).message})`, { hint: 'rename the column in the file; bin names are 1 to 15 bytes' });
  }
}

function toKey(v: BinValue, column: string): UserKey {
  if (typeof v === 'bigint' || (typeof v === 'string' && v !== '') || v instanceof Uint8Array) return v;
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
  throw new Error(`the key column '${column}' holds ${v === null ? 'nothing' : `a ${typeof v}`}; a key is an integer, a non-empty string or bytes`);
}

function supported(t: DataType): boolean {
  if (DataType.isDictionary(t)) return supported(t.dictionary);
  if (DataType.isList(t) || DataType.isFixedSizeList(t) || DataType.isStruct(t) || DataType.isMap(t)) return t.children.every((f) => supported(f.type));
  return DataType.isInt(t) || DataType.isFloat(t) || DataType.isBool(t) || DataType.isBinary(t) || DataType.isFixedSizeBinary(t) || DataType.isLargeBinary(t)
    || DataType.isUtf8(t) || DataType.isLargeUtf8(t) || DataType.isDecimal(t) || DataType.isTimestamp(t) || DataType.isDate(t) || DataType.isNull(t);
}

/** An Arrow value as a bin value, by the Arrow type, the field's metadata and the mapping. */
function convert(v: unknown, t: DataType, field: Field | undefined, mapped: ImportType | undefined): BinValue {
  if (v === null || v === undefined) return null;
  if (mapped !== undefined) return byMapping(v, mapped);
  if (DataType.isDictionary(t)) return convert(v, t.dictionary, field, undefined); // a dictionary column reads as its values
  if (DataType.isInt(t)) return typeof v === 'bigint' ? v : BigInt(v as number);
  if (DataType.isFloat(t)) return Number(v);
  if (DataType.isBool(t)) return Boolean(v);
  if (DataType.isBinary(t) || DataType.isFixedSizeBinary(t) || DataType.isLargeBinary(t)) {
    // a column this project exported from HLL bins comes back as HLLs (checked as any HLL written)
    return field?.metadata.get(TYPE_METADATA) === 'hll' ? parseHll(new Uint8Array(v as Uint8Array), `column '${field.name}'`) : new Uint8Array(v as Uint8Array);
  }
  if (DataType.isUtf8(t) || DataType.isLargeUtf8(t)) {
    const kind = field?.metadata.get(TYPE_METADATA);
    if (kind === 'geojson') return parseGeoJson(v as string);
    if (kind === 'json') return valueFromJson(JSON.parse(v as string));
    return v as string;
  }
  if (DataType.isDecimal(t)) {
    // the value's text is the unscaled integer: scale 0 stays an exact integer, others become doubles
    const unscaled = BigInt(String(v));
    return t.scale === 0 ? unscaled : Number(unscaled) / 10 ** t.scale;
  }
  if (DataType.isTimestamp(t) || DataType.isDate(t)) return BigInt(Math.round(Number(v instanceof Date ? v.getTime() : v)));
  if (DataType.isList(t) || DataType.isFixedSizeList(t)) {
    const child = t.children[0] as Field;
    return [...(v as Iterable<unknown>)].map((x) => convert(x, child.type, child, undefined));
  }
  if (DataType.isStruct(t)) {
    const out = new Map<MapKey, BinValue>();
    const row = v as Record<string, unknown>;
    for (const f of t.children) {
      const x = convert(row[f.name], f.type, f, undefined);
      if (x !== null) out.set(f.name, x);
    }
    return out;
  }
  if (DataType.isMap(t)) {
    const entries = t.children[0]?.type.children as Field[];
    const [kf, vf] = entries;
    const out = new Map<MapKey, BinValue>();
    for (const [k, x] of (v as { [Symbol.iterator](): Iterator<[unknown, unknown]> })) {
      const key = convert(k, (kf as Field).type, kf, undefined);
      if (typeof key !== 'string' && typeof key !== 'bigint' && typeof key !== 'number') throw new Error('a map key must be a string or a number');
      out.set(key, convert(x, (vf as Field).type, vf, undefined));
    }
    return out;
  }
  throw new Error(`column '${field?.name ?? '?'}' has Arrow type ${String(t)}, which has no bin type; map it to one (types_json / --types)`);
}

function byMapping(v: unknown, t: ImportType): BinValue {
  const text = typeof v === 'string' ? v : typeof v === 'bigint' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;
  switch (t) {
    case 'int': {
      if (typeof v === 'bigint') return v;
      if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
      if (text !== undefined && /^\s*[-+]?\d+\s*$/.test(text)) return BigInt(text.trim());
      throw new Error(`'${String(v)}' is not an integer`);
    }
    case 'double': {
      const n = typeof v === 'number' ? v : Number(text);
      if (text === undefined || text.trim() === '' || Number.isNaN(n)) throw new Error(`'${String(v)}' is not a number`);
      return n;
    }
    case 'bool': {
      if (typeof v === 'boolean') return v;
      const s = text?.trim().toLowerCase();
      if (s === 'true' || s === '1') return true;
      if (s === 'false' || s === '0') return false;
      throw new Error(`'${String(v)}' is not a boolean (true/false/1/0)`);
    }
    case 'bytes':
      if (v instanceof Uint8Array) return new Uint8Array(v);
      if (text !== undefined) return new Uint8Array(Buffer.from(text, 'base64'));
      throw new Error('bytes come from a binary column or base64 text');
    case 'geojson':
      if (text === undefined) throw new Error('GeoJSON comes from text');
      return parseGeoJson(text);
    case 'json':
      if (text === undefined) throw new Error('JSON comes from text');
      return valueFromJson(JSON.parse(text));
    case 'string':
      if (text !== undefined) return text;
      throw new Error('this value has no text form');
  }
}

async function* csvRows(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, opts: ImportOptions): AsyncGenerator<ImportRow | RowError> {
  const parser = csvParser({ columns: true, skip_empty_lines: true, bom: true });
  // the file's bytes go into the parser as they come; records come out as they are complete
  const feeding = (async () => {
    for await (const chunk of source) {
      if (parser.destroyed) return;
      if (!parser.write(chunk)) {
        await new Promise<void>((ok) => {
          const go = (): void => { parser.off('drain', go); parser.off('close', go); ok(); };
          parser.once('drain', go);
          parser.once('close', go);
        });
      }
    }
    if (!parser.destroyed) parser.end();
  })();
  feeding.catch((err: unknown) => parser.destroy(err instanceof Error ? err : new Error(String(err))));
  let row = 0;
  let checked = false;
  try {
    for await (const rec of parser as AsyncIterable<Record<string, string>>) {
      row++;
      if (!checked) {
        const header = Object.keys(rec);
        if (!header.includes(opts.keyColumn)) throw new DbError('PARAMETER', `the file has no column '${opts.keyColumn}'`, { hint: `its columns: ${header.join(', ')}` });
        for (const h of header) if (h !== opts.keyColumn) checkColumnName(h);
        checked = true;
      }
      try {
        const keyType = opts.types?.[opts.keyColumn];
        const key = toKey(keyType === undefined ? rec[opts.keyColumn] ?? null : byMapping(rec[opts.keyColumn], keyType), opts.keyColumn);
        const bins: Bins = {};
        for (const [name, cell] of Object.entries(rec)) {
          if (name === opts.keyColumn || cell === '') continue;
          const t = opts.types?.[name];
          bins[name] = t === undefined ? cell : byMapping(cell, t);
        }
        yield { row, key, bins };
      } catch (err) {
        yield new RowError(row, err instanceof Error ? err.message : String(err));
      }
    }
  } catch (err) {
    if (err instanceof DbError) throw err;
    throw new DbError('PARAMETER', `the CSV file cannot be read (${(err as Error).message})`, { hint: 'a CSV import needs a header row and the same number of cells in every row' });
  } finally {
    parser.destroy();
    await feeding.catch(() => undefined);
  }
}
