/**
 * An ordered multiset in chunks (a flat B+-tree of one level): inserts and removes cost
 * O(log n + chunk), seeks O(log n), and a range walk costs what it returns. Big enough for
 * millions of entries without the O(n) moves of one sorted array.
 */
export class SortedList<T> {
  private readonly cmp: (a: T, b: T) => number;
  private readonly load: number;
  private chunks: T[][] = [];
  /** The last element of each chunk, for the outer binary search. */
  private maxes: T[] = [];
  private n = 0;

  constructor(cmp: (a: T, b: T) => number, load = 512) {
    this.cmp = cmp;
    this.load = load;
  }

  get size(): number {
    return this.n;
  }

  clear(): void {
    this.chunks = [];
    this.maxes = [];
    this.n = 0;
  }

  /** Index of the first chunk whose max is not below `probe` (probe(x) < 0: x sorts before the target). */
  private chunkFor(probe: (x: T) => number): number {
    return SortedList.lower(this.maxes, probe);
  }

  /** Index of the first element of `arr` with probe(x) >= 0. */
  private static lower<T>(arr: readonly T[], probe: (x: T) => number): number {
    let lo = 0;
    let hi = arr.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (probe(arr[mid] as T) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  insert(x: T): void {
    const cmp = this.cmp;
    if (this.chunks.length === 0) {
      this.chunks.push([x]);
      this.maxes.push(x);
      this.n = 1;
      return;
    }
    let ci = this.chunkFor((y) => cmp(y, x));
    if (ci === this.chunks.length) ci--;
    const chunk = this.chunks[ci] as T[];
    const i = SortedList.lower(chunk, (y) => (cmp(y, x) <= 0 ? -1 : 1));
    chunk.splice(i, 0, x);
    this.maxes[ci] = chunk[chunk.length - 1] as T;
    this.n++;
    if (chunk.length > 2 * this.load) {
      const right = chunk.splice(this.load);
      this.chunks.splice(ci + 1, 0, right);
      this.maxes.splice(ci, 1, chunk[chunk.length - 1] as T, right[right.length - 1] as T);
    }
  }

  /** Removes one element equal to `x` (by the comparator); false when there is none. */
  remove(x: T): boolean {
    const at = this.find(x);
    if (at === undefined) return false;
    const { ci, chunk, i } = at;
    chunk.splice(i, 1);
    this.n--;
    if (chunk.length === 0) {
      this.chunks.splice(ci, 1);
      this.maxes.splice(ci, 1);
    } else {
      this.maxes[ci] = chunk[chunk.length - 1] as T;
    }
    return true;
  }

  has(x: T): boolean {
    return this.find(x) !== undefined;
  }

  /** Where the first element equal to `x` sits: its chunk (and that chunk's index) and its index there. */
  private find(x: T): { ci: number; chunk: T[]; i: number } | undefined {
    const cmp = this.cmp;
    const probe = (y: T): number => cmp(y, x);
    const ci = this.chunkFor(probe);
    const chunk = this.chunks[ci];
    if (chunk === undefined) return undefined;
    const i = SortedList.lower(chunk, probe);
    return i < chunk.length && cmp(chunk[i] as T, x) === 0 ? { ci, chunk, i } : undefined;
  }

  /** Elements from the first one with probe(x) >= 0, in order, while `keep(x)`; at most `max`. */
  take(probe: (x: T) => number, keep: (x: T) => boolean, max: number): T[] {
    const out: T[] = [];
    let ci = this.chunkFor(probe);
    if (ci === this.chunks.length) return out;
    let i = SortedList.lower(this.chunks[ci] as T[], probe);
    while (ci < this.chunks.length && out.length < max) {
      const chunk = this.chunks[ci] as T[];
      for (; i < chunk.length && out.length < max; i++) {
        const x = chunk[i] as T;
        if (!keep(x)) return out;
        out.push(x);
      }
      ci++;
      i = 0;
    }
    return out;
  }

  /** How many elements sort before the first one with probe(x) >= 0. */
  rank(probe: (x: T) => number): number {
    const ci = this.chunkFor(probe);
    let r = 0;
    for (let k = 0; k < ci; k++) r += (this.chunks[k] as T[]).length;
    if (ci < this.chunks.length) r += SortedList.lower(this.chunks[ci] as T[], probe);
    return r;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (const c of this.chunks) yield* c;
  }
}
