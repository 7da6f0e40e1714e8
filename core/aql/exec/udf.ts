/**
 * AQL statements of the UDF subsystem:
 * REGISTER MODULE, REMOVE MODULE, SHOW MODULES, DESC MODULE, EXECUTE (record UDF with
 * WHERE PK, background job otherwise), AGGREGATE, SHOW JOBS and KILL JOB — all through the
 * node's UdfRunner, with aql's output (`OK, 1 module added.`, `OK, Scan job (<id>) created.`).
 * UDF errors keep their numeric code: `throw new Error('1000:…')` prints `Error: (1000) …`.
 */
import { basename } from 'node:path';
import { DbError, ResultCode, toDbError } from '../../errors/index.ts';
import type { BinValue } from '../../model/index.ts';
import type { UdfCall } from '../../udf/engine.ts';
import { jobProgress, type UdfRunner, type UdfTargetSpec } from '../../query/udf-runner.ts';
import { whereToExpr } from './query.ts';
import type * as A from '../language/ast.ts';
import { UDF_RUNNER_KEY } from '../../services/index.ts';
import { checkNamespace, keyOf, policy } from './common.ts';
import type { ExecContext, StatementFamily, StatementHandler } from './executor.ts';
import type { Renderer } from '../language/results.ts';

function runnerOf(ctx: ExecContext): UdfRunner {
  const r = ctx.services.get(UDF_RUNNER_KEY);
  if (r === undefined) throw new DbError('UNSUPPORTED_FEATURE', 'UDFs are not installed on this node', { hint: 'start the node with the udf subsystem' });
  return r;
}

function callOf(c: A.UdfCall, timeoutMs?: number): UdfCall {
  return { module: c.module, fn: c.fn, args: c.args, ...(timeoutMs === undefined || timeoutMs <= 0 ? {} : { timeoutMs }) };
}

function targetOf(s: { target: A.Target; in: A.CollectionType | null }, where: A.Expr | null): UdfTargetSpec {
  return { namespace: s.target.namespace, set: s.target.set ?? '', ...(where === null ? {} : { where: whereToExpr(where, s.in) }) };
}

/** aql names a UDF's result column after the function, cut to 15 characters. */
function columnName(fn: string): string {
  return fn.length > 15 ? `${fn.slice(0, 12)}...` : fn;
}

/**
 * Wraps a handler so that an error keeps its numeric result code (a UDF's own code such as
 * 1000 is not in the catalogue) and a UDF error prints as aql prints Lua errors: the message.
 */
function keepCode<K extends A.StatementKind>(handler: StatementHandler<K>): StatementHandler<K> {
  return async (stmt, ctx, out) => {
    try {
      await handler(stmt, ctx, out);
    } catch (err) {
      const e = toDbError(err);
      if (e.code !== 'UDF' && e.resultCode === ResultCode[e.code]) throw e;
      out.status(e.resultCode, e.hint === undefined ? e.message : `${e.message}. ${e.hint}`);
    }
  };
}

async function readModule(ctx: ExecContext, path: string): Promise<Uint8Array> {
  if (ctx.readClientFile === undefined) {
    throw new DbError('UNSUPPORTED_FEATURE', 'REGISTER MODULE needs the module file from the client, and this session cannot send files', {
      hint: 'register the module with the aql shell, or with UdfService.RegisterModule over gRPC',
    });
  }
  try {
    return await ctx.readClientFile(path);
  } catch (err) {
    if (err instanceof DbError) throw err;
    // the reason without the absolute path the client resolved ("ENOENT: no such file or directory")
    const reason = (err instanceof Error ? err.message : String(err)).replace(/, \w+ '[^']*'$/, '');
    throw new DbError('PARAMETER', `Cannot open file ${path}: ${reason}`, { hint: 'check the path (relative to the directory aql runs in)' });
  }
}

