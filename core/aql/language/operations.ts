/**
 * The operations OPERATE accepts: record, list and map operations (aql 6.x names). `bin` says
 * whether the first argument is a bin name; min/max count the values after it.
 */
export interface OperationSpec {
  readonly bin: boolean;
  readonly min: number;
  readonly max: number;
  readonly usage: string;
}

function op(bin: boolean, min: number, max: number, usage: string): OperationSpec {
  return { bin, min, max, usage };
}

export const OPERATIONS: Readonly<Record<string, OperationSpec>> = {
  // record
  TOUCH: op(false, 0, 0, 'TOUCH()'),
  READ: op(true, 0, 0, 'READ(bin)'),
  WRITE: op(true, 1, 1, 'WRITE(bin, value)'),
  APPEND: op(true, 1, 1, "APPEND(bin, 'text')"),
  PREPEND: op(true, 1, 1, "PREPEND(bin, 'text')"),
  INCR: op(true, 1, 1, 'INCR(bin, n)'),
  DELETE: op(false, 0, 0, 'DELETE()'),
  // list
  LIST_APPEND: op(true, 1, 1, 'LIST_APPEND(bin, value)'),
  LIST_APPEND_ITEMS: op(true, 1, 1, "LIST_APPEND_ITEMS(bin, LIST('[…]'))"),
  LIST_INSERT: op(true, 2, 2, 'LIST_INSERT(bin, index, value)'),
  LIST_INSERT_ITEMS: op(true, 2, 2, "LIST_INSERT_ITEMS(bin, index, LIST('[…]'))"),
  LIST_SET: op(true, 2, 2, 'LIST_SET(bin, index, value)'),
  LIST_INCREMENT: op(true, 1, 2, 'LIST_INCREMENT(bin, index[, delta])'),
  LIST_GET: op(true, 1, 1, 'LIST_GET(bin, index)'),
  LIST_GET_RANGE: op(true, 1, 2, 'LIST_GET_RANGE(bin, index[, count])'),
  LIST_POP: op(true, 1, 1, 'LIST_POP(bin, index)'),
  LIST_POP_RANGE: op(true, 1, 2, 'LIST_POP_RANGE(bin, index[, count])'),
  LIST_REMOVE: op(true, 1, 1, 'LIST_REMOVE(bin, index)'),
  LIST_REMOVE_RANGE: op(true, 1, 2, 'LIST_REMOVE_RANGE(bin, index[, count])'),
  LIST_TRIM: op(true, 2, 2, 'LIST_TRIM(bin, index, count)'),
  LIST_CLEAR: op(true, 0, 0, 'LIST_CLEAR(bin)'),
  LIST_SIZE: op(true, 0, 0, 'LIST_SIZE(bin)'),
  LIST_SORT: op(true, 0, 1, 'LIST_SORT(bin[, flags])'),
  LIST_GET_BY_INDEX: op(true, 1, 1, 'LIST_GET_BY_INDEX(bin, index)'),
  LIST_GET_BY_INDEX_RANGE: op(true, 1, 2, 'LIST_GET_BY_INDEX_RANGE(bin, index[, count])'),
  LIST_GET_BY_RANK: op(true, 1, 1, 'LIST_GET_BY_RANK(bin, rank)'),
  LIST_GET_BY_RANK_RANGE: op(true, 1, 2, 'LIST_GET_BY_RANK_RANGE(bin, rank[, count])'),
  LIST_GET_BY_VALUE: op(true, 1, 1, 'LIST_GET_BY_VALUE(bin, value)'),
  LIST_GET_BY_VALUE_RANGE: op(true, 2, 2, 'LIST_GET_BY_VALUE_RANGE(bin, low, high)'),
  LIST_REMOVE_BY_INDEX: op(true, 1, 1, 'LIST_REMOVE_BY_INDEX(bin, index)'),
  LIST_REMOVE_BY_INDEX_RANGE: op(true, 1, 2, 'LIST_REMOVE_BY_INDEX_RANGE(bin, index[, count])'),
  LIST_REMOVE_BY_RANK: op(true, 1, 1, 'LIST_REMOVE_BY_RANK(bin, rank)'),
  LIST_REMOVE_BY_RANK_RANGE: op(true, 1, 2, 'LIST_REMOVE_BY_RANK_RANGE(bin, rank[, count])'),
  LIST_REMOVE_BY_VALUE: op(true, 1, 1, 'LIST_REMOVE_BY_VALUE(bin, value)'),
  LIST_REMOVE_BY_VALUE_RANGE: op(true, 2, 2, 'LIST_REMOVE_BY_VALUE_RANGE(bin, low, high)'),
  // map
  MAP_PUT: op(true, 2, 2, 'MAP_PUT(bin, key, value)'),
  MAP_PUT_ITEMS: op(true, 1, 1, "MAP_PUT_ITEMS(bin, MAP('{…}'))"),
  MAP_INCREMENT: op(true, 2, 2, 'MAP_INCREMENT(bin, key, delta)'),
  MAP_DECREMENT: op(true, 2, 2, 'MAP_DECREMENT(bin, key, delta)'),
  MAP_CLEAR: op(true, 0, 0, 'MAP_CLEAR(bin)'),
  MAP_SIZE: op(true, 0, 0, 'MAP_SIZE(bin)'),
  MAP_SET_TYPE: op(true, 1, 1, "MAP_SET_TYPE(bin, 'AS_MAP_KEY_ORDERED')"),
  LIST_SET_ORDER: op(true, 1, 1, "LIST_SET_ORDER(bin, 'AS_LIST_ORDERED')"),
  MAP_GET_BY_KEY: op(true, 1, 1, 'MAP_GET_BY_KEY(bin, key)'),
  MAP_GET_BY_KEY_RANGE: op(true, 2, 2, 'MAP_GET_BY_KEY_RANGE(bin, low, high)'),
  MAP_GET_BY_VALUE: op(true, 1, 1, 'MAP_GET_BY_VALUE(bin, value)'),
  MAP_GET_BY_VALUE_RANGE: op(true, 2, 2, 'MAP_GET_BY_VALUE_RANGE(bin, low, high)'),
  MAP_GET_BY_INDEX: op(true, 1, 1, 'MAP_GET_BY_INDEX(bin, index)'),
  MAP_GET_BY_INDEX_RANGE: op(true, 1, 2, 'MAP_GET_BY_INDEX_RANGE(bin, index[, count])'),
  MAP_GET_BY_RANK: op(true, 1, 1, 'MAP_GET_BY_RANK(bin, rank)'),
  MAP_GET_BY_RANK_RANGE: op(true, 1, 2, 'MAP_GET_BY_RANK_RANGE(bin, rank[, count])'),
  MAP_REMOVE_BY_KEY: op(true, 1, 1, 'MAP_REMOVE_BY_KEY(bin, key)'),
  MAP_REMOVE_BY_KEY_RANGE: op(true, 2, 2, 'MAP_REMOVE_BY_KEY_RANGE(bin, low, high)'),
  MAP_REMOVE_BY_VALUE: op(true, 1, 1, 'MAP_REMOVE_BY_VALUE(bin, value)'),
  MAP_REMOVE_BY_VALUE_RANGE: op(true, 2, 2, 'MAP_REMOVE_BY_VALUE_RANGE(bin, low, high)'),
  MAP_REMOVE_BY_INDEX: op(true, 1, 1, 'MAP_REMOVE_BY_INDEX(bin, index)'),
  MAP_REMOVE_BY_INDEX_RANGE: op(true, 1, 2, 'MAP_REMOVE_BY_INDEX_RANGE(bin, index[, count])'),
  MAP_REMOVE_BY_RANK: op(true, 1, 1, 'MAP_REMOVE_BY_RANK(bin, rank)'),
  MAP_REMOVE_BY_RANK_RANGE: op(true, 1, 2, 'MAP_REMOVE_BY_RANK_RANGE(bin, rank[, count])'),
};
