/**
 * Stream UDFs (aggregations): the stages up to and including the first `reduce`/`groupBy` run
 * per batch source ("partial", where the data is), spread over up to `parallelism` sandboxes of
 * the module's pool; the final reduce merges the partials and runs the remaining stages. Each
 * pipeline lives in one sandbox as an `AggSession`; the whole run has one deadline.
 */
import { DbError } from '../errors/index.ts';
import type { BinValue, Bins } from '../model/index.ts';
import { decodeValue, encodeBins, encodeValue, type Wire } from './codec.ts';
import type { AggregationOptions, GuestResponse, UdfCall } from './calls.ts';
import type { ModuleVersion } from './registry.ts';
import type { SandboxPool } from './pool.ts';
import type { UdfSandbox } from './sandbox.ts';

/** What aggregations need from the engine: modules, pools, time limits, response parsing. */
export interface AggregationRuntime {
  /** The module's current version (UDF error when not registered). */
  module(name: string): ModuleVersion;
  poolFor(mod: ModuleVersion): SandboxPool;
  withSandbox<T>(mod: ModuleVersion, fn: (s: UdfSandbox) => Promise<T>): Promise<T>;
  timeLimit(requested: number | undefined, aggregation: boolean): number;
  parse(json: string, mod: ModuleVersion, fn: string): GuestResponse;
  readonly poolSize: number;
}

/** Runs aggregations for one engine. */
export class Aggregations {
  private readonly rt: AggregationRuntime;
  private sid = 0;

  constructor(runtime: AggregationRuntime) {
    this.rt = runtime;
  }

  /** Runs the whole aggregation on this node: partials over the batches, then the final merge. */
  async runAggregation(call: UdfCall, batches: AsyncIterable<readonly Bins[]> | Iterable<readonly Bins[]>, options: AggregationOptions = {}): Promise<BinValue[]> {
    const deadline = Date.now() + this.rt.timeLimit(call.timeoutMs, true);
    const partials = await this.partial(call, batches, deadline, options);
    return this.final(call, partials, deadline);
  }

  /** The per-partition phase: stages up to and including the first reduce/groupBy. */
  async aggregatePartial(call: UdfCall, batches: AsyncIterable<readonly Bins[]> | Iterable<readonly Bins[]>, options: AggregationOptions = {}): Promise<BinValue[]> {
    const deadline = Date.now() + this.rt.timeLimit(call.timeoutMs, true);
    return (await this.partial(call, batches, deadline, options)).map((w) => decodeValue(w));
  }

  /** The final phase on the receiving node: the first reduce again over all partials, then the rest. */
  aggregateFinal(call: UdfCall, partials: readonly BinValue[]): Promise<BinValue[]> {
    const deadline = Date.now() + this.rt.timeLimit(call.timeoutMs, true);
    return this.final(call, partials.map(encodeValue), deadline);
  }

  private async final(call: UdfCall, partials: readonly Wire[], deadline: number): Promise<BinValue[]> {
    const mod = this.rt.module(call.module);
    return this.rt.withSandbox(mod, async (s) => {
      const session = new AggSession(this, s, mod, call, 'final', deadline);
      await session.start();
      await session.feed('values', partials);
      return (await session.end()).map((w) => decodeValue(w));
    });
  }

  private async partial(call: UdfCall, batches: AsyncIterable<readonly Bins[]> | Iterable<readonly Bins[]>, deadline: number, options: AggregationOptions): Promise<Wire[]> {
    const mod = this.rt.module(call.module);
    const pool = this.rt.poolFor(mod);
    const width = Math.max(1, Math.min(options.parallelism ?? this.rt.poolSize, this.rt.poolSize));
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
    return new DbError('UDF', `UDF Execution Timeout: aggregation ${mod.packageName}.${call.fn} ran longer than ${this.rt.timeLimit(call.timeoutMs, true)} ms`, {
      hint: 'aggregate fewer records (add a WHERE), make the stream functions cheaper, or raise the timeout',
    });
  }

  nextSessionId(): number {
    return ++this.sid;
  }

  /** @internal parses a guest response, turning a guest error into a UdfError. */
  parse(json: string, mod: ModuleVersion, fn: string): GuestResponse {
    return this.rt.parse(json, mod, fn);
  }
}

/** One aggregation pipeline living in one sandbox. */
class AggSession {
  readonly sandbox: UdfSandbox;
  private readonly engine: Aggregations;
  private readonly mod: ModuleVersion;
  private readonly call: UdfCall;
  private readonly phase: 'partial' | 'final';
  private readonly deadline: number;
  private readonly sid: number;
  private open = false;

  constructor(engine: Aggregations, sandbox: UdfSandbox, mod: ModuleVersion, call: UdfCall, phase: 'partial' | 'final', deadline: number) {
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
