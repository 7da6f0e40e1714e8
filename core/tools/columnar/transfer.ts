/**
 * Columnar files to and from a node over DataService: Export streams a Parquet or Arrow IPC
 * file to disk chunk by chunk; Import streams a Parquet, Arrow IPC or CSV file to the node.
 */
import { open } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { extname } from 'node:path';
import { DbError } from '../../errors/index.ts';
import type { SlipstreamClient } from '../../client/client.ts';
import type { Expr } from '../../query/expr/ast.ts';
import { exprToJsonText } from '../../query/expr/json.ts';
import { ColumnarFormat, DataServiceService, type ImportRequest } from '../../wire/generated/slipstream/v1/data.ts';

export type FileFormat = 'parquet' | 'arrow' | 'csv';

const PB_FORMAT: Record<FileFormat, ColumnarFormat> = {
  parquet: ColumnarFormat.COLUMNAR_FORMAT_PARQUET, arrow: ColumnarFormat.COLUMNAR_FORMAT_ARROW_IPC, csv: ColumnarFormat.COLUMNAR_FORMAT_CSV,
};

/** The format a file name suggests (.parquet, .arrow/.arrows/.ipc/.feather, .csv). */
export function formatOfFile(file: string): FileFormat | undefined {
  const ext = extname(file).toLowerCase();
  if (ext === '.parquet' || ext === '.pq') return 'parquet';
  if (ext === '.arrow' || ext === '.arrows' || ext === '.ipc' || ext === '.feather') return 'arrow';
  if (ext === '.csv') return 'csv';
  return undefined;
}

export interface ExportFileOptions {
  readonly namespace: string;
  readonly set?: string;
  readonly file: string;
  readonly format: 'parquet' | 'arrow';
  readonly bins?: readonly string[];
  readonly filter?: Expr;
  /** Schema JSON (docs/columnar.md); inferred when absent. */
  readonly schemaJson?: string;
  readonly maxRecords?: number;
  readonly signal?: AbortSignal;
}

export async function exportToFile(client: SlipstreamClient, o: ExportFileOptions): Promise<{ records: number; bytes: number; schemaJson: string }> {
  const handle = await open(o.file, 'w');
  let bytes = 0;
  let records = 0;
  let schemaJson = '';
  try {
    const req = {
      namespace: o.namespace, ...(o.set === undefined ? {} : { set: o.set }), format: PB_FORMAT[o.format], bins: [...(o.bins ?? [])],
      filterJson: o.filter === undefined ? '' : exprToJsonText(o.filter), schemaJson: o.schemaJson ?? '', maxRecords: BigInt(o.maxRecords ?? 0),
    };
    for await (const m of client.stream(DataServiceService.export, req, o.signal === undefined ? {} : { signal: o.signal })) {
      if (m.chunk.length > 0) { await handle.write(m.chunk); bytes += m.chunk.length; }
      if (m.schemaJson !== '') { records = Number(m.records); schemaJson = m.schemaJson; }
    }
  } finally {
    await handle.close();
  }
  return { records, bytes, schemaJson };
}

export interface ImportFileOptions {
  readonly namespace: string;
  readonly set: string;
  readonly file: string;
  readonly format: FileFormat;
  readonly keyColumn: string;
  /** Column types, e.g. {"age": "int"} (docs/columnar.md). */
  readonly types?: Readonly<Record<string, string>>;
  readonly sendKey?: boolean;
  readonly signal?: AbortSignal;
}

export async function importFromFile(client: SlipstreamClient, o: ImportFileOptions): Promise<{ imported: number; failed: number; errors: readonly string[] }> {
  async function* requests(): AsyncGenerator<ImportRequest> {
    const base: ImportRequest = {
      namespace: o.namespace, set: o.set, format: PB_FORMAT[o.format], keyColumn: o.keyColumn,
      typesJson: o.types === undefined ? '' : JSON.stringify(o.types), chunk: new Uint8Array(0), sendKey: o.sendKey ?? false,
    };
    yield base;
    const stream = createReadStream(o.file, { highWaterMark: 1024 * 1024 });
    try {
      for await (const chunk of stream) yield { ...base, chunk: chunk as Buffer };
    } catch (err) {
      throw new DbError('PARAMETER', `cannot read ${o.file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { hint: 'give the path of a readable file' });
    }
  }
  const res = await client.clientStream(DataServiceService.import, requests(), o.signal === undefined ? {} : { signal: o.signal });
  return { imported: Number(res.imported), failed: Number(res.failed), errors: res.errors };
}
