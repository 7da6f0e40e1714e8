/**
 * Index queries and aggregations take the client's deadline, as gets, batches, scans and writes
 * do: two nodes in this process (real gRPC servers and Aerospike-protocol front ends on 127.0.0.1,
 * real TCP fabric), a real gRPC client and the official Aerospike client. Node B is made to stall
 * (its shares of index queries and aggregations never answer; its record reads are slow), and a
 * request with a short deadline through node A (or B) fails TIMEOUT (9) with the node's reason —
 * before the client's own timer — and the node stops the request's remaining work: no share asked
 * of B and no record read after that. Without the deadline the nodes waited 10 s per share page
 * (60 s of re-asking), an aggregation's share its time limit + 5 s, and the client only saw its
 * own DEADLINE_EXCEEDED.
 */
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startTestNode, type TestNode } from '../helpers/node-harness.ts';
import { until } from '../helpers/until.ts';
import { builtInExtensions } from '../../core/node/extensions.ts';
import { defaultPlugins } from '../../core/cli/default-plugins.ts';
import { CLUSTER_SERVICE, QUERY_SUBSYSTEM, UDF_RUNNER_KEY } from '../../core/services/index.ts';
import { DbError } from '../../core/errors/index.ts';
import { between, bin, exprToJsonText } from '../../core/query/expr/index.ts';
import { QueryServiceService, type QueryRequest } from '../../core/wire/generated/slipstream/v1/query.ts';
import { UdfServiceService } from '../../core/wire/generated/slipstream/v1/udf.ts';
import { AqlServiceService } from '../../core/wire/generated/slipstream/v1/aql.ts';
import { toPbValue } from '../../core/wire/convert.ts';
import type { QueryEngine } from '../../core/query/query-engine.ts';
import type { UdfRunner } from '../../core/query/udf-runner.ts';

const RECORDS = 200;
const DEADLINE_MS = 1500;
const AGG = 'export function total(stream, b) { return stream.map((r) => r[b]).reduce((a, c) => a + c); }';

function config(id: string, seeds: string[]): Record<string, unknown> {
  return {
    node: { id, host: '127.0.0.1', port: 0 },
    namespaces: [{ name: 'test', storage: 'storage-memory', replicationFactor: 1 }],
    udf: { isolation: 'in-process' },
    // tolerant heartbeats: a loaded machine must not split the two nodes mid-test
    cluster: { clusterName: 'deadline', heartbeat: { address: '127.0.0.1:0', intervalMs: 100, timeout: 50 }, fabric: { address: '127.0.0.1:0' }, seeds },
  };
}

const queryRequest = (req: Partial<QueryRequest>): QueryRequest => ({
  namespace: 'test', set: 'q', filterJson: exprToJsonText(between(bin('n'), 0n, BigInt(RECORDS))), bins: [], noBins: false, limit: 0n, partitions: [], cursor: '',
  orderBy: '', descending: false, indexName: '', whileBuilding: '', recordsPerMessage: 0, ...req,
});

/**
 * Runs `request` (code awaiting a scan or query of client `as`) with the official client in a
 * process of its own (its connect blocks the event loop, which serves the nodes here) against
 * the node at `port`; its result code and message.
 */
function officialClient(port: number, request: string): Promise<{ code: number; message?: string }> {
  const script = `
    import Aerospike from 'aerospike';
    const as = await Aerospike.connect({ hosts: [{ addr: '127.0.0.1', port: ${port} }], log: { level: Aerospike.log.OFF } });
    for (let i = 0; i < 100 && as.getNodes().length < 2; i++) await new Promise((r) => setTimeout(r, 100));
    let out;
    try { ${request}; out = { code: 0 }; }
    catch (e) { out = { code: e.code, message: e.message }; }
    console.log(JSON.stringify(out));
    await as.close();`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: fileURLToPath(new URL('../..', import.meta.url)), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    // the result is the line the script prints before it closes its client: taken as soon as it
    // comes, and the process killed, because the client library sometimes aborts or hangs as it
    // closes or as its process ends (what it then writes to stderr is not the result)
    const result = (): { code: number; message?: string } | undefined => {
      const line = out.split('\n').find((l) => l.startsWith('{'));
      return line === undefined ? undefined : JSON.parse(line) as { code: number; message?: string };
    };
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (!out.includes('\n')) return;
      try {
        const r = result();
        if (r === undefined) return;
        child.kill('SIGKILL');
        resolve(r);
      } catch {
        child.kill('SIGKILL');
        reject(new Error(`the client process said: ${out}${err}`));
      }
    });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    child.on('exit', () => reject(new Error(`the client process ended without a result: ${out}${err}`)));
  });
}

