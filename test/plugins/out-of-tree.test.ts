/**
 * Plugins that are not built in, loaded by the stock binary from paths outside the project
 * (the guide's examples, copied to a temporary folder, import `slipstream/plugin-api` by name),
 * serving real traffic — and broken plugins, each stopping start-up with a message that names
 * the plugin, its file and the problem, before anything listens.
 */
import { strict as assert } from 'node:assert';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runNodeBinary, startNodeProcess, type NodeProcess } from '../helpers/process-node.ts';
import { SlipstreamClient } from '../../core/client/index.ts';
import { rendezvousReplication } from '../../examples/plugins/replication-rendezvous/index.ts';
import { createReplication } from 'slipstream/testing';
import { until } from '../helpers/until.ts';
import { clusterInfo as info, partitionMap } from '../helpers/cluster-info.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURES = join(ROOT, 'test/fixtures/plugins');

describe('plugins loaded from files by the stock binary', function () {
  this.timeout(120_000);
  let dir: string;
  const procs: NodeProcess[] = [];

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'slip-oot-'));
    // out of the project's tree: the plugin files alone, no node_modules beside them
    mkdirSync(join(dir, 'plugins'));
    for (const name of ['storage-append-log', 'replication-rendezvous', 'retransmit-capped-backoff']) {
      copyFileSync(join(ROOT, 'examples/plugins', name, 'index.ts'), join(dir, 'plugins', `${name}.ts`));
    }
  });
  after(async () => {
    for (const p of procs) await p.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  function config(name: string, body: Record<string, unknown>): string {
    const file = join(dir, `${name}.json`);
    writeFileSync(file, JSON.stringify({ logLevel: 'warn', ...body }));
    return file;
  }

  it('a storage plugin from a path in the config serves reads and writes, keeps them across a restart, and shows its options', async () => {
    const file = config('storage', {
      node: { port: 0, dataDir: join(dir, 'data-storage') },
      plugins: ['./plugins/storage-append-log.ts'],
      namespaces: [{ name: 'test', storage: 'storage-append-log', storageOptions: { dataDir: 'log' } }],
    });
    const printed = await runNodeBinary(['--config', file, '--print-config']);
    assert.equal(printed.code, 0, printed.output);
    const shown = JSON.parse(printed.output) as { pluginOptions: { scope: string; plugin: string; source: string; options: Record<string, unknown> }[] };
    assert.deepEqual(shown.pluginOptions.map((p) => [p.scope, p.plugin, p.source, p.options]), [
      ['namespace test', 'storage-append-log', join(dir, 'plugins/storage-append-log.ts'), { dataDir: 'log', fsync: false }],
    ]);

    let node = await startNodeProcess(['--config', file], { timeoutMs: 60_000 });
    procs.push(node);
    let client = await SlipstreamClient.connect({ hosts: `127.0.0.1:${node.port}` });
    try {
      for (let i = 0; i < 20; i++) await client.put({ namespace: 'test', set: 'users', key: `u${i}` }, { n: i, name: `user ${i}` });
      assert.deepEqual((await client.get({ namespace: 'test', set: 'users', key: 'u7' })).bins, { n: 7, name: 'user 7' });
    } finally {
      client.close();
    }
    assert.equal(await node.stop(), 0);
    node = await startNodeProcess(['--config', file], { timeoutMs: 60_000 });
    procs.push(node);
    client = await SlipstreamClient.connect({ hosts: `127.0.0.1:${node.port}` });
    try {
      assert.deepEqual((await client.get({ namespace: 'test', set: 'users', key: 'u19' })).bins, { n: 19, name: 'user 19' });
      assert.equal((await client.statistics('test')).get('objects'), '20');
    } finally {
      client.close();
    }
  });

  it('replication and retransmit plugins from --plugin and the config place the partitions of a two-node cluster and carry its replica writes', async () => {
    const start = async (id: string, seeds: string[]): Promise<NodeProcess> => {
      const file = config(`cluster-${id}`, {
        node: { id, port: 0, dataDir: join(dir, `data-${id}`) },
        plugins: ['./plugins/retransmit-capped-backoff.ts'],
        namespaces: [{ name: 'test', storage: 'storage-memory', replicationFactor: 2 }],
        cluster: {
          clusterName: 'oot', heartbeat: { address: '127.0.0.1:0', intervalMs: 50, timeout: 5 }, fabric: { address: '127.0.0.1:0' }, seeds,
          replication: { strategy: 'replication-rendezvous', options: { spreadOver: 'none' } },
          retransmit: { strategy: 'retransmit-capped-backoff', options: { firstDelayMs: 20, maxAttempts: 20 } },
        },
      });
      const p = await startNodeProcess(['--config', file, '--plugin', join(dir, 'plugins/replication-rendezvous.ts')], { timeoutMs: 60_000 });
      procs.push(p);
      return p;
    };
    const a = await start('B2', []);
    const seed = (await info(a.port)).members[0]?.heartbeatAddress as string;
    const b = await start('B1', [seed]);
    await until('a two-node cluster', async () => {
      const rs = await Promise.all([a, b].map((p) => info(p.port)));
      return rs.every((r) => r.members.map((m) => m.nodeId).join() === 'B2,B1' && r.state === 'online') ? rs : undefined;
    }, 30_000);

    // the map is the rendezvous placement, computed here from the same members
    const expected = createReplication(rendezvousReplication(), { spreadOver: 'none' }).assign({
      clusterKey: 0n, succession: [{ id: 0xb2n, rackId: 0, zoneId: 0 }, { id: 0xb1n, rackId: 0, zoneId: 0 }],
    }, 2);
    const map = await until('the partition map', async () => {
      const m = await partitionMap(a.port, 'test');
      return m.partitions.length === 4096 ? m : undefined;
    }, 10_000);
    const names = map.partitions.map((p) => p.nodeIndexes.map((i) => map.nodes[i]).join());
    assert.deepEqual(names, expected.map((row) => row.map((id) => id.toString(16).toUpperCase()).join()));
    assert.notDeepEqual(names.map((n) => n.split(',')[0]).filter((m) => m === 'B2').length, 4096, 'masters are spread');

    // writes through one node reach their masters and, over the fabric (whose resends the
    // retransmit plugin paces), the replicas: with RF 2 on two nodes each node holds every record
    const ca = await SlipstreamClient.connect({ hosts: `127.0.0.1:${b.port}` });
    const cb = await SlipstreamClient.connect({ hosts: `127.0.0.1:${a.port}` });
    try {
      for (let i = 0; i < 20; i++) await ca.put({ namespace: 'test', set: 's', key: `k${i}` }, { i });
      for (let i = 0; i < 20; i++) assert.deepEqual((await cb.get({ namespace: 'test', set: 's', key: `k${i}` })).bins, { i });
      const objects = await until('a copy of every record on both nodes', async () => {
        const n = await Promise.all([ca, cb].map(async (c) => Number((await c.statistics('test')).get('objects'))));
        return n.every((x) => x === 20) ? n : undefined;
      }, 20_000);
      assert.deepEqual(objects, [20, 20]);
    } finally {
      ca.close();
      cb.close();
    }
  });

  describe('a broken plugin stops start-up with a message naming the plugin, the file and the problem', () => {
    const cases: [string, string, Record<string, unknown>, RegExp][] = [
      ['fails to load', 'fails-to-load.js', {}, /plugin .*fails-to-load\.js: failed to load: .*slipstream-no-such-compression-library/],
      ['declares a kind the node does not know', 'wrong-kind.js', {}, /plugin 'cache-lru' \(.*wrong-kind\.js\) has unknown kind "cache"/],
      ['was built for another API version', 'wrong-api-version.js', {}, /plugin 'storage-old' \(.*wrong-api-version\.js\) was written for plugin API version 1; this node has version 2/],
      ['is given options its schema refuses', 'throws-in-create.js', { storage: 'storage-on-fire', storageOptions: { path: 42 } },
        /namespace 'test': plugin storage-on-fire \(.*throws-in-create\.js\) option path: must be a string, got 42/],
      ['throws in create', 'throws-in-create.js', { storage: 'storage-on-fire' },
        /namespace 'test': plugin storage-on-fire \(.*throws-in-create\.js\) failed in create: the disk for test is on fire/],
      ['is a file that does not exist', 'no-such-plugin.ts', {}, /plugin .*no-such-plugin\.ts: file .*no-such-plugin\.ts does not exist/],
    ];
    // all at once: each is a process of its own
    const runs = new Map<string, Promise<{ code: number | null; output: string }>>();
    before(() => {
      cases.forEach(([what, fixture, ns], i) => {
        const file = config(`broken-${i}`, { node: { port: 0, dataDir: join(dir, `data-broken-${i}`) }, namespaces: [{ name: 'test', ...ns }] });
        runs.set(what, runNodeBinary(['--config', file, '--plugin', join(FIXTURES, fixture)]));
      });
    });
    for (const [what, , , message] of cases) {
      it(what, async () => {
        const r = await (runs.get(what) as Promise<{ code: number | null; output: string }>);
        assert.equal(r.code, 1, r.output);
        assert.match(r.output, message);
        assert.doesNotMatch(r.output, /node ready|gRPC server listening/, 'the node must not have started');
      });
    }
  });
});
