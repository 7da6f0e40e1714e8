/** Wall-clock time and timers; injectable so cluster logic can run deterministically in tests. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
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

export const systemClock: Clock = {
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
