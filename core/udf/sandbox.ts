/**
 * One sandbox: an isolated-vm isolate with one context, the trusted runtime
 * (sandbox-runtime.js) and one user module loaded. The host talks to it through exactly one
 * function, `call(requestJson) → responseJson`: only strings cross the boundary, so no
 * Reference, ExternalCopy or host object ever reaches user code, and no cached code or snapshot
 * from users is accepted. Every call has a time limit; the isolate has a memory limit.
 *
 * Two ways into the isolate, picked per call:
 * - **synchronous** (`applySync`, ~4 µs): for a call that may be run again (a record UDF, whose
 *   effect the host applies only from the answer), as long as no asynchronous call is running in
 *   the isolate. It runs with a short time slice (`syncSliceMs`, 20 ms, at most a tenth of the
 *   call's time limit): a call still running then
 *   is stopped, its function (`what`) is marked slow (in every sandbox of the module: for 50 ms
 *   after its slow run, doubling with each overrun soon after, up to a second), and the call is
 *   run again asynchronously with its limit less the slice (module-level state keeps what the stopped
 *   run did to it). So a synchronous call holds the thread it runs on for at most one slice, and a
 *   slow function costs one slice per 50, 100, 200, 400, 800 ms, then at most one per second; a
 *   quick function that lost a slice to a busy machine (the slice is wall time) is back on the
 *   synchronous path 50 ms later; fast calls skip isolated-vm's thread hop.
 * - **asynchronous** (`apply`, ~50 µs): on isolated-vm's thread, off the caller's event loop —
 *   for aggregation steps (which are not repeatable) and functions known to be slow. A
 *   repeatable call made while asynchronous calls run in the isolate waits for them to end (the
 *   isolate would run it after them anyway) and then takes the synchronous path.
 * - **batched** (`runBatch`): repeatable calls back to back in one synchronous entry under one
 *   timer — the UDF host's lanes, and in-process the calls made with `batch` during one turn of
 *   the event loop (run at its end by `runLined`).
 */
import { readFileSync } from 'node:fs';
import ivm from 'isolated-vm';
import { DbError } from '../errors/index.ts';
import { udfMemory, udfTimeout } from './errors.ts';

const RUNTIME_SOURCE = readFileSync(new URL('./sandbox-runtime.js', import.meta.url), 'utf8');

/** What a sandbox needs to know about the module it runs. */
export interface SandboxModule {
  readonly fileName: string;
  readonly packageName: string;
  /** JavaScript (TypeScript already stripped of types). */
  readonly code: string;
}

export interface SandboxOptions {
  /** Isolate heap limit in MiB (isolated-vm minimum 8). */
  readonly memoryLimitMb: number;
  /** Time limit for loading the module (its top-level code), ms. */
  readonly loadTimeoutMs: number;
  /** Called when isolated-vm reports a catastrophic error; the process state is then undefined. */
  readonly onCatastrophicError?: (message: string) => void;
  /** Time slice of a synchronous call, ms (see above). Default 20. */
  readonly syncSliceMs?: number;
}

/** How a call may be run. */
export interface CallOptions {
  /**
   * The call may be stopped and run again from the start (a record UDF: it has no effect until
   * its answer is applied). Such calls may take the synchronous path.
   */
  readonly repeatable?: boolean;
  /**
   * When the call must have stopped (epoch ms, `Date.now()`'s clock): its caller's deadline less
   * the time the answer needs to reach it. The limit is cut to what is left of it when the call
   * starts to run, so time spent waiting for a sandbox or in a lane comes out of the limit, not
   * out of the answer's way back.
   */
  readonly runBy?: number;
  /**
   * A repeatable call that may wait for the end of this turn of the event loop, to run in one
   * isolate entry (`runBatch`) with the other such calls made to the sandbox meanwhile, instead
   * of entering the isolate on its own (an entry and its isolated-vm timer cost about as much
   * as the runtime's work on a small call). The engine asks it for record calls; in process
   * mode the UDF host batches them itself.
   */
  readonly batch?: boolean;
}

