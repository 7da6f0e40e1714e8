/**
 * How a fill's partitions are cut into streams (streamsOf): every (source, partition) pair is in
 * exactly one stream, in partition order within it; with fewer sources than `maxIncoming` each
 * source's partitions are split into contiguous runs so that `maxIncoming` streams run at once;
 * the first streams take different sources; never more streams than partitions.
 */
import { strict as assert } from 'node:assert';
import { streamsOf } from '../../core/transaction/migration.ts';

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

function pairs(streams: ReturnType<typeof streamsOf>): string[] {
  return streams.flatMap(([src, byNs]) => [...byNs].flatMap(([ns, pids]) => pids.map((p) => `${src}/${ns}/${p}`))).sort();
}

describe('cluster/migrations: the streams of a fill', () => {
  it('splits the partitions of fewer sources than maxIncoming into contiguous runs, sources interleaved, every pair once', () => {
    const bySource = new Map([[1n, new Map([['a', range(0, 10)], ['b', [3, 7]]])], [2n, new Map([['a', range(10, 20)]])]]);
    const streams = streamsOf(bySource, 4);
    assert.equal(streams.length, 4);
    assert.deepEqual(streams.map(([s]) => s), [1n, 2n, 1n, 2n], 'the first streams take different sources');
    assert.deepEqual(streams.map(([, m]) => Object.fromEntries(m)), [
      { a: range(0, 5), b: [3] }, { a: range(10, 15) }, { a: range(5, 10), b: [7] }, { a: range(15, 20) },
    ]);
    const want = [...bySource].flatMap(([src, m]) => [...m].flatMap(([ns, pids]) => pids.map((p) => `${src}/${ns}/${p}`))).sort();
    assert.deepEqual(pairs(streams), want, 'every (source, partition) pair in exactly one stream');
  });

  it('keeps one stream per source when there are as many sources as streams (or more), and makes no empty streams', () => {
    const three = new Map([[1n, new Map([['a', [1, 2]]])], [2n, new Map([['a', [3]]])], [3n, new Map([['a', [4]]])]]);
    assert.deepEqual(streamsOf(three, 2).map(([s, m]) => [s, Object.fromEntries(m)]), [[1n, { a: [1, 2] }], [2n, { a: [3] }], [3n, { a: [4] }]]);
    assert.deepEqual(streamsOf(new Map([[1n, new Map([['a', [9]]])]]), 4).map(([s, m]) => [s, Object.fromEntries(m)]), [[1n, { a: [9] }]], 'one partition, one stream');
    assert.deepEqual(streamsOf(new Map(), 4), []);
  });
});
