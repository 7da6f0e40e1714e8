import { strict as assert } from 'node:assert';
import type { BinValue, Bins } from '../../core/model/index.ts';
import { UdfEngine } from '../../core/udf/index.ts';
import { rejects } from './helpers.ts';

const MODULE = `
export function count(stream) { return stream.aggregate(0, (n, r) => n + 1).reduce((a, b) => a + b); }
export function sumOf(stream, bin, min) {
  return stream.filter((r) => r[bin] >= min).map((r) => r[bin]).reduce((a, b) => a + b);
}
export function avg(stream, bin) {
  return stream
    .aggregate({ n: 0, sum: 0 }, (acc, r) => { acc.n += 1; acc.sum += r[bin]; return acc; })
    .reduce((a, b) => ({ n: a.n + b.n, sum: a.sum + b.sum }))
    .map((m) => m.sum / m.n);
}
export function byColor(stream) { return stream.groupBy((r) => r.color, 0, (n, r) => n + 1, (a, b) => a + b); }
export function listsByColor(stream) { return stream.filter((r) => r.n < 3).groupby((r) => r.color); }
export function names(stream) { return stream.map((r) => r.name); }
export function notAStream(stream) { return 42; }
export function bigSum(stream) { return stream.map((r) => BigInt(r.n)).reduce((a, b) => a + b); }
`;

function records(n: number): Bins[] {
  const colors = ['red', 'green', 'blue'];
  return Array.from({ length: n }, (_, i) => ({ n: BigInt(i), color: colors[i % 3] as string, name: `r${i}` }));
}

function batches(recs: Bins[], size: number): Bins[][] {
  const out: Bins[][] = [];
  for (let i = 0; i < recs.length; i += size) out.push(recs.slice(i, i + size));
  return out;
}

async function* slowly(bs: Bins[][]): AsyncGenerator<Bins[]> {
  for (const b of bs) {
    await new Promise((r) => setImmediate(r));
    yield b;
  }
}

describe('udf/stream', function () {
  let engine: UdfEngine;
  before(async () => {
    engine = await UdfEngine.open({ poolSize: 2 });
    await engine.register('agg.js', MODULE);
  });
  after(() => engine.close());
  const agg = (fn: string, src: Iterable<readonly Bins[]> | AsyncIterable<readonly Bins[]>, args: BinValue[] = [], parallelism?: number) =>
    engine.runAggregation({ module: 'agg', fn, args }, src, parallelism === undefined ? {} : { parallelism });

  it('aggregate + reduce, filter + map, and a map after reduce', async () => {
    const recs = records(1000);
    assert.deepEqual(await agg('count', batches(recs, 100)), [1000n]);
    assert.deepEqual(await agg('count', slowly(batches(recs, 64)), [], 1), [1000n]);
    assert.deepEqual(await agg('sumOf', batches(recs, 77), ['n', 500n]), [BigInt((500 + 999) * 250)]);
    assert.deepEqual(await agg('avg', batches(recs, 100), ['n']), [499.5]);
  });

  it('groupBy with fold and merge, and groupBy into lists', async () => {
    const recs = records(30);
    const [groups] = await agg('byColor', batches(recs, 4));
    assert.deepEqual(groups, new Map([['red', 10n], ['green', 10n], ['blue', 10n]]));
    const [lists] = await agg('listsByColor', batches(recs, 1));
    const m = lists as unknown as Map<string, Bins[]>;
    assert.deepEqual([...m.keys()].sort(), ['blue', 'green', 'red']);
    assert.deepEqual(m.get('red')?.map((r) => (r as unknown as Map<string, BinValue>).get('n')), [0n]);
  });

  it('without a reduce every mapped value comes back', async () => {
    const out = await agg('names', batches(records(10), 3));
    assert.deepEqual([...out].sort(), Array.from({ length: 10 }, (_, i) => `r${i}`).sort());
  });

  it('no records: aggregate yields its initial value, reduce yields nothing', async () => {
    assert.deepEqual(await agg('count', []), [0n]);
    assert.deepEqual(await agg('sumOf', [[]], ['n', 0n]), []);
  });

  it('keeps 64-bit integers exact across batches and partials', async () => {
    const recs = [{ n: 2n ** 62n }, { n: 2n ** 61n }, { n: 1n }];
    assert.deepEqual(await agg('bigSum', batches(recs, 1)), [2n ** 62n + 2n ** 61n + 1n]);
  });

  it('partial and final phases run separately, as across nodes', async () => {
    const recs = records(90);
    const p1 = await engine.aggregatePartial({ module: 'agg', fn: 'byColor' }, batches(recs.slice(0, 45), 10));
    const p2 = await engine.aggregatePartial({ module: 'agg', fn: 'byColor' }, batches(recs.slice(45), 10));
    assert.ok(p1.length >= 1 && p1.length <= 2, `${p1.length} partials`);
    const final = await engine.aggregateFinal({ module: 'agg', fn: 'byColor' }, [...p1, ...p2]);
    assert.deepEqual(final, [new Map([['red', 30n], ['green', 30n], ['blue', 30n]])]);
  });

  it('reports stream UDF errors with the module and function', async () => {
    const notStream = await rejects(agg('notAStream', batches(records(3), 3)));
    assert.equal(notStream.resultCode, 100);
    assert.match(notStream.message, /must return the stream/);
    const wrongArg = await rejects(agg('bigSum', [[{ x: 1n }]]));
    assert.equal(wrongArg.resultCode, 100);
    assert.match(wrongArg.message, /UDF error: TypeError: Cannot convert undefined to a BigInt \(at agg\.js:\d+:\d+ in bigSum\)/);
    const missing = await rejects(agg('nothing', batches(records(3), 3)));
    assert.match(missing.message, /not exported/);
  });
});
