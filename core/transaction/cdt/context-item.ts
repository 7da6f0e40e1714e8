import type { BinValue, ListOrder, MapKey, MapOrder } from '../../model/index.ts';

/**
 * One step of a path into nested lists and maps (Aerospike's CDT context, `CTX`). A list or map
 * operation with a context works on the element the path ends at. `create` (Aerospike's
 * create flags, list index and map key steps only) creates the container the step looks into
 * when it is missing, with that order (and, for lists, nil padding up to the index).
 * See cdt-context.ts for how a path resolves and fails.
 */
export type CdtContextItem =
  | { readonly type: 'listIndex'; readonly index: number; readonly create?: { readonly order: ListOrder; readonly pad?: boolean } }
  | { readonly type: 'listRank'; readonly rank: number }
  | { readonly type: 'listValue'; readonly value: BinValue }
  | { readonly type: 'mapIndex'; readonly index: number }
  | { readonly type: 'mapRank'; readonly rank: number }
  | { readonly type: 'mapKey'; readonly key: MapKey; readonly create?: { readonly order: MapOrder } }
  | { readonly type: 'mapValue'; readonly value: BinValue };
