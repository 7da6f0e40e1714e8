/**
 * The key-value statements: INSERT, UPDATE, DELETE, TRUNCATE, SELECT and EXPLAIN. A SELECT by
 * key or a plain scan reads the kernel; a SELECT with a bin expression, IN, ORDER BY or
 * aggregates — and its EXPLAIN — is a query for the node's query subsystem (query.ts).
 */
import { clientErrorName, DbError, toDbError } from '../../errors/index.ts';
import { ttlOf, type Bins, type RecordKey } from '../../model/index.ts';
import { QUERY_SUBSYSTEM } from '../../services/index.ts';
import type * as A from '../language/ast.ts';
import type { Renderer } from '../language/results.ts';
import { checkNamespace, keyOf, policy, recordCells } from './common.ts';
import type { ExecContext, StatementFamily } from './executor.ts';
import { explainQuery, selectQuery } from './query.ts';

async function insert(s: A.InsertStatement, ctx: ExecContext, out: Renderer): Promise<void> {
  checkNamespace(ctx, s.target.namespace);
  const bins: Bins = {};
  for (const b of s.bins) bins[b.name] = b.value;
  await ctx.kernel.put(keyOf(ctx.kernel, s.target, s.key), bins, policy(ctx.settings));
  out.status(0, '1 record affected.');
}

async function update(s: A.UpdateStatement, ctx: ExecContext, out: Renderer): Promise<void> {
  checkNamespace(ctx, s.target.namespace);
  const bins: Bins = {};
  for (const b of s.bins) bins[b.name] = b.value;
  await ctx.kernel.put(keyOf(ctx.kernel, s.target, s.key), bins, policy(ctx.settings, { exists: 'updateOnly', ttl: ctx.settings.RECORD_TTL === 0 ? -2 : ctx.settings.RECORD_TTL }));
  out.status(0, '1 record affected.');
}

async function remove(s: A.DeleteStatement, ctx: ExecContext, out: Renderer): Promise<void> {
  checkNamespace(ctx, s.target.namespace);
  await ctx.kernel.delete(keyOf(ctx.kernel, s.target, s.key), policy(ctx.settings));
  out.status(0, '1 record affected.');
}

async function selectKeyValue(s: A.SelectStatement, ctx: ExecContext, out: Renderer): Promise<void> {
  checkNamespace(ctx, s.target.namespace);
  const started = performance.now();
  if (s.items !== null && s.items.some((i) => i.kind === 'aggregate')) {
    throw new DbError('UNSUPPORTED_FEATURE', 'SELECT COUNT/SUM/MIN/MAX/AVG is not supported yet on this server', { hint: 'it arrives with secondary-index queries' });
  }
  const bins = s.items === null ? null : s.items.map((i) => (i.kind === 'bin' ? i.name : ''));
  if (s.where?.kind === 'key') {
    const rec = await ctx.kernel.get(keyOf(ctx.kernel, s.target, s.where.key), bins === null ? {} : { bins });
    out.begin(bins ?? []);
    out.row(recordCells(rec, ctx, { bins, scan: false }));
    out.end(performance.now() - started);
    return;
  }
  if (s.where !== null || s.in !== null || s.orderBy.length > 0) {
    throw new DbError('UNSUPPORTED_FEATURE', 'SELECT … WHERE <bin expression> / IN / ORDER BY is not supported yet on this server', { hint: 'it arrives with secondary-index queries; a PK read or a plain scan works' });
  }
  out.begin(bins ?? []);
  const limit = s.limit === null ? undefined : Number(s.limit);
  if (limit !== 0) {
    // Without a set the scan covers the whole namespace, every set included, as in Aerospike.
    for await (const rec of ctx.kernel.scan({
      namespace: s.target.namespace,
      ...(s.target.set === null ? {} : { set: s.target.set }),
      ...(bins === null ? {} : { bins }),
      ...(ctx.settings.NO_BINS ? { noBins: true } : {}),
      ...(limit === undefined ? {} : { maxRecords: limit }),
      signal: ctx.signal,
      ...(ctx.deadline === undefined ? {} : { deadline: ctx.deadline }),
    })) {
      await out.row(recordCells(rec, ctx, { bins, scan: true }));
    }
  }
  if (ctx.signal.aborted) throw new DbError('SCAN_ABORT', 'the scan was cancelled');
  out.end(performance.now() - started);
}

