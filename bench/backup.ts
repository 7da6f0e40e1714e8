/**
 * Backup and restore rates on one node (a real server process), with their peers in the
 * same run: a plain client scan of the namespace (what a backup must at least do) and plain
 * puts with as many in flight (what a restore must at least do).
 *   npm run bench -- backup            (BENCH_RECORDS=1000000 by default)
 * Loads BENCH_RECORDS records of several value types into the memory namespace `test`,
 * backs it up (zstd, 4 workers), truncates it, restores it, exports it to Parquet and to Arrow
 * IPC, and checks the counts. Then it imports the exported Parquet file and a CSV of as many
 * rows (keyed by a column of 1,000 distinct values, so that what the node stores stays small
 * and its memory shows the import itself), sampling the node process's resident memory, with
 * a whole-file read of the same files in a child process as the peer.
 */
import { createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNodeProcess } from '../test/helpers/process-node.ts';
import { SlipstreamClient } from '../core/client/index.ts';
import { GeoJson, type Bins } from '../core/model/index.ts';
import { runBackup } from '../core/tools/backup/backup.ts';
import { runRestore } from '../core/tools/backup/restore.ts';
import { exportToFile, importFromFile } from '../core/tools/columnar/transfer.ts';
import { rssBytes, sampleRss } from './lib/process-memory.ts';

const N = Number(process.env['BENCH_RECORDS'] ?? 1_000_000);
const dir = mkdtempSync(join(tmpdir(), 'slip-bench-backup-'));
const node = await startNodeProcess(['--port', '0', '--log-level', 'warn', '--data-dir', join(dir, 'data')], { timeoutMs: 60_000 });
const client = await SlipstreamClient.connect({ hosts: [`127.0.0.1:${node.port}`], timeoutMs: 60_000 });

function bins(i: number): Bins {
  return {
    i: BigInt(i), k: BigInt(i % 1000), d: i / 3, s: `name-${i}`, b: i % 2 === 0,
    l: [BigInt(i), 'x', 1.5], m: new Map<string, bigint>([['a', 1n], ['b', BigInt(i)]]),
    g: new GeoJson(`{"type":"Point","coordinates":[${i % 180 - 90},${i % 90 - 45}]}`),
  };
}

async function inFlight(n: number, width: number, op: (i: number) => Promise<unknown>): Promise<number> {
  const t = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => { while (next < n) await op(next++); }));
  return (performance.now() - t) / 1000;
}

