import { strict as assert } from 'node:assert';
import { startTestNode, type TestNode } from '../helpers/node-harness.ts';
import { runNodeBinary, startNodeProcess } from '../helpers/process-node.ts';
import { DbError } from '../../core/client/index.ts';
import { parseConfig } from '../../core/node/config.ts';
import { UDF_ENGINE_KEY } from '../../core/services/index.ts';

/** The value of one sample line (`name{labels} value`) in a Prometheus text exposition. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const inner = line.includes('{') ? line.slice(line.indexOf('{') + 1, line.indexOf('}')).split(',') : [];
    if (want.every((w) => inner.includes(w))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

describe('server/metrics: the Prometheus endpoint', function () {
  let t: TestNode;
  let url: string;
  before(async () => {
    t = await startTestNode({ config: { node: { id: 'A1', host: '127.0.0.1', port: 0, metricsPort: 0 }, namespaces: [{ name: 'test', storage: 'storage-memory' }, { name: 'other', storage: 'storage-memory' }] } });
    url = `http://127.0.0.1:${t.node.metricsPort}`;
  });
  after(async () => { await t.stop(); });
  const scrape = async (): Promise<string> => {
    const res = await fetch(`${url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
    return res.text();
  };

  it('counts every call by method and result, with durations, and the kernel and namespaces as they are', async () => {
    const before = await scrape();
    const gets = (m: string, result: string, text: string): number => sample(text, 'slipstream_rpc_requests_total', { service: 'slipstream.v1.KeyValueService', method: m, result }) ?? 0;
    for (let i = 0; i < 7; i++) await t.client.put({ namespace: 'test', set: 's', key: `k${i}` }, { n: BigInt(i) });
    for (let i = 0; i < 5; i++) await t.client.get({ namespace: 'test', set: 's', key: `k${i}` });
    for (let i = 0; i < 3; i++) await assert.rejects(t.client.get({ namespace: 'test', set: 's', key: `missing${i}` }), (e: unknown) => e instanceof DbError && e.code === 'NOT_FOUND');
    await assert.rejects(t.client.get({ namespace: 'nope', set: 's', key: 'x' }), (e: unknown) => e instanceof DbError && e.code === 'NAMESPACE');
    const scanned = [];
    for await (const r of t.client.scan('test', { set: 's' })) scanned.push(r);
    assert.equal(scanned.length, 7);
    const after = await scrape();
    assert.equal(gets('Put', 'OK', after) - gets('Put', 'OK', before), 7);
    assert.equal(gets('Get', 'OK', after) - gets('Get', 'OK', before), 5);
    assert.equal(gets('Get', 'NOT_FOUND', after) - gets('Get', 'NOT_FOUND', before), 3);
    assert.equal(gets('Get', 'NAMESPACE', after), 1);
    assert.equal(gets('Scan', 'OK', after) - gets('Scan', 'OK', before), 1);
    // every Get answered is in the duration histogram, and its +Inf bucket holds them all
    const getCount = sample(after, 'slipstream_rpc_duration_seconds_count', { service: 'slipstream.v1.KeyValueService', method: 'Get' });
    assert.equal(getCount, gets('Get', 'OK', after) + gets('Get', 'NOT_FOUND', after) + 1);
    assert.equal(sample(after, 'slipstream_rpc_duration_seconds_bucket', { service: 'slipstream.v1.KeyValueService', method: 'Get', le: '+Inf' }), getCount);
    assert.ok((sample(after, 'slipstream_rpc_duration_seconds_sum', { service: 'slipstream.v1.KeyValueService', method: 'Get' }) ?? 0) > 0);
    // the kernel's counters and the namespaces' gauges, read at scrape time
    assert.equal(sample(after, 'slipstream_kernel_operations_total', { op: 'read_not_found' }), 3);
    assert.equal(sample(after, 'slipstream_namespace_records', { namespace: 'test' }), 7);
    assert.equal(sample(after, 'slipstream_namespace_records', { namespace: 'other' }), 0);
    assert.ok((sample(after, 'slipstream_namespace_memory_bytes', { namespace: 'test' }) ?? 0) > 0);
    assert.equal(sample(after, 'slipstream_node_info', { node_id: 'A1' }), 1);
    assert.ok((sample(after, 'slipstream_process_resident_memory_bytes') ?? 0) > 0, 'process metrics are there');
  });

  it('counts UDF modules and UDF host processes that died', async function () {
    this.timeout(20_000);
    const engine = t.node.services.require(UDF_ENGINE_KEY);
    assert.equal(sample(await scrape(), 'slipstream_udf_modules'), 0);
    await engine.register('m.js', 'export function one(rec) { return 1; }');
    const call = { module: 'm', fn: 'one' };
    const view = { key: t.node.kernel.key('test', 's', 'u'), exists: false, bins: {} };
    await engine.applyRecord(call, view);
    const pid = engine.host?.pid;
    assert.ok(pid !== undefined, 'the UDF host process is running');
    assert.equal(sample(await scrape(), 'slipstream_udf_host_deaths_total'), 0);
    process.kill(pid, 'SIGKILL');
    for (let i = 0; i < 100 && engine.host?.died === 0; i++) await new Promise((r) => setTimeout(r, 50));
    const text = await scrape();
    assert.equal(sample(text, 'slipstream_udf_host_deaths_total'), 1);
    assert.equal(sample(text, 'slipstream_udf_modules'), 1);
    await engine.applyRecord(call, view); // a fresh host answers
  });

  it('counts the calls sent to the UDF host process and the call pipe writes that carried them (calls per write: the batch size)', async function () {
    this.timeout(30_000);
    const engine = t.node.services.require(UDF_ENGINE_KEY);
    await engine.register('batched.js', 'export function one(rec) { return 1; }');
    const call = { module: 'batched', fn: 'one' };
    const view = (i: number) => ({ key: t.node.kernel.key('test', 's', `b${i}`), exists: false, bins: {} });
    await engine.applyRecord(call, view(0)); // the host and the module's first sandbox are up
    const before = await scrape();
    const calls0 = sample(before, 'slipstream_udf_host_calls_total') ?? 0;
    const writes0 = sample(before, 'slipstream_udf_host_call_writes_total') ?? 0;
    assert.ok(calls0 >= 1 && writes0 >= 1 && writes0 <= calls0, `${calls0} calls, ${writes0} writes so far`);
    // made in one turn of the event loop: they reach the host in a few writes, not one each
    await Promise.all(Array.from({ length: 20 }, (_, i) => engine.applyRecord(call, view(i + 1))));
    const after = await scrape();
    assert.equal((sample(after, 'slipstream_udf_host_calls_total') ?? 0) - calls0, 20);
    const writes = (sample(after, 'slipstream_udf_host_call_writes_total') ?? 0) - writes0;
    assert.ok(writes >= 1 && writes <= 5, `20 calls made together went to the host in ${writes} writes`);
  });

  it('answers 404 for anything but GET /metrics', async () => {
    assert.equal((await fetch(`${url}/`)).status, 404);
    assert.equal((await fetch(`${url}/metrics`, { method: 'POST', body: 'x' })).status, 404);
  });

  it('is off unless configured, and the config and the binary check the port', async () => {
    assert.equal(parseConfig({ namespaces: [{ name: 'test' }] }).node.metricsPort, undefined);
    assert.equal(parseConfig({ node: { metricsPort: 9145 }, namespaces: [{ name: 'test' }] }).node.metricsPort, 9145);
    assert.throws(() => parseConfig({ node: { metricsPort: 70000 }, namespaces: [{ name: 'test' }] }), /node\.metricsPort/);
    assert.throws(() => parseConfig({ node: { metricPort: 1 }, namespaces: [{ name: 'test' }] }), /node\.metricPort.*is not a node setting/);
    const bad = await runNodeBinary(['--metrics-port', 'x']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.output, /port is a whole number/);
  });

  it('the binary serves it with --metrics-port and refuses a port in use with a clear message', async function () {
    // two real node processes start one after the other: a loaded machine can take a minute
    this.timeout(150_000);
    const node = await startNodeProcess(['--port', '0', '--metrics-port', '0', '--data-dir', `/tmp/slipstream-metrics-${process.pid}`]);
    try {
      assert.ok(node.metricsPort !== undefined && node.metricsPort > 0);
      const text = await (await fetch(`http://127.0.0.1:${node.metricsPort}/metrics`)).text();
      assert.ok(sample(text, 'slipstream_node_uptime_seconds') !== undefined);
      const clash = await runNodeBinary(['--port', '0', '--metrics-port', String(node.metricsPort), '--data-dir', `/tmp/slipstream-metrics2-${process.pid}`]);
      assert.notEqual(clash.code, 0);
      assert.match(clash.output, /cannot serve metrics on 127\.0\.0\.1:\d+/);
    } finally {
      await node.stop();
    }
  });
});
