/**
 * A pool of warm sandboxes for one module version, up to `size` of them. Two ways to take one:
 * - `acquire()` takes a sandbox to itself (an aggregation session): an idle one, a new one, or
 *   the next one released.
 * - `acquireShared()` (a record UDF call) also lines the call up behind calls already running in
 *   a sandbox when every sandbox is busy — up to `depth` calls per sandbox, and only in a sandbox
 *   that finished a call within the last few milliseconds (so a long call does not hold the ones
 *   queued behind it). The calls of one sandbox run one after the other; lining them up lets the
 *   UDF host process take many calls per message and run them back to back.
 * Further calls wait their turn. A sandbox that died, hit its memory or time limit, or served
 * `maxCalls` calls is disposed when it comes back and a fresh one is made on demand. When the
 * module is replaced or removed the pool is retired: idle sandboxes go at once, busy ones when
 * their call ends, so calls in flight finish on the version they started with.
 */
import { DbError } from '../errors/index.ts';
import { Sandbox, type SandboxFactory, type SandboxModule, type SandboxOptions, type UdfSandbox } from './sandbox.ts';

export interface PoolOptions extends SandboxOptions {
  /** Sandboxes (isolates) per module at most. */
  readonly size: number;
  /** Recycle a sandbox after this many calls (bounds slow leaks in module-level state). */
  readonly maxCalls: number;
  /** How long a call may wait for a free sandbox, ms. */
  readonly acquireTimeoutMs: number;
  /** Makes the sandboxes (in this process or in the UDF host process); default `Sandbox.create`. */
  readonly create?: SandboxFactory;
  /** Calls lined up in one sandbox at most by `acquireShared`. Default 32. */
  readonly depth?: number;
  /** A busy sandbox that has not finished a call for this long gets no more calls lined up, ms. Default 5. */
  readonly stallMs?: number;
}

/** A sandbox in use: calls in it, whether one holds it alone, when it last finished a call. */
interface Busy {
  n: number;
  readonly exclusive: boolean;
  lastDone: number;
}

interface Waiter {
  readonly shared: boolean;
  readonly resolve: (s: UdfSandbox) => void;
  readonly reject: (e: unknown) => void;
  readonly timer: NodeJS.Timeout;
}

export interface PoolStats {
  readonly idle: number;
  readonly busy: number;
  readonly waiting: number;
  readonly created: number;
  readonly replaced: number;
}

export class SandboxPool {
  readonly module: SandboxModule;
  private readonly opts: PoolOptions;
  private readonly idle: UdfSandbox[] = [];
  private readonly busy = new Map<UdfSandbox, Busy>();
  private readonly depth: number;
  private readonly stallMs: number;
  private readonly waiters: Waiter[] = [];
  private live = 0; // idle + busy + being created
  private retired = false;
  created = 0;
  replaced = 0;

  constructor(module: SandboxModule, opts: PoolOptions) {
    this.module = module;
    this.opts = opts;
    this.depth = Math.max(1, opts.depth ?? 32);
    this.stallMs = opts.stallMs ?? 5;
  }

  stats(): PoolStats {
    return { idle: this.idle.length, busy: this.live - this.idle.length, waiting: this.waiters.length, created: this.created, replaced: this.replaced };
  }

  /** Creates sandboxes up to n idle ones ahead of the first call. */
  async warm(n = 1): Promise<void> {
    while (!this.retired && this.idle.length < n && this.live < this.opts.size) this.idle.push(await this.spawn());
  }

  /** A sandbox to itself (see the class comment). */
  acquire(): Promise<UdfSandbox> {
    return this.take(false);
  }

  /** A sandbox for one record call, possibly behind calls already running in it (see the class comment). */
  acquireShared(): Promise<UdfSandbox> {
    return this.take(true);
  }

  /**
   * What `acquireShared` would give at once: an idle sandbox, or a busy one the call may line up
   * in (counted in, as there); undefined when the call would have to wait for a sandbox or for a
   * new one to be made — then `acquireShared` it. Saves a record call a promise and a turn.
   */
  sharedNow(): UdfSandbox | undefined {
    if (this.retired) return undefined;
    const s = this.idleOne(true);
    if (s !== undefined || this.live < this.opts.size) return s;
    return this.lineUp();
  }

