/** List operations on a bin: the positional ones here, the get…By…/remove…By… ones through the selectors. */
import { DbError } from '../../errors/index.ts';
import { valuesEqual, isList, type BinValue } from '../../model/index.ts';
import { cdtCompare } from '../../model/value-order.ts';
import { addNumbers, needValue, type CdtResult, type ListOp } from './common.ts';
import { LEGACY_LIST, LIST_PLANS, listSelector, takesSelectorFlags } from './selectors.ts';
import { checkFlagsApply, listAdd, listMaySet } from './write-flags.ts';

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

/** Where an insert goes: a negative index counts from the end and must land in the list; past the end is allowed. */
function insertAt(index: number, length: number, op: ListOp): number {
  if (index >= 0) return index;
  return resolveIndex(index, length, true, op);
}

function range(op: ListOp, length: number): [number, number] {
  const start = resolveIndex(needIndex(op), Math.max(length, 1), true, op);
  const count = op.count === undefined ? length - start : op.count;
  if (!Number.isInteger(count) || count < 0) throw new DbError('PARAMETER', `list ${op.kind}: count must be a non-negative integer`);
  return [start, Math.min(length, start + count)];
}

export function applyListOp(current: BinValue | undefined, op: ListOp): CdtResult {
  if (current !== undefined && current !== null && !isList(current)) {
    throw new DbError('BIN_TYPE', `bin '${op.bin}' holds a ${typeof current === 'object' ? 'non-list value' : typeof current}, not a list`, { hint: 'list operations need a list bin' });
  }
  const list: BinValue[] = current === undefined || current === null ? [] : [...current];
  const exists = current !== undefined && current !== null;
  const plan = LIST_PLANS[op.kind];
  takesSelectorFlags(op, plan);
  checkFlagsApply(op);
  if (plan !== undefined && !(LEGACY_LIST.has(op.kind) && op.returnType === undefined && op.inverted !== true)) {
    return listSelector(plan, op, list, exists);
  }
  switch (op.kind) {
    case 'append': return listAdd(list, list.length, [needValue(op)], op);
    case 'appendItems': return listAdd(list, list.length, op.values ?? [], op);
    // past the end pads with nils (Aerospike's unbounded insert) unless insertBounded
    case 'insert': return listAdd(list, insertAt(needIndex(op), list.length, op), [needValue(op)], op);
    case 'insertItems': return listAdd(list, insertAt(needIndex(op), list.length, op), op.values ?? [], op);
    case 'set': {
      const idx = needIndex(op);
      const i = idx < 0 ? list.length + idx : idx;
      if (i < 0) resolveIndex(idx, list.length, false, op);
      if (!listMaySet(list, i, needValue(op), op)) return { next: undefined, result: undefined };
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
    case 'sort': return { next: [...list].sort(cdtCompare), result: undefined };
    case 'trim': {
      const [s, e] = range(op, list.length);
      const removed = list.length - (e - s);
      return { next: list.slice(s, e), result: BigInt(removed) };
    }
    default:
      throw new DbError('PARAMETER', `unknown list operation ${JSON.stringify(op.kind)} on bin '${op.bin}'`);
  }
}
