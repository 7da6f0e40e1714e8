import { DbError } from '../errors/index.ts';
import { GeoJson, type BinValue } from '../model/index.ts';
import type { CompareOp, ElemSource, Expr } from './expr/ast.ts';
import { exprToString, valueText } from './expr/print.ts';
import { parseShape, type Shape } from './geo/index.ts';
import type { CollectionType, IndexDefinition, IndexType } from './index/definition.ts';
import type { IndexManager, IndexState } from './index/manager.ts';
import type { IndexKey, KeyBound, KeyRange, SecondaryIndex } from './index/secondary-index.ts';
import { compareKeys, toIndexKey } from './index/secondary-index.ts';

/** Which partitions a query or scan covers. */
export type PartitionFilter =
  | { readonly begin: number; readonly count: number }
  | { readonly ids: readonly number[] };

export type AggregateFn = 'COUNT' | 'SUM' | 'MIN' | 'MAX' | 'AVG';

export interface QuerySpec {
  readonly namespace: string;
  /** Only this set ('' is the null set); the whole namespace when absent. */
  readonly set?: string;
  readonly where?: Expr;
  /** Bins to return; all when absent; none (metadata only) when empty. */
  readonly bins?: readonly string[];
  readonly limit?: number;
  readonly partitions?: PartitionFilter;
  /** Resume after the row that carried this cursor. */
  readonly cursor?: string;
  readonly orderBy?: { readonly bin: string; readonly desc?: boolean };
  readonly aggregate?: { readonly fn: AggregateFn; readonly bin?: string };
  /** Use this index (it must fit a predicate of the WHERE clause). */
  readonly indexName?: string;
  /** When the best index is still building: fail with INDEX_NOT_READABLE (default), wait, or scan. */
  readonly whileBuilding?: 'error' | 'wait' | 'scan';
  /**
   * When the query gives up (ms, the node's clock): past it the query fails TIMEOUT (not in
   * doubt) and asks no node for more (see answerBy: a little before the client's deadline).
   */
  readonly deadline?: number;
  /** Scan even when an index fits (set when resuming a scan's cursor). */
  readonly scan?: boolean;
  /** Why `scan` is set, for EXPLAIN (default: resuming a scan). */
  readonly scanReason?: string;
}

/** How the records are found. */
export type Access =
  | { readonly kind: 'scan'; readonly reason: string }
  | {
    readonly kind: 'range'; readonly index: SecondaryIndex; readonly range: KeyRange;
    readonly predicate: string; readonly estimate: number; readonly state: IndexState;
  }
  | {
    readonly kind: 'geo'; readonly index: SecondaryIndex; readonly op: 'within' | 'contains'; readonly shape: Shape;
    readonly predicate: string; readonly estimate: number; readonly state: IndexState;
  };

export interface Plan {
  readonly spec: QuerySpec;
  readonly access: Access;
  /** The conjuncts the index does not answer (the whole WHERE is re-checked on every record anyway). */
  readonly residual: Expr | undefined;
  /** On a cluster: the index query runs on the partitions' masters and is merged here. */
  readonly fanOut?: boolean;
  /** On a cluster: how the query runs there (for EXPLAIN). */
  readonly cluster?: string;
}

/** An index-usable predicate found in the WHERE clause. */
interface Sarg {
  readonly bin: string;
  readonly collection: CollectionType;
  readonly type: IndexType;
  readonly range?: KeyRange;
  readonly geo?: { readonly op: 'within' | 'contains'; readonly shape: Shape };
  readonly conjunct: Expr;
  readonly text: string;
}

const FLIP: Record<CompareOp, CompareOp> = { '=': '=', '!=': '!=', '<': '>', '<=': '>=', '>': '<', '>=': '<=' };
const COLLECTION_OF: Record<ElemSource, CollectionType> = { list: 'LIST', mapkeys: 'MAPKEYS', mapvalues: 'MAPVALUES' };

export function conjuncts(e: Expr | undefined): Expr[] {
  if (e === undefined) return [];
  return e.kind === 'and' ? e.args.flatMap(conjuncts) : [e];
}

