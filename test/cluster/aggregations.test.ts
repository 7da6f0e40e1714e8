/**
 * Stream UDFs (aggregations) on simulated clusters (deterministic network; a failure prints its
 * seed — rerun with SLIPSTREAM_SIM_SEED=<seed> npm test -- --grep "cluster/aggregations"): the
 * partial phase runs on the partitions' masters and the final phase on the receiving node, with
 * the results of one node holding every record; a master whose modules lag takes the receiving
 * node's before it runs (never an older module); a node that does not hold the cluster's modules
 * refuses; a node that dies mid-aggregation has its share run again on the new masters.
 */
import { strict as assert } from 'node:assert';
import { seededRandom, systemClock } from '../../core/cluster/clock.ts';
import { DbError } from '../../core/errors/index.ts';
import { silentLogger, type NodeId } from '../../core/plugin-api/index.ts';
import { NAMESPACE_DEFAULTS, type BinValue, type Bins } from '../../core/model/index.ts';
import { Namespace } from '../../core/storage/namespace.ts';
import { GuardedEngine } from '../../core/storage/guarded-engine.ts';
import { memorySystemMetadata, type SystemMetadataStore } from '../../core/storage/system-metadata.ts';
import { Kernel } from '../../core/transaction/kernel.ts';
import { singleNodeRouter } from '../../core/transaction/routing.ts';
import { SmdSync } from '../../core/replication/smd-sync.ts';
import { between, bin } from '../../core/query/expr/index.ts';
import { startQuerySubsystem, type QuerySubsystem } from '../../core/query/query-engine-service.ts';
import { UdfRunner, type UdfTargetSpec } from '../../core/query/udf-runner.ts';
import type { AggregateShareRequest } from '../../core/query/cluster-aggregation.ts';
import { UdfEngine } from '../../core/udf/engine.ts';
import { UdfJobs } from '../../core/udf/jobs.ts';
import { SmdModuleStore, UDF_SMD_MODULE } from '../../core/udf/smd-store.ts';
import { memoryStorage } from '../../plugins/storage-memory/index.ts';
import { simDataCluster, type DataNode, type SimDataCluster } from './sim-data-harness.ts';

const fixed = process.env['SLIPSTREAM_SIM_SEED'];
const seeds = fixed === undefined ? [31] : [Number(fixed)];
const A = 0xa1n;
const B = 0xb2n;
const C = 0xc3n;

const V1 = `
export function count(stream) { return stream.aggregate(0, (n, r) => n + 1).reduce((a, b) => a + b); }
export function sumOf(stream, bin, min) { return stream.filter((r) => r[bin] >= min).map((r) => r[bin]).reduce((a, b) => a + b); }
export function byColor(stream) { return stream.groupBy((r) => r.color, 0, (n, r) => n + 1, (a, b) => a + b); }
export function names(stream) { return stream.map((r) => r.name); }
export function version(stream) { return stream.aggregate(0, (n, r) => n + 1).reduce((a, b) => a + b); }
`;
/** The same module, registered again: `version` now counts ten per record. */
const V2 = V1.replace('export function version(stream) { return stream.aggregate(0, (n, r) => n + 1)', 'export function version(stream) { return stream.aggregate(0, (n, r) => n + 10)');

interface UNode { readonly data: DataNode; readonly store: SystemMetadataStore; readonly sync: SmdSync; readonly q: QuerySubsystem; readonly udf: UdfEngine; readonly runner: UdfRunner; shares: number }

/** A node's UDF subsystem as the node wires it (modules in system metadata, the module guard, cluster aggregations). */
async function udfOn(kernel: Kernel, store: SystemMetadataStore, q: QuerySubsystem, sync?: SmdSync): Promise<{ udf: UdfEngine; runner: UdfRunner }> {
  const modules = new SmdModuleStore(store);
  const udf = await UdfEngine.open({ store: modules, isolation: 'in-process', poolSize: 1 });
  modules.watchModules(udf.registry, () => {});
  if (sync !== undefined) {
    udf.moduleSync = {
      localNode: kernel.router.localNode,
      digest: () => sync.digest(UDF_SMD_MODULE),
      async catchUpFrom(node, digest) { await sync.catchUpFrom(node, UDF_SMD_MODULE, digest); await modules.settled(); },
      async whenCaughtUp(ms) { const ok = await sync.whenCaughtUp(ms); await modules.settled(); return ok; },
    };
  }
  return { udf, runner: new UdfRunner(kernel, udf, new UdfJobs(kernel, udf), () => q) };
}

