import { DbError } from '../errors/index.ts';

/**
 * Serialises transactions on one record. Each key has a FIFO of waiters; beyond
 * `pendingLimit` waiters the next transaction fails at once with KEY_BUSY (Aerospike's
 * transaction-pending-limit), so one hot key cannot pile up unbounded work.
 */
export class RecordLocks {
  private readonly queues = new Map<string, Array<() => void>>();
  private readonly pendingLimit: number;

  constructor(pendingLimit = 20) {
    this.pendingLimit = pendingLimit;
  }

  async run<T>(lockKey: string, fn: () => Promise<T>): Promise<T> {
    const queue = this.queues.get(lockKey);
    if (queue === undefined) {
      this.queues.set(lockKey, []);
    } else {
      if (queue.length >= this.pendingLimit) {
        throw new DbError('KEY_BUSY', `too many transactions are waiting on this record (${queue.length})`, {
          hint: 'spread writes over more keys or retry with backoff',
        });
      }
      await new Promise<void>((resolve) => queue.push(resolve));
    }
    try {
      return await fn();
    } finally {
      const q = this.queues.get(lockKey);
      const next = q?.shift();
      if (next === undefined) this.queues.delete(lockKey);
      else next();
    }
  }

  get size(): number {
    return this.queues.size;
  }
}
