/**
 * Queries in AQL: WHERE expressions as filter expressions, and SELECT … WHERE <expr> [IN …]
 * [ORDER BY] [LIMIT], SELECT COUNT/SUM/MIN/MAX/AVG and EXPLAIN of such a SELECT, run by the
 * node's query subsystem (QUERY_SUBSYSTEM). The SELECT and EXPLAIN statements themselves are
 * the key-value family's (key-value.ts), which hands these forms here.
 */
import { DbError } from '../../errors/index.ts';
import { GeoJson, type BinValue } from '../../model/index.ts';
import type * as A from '../language/ast.ts';
import { QUERY_SUBSYSTEM } from '../../services/index.ts';
import { checkNamespace, recordCells } from './common.ts';
import type { ExecContext } from './executor.ts';
import type { Renderer } from '../language/results.ts';
import * as E from '../../query/expr/ast.ts';
import { compileRegex } from '../../query/expr/regex.ts';
import { parseShape } from '../../query/geo/index.ts';
import { explainRows, type AggregateFn, type QuerySpec } from '../../query/planner.ts';
import type { QuerySubsystem } from '../../query/query-engine-service.ts';

/** The node's query subsystem; UNSUPPORTED_FEATURE on a node without one. */
export function querySubsystem(ctx: ExecContext): QuerySubsystem {
  const q = ctx.services.get(QUERY_SUBSYSTEM);
  if (q === undefined) {
    throw new DbError('UNSUPPORTED_FEATURE', 'secondary indexes and queries are not installed on this node', { hint: 'start the node with the query subsystem' });
  }
  return q;
}

// ---- WHERE expressions: AQL AST → filter expressions ----

const ELEM_OF: Record<A.CollectionType, E.ElemSource> = { LIST: 'list', MAPKEYS: 'mapkeys', MAPVALUES: 'mapvalues' };

const META_FUNCTIONS: Record<string, E.MetaField> = {
  TTL: 'ttl', VOID_TIME: 'voidTime', GENERATION: 'generation', GEN: 'generation', LAST_UPDATE: 'lastUpdate',
  SINCE_UPDATE: 'sinceUpdate', SET_NAME: 'setName', KEY_EXISTS: 'keyExists', RECORD_SIZE: 'recordSize',
  DEVICE_SIZE: 'recordSize', MEMORY_SIZE: 'recordSize',
};
export const AQL_FUNCTIONS = [
  ...Object.keys(META_FUNCTIONS).map((f) => `${f}()`), 'DIGEST_MODULO(n)', 'SIZE(x)', 'REGEX(x, pattern[, flags])',
  'EXISTS(bin)', 'TYPE(bin)', 'GET(x, key)', 'LIST_HAS(bin, v)', 'MAPKEY_HAS(bin, k)', 'MAPVALUE_HAS(bin, v)',
];

function need(n: number, name: string, args: readonly A.Expr[], usage: string): void {
  if (args.length !== n) throw new DbError('PARAMETER', `${name} takes ${n} argument${n === 1 ? '' : 's'}`, { hint: `write ${usage}` });
}

function binName(e: A.Expr | undefined, fn: string): string {
  if (e?.kind !== 'bin') throw new DbError('PARAMETER', `${fn} takes a bin name`, { hint: `write ${fn}(bin)` });
  return e.name;
}

function stringLit(e: A.Expr | undefined, what: string): string {
  if (e?.kind !== 'literal' || typeof e.value !== 'string') throw new DbError('PARAMETER', `${what} must be a quoted string`);
  return e.value;
}

function geoRegion(e: A.Expr): E.Expr {
  if (e.kind !== 'literal' || !(e.value instanceof GeoJson)) {
    throw new DbError('GEO_INVALID_GEOJSON', 'CONTAINS / WITHIN needs a GeoJSON value', { hint: `write GEOJSON('{"type":"Point","coordinates":[lon, lat]}')` });
  }
  parseShape(e.value); // bad geometry is an error here, not an empty result
  return E.lit(e.value);
}

