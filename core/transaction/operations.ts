import type { BinValue, MapKey } from '../model/index.ts';

/** List operations (Aerospike CDT list subset). Indexes may be negative (from the end). */
export type ListOpKind =
  | 'append' | 'appendItems' | 'insert' | 'insertItems' | 'set' | 'increment'
  | 'get' | 'getRange' | 'pop' | 'popRange' | 'remove' | 'removeRange'
  | 'removeByValue' | 'getByValue' | 'size' | 'clear' | 'sort' | 'trim';

/** Map operations (Aerospike CDT map subset). */
export type MapOpKind =
  | 'put' | 'putItems' | 'increment' | 'getByKey' | 'getByKeys' | 'removeByKey' | 'removeByKeys'
  | 'getByValue' | 'removeByValue' | 'size' | 'clear' | 'keys' | 'values';

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
      readonly index?: number; readonly count?: number;
      readonly value?: BinValue; readonly values?: readonly BinValue[];
    }
  | {
      readonly op: 'map'; readonly bin: string; readonly kind: MapOpKind;
      readonly key?: MapKey; readonly keys?: readonly MapKey[];
      readonly value?: BinValue; readonly items?: ReadonlyMap<MapKey, BinValue>;
    };

export function isWriteOperation(op: Operation): boolean {
  switch (op.op) {
    case 'read': case 'readHeader': return false;
    case 'list': return !['get', 'getRange', 'getByValue', 'size'].includes(op.kind);
    case 'map': return !['getByKey', 'getByKeys', 'getByValue', 'size', 'keys', 'values'].includes(op.kind);
    default: return true;
  }
}
