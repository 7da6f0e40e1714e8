/**
 * UDFs over queries: the one place that decides which records a stream UDF or a background job
 * visits (a scan of a namespace or set, or a filtered query that a secondary index answers when
 * one fits) and runs record UDFs, aggregations and jobs over them. The gRPC UdfService and the
 * AQL statements (EXECUTE, AGGREGATE, SHOW JOBS, KILL JOB) both go through it, so they behave
 * alike. Found on a node with `services.get(UDF_RUNNER_KEY)` (core/services).
 */
import { DbError } from '../errors/index.ts';
import type { BinValue, DbRecord, RecordKey } from '../model/index.ts';
import type { Kernel } from '../transaction/kernel.ts';
import type { Operation } from '../transaction/operations.ts';
import { DEFAULT_WRITE_POLICY, type WritePolicy } from '../transaction/policy.ts';
import type { UdfCall, UdfEngine } from '../udf/engine.ts';
import type { JobInfo, UdfJobs } from '../udf/jobs.ts';
import { aggregateRecords, executeRecordUdf, type RecordUdfOutcome } from '../udf/kernel-bridge.ts';
import { compileFilter, type Expr } from './expr/index.ts';
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

export class UdfRunner {
  readonly kernel: Kernel;
  readonly engine: UdfEngine;
  readonly jobs: UdfJobs;
  private readonly query: () => QuerySubsystem | undefined;

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

  /** The records of a target: a query when it has a filter and the node has indexes, else a scan. */
  async *records(target: UdfTargetSpec, signal: AbortSignal, noBins = false): AsyncGenerator<DbRecord> {
    this.kernel.namespace(target.namespace);
    const q = this.query();
    if (target.where !== undefined && q !== undefined) {
      const spec = { namespace: target.namespace, ...(target.set === undefined ? {} : { set: target.set }), where: target.where, ...(noBins ? { bins: [] } : {}) };
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
      ...(keep === undefined ? {} : { filter: (r: DbRecord) => keep(recordContext(r, this.kernel.clock.now())) }),
      ...(noBins && keep === undefined ? { noBins: true } : {}),
      signal,
    });
  }

  /** A stream UDF over a target; the final values (the whole pipeline runs on this node). */
  aggregate(call: UdfCall, target: UdfTargetSpec, signal: AbortSignal): Promise<BinValue[]> {
    this.requireFunction(call);
    return aggregateRecords(this.engine, call, this.records(target, signal), { signal });
  }

  /** Starts a background job applying a record UDF to every record of a target. */
  async startJob(call: UdfCall, target: UdfTargetSpec, recordsPerSecond: number, policy: WritePolicy = DEFAULT_WRITE_POLICY): Promise<JobInfo> {
    this.kernel.namespace(target.namespace);
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
