// groupby.js — SQL-style GROUP BY with stream groupBy(key, init, fold, merge).
//
//   AGGREGATE groupby.sumBy('country', 'amount') ON test.orders WHERE amount > 0
//   AGGREGATE groupby.statsBy('country', 'amount') ON test.orders
//
// groupBy folds per partition (fold) and merges partial groups on the server (merge).

export function countBy(stream, keyBin) {
  return stream.groupBy((r) => r[keyBin], 0, (n) => n + 1, (a, b) => a + b);
}

export function sumBy(stream, keyBin, valueBin) {
  return stream.groupBy((r) => r[keyBin], 0, (sum, r) => sum + (r[valueBin] ?? 0), (a, b) => a + b);
}

export function statsBy(stream, keyBin, valueBin) {
  return stream
    .filter((r) => typeof r[valueBin] === 'number')
    .groupBy(
      (r) => r[keyBin],
      { n: 0, sum: 0, min: null, max: null },
      (s, r) => {
        const v = r[valueBin];
        s.n += 1;
        s.sum += v;
        s.min = s.min === null || v < s.min ? v : s.min;
        s.max = s.max === null || v > s.max ? v : s.max;
        return s;
      },
      (a, b) => ({ n: a.n + b.n, sum: a.sum + b.sum, min: Math.min(a.min, b.min), max: Math.max(a.max, b.max) }),
    );
}
