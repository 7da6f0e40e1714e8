export { SlipstreamClient, toPbKey, fromPbRecord, fromPbMeta } from './client.ts';
export type { ClientKey, ClientRecord, ClientRecordMeta, ClientWritePolicy, ClientOptions, CallOptions, ScanOptions } from './client.ts';
export { toPbOperation } from './operations.ts';
export { fromServiceError } from './errors.ts';
export type { Operation, ListOpKind, MapOpKind, CdtReturnType, CdtContextItem, ListOrder, MapOrder } from '../transaction/operations.ts';
export { DbError } from '../errors/index.ts';
export { GeoJson } from '../model/index.ts';
export * as expr from '../query/expr/ast.ts';
export type { Expr } from '../query/expr/ast.ts';
