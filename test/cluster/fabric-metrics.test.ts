/**
 * The fabric's counters are shown where node statistics are: Prometheus (slipstream_fabric_*)
 * and the node statistics of the admin API and STAT SYSTEM (fabric_*). Two nodes in this process
 * (real gRPC servers, real TCP fabric, a real metrics endpoint each), RF 2: writes through A send
 * replica copies to B (those of one turn together, as one batch), reads through B of A's records
 * are proxied; a stranger speaking another cluster name is refused by B. The scraped numbers move
 * by what that traffic did.
 */
import { strict as assert } from 'node:assert';
import { startTestNode, type TestNode } from '../helpers/node-harness.ts';
import { until } from '../helpers/until.ts';
import { builtInExtensions } from '../../core/node/extensions.ts';
import { defaultPlugins } from '../../core/cli/default-plugins.ts';
import { CLUSTER_SERVICE } from '../../core/services/index.ts';
import { Fabric } from '../../core/cluster/fabric.ts';
import { tcpTransport } from '../../core/cluster/tcp-transport.ts';
import { silentLogger, systemClock } from '../../core/plugin-api/index.ts';

const RECORDS = 200;

function config(id: string, seeds: string[]): Record<string, unknown> {
  return {
    node: { id, host: '127.0.0.1', port: 0, metricsPort: 0 },
    namespaces: [{ name: 'test', storage: 'storage-memory', replicationFactor: 2 }],
    // tolerant heartbeats: a loaded machine must not split the two nodes mid-test
    cluster: { clusterName: 'metrics', heartbeat: { address: '127.0.0.1:0', intervalMs: 100, timeout: 50 }, fabric: { address: '127.0.0.1:0' }, seeds },
  };
}

