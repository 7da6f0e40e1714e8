/**
 * A pool of warm sandboxes for one module version. Each call takes a sandbox to itself, so up to
 * `size` calls of the module run in parallel (on isolated-vm's threads, off the main event loop);
 * further calls wait their turn. A sandbox that died, hit its memory or time limit, or served
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
  private readonly waiters: Array<{ resolve: (s: UdfSandbox) => void; reject: (e: unknown) => void; timer: NodeJS.Timeout }> = [];
  private live = 0; // idle + busy + being created
  private retired = false;
  created = 0;
  replaced = 0;

  constructor(module: SandboxModule, opts: PoolOptions) {
    this.module = module;
    this.opts = opts;
  }

  stats(): PoolStats {
    return { idle: this.idle.length, busy: this.live - this.idle.length, waiting: this.waiters.length, created: this.created, replaced: this.replaced };
  }

  /** Creates sandboxes up to n idle ones ahead of the first call. */
  async warm(n = 1): Promise<void> {
    while (!this.retired && this.idle.length < n && this.live < this.opts.size) this.idle.push(await this.spawn());
  }

  async acquire(): Promise<UdfSandbox> {
    if (this.retired) throw new DbError('UDF', `module ${this.module.fileName} was replaced`, { hint: 'retry the call' });
    for (let s = this.idle.pop(); s !== undefined; s = this.idle.pop()) {
      if (s.healthy) return s;
      // died while idle (its UDF host process went): replace it
      this.replaced++;
      s.dispose();
      this.live--;
    }
    if (this.live < this.opts.size) return this.spawn();
    return new Promise<UdfSandbox>((resolve, reject) => {
      const waiter = {
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

  release(s: UdfSandbox): void {
    if (this.retired || !s.healthy || s.calls >= this.opts.maxCalls) {
      if (!s.healthy) this.replaced++;
      s.dispose();
      this.live--;
      if (!this.retired && this.waiters.length > 0) {
        // a waiter gets a fresh sandbox in place of the one that went
        const w = this.waiters.shift();
        if (w !== undefined) {
          clearTimeout(w.timer);
          this.spawn().then(w.resolve, w.reject);
        }
      }
      return;
    }
    const w = this.waiters.shift();
    if (w !== undefined) {
      clearTimeout(w.timer);
      w.resolve(s);
    } else {
      this.idle.push(s);
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
