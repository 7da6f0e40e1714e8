/**
 * Live configuration over the admin API: dynamic settings change without a restart, are
 * validated as at start-up (all or none), take effect on the next request, are logged, and
 * GetConfig shows them.
 */
import { strict as assert } from 'node:assert';
import { Writable } from 'node:stream';
import { startTestNode, type TestNode } from '../helpers/node-harness.ts';
import { createLogger } from '../../core/cli/logger.ts';
import { DbError } from '../../core/errors/index.ts';
import { memoryStorage } from '../../plugins/storage-memory/index.ts';
import { createNode } from '../../core/node/node.ts';
import { parseConfig } from '../../core/node/config.ts';
import { SlipstreamClient } from '../../core/client/index.ts';
import { executeAql } from '../../core/client/aql.ts';
import type { Cells, Renderer } from '../../core/aql/language/results.ts';
import { parseStatement } from '../../core/aql/language/parse.ts';
import { printStatement } from '../../core/aql/language/printer.ts';
import { silentLogger } from '../../core/plugin-api/index.ts';
import { PLUGIN_INFO, UDF_ENGINE_KEY } from '../../core/services/keys.ts';
import { defaultPlugins } from '../../core/cli/default-plugins.ts';

function lines(): { stream: Writable; logged: Array<Record<string, unknown>> } {
  const logged: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n')) if (l.trim() !== '') logged.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { stream, logged };
}

