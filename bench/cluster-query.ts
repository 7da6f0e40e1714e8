/**
 * Queries, scans and aggregations through a 3-node cluster (real processes, 127.0.0.1, RF 2,
 * memory engine) against one node holding the same records (the peer, same run):
 *  - index range queries returning 10 … 10,000 rows: fanned out to the masters' indexes, vs the
 *    single node's index, vs the same predicate on an unindexed bin (a filtered cluster scan,
 *    which is how the cluster answered before the fan-out);
 *  - a whole-set scan (records/s) and a stream-UDF count (partial phase on every master).
 * gRPC QueryService.Query with 500 records per message; best of 3. Prints Markdown.
 *
 *   npm run bench -- cluster-query        (BENCH_RECORDS=20000 by default)
 */
import { credentials } from '@grpc/grpc-js';
import { ProcessCluster } from '../test/helpers/process-cluster.ts';
import { SlipstreamClient } from '../core/client/index.ts';
import { executeAql } from '../core/client/aql.ts';
import { DEFAULT_SETTINGS } from '../core/aql/language/settings.ts';
import { between, bin, exprToJsonText } from '../core/query/expr/index.ts';
import { QueryServiceClient, type QueryRequest } from '../core/wire/generated/slipstream/v1/query.ts';

const RECORDS = Number(process.env['BENCH_RECORDS'] ?? 20_000);
const MATCHES = [10, 100, 1_000, 10_000].filter((m) => m <= RECORDS / 2);

function query(port: number, req: Partial<QueryRequest>): Promise<number> {
  const c = new QueryServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
  return new Promise((resolve, reject) => {
    let n = 0;
    const s = c.query({ namespace: 'test', set: 'b', filterJson: '', bins: [], noBins: false, limit: 0n, partitions: [], cursor: '', orderBy: '', descending: false, indexName: '', whileBuilding: '', recordsPerMessage: 500, ...req });
    s.on('data', (r: { record?: unknown; records?: unknown[] }) => { n += r.records !== undefined && r.records.length > 0 ? r.records.length : r.record === undefined ? 0 : 1; });
    s.on('end', () => { c.close(); resolve(n); });
    s.on('error', (e) => { c.close(); reject(e); });
  });
}

async function best(what: string, expect: number, run: () => Promise<number>): Promise<number> {
  let ms = Infinity;
  for (let rep = 0; rep < 3; rep++) {
    const t0 = performance.now();
    const n = await run();
    if (n !== expect) throw new Error(`${what}: expected ${expect} rows, got ${n}`);
    ms = Math.min(ms, performance.now() - t0);
  }
  return ms;
}

async function aql(client: SlipstreamClient, text: string, files?: Map<string, Uint8Array>): Promise<Array<Map<string, unknown>>> {
  const rows: Array<Map<string, unknown>> = [];
  const statuses = await executeAql(client, { text, settings: { ...DEFAULT_SETTINGS, TIMEOUT: 120_000 }, ...(files === undefined ? {} : { files }) }, {
    begin: () => {}, end: () => {}, status: () => {}, row: (cells) => { rows.push(new Map(cells)); },
  });
  for (const s of statuses) if (s.code !== 0) throw new Error(`${text}: ${JSON.stringify(s)}`);
  return rows;
}

const COUNT = 'export function count(stream) { return stream.aggregate(0, (n, r) => n + 1).reduce((a, b) => a + b); }\n';

