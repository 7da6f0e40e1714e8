import type { Deadline } from '@grpc/grpc-js';
import { DbError } from '../../errors/index.ts';
import { answerBy } from '../../transaction/policy.ts';
import { callDeadline } from './request-mapping.ts';
import type { Logger } from '../../plugin-api/index.ts';
import type { IndexDefinition, IndexType, CollectionType } from '../../query/index/definition.ts';
import type { IndexStatus } from '../../query/index/manager.ts';
import { exprFromJsonText } from '../../query/expr/json.ts';
import { explainRows, type AggregateFn, type QuerySpec } from '../../query/planner.ts';
import type { QuerySubsystem } from '../../query/query-engine-service.ts';
import { unary, serverStream } from '../rpc.ts';
import { checkRecordsPerMessage, pages } from '../wire/pages.ts';
import { toPbRecord, toPbValue } from '../../wire/convert.ts';
import { approxRecordBytes } from '../../model/index.ts';
import type {
  ExplainRequest, IndexInfo, QueryRequest, QueryResponse, QueryServiceServer,
} from '../../wire/generated/slipstream/v1/query.ts';

function toInfo(s: IndexStatus): IndexInfo {
  return {
    namespace: s.namespace, name: s.name, ...(s.set === undefined ? {} : { set: s.set }), bin: s.bin, type: s.type,
    collection: s.collection, state: s.state, loadPct: s.loadPct, entries: BigInt(s.entries), buildScanned: BigInt(s.buildScanned),
    buildMs: BigInt(Math.round(s.buildMs ?? 0)),
  };
}

/** What Aggregate and Explain do not use of a query: they stream no records (and Aggregate orders none). */
const NOT_STREAMED: Readonly<Record<'Aggregate' | 'Explain', ReadonlyArray<readonly [string, (q: QueryRequest) => boolean]>>> = {
  Aggregate: [['bins', (q) => q.bins.length > 0], ['no_bins', (q) => q.noBins], ['order_by', (q) => q.orderBy !== ''], ['descending', (q) => q.descending], ['records_per_message', (q) => q.recordsPerMessage !== 0]],
  Explain: [['bins', (q) => q.bins.length > 0], ['no_bins', (q) => q.noBins], ['records_per_message', (q) => q.recordsPerMessage !== 0]],
};

/** A gRPC query request as a query spec; `rpc` names the call, whose unused fields are refused. */
export function specFromRequest(req: QueryRequest | undefined, rpc: 'Query' | 'Aggregate' | 'Explain' = 'Query'): QuerySpec {
  if (req === undefined) throw new DbError('PARAMETER', 'the request has no query', { hint: 'set query.namespace (and a filter)' });
  if (req.descending && req.orderBy === '') throw new DbError('PARAMETER', 'descending is set without order_by', { hint: 'name the bin to order by in order_by, or leave descending out' });
  if (rpc !== 'Query') {
    const set = NOT_STREAMED[rpc].filter(([, isSet]) => isSet(req)).map(([name]) => name);
    if (set.length > 0) throw new DbError('PARAMETER', `${rpc} takes no ${set.join(', ')} in its query`, { hint: `${rpc} returns no records: leave ${set.join(', ')} out` });
  }
  const whileBuilding = req.whileBuilding === '' ? undefined : req.whileBuilding;
  if (whileBuilding !== undefined && whileBuilding !== 'error' && whileBuilding !== 'wait' && whileBuilding !== 'scan') {
    throw new DbError('PARAMETER', `while_building must be "error", "wait" or "scan", not ${JSON.stringify(req.whileBuilding)}`);
  }
  return {
    namespace: req.namespace,
    ...(req.set === undefined ? {} : { set: req.set }),
    ...(req.filterJson === '' ? {} : { where: exprFromJsonText(req.filterJson) }),
    ...(req.noBins ? { bins: [] } : req.bins.length > 0 ? { bins: req.bins } : {}),
    ...(req.limit > 0n ? { limit: Number(req.limit) } : {}),
    ...(req.partitions.length > 0 ? { partitions: { ids: req.partitions } } : {}),
    ...(req.cursor === '' ? {} : { cursor: req.cursor }),
    ...(req.orderBy === '' ? {} : { orderBy: { bin: req.orderBy, desc: req.descending } }),
    ...(req.indexName === '' ? {} : { indexName: req.indexName }),
    ...(whileBuilding === undefined ? {} : { whileBuilding }),
  };
}

