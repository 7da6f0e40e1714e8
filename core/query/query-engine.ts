import { DbError } from '../errors/index.ts';
import { deadlinePassed } from '../transaction/policy.ts';
import {
  N_PARTITIONS, approxRecordBytes, checkInt64, compareValues, digestString, partitionOf, storedSizeOf,
  type BinValue, type Bins, type DbRecord,
} from '../model/index.ts';
import { compileFilter, type EvalContext } from './expr/eval.ts';
import { checkpoint } from '../transaction/scan-scheduler.ts';
import { referencedBins } from './expr/ast.ts';
import type { IndexManager } from './index/manager.ts';
import type { RecordSource } from './index/record-source.ts';
import {
  compareKeys, digestFromKey, inBounds, keysOf, type IndexEntry, type IndexKey,
} from './index/secondary-index.ts';
import { explain, plan, type Explanation, type PartitionFilter, type Plan, type QuerySpec } from './planner.ts';
import type { NodeId } from '../plugin-api/index.ts';
import { exprFromJsonText, exprToJsonText } from './expr/json.ts';
import {
  mergedShares, SHARE_PAGE_ROWS, type ShareAccess, type SharePage, type ShareRequest, type ShareRow, type ShareTemplate,
} from './cluster-index-query.ts';

export type { QuerySpec, PartitionFilter, Plan, Explanation } from './planner.ts';
export type { RecordSource } from './index/record-source.ts';

/** One streamed result: the record (bins selected) and a cursor that resumes after it. */
export interface QueryRow {
  readonly record: DbRecord;
  readonly cursor: string;
}

/**
 * What the engine needs on a cluster node to run index queries on the partitions' masters
 * (see cluster-index-query.ts); wired by the query subsystem.
 */
export interface QueryCluster extends Omit<ShareAccess, 'fetchShare'> {
  /** This node's digest of the index definitions (absent when they are not system metadata). */
  definitions(): string | undefined;
  /** Takes `node`'s index definitions, whose digest is `definitions`, when they differ from this node's. */
  catchUpFrom(node: NodeId, definitions: string): Promise<void>;
  /** Resolves true once none of the partitions is being filled here by a migration, false after `timeoutMs`. */
  waitFilled(namespace: string, partitions: readonly number[], timeoutMs: number): Promise<boolean>;
  /** A page of another node's share. */
  /** A page of another master's share, waited for at most `waitMs`. */
  remoteShare(node: NodeId, req: ShareRequest, waitMs: number): Promise<SharePage>;
  /** Rows per page of a share (default SHARE_PAGE_ROWS). */
  readonly pageRows?: number;
  /** Runs `fn` so that the kernel serves it on this node only (it never forwards). */
  runLocally<T>(fn: () => Promise<T>): Promise<T>;
}

/** How long a master waits for its partitions of a share to be filled before it refuses (retried). */
const SHARE_FILL_WAIT_MS = 2000;

export interface AggregateResult {
  readonly fn: string;
  readonly bin: string | undefined;
  /** The value; null when no record had a value to aggregate. */
  readonly value: BinValue;
  /** Records that matched the WHERE clause. */
  readonly matched: number;
}

/** The context an expression evaluates a stored record in. */
export function recordContext(rec: DbRecord, nowMs: number): EvalContext {
  const storedBytes = storedSizeOf(rec);
  return { bins: rec.bins, meta: rec.meta, set: rec.key.set, digest: rec.key.digest, keyExists: rec.key.userKey !== undefined, ...(rec.key.userKey === undefined ? {} : { userKey: rec.key.userKey }), nowMs, ...(storedBytes === undefined ? {} : { storedBytes }) };
}

type Cursor =
  | { readonly a: 'r'; readonly i: string; readonly k: unknown; readonly d: string }
  | { readonly a: 'g'; readonly i: string; readonly d: string }
  | { readonly a: 's'; readonly p: number; readonly d: string }
  | { readonly a: 'o'; readonly n: number };

