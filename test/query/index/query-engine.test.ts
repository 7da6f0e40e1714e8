import { strict as assert } from 'node:assert';
import { isDbError, type ResultCodeName } from '../../../core/errors/index.ts';
import { GeoJson, computeDigest, partitionOf, type Bins } from '../../../core/model/index.ts';
import {
  and, anyElem, between, bin, cmp, elem, geoContains, geoWithin, lit, meta, or, regex,
} from '../../../core/query/expr/index.ts';
import { IndexManager, MemoryIndexMetadataStore, MemoryRecordSource, type IndexDefinition } from '../../../core/query/index/index.ts';
import { QueryEngine, type QuerySpec } from '../../../core/query/query-engine.ts';

const code = (c: ResultCodeName) => (e: unknown) => isDbError(e, c);

async function world(n = 500) {
  const source = new MemoryRecordSource(() => 1_800_000_000_000);
  const mgr = new IndexManager({ store: new MemoryIndexMetadataStore(), source });
  source.onWrite((ns, d, set, o, nb) => mgr.onWrite(ns, d, set, o, nb));
  for (let i = 0; i < n; i++) {
    const bins: Bins = { i: BigInt(i), mod: BigInt(i % 10), name: `user${String(i).padStart(4, '0')}`, tags: [`t${i % 3}`, `t${i % 5}`] };
    if (i % 7 === 0) delete bins.mod;
    source.put('test', i % 2 === 0 ? 'even' : 'odd', `k${i}`, bins);
  }
  const create = async (d: Partial<IndexDefinition> & Pick<IndexDefinition, 'name' | 'bin' | 'type'>) => {
    await mgr.create({ namespace: 'test', collection: 'DEFAULT', ...d });
    await mgr.whenReady('test', d.name);
  };
  return { source, mgr, engine: new QueryEngine(mgr, source), create };
}
const ids = (rows: Array<{ record: { bins: Bins } }>) => rows.map((r) => Number(r.record.bins.i)).sort((a, b) => a - b);

