/**
 * The TypeScript client routing by the partition map, against 3 real node processes on
 * 127.0.0.1 (RF 2): it learns the cluster from one seed (a dead seed before it is skipped),
 * sends each key's request to its master (the nodes' proxy counters stay at 0), splits batches
 * per node, reads from replicas when the policy allows, and after a SIGKILL follows the new
 * map and keeps serving.
 */
import { strict as assert } from 'node:assert';
import { createServer } from 'node:net';
import { DbError, SlipstreamClient, type ClientKey } from '../../core/client/index.ts';
import { ClusterServiceService } from '../../core/wire/generated/slipstream/v1/cluster.ts';
import { ProcessCluster } from '../helpers/process-cluster.ts';
import { until } from '../helpers/until.ts';
import { startTestNode } from '../helpers/node-harness.ts';

// tolerant heartbeats: the box running the suite is loaded, and a membership blip would move the map mid-test
const HB = { intervalMs: 150, timeout: 15 };
/**
 * Writes here are retried: on a loaded machine a replica can miss the master's 1 s deadline and
 * the write fails TIMEOUT in doubt (these writes are idempotent, or their result unchecked).
 */
const RETRY = { maxRetries: 3 };

/** A port nothing listens on. */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('client/routing by the partition map (3 real nodes)', function () {
  this.timeout(240_000);
  const cluster = new ProcessCluster({ name: 'client-routing', clusterName: 'routing', heartbeat: HB });
  const admins = new Map<string, SlipstreamClient>();

  /** Starts a node (racks 0 and 1 alternate by id) with an admin client of its own. */
  async function start(id: string, seeds: string[]): Promise<void> {
    const p = await cluster.start(id, { seeds, clusterFields: { rackId: Number(id.slice(1)) % 2 } });
    admins.set(id, await SlipstreamClient.connect({ hosts: `127.0.0.1:${p.port}`, timeoutMs: 10_000 }));
  }

  /** A statistic summed over the running nodes. */
  async function stat(name: string, ids: readonly string[] = [...admins.keys()]): Promise<number> {
    let sum = 0;
    for (const id of ids) sum += Number((await (admins.get(id) as SlipstreamClient).statistics()).get(name));
    return sum;
  }

  after(async () => {
    for (const c of admins.values()) c.close();
    await cluster.close();
  });

  /** The cluster key every running node agrees on with all `n` members online; undefined while not settled. */
  async function settledKey(n: number): Promise<string | undefined> {
    const infos = await Promise.all([...admins.values()].map((c) => c.unary(ClusterServiceService.getClusterInfo, {})));
    const key = infos[0]?.clusterKey;
    return infos.every((i) => i.members.length === n && i.members.every((m) => m.state === 'online') && i.clusterKey === key) ? key : undefined;
  }

  /**
   * Runs a phase on a settled cluster of `n` nodes. What a phase asserts is routing on a stable
   * map: when the cluster changed while it ran (a heartbeat blip on a loaded machine gives a new
   * cluster key), it waits until the cluster settles and runs the phase again (3 times at most).
   */
  async function stablePhase(n: number, what: string, fn: () => Promise<void>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const key = await until(`${n} nodes online in one cluster`, () => settledKey(n), 90_000);
      let failure: unknown;
      try {
        await fn();
      } catch (e) {
        failure = e;
      }
      const after = await settledKey(n).catch(() => undefined);
      if (after === key) {
        if (failure !== undefined) throw failure;
        return;
      }
      if (attempt >= 3) throw new Error(`${what}: the cluster changed during each of 3 attempts (last failure: ${String(failure)})`);
      console.log(`      ${what}: the cluster changed meanwhile (${key} → ${after ?? 'unsettled'}); again`);
    }
  }

  it('sends every request straight to the node holding the record, and follows the cluster after a SIGKILL', async () => {
    await start('A3', []);
    const seed = await cluster.heartbeatAddress('A3');
    await Promise.all([start('A2', [seed]), start('A1', [seed])]);
    await until('3 nodes online', () => settledKey(3), 90_000);
    const b = cluster.node('A2');

    const client = await SlipstreamClient.connect({
      hosts: [`127.0.0.1:${await deadPort()}`, `127.0.0.1:${b.port}`], routing: 'partition-map', timeoutMs: 5000, connectTimeoutMs: 2000, tendIntervalMs: 200, rackId: 1,
    });
    const key = (i: number): ClientKey => ({ namespace: 'test', set: 'r', key: `k${i}` });
    /** Counters at the start of a phase; direct() asserts that the nodes proxied none of the phase's requests. */
    const phase = { proxied: 0, direct: 0, clientProxied: 0 };
    const begin = async (): Promise<void> => {
      await client.get(key(0)).catch(() => undefined); // lets the client notice a change it has not seen yet
      await until('the client has the cluster\'s map', async () => (client.routingStats()?.clusterKey === (await settledKey(admins.size)) ? true : undefined), 30_000);
      phase.proxied = await stat('client_proxy_complete');
      phase.direct = client.routingStats()?.direct ?? 0;
      phase.clientProxied = client.routingStats()?.proxied ?? 0;
    };
    const direct = async (what: string, requests: number): Promise<void> => {
      const st = client.routingStats();
      assert.equal(await stat('client_proxy_complete') - phase.proxied, 0, `${what}: the nodes proxied some of the client's requests; ${JSON.stringify(st)}`);
      assert.equal((st?.proxied ?? 0) - phase.clientProxied, 0, `${what}: ${JSON.stringify(st)}`);
      assert.ok((st?.direct ?? 0) - phase.direct >= requests, `${what}: ${(st?.direct ?? 0) - phase.direct} direct of ${requests}`);
    };
    try {
      assert.equal(client.routingStats()?.nodes.length, 3, 'the client knows the 3 nodes from one seed');

      await stablePhase(3, 'key requests and batches', async () => {
        await begin();
        // commit level master: what is measured is routing; a loaded machine's replica can miss the
        // master's 1 s deadline on commit level all (the data-path tests cover replication)
        for (let i = 0; i < 200; i++) await client.put(key(i), { i: BigInt(i) }, { commitLevel: 'master' }, RETRY);
        for (let i = 0; i < 200; i++) assert.equal((await client.get(key(i))).bins['i'], BigInt(i), `get k${i}`);
        for (let i = 0; i < 20; i++) await client.put(key(500 + i), { i: BigInt(i) }, { commitLevel: 'master' }, RETRY);
        await client.operate(key(0), [{ op: 'add', bin: 'i', value: 1000n }], { commitLevel: 'master' }, RETRY);
        assert.ok(await client.exists(key(1)));
        await client.touch(key(2), { commitLevel: 'master' }, RETRY);
        // a batch is split per node and put back in order
        const batch = await client.batchGet([...Array.from({ length: 200 }, (_, i) => key(i)), key(999)]);
        batch.slice(1, 200).forEach((r, j) => assert.ok(!(r instanceof DbError) && r.bins['i'] === BigInt(j + 1), `batch ${j + 1}`));
        assert.ok(batch[200] instanceof DbError && batch[200].code === 'NOT_FOUND');
        const ops = await client.batchOperate(Array.from({ length: 50 }, (_, i) => ({ kind: 'put' as const, key: key(300 + i), bins: { i: BigInt(300 + i) } })));
        // (a replica slower than its 1 s deadline on a loaded machine fails an entry TIMEOUT in doubt)
        assert.ok(ops.every((r) => r.error === undefined || (r.error.code === 'TIMEOUT' && r.error.inDoubt)), JSON.stringify(ops.map((r) => r.error?.message)));
        await client.delete(key(300), { commitLevel: 'master' }, RETRY).catch((e: unknown) => { if (!(e instanceof DbError && e.code === 'NOT_FOUND')) throw e; });
        await direct('key requests and batches', 200 + 200 + 20 + 3 + 1);
      });
      // a namespace the cluster does not have fails clearly (sent to any node)
      await assert.rejects(client.get({ namespace: 'nope', key: 'x' }), (e: DbError) => e.code === 'NAMESPACE');

      // replica reads: spread over the copies, the replicas answering from their own copy
      await stablePhase(3, 'replica reads', async () => {
        await begin();
        const replicaBefore = await stat('client_read_replica');
        for (let i = 0; i < 100; i++) assert.equal((await client.get(key(i + 1), { replica: 'any' })).bins['i'], BigInt(i + 1));
        for (let i = 0; i < 50; i++) assert.equal((await client.get(key(i + 1), { replica: 'preferRack' })).bins['i'], BigInt(i + 1));
        assert.ok(await stat('client_read_replica') - replicaBefore > 20, 'no read was served by a replica');
        await direct('replica reads', 150);
      });

      // SIGKILL a node: the client drops it, follows the new map and keeps serving
      const victim = 'A1';
      const killedAt = Date.now();
      await cluster.kill(victim);
      admins.get(victim)?.close();
      admins.delete(victim);
      let failures = 0;
      let ok = 0;
      const served = await until('the client serves every key again on the new map', async () => {
        for (let i = 0; i < 40; i++) {
          try {
            await client.put(key(i), { i: BigInt(i) }, { commitLevel: 'master' }, { timeoutMs: 2000 });
            assert.equal((await client.get(key(i), { timeoutMs: 2000 })).bins['i'], BigInt(i));
            ok++;
          } catch {
            failures++;
            return undefined;
          }
        }
        const st = client.routingStats();
        return st !== undefined && st.nodes.length === 2 ? st : undefined;
      }, 90_000);
      assert.ok(served.nodesDropped >= 1, JSON.stringify(served));
      assert.ok(!served.nodes.some((n) => n.id === victim), 'the dead node is still in the map');
      console.log(`      after the SIGKILL: served again after ${Date.now() - killedAt} ms (${failures} failed attempts, ${ok} ok)`);

      // on the survivors' map the requests go direct again
      await stablePhase(2, 'on the new map', async () => {
        await begin();
        // (keys 0–39 were written again after the kill; commit-to-master writes of the first phase
        // whose master died before its replica had them are lost, as that commit level allows)
        for (let i = 0; i < 40; i++) assert.equal((await client.get(key(i))).bins['i'], BigInt(i));
        for (let i = 0; i < 100; i++) await client.put(key(1000 + i), { i: BigInt(i) }, { commitLevel: 'master' }, RETRY);
        for (let i = 0; i < 100; i++) assert.equal((await client.get(key(1000 + i))).bins['i'], BigInt(i));
        await direct('on the new map', 240);
      });
    } finally {
      client.close();
    }
  });

  it('on a node without a cluster, routing by map sends everything to that node', async () => {
    const t = await startTestNode({ config: { namespaces: [{ name: 'test', storage: 'storage-memory' }] } });
    try {
      const c = await SlipstreamClient.connect({ hosts: t.client.address, routing: 'partition-map' });
      try {
        assert.equal(c.routingStats(), undefined);
        await c.put({ namespace: 'test', key: 'x' }, { v: 1n });
        assert.equal((await c.get({ namespace: 'test', key: 'x' }, { replica: 'sequence' })).bins['v'], 1n);
      } finally {
        c.close();
      }
      await assert.rejects(SlipstreamClient.connect({ hosts: t.client.address, routing: 'nearest' as 'seed' }), (e: DbError) => e.code === 'CLIENT_PARAM');
    } finally {
      await t.stop();
    }
  });
});
