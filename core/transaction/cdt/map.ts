/** Map operations on a bin: the key-based ones here, the get…By…/remove…By… ones through the selectors. */
import { DbError } from '../../errors/index.ts';
import { MAP_ORDERS, mapOrder, valuesEqual, isMap, withMapOrder, type BinValue, type MapKey, type MapOrder } from '../../model/index.ts';
import { addNumbers, needValue, type CdtResult, type MapOp } from './common.ts';
import { LEGACY_MAP, MAP_PLANS, mapSelector, takesSelectorFlags } from './selectors.ts';
import { checkOperationFields } from './op-fields.ts';
import { checkFlagsApply, mapMayIncrement, mapPut } from './write-flags.ts';

function checkMapKey(k: unknown, op: MapOp): MapKey {
  if (typeof k === 'string' || typeof k === 'bigint' || typeof k === 'number') return k;
  throw new DbError('PARAMETER', `map ${op.kind} on bin '${op.bin}': map keys must be strings, integers or doubles`);
}

/** Map kinds that take an order: the create order of put/putItems/increment, the new order of setOrder. */
const TAKES_ORDER: ReadonlySet<string> = new Set(['put', 'putItems', 'increment', 'setOrder']);

function checkOrder(op: MapOp): void {
  if (op.order === undefined) {
    if (op.kind === 'setOrder') throw new DbError('PARAMETER', `map setOrder on bin '${op.bin}' needs an order`, { hint: `pass order: ${MAP_ORDERS.join(', ')}` });
    return;
  }
  if (!TAKES_ORDER.has(op.kind)) {
    throw new DbError('PARAMETER', `map ${op.kind} on bin '${op.bin}' takes no order`, { hint: 'an order applies to put, putItems, increment (the order of a map they create) and setOrder' });
  }
  if (!MAP_ORDERS.includes(op.order)) {
    throw new DbError('PARAMETER', `map ${op.kind} on bin '${op.bin}': order ${JSON.stringify(op.order)} is not known`, { hint: `use ${MAP_ORDERS.join(', ')}` });
  }
}

/**
 * Runs a map operation. By-index selections see every map in key order (as Aerospike's); the
 * map's order decides how its entries are kept: a key-ordered (or key-value-ordered) map stays
 * sorted by key after every write, and a missing map is created with the operation's order.
 */
export function applyMapOp(current: BinValue | undefined, op: MapOp): CdtResult {
  checkOperationFields(op);
  if (current !== undefined && current !== null && !isMap(current)) {
    throw new DbError('BIN_TYPE', `bin '${op.bin}' does not hold a map`, { hint: 'map operations need a map bin' });
  }
  checkOrder(op);
  const exists = current !== undefined && current !== null;
  const order: MapOrder = exists ? mapOrder(current) : op.order ?? 'unordered';
  if (op.kind === 'setOrder') {
    return { next: withMapOrder(new Map(exists ? current : []), op.order as MapOrder), result: undefined };
  }
  const r = mapOpOn(current, op, exists);
  if (order === 'unordered' || r.next === undefined || r.next === null || !isMap(r.next)) return r;
  return { next: withMapOrder(new Map(r.next), order), result: r.result };
}

function mapOpOn(current: BinValue | undefined, op: MapOp, exists: boolean): CdtResult {
  const map = exists ? withMapOrder(new Map<MapKey, BinValue>(current as ReadonlyMap<MapKey, BinValue>), mapOrder(current as ReadonlyMap<MapKey, BinValue>)) : new Map<MapKey, BinValue>();
  const plan = MAP_PLANS[op.kind];
  takesSelectorFlags(op, plan);
  checkFlagsApply(op);
  if (plan !== undefined && !(LEGACY_MAP.has(op.kind) && op.returnType === undefined && op.inverted !== true)) {
    return mapSelector(plan, op, map, exists);
  }
  switch (op.kind) {
    case 'put': {
      const done = mapPut(map, [[checkMapKey(op.key, op), needValue(op)]], op);
      return { next: done ? map : undefined, result: BigInt(map.size) };
    }
    case 'putItems': {
      const done = mapPut(map, [...(op.items ?? [])].map(([k, v]) => [checkMapKey(k, op), v] as const), op);
      return { next: done ? map : undefined, result: BigInt(map.size) };
    }
    case 'increment': {
      const k = checkMapKey(op.key, op);
      if (!mapMayIncrement(map, k, op)) return { next: undefined, result: map.get(k) ?? null };
      const v = addNumbers(map.get(k) ?? (typeof op.value === 'number' ? 0 : 0n), op.value ?? 1n, `map increment of bin '${op.bin}'`);
      map.set(k, v);
      return { next: map, result: v };
    }
    case 'getByKey': return { next: undefined, result: map.get(checkMapKey(op.key, op)) ?? null };
    case 'getByKeys': {
      const out = new Map<MapKey, BinValue>();
      for (const k of op.keys ?? []) if (map.has(k)) out.set(k, map.get(k) as BinValue);
      return { next: undefined, result: out };
    }
    case 'removeByKey': {
      const k = checkMapKey(op.key, op);
      const v = map.get(k) ?? null;
      map.delete(k);
      return { next: exists ? map : undefined, result: v };
    }
    case 'removeByKeys': {
      let n = 0n;
      for (const k of op.keys ?? []) if (map.delete(k)) n++;
      return { next: exists ? map : undefined, result: n };
    }
    case 'getByValue': {
      const v = needValue(op);
      return { next: undefined, result: [...map].filter(([, x]) => valuesEqual(x, v)).map(([k]) => k) };
    }
    case 'removeByValue': {
      const v = needValue(op);
      let n = 0n;
      for (const [k, x] of [...map]) if (valuesEqual(x, v)) { map.delete(k); n++; }
      return { next: exists ? map : undefined, result: n };
    }
    case 'size': return { next: undefined, result: exists ? BigInt(map.size) : null };
    case 'clear': return { next: exists ? new Map() : undefined, result: undefined };
    case 'keys': return { next: undefined, result: [...map.keys()] };
    case 'values': return { next: undefined, result: [...map.values()] };
    default:
      throw new DbError('PARAMETER', `unknown map operation ${JSON.stringify(op.kind)} on bin '${op.bin}'`);
  }
}