function keyTypeOf(v: BinValue): IndexType | undefined {
  if (typeof v === 'bigint' || (typeof v === 'number' && !Number.isNaN(v))) return 'NUMERIC';
  if (typeof v === 'string') return 'STRING';
  if (v instanceof Uint8Array) return 'BLOB';
  return undefined;
}

function boundsOf(op: CompareOp, v: IndexKey): KeyRange | undefined {
  const b: KeyBound = { value: v, inclusive: op === '=' || op === '<=' || op === '>=' };
  switch (op) {
    case '=': return { lo: b, hi: b };
    case '<': case '<=': return { hi: b };
    case '>': case '>=': return { lo: b };
    default: return undefined;
  }
}

/** `subject op literal` in either order, the subject matching `isSubject`. */
function comparison(e: Expr, isSubject: (x: Expr) => boolean): { subject: Expr; op: CompareOp; value: BinValue } | undefined {
  if (e.kind !== 'cmp') return undefined;
  if (isSubject(e.left) && e.right.kind === 'lit') return { subject: e.left, op: e.op, value: e.right.value };
  if (isSubject(e.right) && e.left.kind === 'lit') return { subject: e.right, op: FLIP[e.op], value: e.left.value };
  return undefined;
}

function rangeOf(e: Expr, isSubject: (x: Expr) => boolean): { subject: Expr; type: IndexType; range: KeyRange } | undefined {
  const c = comparison(e, isSubject);
  if (c === undefined) return undefined;
  const type = keyTypeOf(c.value);
  if (type === undefined) return undefined;
  const key = toIndexKey(type, c.value);
  const range = key === undefined ? undefined : boundsOf(c.op, key);
  return range === undefined ? undefined : { subject: c.subject, type, range };
}

function geoOf(e: Expr, isSubject: (x: Expr) => boolean): { subject: Expr; op: 'within' | 'contains'; shape: Shape } | undefined {
  if (e.kind !== 'geo' || !isSubject(e.left) || e.region.kind !== 'lit' || !(e.region.value instanceof GeoJson)) return undefined;
  return { subject: e.left, op: e.op, shape: parseShape(e.region.value) };
}

function tighter(a: KeyBound | undefined, b: KeyBound | undefined, lower: boolean): KeyBound | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  const c = compareKeys(a.value, b.value);
  if (c === 0) return a.inclusive ? b : a;
  return lower ? (c > 0 ? a : b) : (c < 0 ? a : b);
}

function intersect(a: KeyRange, b: KeyRange): KeyRange {
  const lo = tighter(a.lo, b.lo, true);
  const hi = tighter(a.hi, b.hi, false);
  return { ...(lo === undefined ? {} : { lo }), ...(hi === undefined ? {} : { hi }) };
}

export function rangeText(bin: string, r: KeyRange): string {
  const v = (k: IndexKey): string => valueText(k as BinValue);
  if (r.lo !== undefined && r.hi !== undefined && r.lo.inclusive && r.hi.inclusive && r.lo.value === r.hi.value) return `${bin} = ${v(r.lo.value)}`;
  const parts: string[] = [];
  if (r.lo !== undefined) parts.push(`${bin} ${r.lo.inclusive ? '>=' : '>'} ${v(r.lo.value)}`);
  if (r.hi !== undefined) parts.push(`${bin} ${r.hi.inclusive ? '<=' : '<'} ${v(r.hi.value)}`);
  return parts.join(' AND ');
}

