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
 * ## Stream UDFs (aggregations)
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
import { ttlOf, type BinValue, type Bins, type RecordKey, type RecordMeta } from '../model/index.ts';
import { decodeBins, decodeValue, doubleBinNames, encodeBins, encodeValue, type Wire } from './codec.ts';
import { fromGuestError, type GuestError } from './errors.ts';
import { ModuleRegistry, type ModuleStore, type ModuleVersion } from './registry.ts';
import { SandboxPool, type PoolStats } from './pool.ts';
import { Sandbox, type SandboxFactory, type SandboxModule, type SandboxOptions, type UdfSandbox } from './sandbox.ts';
import { SandboxHost, type SandboxHostEvent } from './sandbox-host.ts';

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

export interface UdfCall {
  /** Module file name (`bank.js`) or package name (`bank`). */
  readonly module: string;
  readonly fn: string;
  readonly args?: readonly BinValue[];
  /** Time limit, ms; capped at the engine's maximum. */
  readonly timeoutMs?: number;
}

/** The record as the kernel holds it under the lock. */
export interface RecordView {
  readonly key: RecordKey;
  readonly exists: boolean;
  /** Current bins; empty when the record does not exist. */
  readonly bins: Bins;
  /** Present when the record exists. */
  readonly meta?: RecordMeta;
}

export type RecordEffect =
  | { readonly kind: 'none' }
  | { readonly kind: 'write'; readonly bins: Bins; readonly create: boolean; readonly ttl?: number }
  | { readonly kind: 'delete' };

export interface RecordUdfResult {
  readonly value: BinValue;
  readonly effect: RecordEffect;
  readonly logs: readonly string[];
}

export interface AggregationOptions {
  /** Sandboxes working on the partial phase at once (default: the pool size). */
  readonly parallelism?: number;
  readonly signal?: AbortSignal;
}

interface GuestResponse {
  ok: boolean;
  error?: GuestError;
  logs?: string[];
  value?: unknown;
  values?: unknown[];
  effect?: { t: string; create?: boolean; bins?: unknown; ttl?: unknown };
}

export class UdfEngine {
  readonly registry: ModuleRegistry;
  private readonly opts: Required<Omit<UdfEngineOptions, 'store' | 'onLog' | 'onCatastrophicError' | 'isolation' | 'hostGraceMs' | 'onHostEvent'>> & Pick<UdfEngineOptions, 'onLog' | 'onCatastrophicError'>;
  readonly isolation: UdfIsolation;
  /** The UDF host process (process isolation only). */
  readonly host: SandboxHost | undefined;
  private readonly createSandbox: SandboxFactory;
  private readonly pools = new Map<string, SandboxPool>(); // by hash
  private sid = 0;
  private closed = false;

  constructor(options: UdfEngineOptions = {}) {
    this.opts = {
      memoryLimitMb: options.memoryLimitMb ?? 64,
      poolSize: Math.max(1, options.poolSize ?? 2),
      defaultTimeoutMs: options.defaultTimeoutMs ?? 1000,
      defaultAggregationTimeoutMs: options.defaultAggregationTimeoutMs ?? 30_000,
      maxTimeoutMs: options.maxTimeoutMs ?? 60_000,
      loadTimeoutMs: options.loadTimeoutMs ?? 1000,
      maxCallsPerIsolate: options.maxCallsPerIsolate ?? 100_000,
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
    const now = this.opts.now();
    const meta = view.exists ? view.meta : undefined;
    const req = {
      op: 'record',
      fn: call.fn,
      args: (call.args ?? []).map(encodeValue),
      rec: {
        exists: view.exists,
        bins: view.exists ? encodeBins(view.bins) : {},
        doubles: view.exists ? doubleBinNames(view.bins) : [],
        gen: meta?.generation ?? 0,
        ttl: meta === undefined ? 0 : ttlOf(meta.voidTime, now),
        lut: meta?.lastUpdateMs ?? 0,
        key: view.key.userKey === undefined ? null : encodeValue(view.key.userKey),
        digest: Buffer.from(view.key.digest).toString('base64'),
        set: view.key.set,
        ns: view.key.namespace,
      },
    };
    const res = await this.withSandbox(mod, (s) => s.call(JSON.stringify(req), timeoutMs, what));
    const r = this.parse(res, mod, call.fn);
    return { value: decodeValue(r.value ?? null), effect: this.effectOf(r.effect, what), logs: r.logs ?? [] };
  }

  private effectOf(e: GuestResponse['effect'], what: string): RecordEffect {
    if (e === undefined || e.t === 'none') return { kind: 'none' };
    if (e.t === 'delete') return { kind: 'delete' };
    if (e.t !== 'write') throw new DbError('UDF', `${what} produced an unknown record effect`);
    const bins = decodeBins(e.bins);
    if (e.ttl === undefined) return { kind: 'write', bins, create: e.create === true };
    const ttl = e.ttl;
    if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < -2) throw new DbError('UDF', `${what} set an invalid TTL`);
    return { kind: 'write', bins, create: e.create === true, ttl };
  }