function encodeKey(k: IndexKey): unknown {
  return typeof k === 'bigint' ? { i: k.toString() } : typeof k === 'number' ? { f: k } : { s: k };
}
function decodeKey(j: unknown): IndexKey {
  const o = j as { i?: string; f?: number; s?: string };
  if (typeof o?.i === 'string') return BigInt(o.i);
  if (typeof o?.f === 'number') return o.f;
  if (typeof o?.s === 'string') return o.s;
  throw badCursor();
}
function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify(c)).toString('base64url');
}
function badCursor(): DbError {
  return new DbError('PARAMETER', 'the cursor does not belong to this query', {
    hint: 'resume with the cursor of a row of the same query (same WHERE, index and order)',
  });
}
/** The order of two cursors of one index query: their rows' positions in the index. */
export function cursorOrder(a: string, b: string): number {
  const x = decodeCursor(a);
  const y = decodeCursor(b);
  if (x.a === 'r' && y.a === 'r') {
    const c = compareKeys(decodeKey(x.k), decodeKey(y.k));
    if (c !== 0) return c;
  }
  const dx = 'd' in x ? x.d : '';
  const dy = 'd' in y ? y.d : '';
  return dx < dy ? -1 : dx > dy ? 1 : 0;
}
function decodeCursor(s: string): Cursor {
  try {
    return JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as Cursor;
  } catch {
    throw badCursor();
  }
}
const hex = (d: string): string => Buffer.from(d, 'latin1').toString('hex');
const unhex = (h: string): string => Buffer.from(h, 'hex').toString('latin1');

export function partitionList(f: PartitionFilter | undefined): number[] {
  if (f === undefined) return Array.from({ length: N_PARTITIONS }, (_, i) => i);
  const ids = 'ids' in f ? [...new Set(f.ids)].sort((a, b) => a - b)
    : Array.from({ length: Math.max(0, f.count) }, (_, i) => f.begin + i);
  for (const p of ids) {
    if (!Number.isInteger(p) || p < 0 || p >= N_PARTITIONS) {
      throw new DbError('PARAMETER', `partition ${p} is outside 0..${N_PARTITIONS - 1}`, { hint: `partitions run from 0 to ${N_PARTITIONS - 1}` });
    }
  }
  return ids;
}

function selectBins(bins: Bins, names: readonly string[] | undefined): Bins {
  if (names === undefined) return bins;
  const out: Bins = {};
  for (const n of names) {
    const v = bins[n];
    if (v !== undefined) out[n] = v;
  }
  return out;
}

/** A streamed row: the record with the selected bins, and its cursor. */
function queryRow(rec: DbRecord, bins: readonly string[] | undefined, cursor: Cursor): QueryRow {
  return { record: { ...rec, bins: selectBins(rec.bins, bins) }, cursor: encodeCursor(cursor) };
}

const BATCH = 256;

/** The most record bytes an ORDER BY without a LIMIT (or with a large one) holds to sort. */
export const ORDER_BY_MAX_BYTES = 64 * 1024 * 1024;

/**
 * Runs queries: plans them (index or scan), streams matching records with bin selection,
 * limit, partition filter and resumable cursors, sorts for ORDER BY, and aggregates.
 */
export class QueryEngine {
  private readonly indexes: IndexManager;
  private readonly source: RecordSource;
  private cluster: QueryCluster | undefined;

  constructor(indexes: IndexManager, source: RecordSource) {
    this.indexes = indexes;
    this.source = source;
  }

  private now(): number {
    return this.source.now?.() ?? Date.now();
  }

  /** On a cluster node: index queries run on the partitions' masters from now on. */
  useCluster(cluster: QueryCluster): void {
    this.cluster = cluster;
  }

