/**
 * Parquet and Arrow export and import over DataService, checked with an independent reader
 * and writer: DuckDB reads the exported Parquet file, and writes the Parquet file imported.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { tableFromIPC } from 'apache-arrow';
import { startTestNode, type TestNode } from '../helpers/node-harness.ts';
import { DbError } from '../../core/errors/index.ts';
import { GeoJson, Hll, Sketch, valuesEqual, type Bins, type BinValue } from '../../core/model/index.ts';
import { exportToFile, importFromFile } from '../../core/tools/columnar/transfer.ts';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);

const N = 120;
const I64_MAX = 2n ** 63n - 1n;
const I64_MIN = -(2n ** 63n);

function binsOf(i: number): Bins {
  return {
    int: i === 0 ? I64_MAX : i === 1 ? I64_MIN : BigInt(i) * 1_000_000_007n,
    dbl: i + 0.5,
    str: `row ${i} ✓`,
    flag: i % 2 === 0,
    blob: new Uint8Array([i, 0, 255]),
    geo: new GeoJson(`{"type":"Point","coordinates":[${i % 90},1.5]}`),
    ints: [BigInt(i), BigInt(i + 1)],
    tags: new Map<string, BinValue>([['a', BigInt(i)], ['b', BigInt(i * 2)]]),
    nested: [new Map<string, BinValue>([['x', `v${i}`]])],
    mixed: i % 3 === 0 ? BigInt(i) : i % 3 === 1 ? `s${i}` : 1.25,
    hll: hllOf(i),
  };
}

/** An HLL (Aerospike's HLL bytes) of a few elements. */
function hllOf(i: number): Hll {
  const h = Sketch.empty(4, 4);
  for (let e = 0; e <= i % 5; e++) h.add(Buffer.from(`e${i}-${e}`));
  return h.toHll();
}

