/**
 * The UDF engine: module registry + sandbox pools + the two ways of running a UDF.
 *
 * ## Record UDFs: a pure "apply" step for the kernel
 * The kernel reads the record under its lock and calls
 *
 *     const r = await engine.applyRecord({ module, fn, args, timeoutMs }, { key, exists, bins, meta });
 *
 * The UDF sees the record (`rec.bin`, `record.gen(rec)`, …), may change bins, set the TTL and
 * call `aerospike.create/update/remove`. Nothing is written by the engine: the result carries
 * the UDF's return `value` and the record `effect` — `none`, `write` (the complete new bin set,
 * whether it creates the record, and an optional TTL) or `delete` — which the kernel applies
 * atomically under the same lock with its generation and TTL rules (`effect` has the shape of
 * the kernel's `Mutation`). As in Aerospike, bin changes count only when the UDF calls
 * `aerospike.update(rec)` or `aerospike.create(rec)`; the last of create/update/remove wins.
 *
 * ## Stream UDFs (aggregations, in aggregation.ts)
 *     const values = await engine.runAggregation({ module, fn, args, timeoutMs }, recordBatches);
 * `recordBatches` is an AsyncIterable of `Bins[]` (one batch crosses the boundary at once). The
 * stages up to and including the first `reduce`/`groupBy` run per batch source ("partial", where
 * the data is: `aggregatePartial`), the final reduce merges the partials and runs the remaining
 * stages (`aggregateFinal`) — both on the server. `runAggregation` spreads the batches over up
 * to `parallelism` sandboxes and merges their partials. A cluster runs `aggregatePartial` on each
 * node and `aggregateFinal` on the node that received the request.
 *
 * Every call has a time limit (the request's timeout, default `defaultTimeoutMs` /
 * `defaultAggregationTimeoutMs`, at most `maxTimeoutMs`; for an aggregation it bounds the whole
 * run) and every isolate a memory limit.
 *
 * ## Isolation
 * With `isolation: 'process'` (the default) the sandboxes live in a UDF host child process
 * (sandbox-host.ts): a UDF that crashes V8 ends that child, not the node; the calls in flight
 * fail with a UDF error and a fresh child takes over. `'in-process'` keeps the isolates in the
 * node's own process (lower latency; a catastrophic isolate failure then ends the node). Pools
 * and sessions see the same `UdfSandbox` either way.
 */
import { DbError } from '../errors/index.ts';
import { ttlOf, type BinValue, type Bins } from '../model/index.ts';
import type { NodeId } from '../plugin-api/index.ts';
import { decodeBins, decodeValue, doubleBinNames, encodeBins, encodeValue } from './codec.ts';
import { fromGuestError } from './errors.ts';
import { ModuleRegistry, type ModuleStore, type ModuleVersion } from './registry.ts';
import { SandboxPool, type PoolStats } from './pool.ts';
import { Sandbox, type CallOptions, type SandboxFactory, type SandboxModule, type SandboxOptions, type UdfSandbox } from './sandbox.ts';
import { SandboxHost, type SandboxHostEvent } from './sandbox-host.ts';
import { Aggregations } from './aggregation.ts';
import type { AggregationOptions, GuestResponse, RecordEffect, RecordUdfResult, RecordView, UdfCall } from './calls.ts';

/**
 * The options of a record UDF call without a deadline (shared: no object per call): it may be
 * run again, and in-process it may wait for the end of the loop turn to share an isolate entry.
 */
const REPEATABLE: CallOptions = { repeatable: true, batch: true };

export type { UdfCall, RecordView, RecordEffect, RecordUdfResult, AggregationOptions } from './calls.ts';

/** Where the sandboxes run: a UDF host child process (default) or the node's own process. */
export type UdfIsolation = 'process' | 'in-process';

