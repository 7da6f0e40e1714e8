/**
 * Real processes on 127.0.0.1: the server binary with a `cluster` section, ephemeral ports,
 * SIGKILL, restart, and a node of another cluster name that must never merge.
 */
import { strict as assert } from 'node:assert';
import type { NodeProcess } from '../helpers/process-node.ts';
import { ProcessCluster, membersOf as members } from '../helpers/process-cluster.ts';
import { clusterInfo as info, partitionMap } from '../helpers/cluster-info.ts';
import { SlipstreamClient } from '../../core/client/index.ts';
import { executeAql } from '../../core/client/aql.ts';
import { DEFAULT_SETTINGS } from '../../core/aql/language/settings.ts';
import type { GetClusterInfoResponse } from '../../core/wire/generated/slipstream/v1/cluster.ts';
import { until } from '../helpers/until.ts';

const HB = { intervalMs: 100, timeout: 10 }; // node timeout 1 s (robust on a loaded machine)

/** Runs AQL text on a node through the AqlService and returns the rows as maps. */
async function aqlRows(port: number, text: string): Promise<Map<string, unknown>[]> {
  const client = await SlipstreamClient.connect({ hosts: `127.0.0.1:${port}`, timeoutMs: 10_000 });
  const rows: Map<string, unknown>[] = [];
  try {
    const st = await executeAql(client, { text, settings: { ...DEFAULT_SETTINGS, TIMEOUT: 10_000 } }, {
      begin: () => {}, end: () => {}, status: () => {},
      row: (cells) => { rows.push(new Map(cells)); },
    });
    assert.equal(st[0]?.code, 0, JSON.stringify(st));
  } finally {
    client.close();
  }
  return rows;
}

