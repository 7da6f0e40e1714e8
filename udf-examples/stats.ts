// stats.ts — a TypeScript module: summary statistics of a numeric bin. Types are stripped at
// registration (erasable syntax only: no enum, namespace or parameter properties), and line
// numbers in errors stay those of this file.
//
//   AGGREGATE stats.summary('latency_ms') ON test.requests

interface Summary {
  n: number;
  sum: number;
  sumSq: number;
  min: number | null;
  max: number | null;
}

type Bins = Record<string, unknown>;

interface Stream<T> {
  filter(f: (v: T) => boolean): Stream<T>;
  map<U>(f: (v: T) => U): Stream<U>;
  aggregate<A>(init: A, f: (acc: A, v: T) => A): Stream<A>;
  reduce(f: (a: T, b: T) => T): Stream<T>;
}

const empty: Summary = { n: 0, sum: 0, sumSq: 0, min: null, max: null };

function add(s: Summary, v: number): Summary {
  s.n += 1;
  s.sum += v;
  s.sumSq += v * v;
  s.min = s.min === null ? v : Math.min(s.min, v);
  s.max = s.max === null ? v : Math.max(s.max, v);
  return s;
}

function merge(a: Summary, b: Summary): Summary {
  if (a.n === 0) return b;
  if (b.n === 0) return a;
  return { n: a.n + b.n, sum: a.sum + b.sum, sumSq: a.sumSq + b.sumSq, min: Math.min(a.min as number, b.min as number), max: Math.max(a.max as number, b.max as number) };
}

export function summary(stream: Stream<Bins>, bin: string) {
  return stream
    .filter((r: Bins): boolean => typeof r[bin] === 'number')
    .aggregate<Summary>(empty, (s: Summary, r: Bins) => add(s, r[bin] as number))
    .reduce(merge)
    .map((s: Summary) => {
      const mean = s.n === 0 ? null : s.sum / s.n;
      const stddev = s.n === 0 ? null : Math.sqrt(Math.max(0, s.sumSq / s.n - (mean as number) ** 2));
      return { n: s.n, min: s.min, max: s.max, mean, stddev };
    });
}