describe('query engine', () => {
  it('equality and range through an index, the rest as a filter; EXPLAIN says so', async () => {
    const { engine, create } = await world();
    await create({ name: 'mod_idx', bin: 'mod', type: 'NUMERIC' });
    const spec: QuerySpec = { namespace: 'test', where: and(cmp('=', bin('mod'), lit(3n)), cmp('<', bin('i'), lit(100n))) };
    const ex = await engine.explain(spec);
    assert.equal(ex.access, 'index');
    assert.equal(ex.index, 'mod_idx');
    assert.equal(ex.predicate, 'mod = 3');
    assert.equal(ex.estimatedEntries, 43); // i%10==3 and i%7!=0 among 0..499
    assert.equal(ex.filter, 'i < 100');
    assert.deepEqual(ids(await engine.all(spec)), [3, 13, 23, 33, 43, 53, 73, 83, 93]);
    const range = await engine.all({ namespace: 'test', set: 'odd', where: between(bin('mod'), 8n, 9n) });
    assert.ok(range.length > 0 && range.every((r) => r.record.key.set === 'odd' && [9n].includes(r.record.bins.mod as bigint)));
  });

  it('without a usable index it runs as a filtered scan and says why', async () => {
    const { engine, create } = await world();
    await create({ name: 'name_idx', bin: 'name', type: 'STRING' });
    const spec: QuerySpec = { namespace: 'test', where: or(cmp('=', bin('i'), lit(5n)), regex(bin('name'), '0499$')) };
    const ex = await engine.explain(spec);
    assert.equal(ex.access, 'scan');
    assert.equal(ex.reason, 'no predicate an index can answer');
    assert.deepEqual(ids(await engine.all(spec)), [5, 499]);
    const ex2 = await engine.explain({ namespace: 'test', where: cmp('>', bin('i'), lit(5n)) });
    assert.equal(ex2.reason, 'no index on i (NUMERIC)');
  });

  it('picks the most selective index', async () => {
    const { engine, create } = await world();
    await create({ name: 'mod_idx', bin: 'mod', type: 'NUMERIC' });
    await create({ name: 'i_idx', bin: 'i', type: 'NUMERIC' });
    const ex = await engine.explain({ namespace: 'test', where: and(cmp('=', bin('mod'), lit(1n)), cmp('>=', bin('i'), lit(480n)), cmp('<', bin('i'), lit(490n))) });
    assert.equal(ex.index, 'i_idx');
    assert.equal(ex.predicate, 'i >= 480 AND i < 490');
    assert.equal(ex.estimatedEntries, 10);
    const ex2 = await engine.explain({ namespace: 'test', where: and(cmp('=', bin('mod'), lit(1n)), cmp('>=', bin('i'), lit(10n))) });
    assert.equal(ex2.index, 'mod_idx');
  });

  it('bin selection, limit, partition filter', async () => {
    const { engine, create } = await world();
    await create({ name: 'i_idx', bin: 'i', type: 'NUMERIC' });
    const rows = await engine.all({ namespace: 'test', where: cmp('<', bin('i'), lit(50n)), bins: ['name'], limit: 7 });
    assert.equal(rows.length, 7);
    assert.deepEqual(Object.keys(rows[0]?.record.bins ?? {}), ['name']);
    const p = partitionOf(computeDigest('even', 'k0'));
    for (const where of [cmp('<', bin('i'), lit(500n)), undefined]) {
      const inP = await engine.all({ namespace: 'test', where, partitions: { begin: p, count: 1 } });
      assert.ok(inP.some((r) => r.record.bins.i === 0n));
      assert.ok(inP.every((r) => r.record.key.partition === p));
    }
    assert.equal((await engine.all({ namespace: 'test', where: cmp('<', bin('i'), lit(500n)), partitions: { ids: [] } })).length, 0);
    await assert.rejects(engine.all({ namespace: 'test', partitions: { begin: 4095, count: 2 } }), code('PARAMETER'));
  });

  it('cursors resume exactly (index, collection index and scan)', async () => {
    const { engine, create } = await world(300);
    await create({ name: 'i_idx', bin: 'i', type: 'NUMERIC' });
    await create({ name: 'tags_idx', bin: 'tags', type: 'STRING', collection: 'LIST' });
    for (const where of [
      cmp('>=', bin('i'), lit(20n)), // index
      anyElem('list', bin('tags'), cmp('>=', elem, lit('t1'))), // list index, records with several hits once
      cmp('>=', bin('mod'), lit(2n)), // scan
    ]) {
      const full = await engine.all({ namespace: 'test', where });
      assert.equal(new Set(full.map((r) => r.record.bins.i)).size, full.length, 'no duplicates');
      const got: Bins[] = [];
      let cursor: string | undefined;
      for (;;) {
        const page = await engine.all({ namespace: 'test', where, limit: 37, ...(cursor === undefined ? {} : { cursor }) });
        got.push(...page.map((r) => r.record.bins));
        if (page.length < 37) break;
        cursor = page[page.length - 1]?.cursor;
      }
      assert.deepEqual(got.map((b) => b.i), full.map((r) => r.record.bins.i));
    }
    await assert.rejects(engine.all({ namespace: 'test', where: cmp('>=', bin('i'), lit(20n)), cursor: 'garbage' }), code('PARAMETER'));
  });

  it('ORDER BY and aggregates', async () => {
    const { engine } = await world(100);
    const rows = await engine.all({ namespace: 'test', where: cmp('<', bin('i'), lit(20n)), orderBy: { bin: 'mod', desc: true }, limit: 5 });
    assert.deepEqual(rows.map((r) => r.record.bins.mod), [9n, 9n, 8n, 8n, 7n]);
    const asc = await engine.all({ namespace: 'test', where: cmp('<', bin('i'), lit(15n)), orderBy: { bin: 'mod' } });
    assert.deepEqual(asc.slice(-2).map((r) => r.record.bins.mod), [undefined, undefined], 'records without the bin last');
    const w = { namespace: 'test', where: cmp('<', bin('i'), lit(10n)) };
    assert.equal((await engine.aggregate({ ...w, aggregate: { fn: 'COUNT' } })).value, 10n);
    assert.equal((await engine.aggregate({ ...w, aggregate: { fn: 'COUNT', bin: 'mod' } })).value, 8n);
    assert.equal((await engine.aggregate({ ...w, aggregate: { fn: 'SUM', bin: 'i' } })).value, 45n);
    assert.equal((await engine.aggregate({ ...w, aggregate: { fn: 'AVG', bin: 'i' } })).value, 4.5);
    assert.equal((await engine.aggregate({ ...w, aggregate: { fn: 'MIN', bin: 'name' } })).value, 'user0000');
    assert.equal((await engine.aggregate({ ...w, aggregate: { fn: 'MAX', bin: 'mod' } })).value, 9n);
    assert.equal((await engine.aggregate({ ...w, aggregate: { fn: 'SUM', bin: 'nope' } })).value, null);
    await assert.rejects(engine.aggregate({ ...w, aggregate: { fn: 'SUM' } }), code('PARAMETER'));
  });

  it('ORDER BY with LIMIT holds only the records it sends (same order as the full sort, pages by cursor); without one it is bounded', async () => {
    const { engine, source } = await world(300);
    const where = cmp('<', bin('i'), lit(250n));
    const full = await engine.all({ namespace: 'test', where, orderBy: { bin: 'mod' } });
    const names = (rows: Array<{ record: { bins: Bins } }>) => rows.map((r) => r.record.bins.name);
    for (const limit of [1, 7, 40, 249, 400]) {
      const rows = await engine.all({ namespace: 'test', where, orderBy: { bin: 'mod' }, limit });
      assert.deepEqual(names(rows), names(full.slice(0, limit)), `LIMIT ${limit}`);
    }
    const page1 = await engine.query({ namespace: 'test', where, orderBy: { bin: 'mod', desc: true }, limit: 10 });
    const first: Array<{ record: { bins: Bins }; cursor: string }> = [];
    for await (const r of page1) first.push(r);
    const page2 = await engine.all({ namespace: 'test', where, orderBy: { bin: 'mod', desc: true }, limit: 10, cursor: (first[9] as { cursor: string }).cursor });
    const desc = await engine.all({ namespace: 'test', where, orderBy: { bin: 'mod', desc: true } });
    assert.deepEqual([...names(first), ...names(page2)], names(desc.slice(0, 20)));
    // 70 records of 1 MiB: more than an ORDER BY holds to sort; with a LIMIT it is answered
    const big = 'x'.repeat(1024 * 1024);
    for (let i = 0; i < 70; i++) source.put('test', 'big', `b${i}`, { i: BigInt(i), s: big });
    const bigWhere = cmp('=', meta('setName'), lit('big'));
    await assert.rejects(engine.all({ namespace: 'test', where: bigWhere, orderBy: { bin: 'i' } }), (e: unknown) => isDbError(e, 'QUERY_ABORTED') && /LIMIT/.test((e as { hint?: string }).hint ?? ''));
    const top = await engine.all({ namespace: 'test', where: bigWhere, orderBy: { bin: 'i', desc: true }, limit: 3 });
    assert.deepEqual(top.map((r) => r.record.bins.i), [69n, 68n, 67n]);
  });

  it('metadata filters', async () => {
    const { engine } = await world(50);
    const rows = await engine.all({ namespace: 'test', where: and(cmp('=', meta('setName'), lit('odd')), cmp('=', meta('generation'), lit(1n))) });
    assert.equal(rows.length, 25);
    const mod = await engine.all({ namespace: 'test', where: cmp('=', { kind: 'digestModulo', modulus: 2 }, lit(0n)) });
    assert.ok(mod.length > 5 && mod.length < 45);
  });

  it('a building index: error by default, wait, or scan', async () => {
    const { engine, mgr } = await world(2000);
    await mgr.create({ namespace: 'test', name: 'i_idx', bin: 'i', type: 'NUMERIC', collection: 'DEFAULT' });
    const where = cmp('=', bin('i'), lit(1234n));
    await assert.rejects(engine.all({ namespace: 'test', where }), code('INDEX_NOT_READABLE'));
    assert.equal((await engine.explain({ namespace: 'test', where, whileBuilding: 'scan' })).access, 'scan');
    const rows = await engine.all({ namespace: 'test', where, whileBuilding: 'wait' });
    assert.deepEqual(ids(rows), [1234]);
    assert.equal((await engine.explain({ namespace: 'test', where })).access, 'index');
    await assert.rejects(engine.explain({ namespace: 'test', where, indexName: 'nope' }), code('INDEX_NOT_FOUND'));
  });

  it('geo: points within a region, regions containing a point, circles', async () => {
    const { source, engine, create } = await world(0);
    await create({ name: 'geo', bin: 'loc', type: 'GEO2DSPHERE' });
    const p = (lon: number, lat: number) => new GeoJson(JSON.stringify({ type: 'Point', coordinates: [lon, lat] }));
    source.put('test', 'g', 'sf', { name: 'sf', loc: p(-122.42, 37.77) });
    source.put('test', 'g', 'oak', { name: 'oak', loc: p(-122.27, 37.8) });
    source.put('test', 'g', 'la', { name: 'la', loc: p(-118.24, 34.05) });
    source.put('test', 'g', 'suva', { name: 'suva', loc: p(178.44, -18.14) });
    source.put('test', 'g', 'apia', { name: 'apia', loc: p(-171.77, -13.83) });
    source.put('test', 'g', 'bay', { name: 'bay', loc: new GeoJson('{"type":"Polygon","coordinates":[[[-123,37],[-121.5,37],[-121.5,38.5],[-123,38.5],[-123,37]]]}') });
    const names = async (where: QuerySpec['where']) => {
      const ex = await engine.explain({ namespace: 'test', where });
      assert.equal(ex.access, 'geo-index');
      return (await engine.all({ namespace: 'test', where })).map((r) => r.record.bins.name).sort();
    };
    const bayBox = lit(new GeoJson('{"type":"Polygon","coordinates":[[[-123,37],[-122,37],[-122,38],[-123,38],[-123,37]]]}'));
    assert.deepEqual(await names(geoWithin(bin('loc'), bayBox)), ['oak', 'sf']);
    assert.deepEqual(await names(geoContains(bin('loc'), lit(p(-122, 38)))), ['bay']);
    assert.deepEqual(await names(geoWithin(bin('loc'), lit(new GeoJson('{"type":"AeroCircle","coordinates":[[-122.42,37.77],20000]}')))), ['oak', 'sf']);
    const pacific = lit(new GeoJson('{"type":"Polygon","coordinates":[[[170,-25],[-170,-25],[-170,-10],[170,-10],[170,-25]]]}'));
    assert.deepEqual(await names(geoWithin(bin('loc'), pacific)), ['apia', 'suva']);
  });
});