/** A call's time limit as it starts to run: its own, cut to what is left before `runBy`. */
export function limitAtStart(timeoutMs: number, runBy: number | undefined): number {
  const own = Math.max(1, Math.ceil(timeoutMs));
  return runBy === undefined || runBy <= 0 ? own : Math.max(1, Math.min(own, Math.floor(runBy - Date.now())));
}

/**
 * What the pool and the engine use of a sandbox. `Sandbox` (below) is the real one, an isolate in
 * this process; `RemoteSandbox` (sandbox-host.ts) is a proxy for a `Sandbox` living in the UDF
 * host child process. Only strings cross either boundary.
 */
export interface UdfSandbox {
  readonly module: SandboxModule;
  /** Exported function names, read once at load. */
  readonly functions: readonly string[];
  /** False once the sandbox died, hit a limit or timed out; it is then disposed, never reused. */
  readonly healthy: boolean;
  /** Calls made so far (the pool recycles a sandbox after `maxCalls`). */
  readonly calls: number;
  call(requestJson: string, timeoutMs: number, what: string, options?: CallOptions): Promise<string>;
  /** Heap in use, bytes (for a remote sandbox: as of its last response). */
  heapUsed(): number;
  dispose(): void;
}

/** Makes a sandbox for a module: in this process, or in the UDF host process. */
export type SandboxFactory = (module: SandboxModule, opts: SandboxOptions) => Promise<UdfSandbox>;

type DispatchFn = (json: string) => string;
type BatchFn = (joined: string, budgetMs: number, seq: number) => string;

/** One record call of a batch (`Sandbox.runBatch`): the arguments `call` takes, for a repeatable call. */
export interface BatchCall {
  readonly req: string;
  readonly timeoutMs: number;
  readonly what: string;
  readonly runBy?: number;
}

/** What a batch did: the answers of its first calls, in order; and whether the call after them was stopped at the end of the slice. */
export interface BatchOutcome {
  readonly answers: readonly string[];
  /** The call after the answered ones overran the batch's slice after running `ranMs`: run it again with `rerun`. */
  readonly overran?: { readonly ranMs: number };
}

/** The most calls one batch takes. */
export const MAX_BATCH = 64;

/** Default time slice of a synchronous call, ms. */
const SYNC_SLICE_MS = 20;
/**
 * How long a function that overran its slice runs asynchronously before it gets a synchronous
 * slice again, ms: MIN_SLOW_MARK_MS after an overrun, doubling with each overrun that follows
 * before the function finished a synchronous call, up to SLOW_MARK_MS. A quick function that lost
 * one slice to a busy machine (the slice is wall time) is back on the synchronous path soon;
 * one that keeps overrunning costs one slice per 50, 100, 200, 400, 800 ms, then one per second.
 * A mark unused for FORGET_SLOW_MS is dropped.
 */
const MIN_SLOW_MARK_MS = 50;
/** Time limit of reading what a stopped batch had finished (trusted runtime code, no user code runs), ms. */
const PARTIAL_TIMEOUT_MS = 1000;
const SLOW_MARK_MS = 1000;
const FORGET_SLOW_MS = 10_000;

/** A function's slow mark: no synchronous slice before `until`; `markMs` is the current length. */
interface SlowMark {
  until: number;
  markMs: number;
}

/**
 * Functions that overran a synchronous slice, per module file (this process's sandboxes of the
 * same module share them, so a concurrent call on another isolate does not spend a slice too).
 */
const slow = new Map<string, { code: string; until: Map<string, SlowMark> }>();

function slowMarks(module: SandboxModule): Map<string, SlowMark> {
  let marks = slow.get(module.fileName);
  if (marks === undefined || marks.code !== module.code) {
    marks = { code: module.code, until: new Map() };
    slow.set(module.fileName, marks);
  }
  return marks.until;
}