function call(e: A.CallExpr, conv: (x: A.Expr) => E.Expr): E.Expr {
  const meta = META_FUNCTIONS[e.name];
  if (meta !== undefined) {
    need(0, e.name, e.args, `${e.name}()`);
    return E.meta(meta);
  }
  const a = e.args;
  switch (e.name) {
    case 'DIGEST_MODULO': {
      need(1, e.name, a, 'DIGEST_MODULO(3)');
      const m = a[0];
      if (m?.kind !== 'literal' || typeof m.value !== 'bigint' || m.value < 1n || m.value > 0xffffffffn) throw new DbError('PARAMETER', 'DIGEST_MODULO takes a positive integer');
      return { kind: 'digestModulo', modulus: Number(m.value) };
    }
    case 'SIZE': need(1, e.name, a, 'SIZE(bin)'); return E.size(conv(a[0] as A.Expr));
    case 'REGEX': {
      if (a.length !== 2 && a.length !== 3) throw new DbError('PARAMETER', 'REGEX takes 2 or 3 arguments', { hint: "write REGEX(bin, '^A', 'i')" });
      const pattern = stringLit(a[1], 'the REGEX pattern');
      const flags = a[2] === undefined ? '' : stringLit(a[2], 'the REGEX flags');
      compileRegex(pattern, flags);
      return E.regex(conv(a[0] as A.Expr), pattern, flags);
    }
    case 'EXISTS': need(1, e.name, a, 'EXISTS(bin)'); return { kind: 'binExists', name: binName(a[0], e.name) };
    case 'TYPE': need(1, e.name, a, 'TYPE(bin)'); return { kind: 'binType', name: binName(a[0], e.name) };
    case 'GET': need(2, e.name, a, "GET(bin, 'key')"); return { kind: 'get', source: conv(a[0] as A.Expr), key: conv(a[1] as A.Expr) };
    case 'LIST_HAS': case 'MAPKEY_HAS': case 'MAPVALUE_HAS': {
      need(2, e.name, a, `${e.name}(bin, value)`);
      const of: E.ElemSource = e.name === 'LIST_HAS' ? 'list' : e.name === 'MAPKEY_HAS' ? 'mapkeys' : 'mapvalues';
      return E.anyElem(of, conv(a[0] as A.Expr), E.cmp('=', E.elem, conv(a[1] as A.Expr)));
    }
    default:
      throw new DbError('PARAMETER', `unknown function ${e.name}()`, { hint: `functions: ${AQL_FUNCTIONS.join(', ')}` });
  }
}

/**
 * Converts a WHERE expression. With `IN LIST|MAPKEYS|MAPVALUES`, a comparison, BETWEEN or
 * CONTAINS/WITHIN on a bare bin applies to the bin's elements (any element matching).
 */
export function whereToExpr(e: A.Expr, inType: A.CollectionType | null = null): E.Expr {
  const conv = (x: A.Expr): E.Expr => whereToExpr(x, inType);
  const plain = (x: A.Expr): E.Expr => whereToExpr(x, null);
  const overElems = (binExpr: A.BinExpr, pred: (subject: E.Expr) => E.Expr): E.Expr =>
    inType === null ? pred(E.bin(binExpr.name)) : E.anyElem(ELEM_OF[inType], E.bin(binExpr.name), pred(E.elem));
  switch (e.kind) {
    case 'literal': return E.lit(e.value);
    case 'bin': return E.bin(e.name);
    case 'call': return call(e, plain);
    case 'compare':
      if (e.left.kind === 'bin' && e.right.kind !== 'bin') { const r = plain(e.right); return overElems(e.left, (s) => E.cmp(e.op, s, r)); }
      if (e.right.kind === 'bin' && e.left.kind !== 'bin') { const l = plain(e.left); return overElems(e.right, (s) => E.cmp(e.op, l, s)); }
      return E.cmp(e.op, plain(e.left), plain(e.right));
    case 'between': {
      const lo = plain(e.low);
      const hi = plain(e.high);
      const both = (s: E.Expr): E.Expr => E.and(E.cmp('>=', s, lo), E.cmp('<=', s, hi));
      return e.operand.kind === 'bin' ? overElems(e.operand, both) : both(plain(e.operand));
    }
    case 'geo': {
      const region = geoRegion(e.region);
      const pred = (s: E.Expr): E.Expr => (e.op === 'WITHIN' ? E.geoWithin(s, region) : E.geoContains(s, region));
      return e.operand.kind === 'bin' ? overElems(e.operand, pred) : pred(plain(e.operand));
    }
    case 'and': return E.and(...e.operands.map(conv));
    case 'or': return E.or(...e.operands.map(conv));
    case 'not': return E.not(conv(e.operand));
    case 'arith': return E.arith(e.op, plain(e.left), plain(e.right));
    case 'neg': return { kind: 'neg', arg: plain(e.operand) };
  }
}