  // ------------------------------------------------------------------ stream UDFs
  /** Runs the whole aggregation on this node: partials over the batches, then the final merge. */
  async runAggregation(call: UdfCall, batches: AsyncIterable<readonly Bins[]> | Iterable<readonly Bins[]>, options: AggregationOptions = {}): Promise<BinValue[]> {
    const deadline = Date.now() + this.timeLimit(call.timeoutMs, true);
    const partials = await this.partial(call, batches, deadline, options);
    return this.final(call, partials, deadline);
  }

  /** The per-partition phase: stages up to and including the first reduce/groupBy. */
  async aggregatePartial(call: UdfCall, batches: AsyncIterable<readonly Bins[]> | Iterable<readonly Bins[]>, options: AggregationOptions = {}): Promise<BinValue[]> {
    const deadline = Date.now() + this.timeLimit(call.timeoutMs, true);
    return (await this.partial(call, batches, deadline, options)).map((w) => decodeValue(w));
  }

  /** The final phase on the receiving node: the first reduce again over all partials, then the rest. */
  aggregateFinal(call: UdfCall, partials: readonly BinValue[]): Promise<BinValue[]> {
    const deadline = Date.now() + this.timeLimit(call.timeoutMs, true);
    return this.final(call, partials.map(encodeValue), deadline);
  }

  private async final(call: UdfCall, partials: readonly Wire[], deadline: number): Promise<BinValue[]> {
    const mod = this.registry.require(call.module);
    return this.withSandbox(mod, async (s) => {
      const session = new AggSession(this, s, mod, call, 'final', deadline);
      await session.start();
      await session.feed('values', partials);
      return (await session.end()).map((w) => decodeValue(w));
    });
  }

  private async partial(call: UdfCall, batches: AsyncIterable<readonly Bins[]> | Iterable<readonly Bins[]>, deadline: number, options: AggregationOptions): Promise<Wire[]> {
    const mod = this.registry.require(call.module);
    const pool = this.poolFor(mod);
    const width = Math.max(1, Math.min(options.parallelism ?? this.opts.poolSize, this.opts.poolSize));
    const sessions: AggSession[] = [];
    const pending: Array<Promise<void>> = [];
    let failure: unknown;
    const fail = (err: unknown): void => {
      if (failure === undefined) failure = err;
    };
    const open = async (): Promise<AggSession> => {
      const session = new AggSession(this, await pool.acquire(), mod, call, 'partial', deadline);
      sessions.push(session);
      return session;
    };
    try {
      let i = 0;
      for await (const batch of batches) {
        if (failure !== undefined) break;
        if (options.signal?.aborted === true) throw new DbError('QUERY_ABORTED', 'the aggregation was cancelled');
        if (Date.now() >= deadline) throw this.aggTimeout(mod, call);
        if (batch.length === 0) continue;
        const slot = i++ % width; // slots fill in order, so a new session lands at sessions[slot]
        if (sessions[slot] === undefined) pending[slot] = (await open()).start().catch(fail);
        const session = sessions[slot] as AggSession;
        const items = batch.map(encodeBins);
        // each session works through its batches in order; reading the source goes on meanwhile
        await pending[slot];
        if (failure !== undefined) break;
        pending[slot] = session.feed('records', items).catch(fail);
      }
      await Promise.all(pending);
      if (failure !== undefined) throw failure;
      const out: Wire[] = [];
      for (const session of sessions) out.push(...(await session.end()));
      if (sessions.length === 0) {
        // no records: the pipeline still runs once, so that aggregate() yields its initial value
        const session = await open();
        await session.start();
        out.push(...(await session.end()));
      }
      return out;
    } finally {
      await Promise.allSettled(pending);
      for (const session of sessions) {
        await session.abort();
        pool.release(session.sandbox);
      }
    }
  }