describe('cluster/real processes on 127.0.0.1', function () {
  this.timeout(180_000);
  const cluster = new ProcessCluster({ name: 'cluster', clusterName: 'alpha', heartbeat: HB, metrics: true });
  const start = (id: string, clusterName: string, seeds: string[]): Promise<NodeProcess> => cluster.start(id, { clusterName, seeds });

  after(() => cluster.close());

  it('three nodes form one cluster, lose a SIGKILLed node, take it back, and never merge with another cluster name', async () => {
    const a = await start('A3', 'alpha', []);
    const seed = (await info(a.port)).members[0]?.heartbeatAddress as string;
    assert.match(seed, /^127\.0\.0\.1:\d+$/);
    const [b, c] = await Promise.all([start('A2', 'alpha', [seed]), start('A1', 'alpha', [seed])]);
    const stranger = await start('FF', 'beta', [seed]);

    const formed = (await cluster.formed(['A3', 'A2', 'A1'], { ms: 20_000 })).infos;
    const r0 = formed[0] as GetClusterInfoResponse;
    assert.equal(r0.principal, 'A3');
    assert.ok(r0.members.every((m) => m.serviceAddress.startsWith('127.0.0.1:')), JSON.stringify(r0.members));
    const masters = r0.members.map((m) => m.partitions[0]?.masters ?? 0);
    assert.equal(masters.reduce((x, y) => x + y, 0), 4096);

    // each node's Prometheus metrics show the cluster: its size, one principal, the masters
    const scraped = await until('metrics agree', async () => {
      const texts = await Promise.all([a, b, c].map(async (p) => (await fetch(`http://127.0.0.1:${p.metricsPort}/metrics`)).text()));
      const value = (t: string, re: RegExp): number => Number(re.exec(t)?.[1] ?? NaN);
      const rows = texts.map((t) => ({
        size: value(t, /^slipstream_cluster_size (\d+)$/m),
        principal: value(t, /^slipstream_cluster_principal (\d+)$/m),
        mastered: value(t, /^slipstream_cluster_partitions_mastered\{namespace="test"\} (\d+)$/m),
      }));
      return rows.every((r) => r.size === 3) && rows.reduce((n, r) => n + r.mastered, 0) === 4096 ? rows : undefined;
    }, 10_000);
    assert.deepEqual(scraped.map((r) => r.principal), [1, 0, 0]);
    assert.deepEqual(scraped.map((r) => r.mastered), masters);

    const map = await partitionMap(b.port, 'test');
    assert.equal(map.partitions.length, 4096);
    assert.equal(map.effectiveReplicationFactor, 2);
    assert.deepEqual(map.nodes, ['A3', 'A2', 'A1']);
    const mapA = await partitionMap(a.port, 'test');
    assert.deepEqual(mapA.partitions, map.partitions, 'nodes disagree on the partition map');

    // AQL sees the same cluster: SHOW CLUSTER lists the members, SHOW PARTITIONS the map
    const shown = await aqlRows(b.port, 'SHOW CLUSTER');
    assert.deepEqual(shown.map((r) => r.get('node')).sort(), ['A1', 'A2', 'A3']);
    assert.equal(shown.filter((r) => r.get('principal') === true).map((r) => r.get('node')).join(), 'A3');
    const nsCount = BigInt(r0.members[0]?.partitions.length ?? 0);
    assert.ok(nsCount > 0n);
    assert.equal(shown.reduce((n, r) => n + (r.get('masters') as bigint), 0n), 4096n * nsCount, 'each namespace has 4096 masters');
    const parts = await aqlRows(b.port, 'SHOW PARTITIONS test');
    assert.equal(parts.length, 4096);
    assert.deepEqual(parts.map((r) => [r.get('master'), ...(r.get('replicas') as string[])]), map.partitions.map((p) => p.nodeIndexes.map((i) => map.nodes[i])));

    // the other cluster name stays alone
    const s = await info(stranger.port);
    assert.equal(members(s), 'FF');
    assert.ok(!r0.members.some((m) => m.nodeId === 'FF'));

    // a write load through every node (RF 2): 3 writers, each its own keys, one write at a time
    // routing 'seed': each writer's requests enter the cluster through its own node (proxied to the masters)
    const loadClients = await Promise.all([a, b, c].map((p) => SlipstreamClient.connect({ hosts: `127.0.0.1:${p.port}`, timeoutMs: 3000, routing: 'seed' })));
    const acked = new Map<string, bigint>();
    const doubt = new Map<string, Set<bigint>>();
    let stopLoad = false;
    let killedAt = 0;
    let lastFailureAfterKill = 0;
    const writer = async (w: number): Promise<void> => {
      const cl = loadClients[w] as SlipstreamClient;
      for (let i = 0; !stopLoad; i++) {
        const k = `w${w}-${i % 150}`;
        const v = BigInt(i);
        try {
          await cl.put({ namespace: 'test', set: 'load', key: k }, { v });
          acked.set(k, v);
          doubt.delete(k);
        } catch (e) {
          if (killedAt > 0) lastFailureAfterKill = Date.now();
          if ((e as { inDoubt?: boolean }).inDoubt === true) {
            let set = doubt.get(k);
            if (set === undefined) doubt.set(k, set = new Set());
            set.add(v);
          }
          if (w === 2) return; // the killed node's own client stops at its first failure
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    };
    const writers = [0, 1, 2].map(writer);
    await new Promise((r) => setTimeout(r, 1500));

    // SIGKILL a member under the load: removed within heartbeat timeout + one quantum (+ slack for a loaded machine)
    killedAt = Date.now();
    await cluster.kill('A1');
    const removing = Date.now();
    await cluster.formed(['A3', 'A2'], { ms: 15_000 });
    const removedMs = Date.now() - removing;
    assert.ok(removedMs < 5000, `took ${removedMs} ms`);
    await new Promise((r) => setTimeout(r, 1500));
    stopLoad = true;
    await Promise.all(writers);
    const windowMs = lastFailureAfterKill === 0 ? 0 : lastFailureAfterKill - killedAt;
    console.log(`      (write load: ${acked.size} keys acknowledged; writes failed for ${windowMs} ms after the SIGKILL)`);
    assert.ok(acked.size > 50, `only ${acked.size} keys written`);
    // no acknowledged write is lost: both survivors read every acknowledged value (or a later one in doubt)
    for (const cl of loadClients.slice(0, 2) as SlipstreamClient[]) {
      for (const [k, v] of acked) {
        const got = (await cl.get({ namespace: 'test', set: 'load', key: k })).bins['v'] as bigint;
        assert.ok(got === v || (doubt.get(k)?.has(got) ?? false), `key ${k}: read ${got}, acknowledged ${v}`);
      }
    }
    for (const cl of loadClients) cl.close();

    // restart: rejoins
    const c2 = await start('A1', 'alpha', [seed]);
    await cluster.formed(['A3', 'A2', 'A1'], { ms: 20_000 });
    assert.equal(members(await info(stranger.port)), 'FF');
    cluster3 = [a, b, c2];

    // the restarted node (empty memory) got its partitions back by migration: every acknowledged
    // write reads the same through all three nodes, and each record has two copies again
    const after = await Promise.all(cluster3.map((p) => SlipstreamClient.connect({ hosts: `127.0.0.1:${p.port}`, timeoutMs: 10_000, routing: 'seed' })));
    try {
      for (const cl of after) {
        for (const [k, v] of acked) {
          const got = (await cl.get({ namespace: 'test', set: 'load', key: k })).bins['v'] as bigint;
          assert.ok(got === v || (doubt.get(k)?.has(got) ?? false), `after the restart, key ${k}: read ${got}, acknowledged ${v}`);
        }
      }
      const [count] = await until('COUNT(*)', () => aqlRows(a.port, 'SELECT COUNT(*) FROM test.load'), 20_000);
      const records = [...(count?.values() ?? [])][0] as bigint;
      assert.ok(records >= BigInt(acked.size), `COUNT(*) ${records} < ${acked.size}`);
      // once all three are Online, copies a node kept while A1 was away are dropped: two copies of each record
      let objects: number[] = [];
      await until('two copies of every record', async () => {
        objects = await Promise.all(after.map(async (cl) => Number((await cl.statistics('test')).get('objects'))));
        return objects.reduce((x, y) => x + y, 0) === 2 * Number(records) ? true : undefined;
      }, 20_000).catch(() => assert.fail(`copies per node ${objects.join('/')} for ${records} records (RF 2)`));
      const migrated = Number((await (after[2] as SlipstreamClient).statistics()).get('migrate_records_received'));
      assert.ok(migrated > 0, 'the restarted node received its partitions by migration');
      console.log(`      (restart: ${migrated} records migrated to the restarted node; copies per node ${objects.join('/')})`);
    } finally {
      for (const cl of after) cl.close();
    }
  });

  let cluster3: NodeProcess[] = [];

  it('routes every record to its master: written through one node, read through any, proxied transparently', async () => {
    assert.equal(cluster3.length, 3, 'needs the cluster of the previous test');
    const [a, b, c] = cluster3 as [NodeProcess, NodeProcess, NodeProcess];
    const map = await partitionMap(a.port, 'test');
    // routing 'seed': every request goes to the node the client names, which proxies it to the master
    const clients = await Promise.all(cluster3.map((p) => SlipstreamClient.connect({ hosts: `127.0.0.1:${p.port}`, timeoutMs: 10_000, routing: 'seed' })));
    try {
      const [ca, cb, cc] = clients as [SlipstreamClient, SlipstreamClient, SlipstreamClient];
      // 60 keys through A: about two thirds of them are mastered elsewhere and proxied
      const keys = Array.from({ length: 60 }, (_, i) => ({ namespace: 'test', set: 'dp', key: `k${i}` }));
      for (const [i, k] of keys.entries()) await ca.put(k, { n: BigInt(i), s: `v${i}` });
      for (const cl of [cb, cc, ca]) {
        for (const [i, k] of keys.entries()) {
          const rec = await cl.get(k);
          assert.deepEqual(rec.bins, { n: BigInt(i), s: `v${i}` }, `key ${k.key}`);
        }
      }
      // a write through C is seen through B; operate and delete are proxied too
      const k0 = keys[0] as (typeof keys)[number];
      await cc.operate(k0, [{ op: 'add', bin: 'n', value: 10n }]);
      assert.equal((await cb.get(k0)).bins['n'], 10n);
      assert.equal((await ca.get(k0)).meta.generation, 2);
      await cb.delete(keys[1] as (typeof keys)[number]);
      for (const cl of clients) await assert.rejects(cl.get(keys[1] as (typeof keys)[number]), (e: Error & { code?: string }) => e.code === 'NOT_FOUND');

      // each record lives on its master only: every node's live records are the keys it masters
      const stats = await Promise.all(clients.map((cl) => cl.statistics()));
      const proxied = stats.map((st) => Number(st.get('client_proxy_complete')));
      const served = stats.map((st) => Number(st.get('from_proxy_request')));
      assert.ok((proxied[0] ?? 0) >= 40, `A proxied ${proxied[0]}`);
      assert.ok(served.every((n) => n > 0), `every node served proxied requests: ${served.join()}`);

      // AQL through any node: INSERT on A, SELECT by PK on B and C; EXPLAIN names the master
      await aqlRows(a.port, "INSERT INTO test.dp (PK, x) VALUES ('aql-1', 7)");
      for (const p of [b, c]) {
        const rows = await aqlRows(p.port, "SELECT * FROM test.dp WHERE PK = 'aql-1'");
        assert.equal(rows[0]?.get('x'), 7n, `through node on port ${p.port}`);
      }
      const explained = await aqlRows(b.port, "EXPLAIN SELECT * FROM test.dp WHERE PK = 'aql-1'");
      const pid = Number(explained[0]?.get('PARTITION'));
      const masterIdx = map.partitions[pid]?.nodeIndexes[0] as number;
      assert.equal(explained[0]?.get('MASTER NODE'), map.serviceAddresses[masterIdx], 'EXPLAIN names the partition\'s master');
      assert.equal(explained[0]?.get('STATUS'), 'AEROSPIKE_OK');

      // cluster-wide reads through any node cover every record: SELECT, COUNT/SUM, ORDER BY + LIMIT, a client scan
      const sum = Array.from({ length: 60 }, (_, i) => i).reduce((x, y) => x + y, 0) + 10 - 1; // key 0 got +10, key 1 is gone
      for (const [i, p] of [a, b, c].entries()) {
        const rows = await aqlRows(p.port, 'SELECT * FROM test.dp');
        assert.equal(rows.length, 60, `SELECT through node ${i}`);
        const agg = await aqlRows(p.port, 'SELECT COUNT(*), SUM(n) FROM test.dp');
        const rowSum = rows.reduce((x, r) => x + ((r.get('n') as bigint | undefined) ?? 0n), 0n);
        assert.deepEqual([...(agg[0]?.values() ?? [])], [60n, BigInt(sum)], `node ${i}: ${JSON.stringify([...(agg[0]?.entries() ?? [])], (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}; SELECT * rows sum ${rowSum}; n values ${rows.map((r) => String(r.get('n'))).sort().join(',')}`);
        const top = await aqlRows(p.port, 'SELECT n FROM test.dp ORDER BY n DESC LIMIT 3');
        assert.deepEqual(top.map((r) => r.get('n')), [59n, 58n, 57n]);
        let scanned = 0;
        for await (const _r of (clients[i] as SlipstreamClient).scan('test', { set: 'dp' })) scanned++;
        assert.equal(scanned, 60, `client scan through node ${i}`);
      }
      // migrations in the admin API and SHOW CLUSTER; their limits and the replica-write timeout change live
      const shownCluster = await aqlRows(b.port, 'SHOW CLUSTER');
      assert.equal(shownCluster.length, 3);
      assert.ok(shownCluster.every((r) => r.get('migrate_partitions_remaining') === 0n && r.get('migrate_records_remaining') === 0n && typeof r.get('migrate_rx_rate') === 'bigint'), 'every member reports its migrations');
      assert.equal((await info(a.port)).migrations?.maxIncoming, 4);
      const applied = await ca.setConfig({ 'cluster.migration.maxIncoming': 2, 'cluster.migration.recordsPerSecond': 50_000, 'cluster.replicaWriteTimeoutMs': 3000 });
      assert.deepEqual(applied[0]?.applied.map((x) => [x.name, x.to]), [['cluster.migration.maxIncoming', 2], ['cluster.migration.recordsPerSecond', 50_000], ['cluster.replicaWriteTimeoutMs', 3000]]);
      const m = (await info(a.port)).migrations;
      assert.deepEqual([m?.maxIncoming, m?.recordsPerSecond], [2, 50_000]);
      const shownConfig = (await ca.getConfig()).config as { sections?: { cluster?: { migration?: { maxIncoming?: number } } } };
      assert.equal(shownConfig.sections?.cluster?.migration?.maxIncoming, 2, 'GetConfig shows the change');
      await assert.rejects(ca.setConfig({ 'cluster.migration.maxIncoming': 0 }), (e: Error & { code?: string }) => e.code === 'PARAMETER' && /maxIncoming/.test(e.message));
      assert.equal((await info(a.port)).migrations?.maxIncoming, 2, 'a refused change changes nothing');

      // TRUNCATE through one node empties the set on every node
      await aqlRows(c.port, 'TRUNCATE test.dp');
      for (const p of [a, b]) assert.equal((await aqlRows(p.port, 'SELECT * FROM test.dp')).length, 0);
    } finally {
      for (const cl of clients) cl.close();
    }
  });
});
