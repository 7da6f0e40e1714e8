/**
 * Runs UDFs against the kernel: a record UDF inside `kernel.mutate` (so the engine's apply step
 * runs under the record lock and its effect is written with the kernel's generation and TTL
 * rules), and aggregations over any stream of records (a scan, or a secondary-index query)
 * cut into batches for the sandbox.
 */
import { DbError } from '../errors/index.ts';
import type { BinValue, Bins, DbRecord, RecordKey, RecordMeta } from '../model/index.ts';
import type { NodeId } from '../plugin-api/index.ts';
import type { Kernel, Mutation, ScanRequest } from '../transaction/kernel.ts';
import { DEFAULT_WRITE_POLICY, type WritePolicy } from '../transaction/policy.ts';
import type { AggregationOptions, RecordEffect, UdfCall, UdfEngine } from './engine.ts';

export interface RecordUdfOutcome {
  readonly value: BinValue;
  /** Metadata after the call; undefined when the record does not exist (any more). */
  readonly meta: RecordMeta | undefined;
  readonly effect: RecordEffect['kind'];
  readonly logs: readonly string[];
}

export function toMutation(effect: RecordEffect, exists: boolean): Mutation {
  switch (effect.kind) {
    case 'none': return { kind: 'none' };
    case 'delete': return exists ? { kind: 'delete' } : { kind: 'none' };
    case 'write': return effect.ttl === undefined ? { kind: 'write', bins: effect.bins } : { kind: 'write', bins: effect.bins, ttl: effect.ttl };
  }
}

/** What a record UDF call forwarded to the partition's master carries. */
interface ForwardedUdf {
  readonly key: RecordKey;
  readonly call: UdfCall;
  readonly policy: Omit<WritePolicy, 'filter'> & { readonly filterSource?: string };
  /** The forwarding node and its digest of the module set: the master is at least as new before it runs. */
  readonly modules?: { readonly node: NodeId; readonly digest: string };
}

/** How long a node that is still catching up on the cluster's modules lets a call wait. */
const CATCH_UP_WAIT_MS = 2000;

/** Serves record UDF calls other nodes forward to this one (the partition's master). */
export function serveForwardedUdfs(kernel: Kernel, engine: UdfEngine): void {
  const f = kernel.forwarding;
  f?.serve<ForwardedUdf>('udf.apply', async ({ key, call, policy, modules }) => {
    if (modules !== undefined) await engine.moduleSync?.catchUpFrom(modules.node, modules.digest);
    return executeRecordUdf(kernel, engine, key, call, f.policy(policy), modules !== undefined);
  });
}

/** Applies a record UDF to one record atomically under its lock (on the partition's master). */
export async function executeRecordUdf(kernel: Kernel, engine: UdfEngine, key: RecordKey, call: UdfCall, policy: WritePolicy = DEFAULT_WRITE_POLICY, caughtUp = false): Promise<RecordUdfOutcome> {
  const f = kernel.forwarding;
  const sync = engine.moduleSync;
  if (f?.remoteMaster(key) !== undefined) {
    const { filter, ...rest } = policy;
    if (filter !== undefined && filter.source === undefined) {
      throw new DbError('PARAMETER', 'this UDF call carries a filter that cannot be sent to the partition\'s master node', { hint: 'give the filter as an expression' });
    }
    // the master bounds the call by its limit; `runBy` is this node's clock
    const { runBy: _local, ...forwarded } = call;
    const body: ForwardedUdf = {
      key, call: forwarded, policy: { ...rest, ...(filter?.source === undefined ? {} : { filterSource: filter.source }) },
      ...(sync === undefined ? {} : { modules: { node: sync.localNode, digest: sync.digest() } }),
    };
    return f.forward(key, 'udf.apply', body, () => executeRecordUdf(kernel, engine, key, call, policy), true, policy.deadline);
  }
  // a node that has not yet received the cluster's modules (it just joined) does not run a possibly older one
  if (sync !== undefined && !caughtUp && !(await sync.whenCaughtUp(CATCH_UP_WAIT_MS))) {
    throw new DbError('UNAVAILABLE', `this node is still receiving the cluster's UDF modules; ${call.module} was not run`, {
      hint: 'retry in a moment: the node joined the cluster and is catching up on its system metadata',
    });
  }
  let effect: RecordEffect['kind'] = 'none';
  let logs: readonly string[] = [];
  const { meta, value } = await kernel.mutate(key, policy, async (current) => {
    const exists = current !== undefined;
    // the stored key, with the caller's user key when it brings one (a copy only then)
    const viewKey = current === undefined ? key : key.userKey === undefined || key.userKey === current.key.userKey ? current.key : { ...current.key, userKey: key.userKey };
    const r = await engine.applyRecord(call, exists ? { key: viewKey, exists, bins: current.bins, meta: current.meta } : { key: viewKey, exists, bins: {} });
    effect = r.effect.kind;
    logs = r.logs;
    return { mutation: toMutation(r.effect, exists), value: r.value };
  });
  return { value, meta, effect, logs };
}

/** Cuts a record stream into batches of bins. */
export async function* binBatches(records: AsyncIterable<DbRecord>, batchSize = 500): AsyncGenerator<Bins[]> {
  let batch: Bins[] = [];
  for await (const r of records) {
    batch.push(r.bins);
    if (batch.length >= batchSize) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

/** Runs a stream UDF over records (e.g. `kernel.scan(...)` or a query's records). */
export function aggregateRecords(engine: UdfEngine, call: UdfCall, records: AsyncIterable<DbRecord>, options: AggregationOptions & { batchSize?: number } = {}): Promise<BinValue[]> {
  return engine.runAggregation(call, binBatches(records, options.batchSize), options);
}

/** Runs a stream UDF over a scan of a namespace or set. */
export function aggregateScan(kernel: Kernel, engine: UdfEngine, call: UdfCall, scan: ScanRequest, options: AggregationOptions & { batchSize?: number } = {}): Promise<BinValue[]> {
  return aggregateRecords(engine, call, kernel.scan(scan), options);
}
