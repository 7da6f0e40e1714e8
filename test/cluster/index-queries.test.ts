/**
 * Secondary-index queries on simulated clusters (deterministic; a failure prints its seed —
 * rerun one with SLIPSTREAM_SIM_SEED=<seed> npm test -- --grep "index queries"): a query through
 * any node runs on the partitions' masters, each from its own index, and is merged in index
 * order; rows, order, cursors, pages, ORDER BY and aggregates equal those of one node holding
 * every record; a cursor resumes across a map change (a node dies mid-query and between pages);
 * a master whose index definitions lag takes the asking node's before it answers.
 */
import { strict as assert } from 'node:assert';
import { seededRandom, systemClock } from '../../core/cluster/clock.ts';
import { silentLogger, type NodeId } from '../../core/plugin-api/index.ts';
import { GeoJson, NAMESPACE_DEFAULTS, type Bins, type RecordKey } from '../../core/model/index.ts';
import { Namespace } from '../../core/storage/namespace.ts';
import { GuardedEngine } from '../../core/storage/guarded-engine.ts';
import { memorySystemMetadata, type SystemMetadataStore } from '../../core/storage/system-metadata.ts';
import { Kernel } from '../../core/transaction/kernel.ts';
import { singleNodeRouter } from '../../core/transaction/routing.ts';
import { SmdSync } from '../../core/replication/smd-sync.ts';
import { and, anyElem, between, bin, cmp, elem, geoWithin, lit, type Expr } from '../../core/query/expr/index.ts';
import type { IndexDefinition } from '../../core/query/index/index.ts';
import { startQuerySubsystem, type QuerySubsystem } from '../../core/query/query-engine-service.ts';
import type { QueryRow, QuerySpec } from '../../core/query/query-engine.ts';
import { memoryStorage } from '../../plugins/storage-memory/index.ts';
import { simDataCluster, type DataNode, type SimDataCluster } from './sim-data-harness.ts';

const fixed = process.env['SLIPSTREAM_SIM_SEED'];
const seeds = fixed === undefined ? [21] : [Number(fixed)];
const A = 0xa1n;
const B = 0xb2n;
const C = 0xc3n;

interface QNode { readonly data: DataNode; readonly store: SystemMetadataStore; readonly sync: SmdSync; readonly q: QuerySubsystem }

/** A simulated cluster whose nodes also run system metadata sync and the query subsystem, as a node wires them. */
function queryCluster(seed: number, pageRows?: number) {
  const c = simDataCluster(seed, [A, B, C]);
  const nodes = new Map<NodeId, QNode>();
  return {
    c, nodes,
    async start(id: NodeId): Promise<QNode> {
      const data = await c.start(id);
      const store = memorySystemMetadata(() => c.clock.now());
      const sync = new SmdSync({ calls: data.path.calls, cluster: data.svc, store, clock: c.clock, logger: silentLogger });
      const q = await startQuerySubsystem(data.kernel, { systemMetadata: store, cluster: { calls: data.path.calls, smd: sync, ...(pageRows === undefined ? {} : { pageRows }) } });
      const n = { data, store, sync, q };
      nodes.set(id, n);
      return n;
    },
    async kill(id: NodeId): Promise<void> {
      nodes.get(id)?.sync.stop();
      nodes.delete(id);
      await c.kill(id);
    },
    async stopAll(): Promise<void> {
      for (const id of [...nodes.keys()]) await this.kill(id);
    },
  };
}

/** One node holding every record: what a cluster's answers must equal. */
async function reference(): Promise<{ kernel: Kernel; q: QuerySubsystem }> {
  const cfg = { name: 'test', storage: 'storage-memory', ...NAMESPACE_DEFAULTS };
  const ctx = { nodeId: 1n, logger: silentLogger, clock: systemClock, signal: new AbortController().signal };
  const engine = await memoryStorage().create(ctx, cfg, {});
  const kernel = new Kernel({ namespaces: [new Namespace(cfg, new GuardedEngine(engine, 'storage-memory'))], clock: ctx.clock, router: singleNodeRouter(1n), logger: silentLogger });
  return { kernel, q: await startQuerySubsystem(kernel) };
}

