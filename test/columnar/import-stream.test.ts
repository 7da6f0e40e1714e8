/**
 * Import streams its file: rows come out while the file's bytes are still arriving (CSV and
 * Arrow IPC), whatever the chunking; a Parquet file is spooled to a temporary file that is
 * removed afterwards; damaged input fails with a clear error.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RecordBatch, Table, tableFromArrays, tableToIPC } from 'apache-arrow';
import * as parquet from 'parquet-wasm';
import { DbError } from '../../core/errors/index.ts';
import { importRows, RowError, type ImportRow, type ImportStreamOptions } from '../../core/columnar/import.ts';

const ROWS = 5000;

/**
 * Yields the first `headBytes` of `data`, then waits until the consumer has seen a row before
 * yielding the rest: a reader that waited for the whole file would never get a row (deadlock,
 * caught by the deadline).
 */
function gated(data: Uint8Array, headBytes: number, chunk: number, seen: () => boolean): AsyncGenerator<Uint8Array> {
  return (async function* () {
    for (let at = 0; at < headBytes; at += chunk) yield data.subarray(at, Math.min(at + chunk, headBytes));
    const deadline = Date.now() + 10_000;
    while (!seen()) {
      if (Date.now() > deadline) throw new Error('no row came out before the end of the file: the import holds the whole file');
      await new Promise((r) => setTimeout(r, 5));
    }
    for (let at = headBytes; at < data.length; at += chunk) yield data.subarray(at, Math.min(at + chunk, data.length));
  })();
}

async function collect(source: AsyncIterable<ImportRow | RowError>, onRow?: () => void): Promise<ImportRow[]> {
  const out: ImportRow[] = [];
  for await (const r of source) {
    if (r instanceof RowError) throw r;
    out.push(r);
    onRow?.();
  }
  return out;
}

describe('columnar/import streams the file', function () {
  this.timeout(60_000);

  it('CSV: rows come out before the file has arrived, in chunks of any size (1 byte too)', async () => {
    const text = `id,name,n\n${Array.from({ length: ROWS }, (_, i) => `k${i},"name, ${i}",${i}`).join('\n')}\n`;
    const data = new Uint8Array(Buffer.from(text));
    let seen = false;
    const opts: ImportStreamOptions = { format: 'csv', keyColumn: 'id', types: { n: 'int' } };
    const rows = await collect(importRows(gated(data, 4096, 700, () => seen), opts), () => { seen = true; });
    assert.equal(rows.length, ROWS);
    assert.deepEqual(rows[ROWS - 1], { row: ROWS, key: `k${ROWS - 1}`, bins: { name: `name, ${ROWS - 1}`, n: BigInt(ROWS - 1) } });
    const small = new Uint8Array(Buffer.from('id,v\na,1\nb,2\n'));
    const bytewise = await collect(importRows((function* () { for (let i = 0; i < small.length; i++) yield small.subarray(i, i + 1); })(), { format: 'csv', keyColumn: 'id' }));
    assert.deepEqual(bytewise.map((r) => [r.key, r.bins['v']]), [['a', '1'], ['b', '2']]);
    await assert.rejects(collect(importRows([Buffer.from('x,v\na,1\n')], { format: 'csv', keyColumn: 'id' })), (e: unknown) => e instanceof DbError && /no column 'id'/.test(e.message));
    await assert.rejects(collect(importRows([Buffer.from('id,v\na,1,2\n')], { format: 'csv', keyColumn: 'id' })), (e: unknown) => e instanceof DbError && /CSV file cannot be read/.test(e.message));
  });

  it('Arrow IPC stream: record batches are converted as they arrive', async () => {
    const batches = Array.from({ length: 10 }, (_, b) => tableFromArrays({
      id: BigInt64Array.from({ length: ROWS / 10 }, (_, i) => BigInt(b * (ROWS / 10) + i)),
      x: Float64Array.from({ length: ROWS / 10 }, (_, i) => i / 2),
    }).batches[0] as RecordBatch);
    const data = tableToIPC(new Table(batches), 'stream');
    let seen = false;
    const rows = await collect(importRows(gated(data, Math.floor(data.length / 3), 1000, () => seen), { format: 'arrow', keyColumn: 'id' }), () => { seen = true; });
    assert.equal(rows.length, ROWS);
    assert.deepEqual(rows[ROWS - 1], { row: ROWS, key: BigInt(ROWS - 1), bins: { x: (ROWS / 10 - 1) / 2 } });
    await assert.rejects(collect(importRows([Buffer.from('not arrow at all')], { format: 'arrow', keyColumn: 'id' })), (e: unknown) => e instanceof DbError && /not an Arrow IPC/.test(e.message));
  });

  it('Parquet: spooled to a temporary file, read batch by batch, and the file removed', async () => {
    const table = tableFromArrays({ id: Int32Array.from({ length: ROWS }, (_, i) => i), s: Array.from({ length: ROWS }, (_, i) => `v${i}`) });
    const data = parquet.writeParquet(parquet.Table.fromIPCStream(tableToIPC(table, 'stream')));
    const tempDir = mkdtempSync(join(tmpdir(), 'slipstream-import-test-'));
    try {
      const chunks = (function* () { for (let at = 0; at < data.length; at += 997) yield data.subarray(at, at + 997); })();
      const rows = await collect(importRows(chunks, { format: 'parquet', keyColumn: 'id', tempDir }));
      assert.equal(rows.length, ROWS);
      assert.deepEqual(rows[1234], { row: 1235, key: 1234n, bins: { s: 'v1234' } });
      assert.deepEqual(readdirSync(tempDir), [], 'the spooled file is removed');
      await assert.rejects(collect(importRows([Buffer.from('PAR1 but not parquet')], { format: 'parquet', keyColumn: 'id', tempDir })), (e: unknown) => e instanceof DbError && /not a Parquet file/.test(e.message));
      assert.deepEqual(readdirSync(tempDir), [], 'removed after a failure too');
    } finally {
      rmSync(tempDir, { recursive: true, force: true });
    }
  });
});