function jobRow(j: ReturnType<UdfRunner['jobs']['list']>[number]): Array<readonly [string, BinValue]> {
  return [
    ['trid', BigInt(j.id)], ['ns', j.namespace], ['set', j.set ?? null], ['module', j.module], ['function', j.fn], ['status', j.status],
    ['progress', `${jobProgress(j).toFixed(1)}%`], ['recs-done', BigInt(j.done)], ['recs-succeeded', BigInt(j.succeeded)],
    ['recs-failed', BigInt(j.failed)], ['rps', BigInt(Math.round(j.recordsPerSecond))], ['first-error', j.errors[0] ?? null],
  ];
}

async function showModules(ctx: ExecContext, out: Renderer): Promise<void> {
  const started = performance.now();
  out.begin(['filename', 'hash', 'type']);
  for (const m of runnerOf(ctx).engine.listModules()) await out.row([['filename', m.fileName], ['hash', m.hash], ['type', m.type.toUpperCase()]]);
  out.end(performance.now() - started, ctx.nodeAddress);
}

async function showJobs(ctx: ExecContext, out: Renderer): Promise<void> {
  const started = performance.now();
  out.begin([]);
  for (const j of runnerOf(ctx).jobs.list()) await out.row(jobRow(j));
  out.end(performance.now() - started, ctx.nodeAddress);
}

export const udfStatements: StatementFamily = {
  name: 'udf',
  statements: {
    'register-module': async (s, ctx, out) => {
      const runner = runnerOf(ctx);
      const source = await readModule(ctx, s.path);
      await runner.engine.register(basename(s.path), source);
      out.status(0, '1 module added.');
    },
    'remove-module': async (s, ctx, out) => {
      await runnerOf(ctx).engine.removeModule(basename(s.module));
      out.status(0, '1 module removed.');
    },
    'desc-module': async (s, ctx, out) => {
      const m = runnerOf(ctx).engine.registry.require(basename(s.module));
      const started = performance.now();
      out.begin(['content', 'gen', 'type']);
      await out.row([['content', m.source], ['gen', m.hash], ['type', m.type.toUpperCase()]]);
      out.end(performance.now() - started, ctx.nodeAddress);
    },
    execute: keepCode<'execute'>(async (s, ctx, out) => {
      checkNamespace(ctx, s.target.namespace);
      const runner = runnerOf(ctx);
      if (s.where?.kind === 'key') {
        const key = keyOf(ctx.kernel, s.target, s.where.key);
        const started = performance.now();
        const r = await runner.apply(key, callOf(s.call, ctx.settings.TIMEOUT), policy(ctx.settings));
        const column = columnName(s.call.fn);
        out.begin([column]);
        await out.row([[column, r.value]]);
        out.end(performance.now() - started);
        return;
      }
      const where = s.where?.kind === 'filter' ? s.where.expr : null;
      const job = await runner.startJob(callOf(s.call, ctx.settings.TIMEOUT), targetOf(s, where), ctx.settings.SCAN_RECORDS_PER_SECOND, policy(ctx.settings));
      out.status(0, `${where === null ? 'Scan' : 'Query'} job (${job.id}) created.`);
    }),
    aggregate: keepCode<'aggregate'>(async (s, ctx, out) => {
      checkNamespace(ctx, s.target.namespace);
      const started = performance.now();
      const values = await runnerOf(ctx).aggregate(callOf(s.call, ctx.settings.TIMEOUT), targetOf(s, s.where), ctx.signal, ctx.deadline);
      const column = columnName(s.call.fn);
      out.begin([column]);
      for (const v of values) await out.row([[column, v]]);
      out.end(performance.now() - started);
    }),
    'kill-job': async (s, ctx, out) => {
      const jobs = runnerOf(ctx).jobs;
      if (s.id > BigInt(Number.MAX_SAFE_INTEGER)) throw new DbError('PARAMETER', `no UDF job ${s.id}`, { hint: 'SHOW JOBS lists the jobs' });
      const killed = jobs.kill(Number(s.id));
      out.status(0, killed ? `Job (${s.id}) killed.` : `Job (${s.id}) had already ended.`);
    },
  },
  show: {
    MODULES: (_s, ctx, out) => showModules(ctx, out),
    JOBS: (_s, ctx, out) => showJobs(ctx, out),
  },
};
