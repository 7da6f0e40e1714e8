/**
 * Cluster-wide live configuration on real processes: a change sent to one node reaches every
 * member (AQL SET CONFIG and AdminService.SetConfig with cluster_wide), and when one member
 * refuses it (its own configuration makes the value invalid there) the answer says per node
 * what was applied and what was not, and why — each node's GetConfig shows exactly that.
 * Migration limits and the replica-write timeout change the same way on every node.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNodeProcess, type NodeProcess } from '../helpers/process-node.ts';
import { until } from '../helpers/until.ts';
import { SlipstreamClient } from '../../core/client/index.ts';
import { DbError } from '../../core/errors/index.ts';
import { ClusterServiceService } from '../../core/wire/generated/slipstream/v1/cluster.ts';
import { executeAql } from '../../core/client/aql.ts';
import type { Cells } from '../../core/aql/language/results.ts';
import { assertAppliedEverywhere } from '../../core/transaction/cluster-config.ts';

const HB = { intervalMs: 100, timeout: 10 };

describe('live configuration across a cluster (real processes)', function () {
  this.timeout(180_000);
  const dir = mkdtempSync(join(tmpdir(), 'slipstream-live-cluster-'));
  const procs: NodeProcess[] = [];
  const clients: SlipstreamClient[] = [];

  /** A node; `stopWritesUsedPct` differs per node, so a change of evictUsedPct can be valid on some and not on others. */
  async function start(id: string, seeds: string[], stopWritesUsedPct: number): Promise<NodeProcess> {
    const file = join(dir, `${id}.json`);
    writeFileSync(file, JSON.stringify({
      node: { id, host: '127.0.0.1', port: 0, dataDir: join(dir, id) },
      logLevel: 'warn',
      namespaces: [{ name: 'test', storage: 'storage-memory', replicationFactor: 2, eviction: { sizeBytes: 50_000_000, evictUsedPct: 50, stopWritesUsedPct } }],
      cluster: { clusterName: 'live', heartbeat: { address: '127.0.0.1:0', ...HB }, fabric: { address: '127.0.0.1:0' }, seeds },
    }));
    const p = await startNodeProcess(['--config', file], { timeoutMs: 60_000 });
    procs.push(p);
    return p;
  }
  async function client(p: NodeProcess): Promise<SlipstreamClient> {
    const c = await SlipstreamClient.connect({ hosts: `127.0.0.1:${p.port}`, timeoutMs: 10_000, routing: 'seed' });
    clients.push(c);
    return c;
  }

  after(async () => {
    for (const c of clients) c.close();
    for (const p of procs) await p.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('a change reaches every member; one member refusing it is reported per node, and nothing else is hidden', async () => {
    const a = await start('E3', [], 90);
    const ca = await client(a);
    const hb = (await ca.unary(ClusterServiceService.getClusterInfo, {})).members[0]?.heartbeatAddress as string;
    // E1 stops writes at 60 %: an eviction threshold of 70 % is invalid there (it must stay below)
    const [b, c] = await Promise.all([start('E2', [hb], 90), start('E1', [hb], 60)]);
    const all = [ca, await client(b), await client(c)];
    await until('3-node cluster', async () => {
      const infos = await Promise.all(all.map((cl) => cl.unary(ClusterServiceService.getClusterInfo, {})));
      return infos.every((i) => i.members.length === 3 && i.clusterKey === infos[0]?.clusterKey) ? true : undefined;
    }, 60_000);
    const evictUsedPct = async (): Promise<unknown[]> => Promise.all(all.map(async (cl) => {
      const ns = ((await cl.getConfig()).config['namespaces'] as Array<Record<string, unknown>>)[0];
      return (ns?.['eviction'] as Record<string, unknown> | undefined)?.['evictUsedPct'];
    }));

    // accepted everywhere: every node changes, one result per node
    const ok = await ca.setConfig({ 'namespaces.test.eviction.evictUsedPct': 55 }, { clusterWide: true });
    assert.deepEqual(ok.map((r) => [r.nodeId, r.applied]).sort(), [
      ['E1', [{ name: 'namespaces.test.eviction.evictUsedPct', from: 50, to: 55 }]],
      ['E2', [{ name: 'namespaces.test.eviction.evictUsedPct', from: 50, to: 55 }]],
      ['E3', [{ name: 'namespaces.test.eviction.evictUsedPct', from: 50, to: 55 }]],
    ]);
    assert.deepEqual(await evictUsedPct(), [55, 55, 55]);

    // E1 refuses 70 (≥ its stop-writes 60): the call fails saying E3 and E2 applied it (from, to) and E1 did not, and why
    let caught: unknown;
    try { await ca.setConfig({ 'namespaces.test.eviction.evictUsedPct': 70 }, { clusterWide: true }); } catch (err) { caught = err; }
    assert.ok(caught instanceof DbError, `expected a DbError, got ${String(caught)}`);
    assert.equal(caught.code, 'PARAMETER');
    assert.match(caught.message, /applied on 2 of 3 nodes \((E3|E2): namespaces\.test\.eviction\.evictUsedPct 55 -> 70; (E3|E2): namespaces\.test\.eviction\.evictUsedPct 55 -> 70\); NOT applied on E1 \(PARAMETER: .*stopWritesUsedPct/);
    assert.match(caught.hint ?? '', /keep the new value/);
    assert.equal(caught.inDoubt, false);
    assert.deepEqual(await evictUsedPct(), [70, 70, 55], 'what the answer says is what each node holds');

    // AQL SET CONFIG: one row per node, the refusing node's row carries its reason, and the statement fails naming it
    const rows: Array<Record<string, unknown>> = [];
    const statuses: Array<{ code: number; message: string }> = [];
    await executeAql(ca, { text: 'SET CONFIG namespaces.test.eviction.evictUsedPct 65' }, {
      begin: () => {}, row: (cells: Cells) => { rows.push(Object.fromEntries(cells)); }, end: () => {},
      status: (code, message) => { statuses.push({ code, message: String(message ?? '') }); },
    });
    assert.deepEqual(rows.map((r) => [r['node'], r['from'], r['to']]).sort(), [['E1', '', ''], ['E2', '70', '65'], ['E3', '70', '65']]);
    assert.match(String(rows.find((r) => r['node'] === 'E1')?.['error']), /^PARAMETER: .*stopWritesUsedPct/);
    assert.equal(statuses.length, 1);
    assert.equal(statuses[0]?.code, 4);
    assert.match(statuses[0]?.message ?? '', /applied on 2 of 3 nodes .*NOT applied on E1/);
    assert.deepEqual(await evictUsedPct(), [65, 65, 55]);

    // a change the receiving node refuses itself goes nowhere
    await assert.rejects(ca.setConfig({ 'namespaces.test.eviction.evictUsedPct': 95 }, { clusterWide: true }), (e: DbError) => e.code === 'PARAMETER' && !/applied on/.test(e.message));
    assert.deepEqual(await evictUsedPct(), [65, 65, 55]);

    // migration limits and the replica-write timeout: dynamic, changed on every node by AQL and by the client, shown by GetConfig
    const clusterSettings = async (): Promise<unknown[]> => Promise.all(all.map(async (cl) => {
      const { config, dynamicSettings } = await cl.getConfig();
      for (const d of ['cluster.migration.maxIncoming', 'cluster.migration.recordsPerSecond', 'cluster.replicaWriteTimeoutMs']) assert.ok(dynamicSettings.includes(d), `${d} is dynamic`);
      const cluster = (config['sections'] as Record<string, Record<string, unknown>> | undefined)?.['cluster'] ?? (config['cluster'] as Record<string, unknown>);
      const migration = cluster['migration'] as Record<string, unknown> | undefined;
      return [migration?.['maxIncoming'], migration?.['recordsPerSecond'], cluster['replicaWriteTimeoutMs']];
    }));
    rows.length = 0;
    statuses.length = 0;
    await executeAql(ca, { text: 'SET CONFIG cluster.migration.recordsPerSecond 20000' }, {
      begin: () => {}, row: (cells: Cells) => { rows.push(Object.fromEntries(cells)); }, end: () => {},
      status: (code, message) => { statuses.push({ code, message: String(message ?? '') }); },
    });
    assert.deepEqual(statuses.map((st) => st.code), [0]);
    assert.deepEqual(rows.map((r) => [r['node'], r['name'], r['to'], r['error']]).sort(), ['E1', 'E2', 'E3'].map((n) => [n, 'cluster.migration.recordsPerSecond', '20000', '']));
    const limits = await ca.setConfig({ 'cluster.migration.maxIncoming': 2, 'cluster.replicaWriteTimeoutMs': 3000 }, { clusterWide: true });
    assert.deepEqual(limits.map((r) => r.nodeId).sort(), ['E1', 'E2', 'E3']);
    assert.deepEqual(await clusterSettings(), [[2, 20000, 3000], [2, 20000, 3000], [2, 20000, 3000]]);
    await assert.rejects(ca.setConfig({ 'cluster.migration.maxIncoming': 0 }, { clusterWide: true }), (e: DbError) => e.code === 'PARAMETER' && /maxIncoming/.test(e.message));
    assert.deepEqual(await clusterSettings(), [[2, 20000, 3000], [2, 20000, 3000], [2, 20000, 3000]], 'a refused limit changes no node');
  });

  it('a member that did not answer in time is reported as in doubt', () => {
    const timeout = new DbError('TIMEOUT', 'node E1 did not answer config.set within 5000 ms', { inDoubt: true });
    let caught: unknown;
    try {
      assertAppliedEverywhere([{ nodeId: 'E3', applied: [{ name: 'logLevel', from: 'warn', to: 'info' }] }, { nodeId: 'E1', error: timeout }]);
    } catch (err) { caught = err; }
    assert.ok(caught instanceof DbError);
    assert.equal(caught.code, 'TIMEOUT');
    assert.equal(caught.inDoubt, true);
    assert.match(caught.message, /applied on 1 of 2 nodes \(E3: logLevel "warn" -> "info"\); NOT applied on E1 \(did not answer in time: it may or may not have applied it/);
    assert.doesNotThrow(() => assertAppliedEverywhere([{ nodeId: 'E3', applied: [] }]));
  });
});
