/**
 * Batch operate on the client side: the entries a caller writes, as BatchEntry messages, and
 * the per-entry answers back.
 */
import { DbError, resultCodeName } from '../errors/index.ts';
import type { BinValue, Bins } from '../model/index.ts';
import type { Expr } from '../query/expr/ast.ts';
import { exprToJsonText } from '../query/expr/json.ts';
import type { Operation } from '../transaction/operations.ts';
import type { BatchEntry as PbBatchEntry, BatchOperateResult as PbBatchOperateResult } from '../wire/generated/slipstream/v1/kv.ts';
import type { Key as PbKey, WritePolicy as PbWritePolicy } from '../wire/generated/slipstream/v1/types.ts';
import { fromPbBins, fromPbValue, toPbBins, toPbValue } from '../wire/convert.ts';
import { toPbOperation } from './operations.ts';

/** Policy fields a batch entry takes (the write policy; a read entry takes `filter` only). */
export interface ClientBatchPolicy<P> {
  readonly policy?: P;
}

/** One entry of a batch: a record key and what to do with it. */
export type ClientBatchEntry<K, P> =
  | { readonly kind: 'read'; readonly key: K; readonly bins?: readonly string[]; readonly headerOnly?: boolean; readonly filter?: Expr }
  | ({ readonly kind: 'put'; readonly key: K; readonly bins: Bins } & ClientBatchPolicy<P>)
  | ({ readonly kind: 'delete'; readonly key: K } & ClientBatchPolicy<P>)
  | ({ readonly kind: 'operate'; readonly key: K; readonly operations: readonly Operation[] } & ClientBatchPolicy<P>)
  | ({ readonly kind: 'udf'; readonly key: K; readonly module: string; readonly function: string; readonly args?: readonly BinValue[]; readonly timeoutMs?: number } & ClientBatchPolicy<P>);

/** The answer to one entry: what it returned, or `error` (with `error.inDoubt` when a write's outcome is unknown). */
export interface ClientBatchResult<M> {
  /** Undefined on success. */
  readonly error: DbError | undefined;
  /** The record's metadata after the entry (undefined when deleted, not found, or failed). */
  readonly meta: M | undefined;
  /** A read's bins, or an operate's results by bin. */
  readonly bins: Bins;
  /** A UDF entry's return value. */
  readonly udfResult?: BinValue;
}

/** An entry as its protobuf message, with the caller's key and policy conversions. */
export function toPbBatchEntry<K, P>(e: ClientBatchEntry<K, P>, key: (k: K, forRead: boolean) => PbKey, policy: (p: P) => PbWritePolicy): PbBatchEntry {
  switch (e.kind) {
    case 'read': {
      const filterJson = e.filter === undefined ? '' : exprToJsonText(e.filter);
      return {
        key: key(e.key, true), action: { $case: 'read', value: { bins: [...(e.bins ?? [])], headerOnly: e.headerOnly === true } },
        ...(filterJson === '' ? {} : { policy: { exists: 0, generationPolicy: 0, generation: 0, ttl: 0n, sendKey: false, durableDelete: false, filterJson, commitLevel: 0 } }),
      };
    }
    case 'put': return { key: key(e.key, false), action: { $case: 'put', value: { bins: toPbBins(e.bins) } }, ...policyOf(e, policy) };
    case 'delete': return { key: key(e.key, false), action: { $case: 'delete', value: {} }, ...policyOf(e, policy) };
    case 'operate': return { key: key(e.key, false), action: { $case: 'operate', value: { operations: e.operations.map(toPbOperation) } }, ...policyOf(e, policy) };
    case 'udf': return {
      key: key(e.key, false),
      action: { $case: 'udf', value: { module: e.module, function: e.function, args: (e.args ?? []).map(toPbValue), timeoutMs: e.timeoutMs ?? 0 } },
      ...policyOf(e, policy),
    };
    default: throw new DbError('CLIENT_PARAM', `unknown batch entry kind ${JSON.stringify((e as { kind: unknown }).kind)}`, { hint: 'use read, put, delete, operate or udf' });
  }
}

function policyOf<P>(e: ClientBatchPolicy<P>, policy: (p: P) => PbWritePolicy): { policy?: PbWritePolicy } {
  return e.policy === undefined ? {} : { policy: policy(e.policy) };
}

/** One result message as the caller's result. */
export function fromPbBatchResult<M>(r: PbBatchOperateResult, meta: (m: NonNullable<PbBatchOperateResult['meta']>) => M): ClientBatchResult<M> {
  const error = r.resultCode === 0 ? undefined : new DbError(resultCodeName(r.resultCode) ?? 'SERVER_ERROR', r.message, { resultCode: r.resultCode, inDoubt: r.inDoubt });
  return {
    error,
    meta: r.meta === undefined ? undefined : meta(r.meta),
    bins: fromPbBins(r.bins),
    ...(r.udfResult === undefined ? {} : { udfResult: fromPbValue(r.udfResult) }),
  };
}
