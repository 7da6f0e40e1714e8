import type { BinValue, ListOrder, MapKey, MapOrder } from '../model/index.ts';
import { isBitRead, type BitOperation } from './bit-ops.ts';
import { isHllRead, type HllOperation } from './hll-ops.ts';
import type { CdtContextItem } from './cdt/context-item.ts';
import type { ExpReadOperation, ExpWriteOperation } from './expression-ops.ts';

/**
 * List operations (Aerospike CDT list operations). Indexes and ranks may be negative (from the
 * end / from the largest). The `get…`/`remove…By…` selectors take a `returnType` and `inverted`.
 */
export type ListOpKind =
  | 'append' | 'appendItems' | 'insert' | 'insertItems' | 'set' | 'increment'
  | 'get' | 'getRange' | 'pop' | 'popRange' | 'remove' | 'removeRange'
  | 'removeByValue' | 'getByValue' | 'size' | 'clear' | 'sort' | 'trim'
  | 'getByIndex' | 'getByIndexRange' | 'getByRank' | 'getByRankRange'
  | 'getByValueRange' | 'getByValueList' | 'getByValueRelRankRange'
  | 'removeByIndex' | 'removeByIndexRange' | 'removeByRank' | 'removeByRankRange'
  | 'removeByValueRange' | 'removeByValueList' | 'removeByValueRelRankRange'
  | 'setOrder';

/**
 * Map operations (Aerospike CDT map operations). By-index operations address the map in key
 * order (as Aerospike's key-ordered maps); ranks are value order.
 */
export type MapOpKind =
  | 'put' | 'putItems' | 'increment' | 'getByKey' | 'getByKeys' | 'removeByKey' | 'removeByKeys'
  | 'getByValue' | 'removeByValue' | 'size' | 'clear' | 'keys' | 'values'
  | 'getByIndex' | 'getByIndexRange' | 'getByRank' | 'getByRankRange'
  | 'getByKeyRange' | 'getByValueRange' | 'getByKeyList' | 'getByValueList'
  | 'getByKeyRelIndexRange' | 'getByValueRelRankRange'
  | 'removeByIndex' | 'removeByIndexRange' | 'removeByRank' | 'removeByRankRange'
  | 'removeByKeyRange' | 'removeByValueRange' | 'removeByKeyList' | 'removeByValueList'
  | 'removeByKeyRelIndexRange' | 'removeByValueRelRankRange'
  | 'setOrder';

/**
 * What a selecting list/map operation returns (Aerospike's ListReturnType / MapReturnType).
 * `key` and `keyValue` apply to maps only.
 */
export type CdtReturnType =
  | 'none' | 'index' | 'reverseIndex' | 'rank' | 'reverseRank' | 'count' | 'value' | 'exists'
  | 'key' | 'keyValue' | 'unorderedMap' | 'orderedMap';

/**
 * `keyValue` answers a map of the source map's order; `unorderedMap` / `orderedMap` (Aerospike's
 * UNORDERED_MAP / ORDERED_MAP) an unordered or key-ordered one.
 */
export const CDT_RETURN_TYPES: readonly CdtReturnType[] = [
  'none', 'index', 'reverseIndex', 'rank', 'reverseRank', 'count', 'value', 'exists', 'key', 'keyValue', 'unorderedMap', 'orderedMap',
];

export type { ListOrder, MapOrder };

export type { CdtContextItem };

/** Aerospike's ListWriteFlags (applied in cdt/write-flags.ts). */
export interface ListWriteFlags {
  readonly addUnique?: boolean;
  readonly insertBounded?: boolean;
  readonly noFail?: boolean;
  readonly partial?: boolean;
}

/**
 * Aerospike's ListSortFlags: `descending` sorts an unordered list from the largest (an ordered
 * list stays ascending, as on the server); `dropDuplicates` keeps one of each equal value.
 */
export interface ListSortFlags {
  readonly descending?: boolean;
  readonly dropDuplicates?: boolean;
}

/** Aerospike's MapWriteFlags (applied in cdt/write-flags.ts). */
export interface MapWriteFlags {
  readonly createOnly?: boolean;
  readonly updateOnly?: boolean;
  readonly noFail?: boolean;
  readonly partial?: boolean;
}

