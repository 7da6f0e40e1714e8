import { strict as assert } from 'node:assert';
import { isDbError, type ResultCodeName } from '../../../core/errors/index.ts';
import { GeoJson, computeDigest, digestString, type Bins } from '../../../core/model/index.ts';
import { parseShape } from '../../../core/query/geo/index.ts';
import {
  IndexManager, MemoryIndexMetadataStore, MemoryRecordSource, type IndexDefinition,
} from '../../../core/query/index/index.ts';

function setup(buildStep = 4096) {
  const source = new MemoryRecordSource();
  const store = new MemoryIndexMetadataStore();
  const mgr = new IndexManager({ store, source, namespaces: () => ['test'], buildStep });
  source.onWrite((ns, d, set, o, n) => mgr.onWrite(ns, d, set, o, n));
  return { source, store, mgr };
}
const def = (name: string, bin: string, type: IndexDefinition['type'], extra: Partial<IndexDefinition> = {}): IndexDefinition =>
  ({ namespace: 'test', name, bin, type, collection: 'DEFAULT', ...extra });
const code = (c: ResultCodeName) => (e: unknown) => isDbError(e, c);
const dk = (set: string, k: string) => digestString(computeDigest(set, k));

describe('query/index manager', () => {
  it('create / list / stat / drop with Aerospike errors', async () => {
    const { mgr, store } = setup();
    await mgr.create(def('age_idx', 'age', 'NUMERIC', { set: 'people' }));
    await mgr.whenReady('test', 'age_idx');
    assert.deepEqual(mgr.list('test').map((s) => [s.name, s.state, s.loadPct]), [['age_idx', 'ready', 100]]);
    assert.equal((await store.load()).length, 1);
    await assert.rejects(mgr.create(def('age_idx', 'x', 'STRING')), code('INDEX_FOUND'));
    await assert.rejects(mgr.create(def('other', 'age', 'NUMERIC', { set: 'people' })), code('INDEX_FOUND'));
    await assert.rejects(mgr.create(def('x'.repeat(64), 'a', 'NUMERIC')), code('INDEX_NAME_MAXLEN'));
    await assert.rejects(mgr.create({ ...def('bad', 'a', 'NUMERIC'), namespace: 'nope' }), code('NAMESPACE'));
    await assert.rejects(mgr.create(def('bad', 'a', 'TEXT' as never)), code('PARAMETER'));
    await assert.rejects(mgr.create(def('bad', 'abcdefghijklmnopq', 'NUMERIC')), code('BIN_NAME'));
    await assert.rejects(mgr.drop('test', 'nope'), code('INDEX_NOT_FOUND'));
    assert.throws(() => mgr.stat('test', 'nope'), code('INDEX_NOT_FOUND'));
    await mgr.drop('test', 'age_idx');
    assert.deepEqual(mgr.list(), []);
    assert.equal((await store.load()).length, 0);
  });

  it('definitions survive a restart through the metadata store', async () => {
    const { source, store, mgr } = setup();
    source.put('test', 's', 'a', { n: 1n });
    await mgr.create(def('n_idx', 'n', 'NUMERIC'));
    const again = new IndexManager({ store, source });
    await again.open();
    await again.whenReady('test', 'n_idx');
    assert.equal(again.stat('test', 'n_idx').entries, 1);
  });

  it('keeps entries exact across update, type change, delete, expiry and truncate', async () => {
    const { source, mgr } = setup();
    await mgr.create(def('n', 'n', 'NUMERIC'));
    await mgr.create(def('s', 'n', 'STRING'));
    await mgr.whenReady('test', 'n');
    await mgr.whenReady('test', 's');
    const n = mgr.index('test', 'n');
    const s = mgr.index('test', 's');
    const all = { lo: undefined, hi: undefined };
    const rec = (bins: Bins) => source.put('test', 'x', 'k1', bins);
    rec({ n: 5n });
    assert.deepEqual(n.range(all, undefined, 10).map((e) => e.k), [5n]);
    rec({ n: 7.5, other: 'x' });
    assert.deepEqual(n.range(all, undefined, 10).map((e) => e.k), [7.5]);
    rec({ n: 'seven' });
    assert.equal(n.size, 0);
    assert.deepEqual(s.range(all, undefined, 10).map((e) => e.k), ['seven']);
    source.delete('test', computeDigest('x', 'k1'));
    assert.equal(s.size, 0);
    let now = 1_000_000_000_000;
    source.setClock(() => now);
    source.put('test', 'x', 'k2', { n: 1n }, 10);
    source.put('test', 'y', 'k3', { n: 2n });
    assert.equal(n.size, 2);
    now += 11_000;
    source.sweep();
    assert.deepEqual(n.range(all, undefined, 10).map((e) => e.d), [dk('y', 'k3')]);
    source.truncate('test', 'y');
    assert.equal(n.size, 0);
  });

  it('list, map-key and map-value indexes follow the elements', async () => {
    const { source, mgr } = setup();
    await mgr.create(def('l', 'tags', 'STRING', { collection: 'LIST' }));
    await mgr.create(def('mk', 'm', 'STRING', { collection: 'MAPKEYS' }));
    await mgr.create(def('mv', 'm', 'NUMERIC', { collection: 'MAPVALUES' }));
    for (const x of ['l', 'mk', 'mv']) await mgr.whenReady('test', x);
    const keys = (name: string) => mgr.index('test', name).range({}, undefined, 100).map((e) => e.k);
    source.put('test', '', 'a', { tags: ['b', 'a', 'b', 3n], m: new Map<string, Bins[string]>([['x', 1n], ['y', 2n], ['z', 1n]]) });
    assert.deepEqual(keys('l'), ['a', 'b']);
    assert.deepEqual(keys('mk'), ['x', 'y', 'z']);
    assert.deepEqual(keys('mv'), [1n, 2n]);
    source.put('test', '', 'a', { tags: ['c'], m: new Map([['y', 2n]]) });
    assert.deepEqual(keys('l'), ['c']);
    assert.deepEqual(keys('mk'), ['y']);
    assert.deepEqual(keys('mv'), [2n]);
  });

  it('range lookups cost the matches and count exactly', async () => {
    const { source, mgr } = setup();
    for (let i = 0; i < 2000; i++) source.put('test', 's', `k${i}`, { v: BigInt(i % 100) });
    await mgr.create(def('v', 'v', 'NUMERIC'));
    await mgr.whenReady('test', 'v');
    const idx = mgr.index('test', 'v');
    assert.equal(idx.count({ lo: { value: 10n, inclusive: true }, hi: { value: 10n, inclusive: true } }), 20);
    assert.equal(idx.count({ lo: { value: 10n, inclusive: false }, hi: { value: 20.5, inclusive: true } }), 200);
    const first = idx.range({ lo: { value: 42n, inclusive: true }, hi: { value: 43n, inclusive: true } }, undefined, 25);
    assert.equal(first.length, 25);
    const rest = idx.range({ lo: { value: 42n, inclusive: true }, hi: { value: 43n, inclusive: true } }, first[first.length - 1], 100);
    assert.equal(rest.length, 15);
    assert.ok(rest.every((e) => e.k === 43n));
  });

  it('builds in the background with progress; writes during the build stay exact', async () => {
    const { source, mgr } = setup(256);
    for (let i = 0; i < 3000; i++) source.put('test', 's', `k${i}`, { v: BigInt(i) });
    await mgr.create(def('v', 'v', 'NUMERIC'));
    const st = mgr.stat('test', 'v');
    assert.equal(st.state, 'building');
    assert.throws(() => mgr.index('test', 'v'), code('INDEX_NOT_READABLE'));
    // let the build run a few steps, then write behind and ahead of it
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    const mid = mgr.stat('test', 'v');
    assert.ok(mid.loadPct > 0 && mid.loadPct < 100, `progress ${mid.loadPct}`);
    for (let i = 0; i < 3000; i += 3) source.put('test', 's', `k${i}`, { v: BigInt(i + 100_000), w: 1n });
    for (let i = 1; i < 3000; i += 3) source.delete('test', computeDigest('s', `k${i}`));
    await mgr.whenReady('test', 'v');
    const got = mgr.index('test', 'v').range({}, undefined, 10_000).map((e) => e.k).sort((a, b) => Number(a) - Number(b));
    const want: bigint[] = [];
    for (let i = 0; i < 3000; i++) if (i % 3 === 2) want.push(BigInt(i)); else if (i % 3 === 0) want.push(BigInt(i + 100_000));
    want.sort((a, b) => Number(a) - Number(b));
    assert.deepEqual(got, want);
    assert.equal(mgr.stat('test', 'v').buildScanned > 0, true);
  });

  it('geo index candidates: points within a region (incl. antimeridian), regions containing a point', async () => {
    const { source, mgr } = setup();
    await mgr.create(def('g', 'loc', 'GEO2DSPHERE'));
    await mgr.whenReady('test', 'g');
    const p = (lon: number, lat: number) => new GeoJson(JSON.stringify({ type: 'Point', coordinates: [lon, lat] }));
    source.put('test', '', 'fiji', { loc: p(179.5, -17) });
    source.put('test', '', 'samoa', { loc: p(-178.5, -17) });
    source.put('test', '', 'paris', { loc: p(2.35, 48.85) });
    source.put('test', '', 'zone', { loc: new GeoJson('{"type":"Polygon","coordinates":[[[0,40],[10,40],[10,50],[0,50],[0,40]]]}') });
    source.put('test', '', 'bad', { loc: 'not geo' });
    const g = mgr.index('test', 'g');
    const box = parseShape('{"type":"Polygon","coordinates":[[[177,-20],[-178,-20],[-178,-15],[177,-15],[177,-20]]]}');
    assert.deepEqual(g.geoCandidates('within', box), [dk('', 'fiji'), dk('', 'samoa')].sort());
    assert.deepEqual(g.geoCandidates('contains', parseShape('{"type":"Point","coordinates":[2.35,48.85]}')),
      [dk('', 'paris'), dk('', 'zone')].sort());
    assert.equal(g.size, 4);
  });
});
