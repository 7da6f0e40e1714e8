/**
 * Fairness between scans and single-record requests: a bystander's read latency on a real node
 * process with no scan running, then while 32 filtered scans (another process, two
 * connections; each reads every record on the node and sends the 1% that match) run. The same on
 * a peer node with turns effectively off (scanTurns 1024, scanSliceMs 60000: every scan works
 * as long as it likes, as before the scheduler).
 *
 *   npm run bench -- fairness          (BENCH_RECORDS=20000 by default)
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startNodeProcess } from '../test/helpers/process-node.ts';
import { SlipstreamClient } from '../core/client/index.ts';

const RECORDS = Number(process.env['BENCH_RECORDS'] ?? 20_000);
const SCANS = 32;
const SCAN_LOAD = fileURLToPath(new URL('./lib/scan-load.ts', import.meta.url));

interface Latency { readonly reads: number; readonly p50: number; readonly p99: number; readonly max: number; readonly scanMs?: number }

function summary(lat: number[], scanMs?: number): Latency {
  const s = [...lat].sort((a, b) => a - b);
  const at = (q: number): number => Math.round((s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0) * 10) / 10;
  return { reads: s.length, p50: at(0.5), p99: at(0.99), max: at(1), ...(scanMs === undefined ? {} : { scanMs: Math.round(scanMs) }) };
}

async function measure(limits: Record<string, number>): Promise<{ idle: Latency; scans: Latency }> {
  const dir = mkdtempSync(join(tmpdir(), 'slipstream-bench-fair-'));
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify({ node: { id: 'F1', host: '127.0.0.1', port: 0, dataDir: join(dir, 'data'), limits }, logLevel: 'error', namespaces: [{ name: 'test', storage: 'storage-memory' }] }));
  const node = await startNodeProcess(['--config', file]);
  const client = await SlipstreamClient.connect({ hosts: `127.0.0.1:${node.port}`, timeoutMs: 120_000 });
  try {
    const v = 'f'.repeat(64);
    for (let at = 0; at < RECORDS; at += 500) {
      await client.batchOperate(Array.from({ length: Math.min(500, RECORDS - at) }, (_, j) => ({ kind: 'put' as const, key: { namespace: 'test', set: 'fair', key: `k${at + j}` }, bins: { v, i: BigInt(at + j) } })));
    }
    const key = { namespace: 'test', set: 'bystander', key: 'k' };
    await client.put(key, { v: 1 });
    const read = async (): Promise<number> => {
      const t0 = performance.now();
      await client.get(key);
      return performance.now() - t0;
    };
    const idle: number[] = [];
    for (let i = 0; i < 300; i++) idle.push(await read());
    const load = spawn(process.execPath, ['--no-node-snapshot', SCAN_LOAD, `127.0.0.1:${node.port}`, String(SCANS), 'test', 'fair', String(RECORDS / 100)], { stdio: ['ignore', 'pipe', 'inherit'] });
    const t0 = performance.now();
    let over = false;
    const exited = new Promise<void>((resolve) => load.on('exit', () => { over = true; resolve(); }));
    load.stdout.resume();
    const busy: number[] = [];
    while (!over) {
      busy.push(await read());
      await new Promise((r) => setTimeout(r, 5));
    }
    await exited;
    return { idle: summary(idle), scans: summary(busy, performance.now() - t0) };
  } finally {
    client.close();
    await node.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

const fair = await measure({});
const unfair = await measure({ scanTurns: 1024, scanSliceMs: 60_000 });
const row = (name: string, l: Latency): string => `| ${name} | ${l.reads} | ${l.p50} | ${l.p99} | ${l.max} | ${l.scanMs ?? '—'} |`;
console.log(`### Bystander reads while ${SCANS} scans run (real node process, ${RECORDS.toLocaleString('en-US')} records, scans filter to 1%; ms)\n`);
console.log('| node | reads | p50 | p99 | max | scans took |');
console.log('|---|---|---|---|---|---|');
console.log(row('default (4 turns, 4 ms slices): no scan', fair.idle));
console.log(row(`default: ${SCANS} scans`, fair.scans));
console.log(row('turns off (1024 turns, 60 s slices): no scan', unfair.idle));
console.log(row(`turns off: ${SCANS} scans`, unfair.scans));
