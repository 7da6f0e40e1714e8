/** Wall-clock time and timers; injectable so cluster logic can run deterministically in tests. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
  /**
   * Runs `fn` once, after the I/O of the current turn (everything received now) is handled and
   * before any timer (see endOfTurn). A clock without it: `setTimeout(fn, 0)`.
   */
  defer?(fn: () => void): void;
}

export interface TimerHandle {
  readonly id: unknown;
}

/** The structured logger a plugin gets (a pino child logger in a running node). */
export interface Logger {
  debug(obj: object | string, msg?: string): void;
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

/** 64-bit node id, as in Aerospike. */
export type NodeId = bigint;

/** What a plugin may touch. It never sees the node itself. */
export interface PluginContext {
  readonly nodeId: NodeId;
  /** A child logger bound to the plugin's name. */
  readonly logger: Logger;
  readonly clock: Clock;
  /** Aborted when the node shuts down. */
  readonly signal: AbortSignal;
}

let turnQueue: (() => void)[] | undefined;
let flushQueue: (() => void)[] = [];

/**
 * Runs `fn` at the end of this turn of the event loop: once the I/O callbacks now due have run
 * (a setImmediate), before timers. Everything deferred in one turn runs in one pass, in the order
 * deferred, and so does what those callbacks defer: work one batch of input produced (calls to
 * send together, frames to send) leaves in the same turn. With `flush`, `fn` runs after every
 * other callback of the pass (a transport writing out the frames the others produced).
 */
export function endOfTurn(fn: () => void, flush = false): void {
  if (flush) flushQueue.push(fn);
  if (turnQueue !== undefined) {
    if (!flush) turnQueue.push(fn);
    return;
  }
  turnQueue = flush ? [] : [fn];
  setImmediate(runTurnQueue);
}

function runTurnQueue(): void {
  const queue = turnQueue as (() => void)[];
  let failed: { error: unknown } | undefined;
  const run = (fn: () => void): void => {
    try {
      fn();
    } catch (error) {
      failed ??= { error };
    }
  };
  for (let i = 0; ; i++) {
    if (i < queue.length) {
      run(queue[i] as () => void);
      continue;
    }
    if (flushQueue.length === 0) break;
    const flushes = flushQueue;
    flushQueue = [];
    for (const fn of flushes) run(fn);
  }
  turnQueue = undefined;
  if (failed !== undefined) throw failed.error;
}

export const systemClock: Clock = {
  defer: endOfTurn,
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return { id: t };
  },
  clearTimeout: (h) => clearTimeout(h.id as NodeJS.Timeout),
};

/** A logger that drops everything; for tests and tools. */
export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  child: () => silentLogger,
};
