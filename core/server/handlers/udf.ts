/**
 * The UdfService gRPC handlers: modules, record UDFs, aggregations and background jobs, over a
 * node's UdfRunner. Errors keep their numeric result code (`err.resultCode`), so a UDF's own
 * code (`throw new Error('1000:…')`) reaches the client as 1000.
 */
import type { Deadline } from '@grpc/grpc-js';
import { DbError } from '../../errors/index.ts';
import { answerBy } from '../../transaction/policy.ts';
import type { Logger } from '../../plugin-api/index.ts';
import { jobProgress, type UdfRunner, type UdfTargetSpec } from '../../query/udf-runner.ts';
import { exprFromJsonText } from '../../query/expr/index.ts';
import type { UdfCall } from '../../udf/engine.ts';
import type { JobInfo } from '../../udf/jobs.ts';
import type { ModuleVersion } from '../../udf/registry.ts';
import type {
  JobInfo as PbJobInfo, ModuleInfo, UdfCall as PbUdfCall, UdfServiceAggregateResponse, UdfServiceServer, UdfTarget,
} from '../../wire/generated/slipstream/v1/udf.ts';
import { fromPbValue, toPbMeta, toPbValue } from '../../wire/convert.ts';
import { callDeadline, callWritePolicy, fromPbKey, fromPbWritePolicy, refusePolicyFields, JOB_REFUSES, RECORD_UDF_REFUSES } from './request-mapping.ts';
import { serverStream, unary } from '../rpc.ts';

export function toModuleInfo(m: ModuleVersion): ModuleInfo {
  return {
    fileName: m.fileName, packageName: m.packageName, type: m.type, hash: m.hash, registeredAtMs: BigInt(Math.floor(m.registeredAtMs)),
    functions: [...m.functions].sort(), sizeBytes: BigInt(Buffer.byteLength(m.source, 'utf8')),
  };
}

export function toPbJob(j: JobInfo): PbJobInfo {
  return {
    id: BigInt(j.id), module: j.module, function: j.fn, namespace: j.namespace, ...(j.set === undefined ? {} : { set: j.set }),
    status: j.status, recordsPerSecond: Math.round(j.recordsPerSecond), done: BigInt(j.done), succeeded: BigInt(j.succeeded), failed: BigInt(j.failed),
    ...(j.total === undefined ? {} : { total: BigInt(j.total) }), progressPct: jobProgress(j), startedMs: BigInt(j.startedMs),
    endedMs: BigInt(j.endedMs ?? 0), errors: [...j.errors], operations: j.operations,
  };
}

/**
 * When a UDF bounded by the call's deadline must have stopped (epoch ms), so that its own timeout
 * error reaches the client first: the deadline less a quarter of the time left (at most 1 s) for
 * the answer's way back on a busy machine; undefined when the call has no deadline.
 */
function runByOf(deadline: Deadline): number | undefined {
  const at = deadline instanceof Date ? deadline.getTime() : deadline;
  return Number.isFinite(at) ? answerBy(at, Date.now()) : undefined;
}

export function callOf(pb: PbUdfCall | undefined, deadline: Deadline): UdfCall {
  if (pb === undefined || pb.module === '' || pb.function === '') {
    throw new DbError('PARAMETER', 'the request names no UDF', { hint: 'set call.module and call.function' });
  }
  // the call's own limit, but never past the client's deadline: a UDF whose caller has gone
  // stops then and frees its pool slot (a record UDF's limit is cut again when it starts to run:
  // time spent getting a sandbox comes out of it)
  const runBy = runByOf(deadline);
  const left = runBy === undefined ? undefined : Math.max(1, Math.floor(runBy - Date.now()));
  const timeoutMs = pb.timeoutMs > 0 ? (left === undefined ? pb.timeoutMs : Math.min(pb.timeoutMs, left)) : left;
  return {
    module: pb.module, fn: pb.function, args: pb.args.map((a) => fromPbValue(a)),
    ...(timeoutMs === undefined ? {} : { timeoutMs }), ...(runBy === undefined ? {} : { runBy }),
  };
}

export function targetOf(t: UdfTarget | undefined): UdfTargetSpec {
  if (t === undefined || t.namespace === '') throw new DbError('PARAMETER', 'the request names no namespace', { hint: 'set target.namespace (and target.set)' });
  return {
    namespace: t.namespace,
    ...(t.set === undefined ? {} : { set: t.set }),
    ...(t.filterJson === '' ? {} : { where: exprFromJsonText(t.filterJson) }),
  };
}

/** The UdfService handlers over a node's UDF runner. */
export function udfHandlers(runner: UdfRunner, nowMs: () => number, logger: Logger): UdfServiceServer {
  const { engine, jobs, kernel } = runner;
  return {
    registerModule: unary(logger, 'RegisterModule', async (req) => ({ module: toModuleInfo(await engine.register(req.fileName, req.source)) })),
    listModules: unary(logger, 'ListModules', async () => ({ modules: engine.listModules().map(toModuleInfo) })),
    getModule: unary(logger, 'GetModule', async (req) => {
      const m = engine.registry.require(req.name);
      return { module: toModuleInfo(m), source: m.source };
    }),
    removeModule: unary(logger, 'RemoveModule', async (req) => {
      await engine.removeModule(req.name);
      return {};
    }),
    applyRecordUdf: unary(logger, 'ApplyRecordUdf', async (req, call) => {
      refusePolicyFields(req.policy, RECORD_UDF_REFUSES, 'a record UDF');
      const udf = callOf(req.call, call.getDeadline());
      const r = await runner.apply(fromPbKey(kernel, req.key), udf, callWritePolicy(req.policy, call.getDeadline(), nowMs));
      return {
        value: toPbValue(r.value), ...(r.meta === undefined ? {} : { meta: toPbMeta(r.meta, nowMs()) }), effect: r.effect, logs: [...r.logs],
      };
    }),
    aggregate: serverStream(logger, 'Aggregate', async function* (req, signal, call): AsyncIterable<UdfServiceAggregateResponse> {
      // the client's deadline bounds the whole aggregation (its fan-out included), which fails
      // TIMEOUT a little before it; the UDF's own limit stops it by the deadline at the latest
      const deadline = callDeadline(call.getDeadline(), nowMs);
      const values = await runner.aggregate(callOf(req.call, Infinity), targetOf(req.target), signal, Number.isFinite(deadline) ? deadline : undefined);
      for (const v of values) yield { value: toPbValue(v) };
    }),
    startBackgroundJob: unary(logger, 'StartBackgroundJob', async (req) => {
      refusePolicyFields(req.policy, [...JOB_REFUSES, ...RECORD_UDF_REFUSES], 'a background UDF job');
      const udf = callOf(req.call, Infinity);
      const job = await runner.startJob(udf, targetOf(req.target), req.recordsPerSecond, fromPbWritePolicy(req.policy));
      return { job: toPbJob(job) };
    }),
    listJobs: unary(logger, 'ListJobs', async () => ({ jobs: jobs.list().map(toPbJob) })),
    killJob: unary(logger, 'KillJob', async (req) => {
      if (req.id > BigInt(Number.MAX_SAFE_INTEGER)) throw new DbError('PARAMETER', `no UDF job ${req.id}`, { hint: 'ListJobs lists the jobs' });
      const id = Number(req.id);
      const killed = jobs.kill(id);
      const job = jobs.get(id);
      return { killed, ...(job === undefined ? {} : { job: toPbJob(job) }) };
    }),
  };
}