  async plan(spec: QuerySpec): Promise<Plan> {
    if (spec.limit !== undefined && (!Number.isInteger(spec.limit) || spec.limit < 0)) {
      throw new DbError('PARAMETER', `LIMIT must be a non-negative integer, got ${spec.limit}`);
    }
    // a cursor pins the access path it was made with, so that pages of one query agree
    let pinned = spec;
    if (spec.cursor !== undefined && spec.orderBy === undefined) {
      const c = decodeCursor(spec.cursor);
      if (c.a === 'r' || c.a === 'g') pinned = { ...spec, indexName: c.i, whileBuilding: 'wait' };
      else if (c.a === 's') pinned = { ...spec, scan: true };
    }
    const partial = this.source.partial?.(spec.namespace) === true;
    // a node's indexes hold the records it holds; without a way to ask the other masters, scan the cluster
    if (partial && this.cluster === undefined) pinned = { ...pinned, scan: true, scanReason: 'other nodes master part of the namespace; the cluster is scanned' };
    const p = await plan(pinned, this.indexes, this.source.approxCount?.(spec.namespace, spec.set));
    if (!partial || this.cluster === undefined) return p;
    const masters = new Set(partitionList(spec.partitions).map((id) => this.cluster?.masterOf(spec.namespace, id))).size;
    return {
      ...p,
      fanOut: p.access.kind !== 'scan',
      cluster: p.access.kind === 'scan'
        ? `${masters} masters each scan the partitions they master; merged on this node in partition order`
        : `${masters} masters each query their own index for the partitions they master; merged on this node in index order`,
    };
  }

  /**
   * A page of this node's share of an index query another node (or this one) fans out: only
   * for partitions it masters and has filled, checked again after reading (a map change on the
   * way answers UNAVAILABLE, and the asking node asks the new masters).
   */
  async share(req: ShareRequest): Promise<SharePage> {
    const c = this.cluster;
    if (c === undefined) throw new DbError('UNAVAILABLE', 'this node is not part of a cluster', { hint: 'ask the node that masters the partitions' });
    if (req.definitions !== undefined && req.from !== c.localNode && req.definitions !== c.definitions()) await c.catchUpFrom(req.from, req.definitions);
    const mastered = (): void => {
      for (const id of req.partitions) {
        if (c.masterOf(req.namespace, id) !== c.localNode) {
          throw new DbError('UNAVAILABLE', `partition ${id} of namespace '${req.namespace}' is not mastered here any more`, { hint: 'ask its new master' });
        }
      }
    };
    mastered();
    const stopAt = req.forMs === undefined ? undefined : this.now() + req.forMs;
    if (!await c.waitFilled(req.namespace, req.partitions, Math.min(SHARE_FILL_WAIT_MS, req.forMs ?? Infinity))) throw new DbError('UNAVAILABLE', `partitions of namespace '${req.namespace}' are still being filled here`, { hint: 'retry once migrations are done' });
    mastered();
    const spec: QuerySpec = {
      namespace: req.namespace, ...(req.set === undefined ? {} : { set: req.set }),
      ...(req.where === undefined ? {} : { where: exprFromJsonText(req.where) }),
      indexName: req.indexName, whileBuilding: 'wait', partitions: { ids: req.partitions },
      ...(req.cursor === undefined ? {} : { cursor: req.cursor }),
    };
    const p = await plan(spec, this.indexes);
    const rows: ShareRow[] = [];
    await c.runLocally(async () => {
      for await (const [rec, cursor] of this.matches(p)) {
        // past the time the asking node waits, the page is no longer wanted: stop reading
        if (stopAt !== undefined && this.now() >= stopAt) throw new DbError('TIMEOUT', 'the query\'s share was not read in the time its asking node waits', { hint: 'retry with a longer timeout', inDoubt: false });
        rows.push(queryRow(rec, req.bins, cursor));
        if (rows.length >= req.max) break;
      }
    });
    mastered();
    return { rows, done: rows.length < req.max };
  }