describe('live configuration', function () {
  this.timeout(60_000);
  let t: TestNode;

  before(async () => {
    t = await startTestNode({
      config: {
        node: { id: 'D1', host: '127.0.0.1', port: 0 },
        namespaces: [{ name: 'test', storage: 'storage-memory', eviction: { sizeBytes: 50_000_000, evictUsedPct: 60, stopWritesUsedPct: 90 } }],
      },
    });
  });
  after(async () => { await t?.stop(); });

  it('changes namespace TTL defaults and limits and the record size limit, effective at once', async () => {
    const k = { namespace: 'test', set: 's', key: 'a' };
    assert.equal((await t.client.put(k, { v: 1n })).ttl, -1);
    const res = await t.client.setConfig({ 'namespaces.test.defaultTtl': 3600, 'namespaces.test.maxTtl': 7200 });
    assert.deepEqual(res, [{ nodeId: 'D1', applied: [{ name: 'namespaces.test.defaultTtl', from: 0, to: 3600 }, { name: 'namespaces.test.maxTtl', from: 315360000, to: 7200 }] }]);
    const ttl = (await t.client.put(k, { v: 2n })).ttl;
    assert.ok(ttl > 3590 && ttl <= 3600, `the new default TTL applies (${ttl})`);
    await assert.rejects(t.client.put(k, { v: 3n }, { ttl: 10_000 }), (e: DbError) => e.code === 'PARAMETER' && /maximum of 7200 s/.test(e.message));
    await t.client.setConfig({ 'namespaces.test.maxRecordBytes': 100 });
    await assert.rejects(t.client.put(k, { v: 'x'.repeat(200) }), (e: DbError) => e.code === 'RECORD_TOO_BIG' && /allows 100/.test(e.message));
    const { config, dynamicSettings } = await t.client.getConfig();
    const ns = (config['namespaces'] as Array<Record<string, unknown>>)[0] as Record<string, unknown>;
    assert.deepEqual([ns['defaultTtl'], ns['maxTtl'], ns['maxRecordBytes']], [3600, 7200, 100]);
    assert.ok(dynamicSettings.includes('namespaces.<ns>.eviction.evictUsedPct'));
    const stats = await t.client.statistics('test');
    assert.equal(stats.get('default_ttl'), '3600');
  });

  it('validates as at start-up: a bad change is refused with the start-up message, and none of the call is applied', async () => {
    const before = (await t.client.getConfig()).config;
    await assert.rejects(t.client.setConfig({ 'namespaces.test.defaultTtl': 60, 'namespaces.test.eviction.evictUsedPct': 95 }),
      (e: DbError) => e.code === 'PARAMETER' && /evictUsedPct \(95\) must be below stopWritesUsedPct \(90\)/.test(e.message) && /evict before writes stop/.test(e.hint ?? ''));
    await assert.rejects(t.client.setConfig({ 'namespaces.test.defaultTtl': -5 }), (e: DbError) => e.code === 'PARAMETER' && /defaultTtl: must be an integer from 0/.test(e.message));
    await assert.rejects(t.client.setConfig({ 'node.port': 4000 }), (e: DbError) => e.code === 'PARAMETER' && /not a setting that can change while the node runs/.test(e.message) && /logLevel/.test(e.hint ?? ''));
    await assert.rejects(t.client.setConfig({ 'namespaces.nope.defaultTtl': 5 }), (e: DbError) => e.code === 'NAMESPACE');
    await assert.rejects(t.client.setConfig({ logLevel: 'loud' }), (e: DbError) => e.code === 'PARAMETER' && /logLevel: must be/.test(e.message));
    assert.deepEqual((await t.client.getConfig()).config, before, 'nothing changed');
    await t.client.setConfig({ 'namespaces.test.eviction.evictUsedPct': 70, 'namespaces.test.eviction.stopWritesUsedPct': 95 }, { clusterWide: true });
    const stats = await t.client.statistics('test');
    assert.deepEqual([stats.get('evict_used_pct'), stats.get('stop_writes_used_pct')], ['70', '95']);
  });

  it('changes UDF limits live: time limits, memory and recycling; isolation and pool size take a restart', async () => {
    const engine = t.node.services.get(UDF_ENGINE_KEY);
    assert.ok(engine !== undefined);
    assert.equal(engine.timeLimit(undefined), 1000);
    const res = await t.client.setConfig({ 'udf.defaultTimeoutMs': 250, 'udf.maxTimeoutMs': 20_000, 'udf.maxCallsPerIsolate': 50, 'udf.memoryLimitMb': 32 });
    assert.deepEqual(res[0]?.applied.map((a) => [a.name, a.from, a.to]), [
      ['udf.defaultTimeoutMs', null, 250], ['udf.maxTimeoutMs', null, 20_000], ['udf.maxCallsPerIsolate', null, 50], ['udf.memoryLimitMb', null, 32],
    ]);
    assert.deepEqual(engine.liveLimits(), { defaultTimeoutMs: 250, defaultAggregationTimeoutMs: 30_000, maxTimeoutMs: 20_000, maxCallsPerIsolate: 50, memoryLimitMb: 32 });
    assert.equal(engine.timeLimit(undefined), 250, 'the next call gets the new default');
    assert.equal(engine.timeLimit(50_000), 20_000, 'and the new maximum');
    const sections = (await t.client.getConfig()).config['sections'] as Record<string, Record<string, unknown>>;
    assert.equal(sections['udf']?.['maxTimeoutMs'], 20_000, 'GetConfig shows it');
    await assert.rejects(t.client.setConfig({ 'udf.maxTimeoutMs': 0 }), (e: DbError) => e.code === 'PARAMETER' && /maxTimeoutMs/.test(e.message));
    await assert.rejects(t.client.setConfig({ 'udf.poolSize': 4 }), (e: DbError) => e.code === 'PARAMETER' && /not a setting that can change/.test(e.message));
    assert.equal(engine.liveLimits().maxTimeoutMs, 20_000, 'a refused change leaves the limits');
  });

  it('changes the retransmit strategy\'s options live: checked against the plugin\'s schema, a new instance in place of the old', async () => {
    const node = await createNode(parseConfig({
      node: { id: 'D3', host: '127.0.0.1', port: 0 }, namespaces: [{ name: 'test' }],
      cluster: { clusterName: 'live', heartbeat: { address: '127.0.0.1:0' }, fabric: { address: '127.0.0.1:0' }, seeds: [] },
    }), { plugins: defaultPlugins(), logger: silentLogger });
    const client = await SlipstreamClient.connect({ hosts: [`127.0.0.1:${node.port}`], timeoutMs: 10_000 });
    try {
      const instances = () => node.services.get(PLUGIN_INFO)?.info().find((p) => p.name === 'retransmit-basic')?.instances ?? [];
      assert.equal(instances().length, 1);
      const res = await client.setConfig({ 'cluster.retransmit.options.intervalMs': 100 });
      assert.deepEqual(res[0]?.applied, [{ name: 'cluster.retransmit.options.intervalMs', from: null, to: 100 }]);
      assert.deepEqual(instances().map((i) => i.options['intervalMs']), [100], 'one instance, with the new options');
      await assert.rejects(client.setConfig({ 'cluster.retransmit.options.nope': 1 }), (e: DbError) => e.code === 'PARAMETER' && /retransmit-basic/.test(e.message));
      await assert.rejects(client.setConfig({ 'cluster.retransmit.options.intervalMs': -5 }), (e: DbError) => e.code === 'PARAMETER' && /intervalMs/.test(e.message));
      await assert.rejects(client.setConfig({ 'cluster.retransmit.strategy': 'retransmit-throttle' }), (e: DbError) => e.code === 'PARAMETER' && /not a setting that can change/.test(e.message));
      assert.deepEqual(instances().map((i) => i.options['intervalMs']), [100], 'refused changes leave the strategy');
      // AQL SET CONFIG on a cluster of one: one row, this node
      const rows: Array<Record<string, unknown>> = [];
      await executeAql(client, { text: 'SET CONFIG cluster.retransmit.options.intervalMs 200' }, { begin: () => {}, row: (cells: Cells) => { rows.push(Object.fromEntries(cells)); }, end: () => {}, status: () => {} });
      assert.deepEqual(rows, [{ node: 'D3', name: 'cluster.retransmit.options.intervalMs', from: '100', to: '200', error: '' }]);
      await assert.rejects(t.client.setConfig({ 'cluster.retransmit.options.intervalMs': 100 }), (e: DbError) => e.code === 'PARAMETER' && /runs alone/.test(e.message));
    } finally {
      client.close();
      await node.stop();
    }
  });

  it('changes the log level of the node and of the loggers its parts already made, and logs every change', async () => {
    const { stream, logged } = lines();
    const { logger, setLevel } = createLogger('warn', 'slipstream', stream);
    const node = await createNode(parseConfig({ node: { id: 'D2', host: '127.0.0.1', port: 0 }, logLevel: 'warn', namespaces: [{ name: 'test' }] }), { plugins: [memoryStorage()], logger, setLogLevel: setLevel });
    const client = await SlipstreamClient.connect({ hosts: [`127.0.0.1:${node.port}`], timeoutMs: 10_000 });
    try {
      const child = logger.child({ part: 'made before the change' });
      child.debug('hidden');
      await client.setConfig({ logLevel: 'debug' });
      child.debug('shown');
      await new Promise((r) => setImmediate(r));
      assert.ok(!logged.some((l) => l['msg'] === 'hidden'));
      assert.ok(logged.some((l) => l['msg'] === 'shown' && l['part'] === 'made before the change'), 'a child made before the change follows it');
      // the change itself is logged at info, which the old level (warn) would have hidden
      assert.ok(logged.some((l) => l['msg'] === 'configuration changed' && l['setting'] === 'logLevel' && l['from'] === 'warn' && l['to'] === 'debug'));
      assert.equal((await client.getConfig()).config['logLevel'], 'debug');
    } finally {
      client.close();
      await node.stop();
    }
  });

  it('AQL: SHOW CONFIG lists the settings and which are dynamic; SET CONFIG changes one, or fails with the start-up message', async () => {
    const run = async (text: string): Promise<{ rows: Array<Record<string, unknown>>; status: Array<{ code: number; message: string }> }> => {
      const rows: Array<Record<string, unknown>> = [];
      const status: Array<{ code: number; message: string }> = [];
      const r: Renderer = { begin: () => {}, row: (cells: Cells) => { rows.push(Object.fromEntries(cells)); }, end: () => {}, status: (code, message) => { status.push({ code, message }); } };
      await executeAql(t.client, { text }, r);
      return { rows, status };
    };
    const set = await run('SET CONFIG namespaces.test.defaultTtl 120');
    assert.deepEqual(set.status.map((x) => x.code), [0]);
    assert.deepEqual(set.rows, [{ node: 'D1', name: 'namespaces.test.defaultTtl', from: '3600', to: '120', error: '' }]);
    const show = await run('SHOW CONFIG');
    const byName = new Map(show.rows.map((r) => [r['name'], r]));
    assert.deepEqual(byName.get('namespaces.test.defaultTtl'), { name: 'namespaces.test.defaultTtl', value: '120', dynamic: true });
    assert.equal(byName.get('node.port')?.['dynamic'], false);
    const level = await run("SET CONFIG logLevel 'debug'");
    assert.deepEqual(level.rows, [{ node: 'D1', name: 'logLevel', from: '"info"', to: '"debug"', error: '' }]);
    const bad = await run('SET CONFIG namespaces.test.eviction.stopWritesUsedPct 50');
    assert.equal(bad.status[0]?.code, 4);
    assert.match(bad.status[0]?.message ?? '', /evictUsedPct \(70\) must be below stopWritesUsedPct \(50\)/);
    const stat = await run('SET CONFIG node.port 4000');
    assert.match(stat.status[0]?.message ?? '', /not a setting that can change while the node runs/);
    // the statement prints back as it parses
    const stmt = parseStatement('set config namespaces.test.maxTtl -1');
    assert.equal(printStatement(stmt), 'SET CONFIG namespaces.test.maxTtl -1');
  });
});