async function rows(con: DuckDBConnection, sql: string): Promise<Record<string, unknown>[]> {
  return (await con.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[];
}

describe('columnar export and import (Parquet, Arrow IPC, CSV)', function () {
  this.timeout(120_000);
  let t: TestNode;
  let dir: string;
  let duck: DuckDBInstance;
  let con: DuckDBConnection;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'slip-columnar-'));
    t = await startTestNode();
    for (let i = 0; i < N; i++) await t.client.put({ namespace: 'test', set: 'all', key: BigInt(i) }, binsOf(i), { sendKey: true });
    duck = await DuckDBInstance.create(':memory:');
    con = await duck.connect();
  });
  after(async () => {
    con?.closeSync();
    await t?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('exports a set with every value type to Parquet, and DuckDB reads it back exactly', async () => {
    const file = join(dir, 'all.parquet');
    const res = await exportToFile(t.client, { namespace: 'test', set: 'all', file, format: 'parquet' });
    assert.equal(res.records, N);
    const schema = JSON.parse(res.schemaJson) as { columns: Array<{ name: string; type: unknown }> };
    assert.deepEqual(schema.columns.find((c) => c.name === 'mixed')?.type, 'json');
    const types = Object.fromEntries((await rows(con, `DESCRIBE SELECT * FROM read_parquet('${file}')`)).map((r) => [r['column_name'], r['column_type']]));
    assert.deepEqual(types, {
      _key: 'BIGINT', _set: 'VARCHAR', _digest: 'BLOB', _generation: 'BIGINT', _void_time: 'BIGINT', _last_update_ms: 'BIGINT',
      int: 'BIGINT', dbl: 'DOUBLE', str: 'VARCHAR', flag: 'BOOLEAN', blob: 'BLOB', geo: 'VARCHAR', ints: 'BIGINT[]',
      tags: 'MAP(VARCHAR, BIGINT)', nested: 'MAP(VARCHAR, VARCHAR)[]', mixed: 'VARCHAR', hll: 'BLOB',
    });
    const got = await rows(con, `SELECT _key::VARCHAR AS k, int::VARCHAR AS int, dbl, str, flag, blob, geo, ints::VARCHAR AS ints, tags['b']::VARCHAR AS b, nested[1]['x'] AS x, mixed, hll, _generation::INTEGER AS gen FROM read_parquet('${file}') ORDER BY _key`);
    assert.equal(got.length, N);
    for (let i = 0; i < N; i++) {
      const want = binsOf(i);
      const r = got[i] as Record<string, unknown>;
      assert.equal(r['k'], String(i));
      assert.equal(r['int'], String(want['int']), `int64 exact in row ${i}`);
      assert.equal(r['dbl'], want['dbl']);
      assert.equal(r['str'], want['str']);
      assert.equal(r['flag'], want['flag']);
      assert.deepEqual([...(r['blob'] as Uint8Array)], [i, 0, 255]);
      assert.equal(r['geo'], (want['geo'] as GeoJson).text);
      assert.equal(r['ints'], `[${i}, ${i + 1}]`);
      assert.equal(r['b'], String(i * 2));
      assert.equal(r['x'], `v${i}`);
      assert.equal(r['mixed'], i % 3 === 0 ? `{"int":"${i}"}` : i % 3 === 1 ? `"s${i}"` : '{"double":1.25}');
      assert.deepEqual([...(r['hll'] as Uint8Array)], [...(want['hll'] as Hll).bytes], `HLL bytes in row ${i}`);
      assert.equal(r['gen'], 1);
    }
  });

  it('exports Arrow IPC with a filter and a given schema (a map as a struct), and imports it back exactly', async () => {
    const file = join(dir, 'some.arrow');
    const schemaJson = JSON.stringify({ columns: [{ name: 'int', type: 'int64' }, { name: 'tags', type: { struct: { a: 'int64', b: 'int64' } } }, { name: 'mixed', type: 'json' }, { name: 'geo', type: 'geojson' }, { name: 'hll', type: 'hll' }] });
    const filter = { kind: 'cmp', op: '<', left: { kind: 'meta', field: 'generation' }, right: { kind: 'lit', value: 5n } } as const;
    const res = await exportToFile(t.client, { namespace: 'test', set: 'all', file, format: 'arrow', schemaJson, filter });
    assert.equal(res.records, N);
    const table = tableFromIPC(readFileSync(file));
    assert.equal(table.numRows, N);
    assert.equal(String(table.schema.fields.find((f) => f.name === 'tags')?.type), 'Struct<{a:Int64, b:Int64}>');
    const imported = await importFromFile(t.client, { namespace: 'test', set: 'copy', file, format: 'arrow', keyColumn: '_key', sendKey: true });
    assert.deepEqual(imported, { imported: N, failed: 0, errors: [] });
    for (let i = 0; i < N; i++) {
      const want = binsOf(i);
      const rec = await t.client.get({ namespace: 'test', set: 'copy', key: BigInt(i) });
      assert.deepEqual(Object.keys(rec.bins).sort(), ['geo', 'hll', 'int', 'mixed', 'tags']);
      assert.ok(rec.bins['hll'] instanceof Hll, 'an HLL column comes back as HLLs');
      for (const b of ['int', 'mixed', 'tags', 'geo', 'hll']) assert.ok(valuesEqual(rec.bins[b] as BinValue, want[b] as BinValue), `bin ${b} of record ${i}`);
    }
  });

  it('refuses a record that does not fit the given schema, naming the bin and the record', async () => {
    const schemaJson = JSON.stringify({ columns: [{ name: 'mixed', type: 'int64' }] });
    await assert.rejects(exportToFile(t.client, { namespace: 'test', set: 'all', file: join(dir, 'bad.parquet'), format: 'parquet', schemaJson }),
      (e: DbError) => e.code === 'BIN_TYPE' && /bin 'mixed' of record \d+ \(digest [0-9a-f]+\) does not fit/.test(e.message) && /json/.test(e.hint ?? ''));
    await assert.rejects(exportToFile(t.client, { namespace: 'test', set: 'all', file: join(dir, 'bad2.parquet'), format: 'parquet', schemaJson: '{"columns":[{"name":"x","type":"decimal"}]}' }),
      (e: DbError) => e.code === 'PARAMETER' && /unknown type 'decimal'/.test(e.message));
  });

  it('imports a Parquet file written by DuckDB, with lists, structs, maps and timestamps', async () => {
    const file = join(dir, 'duck.parquet');
    await con.run(`COPY (SELECT i AS id, 'name ' || i AS name, i * 1.5 AS score, [i, i + 1] AS tags, {'a': i, 'b': 'x'} AS info,
      MAP {'k': i} AS m, i % 2 = 0 AS even, TIMESTAMP '2024-01-01 00:00:00' + INTERVAL (i) DAY AS ts, 9223372036854775807 - i AS big
      FROM range(50) t(i)) TO '${file}' (FORMAT parquet)`);
    const res = await importFromFile(t.client, { namespace: 'test', set: 'duck', file, format: 'parquet', keyColumn: 'id', sendKey: true });
    assert.deepEqual(res, { imported: 50, failed: 0, errors: [] });
    const rec = await t.client.get({ namespace: 'test', set: 'duck', key: 7n });
    assert.equal(rec.bins['name'], 'name 7');
    assert.equal(rec.bins['score'], 10.5);
    assert.deepEqual(rec.bins['tags'], [7n, 8n]);
    assert.deepEqual(rec.bins['info'], new Map<string, BinValue>([['a', 7n], ['b', 'x']]));
    assert.deepEqual(rec.bins['m'], new Map([['k', 7n]]));
    assert.equal(rec.bins['even'], false);
    assert.equal(rec.bins['big'], I64_MAX - 7n);
    assert.equal(typeof rec.bins['ts'], 'bigint');
    assert.equal(rec.bins['ts'], BigInt(Date.UTC(2024, 0, 8)) * (rec.bins['ts'] as bigint > 10n ** 14n ? 1000n : 1n));
    assert.equal(rec.userKey, 7n);
  });

  it('imports CSV with a type mapping, and reports the rows it cannot write', async () => {
    const file = join(dir, 'people.csv');
    writeFileSync(file, 'id,name,age,score,active\n1,Ada,36,1.5,true\n2,Bob,notanumber,2.5,false\n3,Cy,41,,1\n,NoKey,1,1,true\n');
    const res = await importFromFile(t.client, { namespace: 'test', set: 'people', file, format: 'csv', keyColumn: 'id', types: { id: 'int', age: 'int', score: 'double', active: 'bool' } });
    assert.equal(res.imported, 2);
    assert.equal(res.failed, 2);
    assert.match(res.errors[0] ?? '', /^row 2: 'notanumber' is not an integer/);
    assert.match(res.errors[1] ?? '', /^row 4: /);
    const ada = await t.client.get({ namespace: 'test', set: 'people', key: 1n });
    assert.deepEqual(ada.bins, { name: 'Ada', age: 36n, score: 1.5, active: true });
    const cy = await t.client.get({ namespace: 'test', set: 'people', key: 3n });
    assert.deepEqual(cy.bins, { name: 'Cy', age: 41n, active: true });
    await assert.rejects(importFromFile(t.client, { namespace: 'test', set: 'people', file, format: 'csv', keyColumn: 'nope' }),
      (e: DbError) => e.code === 'PARAMETER' && /no column 'nope'/.test(e.message) && /id, name, age, score, active/.test(e.hint ?? ''));
  });

  it('the command-line tools: slipstream-export and slipstream-import', async () => {
    const file = join(dir, 'cli.parquet');
    const addr = ['-h', '127.0.0.1', '-p', String(t.node.port)];
    const e = await run(process.execPath, [join(ROOT, 'bin/slipstream-export.js'), ...addr, '-n', 'test', '-s', 'all', '-o', file, '-B', 'int,str,ints'], { cwd: ROOT });
    assert.match(e.stdout, new RegExp(`exported ${N} records to .*cli\\.parquet \\(parquet`));
    const i = await run(process.execPath, [join(ROOT, 'bin/slipstream-import.js'), ...addr, '-n', 'test', '-s', 'fromcli', '-i', file, '-k', '_key'], { cwd: ROOT });
    assert.match(i.stdout, new RegExp(`imported ${N} records into test.fromcli .*; 0 rows failed`));
    const rec = await t.client.get({ namespace: 'test', set: 'fromcli', key: 5n });
    assert.deepEqual(rec.bins, { int: 5_000_000_035n, str: 'row 5 ✓', ints: [5n, 6n] });
  });
});
