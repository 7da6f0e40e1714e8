/**
 * UDFs over queries: the one place that decides which records a stream UDF or a background job
 * visits (a scan of a namespace or set, or a filtered query that a secondary index answers when
 * one fits) and runs record UDFs, aggregations and jobs over them. The gRPC UdfService and the
 * AQL statements (EXECUTE, AGGREGATE, SHOW JOBS, KILL JOB) both go through it, so they behave
 * alike. Found on a node with `services.get(UDF_RUNNER_KEY)` (core/services).
 */
import { DbError } from '../errors/index.ts';
import { N_PARTITIONS, type BinValue, type DbRecord, type RecordKey } from '../model/index.ts';
import type { NodeId } from '../plugin-api/index.ts';
import type { RemoteCalls } from '../replication/remote-calls.ts';
import { runLocally } from '../transaction/forwarding.ts';
import type { Kernel } from '../transaction/kernel.ts';
import type { Operation } from '../transaction/operations.ts';
import { answerBy, deadlinePassed, DEFAULT_WRITE_POLICY, type WritePolicy } from '../transaction/policy.ts';
import type { UdfCall, UdfEngine } from '../udf/engine.ts';
import type { JobInfo, UdfJobs } from '../udf/jobs.ts';
import { aggregateRecords, binBatches, executeRecordUdf, type RecordUdfOutcome } from '../udf/kernel-bridge.ts';
import { compileFilter, type Expr } from './expr/index.ts';
import { exprFromJsonText, exprToJsonText } from './expr/json.ts';
import {
  AGGREGATE_SHARE_KIND, clusterPartials, decodeAggregateShare, decodePartials, encodeAggregateShare, encodePartials, type AggregateShareRequest,
} from './cluster-aggregation.ts';
import { recordContext } from './query-engine.ts';
import type { QuerySubsystem } from './query-engine-service.ts';

/** Which records a stream UDF or job visits. */
export interface UdfTargetSpec {
  readonly namespace: string;
  /** Only this set ('' is the null set); the whole namespace when absent. */
  readonly set?: string;
  /** Only records this filter keeps. */
  readonly where?: Expr;
}

/** How long a node that is still catching up on the cluster's modules lets a call wait before it refuses. */
const CATCH_UP_WAIT_MS = 2000;
/** How long a master waits for its partitions of a share to be filled before it refuses (the share is retried). */
const SHARE_FILL_WAIT_MS = 2000;

export class UdfRunner {
  readonly kernel: Kernel;
  readonly engine: UdfEngine;
  readonly jobs: UdfJobs;
  private readonly query: () => QuerySubsystem | undefined;
  private calls: RemoteCalls | undefined;

  /** `query` finds the node's query subsystem, when it has one (filters then use its indexes). */
  constructor(kernel: Kernel, engine: UdfEngine, jobs: UdfJobs, query: () => QuerySubsystem | undefined = () => undefined) {
    this.kernel = kernel;
    this.engine = engine;
    this.jobs = jobs;
    this.query = query;
  }

  /** A record UDF on one record, under its lock. */
  apply(key: RecordKey, call: UdfCall, policy: WritePolicy = DEFAULT_WRITE_POLICY): Promise<RecordUdfOutcome> {
    return executeRecordUdf(this.kernel, this.engine, key, call, policy);
  }

  /**
   * On a cluster node: aggregations run their partial phase on the partitions' masters, reached
   * through `calls`, and this node serves the shares other nodes ask of it (cluster-aggregation.ts).
   */
  useCluster(calls: RemoteCalls): void {
    this.calls = calls;
    calls.serve(AGGREGATE_SHARE_KIND, async (_from, body) => encodePartials(await this.aggregateShare(decodeAggregateShare(body))));
  }

  /** The records of a target: a query when it has a filter and the node has indexes, else a scan. */
  async *records(target: UdfTargetSpec, signal: AbortSignal, noBins = false, partitions?: readonly number[]): AsyncGenerator<DbRecord> {
    this.kernel.namespace(target.namespace);
    const q = this.query();
    if (target.where !== undefined && q !== undefined) {
      const spec = {
        namespace: target.namespace, ...(target.set === undefined ? {} : { set: target.set }), where: target.where, ...(noBins ? { bins: [] } : {}),
        ...(partitions === undefined ? {} : { partitions: { ids: partitions } }),
      };
      for await (const row of q.engine.query(spec)) {
        if (signal.aborted) return;
        yield row.record;
      }
      return;
    }
    const keep = target.where === undefined ? undefined : compileFilter(target.where);
    yield* this.kernel.scan({
      namespace: target.namespace,
      ...(target.set === undefined ? {} : { set: target.set }),
      ...(partitions === undefined ? {} : { partitions }),
      ...(keep === undefined ? {} : { filter: (r: DbRecord) => keep(recordContext(r, this.kernel.clock.now())) }),
      ...(noBins && keep === undefined ? { noBins: true } : {}),
      signal,
    });
  }

