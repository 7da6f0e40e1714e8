import { DbError } from '../errors/index.ts';
import { isPromise, type Maybe } from './maybe-async.ts';

/**
 * Serialises transactions on one record. Each key has a FIFO of waiters; beyond
 * `pendingLimit` waiters the next transaction fails at once with KEY_BUSY (Aerospike's
 * transaction-pending-limit), so one hot key cannot pile up unbounded work.
 *
 * A free record's transaction runs at once, in the caller's turn; when it answers without a
 * promise (a request served from memory) the lock is taken and released in that same turn.
 */
export class RecordLocks {
  /** Held records: their waiters, or null while none wait (no array for the common case). */
  private readonly queues = new Map<string, Array<() => void> | null>();
  private readonly pendingLimit: number;

  constructor(pendingLimit = 20) {
    this.pendingLimit = pendingLimit;
  }

  run<T>(lockKey: string, fn: () => Maybe<T>): Promise<T> {
    const queue = this.queues.get(lockKey);
    if (queue === undefined) {
      this.queues.set(lockKey, null);
      return this.hold(lockKey, fn);
    }
    const waiting = queue?.length ?? 0;
    if (waiting >= this.pendingLimit) {
      return Promise.reject(new DbError('KEY_BUSY', `too many transactions are waiting on this record (${waiting})`, {
        hint: 'spread writes over more keys or retry with backoff',
      }));
    }
    return new Promise<void>((resolve) => {
      if (queue === null) this.queues.set(lockKey, [resolve]);
      else queue.push(resolve);
    }).then(() => this.hold(lockKey, fn));
  }

  get size(): number {
    return this.queues.size;
  }

  /** Runs `fn` holding the lock; releases it when `fn` is done, however it ends. */
  private hold<T>(lockKey: string, fn: () => Maybe<T>): Promise<T> {
    let out: Maybe<T>;
    try {
      out = fn();
    } catch (err) {
      this.release(lockKey);
      return Promise.reject(err);
    }
    if (!isPromise(out)) {
      this.release(lockKey);
      return Promise.resolve(out);
    }
    return Promise.resolve(out).then(
      (v) => { this.release(lockKey); return v; },
      (err: unknown) => { this.release(lockKey); throw err; },
    );
  }

  /** Hands the lock to the next waiter, or frees it. */
  private release(lockKey: string): void {
    const next = this.queues.get(lockKey)?.shift();
    if (next === undefined) this.queues.delete(lockKey);
    else next();
  }
}
