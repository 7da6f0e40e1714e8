/**
 * Background jobs: apply a record UDF — or a list of write operations (Aerospike's background
 * operations) — to every record a scan or query yields, throttled to a records-per-second rate,
 * each record in its own locked transaction (as Aerospike's background query does). Jobs are
 * listed with progress and can be killed.
 */
import { DbError } from '../errors/index.ts';
import type { DbRecord, RecordKey } from '../model/index.ts';
import type { Kernel } from '../transaction/kernel.ts';
import { DEFAULT_WRITE_POLICY, type WritePolicy } from '../transaction/policy.ts';
import { isWriteOperation, type Operation } from '../transaction/operations.ts';
import type { UdfCall, UdfEngine } from './engine.ts';
import { executeRecordUdf } from './kernel-bridge.ts';

export type JobStatus = 'running' | 'done' | 'failed' | 'killed';

export interface JobInfo {
  readonly id: number;
  /** The UDF's module and function ('' for an operations job). */
  readonly module: string;
  readonly fn: string;
  /** How many operations an operations job applies to each record (0 for a UDF job). */
  readonly operations: number;
  readonly namespace: string;
  readonly set: string | undefined;
  readonly status: JobStatus;
  readonly recordsPerSecond: number;
  /** Records the UDF was applied to. */
  readonly done: number;
  readonly succeeded: number;
  readonly failed: number;
  /** Records the job will visit, when known (for progress). */
  readonly total: number | undefined;
  readonly startedMs: number;
  readonly endedMs: number | undefined;
  /** The first few failures (result code and message). */
  readonly errors: readonly string[];
}

export interface StartJob {
  /** What to apply to each record: a record UDF, or write operations (exactly one of the two). */
  readonly call?: UdfCall;
  readonly operations?: readonly Operation[];
  readonly namespace: string;
  readonly set?: string;
  /** The records to visit (only their keys are used); produced lazily. */
  readonly records: (signal: AbortSignal) => AsyncIterable<DbRecord>;
  /** 0 = unthrottled. */
  readonly recordsPerSecond?: number;
  readonly total?: number;
  readonly policy?: WritePolicy;
}

interface Job {
  info: { -readonly [K in keyof JobInfo]: JobInfo[K] };
  abort: AbortController;
  finished: Promise<void>;
}

const MAX_ERRORS = 10;
const MAX_FINISHED = 100;

export class UdfJobs {
  private readonly kernel: Kernel;
  private readonly engine: UdfEngine;
  private readonly jobs = new Map<number, Job>();
  private nextId = 1;

  constructor(kernel: Kernel, engine: UdfEngine) {
    this.kernel = kernel;
    this.engine = engine;
  }

  start(req: StartJob): JobInfo {
    if ((req.call === undefined) === (req.operations === undefined)) throw new DbError('PARAMETER', 'a background job applies either a UDF or operations');
    if (req.call !== undefined) this.engine.registry.require(req.call.module);
    if (req.operations !== undefined) checkJobOperations(req.operations);
    const rps = req.recordsPerSecond ?? 0;
    if (!Number.isFinite(rps) || rps < 0) throw new DbError('PARAMETER', `records per second must be 0 or more, got ${rps}`);
    const id = this.nextId++;
    const abort = new AbortController();
    const job: Job = {
      info: {
        id, module: req.call?.module ?? '', fn: req.call?.fn ?? '', operations: req.operations?.length ?? 0, namespace: req.namespace, set: req.set, status: 'running', recordsPerSecond: rps,
        done: 0, succeeded: 0, failed: 0, total: req.total, startedMs: Date.now(), endedMs: undefined, errors: [],
      },
      abort,
      finished: Promise.resolve(),
    };
    job.finished = this.run(job, req).then(
      () => { if (job.info.status === 'running') job.info.status = 'done'; },
      (err: unknown) => {
        if (job.info.status === 'running') {
          job.info.status = abort.signal.aborted ? 'killed' : 'failed';
          if (!abort.signal.aborted) job.info.errors = [...job.info.errors, err instanceof Error ? err.message : String(err)].slice(0, MAX_ERRORS);
        }
      },
    ).finally(() => { job.info.endedMs = Date.now(); this.prune(); });
    this.jobs.set(id, job);
    return { ...job.info };
  }