/** Finds the index-usable predicates of a WHERE clause (ranges on one bin are merged). */
export function sargs(where: Expr | undefined): Sarg[] {
  const out: Sarg[] = [];
  const isBin = (x: Expr): boolean => x.kind === 'bin';
  const isElem = (x: Expr): boolean => x.kind === 'elem';
  const merged = new Map<string, { sarg: Sarg; parts: Expr[] }>();
  const addRange = (bin: string, collection: CollectionType, type: IndexType, range: KeyRange, conjunct: Expr): void => {
    const id = `${bin}\0${collection}\0${type}`;
    const prev = merged.get(id);
    const r = prev?.sarg.range === undefined ? range : intersect(prev.sarg.range, range);
    const parts = [...(prev?.parts ?? []), conjunct];
    const prefix = collection === 'DEFAULT' ? '' : `${collection} `;
    merged.set(id, {
      sarg: { bin, collection, type, range: r, conjunct: parts.length === 1 ? conjunct : { kind: 'and', args: parts }, text: prefix + rangeText(bin, r) },
      parts,
    });
  };
  for (const c of conjuncts(where)) {
    const r = rangeOf(c, isBin);
    if (r !== undefined && r.subject.kind === 'bin') {
      addRange(r.subject.name, 'DEFAULT', r.type, r.range, c);
      continue;
    }
    const g = geoOf(c, isBin);
    if (g !== undefined && g.subject.kind === 'bin') {
      out.push({ bin: g.subject.name, collection: 'DEFAULT', type: 'GEO2DSPHERE', geo: { op: g.op, shape: g.shape }, conjunct: c, text: exprToString(c) });
      continue;
    }
    if (c.kind === 'anyElem' && c.source.kind === 'bin') {
      const collection = COLLECTION_OF[c.of];
      const inner = conjuncts(c.where);
      const ranges = inner.map((x) => rangeOf(x, isElem));
      const first = ranges[0];
      if (first !== undefined && ranges.every((x) => x !== undefined && x.type === first.type)) {
        // every conjunct is a range on the element: one index range answers them all for the same element
        const range = ranges.reduce<KeyRange>((acc, x) => intersect(acc, (x as { range: KeyRange }).range), first.range);
        const prefix = `${collection} `;
        out.push({ bin: c.source.name, collection, type: first.type, range, conjunct: c, text: prefix + rangeText(c.source.name, range) });
        continue;
      }
      const eg = inner.length === 1 ? geoOf(inner[0] as Expr, isElem) : undefined;
      if (eg !== undefined) {
        out.push({ bin: c.source.name, collection, type: 'GEO2DSPHERE', geo: { op: eg.op, shape: eg.shape }, conjunct: c, text: exprToString(c) });
      }
    }
  }
  for (const { sarg } of merged.values()) out.push(sarg);
  return out;
}

function usable(def: IndexDefinition, spec: QuerySpec, s: Sarg): boolean {
  return def.namespace === spec.namespace && (def.set === undefined || def.set === spec.set)
    && def.bin === s.bin && def.collection === s.collection && def.type === s.type;
}

/** Share of the namespace above which a scan beats fetching every index match one by one. */
const SCAN_SHARE = 0.3;

/**
 * Picks the most selective usable index (exact entry counts from the ordered index), or a
 * scan; what the index does not answer stays as a filter.
 */
export async function plan(spec: QuerySpec, indexes: IndexManager, approxCount?: number): Promise<Plan> {
  if (spec.scan === true) return { spec, access: { kind: 'scan', reason: spec.scanReason ?? 'resuming a scan' }, residual: spec.where };
  const found = sargs(spec.where);
  const all = indexes.indexes(spec.namespace);
  type Choice = { access: Exclude<Access, { kind: 'scan' }>; sarg: Sarg };
  let best: Choice | undefined;
  let building: { name: string; sarg: Sarg } | undefined;
  for (const s of found) {
    for (const { index, state } of all) {
      const def = index.def;
      if (!usable(def, spec, s)) continue;
      if (spec.indexName !== undefined && def.name !== spec.indexName) continue;
      if (state !== 'ready') {
        building ??= { name: def.name, sarg: s };
        continue;
      }
      const choice: Choice = s.geo !== undefined
        ? { access: { kind: 'geo', index, op: s.geo.op, shape: s.geo.shape, predicate: s.text, estimate: index.geoEstimate(s.geo.op, s.geo.shape), state }, sarg: s }
        : { access: { kind: 'range', index, range: s.range ?? {}, predicate: s.text, estimate: index.count(s.range ?? {}), state }, sarg: s };
      if (best === undefined || choice.access.estimate < best.access.estimate) best = choice;
    }
  }
  const residualOf = (used: Expr | undefined): Expr | undefined => {
    const rest = conjuncts(spec.where).filter((c) => used === undefined || !conjuncts(used).includes(c));
    return rest.length === 0 ? undefined : rest.length === 1 ? rest[0] : { kind: 'and', args: rest };
  };
  const whileBuilding = spec.whileBuilding ?? 'error';
  if (best === undefined && building !== undefined && whileBuilding !== 'scan') {
    if (whileBuilding === 'error') {
      const st = indexes.stat(spec.namespace, building.name);
      throw new DbError('INDEX_NOT_READABLE', `index '${building.name}' is still building (${st.loadPct}%)`, {
        hint: 'wait until STAT INDEX shows it ready, or run the query as a scan',
      });
    }
    await indexes.whenReady(spec.namespace, building.name);
    return plan(spec, indexes, approxCount);
  }
  if (spec.indexName !== undefined && best === undefined) {
    throw new DbError('INDEX_NOT_FOUND', `index '${spec.indexName}' does not fit any predicate of this query`, {
      hint: 'the index must be on a bin compared with a literal of its type (or a CONTAINS/WITHIN for GEO2DSPHERE)',
    });
  }
  if (best === undefined) {
    const reason = found.length === 0
      ? (spec.where === undefined ? 'no WHERE clause' : 'no predicate an index can answer')
      : `no index on ${[...new Set(found.map((s) => `${s.collection === 'DEFAULT' ? '' : `${s.collection} `}${s.bin} (${s.type})`))].join(', ')}`;
    return { spec, access: { kind: 'scan', reason }, residual: spec.where };
  }
  if (spec.indexName === undefined && approxCount !== undefined && approxCount > 1000 && best.access.estimate > approxCount * SCAN_SHARE) {
    return {
      spec,
      access: { kind: 'scan', reason: `index '${best.access.index.def.name}' matches ~${best.access.estimate} of ~${approxCount} records; a scan is cheaper` },
      residual: spec.where,
    };
  }
  return { spec, access: best.access, residual: residualOf(best.sarg.conjunct) };
}