  aggTimeout(mod: ModuleVersion, call: UdfCall): DbError {
    return new DbError('UDF', `UDF Execution Timeout: aggregation ${mod.packageName}.${call.fn} ran longer than ${this.timeLimit(call.timeoutMs, true)} ms`, {
      hint: 'aggregate fewer records (add a WHERE), make the stream functions cheaper, or raise the timeout',
    });
  }

  nextSessionId(): number {
    return ++this.sid;
  }

  // ------------------------------------------------------------------ plumbing
  /** @internal parses a guest response, turning a guest error into a UdfError. */
  parse(json: string, mod: ModuleVersion, fn: string): GuestResponse {
    const r = JSON.parse(json) as GuestResponse;
    for (const line of r.logs ?? []) this.opts.onLog?.(mod.packageName, fn, line);
    if (!r.ok) throw fromGuestError(r.error ?? { name: 'Error', message: 'unknown UDF failure', stack: '' }, mod.packageName, mod.fileName, fn, r.logs ?? []);
    return r;
  }

  private async withSandbox<T>(mod: ModuleVersion, fn: (s: UdfSandbox) => Promise<T>): Promise<T> {
    const pool = this.poolFor(mod);
    const s = await pool.acquire();
    try {
      return await fn(s);
    } finally {
      pool.release(s);
    }
  }

  private poolFor(mod: ModuleVersion): SandboxPool {
    if (this.closed) throw new DbError('UDF', 'the UDF engine is closed');
    let pool = this.pools.get(mod.hash);
    if (pool === undefined) {
      pool = new SandboxPool(mod, {
        ...this.sandboxOptions(),
        size: this.opts.poolSize,
        maxCalls: this.opts.maxCallsPerIsolate,
        acquireTimeoutMs: this.opts.maxTimeoutMs,
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

/** One aggregation pipeline living in one sandbox. */
class AggSession {
  readonly sandbox: UdfSandbox;
  private readonly engine: UdfEngine;
  private readonly mod: ModuleVersion;
  private readonly call: UdfCall;
  private readonly phase: 'partial' | 'final';
  private readonly deadline: number;
  private readonly sid: number;
  private open = false;

  constructor(engine: UdfEngine, sandbox: UdfSandbox, mod: ModuleVersion, call: UdfCall, phase: 'partial' | 'final', deadline: number) {
    this.engine = engine;
    this.sandbox = sandbox;
    this.mod = mod;
    this.call = call;
    this.phase = phase;
    this.deadline = deadline;
    this.sid = engine.nextSessionId();
  }

  private async send(req: object): Promise<GuestResponse> {
    const left = this.deadline - Date.now();
    if (left <= 0) throw this.engine.aggTimeout(this.mod, this.call);
    const out = await this.sandbox.call(JSON.stringify(req), left, `aggregation ${this.mod.packageName}.${this.call.fn}`);
    return this.engine.parse(out, this.mod, this.call.fn);
  }

  async start(): Promise<void> {
    await this.send({ op: 'aggStart', sid: this.sid, fn: this.call.fn, args: (this.call.args ?? []).map(encodeValue), phase: this.phase });
    this.open = true;
  }

  async feed(kind: 'records' | 'values', items: readonly Wire[]): Promise<void> {
    await this.send({ op: 'aggFeed', sid: this.sid, kind, items });
  }

  async end(): Promise<Wire[]> {
    const r = await this.send({ op: 'aggEnd', sid: this.sid });
    this.open = false;
    return (r.values ?? []) as Wire[];
  }

  async abort(): Promise<void> {
    if (!this.open || !this.sandbox.healthy) return;
    this.open = false;
    try {
      await this.sandbox.call(JSON.stringify({ op: 'aggAbort', sid: this.sid }), 1000, 'aggregation cleanup');
    } catch {
      // the sandbox is then unhealthy and will be replaced
    }
  }
}