/** An index query by the official client, total timeout `totalTimeout` (and no retry). */
function officialClientQuery(port: number, totalTimeout: number): Promise<{ code: number; message?: string }> {
  return officialClient(port, `
    const q = as.query('test', 'q');
    q.where(Aerospike.filter.range('n', 0, ${RECORDS}));
    await q.results({ totalTimeout: ${totalTimeout}, socketTimeout: ${totalTimeout}, maxRetries: 0 })`);
}

/**
 * A scan without an index by the official client, total timeout `totalTimeout` (and no retry),
 * whose filter expression matches no record: the nodes read every record and send none.
 */
function officialClientScan(port: number, totalTimeout: number): Promise<{ code: number; message?: string }> {
  return officialClient(port, `
    const exp = Aerospike.exp;
    const s = as.scan('test', 'q');
    await s.results(new Aerospike.ScanPolicy({ totalTimeout: ${totalTimeout}, socketTimeout: ${totalTimeout}, maxRetries: 0, filterExpression: exp.lt(exp.binInt('n'), exp.int(0)) }))`);
}

/** The failure of `p`, and how long after `t0` it came. */
async function failure(p: Promise<unknown>, t0: number): Promise<{ err: DbError; ms: number }> {
  const err = await p.then(() => assert.fail('expected a failure'), (e: unknown) => e);
  assert.ok(err instanceof DbError, String(err));
  return { err, ms: Date.now() - t0 };
}

