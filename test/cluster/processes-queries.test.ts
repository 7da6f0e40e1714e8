/**
 * Cluster-wide queries with real processes on 127.0.0.1: three nodes (RF 2) and, beside them, one
 * node holding the same records alone. Secondary-index queries through any cluster node run on
 * the partitions' masters and answer exactly what the single node answers — AQL rows, gRPC rows
 * and cursors, page by page through a different node each page — and EXPLAIN says how the query
 * runs in the cluster; stream UDFs through any cluster node (partial phase on each master, final
 * phase on the receiving node) answer what the single node answers. One cluster serves the tests
 * in order (suite time).
 */
import { strict as assert } from 'node:assert';
import { credentials } from '@grpc/grpc-js';
import { ProcessCluster } from '../helpers/process-cluster.ts';
import { until } from '../helpers/until.ts';
import { SlipstreamClient } from '../../core/client/index.ts';
import { executeAql, type AqlStatementStatus } from '../../core/client/aql.ts';
import { DEFAULT_SETTINGS } from '../../core/aql/language/settings.ts';
import { between, bin, exprToJsonText } from '../../core/query/expr/index.ts';
import { QueryServiceClient, type QueryRequest, type QueryResponse } from '../../core/wire/generated/slipstream/v1/query.ts';

const HB = { intervalMs: 100, timeout: 30 }; // node timeout 3 s: the machine may be loaded
// the records are loaded with commit-to-all writes: on a loaded machine a replica may take more
// than the default second to confirm, and this file is about what queries answer, not write timing
const CLUSTER_FIELDS = { replicaWriteTimeoutMs: 10_000 };
const RECORDS = 1200;

interface AqlOutcome { readonly statuses: AqlStatementStatus[]; readonly rows: Map<string, unknown>[] }

const clients = new Map<number, SlipstreamClient>();
async function clientOf(port: number): Promise<SlipstreamClient> {
  let c = clients.get(port);
  if (c === undefined) clients.set(port, c = await SlipstreamClient.connect({ hosts: `127.0.0.1:${port}`, timeoutMs: 15_000 }));
  return c;
}

async function aql(port: number, text: string, files?: Map<string, Uint8Array>): Promise<AqlOutcome> {
  const rows: Map<string, unknown>[] = [];
  const statuses = await executeAql(await clientOf(port), { text, settings: { ...DEFAULT_SETTINGS, TIMEOUT: 30_000 }, ...(files === undefined ? {} : { files }) }, {
    begin: () => {}, end: () => {}, status: () => {}, row: (cells) => { rows.push(new Map(cells)); },
  });
  return { statuses, rows };
}

async function aqlOk(port: number, text: string, files?: Map<string, Uint8Array>): Promise<Map<string, unknown>[]> {
  const r = await aql(port, text, files);
  for (const s of r.statuses) assert.equal(s.code, 0, `${text} (port ${port}): ${JSON.stringify(s)}`);
  return r.rows;
}

/** A gRPC query's responses: each record's digest, bins and cursor. */
function grpcQuery(port: number, req: Partial<QueryRequest>): Promise<Array<{ digest: string; bins: unknown; cursor: string }>> {
  const c = new QueryServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
  return new Promise((resolve, reject) => {
    const out: Array<{ digest: string; bins: unknown; cursor: string }> = [];
    const s = c.query({ namespace: 'test', filterJson: '', bins: [], noBins: false, limit: 0n, partitions: [], cursor: '', orderBy: '', descending: false, indexName: '', whileBuilding: '', recordsPerMessage: 0, ...req });
    s.on('data', (r: QueryResponse) => {
      if (r.record !== undefined) out.push({ digest: Buffer.from(r.record.key?.digest ?? new Uint8Array()).toString('hex'), bins: r.record.bins, cursor: r.cursor });
    });
    s.on('end', () => { c.close(); resolve(out); });
    s.on('error', (e) => { c.close(); reject(e); });
  });
}