/** The value of one sample line (`name{labels} value`) in a Prometheus text exposition (0 when absent). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const inner = line.includes('{') ? line.slice(line.indexOf('{') + 1, line.indexOf('}')).split(',') : [];
    if (want.every((w) => inner.includes(w))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return 0;
}

describe('cluster/fabric counters in Prometheus and node statistics (two nodes in-process, real fabric)', function () {
  this.timeout(120_000);
  let a: TestNode;
  let b: TestNode;
  let stranger: Fabric | undefined;

  before(async () => {
    a = await startTestNode({ config: config('F1', []), extensions: builtInExtensions(), plugins: defaultPlugins() });
    const seed = a.node.services.require(CLUSTER_SERVICE).info().members.find((m) => m.id === a.node.config.node.id)?.heartbeatAddress as string;
    b = await startTestNode({ config: config('F2', [seed]), extensions: builtInExtensions(), plugins: defaultPlugins() });
    const online = (t: TestNode): boolean => {
      const i = t.node.services.require(CLUSTER_SERVICE).info();
      return i.members.length === 2 && i.members.every((m) => m.state === 'online');
    };
    await until('two nodes online in one cluster', () => online(a) && online(b), 60_000);
  });

  after(async () => {
    stranger?.stop();
    await b?.stop();
    await a?.stop();
  });

  const scrape = async (t: TestNode): Promise<string> => (await fetch(`http://127.0.0.1:${t.node.metricsPort}/metrics`)).text();

  it('messages, remote calls, batches and refusals move with the traffic, in /metrics and in the node statistics', async () => {
    const [a0, b0] = [await scrape(a), await scrape(b)];
    for (const name of ['slipstream_fabric_messages_total', 'slipstream_fabric_calls_total', 'slipstream_fabric_refused_total', 'slipstream_fabric_batches_total', 'slipstream_fabric_batched_calls_total', 'slipstream_fabric_held_batches_total']) {
      assert.match(a0, new RegExp(`# HELP ${name} \\S`), `${name} has help text`);
    }
    // batches that waited for the request before them are counted apart, not as an outcome of calls
    assert.match(a0, /slipstream_fabric_held_batches_total\{ended="hold_limit"\} \d/);
    assert.doesNotMatch(a0, /slipstream_fabric_calls_total\{outcome="held/);

    // replica writes: records A masters, written on A in one turn, go to B together
    const kernel = a.node.kernel;
    const self = kernel.router.localNode;
    const mine = [];
    for (let i = 0; mine.length < RECORDS; i++) {
      const key = kernel.key('test', 'm', `k${i}`);
      if (kernel.router.masterOf('test', key.partition) === self) mine.push(key);
    }
    await Promise.all(mine.map((key, i) => kernel.put(key, { n: BigInt(i) })));
    // proxied reads: B asks A (the master) for each
    for (const key of mine.slice(0, 20)) assert.equal((await b.node.kernel.get(key)).bins['n'] !== undefined, true);

    // a node of another cluster speaks to B's fabric: refused and counted
    const bFabric = b.node.services.require(CLUSTER_SERVICE).info().members.find((m) => m.id === b.node.config.node.id)?.fabricAddress as string;
    stranger = new Fabric({ nodeId: 0x99n, clusterName: 'another', transport: tcpTransport(), clock: systemClock, logger: silentLogger, incarnation: 1, retransmit: { nextDelayMs: () => null } });
    await stranger.start('127.0.0.1:0');
    stranger.setPeerAddress(b.node.services.require(CLUSTER_SERVICE).nodeId, bFabric);
    stranger.post(b.node.services.require(CLUSTER_SERVICE).nodeId, { type: 'prepare', n: { round: 1, node: 0x99n } });
    await until('B refused the stranger\'s message', async () => sample(await scrape(b), 'slipstream_fabric_refused_total', { reason: 'foreign_cluster' }) > sample(b0, 'slipstream_fabric_refused_total', { reason: 'foreign_cluster' }), 20_000);

    const [a1, b1] = [await scrape(a), await scrape(b)];
    const grew = (before: string, after: string, name: string, labels: Record<string, string> = {}): number => sample(after, name, labels) - sample(before, name, labels);
    // A sent the copies and the proxied reads' answers as fabric messages, B received them
    assert.ok(grew(a0, a1, 'slipstream_fabric_messages_total', { event: 'sent' }) >= 2, 'A sent fabric messages');
    assert.ok(grew(a0, a1, 'slipstream_fabric_messages_total', { event: 'acked' }) >= 2, 'B acknowledged them');
    assert.ok(grew(b0, b1, 'slipstream_fabric_messages_total', { event: 'received' }) >= 2, 'B received fabric messages');
    // every copy was served on B, and every proxied read on A
    assert.ok(grew(b0, b1, 'slipstream_fabric_calls_total', { outcome: 'served' }) >= RECORDS, `B served the ${RECORDS} replica writes`);
    assert.ok(grew(a0, a1, 'slipstream_fabric_calls_total', { outcome: 'served' }) >= 20, 'A served the 20 proxied reads');
    assert.ok(grew(b0, b1, 'slipstream_fabric_calls_total', { outcome: 'sent' }) >= 20, 'B sent the 20 proxied reads');
    assert.ok(grew(b0, b1, 'slipstream_fabric_calls_total', { outcome: 'answered' }) >= 20, 'and each was answered');
    // the copies of one turn went together
    assert.ok(grew(a0, a1, 'slipstream_fabric_batches_total') >= 1, 'A sent batches');
    assert.ok(grew(a0, a1, 'slipstream_fabric_batched_calls_total') >= RECORDS / 2, 'carrying the copies');
    assert.equal(grew(b0, b1, 'slipstream_fabric_refused_total', { reason: 'foreign_cluster' }), 1);
    assert.equal(sample(b1, 'slipstream_fabric_refused_total', { reason: 'stale_cluster_key' }), sample(b0, 'slipstream_fabric_refused_total', { reason: 'stale_cluster_key' }));

    // the node statistics (admin GetStatistics, STAT SYSTEM) show the same counters
    const stats = await b.client.statistics();
    assert.ok(Number(stats.get('fabric_calls_served')) >= sample(b1, 'slipstream_fabric_calls_total', { outcome: 'served' }));
    assert.equal(Number(stats.get('fabric_refused_foreign_cluster')), sample(b1, 'slipstream_fabric_refused_total', { reason: 'foreign_cluster' }));
    for (const name of ['fabric_msgs_sent', 'fabric_msgs_resent', 'fabric_msgs_received', 'fabric_refused_stale_cluster_key', 'fabric_refused_protocol_version', 'fabric_calls_timed_out', 'fabric_batches_sent', 'fabric_calls_batched', 'fabric_batches_held', 'fabric_batches_held_too_long']) {
      assert.ok(stats.has(name), `statistics show ${name}`);
    }
    const aStats = await a.client.statistics();
    assert.ok(Number(aStats.get('fabric_batches_sent')) >= 1);
  });
});
