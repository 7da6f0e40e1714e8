/**
 * The order a list or map is kept in (Aerospike's ListOrder / MapOrder), carried with the value.
 *
 * A list is unordered (elements where they were put) or ordered (always sorted in CDT value
 * order). A map is unordered (entries in the order they were added), key-ordered (entries sorted
 * by key) or key-value-ordered (sorted by key as well; Aerospike also keeps a value index for it,
 * which changes no result). Unordered is the default and needs no mark.
 *
 * The mark is kept beside the container (a WeakMap), not in it: values stay plain arrays and
 * Maps everywhere, and any copy is unordered until it is marked again — so every place that
 * derives a new container from an ordered one marks it through `withListOrder`/`withMapOrder`,
 * which also put the elements in that order. The record codec, the protobuf and Aerospike wire
 * forms and the fabric carry the mark (see record-codec.ts, wire/convert.ts, msgpack.ts,
 * fabric-values.ts).
 */
import type { BinValue, MapKey } from './values.ts';
import { cdtCompare } from './value-order.ts';

/** The order of a list (Aerospike's ListOrder): an ordered list keeps its elements sorted. */
export type ListOrder = 'unordered' | 'ordered';

/** The order of a map (Aerospike's MapOrder): which order its entries are kept in. */
export type MapOrder = 'unordered' | 'keyOrdered' | 'keyValueOrdered';

export const LIST_ORDERS: readonly ListOrder[] = ['unordered', 'ordered'];
export const MAP_ORDERS: readonly MapOrder[] = ['unordered', 'keyOrdered', 'keyValueOrdered'];

const listOrders = new WeakSet<readonly BinValue[]>();
const mapOrders = new WeakMap<ReadonlyMap<MapKey, BinValue>, MapOrder>();

export function listOrder(list: readonly BinValue[]): ListOrder {
  return listOrders.has(list) ? 'ordered' : 'unordered';
}

export function mapOrder(map: ReadonlyMap<MapKey, BinValue>): MapOrder {
  return mapOrders.get(map) ?? 'unordered';
}

/** `items` (sorted in place when ordered) marked with `order`. Pass a fresh array. */
export function withListOrder(items: BinValue[], order: ListOrder): BinValue[] {
  if (order === 'ordered') {
    items.sort(cdtCompare);
    listOrders.add(items);
  }
  return items;
}

/**
 * `map` marked with `order`; for a key-ordered order, its entries are put in key order
 * (a new Map when they were not). Pass a fresh Map.
 */
export function withMapOrder(map: Map<MapKey, BinValue>, order: MapOrder): Map<MapKey, BinValue> {
  if (order === 'unordered') return map;
  let out = map;
  let prev: MapKey | undefined;
  let sorted = true;
  for (const k of map.keys()) {
    if (prev !== undefined && cdtCompare(prev, k) > 0) { sorted = false; break; }
    prev = k;
  }
  if (!sorted) out = new Map([...map].sort((x, y) => cdtCompare(x[0], y[0])));
  mapOrders.set(out, order);
  return out;
}

/** A container derived from `from` keeps `from`'s order (other values pass unchanged). */
export function keepOrder(from: BinValue | undefined, next: BinValue): BinValue {
  if (from === undefined || from === null || next === null || next === from) return next;
  if (Array.isArray(from) && Array.isArray(next)) {
    const order = listOrder(from as readonly BinValue[]);
    return order === 'unordered' ? next : withListOrder([...(next as readonly BinValue[])], order);
  }
  if (from instanceof Map && next instanceof Map) {
    const order = mapOrder(from as ReadonlyMap<MapKey, BinValue>);
    return order === 'unordered' ? next : withMapOrder(new Map(next as ReadonlyMap<MapKey, BinValue>), order);
  }
  return next;
}

/** Whether `v` or anything in it carries an order mark. */
export function hasOrderedContainer(v: BinValue): boolean {
  if (Array.isArray(v)) {
    if (listOrders.has(v)) return true;
    return (v as readonly BinValue[]).some((x) => typeof x === 'object' && x !== null && hasOrderedContainer(x));
  }
  if (v instanceof Map) {
    if (mapOrders.has(v)) return true;
    for (const x of (v as ReadonlyMap<MapKey, BinValue>).values()) if (typeof x === 'object' && x !== null && hasOrderedContainer(x)) return true;
  }
  return false;
}