describe('cluster/queries (real processes)', function () {
  this.timeout(300_000);
  const cluster = new ProcessCluster({ name: 'queries', clusterName: 'queries', heartbeat: HB, metrics: true, startTimeoutMs: 90_000, clusterFields: CLUSTER_FIELDS });
  const node = (id: string) => cluster.node(id);

  after(async () => {
    for (const c of clients.values()) c.close();
    clients.clear();
    await cluster.close();
  });

  it('index queries through any node equal one node holding everything: AQL rows, gRPC rows and cursors, pages across nodes, EXPLAIN', async () => {
    const [single] = await Promise.all([cluster.start('51', { cluster: false }), cluster.startCluster(['E3', 'E2', 'E1'], { ms: 120_000 })]);
    const ports = ['E3', 'E2', 'E1'].map((id) => node(id).port);
    // the same records through every cluster node (most are proxied to their masters) and into the single node
    const one = await clientOf(single.port);
    for (let i = 0; i < RECORDS; i += 50) {
      await Promise.all(Array.from({ length: Math.min(50, RECORDS - i) }, async (_, j) => {
        const k = i + j;
        const bins = { i: BigInt(k), n: BigInt(k % 40), s: `s${String(k % 23).padStart(2, '0')}` };
        const key = { namespace: 'test', set: k % 2 === 0 ? 'q' : 'r', key: `k${k}` };
        const c = await clientOf(ports[k % 3] as number);
        await c.put(key, bins);
        await one.put(key, bins);
      }));
    }
    await aqlOk(ports[1] as number, 'CREATE INDEX n_idx ON test (n) NUMERIC');
    await aqlOk(single.port, 'CREATE INDEX n_idx ON test (n) NUMERIC');
    for (const p of [...ports, single.port]) {
      await until(`index ready on port ${p}`, async () => (await aqlOk(p, 'SHOW INDEXES test')).some((r) => r.get('indexname') === 'n_idx' && r.get('state') === 'RW'), 60_000, 100);
    }
    const select = 'SELECT * FROM test.r WHERE n BETWEEN 5 AND 17';
    const want = await aqlOk(single.port, select);
    assert.ok(want.length > 150, `single node rows: ${want.length} ${String([...(want[0] ?? new Map())])}`);
    for (const p of ports) assert.deepEqual(await aqlOk(p, select), want, `AQL through port ${p}`);
    const inSet = 'SELECT i, s FROM test.q WHERE n BETWEEN 20 AND 39';
    const wantSet = await aqlOk(single.port, inSet);
    for (const p of ports) assert.deepEqual(await aqlOk(p, inSet), wantSet, `AQL on a set through port ${p}`);

    const filterJson = exprToJsonText(between(bin('n'), 3n, 30n));
    const all = await grpcQuery(single.port, { filterJson });
    assert.ok(all.length > 700);
    for (const p of ports) assert.deepEqual(await grpcQuery(p, { filterJson }), all, `gRPC rows and cursors through port ${p}`);
    // pages of 97 by cursor, each page through the next node
    const paged: typeof all = [];
    for (let page = 0; ; page++) {
      const last = paged[paged.length - 1];
      const rows = await grpcQuery(ports[page % 3] as number, { filterJson, limit: 97n, ...(last === undefined ? {} : { cursor: last.cursor }) });
      paged.push(...rows);
      if (rows.length < 97) break;
    }
    assert.deepEqual(paged, all, 'pages through different nodes');

    const explain = await aqlOk(ports[2] as number, 'EXPLAIN SELECT * FROM test.r WHERE n BETWEEN 5 AND 17');
    assert.equal(explain[0]?.get('ACCESS'), 'index');
    assert.equal(explain[0]?.get('CLUSTER'), '3 masters each query their own index for the partitions they master; merged on this node in index order');
    assert.equal((await aqlOk(single.port, 'EXPLAIN SELECT * FROM test.r WHERE n BETWEEN 5 AND 17'))[0]?.get('CLUSTER'), undefined, 'a single node has no cluster row');
  });

  it('stream UDF aggregations through any node equal the single node\'s (the partial phase runs on every master)', async () => {
    const single = node('51');
    const ports = ['E3', 'E2', 'E1'].map((id) => node(id).port);
    const files = new Map([['agg.js', new TextEncoder().encode(AGG_MODULE)]]);
    await aqlOk(ports[0] as number, "REGISTER MODULE 'agg.js'", files);
    await aqlOk(single.port, "REGISTER MODULE 'agg.js'", files);
    for (const p of ports) await until(`module on port ${p}`, async () => (await aqlOk(p, 'SHOW MODULES')).length === 1, 30_000, 100);
    for (const statement of [
      "AGGREGATE agg.total('i') ON test.r",
      "AGGREGATE agg.total('i') ON test.q WHERE n BETWEEN 5 AND 17",
      'AGGREGATE agg.bySuffix() ON test.r',
    ]) {
      const want = await aqlOk(single.port, statement);
      assert.ok(want.length > 0);
      for (const p of ports) assert.deepEqual(await aqlOk(p, statement), want, `${statement} through port ${p}`);
    }
  });
});

const AGG_MODULE = `
export function total(stream, bin) { return stream.map((r) => r[bin]).reduce((a, b) => a + b); }
export function bySuffix(stream) { return stream.groupBy((r) => r.s, 0, (n, r) => n + 1, (a, b) => a + b); }
`;
