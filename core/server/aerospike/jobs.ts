/**
 * Background queries started over the Aerospike protocol, by the client's task id: UDF jobs
 * run by the node's UDF jobs (UdfJobs), operation-list jobs run here over a kernel scan.
 * `query-show:id=<task id>` reports them in the grammar the clients poll.
 */
import type { UdfJobs } from '../../udf/jobs.ts';
import type { Kernel, ScanRequest } from '../../transaction/kernel.ts';
import type { Operation } from '../../transaction/operations.ts';
import type { WritePolicy } from '../../transaction/policy.ts';

interface OpsJob {
  readonly kind: 'ops';
  readonly namespace: string;
  readonly set: string | undefined;
  status: 'active' | 'done' | 'failed' | 'killed';
  read: number;
  succeeded: number;
  failed: number;
  readonly abort: AbortController;
}

interface UdfJob {
  readonly kind: 'udf';
  readonly id: number;
}

const MAX_JOBS = 1000;

export class JobTracker {
  private readonly jobs = new Map<string, OpsJob | UdfJob>();
  private readonly udfJobs: () => UdfJobs | undefined;

  constructor(udfJobs: () => UdfJobs | undefined) {
    this.udfJobs = udfJobs;
  }

  private remember(trid: string, job: OpsJob | UdfJob): void {
    this.jobs.set(trid, job);
    if (this.jobs.size > MAX_JOBS) this.jobs.delete(this.jobs.keys().next().value as string);
  }

  trackUdf(trid: string, id: number): void {
    this.remember(trid, { kind: 'udf', id });
  }

  /** Starts applying `ops` to every record the scan yields. */
  startOps(trid: string, kernel: Kernel, scan: ScanRequest, ops: readonly Operation[], policy: WritePolicy, recordsPerSecond: number): void {
    const abort = new AbortController();
    const job: OpsJob = { kind: 'ops', namespace: scan.namespace, set: scan.set, status: 'active', read: 0, succeeded: 0, failed: 0, abort };
    this.remember(trid, job);
    const started = Date.now();
    void (async () => {
      for await (const rec of kernel.scan({ ...scan, noBins: true, signal: abort.signal })) {
        if (abort.signal.aborted) break;
        job.read++;
        if (recordsPerSecond > 0) {
          const wait = started + (job.read * 1000) / recordsPerSecond - Date.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        }
        try {
          await kernel.operate(rec.key, ops, policy);
          job.succeeded++;
        } catch {
          job.failed++;
        }
      }
    })().then(
      () => { if (job.status === 'active') job.status = abort.signal.aborted ? 'killed' : 'done'; },
      () => { if (job.status === 'active') job.status = abort.signal.aborted ? 'killed' : 'failed'; },
    );
  }

  show(trid: string): string | undefined {
    const job = this.jobs.get(trid);
    if (job === undefined) return undefined;
    if (job.kind === 'ops') {
      const status = job.status === 'active' ? 'active(ok)' : `done(${job.status === 'done' ? 'ok' : job.status})`;
      return `trid=${trid}:job-type=background-ops:ns=${job.namespace}:set=${job.set ?? ''}:status=${status}:job-progress=${job.status === 'active' ? '0.00' : '100.00'}:recs-read=${job.read}:recs-succeeded=${job.succeeded}:recs-failed=${job.failed}`;
    }
    const info = this.udfJobs()?.get(job.id);
    if (info === undefined) return undefined;
    const status = info.status === 'running' ? 'active(ok)' : `done(${info.status === 'done' ? 'ok' : info.status})`;
    const progress = info.status === 'running' ? (info.total === undefined || info.total === 0 ? 0 : Math.min(99.99, (info.done * 100) / info.total)) : 100;
    return `trid=${trid}:job-type=background-udf:ns=${info.namespace}:set=${info.set ?? ''}:udf-filename=${info.module}:udf-function=${info.fn}:status=${status}:job-progress=${progress.toFixed(2)}:recs-read=${info.done}:recs-succeeded=${info.succeeded}:recs-failed=${info.failed}`;
  }

  list(): string[] {
    return [...this.jobs.keys()].map((t) => this.show(t)).filter((s): s is string => s !== undefined);
  }

  abort(trid: string): boolean {
    const job = this.jobs.get(trid);
    if (job === undefined) return false;
    if (job.kind === 'ops') {
      if (job.status !== 'active') return false;
      job.abort.abort();
      job.status = 'killed';
      return true;
    }
    return this.udfJobs()?.kill(job.id) ?? false;
  }

  close(): void {
    for (const j of this.jobs.values()) if (j.kind === 'ops') j.abort.abort();
  }
}