/** An isolate with its context and the trusted runtime loaded, no user code yet. */
interface Warm {
  readonly isolate: ivm.Isolate;
  readonly context: ivm.Context;
  readonly install: ivm.Reference<(ns: unknown, name: string) => void>;
  readonly dispatch: ivm.Reference<DispatchFn>;
  readonly batch: ivm.Reference<BatchFn>;
  readonly partial: ivm.Reference<(seq: number) => string>;
  readonly exported: ivm.Reference<() => string>;
}

async function warmIsolate(opts: SandboxOptions): Promise<Warm> {
  const isolate = new ivm.Isolate({
    memoryLimit: Math.max(8, opts.memoryLimitMb),
    onCatastrophicError: opts.onCatastrophicError ?? defaultCatastrophe,
  });
  try {
    const context = await isolate.createContext();
    const runtime = await isolate.compileScript(RUNTIME_SOURCE, { filename: 'slipstream:runtime.js' });
    const api = (await runtime.run(context, { reference: true, timeout: Math.max(1000, opts.loadTimeoutMs) })) as ivm.Reference<Record<string, unknown>>;
    runtime.release();
    const install = (await api.get('install', { reference: true })) as ivm.Reference<(ns: unknown, name: string) => void>;
    const dispatch = (await api.get('dispatch', { reference: true })) as ivm.Reference<DispatchFn>;
    const batch = (await api.get('dispatchBatch', { reference: true })) as ivm.Reference<BatchFn>;
    const partial = (await api.get('batchPartial', { reference: true })) as ivm.Reference<(seq: number) => string>;
    const exported = (await api.get('exportedFunctions', { reference: true })) as ivm.Reference<() => string>;
    api.release();
    return { isolate, context, install, dispatch, batch, partial, exported };
  } catch (err) {
    if (!isolate.isDisposed) isolate.dispose();
    throw err;
  }
}

/**
 * One warm isolate kept ready (runtime loaded, intrinsics frozen: most of what making a sandbox
 * costs), for the next sandbox with the same memory limit and catastrophe handler; taking it
 * starts the next one. So replacing a sandbox that died or timed out costs only loading the
 * module.
 */
let spare: { readonly memoryLimitMb: number; readonly onCatastrophicError: SandboxOptions['onCatastrophicError']; readonly warm: Promise<Warm> } | undefined;

async function takeWarm(opts: SandboxOptions): Promise<Warm> {
  const s = spare;
  spare = undefined;
  let warm: Warm | undefined;
  if (s !== undefined && s.memoryLimitMb === opts.memoryLimitMb && s.onCatastrophicError === opts.onCatastrophicError) {
    warm = await s.warm.catch(() => undefined);
  } else if (s !== undefined) {
    void s.warm.then((w) => w.isolate.dispose(), () => undefined);
  }
  if (warm === undefined || warm.isolate.isDisposed) warm = await warmIsolate(opts);
  if (spare === undefined) {
    const next = warmIsolate(opts);
    next.catch(() => undefined);
    spare = { memoryLimitMb: opts.memoryLimitMb, onCatastrophicError: opts.onCatastrophicError, warm: next };
  }
  return warm;
}

function isTimeout(err: unknown): boolean {
  return /timed out/i.test(err instanceof Error ? err.message : String(err));
}

function defaultCatastrophe(message: string): void {
  // isolated-vm's advice: after a catastrophic error the process cannot be trusted any more.
  process.stderr.write(`slipstream: isolated-vm catastrophic error: ${message}; aborting\n`);
  process.abort();
}