const cluster = new ProcessCluster({ name: 'bench-cluster-query', clusterName: 'bench', heartbeat: { intervalMs: 150, timeout: 20 } });
const clients: SlipstreamClient[] = [];
try {
  const single = await cluster.start('51', { cluster: false });
  const [a] = await cluster.startCluster(['C3', 'C2', 'C1'], { settled: true, ms: 180_000 });
  const toCluster = await SlipstreamClient.connect({ hosts: `127.0.0.1:${a.port}`, timeoutMs: 30_000 });
  const toSingle = await SlipstreamClient.connect({ hosts: `127.0.0.1:${single.port}`, timeoutMs: 30_000 });
  clients.push(toCluster, toSingle);
  const t0 = performance.now();
  // puts are idempotent here: one that timed out on a loaded machine is sent again
  const put = async (c: SlipstreamClient, key: { namespace: string; set: string; key: bigint }, bins: Record<string, bigint | string>): Promise<void> => {
    for (let attempt = 0; ; attempt++) {
      try {
        await c.put(key, bins);
        return;
      } catch (e) {
        if (attempt >= 5) throw e;
      }
    }
  };
  for (let i = 0; i < RECORDS; i += 100) {
    await Promise.all(Array.from({ length: Math.min(100, RECORDS - i) }, async (_, j) => {
      const k = i + j;
      const key = { namespace: 'test', set: 'b', key: BigInt(k) };
      const bins = { v: BigInt(k), w: BigInt(k), pad: 'x'.repeat(64) };
      await Promise.all([put(toCluster, key, bins), put(toSingle, key, bins)]);
    }));
  }
  const loadMs = performance.now() - t0;
  await aql(toCluster, 'CREATE INDEX v_idx ON test.b (v) NUMERIC');
  await aql(toSingle, 'CREATE INDEX v_idx ON test.b (v) NUMERIC');
  for (const c of [toCluster, toSingle]) {
    for (;;) {
      const rows = await aql(c, 'SHOW INDEXES test');
      if (rows.every((r) => r.get('state') === 'RW')) break;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  console.log(`\n### Queries through a 3-node cluster vs one node (real processes, RF 2, memory engine, ${RECORDS.toLocaleString('en-US')} records; ms, best of 3)\n`);
  console.log(`Loaded in ${(loadMs / 1000).toFixed(1)} s (both targets). Same run, same machine; the single node holds every record.\n`);
  console.log('| rows | cluster: index fan-out | single node: index | cluster: same predicate, unindexed bin (filtered cluster scan) |');
  console.log('|---|---|---|---|');
  for (const m of MATCHES) {
    const lo = BigInt(Math.floor(RECORDS / 3));
    const idx = exprToJsonText(between(bin('v'), lo, lo + BigInt(m - 1)));
    const scan = exprToJsonText(between(bin('w'), lo, lo + BigInt(m - 1)));
    const fan = await best(`fan-out ${m}`, m, () => query(a.port, { filterJson: idx }));
    const one = await best(`single ${m}`, m, () => query(single.port, { filterJson: idx }));
    const filtered = await best(`filtered scan ${m}`, m, () => query(a.port, { filterJson: scan }));
    console.log(`| ${m.toLocaleString('en-US')} | ${fan.toFixed(0)} | ${one.toFixed(0)} | ${filtered.toFixed(0)} |`);
  }
  const scanCluster = await best('scan cluster', RECORDS, () => query(a.port, {}));
  const scanSingle = await best('scan single', RECORDS, () => query(single.port, {}));
  const files = new Map([['count.js', new TextEncoder().encode(COUNT)]]);
  await aql(toCluster, "REGISTER MODULE 'count.js'", files);
  await aql(toSingle, "REGISTER MODULE 'count.js'", files);
  const aggregate = async (c: SlipstreamClient): Promise<number> => Number((await aql(c, 'AGGREGATE count.count() ON test.b'))[0]?.values().next().value ?? -1);
  await new Promise((r) => setTimeout(r, 2000)); // the module reaches every member
  const aggCluster = await best('aggregate cluster', RECORDS, () => aggregate(toCluster));
  const aggSingle = await best('aggregate single', RECORDS, () => aggregate(toSingle));
  console.log('\n| whole set | cluster (3 nodes) | single node |');
  console.log('|---|---|---|');
  console.log(`| scan, records/s | ${Math.round(RECORDS / (scanCluster / 1000)).toLocaleString('en-US')} | ${Math.round(RECORDS / (scanSingle / 1000)).toLocaleString('en-US')} |`);
  console.log(`| stream UDF count, ms | ${aggCluster.toFixed(0)} | ${aggSingle.toFixed(0)} |`);
} finally {
  for (const c of clients) c.close();
  await cluster.close();
}