const point = (x: number, y: number): GeoJson => new GeoJson(JSON.stringify({ type: 'Point', coordinates: [x, y] }));
const square = new GeoJson(JSON.stringify({ type: 'Polygon', coordinates: [[[0, 0], [0, 20], [20, 20], [20, 0], [0, 0]]] }));

function binsOf(i: number): Bins {
  return { i: BigInt(i), n: BigInt(i % 40), s: `s${String(i % 23).padStart(2, '0')}`, tags: [BigInt(i % 7), BigInt(i % 11)], loc: point((i % 50) - 10, (i % 37) - 5) };
}

const INDEXES: ReadonlyArray<Omit<IndexDefinition, 'namespace'>> = [
  { name: 'n_idx', bin: 'n', type: 'NUMERIC', collection: 'DEFAULT' },
  { name: 's_idx', bin: 's', type: 'STRING', collection: 'DEFAULT' },
  { name: 'tags_idx', bin: 'tags', type: 'NUMERIC', collection: 'LIST' },
  { name: 'loc_idx', bin: 'loc', type: 'GEO2DSPHERE', collection: 'DEFAULT' },
];

const QUERIES: ReadonlyArray<readonly [string, Expr]> = [
  ['numeric range', between(bin('n'), 5n, 17n)],
  ['numeric range with a residual filter', and(between(bin('n'), 10n, 30n), cmp('<', bin('i'), lit(400n)))],
  ['string equality', cmp('=', bin('s'), lit('s07'))],
  ['list elements in a range (a record once)', anyElem('list', bin('tags'), and(cmp('>=', elem, lit(2n)), cmp('<=', elem, lit(4n))))],
  ['geo within', geoWithin(bin('loc'), lit(square))],
];

/** What must be equal between the cluster's rows and the reference's: record, bins, order and cursor. */
const shape = (rows: readonly QueryRow[]) => rows.map((r) => ({ digest: Buffer.from(r.record.key.digest).toString('hex'), bins: r.record.bins, cursor: r.cursor }));