function udfCluster(seed: number) {
  const c = simDataCluster(seed, [A, B, C]);
  const nodes = new Map<NodeId, UNode>();
  return {
    c, nodes,
    async start(id: NodeId): Promise<UNode> {
      const data = await c.start(id);
      const store = memorySystemMetadata(() => c.clock.now());
      const sync = new SmdSync({ calls: data.path.calls, cluster: data.svc, store, clock: c.clock, logger: silentLogger });
      const q = await startQuerySubsystem(data.kernel, { systemMetadata: store, cluster: { calls: data.path.calls, smd: sync } });
      const { udf, runner } = await udfOn(data.kernel, store, q, sync);
      runner.useCluster(data.path.calls);
      const n: UNode = { data, store, sync, q, udf, runner, shares: 0 };
      // counts the shares this node runs (its own included)
      const share = runner.aggregateShare.bind(runner);
      runner.aggregateShare = (req: AggregateShareRequest) => { n.shares++; return share(req); };
      nodes.set(id, n);
      return n;
    },
    async kill(id: NodeId): Promise<void> {
      const n = nodes.get(id);
      n?.sync.stop();
      n?.udf.close();
      nodes.delete(id);
      await c.kill(id);
    },
    async stopAll(): Promise<void> {
      for (const id of [...nodes.keys()]) await this.kill(id);
    },
  };
}

async function reference(): Promise<{ kernel: Kernel; udf: UdfEngine; runner: UdfRunner }> {
  const cfg = { name: 'test', storage: 'storage-memory', ...NAMESPACE_DEFAULTS };
  const ctx = { nodeId: 1n, logger: silentLogger, clock: systemClock, signal: new AbortController().signal };
  const engine = await memoryStorage().create(ctx, cfg, {});
  const kernel = new Kernel({ namespaces: [new Namespace(cfg, new GuardedEngine(engine, 'storage-memory'))], clock: systemClock, router: singleNodeRouter(1n), logger: silentLogger });
  const store = memorySystemMetadata();
  const q = await startQuerySubsystem(kernel, { systemMetadata: store });
  return { kernel, ...(await udfOn(kernel, store, q)) };
}

const COLORS = ['red', 'green', 'blue'];
const binsOf = (i: number): Bins => ({ n: BigInt(i), color: COLORS[i % 3] as string, name: `r${i}`, m: BigInt(i % 40) });

async function load(c: SimDataCluster, nodes: readonly DataNode[], ref: Kernel, count: number, seed: number): Promise<void> {
  const rand = seededRandom(seed);
  for (let i = 0; i < count; i += 100) {
    const ps: Promise<unknown>[] = [];
    for (let j = i; j < Math.min(count, i + 100); j++) {
      const n = nodes[Math.floor(rand() * nodes.length)] as DataNode;
      const set = j % 4 === 0 ? 'x' : 'y';
      ps.push(n.kernel.put(n.kernel.key('test', set, `k${j}`), binsOf(j)));
      ps.push(ref.put(ref.key('test', set, `k${j}`), binsOf(j)));
    }
    for (const r of await c.drive(ps)) assert.ok(r.ok, `seed ${seed}: a load write failed: ${r.ok ? '' : String(r.error)}`);
  }
}

async function drive1<T>(c: SimDataCluster, p: Promise<T>, maxMs = 120_000): Promise<T> {
  const [r] = await c.drive([p], maxMs);
  if (r === undefined || !r.ok) throw r?.error ?? new Error('no outcome');
  return r.value as T;
}

/** Values compared whatever the order they come in (a map-only pipeline's order is not defined, on one node either). */
const sorted = (vs: readonly BinValue[]): string[] => vs.map((v) => String(v)).sort();

