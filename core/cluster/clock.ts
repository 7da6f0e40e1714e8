/**
 * Clocks for the cluster kernel. `systemClock` (from plugin-api) in production; `FakeClock`
 * in tests: time only moves when the test advances it, and timers fire in (time, creation)
 * order, so a run is a pure function of its inputs and seed.
 */
import type { Clock, TimerHandle } from '../plugin-api/index.ts';

export { systemClock } from '../plugin-api/index.ts';

interface Timer {
  readonly id: number;
  readonly at: number;
  readonly fn: () => void;
}

export class FakeClock implements Clock {
  #now: number;
  #seq = 0;
  /** Min-heap on (at, id). */
  #heap: Timer[] = [];
  #cancelled = new Set<number>();
  #live = new Set<number>();

  constructor(startMs = 1_700_000_000_000) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const t: Timer = { id: ++this.#seq, at: this.#now + Math.max(0, ms), fn };
    this.#push(t);
    this.#live.add(t.id);
    return { id: t.id };
  }

  clearTimeout(handle: TimerHandle): void {
    if (typeof handle.id === 'number' && this.#live.delete(handle.id)) this.#cancelled.add(handle.id);
  }

  /** Number of timers still pending. */
  get pending(): number {
    return this.#live.size;
  }

  /** Runs every timer due up to now + ms (including timers those timers set), then sets now. */
  advance(ms: number): void {
    this.runUntil(this.#now + ms);
  }

  runUntil(target: number): void {
    for (;;) {
      const top = this.#heap[0];
      if (top === undefined || top.at > target) break;
      this.#pop();
      if (this.#cancelled.delete(top.id)) continue;
      this.#live.delete(top.id);
      this.#now = Math.max(this.#now, top.at);
      top.fn();
    }
    this.#now = Math.max(this.#now, target);
  }

  /** Advances in steps of `stepMs` until `cond()` holds or `maxMs` passed; returns whether it held. */
  advanceUntil(cond: () => boolean, maxMs: number, stepMs = 10): boolean {
    const end = this.#now + maxMs;
    while (!cond()) {
      if (this.#now >= end) return false;
      this.advance(Math.min(stepMs, end - this.#now));
    }
    return true;
  }

  #less(a: Timer, b: Timer): boolean {
    return a.at < b.at || (a.at === b.at && a.id < b.id);
  }

  #push(t: Timer): void {
    const h = this.#heap;
    h.push(t);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.#less(h[i] as Timer, h[p] as Timer)) break;
      [h[i], h[p]] = [h[p] as Timer, h[i] as Timer];
      i = p;
    }
  }

  #pop(): void {
    const h = this.#heap;
    const last = h.pop();
    if (last === undefined || h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.#less(h[l] as Timer, h[m] as Timer)) m = l;
      if (r < h.length && this.#less(h[r] as Timer, h[m] as Timer)) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m] as Timer, h[i] as Timer];
      i = m;
    }
  }
}

/** A small seeded PRNG (mulberry32) for simulations and cluster keys in tests. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
