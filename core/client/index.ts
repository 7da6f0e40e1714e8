export { SlipstreamClient, toPbKey, fromPbRecord, fromPbMeta } from './client.ts';
export type { ClientKey, ClientRecord, ClientRecordMeta, ClientWritePolicy, ClientReadPolicy, ClientReplica, ClientRoutingStats, ClientOptions, CallOptions, ScanOptions } from './client.ts';
export { toPbOperation } from './operations.ts';
export type { ClientBatchEntry, ClientBatchResult } from './batch.ts';
export { fromServiceError } from './errors.ts';
export type { Operation, ListOpKind, MapOpKind, CdtReturnType, CdtContextItem, ListOrder, MapOrder } from '../transaction/operations.ts';
export { DbError } from '../errors/index.ts';
export { GeoJson, Hll } from '../model/index.ts';
export type { HllOperation, HllOpKind, HllPolicy } from '../transaction/hll-ops.ts';
/** Ordered values: `withListOrder([...], 'ordered')`, `withMapOrder(new Map(...), 'keyOrdered')`; `listOrder`/`mapOrder` read a value's order. */
export { withListOrder, withMapOrder, listOrder, mapOrder } from '../model/index.ts';
export * as expr from '../query/expr/ast.ts';
export type { Expr } from '../query/expr/ast.ts';