  /** An idle, healthy sandbox, taken (those that died while idle are replaced on the way). */
  private idleOne(shared: boolean): UdfSandbox | undefined {
    for (let s = this.idle.pop(); s !== undefined; s = this.idle.pop()) {
      if (s.healthy) return this.use(s, shared);
      // died while idle (its UDF host process went): replace it
      this.replaced++;
      s.dispose();
      this.live--;
    }
    return undefined;
  }

  private async take(shared: boolean): Promise<UdfSandbox> {
    if (this.retired) throw new DbError('UDF', `module ${this.module.fileName} was replaced`, { hint: 'retry the call' });
    const idle = this.idleOne(shared);
    if (idle !== undefined) return idle;
    if (this.live < this.opts.size) return this.use(await this.spawn(), shared);
    if (shared) {
      const s = this.lineUp();
      if (s !== undefined) return s;
    }
    return new Promise<UdfSandbox>((resolve, reject) => {
      const waiter: Waiter = {
        shared,
        resolve,
        reject,
        timer: setTimeout(() => {
          const i = this.waiters.indexOf(waiter);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(new DbError('UDF', `no free sandbox for ${this.module.fileName} within ${this.opts.acquireTimeoutMs} ms`, {
            hint: 'the module is busy; retry, or raise the UDF pool size',
          }));
        }, this.opts.acquireTimeoutMs),
      };
      this.waiters.push(waiter);
    });
  }

  private use(s: UdfSandbox, shared: boolean): UdfSandbox {
    this.busy.set(s, { n: 1, exclusive: !shared, lastDone: performance.now() });
    return s;
  }

  /** The busy sandbox with the fewest calls that may take one more, counted in; undefined if none. */
  private lineUp(): UdfSandbox | undefined {
    const now = performance.now();
    let best: UdfSandbox | undefined;
    let bestBusy: Busy | undefined;
    for (const [s, b] of this.busy) {
      if (b.exclusive || b.n >= this.depth || now - b.lastDone > this.stallMs || !s.healthy || s.calls + b.n >= this.opts.maxCalls) continue;
      if (bestBusy === undefined || b.n < bestBusy.n) {
        best = s;
        bestBusy = b;
      }
    }
    if (bestBusy !== undefined) bestBusy.n++;
    return best;
  }

  release(s: UdfSandbox): void {
    const b = this.busy.get(s);
    if (b !== undefined) {
      b.n--;
      b.lastDone = performance.now();
      if (b.n > 0) {
        // still in use: a waiting record call may line up behind the calls still in it
        if (!this.retired) this.lineUpWaiters();
        return;
      }
      this.busy.delete(s);
    }
    if (this.retired || !s.healthy || s.calls >= this.opts.maxCalls) {
      if (!s.healthy) this.replaced++;
      s.dispose();
      this.live--;
      if (!this.retired && this.waiters.length > 0) {
        // a waiter gets a fresh sandbox in place of the one that went
        const w = this.waiters.shift();
        if (w !== undefined) {
          clearTimeout(w.timer);
          this.spawn().then((fresh) => w.resolve(this.use(fresh, w.shared)), w.reject);
        }
      }
      return;
    }
    const w = this.waiters.shift();
    if (w !== undefined) {
      clearTimeout(w.timer);
      w.resolve(this.use(s, w.shared));
      this.lineUpWaiters();
    } else {
      this.idle.push(s);
    }
  }

  /** Waiting record calls line up in busy sandboxes that may take them. */
  private lineUpWaiters(): void {
    for (let i = 0; i < this.waiters.length;) {
      const w = this.waiters[i] as Waiter;
      if (!w.shared) {
        i++;
        continue;
      }
      const s = this.lineUp();
      if (s === undefined) return;
      this.waiters.splice(i, 1);
      clearTimeout(w.timer);
      w.resolve(s);
    }
  }

  /** Stops handing out sandboxes; disposes idle ones now and busy ones on release. */
  retire(): void {
    this.retired = true;
    for (const s of this.idle.splice(0)) {
      s.dispose();
      this.live--;
    }
    for (const w of this.waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(new DbError('UDF', `module ${this.module.fileName} was replaced or removed`, { hint: 'retry the call' }));
    }
  }

  /** A new sandbox, counted in `live` from the call on (synchronously, so the size bound holds) and uncounted if it fails. */
  private async spawn(): Promise<UdfSandbox> {
    this.live++;
    try {
      const s = this.opts.create === undefined ? await Sandbox.create(this.module, this.opts) : await this.opts.create(this.module, this.opts);
      this.created++;
      return s;
    } catch (err) {
      this.live--;
      throw err;
    }
  }
}