async function truncate(s: A.TruncateStatement, ctx: ExecContext, out: Renderer): Promise<void> {
  checkNamespace(ctx, s.target.namespace);
  let beforeMs: number | undefined;
  if (typeof s.upto === 'bigint') beforeMs = Number(s.upto / 1_000_000n);
  else if (typeof s.upto === 'string') {
    beforeMs = Date.parse(s.upto);
    if (Number.isNaN(beforeMs)) throw new DbError('PARAMETER', 'Invalid lut, use format "Dec 18 2017 09:53:20" or 1513590800000000000.');
  }
  await ctx.kernel.truncate(s.target.namespace, s.target.set ?? undefined, beforeMs);
  out.status(0, '');
}


/** The client-facing address of the node that masters the key's partition (its id when unknown). */
function masterAddress(ctx: ExecContext, key: RecordKey): string | null {
  const router = ctx.kernel.router;
  const master = router.masterOf(key.namespace, key.partition);
  if (master === undefined) return null;
  if (master === router.localNode) return ctx.nodeAddress;
  return router.serviceAddressOf?.(master) ?? master.toString(16).toUpperCase();
}

async function explainKey(s: A.ExplainStatement, ctx: ExecContext, out: Renderer): Promise<void> {
  const where = s.statement.where;
  if (where?.kind !== 'key') {
    throw new DbError('UNSUPPORTED_FEATURE', 'EXPLAIN of a query is not supported yet on this server; EXPLAIN SELECT … WHERE PK = … works');
  }
  const started = performance.now();
  const key = keyOf(ctx.kernel, s.statement.target, where.key);
  let status = 'AEROSPIKE_OK';
  let gen: bigint | null = null;
  let ttl: bigint | null = null;
  try {
    const rec = await ctx.kernel.get(key, { headerOnly: true });
    gen = BigInt(rec.meta.generation);
    ttl = BigInt(ttlOf(rec.meta.voidTime, ctx.now()));
  } catch (err) {
    status = clientErrorName(toDbError(err).resultCode);
  }
  out.begin([]);
  out.row([
    ['SET', key.set], ['DIGEST', Buffer.from(key.digest).toString('hex').toUpperCase()], ['NAMESPACE', key.namespace],
    ['PARTITION', BigInt(key.partition)], ['STATUS', status], ['UDF', 'FALSE'], ['KEY_TYPE', where.key.kind === 'digest' ? 'DIGEST' : typeof key.userKey === 'bigint' ? 'INTEGER' : 'STRING'],
    ['POLICY_KEY', ctx.settings.KEY_SEND ? 'AS_POLICY_KEY_SEND' : 'AS_POLICY_KEY_DIGEST'], ['MASTER NODE', masterAddress(ctx, key)],
    ['GENERATION', gen], ['TTL', ttl], ['TIMEOUT', BigInt(ctx.settings.TIMEOUT)],
  ]);
  out.end(performance.now() - started);
}

/** A PK read or a plain scan: no bin predicate, no IN, no ORDER BY, no aggregates. */
function isKeyValueSelect(s: A.SelectStatement): boolean {
  if (s.where?.kind === 'key') return true;
  return s.where === null && s.in === null && s.orderBy.length === 0 && !(s.items ?? []).some((i) => i.kind === 'aggregate');
}

/** Queries go to the query subsystem when the node runs one; key reads and scans stay here. */
const hasQueries = (ctx: ExecContext): boolean => ctx.services.get(QUERY_SUBSYSTEM) !== undefined;

export const keyValueStatements: StatementFamily = {
  name: 'key-value',
  statements: {
    insert,
    update,
    delete: remove,
    truncate,
    select: (s, ctx, out) => (isKeyValueSelect(s) || !hasQueries(ctx) ? selectKeyValue(s, ctx, out) : selectQuery(s, ctx, out)),
    explain: (s, ctx, out) => (s.statement.where?.kind === 'key' || !hasQueries(ctx) ? explainKey(s, ctx, out) : explainQuery(s, ctx, out)),
  },
};