export interface UdfEngineOptions {
  readonly store?: ModuleStore;
  /** Default 'process'. */
  readonly isolation?: UdfIsolation;
  /** Process mode: how long past a call's limit the node waits for the host before restarting it, ms. Default 2000. */
  readonly hostGraceMs?: number;
  /** Process mode: starts and deaths of the UDF host process (for the log). */
  readonly onHostEvent?: (e: SandboxHostEvent) => void;
  /** Heap limit per isolate, MiB. Default 64. */
  readonly memoryLimitMb?: number;
  /** Isolates per module. Default 2. */
  readonly poolSize?: number;
  /** Record UDF time limit when the request gives none, ms. Default 1000. */
  readonly defaultTimeoutMs?: number;
  /** Aggregation time limit when the request gives none, ms. Default 30000. */
  readonly defaultAggregationTimeoutMs?: number;
  /** Upper bound on any requested time limit, ms. Default 60000. */
  readonly maxTimeoutMs?: number;
  /** Time limit for a module's top-level code, ms. Default 1000. */
  readonly loadTimeoutMs?: number;
  /** Recycle an isolate after this many calls. Default 100000. */
  readonly maxCallsPerIsolate?: number;
  /** Receives the lines a UDF logged with aerospike.log(). */
  readonly onLog?: (module: string, fn: string, line: string) => void;
  /** In-process mode only (in process mode a catastrophic error ends the host child). Default: abort the process. */
  readonly onCatastrophicError?: (message: string) => void;
  readonly now?: () => number;
}

/** The engine's limits that can change while it runs. */
export type UdfLiveLimits = Partial<Pick<Required<UdfEngineOptions>, 'defaultTimeoutMs' | 'defaultAggregationTimeoutMs' | 'maxTimeoutMs' | 'maxCallsPerIsolate' | 'memoryLimitMb'>>;

/** Defaults of the limits that can change while the engine runs. */
export const UDF_LIVE_DEFAULTS: Readonly<Required<UdfLiveLimits>> = { defaultTimeoutMs: 1000, defaultAggregationTimeoutMs: 30_000, maxTimeoutMs: 60_000, maxCallsPerIsolate: 100_000, memoryLimitMb: 64 };

/**
 * On a cluster: where the node's module set stands against the cluster's system metadata, so
 * that no node runs a record UDF with an older module set than the cluster agreed or than the
 * node that forwarded the call (see core/replication/smd-sync.ts).
 */
export interface ModuleSetSync {
  readonly localNode: NodeId;
  /** This node's digest of its modules' versions (what a forwarded call carries). */
  digest(): string;
  /** Takes `node`'s modules when its digest differs, then waits until they are installed. */
  catchUpFrom(node: NodeId, digest: string): Promise<void>;
  /** Waits (up to `timeoutMs`) until this node holds the modules of the cluster it is in; false when it does not yet. */
  whenCaughtUp(timeoutMs: number): Promise<boolean>;
}

/**
 * The request a record UDF call sends into its sandbox, in the compact form of a record call
 * (codec.ts, "record calls"): a JSON array of the function, its arguments, the record's bins, the
 * names of the bins holding doubles (0 when none) and the metadata — values in the tagged form.
 */
export function recordRequest(call: UdfCall, view: RecordView, now: number): string {
  const meta = view.exists ? view.meta : undefined;
  const doubles = view.exists ? doubleBinNames(view.bins) : [];
  const digest = view.key.digest;
  return JSON.stringify([
    call.fn,
    call.args === undefined || call.args.length === 0 ? [] : call.args.map(encodeValue),
    view.exists ? encodeBins(view.bins) : {},
    doubles.length === 0 ? 0 : doubles,
    view.exists,
    meta?.generation ?? 0,
    meta === undefined ? 0 : ttlOf(meta.voidTime, now),
    meta?.lastUpdateMs ?? 0,
    view.key.userKey === undefined ? null : encodeValue(view.key.userKey),
    Buffer.from(digest.buffer, digest.byteOffset, digest.byteLength).toString('base64'),
    view.key.set,
    view.key.namespace,
  ]);
}

/** The effect kinds of a compact record answer, by their number. */
const EFFECT_KINDS = ['none', 'write', 'delete'] as const;

/**
 * A record call's result from its compact answer `[value, effect kind, bins, create, ttl, logs]`
 * (trailing parts left out; codec.ts, "record calls"); `stored`: the bins the call was given.
 */
export function recordResult(a: readonly unknown[], what: string, stored: Bins | undefined): RecordUdfResult {
  const kind = EFFECT_KINDS[(a[1] ?? 0) as number];
  const effect = kind === undefined ? effectOf(a[1], undefined, false, undefined, what, stored) : kind === 'none' ? NO_EFFECT : effectOf(kind, a[2], a[3] === 1, a[4] ?? undefined, what, stored);
  return { value: decodeValue(a[0] ?? null), effect, logs: (a[5] ?? NO_LOGS) as readonly string[] };
}