try {
  const loadS = await inFlight(N, 256, (i) => client.put({ namespace: 'test', set: 's', key: BigInt(i) }, bins(i), { sendKey: true }));
  const rate = (n: number, s: number): string => `${Math.round(n / s).toLocaleString('en-US')}`;
  let t = performance.now();
  let scanned = 0;
  for await (const _ of client.scan('test', { recordsPerMessage: 500 })) scanned++;
  const scanS = (performance.now() - t) / 1000;
  const b = await runBackup({ client, namespace: 'test', directory: join(dir, 'backup'), parallel: 4 });
  await client.truncate('test');
  const r = await runRestore({ client, directory: join(dir, 'backup'), parallel: 4 });
  t = performance.now();
  const pq = await exportToFile(client, { namespace: 'test', file: join(dir, 'all.parquet'), format: 'parquet' });
  const pqS = (performance.now() - t) / 1000;
  t = performance.now();
  const ipc = await exportToFile(client, { namespace: 'test', file: join(dir, 'all.arrow'), format: 'arrow' });
  const ipcS = (performance.now() - t) / 1000;
  if (pq.records !== N || ipc.records !== N) throw new Error(`exported ${pq.records} / ${ipc.records} records of ${N}`);
  // streaming import: node memory while it imports, against a whole-file read of the same file
  const csv = join(dir, 'rows.csv');
  const out = createWriteStream(csv);
  out.write('k,i,d,s\n');
  for (let i = 0; i < N; i++) {
    if (!out.write(`${i % 1000},${i},${i / 3},name-${i}\n`)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  const pid = node.child.pid as number;
  const imports: Array<{ what: string; file: string; bytes: number; rows: number; s: number; growth: number; peer: number }> = [];
  for (const [what, file, format, types] of [
    ['Parquet (the export above)', join(dir, 'all.parquet'), 'parquet', undefined],
    ['CSV', csv, 'csv', { k: 'int', i: 'int', d: 'double' }],
  ] as const) {
    await client.truncate('test', 'imp');
    const base = rssBytes(pid);
    const t0 = performance.now();
    const { peakBytes, result } = await sampleRss(pid, () => importFromFile(client, { namespace: 'test', set: 'imp', file, format, keyColumn: 'k', ...(types === undefined ? {} : { types }) }));
    const s = (performance.now() - t0) / 1000;
    if (result.imported !== N || result.failed !== 0) throw new Error(`${what}: imported ${result.imported} rows of ${N}, ${result.failed} failed: ${result.errors.join('; ')}`);
    const peer = JSON.parse(execFileSync(process.execPath, ['--no-node-snapshot', fileURLToPath(new URL('./lib/whole-file-read.ts', import.meta.url)), file, format], { encoding: 'utf8', maxBuffer: 1 << 20 })) as { rows: number; peakGrowthBytes: number };
    if (peer.rows !== N) throw new Error(`the whole-file read of ${what} found ${peer.rows} rows`);
    imports.push({ what, file, bytes: statSync(file).size, rows: N, s, growth: peakBytes - base, peer: peer.peakGrowthBytes });
  }
  if (r.restored !== N || b.records !== N || scanned !== N) throw new Error(`counts differ: loaded ${N}, scanned ${scanned}, backed up ${b.records}, restored ${r.restored}`);
  console.log(`\nbackup and restore, ${N.toLocaleString('en-US')} records, one node (memory namespace), ${process.platform} node ${process.version}\n`);
  console.log('| step | records/s | seconds | peer in the same run |');
  console.log('|---|---|---|---|');
  console.log(`| backup (zstd, 4 workers, ${b.files} files, ${(b.bytes / 1048576).toFixed(1)} MiB) | ${rate(N, b.elapsedMs / 1000)} | ${(b.elapsedMs / 1000).toFixed(1)} | plain client scan: ${rate(N, scanS)} records/s |`);
  console.log(`| Parquet export (zstd, ${(pq.bytes / 1048576).toFixed(1)} MiB) | ${rate(N, pqS)} | ${pqS.toFixed(1)} | plain client scan: ${rate(N, scanS)} records/s |`);
  console.log(`| Arrow IPC export (${(ipc.bytes / 1048576).toFixed(1)} MiB) | ${rate(N, ipcS)} | ${ipcS.toFixed(1)} | plain client scan: ${rate(N, scanS)} records/s |`);
  console.log(`| restore (generationNewer, 4 files at once, 500 per call) | ${rate(N, r.elapsedMs / 1000)} | ${(r.elapsedMs / 1000).toFixed(1)} | plain puts, 256 in flight (the load): ${rate(N, loadS)} records/s |`);
  const mib = (n: number): string => (n / 1048576).toFixed(1);
  console.log(`\nstreaming import, ${N.toLocaleString('en-US')} rows (1,000 distinct keys), node process resident memory sampled every 20 ms\n`);
  console.log('| file | size MiB | rows/s | node memory growth during the import, MiB | peer: whole-file read and convert in one process, peak growth MiB |');
  console.log('|---|---|---|---|---|');
  for (const x of imports) console.log(`| ${x.what} | ${mib(x.bytes)} | ${rate(x.rows, x.s)} | ${mib(x.growth)} | ${mib(x.peer)} |`);
} finally {
  client.close();
  await node.stop();
  rmSync(dir, { recursive: true, force: true });
}