export interface Explanation {
  readonly namespace: string;
  readonly set: string | undefined;
  readonly access: 'index' | 'geo-index' | 'scan';
  readonly index?: string;
  readonly indexType?: string;
  readonly predicate?: string;
  readonly estimatedEntries?: number;
  readonly filter?: string;
  readonly reason?: string;
  readonly orderBy?: string;
  readonly limit?: number;
  readonly aggregate?: string;
  readonly partitions: string;
  /** How the query runs in a cluster (absent on a single node). */
  readonly cluster?: string;
}

export function explain(p: Plan): Explanation {
  const s = p.spec;
  const common = {
    namespace: s.namespace, set: s.set,
    ...(p.residual === undefined ? {} : { filter: exprToString(p.residual) }),
    ...(s.orderBy === undefined ? {} : { orderBy: `${s.orderBy.bin} ${s.orderBy.desc === true ? 'DESC' : 'ASC'}` }),
    ...(s.limit === undefined ? {} : { limit: s.limit }),
    ...(s.aggregate === undefined ? {} : { aggregate: `${s.aggregate.fn}(${s.aggregate.bin ?? '*'})` }),
    partitions: s.partitions === undefined ? 'all' : 'ids' in s.partitions ? `${s.partitions.ids.length} listed`
      : `${s.partitions.begin}..${s.partitions.begin + s.partitions.count - 1}`,
    ...(p.cluster === undefined ? {} : { cluster: p.cluster }),
  };
  const a = p.access;
  if (a.kind === 'scan') return { ...common, access: 'scan', reason: a.reason };
  const d = a.index.def;
  return {
    ...common,
    access: a.kind === 'geo' ? 'geo-index' : 'index',
    index: d.name,
    indexType: `${d.collection === 'DEFAULT' ? '' : `${d.collection} `}${d.type}`,
    predicate: a.predicate,
    estimatedEntries: a.estimate,
  };
}

/** EXPLAIN as name/value rows. */
const EXPLAIN_ORDER: ReadonlyArray<keyof Explanation> = [
  'access', 'index', 'indexType', 'predicate', 'estimatedEntries', 'filter', 'reason', 'namespace', 'set', 'orderBy', 'limit', 'aggregate', 'partitions', 'cluster',
];
export function explainRows(e: Explanation): Array<[string, string]> {
  const rows: Array<[string, string]> = [];
  for (const k of EXPLAIN_ORDER) if (e[k] !== undefined) rows.push([k, String(e[k])]);
  return rows;
}