describe('cluster/index queries and aggregations take the client\'s deadline (two nodes in-process, real clients)', function () {
  this.timeout(120_000);
  let a: TestNode;
  let b: TestNode;
  /** Shares B was asked for (index queries, aggregations), and B's record reads for queries. */
  const asked = { shares: 0, aggregateShares: 0, reads: 0, scanned: 0 };
  let restore: Array<() => void> = [];

  before(async () => {
    a = await startTestNode({ config: config('A2', []), extensions: builtInExtensions(), plugins: defaultPlugins() });
    const seed = a.node.services.require(CLUSTER_SERVICE).info().members.find((m) => m.id === a.node.config.node.id)?.heartbeatAddress as string;
    b = await startTestNode({ config: config('A1', [seed]), extensions: builtInExtensions(), plugins: defaultPlugins() });
    const online = (t: TestNode): boolean => {
      const i = t.node.services.require(CLUSTER_SERVICE).info();
      return i.members.length === 2 && i.members.every((m) => m.state === 'online');
    };
    await until('two nodes online in one cluster', () => online(a) && online(b), 60_000);
    await a.client.unary(QueryServiceService.createIndex, { namespace: 'test', name: 'by_n', set: 'q', bin: 'n', type: 'NUMERIC', collection: 'DEFAULT' });
    await a.client.unary(UdfServiceService.registerModule, { fileName: 'agg.js', source: AGG });
    for (let i = 0; i < RECORDS; i++) await a.client.put({ namespace: 'test', set: 'q', key: `k${i}` }, { n: BigInt(i) });
    for (const t of [a, b]) {
      const q = t.node.services.require(QUERY_SUBSYSTEM);
      await until('the index is ready on both nodes', () => q.indexes.list('test').some((i) => i.name === 'by_n' && i.state === 'ready'), 30_000);
      await until('the module is on both nodes', () => t.node.services.require(UDF_RUNNER_KEY).engine.listModules().length === 1, 30_000);
    }
    // with both nodes answering, everything is served
    const rows: unknown[] = [];
    for await (const r of a.client.stream(QueryServiceService.query, queryRequest({}))) rows.push(r);
    assert.equal(rows.length, RECORDS);
  });

  after(async () => {
    for (const r of restore) r();
    await b?.stop();
    await a?.stop();
  });

  /** B stalls: the shares other nodes ask of it never answer (a master that is stuck), its record reads for queries take 50 ms each. */
  function stallB(): void {
    const engine = b.node.services.require(QUERY_SUBSYSTEM).engine as QueryEngine & { share: QueryEngine['share'] };
    const runner = b.node.services.require(UDF_RUNNER_KEY) as UdfRunner;
    const share = engine.share.bind(engine);
    const aggregateShare = runner.aggregateShare.bind(runner);
    const source = (engine as unknown as { source: { get: (ns: string, d: Uint8Array) => Promise<unknown> } }).source;
    const get = source.get.bind(source);
    const self = b.node.services.require(CLUSTER_SERVICE).nodeId;
    // shares other nodes ask of B never answer; B's own share of a query it received runs
    engine.share = (req) => {
      if (req.from === self) return share(req);
      asked.shares++;
      return new Promise(() => {});
    };
    runner.aggregateShare = () => { asked.aggregateShares++; return new Promise(() => {}); };
    source.get = async (ns, d) => { asked.reads++; await new Promise((r) => setTimeout(r, 50)); return get(ns, d); };
    restore = [() => { engine.share = share; runner.aggregateShare = aggregateShare; source.get = get; }];
  }

  /** B's storage scans slowly: each record its engine's scan gives takes 50 ms. */
  let scansSlowed = false;
  function slowScansOnB(): void {
    if (scansSlowed) return;
    scansSlowed = true;
    const engine = b.node.kernel.namespace('test').engine;
    const scan = engine.scan.bind(engine);
    engine.scan = async function* (opts) {
      for await (const r of scan(opts)) {
        asked.scanned++;
        await new Promise((res) => setTimeout(res, 50));
        yield r;
      }
    };
    restore.push(() => { engine.scan = scan; });
  }

  /**
   * Runs one AQL statement through A's AqlService with TIMEOUT `timeoutMs` (the aql shell sends
   * its TIMEOUT setting so); the statement's status and how long after the call it came.
   */
  async function aqlThroughA(text: string, timeoutMs: number): Promise<{ code: number; message: string; ms: number }> {
    const t0 = Date.now();
    for await (const e of a.client.stream(AqlServiceService.execute, { text, files: [], settings: { timeoutMs, output: '' } })) {
      if (e.event?.$case === 'status') return { code: e.event.value.code, message: e.event.value.message, ms: Date.now() - t0 };
    }
    return assert.fail('the statement ended without a status');
  }

  /** The request stopped: what B was asked does not grow once the failure came (and a read in progress then ended). */
  async function stopped(what: string): Promise<void> {
    await new Promise((r) => setTimeout(r, 500));
    const before = { ...asked };
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual(asked, before, `${what}: no share asked of B and no record read after the TIMEOUT`);
  }

  it('a gRPC index query through A whose share on B does not answer fails TIMEOUT (9) from the node before the client\'s deadline, and asks B no more', async () => {
    stallB();
    const t0 = Date.now();
    const rows = (async () => { for await (const _r of a.client.stream(QueryServiceService.query, queryRequest({}), { timeoutMs: DEADLINE_MS })) { /* drain */ } })();
    const { err, ms } = await failure(rows, t0);
    assert.equal(err.code, 'TIMEOUT');
    assert.equal(err.resultCode, 9);
    assert.match(err.message, /query's deadline passed/, 'the node answered TIMEOUT itself (not only the client\'s own timer)');
    assert.ok(ms < DEADLINE_MS + 1000, `failed after ${ms} ms`);
    assert.ok(asked.shares >= 1, 'B was asked for its share');
    await stopped('query');
  });

  it('a gRPC COUNT over the index through A fails the same way', async () => {
    const t0 = Date.now();
    const { err } = await failure(a.client.unary(QueryServiceService.aggregate, { query: queryRequest({}), function: 'COUNT', bin: '' }, { timeoutMs: DEADLINE_MS }), t0);
    assert.equal(err.resultCode, 9);
    assert.match(err.message, /query's deadline passed/);
    await stopped('count');
  });

  it('a gRPC stream UDF aggregation through A whose share on B does not answer fails TIMEOUT (9) from the node, and asks B no more', async () => {
    const t0 = Date.now();
    const call = { module: 'agg', function: 'total', args: [toPbValue('n')], timeoutMs: 0 };
    const values = (async () => { for await (const _v of a.client.stream(UdfServiceService.aggregate, { target: { namespace: 'test', set: 'q', filterJson: '' }, call }, { timeoutMs: DEADLINE_MS })) { /* drain */ } })();
    const { err, ms } = await failure(values, t0);
    assert.equal(err.code, 'TIMEOUT', `${err.code}: ${err.message}`);
    assert.equal(err.resultCode, 9);
    assert.match(err.message, /aggregation's deadline passed/);
    assert.ok(ms < DEADLINE_MS + 1000, `failed after ${ms} ms`);
    assert.ok(asked.aggregateShares >= 1, 'B was asked for its share');
    await stopped('aggregation');
  });

  it('an index query over the Aerospike protocol (official client, total timeout) stops on the node at the timeout: TIMEOUT (9), no record read after it', async () => {
    const readsBefore = asked.reads;
    const t0 = Date.now();
    const out = await officialClientQuery(b.node.port, DEADLINE_MS);
    assert.equal(out.code, 9, `TIMEOUT: ${JSON.stringify(out)}`);
    assert.ok(Date.now() - t0 < DEADLINE_MS + 5000, `failed after ${Date.now() - t0} ms`);
    assert.ok(asked.reads > readsBefore, 'B read records for the query');
    // B's share of the records (about half of them at 50 ms each) would take seconds more
    await stopped('Aerospike-protocol query');
  });

  it('a scan without an index over the Aerospike protocol (official client, total timeout) stops on the nodes at the timeout: TIMEOUT (9), no record read after it', async () => {
    slowScansOnB();
    const t0 = Date.now();
    const out = await officialClientScan(a.node.port, DEADLINE_MS);
    assert.equal(out.code, 9, `TIMEOUT: ${JSON.stringify(out)}`);
    assert.ok(Date.now() - t0 < DEADLINE_MS + 5000, `failed after ${Date.now() - t0} ms`);
    assert.ok(asked.scanned > 0, 'B read records for the scan');
    // B's records (about half of them at 50 ms each, none sent: the filter matches none) would take seconds more
    await stopped('Aerospike-protocol scan');
  });

  describe('AQL statements take the TIMEOUT setting as their deadline', () => {
    // without it a statement waited for a stuck share 10 s (and re-asked it for 60 s), and an
    // aggregation or scan went on reading on the other node after the statement's TIMEOUT
    const margin = 4000;

    it('SELECT … WHERE over an index through A whose share on B does not answer: TIMEOUT (9) at TIMEOUT, asks B no more', async () => {
      stallB();
      const r = await aqlThroughA(`SELECT * FROM test.q WHERE n BETWEEN 0 AND ${RECORDS}`, DEADLINE_MS);
      assert.equal(r.code, 9, r.message);
      assert.ok(r.ms < DEADLINE_MS + margin, `answered after ${r.ms} ms`);
      await stopped('AQL SELECT');
    });

    it('SELECT COUNT(*) … WHERE over an index: the same', async () => {
      const r = await aqlThroughA(`SELECT COUNT(*) FROM test.q WHERE n BETWEEN 0 AND ${RECORDS}`, DEADLINE_MS);
      assert.equal(r.code, 9, r.message);
      assert.ok(r.ms < DEADLINE_MS + margin, `answered after ${r.ms} ms`);
      await stopped('AQL COUNT');
    });

    it('AGGREGATE (a stream UDF) through A whose share on B does not answer: TIMEOUT (9), asks B no more', async () => {
      const r = await aqlThroughA('AGGREGATE agg.total(\'n\') ON test.q', DEADLINE_MS);
      assert.equal(r.code, 9, r.message);
      assert.ok(r.ms < DEADLINE_MS + margin, `answered after ${r.ms} ms`);
      await stopped('AQL AGGREGATE');
    });

    it('a scan (SELECT without WHERE) through A over B\'s slow records: TIMEOUT (9), B reads no record after it', async () => {
      slowScansOnB();
      const before = asked.scanned;
      const r = await aqlThroughA('SELECT * FROM test.q', DEADLINE_MS);
      assert.equal(r.code, 9, r.message);
      assert.ok(r.ms < DEADLINE_MS + margin, `answered after ${r.ms} ms`);
      assert.ok(asked.scanned > before, 'B read records for the scan');
      await stopped('AQL scan');
    });
  });
});
