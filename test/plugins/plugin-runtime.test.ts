/**
 * Plugins at run time in a node: options checked and defaulted before `create`, `start` and
 * `health` called, errors thrown by a plugin named (plugin and operation), counted in SHOW
 * PLUGINS, the admin API and the metrics — and the node keeps serving.
 */
import { strict as assert } from 'node:assert';
import { startTestNode, type TestNode } from '../helpers/node-harness.ts';
import { memoryStorage } from '../../plugins/storage-memory/index.ts';
import { executeAql } from '../../core/client/aql.ts';
import { DEFAULT_SETTINGS } from '../../core/aql/language/settings.ts';
import { DbError, PLUGIN_API_VERSION, Type, type StoragePlugin } from '../../core/plugin-api/index.ts';

/** The memory engine, except that reading the key digest of 'poison' throws, and a health that says so. */
function flakyStorage(events: string[]): StoragePlugin {
  const inner = memoryStorage();
  return {
    kind: 'storage', name: 'storage-flaky', apiVersion: PLUGIN_API_VERSION, version: '0.0.1',
    optionsSchema: Type.Object({ failOn: Type.Optional(Type.String({ default: 'poison' })) }, { additionalProperties: false }),
    async create(ctx, ns, options) {
      events.push(`create ${JSON.stringify(options)}`);
      const engine = await inner.create(ctx, ns, {});
      let failures = 0;
      const poisoned = new Set<string>();
      return Object.assign(Object.create(engine) as typeof engine, {
        capabilities: engine.capabilities,
        async get(digest: Uint8Array) {
          if (poisoned.has(Buffer.from(digest).toString('hex'))) { failures++; throw new Error('checksum mismatch'); }
          return engine.get(digest);
        },
        async put(record: Parameters<typeof engine.put>[0], expect: Parameters<typeof engine.put>[1]) {
          if (record.set === options['failOn']) poisoned.add(Buffer.from(record.digest).toString('hex'));
          return engine.put(record, expect);
        },
        start() { events.push('start'); },
        health: () => ({ ok: failures === 0, detail: `${failures} checksum failures` }),
      });
    },
  };
}

async function aqlRows(t: TestNode, text: string): Promise<Map<string, unknown>[]> {
  const rows: Map<string, unknown>[] = [];
  const st = await executeAql(t.client, { text, settings: { ...DEFAULT_SETTINGS, TIMEOUT: 10_000 } }, {
    begin: () => {}, end: () => {}, status: () => {}, row: (cells) => { rows.push(new Map(cells)); },
  });
  assert.equal(st[0]?.code, 0, JSON.stringify(st));
  return rows;
}

describe('plugins at run time', function () {
  this.timeout(60_000);
  const events: string[] = [];
  let t: TestNode;
  before(async () => {
    t = await startTestNode({
      plugins: [memoryStorage(), flakyStorage(events)],
      config: {
        node: { id: 'A1', host: '127.0.0.1', port: 0, metricsPort: 0 },
        namespaces: [{ name: 'test', storage: 'storage-memory' }, { name: 'flaky', storage: 'storage-flaky', storageOptions: { failOn: 'bad' } }],
      },
    });
  });
  after(() => t.stop());

  it('creates with checked options and defaults, then starts, before serving', () => {
    assert.deepEqual(events, ['create {"failOn":"bad"}', 'start']);
  });

  it('a plugin error reaches the client naming the plugin and the operation; the node goes on serving', async () => {
    await t.client.put({ namespace: 'flaky', set: 'bad', key: 'k' }, { a: 1 });
    await t.client.put({ namespace: 'flaky', set: 'good', key: 'k' }, { a: 2 });
    await assert.rejects(t.client.get({ namespace: 'flaky', set: 'bad', key: 'k' }),
      (e: unknown) => e instanceof DbError && e.code === 'SERVER_ERROR' && /storage-flaky failed in get: checksum mismatch/.test(e.message));
    assert.deepEqual((await t.client.get({ namespace: 'flaky', set: 'good', key: 'k' })).bins, { a: 2 });
    assert.deepEqual((await t.client.get({ namespace: 'test', set: 's', key: 'missing' }).catch((e: DbError) => e.code)), 'NOT_FOUND');
  });

  it('the admin API lists every plugin with its source, options, health and errors', async () => {
    const plugins = await t.client.plugins();
    const flaky = plugins.find((p) => p.name === 'storage-flaky');
    assert.ok(flaky);
    assert.equal(flaky.kind, 'storage');
    assert.equal(flaky.version, '0.0.1');
    assert.equal(flaky.source, 'built-in');
    assert.deepEqual(flaky.instances.map((i) => [i.scope, JSON.parse(i.optionsJson), i.healthy, i.healthDetail]), [['namespace flaky', { failOn: 'bad' }, false, '1 checksum failures']]);
    assert.deepEqual(flaky.errors.map((e) => [e.operation, e.count]), [['get', 1n]]);
    const memory = plugins.find((p) => p.name === 'storage-memory');
    assert.deepEqual(memory?.instances.map((i) => [i.scope, i.healthy]), [['namespace test', true]]);
  });

  it('SHOW PLUGINS shows the same, one row per instance', async () => {
    const rows = await aqlRows(t, 'SHOW PLUGINS');
    const flaky = rows.filter((r) => r.get('plugin') === 'storage-flaky');
    assert.equal(flaky.length, 1);
    const row = flaky[0] as Map<string, unknown>;
    assert.equal(row.get('kind'), 'storage');
    assert.equal(row.get('scope'), 'namespace flaky');
    assert.equal(row.get('options'), '{"failOn":"bad"}');
    assert.equal(row.get('healthy'), false);
    assert.equal(row.get('errors'), 1n);
    assert.ok(rows.some((r) => r.get('plugin') === 'storage-memory' && r.get('scope') === 'namespace test' && r.get('healthy') === true));
  });

  it('the metrics count plugin errors per plugin and operation', async () => {
    const text = await (await fetch(`http://127.0.0.1:${t.node.metricsPort}/metrics`)).text();
    assert.match(text, /^slipstream_plugin_errors_total\{plugin="storage-flaky",operation="get"\} 1$/m);
    assert.match(text, /^slipstream_plugin_healthy\{plugin="storage-flaky",kind="storage"\} 0$/m);
    assert.match(text, /^slipstream_plugin_healthy\{plugin="storage-memory",kind="storage"\} 1$/m);
  });
});