  /**
   * A stream UDF over a target; the final values. On one node (or when this node masters every
   * partition) the whole pipeline runs here; on a cluster each master runs the partial phase over
   * the partitions it masters and this node the final phase over their partials.
   *
   * With the client's `deadline` (the node's clock): the UDF's own time limit never runs past it
   * (here and on every master), and a little before it (answerBy) the aggregation fails TIMEOUT —
   * the records' scan stops, no master is asked for a share after that and none is waited for.
   */
  async aggregate(call: UdfCall, target: UdfTargetSpec, signal: AbortSignal, deadline?: number): Promise<BinValue[]> {
    if (deadline === undefined) return this.aggregateBy(call, target, signal, undefined);
    const clock = this.kernel.clock;
    const now = clock.now();
    const by = answerBy(deadline, now);
    const limited: UdfCall = { ...call, timeoutMs: Math.max(1, Math.min(this.engine.timeLimit(call.timeoutMs, true), Math.floor(deadline - now))) };
    const stop = new AbortController();
    const cancel = (): void => stop.abort();
    signal.addEventListener('abort', cancel, { once: true });
    let timer: ReturnType<typeof clock.setTimeout> | undefined;
    const work = this.aggregateBy(limited, target, stop.signal, deadline);
    work.catch(() => {}); // past the deadline its outcome is no longer awaited
    try {
      return await Promise.race([work, new Promise<never>((_, reject) => {
        timer = clock.setTimeout(() => {
          stop.abort();
          reject(deadlinePassed('aggregation'));
        }, Math.max(0, by - now));
      })]);
    } finally {
      if (timer !== undefined) clock.clearTimeout(timer);
      signal.removeEventListener('abort', cancel);
    }
  }

  /** The aggregation; another master's share is not waited for past `deadline` (the client's). */
  private async aggregateBy(call: UdfCall, target: UdfTargetSpec, signal: AbortSignal, deadline: number | undefined): Promise<BinValue[]> {
    this.kernel.namespace(target.namespace);
    await this.caughtUp(call);
    this.requireFunction(call);
    const calls = this.calls;
    const router = this.kernel.router;
    const partitions = Array.from({ length: N_PARTITIONS }, (_, i) => i);
    if (calls === undefined || partitions.every((p) => router.masterOf(target.namespace, p) === router.localNode)) {
      return aggregateRecords(this.engine, call, this.records(target, signal), { signal });
    }
    const clock = this.kernel.clock;
    const sync = this.engine.moduleSync;
    const { runBy: _local, ...shared } = call;
    const template: Omit<AggregateShareRequest, 'partitions'> = {
      call: shared, namespace: target.namespace, ...(target.set === undefined ? {} : { set: target.set }),
      ...(target.where === undefined ? {} : { where: exprToJsonText(target.where) }),
      ...(sync === undefined ? {} : { modules: { node: sync.localNode, digest: sync.digest() } }),
    };
    const limitMs = this.engine.timeLimit(call.timeoutMs, true);
    const partials = await clusterPartials(template, partitions, {
      localNode: router.localNode,
      masterOf: (ns, p) => this.kernel.router.masterOf(ns, p),
      now: () => clock.now(),
      pause: (ms) => new Promise<void>((r) => clock.setTimeout(r, ms)),
      share: async (node: NodeId, req) => {
        if (signal.aborted) throw new DbError('QUERY_ABORTED', 'the aggregation was cancelled');
        if (node === router.localNode) return this.aggregateShare(req);
        // another master's share is waited for until its time limit (and a margin for the answer), not past the client's deadline
        const waitMs = Math.max(1, Math.min(limitMs + 5000, (deadline ?? Infinity) - clock.now()));
        return decodePartials(await calls.call(node, AGGREGATE_SHARE_KIND, encodeAggregateShare(req), { deadlineMs: waitMs, fabricKind: 'proxy' }));
      },
    }, Math.min(clock.now() + limitMs, deadline ?? Infinity));
    return this.engine.aggregateFinal(call, partials);
  }

