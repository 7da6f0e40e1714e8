// wordcount.js — counts words in a text bin over all matching records.
//
//   AGGREGATE wordcount.count('text') ON test.docs
//
// Per partition: split, count into an object; final: merge the counts. Returns one map
// word → count. `top` returns the n most frequent words as [word, count] pairs.

function countWords(acc, text) {
  if (typeof text !== 'string') return acc;
  for (const w of text.toLowerCase().split(/[^\p{L}\p{N}']+/u)) {
    if (w !== '') acc[w] = (acc[w] ?? 0) + 1;
  }
  return acc;
}

function merge(a, b) {
  for (const [w, n] of Object.entries(b)) a[w] = (a[w] ?? 0) + n;
  return a;
}

export function count(stream, bin) {
  return stream.aggregate({}, (acc, rec) => countWords(acc, rec[bin])).reduce(merge);
}

export function top(stream, bin, n) {
  return count(stream, bin).map((counts) =>
    Object.entries(counts).sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1)).slice(0, n));
}