/** The record effect a UDF reported; `stored`: the bins it was given (untouched bins keep their stored value). */
export function recordEffect(e: GuestResponse['effect'], what: string, stored: Bins | undefined): RecordEffect {
  return e === undefined ? NO_EFFECT : effectOf(e.t, e.bins, e.create === true, e.ttl, what, stored);
}

/** A record effect from its parts (`ttl`: undefined when the UDF set none). */
function effectOf(t: unknown, wireBins: unknown, create: boolean, ttl: unknown, what: string, stored: Bins | undefined): RecordEffect {
  if (t === 'none') return NO_EFFECT;
  if (t === 'delete') return { kind: 'delete' };
  if (t !== 'write') throw new DbError('UDF', `${what} produced an unknown record effect`);
  const bins = decodeBins(wireBins, stored);
  if (ttl === undefined) return { kind: 'write', bins, create };
  if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < -2) throw new DbError('UDF', `${what} set an invalid TTL`);
  return { kind: 'write', bins, create, ttl };
}

const NO_EFFECT: RecordEffect = { kind: 'none' };
const NO_LOGS: readonly string[] = Object.freeze([]);

export class UdfEngine {
  readonly registry: ModuleRegistry;
  /** Set on a node that is part of a cluster (the UDF subsystem does). */
  moduleSync: ModuleSetSync | undefined;
  private opts: Required<Omit<UdfEngineOptions, 'store' | 'onLog' | 'onCatastrophicError' | 'isolation' | 'hostGraceMs' | 'onHostEvent'>> & Pick<UdfEngineOptions, 'onLog' | 'onCatastrophicError'>;
  readonly isolation: UdfIsolation;
  /** The UDF host process (process isolation only). */
  readonly host: SandboxHost | undefined;
  private readonly createSandbox: SandboxFactory;
  private readonly pools = new Map<string, SandboxPool>(); // by hash
  private closed = false;
  private readonly aggregations: Aggregations;

  constructor(options: UdfEngineOptions = {}) {
    this.opts = {
      memoryLimitMb: options.memoryLimitMb ?? UDF_LIVE_DEFAULTS.memoryLimitMb,
      poolSize: Math.max(1, options.poolSize ?? 2),
      defaultTimeoutMs: options.defaultTimeoutMs ?? UDF_LIVE_DEFAULTS.defaultTimeoutMs,
      defaultAggregationTimeoutMs: options.defaultAggregationTimeoutMs ?? UDF_LIVE_DEFAULTS.defaultAggregationTimeoutMs,
      maxTimeoutMs: options.maxTimeoutMs ?? UDF_LIVE_DEFAULTS.maxTimeoutMs,
      loadTimeoutMs: options.loadTimeoutMs ?? 1000,
      maxCallsPerIsolate: options.maxCallsPerIsolate ?? UDF_LIVE_DEFAULTS.maxCallsPerIsolate,
      now: options.now ?? Date.now,
      onLog: options.onLog,
      onCatastrophicError: options.onCatastrophicError,
    };
    this.isolation = options.isolation ?? 'process';
    const host = this.isolation === 'process'
      ? new SandboxHost({
        ...(options.hostGraceMs === undefined ? {} : { graceMs: options.hostGraceMs }),
        ...(options.onHostEvent === undefined ? {} : { onEvent: options.onHostEvent }),
      })
      : undefined;
    this.host = host;
    this.createSandbox = host === undefined ? (m, o) => Sandbox.create(m, o) : (m, o) => host.create(m, o);
    this.registry = new ModuleRegistry({
      ...(options.store === undefined ? {} : { store: options.store }),
      now: this.opts.now,
      validate: (m) => this.validate(m),
    });
    this.registry.onChange((_file, current, previous) => {
      if (previous !== undefined && previous.hash !== current?.hash) this.retirePool(previous.hash);
    });
    this.aggregations = new Aggregations({
      module: (name) => this.registry.require(name),
      poolFor: (mod) => this.poolFor(mod),
      withSandbox: (mod, fn) => this.withSandbox(mod, fn),
      timeLimit: (requested, aggregation) => this.timeLimit(requested, aggregation),
      parse: (json, mod, fn) => this.parse(json, mod, fn),
      poolSize: this.opts.poolSize,
    });
  }