// ---- statements ----

function querySpec(s: A.SelectStatement, ctx: ExecContext): QuerySpec {
  if (s.where?.kind === 'key') throw new DbError('PARAMETER', 'a key lookup is not a query');
  if (s.in !== null && s.where === null) throw new DbError('PARAMETER', `IN ${s.in} needs a WHERE clause`, { hint: `write … IN ${s.in} WHERE bin = value` });
  if (s.orderBy.length > 1) throw new DbError('PARAMETER', 'ORDER BY takes one bin', { hint: 'sort by one bin' });
  const bins = s.items === null ? undefined : s.items.flatMap((i) => (i.kind === 'bin' ? [i.name] : []));
  const order = s.orderBy[0];
  return {
    namespace: s.target.namespace,
    set: s.target.set ?? '',
    ...(s.where === null ? {} : { where: whereToExpr(s.where.expr, s.in) }),
    ...(ctx.settings.NO_BINS ? { bins: [] } : bins === undefined ? {} : { bins }),
    ...(s.limit === null ? {} : { limit: Number(s.limit) }),
    ...(order === undefined ? {} : { orderBy: { bin: order.bin, desc: order.direction === 'DESC' } }),
    ...(ctx.deadline === undefined ? {} : { deadline: ctx.deadline }),
  };
}

/** The aggregate of a SELECT item, as a QuerySpec field. */
function aggregateOf(item: Extract<A.SelectItem, { kind: 'aggregate' }>): NonNullable<QuerySpec['aggregate']> {
  return { fn: item.fn as AggregateFn, ...(item.bin === null ? {} : { bin: item.bin }) };
}

export async function selectQuery(s: A.SelectStatement, ctx: ExecContext, out: Renderer): Promise<void> {
  checkNamespace(ctx, s.target.namespace);
  const q = querySubsystem(ctx);
  const started = performance.now();
  const spec = querySpec(s, ctx);
  const aggs = s.items?.filter((i): i is Extract<A.SelectItem, { kind: 'aggregate' }> => i.kind === 'aggregate') ?? [];
  if (aggs.length > 0) {
    if (aggs.length !== s.items?.length) throw new DbError('PARAMETER', 'a SELECT with COUNT/SUM/MIN/MAX/AVG cannot also select bins', { hint: 'select only aggregates' });
    const cells: Array<readonly [string, BinValue]> = [];
    for (const a of aggs) {
      const r = await q.engine.aggregate({ ...spec, aggregate: aggregateOf(a) });
      cells.push([`${a.fn.toLowerCase()}(${a.bin ?? '*'})`, r.value]);
    }
    out.begin([]);
    out.row(cells);
    out.end(performance.now() - started);
    return;
  }
  const bins = s.items === null ? null : (spec.bins ?? null);
  out.begin(bins ?? []);
  for await (const row of q.engine.query(spec)) {
    if (ctx.signal.aborted) throw new DbError('QUERY_ABORTED', 'the query was cancelled');
    await out.row(recordCells(row.record, ctx, { bins, scan: true }));
  }
  out.end(performance.now() - started);
}

export async function explainQuery(s: A.ExplainStatement, ctx: ExecContext, out: Renderer): Promise<void> {
  checkNamespace(ctx, s.statement.target.namespace);
  const started = performance.now();
  const spec = querySpec(s.statement, ctx);
  const agg = s.statement.items?.find((i) => i.kind === 'aggregate');
  const e = await querySubsystem(ctx).engine.explain(agg?.kind === 'aggregate' ? { ...spec, aggregate: aggregateOf(agg) } : spec);
  out.begin([]);
  out.row(explainRows(e).map(([k, v]) => [k.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase(), v] as const));
  out.end(performance.now() - started);
}