  /** An index query's matches from every master's share, merged in index order. */
  private async *fannedOut(p: Plan & { access: { kind: 'range' | 'geo' } }): AsyncGenerator<[DbRecord, Cursor]> {
    const c = this.cluster as QueryCluster;
    const spec = p.spec;
    const definitions = c.definitions();
    const bins = spec.bins === undefined ? undefined : spec.orderBy === undefined ? spec.bins : [...new Set([...spec.bins, spec.orderBy.bin])];
    const template: ShareTemplate = {
      namespace: spec.namespace, ...(spec.set === undefined ? {} : { set: spec.set }),
      ...(spec.where === undefined ? {} : { where: exprToJsonText(spec.where) }),
      indexName: p.access.index.def.name, ...(bins === undefined ? {} : { bins }), max: c.pageRows ?? SHARE_PAGE_ROWS,
      from: c.localNode, ...(definitions === undefined ? {} : { definitions }),
    };
    const access: ShareAccess = {
      localNode: c.localNode, masterOf: (ns, id) => c.masterOf(ns, id), pause: (ms) => c.pause(ms), now: () => c.now(),
      fetchShare: (node, req, waitMs) => (node === c.localNode ? this.share(req) : c.remoteShare(node, req, waitMs)),
    };
    for await (const row of mergedShares(template, partitionList(spec.partitions), spec.cursor, access, cursorOrder, spec.deadline)) {
      yield [row.record, decodeCursor(row.cursor)];
    }
  }

  async explain(spec: QuerySpec): Promise<Explanation> {
    return explain(await this.plan(spec));
  }

  /** Streams the matching records. */
  async *query(spec: QuerySpec): AsyncGenerator<QueryRow> {
    if (spec.aggregate !== undefined) {
      throw new DbError('PARAMETER', 'an aggregate query returns one value', { hint: 'call aggregate() for COUNT/SUM/MIN/MAX/AVG' });
    }
    const p = await this.plan(spec);
    if (spec.orderBy !== undefined) {
      yield* this.ordered(p);
      return;
    }
    let n = 0;
    const limit = spec.limit ?? Infinity;
    if (limit === 0) return;
    for await (const [rec, cursor] of this.matches(p)) {
      yield queryRow(rec, spec.bins, cursor);
      if (++n >= limit) return;
    }
  }

  /** Collects a query's rows (convenience for callers that do not stream). */
  async all(spec: QuerySpec): Promise<QueryRow[]> {
    const out: QueryRow[] = [];
    for await (const r of this.query(spec)) out.push(r);
    return out;
  }

  async aggregate(spec: QuerySpec): Promise<AggregateResult> {
    const agg = spec.aggregate;
    if (agg === undefined) throw new DbError('PARAMETER', 'no aggregate function given', { hint: 'set aggregate: { fn: "COUNT" }' });
    if (agg.fn !== 'COUNT' && agg.bin === undefined) {
      throw new DbError('PARAMETER', `${agg.fn} needs a bin`, { hint: `write ${agg.fn}(bin)` });
    }
    const p = await this.plan({ ...spec, aggregate: undefined, orderBy: undefined, bins: agg.bin === undefined ? [] : [agg.bin] });
    let matched = 0;
    let count = 0;
    let isum = 0n;
    let fsum = 0;
    let anyDouble = false;
    let best: BinValue | undefined;
    const limit = spec.limit ?? Infinity;
    for await (const [rec] of this.matches(p)) {
      if (matched >= limit) break;
      matched++;
      if (agg.bin === undefined) continue;
      const v = rec.bins[agg.bin];
      if (v === undefined || v === null) continue;
      switch (agg.fn) {
        case 'COUNT': count++; break;
        case 'SUM': case 'AVG':
          if (typeof v === 'bigint') { isum += v; count++; } else if (typeof v === 'number') { fsum += v; anyDouble = true; count++; }
          break;
        case 'MIN': if (best === undefined || compareValues(v, best) < 0) best = v; break;
        case 'MAX': if (best === undefined || compareValues(v, best) > 0) best = v; break;
      }
    }
    let value: BinValue;
    switch (agg.fn) {
      case 'COUNT': value = BigInt(agg.bin === undefined ? matched : count); break;
      case 'SUM':
        value = count === 0 ? null : anyDouble ? Number(isum) + fsum : checkInt64(isum, 'SUM');
        break;
      case 'AVG': value = count === 0 ? null : (Number(isum) + fsum) / count; break;
      default: value = best ?? null;
    }
    return { fn: agg.fn, bin: agg.bin, value, matched };
  }

