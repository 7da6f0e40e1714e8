/**
 * Fair sharing of the node's one event loop between long jobs (scans, queries, aggregations,
 * AQL statements streamed to a client) and everything else (single-record requests, batches,
 * cluster traffic). Aerospike runs scans and queries on a bounded pool of threads
 * (`query-threads-limit`) apart from its transaction threads; here the work of a job runs in
 * turns:
 *
 * - at most `turns` jobs work at once; the others wait for a turn, first come first served;
 * - a job gives its turn back after `sliceMs` of work (at the next checkpoint: every record a
 *   scan reads, every message a stream writes) and waits for the event loop to poll I/O before
 *   it may take one again, so requests that arrived meanwhile are read and served between
 *   turns: the loop does at most about `turns × sliceMs` of scan work between two polls;
 * - a job waiting for its client to read (stream back-pressure) holds no turn.
 *
 * The job in progress is found through AsyncLocalStorage, so the kernel's scan loop and the
 * query engine call `checkpoint()` without knowing who runs them; outside a job it does nothing.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export interface ScanScheduleLimits {
  /** Jobs that may work at once (Aerospike's `query-threads-limit`). */
  readonly turns: number;
  /** Longest a job works before it lets the event loop serve others, ms. */
  readonly sliceMs: number;
}

export const SCAN_SCHEDULE_DEFAULTS: ScanScheduleLimits = { turns: 4, sliceMs: 4 };

export class ScanScheduler {
  private limits: ScanScheduleLimits;
  private holders = 0;
  private readonly waiting: Array<() => void> = [];
  /** Turns given out since start, and how many of them had to wait. */
  private granted = 0;
  private queued = 0;

  constructor(limits: ScanScheduleLimits = SCAN_SCHEDULE_DEFAULTS) {
    this.limits = limits;
  }

  configure(limits: ScanScheduleLimits): void {
    this.limits = limits;
  }

  get sliceMs(): number {
    return this.limits.sliceMs;
  }

  /** Resolves when the caller holds a turn. */
  acquire(): Promise<void> {
    this.granted++;
    if (this.holders < this.limits.turns && this.waiting.length === 0) {
      this.holders++;
      return Promise.resolve();
    }
    this.queued++;
    return new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  /** Gives a turn back; the next waiting job gets it once the event loop has polled I/O. */
  release(): void {
    const next = this.waiting.shift();
    if (next === undefined) {
      this.holders--;
      return;
    }
    setImmediate(next);
  }

  stats(): { readonly working: number; readonly waiting: number; readonly granted: number; readonly queued: number } {
    return { working: this.holders, waiting: this.waiting.length, granted: this.granted, queued: this.queued };
  }
}

/** The process's scheduler: one event loop, one scheduler (every node in the process shares it). */
export const SCAN_SCHEDULER = new ScanScheduler();

/** One long job's share of the scheduler. */
export class ScanJob {
  private readonly scheduler: ScanScheduler;
  private holding = false;
  private taking: Promise<void> | undefined;
  private ended = false;
  private sliceStart = 0;

  constructor(scheduler: ScanScheduler = SCAN_SCHEDULER) {
    this.scheduler = scheduler;
  }

  /** Waits for a turn (nothing when the job holds one). */
  resume(): Promise<void> {
    if (this.holding || this.ended) return Promise.resolve();
    this.taking ??= this.scheduler.acquire().then(() => {
      this.taking = undefined;
      if (this.ended) {
        this.scheduler.release();
        return;
      }
      this.holding = true;
      this.sliceStart = performance.now();
    });
    return this.taking;
  }

  /** Gives the turn back while the job waits for something else (its client reading). */
  pause(): void {
    if (!this.holding) return;
    this.holding = false;
    this.scheduler.release();
  }

  /** The job is over: its turn (held or coming) goes back. */
  end(): void {
    this.ended = true;
    this.pause();
  }

  /**
   * When the job's slice is used up: gives the turn back and waits for the next; when the job
   * holds none (its work goes on while its stream waits for the client): waits for one; else nothing.
   */
  checkpoint(): Promise<void> | undefined {
    if (this.ended) return undefined;
    if (!this.holding) return this.resume();
    if (performance.now() - this.sliceStart < this.scheduler.sliceMs) return undefined;
    return this.nextTurn();
  }

  private async nextTurn(): Promise<void> {
    this.pause();
    await new Promise<void>((resolve) => setImmediate(resolve));
    await this.resume();
  }

  /** Runs `fn` as this job's work: checkpoints reached from it (at any depth) are this job's. */
  run<T>(fn: () => T): T {
    return CURRENT.run(this, fn);
  }
}

const CURRENT = new AsyncLocalStorage<ScanJob>();

/**
 * A point where the job in progress (if any) may let others run: undefined when it may go on,
 * else a promise to await first. Cheap enough for every record of a scan.
 */
export function checkpoint(): Promise<void> | undefined {
  return CURRENT.getStore()?.checkpoint();
}
