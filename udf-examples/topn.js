// topn.js — the n records with the highest value in a bin.
//
//   AGGREGATE topn.top('score', 10, 'name') ON test.players
//
// Each partition keeps its own top n; the final reduce merges them, so memory stays O(n).

function insert(list, item, n) {
  list.push(item);
  list.sort((a, b) => b.value - a.value);
  if (list.length > n) list.length = n;
  return list;
}

export function top(stream, bin, n, labelBin) {
  return stream
    .filter((r) => typeof r[bin] === 'number')
    .aggregate([], (list, r) => insert(list, { value: r[bin], label: labelBin === undefined ? null : r[labelBin] ?? null }, n))
    .reduce((a, b) => {
      for (const item of b) insert(a, item, n);
      return a;
    });
}
