/**
 * Backup and restore of BENCH_RECORDS records (default 1,000,000) on one node (a real server
 * process), once per storage engine (BENCH_ENGINES, default "memory,lmdb"), as a verification
 * as well as a benchmark:
 *   npm run bench -- backup
 * Per engine: loads records of every value type (test/helpers/round-trip-records.ts: integers
 * at the 64-bit edges, doubles, text, booleans, bytes, GeoJSON, HLL, nested and ordered lists
 * and maps; integer, text and bytes keys, some not stored; three sets; TTLs; generations above
 * 1) with a secondary index and a UDF module; reads every record back (a scan, checked against
 * the generator) as the reference; backs up (zstd, 4 workers); TRUNCATEs, drops the index and
 * the module; restores; and compares record by record — set, user key, generation, void time
 * (the stored expiry instant, equal to the second; so the TTL is equal at every instant), the
 * TTL each scan reported against its own void time, bins byte for byte — plus the index and
 * module definitions and a query through the index. Any difference fails the run loudly (exit
 * status 1; every kind of difference printed with its count and first examples). Then Parquet and Arrow IPC (BENCH_ARROW=0 leaves it out) exports of the namespace.
 * Peers in the same run: a plain client scan (what a backup must at least do) and the batched
 * writes of the load (what a restore must at least do), plus plain puts of a sample
 * (BENCH_PUT_SAMPLE, default 50,000) into a second namespace.
 * Then (BENCH_IMPORT_ROWS, default 100,000; 0 skips it) the streaming import: a Parquet export
 * and a CSV of that many rows imported into set `imp`, sampling the node process's resident
 * memory, with a whole-file read of the same files in a child process as the peer.
 */
import { createWriteStream, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNodeProcess, type NodeProcess } from '../test/helpers/process-node.ts';
import { compareFingerprints, fingerprints, keyOf, loadRecords, binsOf } from '../test/helpers/round-trip-records.ts';
import { SlipstreamClient } from '../core/client/index.ts';
import { executeAql } from '../core/client/aql.ts';
import { ResultCode } from '../core/errors/index.ts';
import { DEFAULT_SETTINGS } from '../core/aql/language/settings.ts';
import { QueryServiceService } from '../core/wire/generated/slipstream/v1/query.ts';
import { UdfServiceService } from '../core/wire/generated/slipstream/v1/udf.ts';
import { runBackup } from '../core/tools/backup/backup.ts';
import { runRestore } from '../core/tools/backup/restore.ts';
import { exportToFile, importFromFile } from '../core/tools/columnar/transfer.ts';
import { rssBytes, sampleRss } from './lib/process-memory.ts';

const N = Number(process.env['BENCH_RECORDS'] ?? 1_000_000);
const ENGINES = (process.env['BENCH_ENGINES'] ?? 'memory,lmdb').split(',').map((e) => e.trim()).filter((e) => e !== '');
const IMPORT_ROWS = Number(process.env['BENCH_IMPORT_ROWS'] ?? 100_000);
/** BENCH_ARROW=0 leaves out the Arrow IPC export. */
const ARROW = process.env['BENCH_ARROW'] !== '0';
const MODULE = 'export function bump(rec) {\n  rec.n = (rec.n ?? 0n) + 1n;\n  return rec.n;\n}\n';
const INDEXES = [
  { name: 'by_i', set: 'people', bin: 'i', type: 'NUMERIC', collection: 'DEFAULT' },
  { name: 'by_s', set: 'things', bin: 's', type: 'STRING', collection: 'DEFAULT' },
] as const;

const rate = (n: number, s: number): string => Math.round(n / s).toLocaleString('en-US');
const secs = (ms: number): string => (ms / 1000).toFixed(1);
const log = (text: string): void => { process.stderr.write(`  [${new Date().toISOString().slice(11, 19)}] ${text}\n`); };

/**
 * Records the query finds through an index (AQL over the node): rows of `SELECT … WHERE`,
 * once the index is ready (an index made over a loaded namespace fills in the background).
 */
async function indexQueryCount(client: SlipstreamClient, text: string): Promise<number> {
  const deadline = Date.now() + 30 * 60_000;
  for (;;) {
    let rows = 0;
    const statuses = await executeAql(client, { text, settings: { ...DEFAULT_SETTINGS, TIMEOUT: 600_000 } }, { begin: () => {}, row: () => { rows++; }, end: () => {}, status: () => {} });
    const bad = statuses.find((s) => s.code !== 0);
    if (bad === undefined) return rows;
    if (bad.code !== ResultCode.INDEX_NOT_READABLE || Date.now() > deadline) throw new Error(`${text}: ${bad.code} ${bad.message}`);
    await new Promise((r) => setTimeout(r, 2000));
  }
}