export class Sandbox implements UdfSandbox {
  readonly module: SandboxModule;
  readonly memoryLimitMb: number;
  private readonly isolate: ivm.Isolate;
  private readonly context: ivm.Context;
  private readonly dispatchRef: ivm.Reference<DispatchFn>;
  private readonly batchRef: ivm.Reference<BatchFn>;
  private readonly partialRef: ivm.Reference<(seq: number) => string>;
  /** Batches run so far (each batch's number, so that a batch stopped before it began is not read as the one before). */
  private batches = 0;
  /** Exported function names, read once at load. */
  readonly functions: readonly string[];
  private broken = false;
  private readonly syncSliceMs: number;
  /** Functions (`what`) of this module that overran a synchronous slice, and until when (ms) they run asynchronously. */
  private readonly slowMarks: Map<string, SlowMark>;
  /** Asynchronous calls running in the isolate (a synchronous call would wait for them, blocking its thread). */
  private running = 0;
  /** Repeatable calls waiting for the asynchronous calls to end, to take the synchronous path then (see call). */
  private idleWaiters: Array<() => void> = [];
  calls = 0;
  /** Calls that took the synchronous path, and those of them that were run again asynchronously (for tests and statistics). */
  syncCalls = 0;
  rerunCalls = 0;
  /** Synchronous entries into the isolate (one per call on its own, one per batch). */
  entries = 0;
  /** Calls made with `batch`, waiting for the end of the loop turn (see runLined). */
  private lined: Array<{ readonly c: BatchCall; readonly resolve: (out: string) => void; readonly reject: (err: unknown) => void }> = [];

  private constructor(module: SandboxModule, memoryLimitMb: number, syncSliceMs: number, isolate: ivm.Isolate, context: ivm.Context, warm: Warm, functions: string[]) {
    this.module = module;
    this.memoryLimitMb = memoryLimitMb;
    this.syncSliceMs = syncSliceMs;
    this.slowMarks = slowMarks(module);
    this.isolate = isolate;
    this.context = context;
    this.dispatchRef = warm.dispatch;
    this.batchRef = warm.batch;
    this.partialRef = warm.partial;
    this.functions = functions;
  }

  /** Creates an isolate and loads the module; throws the module's compile or load error as is. */
  static async create(module: SandboxModule, opts: SandboxOptions): Promise<Sandbox> {
    const warm = await takeWarm(opts);
    const { isolate, context, install, exported } = warm;
    try {
      const mod = await isolate.compileModule(module.code, { filename: module.fileName });
      await mod.instantiate(context, (specifier) => {
        throw new Error(`imports are not allowed in UDF modules (found import of '${specifier}'); put everything the module needs in the one file`);
      });
      await mod.evaluate({ timeout: opts.loadTimeoutMs });
      await install.apply(undefined, [mod.namespace.derefInto(), module.packageName], { timeout: opts.loadTimeoutMs });
      install.release();
      const names = JSON.parse((await exported.apply(undefined, [], { timeout: opts.loadTimeoutMs })) as string) as string[];
      exported.release();
      return new Sandbox(module, opts.memoryLimitMb, Math.max(1, opts.syncSliceMs ?? SYNC_SLICE_MS), isolate, context, warm, names);
    } catch (err) {
      if (!isolate.isDisposed) isolate.dispose();
      throw err;
    }
  }

  /** False once the isolate died, hit a limit or timed out; such a sandbox is disposed, never reused. */
  get healthy(): boolean {
    return !this.broken && !this.isolate.isDisposed;
  }