  /** Creates an engine and loads the modules its store holds. */
  static async open(options: UdfEngineOptions = {}): Promise<UdfEngine> {
    const engine = new UdfEngine(options);
    await engine.registry.open();
    return engine;
  }

  // ------------------------------------------------------------------ modules
  register(fileName: string, source: string | Uint8Array): Promise<ModuleVersion> {
    return this.registry.register(fileName, source);
  }
  listModules(): ModuleVersion[] {
    return this.registry.list();
  }
  getModule(name: string): ModuleVersion | undefined {
    return this.registry.get(name);
  }
  removeModule(fileName: string): Promise<void> {
    return this.registry.remove(fileName);
  }

  poolStats(module: string): PoolStats | undefined {
    const v = this.registry.get(module);
    return v === undefined ? undefined : this.pools.get(v.hash)?.stats();
  }

  /**
   * Changes limits while the engine runs (live configuration): time limits apply to the next
   * call; the memory limit to isolates made from now on; the call count at which an isolate is
   * recycled to the next time one comes back to its pool.
   */
  reconfigure(limits: UdfLiveLimits): void {
    // a limit left out goes back to its default, as a config section without it would give
    const next: Record<string, number> = { ...UDF_LIVE_DEFAULTS };
    for (const [k, v] of Object.entries(limits)) if (typeof v === 'number') next[k] = v;
    this.opts = { ...this.opts, ...(next as Required<UdfLiveLimits>) };
  }

  /** The limits reconfigure() changes, as they are now. */
  liveLimits(): Required<UdfLiveLimits> {
    const { defaultTimeoutMs, defaultAggregationTimeoutMs, maxTimeoutMs, maxCallsPerIsolate, memoryLimitMb } = this.opts;
    return { defaultTimeoutMs, defaultAggregationTimeoutMs, maxTimeoutMs, maxCallsPerIsolate, memoryLimitMb };
  }

  /** Time limit for a call: the request's, or the default; never above the maximum. */
  timeLimit(requested: number | undefined, aggregation = false): number {
    const t = requested === undefined || requested <= 0 ? (aggregation ? this.opts.defaultAggregationTimeoutMs : this.opts.defaultTimeoutMs) : requested;
    return Math.min(t, this.opts.maxTimeoutMs);
  }

  // ------------------------------------------------------------------ record UDFs
  async applyRecord(call: UdfCall, view: RecordView): Promise<RecordUdfResult> {
    const mod = this.registry.require(call.module);
    const what = `${mod.packageName}.${call.fn}`;
    const timeoutMs = this.timeLimit(call.timeoutMs);
    const req = recordRequest(call, view, this.opts.now());
    const options = call.runBy === undefined ? REPEATABLE : { repeatable: true, batch: true, runBy: call.runBy };
    // (withSandbox, without its closure and extra async step on this path)
    const pool = this.poolFor(mod);
    const s = pool.sharedNow() ?? await pool.acquireShared();
    let res: string;
    try {
      res = await s.call(req, timeoutMs, what, options);
    } finally {
      pool.release(s);
    }
    return this.recordAnswer(res, mod, call.fn, what, view.exists ? view.bins : undefined);
  }

  /**
   * Reads a record call's answer: the compact form `[value, effect kind, bins, create, ttl, logs]`
   * (trailing parts left out), or a response object (a failure, or a request in the object form).
   */
  private recordAnswer(json: string, mod: ModuleVersion, fn: string, what: string, stored: Bins | undefined): RecordUdfResult {
    const a = JSON.parse(json) as unknown;
    if (!Array.isArray(a)) {
      const r = this.checked(a as GuestResponse, mod, fn);
      return { value: decodeValue(r.value ?? null), effect: recordEffect(r.effect, what, stored), logs: r.logs ?? [] };
    }
    const r = recordResult(a, what, stored);
    if (r.logs.length !== 0 && this.opts.onLog !== undefined) for (const line of r.logs) this.opts.onLog(mod.packageName, fn, line);
    return r;
  }

  // ------------------------------------------------------------------ stream UDFs (aggregation.ts)
  /** Runs the whole aggregation on this node: partials over the batches, then the final merge. */
  runAggregation(call: UdfCall, batches: AsyncIterable<readonly Bins[]> | Iterable<readonly Bins[]>, options: AggregationOptions = {}): Promise<BinValue[]> {
    return this.aggregations.runAggregation(call, batches, options);
  }