  /**
   * A master's share of an aggregation another node (or this one) received: the partial phase
   * over the records of the partitions it masters — with the asking node's modules or newer, only
   * for partitions it masters and has filled, checked again at the end (else UNAVAILABLE: the
   * asking node runs the share again by its new map).
   */
  async aggregateShare(req: AggregateShareRequest): Promise<BinValue[]> {
    const sync = this.engine.moduleSync;
    if (req.modules !== undefined && sync !== undefined && req.modules.node !== sync.localNode) await sync.catchUpFrom(req.modules.node, req.modules.digest);
    const router = this.kernel.router;
    const mastered = (): void => {
      for (const p of req.partitions) {
        if (router.masterOf(req.namespace, p) !== router.localNode) {
          throw new DbError('UNAVAILABLE', `partition ${p} of namespace '${req.namespace}' is not mastered here any more`, { hint: 'ask its new master' });
        }
      }
    };
    mastered();
    const m = this.kernel.migration;
    if (m !== undefined && req.partitions.some((p) => m.filling(req.namespace, p))) {
      const clock = this.kernel.clock;
      let timer: ReturnType<typeof clock.setTimeout> | undefined;
      const filled = await Promise.race([
        m.waitFilled(req.namespace, req.partitions).then(() => true),
        new Promise<boolean>((r) => { timer = clock.setTimeout(() => r(false), SHARE_FILL_WAIT_MS); }),
      ]);
      if (timer !== undefined) clock.clearTimeout(timer);
      if (!filled) throw new DbError('UNAVAILABLE', `partitions of namespace '${req.namespace}' are still being filled here`, { hint: 'retry once migrations are done' });
    }
    const target: UdfTargetSpec = {
      namespace: req.namespace, ...(req.set === undefined ? {} : { set: req.set }), ...(req.where === undefined ? {} : { where: exprFromJsonText(req.where) }),
    };
    const signal = new AbortController().signal;
    const partials = await runLocally(() => this.engine.aggregatePartial(req.call, binBatches(this.records(target, signal, false, req.partitions))));
    mastered();
    return partials;
  }

  /** Starts a background job applying a record UDF to every record of a target. */
  async startJob(call: UdfCall, target: UdfTargetSpec, recordsPerSecond: number, policy: WritePolicy = DEFAULT_WRITE_POLICY): Promise<JobInfo> {
    this.kernel.namespace(target.namespace);
    await this.caughtUp(call);
    this.requireFunction(call);
    return this.jobs.start({ call, ...(await this.jobTarget(target)), recordsPerSecond, policy });
  }

  /**
   * A background job applying write operations to every record of the target (Aerospike's
   * background operations): same throttle, progress and kill as UDF jobs. Records that vanish
   * meanwhile are counted as failed (NOT_FOUND), never re-created.
   */
  async startOperationJob(operations: readonly Operation[], target: UdfTargetSpec, recordsPerSecond: number, policy: WritePolicy = DEFAULT_WRITE_POLICY): Promise<JobInfo> {
    this.kernel.namespace(target.namespace);
    if (policy.exists === 'createOnly') {
      throw new DbError('PARAMETER', 'a background operations job visits existing records, so createOnly would fail on every one', { hint: 'leave exists unset (update) or use replace' });
    }
    return this.jobs.start({ operations, ...(await this.jobTarget(target)), recordsPerSecond, policy });
  }

  /**
   * What a background job visits: the target's namespace and set, its records, and how many
   * there are when known (a whole namespace or set; not a query's matches).
   */
  private async jobTarget(target: UdfTargetSpec): Promise<{ namespace: string; set?: string; records: (signal: AbortSignal) => AsyncIterable<DbRecord>; total?: number }> {
    let total: number | undefined;
    if (target.where === undefined) {
      const st = await this.kernel.namespace(target.namespace).engine.stats();
      total = target.set === undefined ? st.records : st.sets.get(target.set) ?? (target.set === '' ? undefined : 0);
    }
    return {
      namespace: target.namespace,
      ...(target.set === undefined ? {} : { set: target.set }),
      records: (signal) => this.records(target, signal, true),
      ...(total === undefined ? {} : { total }),
    };
  }

  /**
   * On a cluster: a node that does not yet hold the modules of the cluster it is in (it just
   * joined) waits a little, then refuses rather than run an older module or miss a new one.
   */
  private async caughtUp(call: UdfCall): Promise<void> {
    const sync = this.engine.moduleSync;
    if (sync !== undefined && !(await sync.whenCaughtUp(CATCH_UP_WAIT_MS))) {
      throw new DbError('UNAVAILABLE', `this node is still receiving the cluster's UDF modules; ${call.module} was not run`, {
        hint: 'retry in a moment: the node joined the cluster and is catching up on its system metadata',
      });
    }
  }

  /** Fails at once (rather than per record) when the module or function does not exist. */
  private requireFunction(call: UdfCall): void {
    const mod = this.engine.registry.require(call.module);
    if (!mod.functions.includes(call.fn)) {
      throw new DbError('UDF', `function '${call.fn}' is not exported by module '${mod.packageName}'`, {
        hint: `its functions: ${[...mod.functions].sort().join(', ')}`,
      });
    }
  }
}

/** Progress of a job in percent (100 once it has ended; 0 while its size is unknown). */
export function jobProgress(j: JobInfo): number {
  if (j.status !== 'running') return 100;
  if (j.total === undefined || j.total === 0) return 0;
  return Math.min(100, (j.done / j.total) * 100);
}
