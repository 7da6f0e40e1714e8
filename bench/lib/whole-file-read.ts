/**
 * The peer of the streaming import in `npm run bench -- backup`: reads a Parquet or CSV file
 * whole into memory and converts it at once (what an import that holds the file does), then
 * prints the process's peak resident memory growth as JSON.
 *   node bench/lib/whole-file-read.ts <file> parquet|csv
 */
import { readFileSync } from 'node:fs';
import { tableFromIPC } from 'apache-arrow';
import * as parquet from 'parquet-wasm';
import { parse } from 'csv-parse/sync';
import { peakRssBytes } from './process-memory.ts';

const [file, format] = process.argv.slice(2) as [string, string];
const before = peakRssBytes(process.pid);
const data = readFileSync(file);
let rows: number;
if (format === 'parquet') {
  rows = tableFromIPC(parquet.readParquet(data).intoIPCStream()).numRows;
} else {
  rows = (parse(data, { columns: true, skip_empty_lines: true }) as unknown[]).length;
}
const after = peakRssBytes(process.pid);
process.stdout.write(`${JSON.stringify({ rows, fileBytes: data.length, peakGrowthBytes: after - before })}\n`);
