import { strict as assert } from 'node:assert';
import { readFileSync, readdirSync } from 'node:fs';
import { GeoJson, type BinValue, type Bins } from '../../core/model/index.ts';
import { UdfEngine, type RecordEffect } from '../../core/udf/index.ts';
import { rejects, view } from './helpers.ts';

const DIR = new URL('../../udf-examples/', import.meta.url);

function binsOf(e: RecordEffect): Bins {
  assert.equal(e.kind, 'write');
  return (e as { bins: Bins }).bins;
}
function obj(v: BinValue): Record<string, BinValue> {
  assert.ok(v instanceof Map);
  return Object.fromEntries(v as Map<string, BinValue>);
}

describe('udf/examples', function () {
  let engine: UdfEngine;
  before(async () => {
    engine = await UdfEngine.open({ poolSize: 1 });
    for (const f of readdirSync(DIR).filter((n) => /\.(js|ts)$/.test(n))) await engine.register(f, readFileSync(new URL(f, DIR), 'utf8'));
  });
  after(() => engine.close());
  const rec = (module: string, fn: string, v: ReturnType<typeof view>, ...args: BinValue[]) => engine.applyRecord({ module, fn, args }, v);
  const agg = (module: string, fn: string, batches: Bins[][], ...args: BinValue[]) => engine.runAggregation({ module, fn, args }, batches);

  it('registers every example', () => {
    assert.deepEqual(engine.listModules().map((m) => m.fileName), ['bank.js', 'counter.js', 'geo.js', 'groupby.js', 'stats.ts', 'topn.js', 'validator.js', 'wordcount.js']);
  });

  it('bank: deposit, withdraw and transfer with a balance check', async () => {
    const d = await rec('bank', 'deposit', view(undefined), 'checking', 500n);
    assert.deepEqual(d.effect, { kind: 'write', bins: { checking: 500n }, create: true });
    const t = await rec('bank', 'transfer', view({ checking: 500n, savings: 10n }), 'checking', 'savings', 200n);
    assert.deepEqual(binsOf(t.effect), { checking: 300n, savings: 210n });
    assert.deepEqual(obj(t.value), { checking: 300n, savings: 210n });
    const poor = await rejects(rec('bank', 'transfer', view({ checking: 50n }), 'checking', 'savings', 200n));
    assert.equal(poor.resultCode, 1003);
    assert.match(poor.message, /^insufficient funds: checking holds 50, needs 200 \(at bank\.js:\d+:\d+ in transfer\)$/);
    assert.equal((await rejects(rec('bank', 'withdraw', view(undefined), 'checking', 1n))).resultCode, 1002);
    assert.equal((await rejects(rec('bank', 'deposit', view({}), 'checking', -5n))).resultCode, 1001);
    assert.equal((await rec('bank', 'withdraw', view({ checking: 5n }), 'checking', 5n)).value, 0n);
  });

  it('counter: counts with a TTL and limits', async () => {
    const first = await rec('counter', 'hit', view(undefined), 'hits', 1n, 60n);
    assert.deepEqual(first.effect, { kind: 'write', bins: { hits: 1n }, create: true, ttl: 60 });
    const voidTime = Math.floor(Date.now() / 1000) + 30;
    assert.equal((await rec('counter', 'limit', view({ hits: 2n }, { voidTime }), 'hits', 3n, 60n)).value, 3n);
    const over = await rejects(rec('counter', 'limit', view({ hits: 3n }, { voidTime }), 'hits', 3n, 60n));
    assert.equal(over.resultCode, 1429);
    assert.match(over.message, /retry in (29|30) s/);
    const peek = obj((await rec('counter', 'peek', view({ hits: 7n }, { generation: 4 }), 'hits')).value);
    assert.equal(peek.count, 7n);
    assert.equal(peek.generation, 4n);
  });

  it('validator: writes valid fields, refuses invalid ones with their codes', async () => {
    const ok = await rec('validator', 'save', view(undefined), new Map<string, BinValue>([['email', 'a@b.io'], ['age', 31n]]));
    const bins = binsOf(ok.effect);
    assert.equal(bins.email, 'a@b.io');
    assert.equal(bins.age, 31n);
    assert.equal(typeof bins.updated, 'bigint');
    const cases: Array<[Map<string, BinValue>, number]> = [
      [new Map([['age', 3n]]), 4001],
      [new Map([['email', 'nope']]), 4002],
      [new Map<string, BinValue>([['email', 'a@b.io'], ['age', 1.5]]), 4003],
      [new Map([['email', 'a@b.io'], ['shoe', 'x']]), 4004],
    ];
    for (const [fields, code] of cases) assert.equal((await rejects(rec('validator', 'save', view(undefined), fields))).resultCode, code);
  });

  const docs: Bins[][] = [
    [{ text: 'the cat sat on the mat' }, { text: 'The dog' }],
    [{ text: "the cat's hat" }, { other: 1n }],
  ];

  it('wordcount: counts and top words', async () => {
    const [counts] = await agg('wordcount', 'count', docs, 'text');
    assert.deepEqual(obj(counts as BinValue), { the: 4n, cat: 1n, sat: 1n, on: 1n, mat: 1n, dog: 1n, "cat's": 1n, hat: 1n });
    const [top] = await agg('wordcount', 'top', docs, 'text', 2n);
    assert.deepEqual(top, [['the', 4n], ['cat', 1n]]);
  });

  const orders: Bins[][] = [
    [{ country: 'FR', amount: 10n }, { country: 'DE', amount: 5n }, { country: 'FR', amount: 1n }],
    [{ country: 'DE', amount: 7n }, { country: 'US', amount: 100n }, { country: 'US' }],
  ];

  it('groupby: countBy, sumBy, statsBy', async () => {
    assert.deepEqual(obj((await agg('groupby', 'countBy', orders, 'country'))[0] as BinValue), { FR: 2n, DE: 2n, US: 2n });
    assert.deepEqual(obj((await agg('groupby', 'sumBy', orders, 'country', 'amount'))[0] as BinValue), { FR: 11n, DE: 12n, US: 100n });
    const stats = obj((await agg('groupby', 'statsBy', orders, 'country', 'amount'))[0] as BinValue);
    assert.deepEqual(obj(stats.DE as BinValue), { n: 2n, sum: 12n, min: 5n, max: 7n });
    assert.deepEqual(obj(stats.US as BinValue), { n: 1n, sum: 100n, min: 100n, max: 100n });
  });

  it('topn: the n highest values across partitions', async () => {
    const players = Array.from({ length: 50 }, (_, i) => ({ score: BigInt((i * 37) % 101), name: `p${i}` }));
    const batches = [players.slice(0, 20), players.slice(20)];
    const [top] = await agg('topn', 'top', batches, 'score', 3n, 'name');
    const expected = [...players].sort((a, b) => Number(b.score - a.score)).slice(0, 3);
    assert.deepEqual((top as BinValue[]).map((x) => obj(x).value), expected.map((p) => p.score));
    assert.deepEqual((top as BinValue[]).map((x) => obj(x).label), expected.map((p) => p.name));
  });

  it('geo: places within a distance, nearest first; distance of one record', async () => {
    const pt = (lng: number, lat: number) => new GeoJson(JSON.stringify({ type: 'Point', coordinates: [lng, lat] }));
    const places: Bins[][] = [[
      { name: 'ferry building', loc: pt(-122.3937, 37.7955) },
      { name: 'coit tower', loc: pt(-122.4058, 37.8024) },
    ], [
      { name: 'oakland', loc: pt(-122.2711, 37.8044) },
      { name: 'no location' },
    ]];
    const [near] = await agg('geo', 'near', places, 'loc', -122.4, 37.79, 3000.5, 'name');
    assert.deepEqual((near as BinValue[]).map((x) => obj(x).label), ['ferry building', 'coit tower']);
    const d = (await rec('geo', 'distanceTo', view({ loc: pt(-122.2711, 37.8044) }), 'loc', -122.4, 37.79)).value as number;
    assert.ok(d > 11_000 && d < 12_000, String(d));
  });

  it('stats.ts (TypeScript): summary statistics', async () => {
    const reqs: Bins[][] = [[{ latency_ms: 10n }, { latency_ms: 20n }], [{ latency_ms: 30n }, { other: 'x' }]];
    const s = obj((await agg('stats', 'summary', reqs, 'latency_ms'))[0] as BinValue);
    assert.deepEqual({ ...s, stddev: undefined }, { n: 3n, min: 10n, max: 30n, mean: 20n, stddev: undefined });
    assert.ok(Math.abs((s.stddev as number) - 8.16496580927726) < 1e-9);
  });
});