describe('cluster/aggregations (simulated network)', function () {
  this.timeout(180_000);
  for (const seed of seeds) {
    it(`seed ${seed}: each master runs the partial phase, the receiving node the final one; results equal one node's; a lagging master takes the receiving node's modules first; a node without the cluster's modules refuses`, async () => {
      const uc = udfCluster(seed);
      const ref = await reference();
      const signal = new AbortController().signal;
      try {
        for (const id of [A, B, C]) await uc.start(id);
        assert.ok(await uc.c.converge(undefined, 60_000) >= 0, `seed ${seed}: the cluster did not form`);
        await load(uc.c, [...uc.nodes.values()].map((n) => n.data), ref.kernel, 900, seed);
        const a = uc.nodes.get(A) as UNode;
        await drive1(uc.c, a.udf.register('agg.js', V1));
        await ref.udf.register('agg.js', V1);
        for (const n of uc.nodes.values()) await drive1(uc.c, n.sync.whenCaughtUp(30_000));
        await drive1(uc.c, a.q.indexes.create({ namespace: 'test', name: 'm_idx', bin: 'm', type: 'NUMERIC', collection: 'DEFAULT' }));
        await ref.runner.kernel.namespace('test');
        const targets: ReadonlyArray<[string, UdfTargetSpec]> = [
          ['the namespace', { namespace: 'test' }],
          ['a set', { namespace: 'test', set: 'y' }],
          ['a filter an index answers', { namespace: 'test', where: between(bin('m'), 5n, 19n) }],
        ];
        for (const [what, target] of targets) {
          for (const [fn, args] of [['count', []], ['sumOf', ['n', 100n]], ['byColor', []]] as const) {
            const call = { module: 'agg', fn, args: [...args] };
            const want = await ref.runner.aggregate(call, target, signal);
            for (const [id, n] of uc.nodes) {
              assert.deepEqual(await drive1(uc.c, n.runner.aggregate(call, target, signal)), want, `seed ${seed}: ${fn} over ${what} through node ${id.toString(16)}`);
            }
          }
          const names = { module: 'agg', fn: 'names' };
          assert.deepEqual(sorted(await drive1(uc.c, a.runner.aggregate(names, target, signal))), sorted(await ref.runner.aggregate(names, target, signal)), `names over ${what}`);
        }
        for (const [id, n] of uc.nodes) assert.ok(n.shares > 0, `node ${id.toString(16)} ran partial phases`);

        // from now on nothing is pushed or repaired: a module registered on A stays on A
        for (const n of uc.nodes.values()) n.sync.stop();
        await drive1(uc.c, a.udf.register('agg.js', V2));
        await ref.udf.register('agg.js', V2);
        const hashOnA = a.udf.registry.require('agg').hash;
        for (const id of [B, C]) assert.notEqual((uc.nodes.get(id) as UNode).udf.registry.require('agg').hash, hashOnA, 'the other masters lag');
        const version = { module: 'agg', fn: 'version' };
        const want = await ref.runner.aggregate(version, { namespace: 'test' }, signal);
        assert.deepEqual(want, [9000n]);
        assert.deepEqual(await drive1(uc.c, a.runner.aggregate(version, { namespace: 'test' }, signal)), want, `seed ${seed}: every master ran the new module`);
        for (const id of [B, C]) assert.equal((uc.nodes.get(id) as UNode).udf.registry.require('agg').hash, hashOnA, `node ${id.toString(16)} took A's module`);

        // C leaves; without the principal's round A and B are not caught up for the new cluster: they refuse
        await uc.kill(C);
        assert.ok(await uc.c.converge([A, B], 60_000) >= 0, 'A and B re-formed');
        const refused = await uc.c.drive([(uc.nodes.get(B) as UNode).runner.aggregate(version, { namespace: 'test' }, signal)], 30_000);
        assert.ok(refused[0]?.ok === false && refused[0].error instanceof DbError && refused[0].error.code === 'UNAVAILABLE', `refused: ${JSON.stringify(refused[0])}`);
      } finally {
        await uc.stopAll();
        ref.udf.close();
      }
    });

    it(`seed ${seed}: a node that dies mid-aggregation has its share run again on the new masters; nothing is counted twice or missed`, async () => {
      const uc = udfCluster(seed + 1);
      const ref = await reference();
      const signal = new AbortController().signal;
      try {
        for (const id of [A, B, C]) await uc.start(id);
        assert.ok(await uc.c.converge(undefined, 60_000) >= 0, `seed ${seed}: the cluster did not form`);
        await load(uc.c, [...uc.nodes.values()].map((n) => n.data), ref.kernel, 600, seed);
        const a = uc.nodes.get(A) as UNode;
        await drive1(uc.c, a.udf.register('agg.js', V1));
        await ref.udf.register('agg.js', V1);
        for (const n of uc.nodes.values()) await drive1(uc.c, n.sync.whenCaughtUp(30_000));
        const call = { module: 'agg', fn: 'sumOf', args: ['n', 0n] };
        const want = await ref.runner.aggregate(call, { namespace: 'test' }, signal);
        const before = a.shares + (uc.nodes.get(B) as UNode).shares;
        const running = a.runner.aggregate(call, { namespace: 'test' }, signal);
        await uc.kill(C); // its share was asked for and is never answered
        assert.deepEqual(await drive1(uc.c, running), want, `seed ${seed}: the sum after C died`);
        assert.ok(a.shares + (uc.nodes.get(B) as UNode).shares > before + 2, 'C\'s share ran again on the survivors');
      } finally {
        await uc.stopAll();
        ref.udf.close();
      }
    });
  }
});