  /**
   * Runs one request. Returns the guest's JSON response; throws DbError for timeouts, the memory
   * limit and a dead isolate (and marks the sandbox unhealthy).
   */
  async call(requestJson: string, timeoutMs: number, what: string, options: CallOptions = {}): Promise<string> {
    if (!this.healthy) throw new DbError('UDF', `the sandbox for ${this.module.fileName} is gone`, { hint: 'retry the call' });
    if (options.batch === true && options.repeatable === true) {
      const c: BatchCall = options.runBy === undefined ? { req: requestJson, timeoutMs, what } : { req: requestJson, timeoutMs, what, runBy: options.runBy };
      if (this.batchable(c)) {
        return new Promise<string>((resolve, reject) => {
          if (this.lined.length === 0) setImmediate(this.runLined);
          this.lined.push({ c, resolve, reject });
        });
      }
    }
    if (options.repeatable === true && this.running !== 0 && !this.isSlow(what)) {
      // The isolate runs one thing at a time: a call made now would queue behind the
      // asynchronous ones anyway. It waits for them here and then takes the synchronous path,
      // instead of joining them on the asynchronous one (~35–50 µs a call against ~5) — which,
      // with many calls in flight, kept the isolate busy asynchronously long after the one
      // overrun that started it.
      await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
      if (!this.healthy) throw new DbError('UDF', `the sandbox for ${this.module.fileName} is gone`, { hint: 'retry the call' });
    }
    this.calls++;
    const limit = limitAtStart(timeoutMs, options.runBy);
    let left = limit;
    let mark: SlowMark | undefined;
    if (options.repeatable === true && this.running === 0 && !this.isSlow(what)) {
      const slice = this.sliceFor(limit);
      this.syncCalls++;
      try {
        this.entries++;
        const out = this.checked(this.dispatchRef.applySync(undefined, [requestJson], { timeout: slice }));
        // within its slice again: an earlier overrun is forgotten
        if (this.slowMarks.size !== 0) this.slowMarks.delete(what);
        return out;
      } catch (err) {
        if (err instanceof DbError) throw err;
        if (!(slice < limit && isTimeout(err) && !this.isolate.isDisposed)) throw this.failure(err, what, limit);
        // still running after the slice: stopped; run again on the isolate's thread with its limit less the slice
        mark = this.markSlow(what);
        this.rerunCalls++;
        // the run is charged the slice it was given, not the time the stop took to land on a busy machine
        left = Math.max(1, limit - slice);
        if (options.runBy !== undefined) left = Math.min(left, limitAtStart(left, options.runBy));
      }
    }
    return this.runAsync(requestJson, left, what, limit, mark);
  }