describe('cluster/index queries (simulated network)', function () {
  this.timeout(120_000);
  for (const seed of seeds) {
    it(`seed ${seed}: a query through any node runs on the masters' indexes and equals one node holding everything (rows, order, cursors, pages, ORDER BY, COUNT, EXPLAIN)`, async () => {
      const qc = queryCluster(seed);
      const ref = await reference();
      try {
        for (const id of [A, B, C]) await qc.start(id);
        assert.ok(await qc.c.converge(undefined, 60_000) >= 0, `seed ${seed}: the cluster did not form`);
        await load(qc.c, [...qc.nodes.values()].map((n) => n.data), ref.kernel, 900, seed);
        const a = qc.nodes.get(A) as QNode;
        for (const d of INDEXES) {
          await drive1(qc.c, a.q.indexes.create({ namespace: 'test', ...d }));
          await ref.q.indexes.create({ namespace: 'test', ...d });
          await ref.q.indexes.whenReady('test', d.name);
        }
        // every node got the definitions (pushed) and built them from the copies it holds
        for (const n of qc.nodes.values()) for (const d of INDEXES) await drive1(qc.c, n.q.indexes.whenReady('test', d.name));
        for (const [what, where] of QUERIES) {
          const want = shape(await ref.q.engine.all({ namespace: 'test', where }));
          assert.ok(want.length > 10, `${what}: the reference finds records`);
          for (const [id, n] of qc.nodes) {
            const got = shape(await drive1(qc.c, n.q.engine.all({ namespace: 'test', where })));
            assert.deepEqual(got, want, `seed ${seed}: ${what} through node ${id.toString(16)}`);
          }
          // pages by cursor, through a different node each page
          const pages = await paged(qc, { namespace: 'test', where, bins: ['i', 's'] }, 17);
          assert.deepEqual(pages, shape(await ref.q.engine.all({ namespace: 'test', where, bins: ['i', 's'] })), `seed ${seed}: ${what} paged`);
        }
        const where = between(bin('n'), 3n, 25n);
        const ordered: QuerySpec = { namespace: 'test', where, orderBy: { bin: 's', desc: true }, limit: 50, bins: ['i'] };
        assert.deepEqual(shape(await drive1(qc.c, a.q.engine.all(ordered))), shape(await ref.q.engine.all(ordered)), 'ORDER BY … LIMIT');
        for (const agg of [{ fn: 'COUNT' }, { fn: 'SUM', bin: 'i' }, { fn: 'MAX', bin: 's' }] as const) {
          const spec: QuerySpec = { namespace: 'test', where, aggregate: agg };
          assert.deepEqual(await drive1(qc.c, a.q.engine.aggregate(spec)), await ref.q.engine.aggregate(spec), `${agg.fn}`);
        }
        const ex = await a.q.engine.explain({ namespace: 'test', where });
        assert.equal(ex.access, 'index');
        assert.equal(ex.index, 'n_idx');
        assert.match(ex.cluster ?? '', /^3 masters each query their own index for the partitions they master; merged on this node in index order$/);
        const scanEx = await a.q.engine.explain({ namespace: 'test', where: cmp('=', bin('i'), lit(3n)) });
        assert.equal(scanEx.access, 'scan');
        assert.match(scanEx.cluster ?? '', /masters each scan the partitions they master/);
        // each master answered from its own index: the other nodes served shares
        for (const n of qc.nodes.values()) assert.ok(n.data.path.calls.stats.served > 0);
      } finally {
        await qc.stopAll();
      }
    });

    it(`seed ${seed}: a cursor resumes across a map change — a node dies mid-query and between pages; the rows equal one node's`, async () => {
      const qc = queryCluster(seed + 100, 40); // small share pages: several pages of every share are still to come when C dies
      const ref = await reference();
      try {
        for (const id of [A, B, C]) await qc.start(id);
        assert.ok(await qc.c.converge(undefined, 60_000) >= 0, `seed ${seed}: the cluster did not form`);
        await load(qc.c, [...qc.nodes.values()].map((n) => n.data), ref.kernel, 1500, seed);
        const a = qc.nodes.get(A) as QNode;
        const def = INDEXES[0] as Omit<IndexDefinition, 'namespace'>;
        await drive1(qc.c, a.q.indexes.create({ namespace: 'test', ...def }));
        await ref.q.indexes.create({ namespace: 'test', ...def });
        await ref.q.indexes.whenReady('test', def.name);
        for (const n of qc.nodes.values()) await drive1(qc.c, n.q.indexes.whenReady('test', def.name));
        const spec: QuerySpec = { namespace: 'test', where: between(bin('n'), 0n, 30n), bins: ['i'] };
        const want = shape(await ref.q.engine.all(spec));
        assert.ok(want.length > 1000, 'more rows than one share page');
        // first pages through A, then C dies (a share is in flight), the rest through B by cursor
        const it = a.q.engine.query(spec)[Symbol.asyncIterator]();
        const got: QueryRow[] = [];
        for (let i = 0; i < 300; i++) {
          const [r] = await qc.c.drive([it.next()]);
          assert.ok(r?.ok === true && r.value.done !== true);
          got.push(r.value.value as QueryRow);
        }
        await qc.kill(C);
        // the same generator goes on while the survivors re-form: its shares on C are asked again by the new map
        for (;;) {
          const [r] = await qc.c.drive([it.next()], 60_000);
          assert.ok(r?.ok === true, `seed ${seed}: the query failed after the map change: ${r?.ok === false ? String(r.error) : ''}`);
          if (r.value.done === true) break;
          got.push(r.value.value as QueryRow);
          if (got.length === 700) break;
        }
        assert.ok(await qc.c.converge([A, B], 60_000) >= 0, 'the survivors re-formed');
        // …and the rest by the last row's cursor, through B, on the new map
        const rest = await drive1(qc.c, (qc.nodes.get(B) as QNode).q.engine.all({ ...spec, cursor: (got[got.length - 1] as QueryRow).cursor }));
        assert.deepEqual(shape([...got, ...rest]), want, `seed ${seed}: rows across the map change`);
        assert.match((await (qc.nodes.get(B) as QNode).q.engine.explain(spec)).cluster ?? '', /^2 masters/);
      } finally {
        await qc.stopAll();
      }
    });

    it(`seed ${seed}: a master whose index definitions lag takes the asking node's (system metadata catch-up) before it answers`, async () => {
      const qc = queryCluster(seed + 200);
      const ref = await reference();
      try {
        for (const id of [A, B, C]) await qc.start(id);
        assert.ok(await qc.c.converge(undefined, 60_000) >= 0, `seed ${seed}: the cluster did not form`);
        await load(qc.c, [...qc.nodes.values()].map((n) => n.data), ref.kernel, 600, seed);
        // no pushes and no repair rounds from now on: a definition made on A stays on A
        for (const n of qc.nodes.values()) n.sync.stop();
        const a = qc.nodes.get(A) as QNode;
        const def = INDEXES[1] as Omit<IndexDefinition, 'namespace'>;
        await drive1(qc.c, a.q.indexes.create({ namespace: 'test', ...def }));
        await drive1(qc.c, a.q.indexes.whenReady('test', def.name));
        await ref.q.indexes.create({ namespace: 'test', ...def });
        await ref.q.indexes.whenReady('test', def.name);
        for (const id of [B, C]) assert.equal((qc.nodes.get(id) as QNode).q.indexes.list('test').length, 0, 'the other masters lag');
        const spec: QuerySpec = { namespace: 'test', where: cmp('=', bin('s'), lit('s11')) };
        assert.deepEqual(shape(await drive1(qc.c, a.q.engine.all(spec))), shape(await ref.q.engine.all(spec)));
        for (const id of [B, C]) {
          const n = qc.nodes.get(id) as QNode;
          assert.ok(n.sync.stats.catchUps >= 1, `node ${id.toString(16)} caught up for the query`);
          assert.deepEqual(n.q.indexes.list('test').map((s) => s.name), [def.name]);
        }
      } finally {
        await qc.stopAll();
      }
    });
  }
});