  /** The per-partition phase: stages up to and including the first reduce/groupBy. */
  aggregatePartial(call: UdfCall, batches: AsyncIterable<readonly Bins[]> | Iterable<readonly Bins[]>, options: AggregationOptions = {}): Promise<BinValue[]> {
    return this.aggregations.aggregatePartial(call, batches, options);
  }

  /** The final phase on the receiving node: the first reduce again over all partials, then the rest. */
  aggregateFinal(call: UdfCall, partials: readonly BinValue[]): Promise<BinValue[]> {
    return this.aggregations.aggregateFinal(call, partials);
  }

  // ------------------------------------------------------------------ plumbing
  /** @internal parses a guest response, turning a guest error into a UdfError. */
  parse(json: string, mod: ModuleVersion, fn: string): GuestResponse {
    return this.checked(JSON.parse(json) as GuestResponse, mod, fn);
  }

  /** A parsed guest response: its logs to the log, a guest error thrown as a UdfError. */
  private checked(r: GuestResponse, mod: ModuleVersion, fn: string): GuestResponse {
    for (const line of r.logs ?? []) this.opts.onLog?.(mod.packageName, fn, line);
    if (!r.ok) throw fromGuestError(r.error ?? { name: 'Error', message: 'unknown UDF failure', stack: '' }, mod.packageName, mod.fileName, fn, r.logs ?? []);
    return r;
  }

  /** Runs `fn` with a sandbox of the module's pool: its own, or (`shared`, a record call) possibly lined up behind other calls. */
  private async withSandbox<T>(mod: ModuleVersion, fn: (s: UdfSandbox) => Promise<T>, shared = false): Promise<T> {
    const pool = this.poolFor(mod);
    const s = await (shared ? pool.acquireShared() : pool.acquire());
    try {
      return await fn(s);
    } finally {
      pool.release(s);
    }
  }

  private poolFor(mod: ModuleVersion): SandboxPool {
    if (this.closed) throw new DbError('UDF', 'the UDF engine is closed');
    const engine = this;
    let pool = this.pools.get(mod.hash);
    if (pool === undefined) {
      pool = new SandboxPool(mod, {
        // read when used, so that live limit changes reach pools made before them
        get memoryLimitMb() { return engine.opts.memoryLimitMb; },
        get loadTimeoutMs() { return engine.opts.loadTimeoutMs; },
        ...(this.opts.onCatastrophicError === undefined ? {} : { onCatastrophicError: this.opts.onCatastrophicError }),
        size: this.opts.poolSize,
        get maxCalls() { return engine.opts.maxCallsPerIsolate; },
        get acquireTimeoutMs() { return engine.opts.maxTimeoutMs; },
        create: this.createSandbox,
      });
      this.pools.set(mod.hash, pool);
    }
    return pool;
  }

  private sandboxOptions(): SandboxOptions {
    return {
      memoryLimitMb: this.opts.memoryLimitMb,
      loadTimeoutMs: this.opts.loadTimeoutMs,
      ...(this.opts.onCatastrophicError === undefined ? {} : { onCatastrophicError: this.opts.onCatastrophicError }),
    };
  }

  private retirePool(hash: string): void {
    const pool = this.pools.get(hash);
    if (pool === undefined) return;
    // another registered file may share the exact source (same hash): keep the pool then
    if (this.registry.list().some((m) => m.hash === hash)) return;
    this.pools.delete(hash);
    pool.retire();
  }

  /** Compiles and loads a module in a throwaway sandbox (registration check). */
  private async validate(m: SandboxModule): Promise<readonly string[]> {
    const s = await this.createSandbox(m, this.sandboxOptions());
    try {
      return s.functions;
    } finally {
      s.dispose();
    }
  }

  /** Disposes every isolate and stops the UDF host process (see `shutdown` to wait for its exit). */
  close(): void {
    this.closed = true;
    for (const pool of this.pools.values()) pool.retire();
    this.pools.clear();
    void this.host?.close();
  }

  /** `close`, then waits (a few seconds at most) until the UDF host process has exited. */
  async shutdown(): Promise<void> {
    this.close();
    await this.host?.close();
  }
}