/** One operation of an atomic operate call. */
export type Operation =
  | { readonly op: 'read'; readonly bin?: string }
  | { readonly op: 'readHeader' }
  | { readonly op: 'write'; readonly bin: string; readonly value: BinValue }
  | { readonly op: 'add'; readonly bin: string; readonly value: bigint | number }
  | { readonly op: 'append'; readonly bin: string; readonly value: string | Uint8Array }
  | { readonly op: 'prepend'; readonly bin: string; readonly value: string | Uint8Array }
  | { readonly op: 'touch' }
  | { readonly op: 'delete' }
  | {
      readonly op: 'list'; readonly bin: string; readonly kind: ListOpKind;
      /** The path to the nested list to work on; absent or empty: the bin's list. */
      readonly ctx?: readonly CdtContextItem[];
      /** Index (by-index operations), or the start of an index range. */
      readonly index?: number;
      /** Rank (by-rank operations), or the relative rank of the by-value-rel-rank operations. */
      readonly rank?: number;
      /** Element count of a range (absent: to the end). */
      readonly count?: number;
      /** The value argument; the (inclusive) start of a value range (absent or nil: from the lowest). */
      readonly value?: BinValue;
      /** The (exclusive) end of a value range (absent or nil: to the highest). */
      readonly valueEnd?: BinValue;
      /** The values argument (append/insert items, by-value-list). */
      readonly values?: readonly BinValue[];
      readonly returnType?: CdtReturnType;
      /** Select every element the operation would not select. */
      readonly inverted?: boolean;
      /** Write flags of append/appendItems/insert/insertItems/set (Aerospike's ListWriteFlags). */
      readonly flags?: ListWriteFlags;
      /** sort: Aerospike's ListSortFlags (descending; drop duplicates). */
      readonly sortFlags?: ListSortFlags;
      /**
       * append/appendItems/increment: the order of the list they create when it is missing (an
       * existing list keeps its own); setOrder: the new order. Other kinds take none.
       */
      readonly order?: ListOrder;
    }
  | {
      readonly op: 'map'; readonly bin: string; readonly kind: MapOpKind;
      /** The path to the nested map to work on; absent or empty: the bin's map. */
      readonly ctx?: readonly CdtContextItem[];
      /** The key argument; the (inclusive) start of a key range (absent: from the lowest). */
      readonly key?: MapKey;
      /** The (exclusive) end of a key range (absent: to the highest). */
      readonly keyEnd?: MapKey;
      readonly keys?: readonly MapKey[];
      /** Index in key order (by-index operations), or the relative index of by-key-rel-index. */
      readonly index?: number;
      /** Rank in value order (by-rank operations), or the relative rank of by-value-rel-rank. */
      readonly rank?: number;
      readonly count?: number;
      /** The value argument; the (inclusive) start of a value range (absent or nil: from the lowest). */
      readonly value?: BinValue;
      /** The (exclusive) end of a value range (absent or nil: to the highest). */
      readonly valueEnd?: BinValue;
      readonly values?: readonly BinValue[];
      readonly items?: ReadonlyMap<MapKey, BinValue>;
      readonly returnType?: CdtReturnType;
      readonly inverted?: boolean;
      /** Write flags of put/putItems/increment (Aerospike's MapWriteFlags). */
      readonly flags?: MapWriteFlags;
      /**
       * put/putItems/increment: the order of the map they create when it is missing (an existing
       * map keeps its own); setOrder: the new order. Other kinds take none.
       */
      readonly order?: MapOrder;
    }
  /** A bit operation on a bytes bin (see bit-ops.ts). */
  | BitOperation
  /** A HyperLogLog operation on an HLL bin (see hll-ops.ts). */
  | HllOperation
  /** An expression's value returned under a name, or written to a bin (see expression-ops.ts). */
  | ExpReadOperation
  | ExpWriteOperation;

const LIST_READS: ReadonlySet<ListOpKind> = new Set<ListOpKind>([
  'get', 'getRange', 'getByValue', 'size', 'getByIndex', 'getByIndexRange', 'getByRank', 'getByRankRange',
  'getByValueRange', 'getByValueList', 'getByValueRelRankRange',
]);
const MAP_READS: ReadonlySet<MapOpKind> = new Set<MapOpKind>([
  'getByKey', 'getByKeys', 'getByValue', 'size', 'keys', 'values', 'getByIndex', 'getByIndexRange', 'getByRank',
  'getByRankRange', 'getByKeyRange', 'getByValueRange', 'getByKeyList', 'getByValueList', 'getByKeyRelIndexRange',
  'getByValueRelRankRange',
]);

export function isWriteOperation(op: Operation): boolean {
  switch (op.op) {
    case 'read': case 'readHeader': case 'expRead': return false;
    case 'list': return !LIST_READS.has(op.kind);
    case 'map': return !MAP_READS.has(op.kind);
    case 'bit': return !isBitRead(op.kind);
    case 'hll': return !isHllRead(op.kind);
    default: return true;
  }
}
