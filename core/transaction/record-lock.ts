import { DbError } from '../errors/index.ts';
import { isPromise } from '../plugin-api/index.ts';
import { Later, type Maybe } from './maybe-async.ts';

/**
 * Serialises transactions on one record. Each key has a FIFO of waiters; beyond
 * `pendingLimit` waiters the next transaction fails at once with KEY_BUSY (Aerospike's
 * transaction-pending-limit), so one hot key cannot pile up unbounded work.
 *
 * A free record's transaction runs at once, in the caller's turn. One that answers without a
 * promise (a request served from memory) runs and ends in that turn, where nothing else can run,
 * so it needs no entry in the map at all: the map holds only records whose transaction waits on
 * something (and their waiters), and a write served from memory makes no insert, delete or
 * rehash there. A transaction on the same record started from inside a running one's turn (a
 * listener writing back) still waits for it: `running` names the records whose transactions are
 * in their synchronous part. A transaction that waits holds the record until it is done — a
 * replicated write until its replicas confirmed (commit level all) or failed.
 */
export class RecordLocks {
  /** Records held across turns: their waiters, or null while none wait (no array for that case). */
  private readonly queues = new Map<string, Array<() => void> | null>();
  /** Records whose transactions are running their synchronous part now (nested, rarely more than one). */
  private readonly running: string[] = [];
  private readonly pendingLimit: number;

  constructor(pendingLimit = 20) {
    this.pendingLimit = pendingLimit;
  }

  /**
   * Runs `fn` holding the record's lock. A free record's transaction that answers directly
   * answers directly here too (its value, or its throw, in the caller's turn): a request served
   * from memory makes no promise on its way through the lock. Otherwise a promise.
   */
  run<T>(lockKey: string, fn: () => Maybe<T>): Maybe<T> {
    if (this.queues.size !== 0 || this.running.length !== 0) {
      let queue = this.queues.get(lockKey);
      if (queue === undefined && this.running.includes(lockKey)) {
        // started from inside the turn of a transaction on this record: it holds the lock
        this.queues.set(lockKey, queue = null);
      }
      if (queue !== undefined) return this.wait(lockKey, queue, fn);
    }
    return this.hold(lockKey, fn);
  }

  /** Records held across turns now. */
  get size(): number {
    return this.queues.size;
  }

  private wait<T>(lockKey: string, queue: Array<() => void> | null, fn: () => Maybe<T>): Promise<T> {
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

  /** Runs `fn` holding the lock; releases it when `fn` is done, however it ends (a throw at once is thrown on). */
  private hold<T>(lockKey: string, fn: () => Maybe<T>): Maybe<T> {
    let out: Maybe<T>;
    this.running.push(lockKey);
    try {
      out = fn();
    } catch (err) {
      this.running.pop();
      this.ended(lockKey);
      throw err;
    }
    this.running.pop();
    if (!isPromise(out)) {
      this.ended(lockKey);
      return out;
    }
    // it waits on something: from now on the record is held in the map until it is done
    if (!this.queues.has(lockKey)) this.queues.set(lockKey, null);
    // a Later (a write waiting for its replicas): released in the microtask its promise settles
    // in, with the steps after it, not a promise and a microtask of its own
    if (out instanceof Later) return (out as Later<T>).always(() => this.release(lockKey));
    return Promise.resolve(out).then(
      (v) => { this.release(lockKey); return v; },
      (err: unknown) => { this.release(lockKey); throw err; },
    );
  }

  /** A transaction ended in the turn it ran (or threw): hand the record on if it is in the map (someone waits, or a waiter was handed it). */
  private ended(lockKey: string): void {
    if (this.queues.size !== 0 && this.queues.has(lockKey)) this.release(lockKey);
  }

  /** Hands the lock to the next waiter, or frees it. */
  private release(lockKey: string): void {
    const next = this.queues.get(lockKey)?.shift();
    if (next === undefined) this.queues.delete(lockKey);
    else next();
  }
}