/**
 * A query that gives up a little before the call's deadline (answerBy), so that the client gets
 * the node's TIMEOUT with its reason, and the node stops asking the masters for more.
 */
export function untilDeadline(spec: QuerySpec, deadline: Deadline, nowMs: () => number): QuerySpec {
  const at = callDeadline(deadline, nowMs);
  return Number.isFinite(at) ? { ...spec, deadline: answerBy(at, nowMs()) } : spec;
}

/** The QueryService gRPC handlers. */
export function queryHandlers(q: QuerySubsystem, nowMs: () => number, logger: Logger): QueryServiceServer {
  return {
    createIndex: unary(logger, 'CreateIndex', async (req) => {
      const def: IndexDefinition = {
        namespace: req.namespace, name: req.name, bin: req.bin, type: req.type as IndexType,
        collection: (req.collection === '' ? 'DEFAULT' : req.collection) as CollectionType,
        ...(req.set === undefined ? {} : { set: req.set }),
      };
      return { index: toInfo(await q.indexes.create(def)) };
    }),
    dropIndex: unary(logger, 'DropIndex', async (req) => {
      await q.indexes.drop(req.namespace, req.name, req.set);
      return {};
    }),
    listIndexes: unary(logger, 'ListIndexes', async (req) => ({ indexes: q.indexes.list(req.namespace === '' ? undefined : req.namespace).map(toInfo) })),
    getIndexStat: unary(logger, 'GetIndexStat', async (req) => ({ index: toInfo(q.indexes.stat(req.namespace, req.name)) })),
    query: serverStream(logger, 'Query', async function* (req, signal, call): AsyncIterable<QueryResponse> {
      const perMessage = checkRecordsPerMessage(req.recordsPerMessage);
      const rows = q.engine.query(untilDeadline(specFromRequest(req), call.getDeadline(), nowMs));
      if (perMessage <= 1) {
        for await (const row of rows) {
          if (signal.aborted) return;
          yield { record: toPbRecord(row.record, nowMs()), cursor: row.cursor, records: [] };
        }
        return;
      }
      for await (const page of pages(rows, perMessage, (row) => approxRecordBytes(row.record))) {
        if (signal.aborted) return;
        const t = nowMs();
        yield { records: page.map((row) => toPbRecord(row.record, t)), cursor: (page[page.length - 1] as { cursor: string }).cursor };
      }
    }),
    aggregate: unary(logger, 'Aggregate', async (req, call) => {
      const fn = req.function.toUpperCase();
      if (!['COUNT', 'SUM', 'MIN', 'MAX', 'AVG'].includes(fn)) {
        throw new DbError('PARAMETER', `unknown aggregate function ${JSON.stringify(req.function)}`, { hint: 'use COUNT, SUM, MIN, MAX or AVG' });
      }
      const spec = untilDeadline(specFromRequest(req.query, 'Aggregate'), call.getDeadline(), nowMs);
      const r = await q.engine.aggregate({ ...spec, aggregate: { fn: fn as AggregateFn, ...(req.bin === '' ? {} : { bin: req.bin }) } });
      return { value: toPbValue(r.value), matched: BigInt(r.matched) };
    }),
    explain: unary(logger, 'Explain', async (req: ExplainRequest) => {
      const e = await q.engine.explain(specFromRequest(req.query, 'Explain'));
      return { access: e.access, entries: explainRows(e).map(([name, value]) => ({ name, value })) };
    }),
  };
}