/** Writes `count` records through random nodes (and to the reference). */
async function load(c: SimDataCluster, nodes: readonly DataNode[], ref: Kernel, count: number, seed: number): Promise<void> {
  const rand = seededRandom(seed);
  for (let i = 0; i < count; i += 100) {
    const ps: Promise<unknown>[] = [];
    for (let j = i; j < Math.min(count, i + 100); j++) {
      const n = nodes[Math.floor(rand() * nodes.length)] as DataNode;
      const key: RecordKey = n.kernel.key('test', j % 3 === 0 ? 'a' : '', `k${j}`);
      ps.push(n.kernel.put(key, binsOf(j)));
      ps.push(ref.put(ref.key('test', j % 3 === 0 ? 'a' : '', `k${j}`), binsOf(j)));
    }
    for (const r of await c.drive(ps)) assert.ok(r.ok, `seed ${seed}: a load write failed: ${r.ok ? '' : String(r.error)}`);
  }
}

async function drive1<T>(c: SimDataCluster, p: Promise<T>, maxMs = 60_000): Promise<T> {
  const [r] = await c.drive([p], maxMs);
  if (r === undefined || !r.ok) throw r?.error ?? new Error('no outcome');
  return r.value as T;
}

/** Every row of a query, `size` rows a page, each page through the next node by the last row's cursor. */
async function paged(qc: ReturnType<typeof queryCluster>, spec: QuerySpec, size: number): Promise<ReturnType<typeof shape>> {
  const nodes = [...qc.nodes.values()];
  const out: QueryRow[] = [];
  for (let page = 0; ; page++) {
    const n = nodes[page % nodes.length] as QNode;
    const last = out[out.length - 1];
    const rows = await drive1(qc.c, n.q.engine.all({ ...spec, limit: size, ...(last === undefined ? {} : { cursor: last.cursor }) }));
    out.push(...rows);
    if (rows.length < size) return shape(out);
  }
}
