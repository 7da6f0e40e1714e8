import { DbError } from '../errors/index.ts';
import { compareValues, valuesEqual, isList, isMap, checkInt64, type BinValue, type MapKey } from '../model/index.ts';
import type { Operation } from './operations.ts';

type ListOp = Extract<Operation, { op: 'list' }>;
type MapOp = Extract<Operation, { op: 'map' }>;

export interface CdtResult {
  /** The bin's new value (undefined: unchanged; null: remove the bin). */
  readonly next: BinValue | undefined;
  /** What the operation returns to the caller; undefined for operations that return nothing (set, clear, sort). */
  readonly result: BinValue | undefined;
}

function needIndex(op: ListOp): number {
  if (op.index === undefined || !Number.isInteger(op.index)) {
    throw new DbError('PARAMETER', `list ${op.kind} on bin '${op.bin}' needs an integer index`);
  }
  return op.index;
}

function resolveIndex(index: number, length: number, forInsert: boolean, op: ListOp): number {
  const i = index < 0 ? length + index : index;
  if (i < 0 || (forInsert ? i > length : i >= length)) {
    throw new DbError('OP_NOT_APPLICABLE', `list ${op.kind} on bin '${op.bin}': index ${index} is out of bounds for a list of ${length}`, {
      hint: `use an index from ${-length} to ${forInsert ? length : length - 1}`,
    });
  }
  return i;
}

function range(op: ListOp, length: number): [number, number] {
  const start = resolveIndex(needIndex(op), Math.max(length, 1), true, op);
  const count = op.count === undefined ? length - start : op.count;
  if (!Number.isInteger(count) || count < 0) throw new DbError('PARAMETER', `list ${op.kind}: count must be a non-negative integer`);
  return [start, Math.min(length, start + count)];
}

function needValue<T extends { readonly value?: BinValue; readonly kind: string; readonly bin: string }>(op: T): BinValue {
  if (op.value === undefined) throw new DbError('PARAMETER', `${op.kind} on bin '${op.bin}' needs a value`);
  return op.value;
}

function addNumbers(a: BinValue, b: BinValue, where: string): bigint | number {
  if (typeof a === 'bigint' && typeof b === 'bigint') return checkInt64(a + b, `${where} result`);
  if (typeof a === 'number' && typeof b === 'number') return a + b;
  throw new DbError('BIN_TYPE', `${where}: cannot add a ${typeof b === 'bigint' ? 'integer' : typeof b} to a ${typeof a === 'bigint' ? 'integer' : typeof a}`, {
    hint: 'increment integers by integers and doubles by doubles',
  });
}

export function applyListOp(current: BinValue | undefined, op: ListOp): CdtResult {
  if (current !== undefined && current !== null && !isList(current)) {
    throw new DbError('BIN_TYPE', `bin '${op.bin}' holds a ${typeof current === 'object' ? 'non-list value' : typeof current}, not a list`, { hint: 'list operations need a list bin' });
  }
  const list: BinValue[] = current === undefined || current === null ? [] : [...current];
  const exists = current !== undefined && current !== null;
  switch (op.kind) {
    case 'append': list.push(needValue(op)); return { next: list, result: BigInt(list.length) };
    case 'appendItems': list.push(...(op.values ?? [])); return { next: list, result: BigInt(list.length) };
    case 'insert': list.splice(resolveIndex(needIndex(op), list.length, true, op), 0, needValue(op)); return { next: list, result: BigInt(list.length) };
    case 'insertItems': list.splice(resolveIndex(needIndex(op), list.length, true, op), 0, ...(op.values ?? [])); return { next: list, result: BigInt(list.length) };
    case 'set': {
      const idx = needIndex(op);
      const i = idx < 0 ? list.length + idx : idx;
      if (i < 0) resolveIndex(idx, list.length, false, op);
      while (list.length < i) list.push(null);
      list[i] = needValue(op);
      return { next: list, result: undefined };
    }
    case 'increment': {
      const i = resolveIndex(needIndex(op), list.length, false, op);
      const v = addNumbers(list[i] as BinValue, op.value ?? 1n, `list increment of bin '${op.bin}'`);
      list[i] = v;
      return { next: list, result: v };
    }
    case 'get': {
      if (!exists) return { next: undefined, result: null };
      return { next: undefined, result: list[resolveIndex(needIndex(op), list.length, false, op)] as BinValue };
    }
    case 'getRange': {
      if (!exists) return { next: undefined, result: null };
      const [s, e] = range(op, list.length);
      return { next: undefined, result: list.slice(s, e) };
    }
    case 'pop': {
      const i = resolveIndex(needIndex(op), list.length, false, op);
      const [v] = list.splice(i, 1);
      return { next: list, result: v as BinValue };
    }
    case 'popRange': {
      const [s, e] = range(op, list.length);
      const out = list.splice(s, e - s);
      return { next: list, result: out };
    }
    case 'remove': {
      const i = resolveIndex(needIndex(op), list.length, false, op);
      list.splice(i, 1);
      return { next: list, result: 1n };
    }
    case 'removeRange': {
      const [s, e] = range(op, list.length);
      list.splice(s, e - s);
      return { next: list, result: BigInt(e - s) };
    }
    case 'removeByValue': {
      const v = needValue(op);
      const kept = list.filter((x) => !valuesEqual(x, v));
      return { next: kept, result: BigInt(list.length - kept.length) };
    }
    case 'getByValue': {
      const v = needValue(op);
      return { next: undefined, result: list.filter((x) => valuesEqual(x, v)) };
    }
    case 'size': return { next: undefined, result: exists ? BigInt(list.length) : null };
    case 'clear': return { next: exists ? [] : undefined, result: undefined };
    case 'sort': return { next: [...list].sort(compareValues), result: undefined };
    case 'trim': {
      const [s, e] = range(op, list.length);
      const removed = list.length - (e - s);
      return { next: list.slice(s, e), result: BigInt(removed) };
    }
  }
}

function checkMapKey(k: unknown, op: MapOp): MapKey {
  if (typeof k === 'string' || typeof k === 'bigint' || typeof k === 'number') return k;
  throw new DbError('PARAMETER', `map ${op.kind} on bin '${op.bin}': map keys must be strings, integers or doubles`);
}

export function applyMapOp(current: BinValue | undefined, op: MapOp): CdtResult {
  if (current !== undefined && current !== null && !isMap(current)) {
    throw new DbError('BIN_TYPE', `bin '${op.bin}' does not hold a map`, { hint: 'map operations need a map bin' });
  }
  const exists = current !== undefined && current !== null;
  const map = new Map<MapKey, BinValue>(exists ? current : []);
  switch (op.kind) {
    case 'put': map.set(checkMapKey(op.key, op), needValue(op)); return { next: map, result: BigInt(map.size) };
    case 'putItems': for (const [k, v] of op.items ?? []) map.set(checkMapKey(k, op), v); return { next: map, result: BigInt(map.size) };
    case 'increment': {
      const k = checkMapKey(op.key, op);
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
  }
}