  private async *ordered(p: Plan): AsyncGenerator<QueryRow> {
    const spec = p.spec;
    const ob = spec.orderBy as { bin: string; desc?: boolean };
    let from = 0;
    if (spec.cursor !== undefined) {
      const c = decodeCursor(spec.cursor);
      if (c.a !== 'o') throw badCursor();
      from = c.n;
    }
    const dir = ob.desc === true ? -1 : 1;
    const order = (a: DbRecord, b: DbRecord): number => {
      const va = a.bins[ob.bin];
      const vb = b.bins[ob.bin];
      const ma = va === undefined || va === null;
      const mb = vb === undefined || vb === null;
      if (ma || mb) return ma === mb ? 0 : ma ? 1 : -1; // records without the bin last
      return dir * compareValues(va, vb);
    };
    // only the first `keep` records in order are ever sent: hold no more than those (a sorted
    // window, ties in scan order), and no more than ORDER_BY_MAX_BYTES of them
    const keep = spec.limit === undefined ? Infinity : from + spec.limit;
    const rows: DbRecord[] = [];
    let bytes = 0;
    for await (const [rec] of this.matches({ ...p, spec: { ...spec, cursor: undefined } })) {
      if (rows.length >= keep && order(rec, rows[rows.length - 1] as DbRecord) >= 0) continue;
      let lo = 0;
      let hi = rows.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (order(rows[mid] as DbRecord, rec) <= 0) lo = mid + 1;
        else hi = mid;
      }
      rows.splice(lo, 0, rec);
      bytes += approxRecordBytes(rec);
      if (rows.length > keep) bytes -= approxRecordBytes(rows.pop() as DbRecord);
      if (bytes > ORDER_BY_MAX_BYTES) {
        throw new DbError('QUERY_ABORTED', `ORDER BY would hold more than ${ORDER_BY_MAX_BYTES / 1048576} MiB of records to sort (${rows.length} so far)`, {
          hint: 'add a LIMIT (ORDER BY holds only the records it sends, and a cursor pages on), name fewer bins, or narrow the WHERE',
        });
      }
    }
    const end = Math.min(rows.length, keep);
    for (let i = from; i < end; i++) {
      const rec = rows[i] as DbRecord;
      yield queryRow(rec, spec.bins, { a: 'o', n: i + 1 });
    }
  }

  /**
   * Records matching the plan (full WHERE re-checked), each with the cursor that resumes after
   * it; past the query's deadline, TIMEOUT (the fan-out stops: no share is asked for more).
   */
  private async *matches(p: Plan): AsyncGenerator<[DbRecord, Cursor]> {
    const deadline = p.spec.deadline;
    if (deadline === undefined) {
      yield* this.matching(p);
      return;
    }
    if (this.now() >= deadline) throw deadlinePassed('query');
    for await (const m of this.matching(p)) {
      if (this.now() >= deadline) throw deadlinePassed('query');
      yield m;
    }
  }

  private async *matching(p: Plan): AsyncGenerator<[DbRecord, Cursor]> {
    if (p.fanOut === true && p.access.kind !== 'scan') {
      yield* this.fannedOut(p as Plan & { access: { kind: 'range' | 'geo' } });
      return;
    }
    const spec = p.spec;
    const filter = compileFilter(spec.where);
    const parts = partitionList(spec.partitions);
    const wanted = spec.partitions === undefined ? undefined : new Set(parts);
    const cursor = spec.cursor === undefined ? undefined : decodeCursor(spec.cursor);
    const ok = (rec: DbRecord | undefined, now: number): rec is DbRecord =>
      rec !== undefined && (spec.set === undefined || rec.key.set === spec.set) && filter(recordContext(rec, now));
    /** The record an index entry points at, unless its partition is filtered out. */
    const fetch = async (d: string): Promise<DbRecord | undefined> => {
      const digest = digestFromKey(d);
      return wanted !== undefined && !wanted.has(partitionOf(digest)) ? undefined : this.source.get(spec.namespace, digest);
    };
    const a = p.access;

    if (a.kind === 'range') {
      const name = a.index.def.name;
      let after: IndexEntry | undefined;
      if (cursor !== undefined) {
        if (cursor.a !== 'r' || cursor.i !== name) throw badCursor();
        after = { k: decodeKey(cursor.k), d: unhex(cursor.d) };
      }
      const multi = a.index.def.collection !== 'DEFAULT';
      for (;;) {
        const batch = a.index.range(a.range, after, BATCH);
        if (batch.length === 0) return;
        after = batch[batch.length - 1];
        const now = this.now();
        for (const e of batch) {
          const turn = checkpoint(); // a query run as a job lets requests be served between its turns
          if (turn !== undefined) await turn;
          const rec = await fetch(e.d);
          if (!ok(rec, now)) continue;
          if (multi) {
            // a record with several values in range is returned once: at its smallest one
            let min: IndexKey | undefined;
            for (const k of keysOf(a.index.def, rec.bins)) if (inBounds(k, a.range) && (min === undefined || compareKeys(k, min) < 0)) min = k;
            if (min !== undefined && compareKeys(min, e.k) !== 0) continue;
          }
          yield [rec, { a: 'r', i: name, k: encodeKey(e.k), d: hex(e.d) }];
        }
        if (batch.length < BATCH) return;
      }
    }

    if (a.kind === 'geo') {
      const name = a.index.def.name;
      let after = '';
      if (cursor !== undefined) {
        if (cursor.a !== 'g' || cursor.i !== name) throw badCursor();
        after = unhex(cursor.d);
      }
      const now = this.now();
      for (const d of a.index.geoCandidates(a.op, a.shape)) {
        if (d <= after) continue;
        const rec = await fetch(d);
        if (ok(rec, now)) yield [rec, { a: 'g', i: name, d: hex(d) }];
      }
      return;
    }

    // scan: partition by partition, each in digest order, so that a cursor can resume exactly
    let startP = -1;
    let afterD = '';
    if (cursor !== undefined) {
      if (cursor.a !== 's') throw badCursor();
      startP = cursor.p;
      afterD = unhex(cursor.d);
    }
    // With a filter, decode only the bins it reads; matches whose output needs more bins are re-read whole.
    const needed = spec.where === undefined ? undefined : referencedBins(spec.where);
    const partial = needed !== undefined && (spec.bins === undefined || spec.bins.some((b) => !needed.has(b)));
    const scanBins = needed === undefined ? undefined : spec.bins === undefined ? [...needed] : [...new Set([...needed, ...spec.bins])];
    const scanOpts = (partitions: number[]) => ({
      partitions, ...(spec.set === undefined ? {} : { set: spec.set }), ...(scanBins === undefined ? {} : { bins: scanBins }),
      ...(spec.deadline === undefined ? {} : { deadline: spec.deadline }),
    });
    // One scan over all the partitions (in a cluster, one stream per master rather than a round
    // trip per partition); records come partition by partition in the order asked, and each
    // partition's hits are sorted by digest before they go out.
    const todo = parts.filter((p) => p >= startP);
    const self = this;
    async function* flush(part: number, hits: Array<[string, DbRecord]>): AsyncGenerator<[DbRecord, Cursor]> {
      hits.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
      for (const [d, rec] of hits) {
        if (!partial) {
          yield [rec, { a: 's', p: part, d: hex(d) }];
          continue;
        }
        const full = await self.source.get(spec.namespace, rec.key.digest);
        if (ok(full, self.now())) yield [full, { a: 's', p: part, d: hex(d) }];
      }
    }
    let current = -1;
    let hits: Array<[string, DbRecord]> = [];
    if (todo.length > 0) {
      for await (const rec of this.source.scan(spec.namespace, scanOpts(todo))) {
        if (rec.key.partition !== current) {
          if (current >= 0) yield* flush(current, hits);
          current = rec.key.partition;
          hits = [];
        }
        if (!ok(rec, this.now())) continue;
        const d = digestString(rec.key.digest);
        if (current === startP && d <= afterD) continue;
        hits.push([d, rec]);
      }
      if (current >= 0) yield* flush(current, hits);
    }
  }
}