/** Mismatches (`<digest>: <what>`) grouped by what, with counts and one example digest each. */
function kindsOf(mismatches: readonly string[]): string[] {
  const kinds = new Map<string, { count: number; digest: string }>();
  for (const m of mismatches) {
    const at = m.indexOf(': ');
    const what = m.slice(at + 2);
    const k = kinds.get(what);
    if (k === undefined) kinds.set(what, { count: 1, digest: m.slice(0, at) });
    else k.count++;
  }
  return [...kinds].map(([what, k]) => `${what}: ${k.count} records, e.g. ${k.digest}`);
}

interface EngineResult { engine: string; lines: string[] }

async function runEngine(engine: string): Promise<EngineResult> {
  if (engine !== 'memory' && engine !== 'lmdb') throw new Error(`BENCH_ENGINES: unknown engine ${engine} (memory or lmdb)`);
  const dir = mkdtempSync(join(tmpdir(), `slip-bench-backup-${engine}-`));
  const config = join(dir, 'node.json');
  writeFileSync(config, JSON.stringify({
    node: { id: 'B1', host: '127.0.0.1', port: 0, dataDir: join(dir, 'data') },
    logLevel: 'warn',
    namespaces: [
      { name: 'test', storage: `storage-${engine}`, ...(engine === 'lmdb' ? { storageOptions: { dataDir: 'test' } } : {}) },
      { name: 'peer', storage: `storage-${engine}`, ...(engine === 'lmdb' ? { storageOptions: { dataDir: 'peer' } } : {}) },
    ],
  }));
  let node: NodeProcess | undefined;
  let client: SlipstreamClient | undefined;
  try {
    node = await startNodeProcess(['--config', config], { timeoutMs: 60_000 });
    client = await SlipstreamClient.connect({ hosts: [`127.0.0.1:${node.port}`], timeoutMs: 120_000 });
    const c = client;
    // the module first, while the node is idle (a loaded machine can make the UDF host's first
    // start slow), tried again when the host did not answer in time
    for (let attempt = 1; ; attempt++) {
      try {
        await c.unary(UdfServiceService.registerModule, { fileName: 'counter.js', source: MODULE }, {}, false);
        break;
      } catch (err) {
        if (attempt >= 5) throw err;
        log(`${engine}: registering the module failed (${(err as Error).message}); again`);
      }
    }
    log(`${engine}: loading ${N.toLocaleString('en-US')} records`);
    let t = performance.now();
    await loadRecords(c, 'test', N, { batch: 500, inFlight: 8, progress: (d) => { if (d % 100_000 === 0) log(`${engine}: loaded ${d.toLocaleString('en-US')}`); } });
    const loadS = (performance.now() - t) / 1000;
    log(`${engine}: loaded in ${loadS.toFixed(1)} s; plain puts of a sample (the peer)`);
    // peer: plain puts (one record per call, 256 in flight) of a sample, into another namespace
    const sample = Math.min(N, Number(process.env['BENCH_PUT_SAMPLE'] ?? 50_000));
    t = performance.now();
    let nextPut = 0;
    await Promise.all(Array.from({ length: 256 }, async () => {
      for (let i = nextPut++; i < sample; i = nextPut++) await c.put({ ...keyOf('peer', i) }, binsOf(i), { sendKey: true });
    }));
    const putS = (performance.now() - t) / 1000;
    log(`${engine}: ${sample} puts in ${putS.toFixed(1)} s; indexes and module`);
    for (const ix of INDEXES) await c.unary(QueryServiceService.createIndex, { namespace: 'test', ...ix });
    const queryText = 'SELECT i FROM test.people WHERE i BETWEEN 0 AND 29999';
    const queryBefore = await indexQueryCount(c, queryText);

    log(`${engine}: reading every record (the reference)`);
    const wrongBefore: string[] = [];
    t = performance.now();
    const before = await fingerprints(c, 'test', wrongBefore);
    const scanS = (performance.now() - t) / 1000;
    if (before.size !== N || wrongBefore.length > 0) throw new Error(`${engine}: after loading, the scan read ${before.size} of ${N} records; ${wrongBefore.length} not as written: ${kindsOf(wrongBefore).join('; ')}`);

    log(`${engine}: backup`);
    const backupDir = join(dir, 'backup');
    const b = await runBackup({ client: c, namespace: 'test', directory: backupDir, parallel: 4 });
    if (b.records !== N || b.indexes !== INDEXES.length || b.modules !== 1) throw new Error(`${engine}: backed up ${b.records} records, ${b.indexes} indexes, ${b.modules} modules`);
    // a TRUNCATE of a million LMDB records on a loaded machine took over the client's 120 s
    log(`${engine}: TRUNCATE, indexes dropped, module removed`);
    const long = { timeoutMs: 30 * 60_000 };
    const removed = await c.truncate('test', undefined, undefined, long);
    for (const ix of INDEXES) await c.unary(QueryServiceService.dropIndex, { namespace: 'test', name: ix.name }, long);
    await c.unary(UdfServiceService.removeModule, { name: 'counter.js' }, long);
    let left = 0;
    for await (const _ of c.scan('test', { noBins: true }, { timeoutMs: 0 })) left++;
    if (removed !== N || left !== 0) throw new Error(`${engine}: TRUNCATE removed ${removed}, ${left} left`);

    log(`${engine}: restore`);
    const r = await runRestore({ client: c, directory: backupDir, parallel: 4 });
    if (r.restored !== N || r.failed !== 0 || r.indexesCreated !== INDEXES.length || r.modulesRegistered !== 1) {
      throw new Error(`${engine}: restored ${r.restored}, failed ${r.failed} (${r.failures.map((f) => `${f.reason}: ${f.count}`).join('; ')}), indexes ${r.indexesCreated}, modules ${r.modulesRegistered}`);
    }

    log(`${engine}: comparing record by record`);
    const wrongAfter: string[] = [];
    const after = await fingerprints(c, 'test', wrongAfter);
    const diff = compareFingerprints(before, after, 5);
    const indexes = (await c.unary(QueryServiceService.listIndexes, { namespace: 'test' })).indexes.map((i) => `${i.name}/${i.set ?? ''}/${i.bin}/${i.type}/${i.collection}`).sort();
    const wantIndexes = INDEXES.map((i) => `${i.name}/${i.set}/${i.bin}/${i.type}/${i.collection}`).sort();
    const module = await c.unary(UdfServiceService.getModule, { name: 'counter.js' });
    const queryAfter = await indexQueryCount(c, queryText);
    const problems = [
      ...(after.size === N - diff.expired ? [] : [`${after.size} records after the restore, ${N} before${diff.expired > 0 ? ` (${diff.expired} of them expired since)` : ''}`]),
      ...(wrongAfter.length === 0 ? [] : [`${wrongAfter.length}${wrongAfter.length >= 1000 ? ' or more' : ''} records not as written after the restore:`, ...kindsOf(wrongAfter)]),
      ...(diff.count === 0 ? [] : [`${diff.count.toLocaleString('en-US')} differences from the reference, by kind:`, ...diff.kinds.flatMap((k) => [`${k.kind}: ${k.count.toLocaleString('en-US')} records, e.g.`, ...k.examples.map((e) => `    ${e}`)])]),
      ...(indexes.join() === wantIndexes.join() ? [] : [`indexes ${indexes.join(', ')}, expected ${wantIndexes.join(', ')}`]),
      ...(module.source === MODULE ? [] : ['the UDF module source differs']),
      ...(queryAfter === queryBefore && queryBefore > 0 ? [] : [`the index query found ${queryAfter} records, ${queryBefore} before`]),
    ];
    if (problems.length > 0) throw new Error(`${engine}: THE ROUND TRIP DIFFERS:\n  ${problems.join('\n  ')}`);
    log(`${engine}: equal — ${N} records${diff.expired > 0 ? ` (${diff.expired} expired since the reference)` : ''}, ${INDEXES.length} indexes, 1 module, index query ${queryAfter} rows before and after`);

    log(`${engine}: Parquet and Arrow IPC export`);
    t = performance.now();
    const pq = await exportToFile(c, { namespace: 'test', file: join(dir, 'all.parquet'), format: 'parquet' });
    const pqS = (performance.now() - t) / 1000;
    t = performance.now();
    const ipc = ARROW ? await exportToFile(c, { namespace: 'test', file: join(dir, 'all.arrow'), format: 'arrow' }) : undefined;
    const ipcS = (performance.now() - t) / 1000;
    if (pq.records !== N || (ipc !== undefined && ipc.records !== N)) throw new Error(`${engine}: exported ${pq.records} / ${ipc?.records} records of ${N}`);

    const lines = [
      `| backup (zstd, 4 workers, ${b.files} files, ${(b.bytes / 1048576).toFixed(1)} MiB) | ${rate(N, b.elapsedMs / 1000)} | ${secs(b.elapsedMs)} | plain client scan: ${rate(N, scanS)} records/s |`,
      `| restore (generationNewer, 4 files at once, 500 per call) | ${rate(N, r.elapsedMs / 1000)} | ${secs(r.elapsedMs)} | the load (batches of 500, 8 in flight): ${rate(N, loadS)} records/s; plain puts, 256 in flight: ${rate(sample, putS)} records/s |`,
      `| Parquet export (zstd, ${(pq.bytes / 1048576).toFixed(1)} MiB) | ${rate(N, pqS)} | ${pqS.toFixed(1)} | plain client scan: ${rate(N, scanS)} records/s |`,
      ...(ipc === undefined ? [] : [`| Arrow IPC export (${(ipc.bytes / 1048576).toFixed(1)} MiB) | ${rate(N, ipcS)} | ${ipcS.toFixed(1)} | plain client scan: ${rate(N, scanS)} records/s |`]),
    ];
    if (engine === ENGINES[0] && IMPORT_ROWS > 0) lines.push(...await importMemory(c, node, dir));
    return { engine, lines };
  } finally {
    client?.close();
    await node?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Streaming import: the node's memory while it imports a Parquet file and a CSV, against a whole-file read of the same files. */
async function importMemory(client: SlipstreamClient, node: NodeProcess, dir: string): Promise<string[]> {
  const rows = IMPORT_ROWS;
  log(`import: ${rows.toLocaleString('en-US')} rows`);
  const parquet = join(dir, 'imp.parquet');
  const pq = await exportToFile(client, { namespace: 'test', file: parquet, format: 'parquet', bins: ['i', 'd', 's'], maxRecords: rows });
  if (pq.records !== rows) throw new Error(`import: the Parquet export holds ${pq.records} rows, not ${rows}`);
  const csv = join(dir, 'rows.csv');
  const out = createWriteStream(csv);
  out.write('k,i,d,s\n');
  for (let i = 0; i < rows; i++) {
    if (!out.write(`${i % 1000},${i},${i / 3},name-${i}\n`)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  const pid = node.child.pid as number;
  const lines = [
    '',
    `streaming import, ${rows.toLocaleString('en-US')} rows per file, node process resident memory sampled every 20 ms`,
    '',
    '| file | key column | records stored | size MiB | rows/s | node memory growth during the import, MiB | peer: whole-file read and convert in one process, peak growth MiB |',
    '|---|---|---|---|---|---|---|',
  ];
  const mib = (n: number): string => (n / 1048576).toFixed(1);
  for (const [what, file, format, keyColumn, types] of [
    ['Parquet (an export of the namespace)', parquet, 'parquet', 'i', undefined],
    ['CSV', csv, 'csv', 'k', { k: 'int', i: 'int', d: 'double' }],
  ] as const) {
    await client.truncate('test', 'imp');
    const base = rssBytes(pid);
    const t0 = performance.now();
    const { peakBytes, result } = await sampleRss(pid, () => importFromFile(client, { namespace: 'test', set: 'imp', file, format, keyColumn, ...(types === undefined ? {} : { types }) }));
    const s = (performance.now() - t0) / 1000;
    if (result.imported !== rows || result.failed !== 0) throw new Error(`${what}: imported ${result.imported} rows of ${rows}, ${result.failed} failed: ${result.errors.join('; ')}`);
    const peer = JSON.parse(execFileSync(process.execPath, ['--no-node-snapshot', fileURLToPath(new URL('./lib/whole-file-read.ts', import.meta.url)), file, format], { encoding: 'utf8', maxBuffer: 1 << 20 })) as { rows: number; peakGrowthBytes: number };
    if (peer.rows !== rows) throw new Error(`the whole-file read of ${what} found ${peer.rows} rows`);
    let stored = 0;
    for await (const _ of client.scan('test', { set: 'imp', noBins: true })) stored++;
    lines.push(`| ${what} | ${keyColumn} (${stored === rows ? 'a distinct key per row' : `${(rows / stored).toLocaleString('en-US')} rows per key`}) | ${stored.toLocaleString('en-US')} | ${mib(statSync(file).size)} | ${rate(rows, s)} | ${mib(peakBytes - base)} | ${mib(peer.peakGrowthBytes)} |`);
  }
  return lines;
}

let failed = false;
for (const engine of ENGINES) {
  try {
    const res = await runEngine(engine);
    console.log(`\nbackup, restore and export, ${N.toLocaleString('en-US')} records of every value type, one node (${engine} namespace), ${process.platform} node ${process.version}, load average ${(await import('node:os')).loadavg()[0]?.toFixed(1)} at the end; the round trip compared record by record: equal\n`);
    console.log('| step | records/s | seconds | peer in the same run |');
    console.log('|---|---|---|---|');
    for (const l of res.lines) console.log(l);
  } catch (err) {
    failed = true;
    console.error(`\nFAILED (${engine}): ${(err as Error).message}`);
  }
}
if (failed) process.exit(1);