  /** The asynchronous way in: isolated-vm's thread, `left` ms; `mark`: the slow mark of an overrun this run follows. */
  private async runAsync(requestJson: string, left: number, what: string, limit: number, mark: SlowMark | undefined): Promise<string> {
    this.running++;
    try {
      return this.checked(await this.dispatchRef.apply(undefined, [requestJson], { timeout: left }));
    } catch (err) {
      if (err instanceof DbError) throw err;
      throw this.failure(err, what, limit);
    } finally {
      this.running--;
      // a slow mark counts from the end of the slow run
      if (mark !== undefined) mark.until = Math.max(mark.until, Date.now() + mark.markMs);
      if (this.running === 0 && this.idleWaiters.length !== 0) {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const resolve of waiters) resolve();
      }
    }
  }

  /** A repeatable call's time slice on the synchronous path. */
  private sliceFor(limit: number): number {
    // a twentieth of a short limit, so that a stopped slice leaves the run again most of its time
    return Math.min(limit, this.syncSliceMs, Math.ceil(limit / 20));
  }

  /**
   * Whether a repeatable call can go in a batch now: the isolate runs nothing asynchronously,
   * its function is not marked slow, and its limit leaves it the full slice.
   */
  batchable(c: BatchCall): boolean {
    return this.healthy && this.running === 0 && !this.isSlow(c.what) && this.sliceFor(limitAtStart(c.timeoutMs, c.runBy)) >= this.syncSliceMs;
  }

  /**
   * Runs repeatable calls (each `batchable`) back to back in one synchronous entry into the
   * isolate, under one time slice, instead of one entry (and one isolated-vm timer) per call: no
   * call starts once half the slice has passed (the caller runs the rest in a next batch), so
   * each has at least half a slice to itself. A call still running at the end of the slice is
   * stopped like a call on the synchronous path: `overran` says so, and the caller runs it
   * again with `rerun` (asynchronously, its function marked slow); the answers of the calls
   * before it are kept. Throws (and the sandbox is broken) when the isolate died or hit its
   * memory limit: the calls of the batch all fail, as calls in flight in a dead host process do.
   */
  runBatch(calls: readonly BatchCall[]): BatchOutcome {
    const first = calls[0];
    if (first === undefined) return { answers: [] };
    if (!this.healthy) throw new DbError('UDF', `the sandbox for ${this.module.fileName} is gone`, { hint: 'retry the call' });
    const slice = this.syncSliceMs;
    this.entries++;
    const seq = ++this.batches;
    try {
      const out = this.checked(this.batchRef.applySync(undefined, [calls.length === 1 ? first.req : calls.map((c) => c.req).join('\n'), slice / 2, seq], { timeout: slice }));
      const answers = out.split('\n');
      if (answers.length > calls.length) throw this.failure(new Error(`the isolate answered ${answers.length} calls of a batch of ${calls.length}`), first.what, limitAtStart(first.timeoutMs, first.runBy));
      this.done(calls, answers.length);
      return { answers };
    } catch (err) {
      if (err instanceof DbError) throw err;
      if (!(isTimeout(err) && !this.isolate.isDisposed)) throw this.failure(err, first.what, limitAtStart(first.timeoutMs, first.runBy));
    }
    // stopped at the end of the slice: what had finished, and the call that was running
    let head: string;
    let answers: string[];
    try {
      // (a batch stopped before it began says "-2 0": no answers, no call running; all are run again)
      const partial = this.checked(this.partialRef.applySync(undefined, [seq], { timeout: PARTIAL_TIMEOUT_MS }));
      const nl = partial.indexOf('\n');
      head = nl < 0 ? partial : partial.slice(0, nl);
      answers = nl < 0 ? [] : partial.slice(nl + 1).split('\n');
    } catch (err) {
      throw this.failure(err, first.what, limitAtStart(first.timeoutMs, first.runBy));
    }
    const [current, startedAt] = head.split(' ').map(Number) as [number, number];
    if (answers.length > calls.length) throw this.failure(new Error(`the isolate answered ${answers.length} calls of a batch of ${calls.length}`), first.what, limitAtStart(first.timeoutMs, first.runBy));
    this.done(calls, answers.length);
    if (current !== answers.length || current >= calls.length) return { answers };
    this.calls++;
    this.syncCalls++;
    return { answers, overran: { ranMs: Math.min(slice, Math.max(0, Date.now() - startedAt)) } };
  }

  /**
   * Runs the calls lined up with `batch` during the last turn of the event loop, as the UDF host
   * runs a sandbox's lane: batches of the calls that are batchable, in order; a call stopped at
   * the end of a batch's slice is run again on its own (asynchronously, its function marked
   * slow); a call no longer batchable (its function was just marked slow, the isolate is busy
   * with the rerun) takes `call`'s own way. When the isolate dies in a batch, that batch's calls
   * fail, as in the host.
   */
  private readonly runLined = (): void => {
    const q = this.lined;
    this.lined = [];
    let i = 0;
    while (i < q.length) {
      const head = q[i] as (typeof q)[number];
      if (!this.healthy || !this.batchable(head.c)) {
        const { req, timeoutMs, what, runBy } = head.c;
        this.call(req, timeoutMs, what, runBy === undefined ? { repeatable: true } : { repeatable: true, runBy }).then(head.resolve, head.reject);
        i++;
        continue;
      }
      let j = i + 1;
      while (j < q.length && j - i < MAX_BATCH && this.batchable((q[j] as (typeof q)[number]).c)) j++;
      const part = q.slice(i, j);
      let outcome: BatchOutcome;
      try {
        outcome = this.runBatch(part.map((x) => x.c));
      } catch (err) {
        for (const x of part) x.reject(err);
        i = j;
        continue;
      }
      const answers = outcome.answers;
      for (let k = 0; k < answers.length; k++) (part[k] as (typeof q)[number]).resolve(answers[k] as string);
      i += answers.length;
      if (outcome.overran !== undefined) {
        const stopped = q[i] as (typeof q)[number];
        this.rerun(stopped.c, outcome.overran.ranMs).then(stopped.resolve, stopped.reject);
        i++;
      }
    }
  };

  /** Counts the first `n` calls of a batch as run synchronously (and forgets their functions' earlier overruns). */
  private done(calls: readonly BatchCall[], n: number): void {
    this.calls += n;
    this.syncCalls += n;
    if (this.slowMarks.size !== 0) for (let i = 0; i < n; i++) this.slowMarks.delete((calls[i] as BatchCall).what);
  }

  /** Runs again, asynchronously, a batch's call that overran the slice after `ranMs`: with its limit less that, its function marked slow. */
  rerun(c: BatchCall, ranMs: number): Promise<string> {
    if (!this.healthy) return Promise.reject(new DbError('UDF', `the sandbox for ${this.module.fileName} is gone`, { hint: 'retry the call' }));
    const limit = limitAtStart(c.timeoutMs, c.runBy);
    const mark = this.markSlow(c.what);
    this.rerunCalls++;
    let left = Math.max(1, limit - ranMs);
    if (c.runBy !== undefined) left = Math.min(left, limitAtStart(left, c.runBy));
    return this.runAsync(c.req, left, c.what, limit, mark);
  }

  /** Marks a function that overran its slice: longer each time it does so again soon. */
  private markSlow(what: string): SlowMark {
    const now = Date.now();
    const prev = this.slowMarks.get(what);
    // doubled when the function has not finished a synchronous call since its last overrun
    const markMs = prev !== undefined ? Math.min(SLOW_MARK_MS, prev.markMs * 2) : MIN_SLOW_MARK_MS;
    const mark = { until: now + markMs, markMs };
    this.slowMarks.set(what, mark);
    return mark;
  }

  private isSlow(what: string): boolean {
    if (this.slowMarks.size === 0) return false;
    const mark = this.slowMarks.get(what);
    if (mark === undefined) return false;
    const now = Date.now();
    if (mark.until > now) return true;
    if (now - mark.until > FORGET_SLOW_MS) this.slowMarks.delete(what);
    return false;
  }

  private checked(out: unknown): string {
    if (typeof out !== 'string') throw new DbError('UDF', `the sandbox returned ${typeof out} instead of a response`);
    return out;
  }

  /** The error for a call the isolate failed (time or memory limit, a dead isolate); the sandbox is not used again. */
  private failure(err: unknown, what: string, limit: number): DbError {
    this.broken = true;
    const message = err instanceof Error ? err.message : String(err);
    if (isTimeout(err)) return udfTimeout(what, limit);
    if (/memory limit/i.test(message) || this.isolate.isDisposed) return udfMemory(what, this.memoryLimitMb);
    if (/^Not supported/.test(message)) {
      return new DbError('UDF', `UDF error in ${what}: dynamic import() is not supported in UDF modules`, { hint: 'remove import() calls; UDFs cannot load code' });
    }
    return new DbError('UDF', `UDF error in ${what}: ${message}`, { hint: 'retry; the sandbox was replaced' });
  }

  /** Heap in use, bytes. */
  heapUsed(): number {
    if (this.isolate.isDisposed) return 0;
    const s = this.isolate.getHeapStatisticsSync();
    return s.used_heap_size + s.externally_allocated_size;
  }

  dispose(): void {
    this.broken = true;
    try {
      this.dispatchRef.release();
      this.batchRef.release();
      this.partialRef.release();
      this.context.release();
    } catch {
      // already gone with the isolate
    }
    if (!this.isolate.isDisposed) this.isolate.dispose();
  }
}