  private async run(job: Job, req: StartJob): Promise<void> {
    const rps = job.info.recordsPerSecond;
    const started = Date.now();
    const signal = job.abort.signal;
    for await (const rec of req.records(signal)) {
      if (signal.aborted) break;
      if (rps > 0) {
        // pace: the n-th record may start at started + n/rps
        const due = started + (job.info.done * 1000) / rps;
        const wait = due - Date.now();
        if (wait > 0) await sleep(wait, signal);
        if (signal.aborted) break;
      }
      const key: RecordKey = rec.key;
      try {
        if (req.call !== undefined) await executeRecordUdf(this.kernel, this.engine, key, req.call, req.policy ?? DEFAULT_WRITE_POLICY);
        else {
          // the record was found by the scan: never re-create one deleted meanwhile
          const p = req.policy ?? DEFAULT_WRITE_POLICY;
          await this.kernel.operate(key, req.operations ?? [], { ...p, exists: p.exists === 'replace' || p.exists === 'replaceOnly' ? 'replaceOnly' : 'updateOnly' });
        }
        job.info.succeeded++;
      } catch (err) {
        job.info.failed++;
        if (job.info.errors.length < MAX_ERRORS) {
          const e = err as { resultCode?: number; message?: string };
          job.info.errors = [...job.info.errors, `${e.resultCode ?? '?'}: ${e.message ?? String(err)}`];
        }
      }
      job.info.done++;
    }
  }

  list(): JobInfo[] {
    return [...this.jobs.values()].map((j) => ({ ...j.info })).sort((a, b) => a.id - b.id);
  }

  get(id: number): JobInfo | undefined {
    const j = this.jobs.get(id);
    return j === undefined ? undefined : { ...j.info };
  }

  /** Stops a running job; false when it had already ended. */
  kill(id: number): boolean {
    const j = this.jobs.get(id);
    if (j === undefined) throw new DbError('PARAMETER', `no UDF job ${id}`, { hint: 'SHOW JOBS lists the jobs' });
    if (j.info.status !== 'running') return false;
    j.info.status = 'killed';
    j.abort.abort();
    return true;
  }

  /** Resolves when the job has ended. */
  async wait(id: number): Promise<JobInfo> {
    const j = this.jobs.get(id);
    if (j === undefined) throw new DbError('PARAMETER', `no UDF job ${id}`);
    await j.finished;
    return { ...j.info };
  }

  async close(): Promise<void> {
    for (const j of this.jobs.values()) if (j.info.status === 'running') this.kill(j.info.id);
    await Promise.allSettled([...this.jobs.values()].map((j) => j.finished));
  }

  private prune(): void {
    const ended = [...this.jobs.values()].filter((j) => j.info.status !== 'running');
    for (const j of ended.slice(0, Math.max(0, ended.length - MAX_FINISHED))) this.jobs.delete(j.info.id);
  }
}

/**
 * An operations job writes: at least one operation, and no reads (a job returns nothing per
 * record, so a read would be silently thrown away — Aerospike refuses them too).
 */
function checkJobOperations(ops: readonly Operation[]): void {
  if (ops.length === 0) throw new DbError('PARAMETER', 'a background operations job needs at least one operation');
  const read = ops.findIndex((op) => !isWriteOperation(op));
  if (read >= 0) {
    throw new DbError('PARAMETER', `operation ${read} of the background job reads, and a background job returns nothing per record`, {
      hint: 'use only write operations (write, add, append, touch, delete, list/map/bit writes)',
    });
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
