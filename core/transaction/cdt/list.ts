/** List operations on a bin: the positional ones here, the get…By…/remove…By… ones through the selectors. */
import { DbError } from '../../errors/index.ts';
import { LIST_ORDERS, listOrder, valuesEqual, isList, withListOrder, type BinValue, type ListOrder } from '../../model/index.ts';
import { cdtCompare } from '../../model/value-order.ts';
import { addNumbers, needValue, type CdtResult, type ListOp } from './common.ts';
import { LEGACY_LIST, LIST_PLANS, listSelector, takesSelectorFlags } from './selectors.ts';
import { checkOperationFields } from './op-fields.ts';
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

/** List kinds that take an order: the create order of append/appendItems/increment, the new order of setOrder. */
const TAKES_ORDER: ReadonlySet<string> = new Set(['append', 'appendItems', 'increment', 'setOrder']);

function checkOrder(op: ListOp): void {
  if (op.order === undefined) {
    if (op.kind === 'setOrder') throw new DbError('PARAMETER', `list setOrder on bin '${op.bin}' needs an order`, { hint: `pass order: ${LIST_ORDERS.join(' or ')}` });
    return;
  }
  if (!TAKES_ORDER.has(op.kind)) {
    throw new DbError('PARAMETER', `list ${op.kind} on bin '${op.bin}' takes no order`, { hint: 'an order applies to append, appendItems, increment (the order of a list they create) and setOrder' });
  }
  if (!LIST_ORDERS.includes(op.order)) {
    throw new DbError('PARAMETER', `list ${op.kind} on bin '${op.bin}': order ${JSON.stringify(op.order)} is not known`, { hint: `use ${LIST_ORDERS.join(' or ')}` });
  }
}

/**
 * Runs a list operation. An ordered list stays sorted: appends go where they sort, an increment
 * moves the element where its new value sorts, and insert/set by index are refused
 * (OP_NOT_APPLICABLE, as Aerospike's); a missing list is created with the operation's order.
 */
export function applyListOp(current: BinValue | undefined, op: ListOp): CdtResult {
  checkOperationFields(op);
  if (current !== undefined && current !== null && !isList(current)) {
    throw new DbError('BIN_TYPE', `bin '${op.bin}' holds a ${typeof current === 'object' ? 'non-list value' : typeof current}, not a list`, { hint: 'list operations need a list bin' });
  }
  checkOrder(op);
  const exists = current !== undefined && current !== null;
  const order: ListOrder = exists ? listOrder(current) : op.order ?? 'unordered';
  if (op.kind === 'setOrder') {
    const next = withListOrder(exists ? [...current] : [], op.order as ListOrder);
    return { next, result: undefined };
  }
  if (order === 'ordered' && (op.kind === 'insert' || op.kind === 'insertItems' || op.kind === 'set')) {
    throw new DbError('OP_NOT_APPLICABLE', `list ${op.kind} on bin '${op.bin}': the list is ordered, so its elements cannot be placed by index`, {
      hint: 'append to an ordered list (values go where they sort), or make it unordered with setOrder',
    });
  }
  const r = listOpOn(current, op, exists);
  if (order === 'unordered' || r.next === undefined || r.next === null || !isList(r.next)) return r;
  return { next: withListOrder(r.next === current ? [...r.next] : r.next as BinValue[], order), result: r.result };
}

function listOpOn(current: BinValue | undefined, op: ListOp, exists: boolean): CdtResult {
  const list: BinValue[] = current === undefined || current === null ? [] : [...(current as readonly BinValue[])];
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
    case 'sort': {
      // an ordered list is already sorted and stays ascending (the server's list_sort)
      const ordered = listOrder(list) === 'ordered';
      let next = ordered ? [...list] : [...list].sort(op.sortFlags?.descending === true ? (x, y) => cdtCompare(y, x) : cdtCompare);
      if (op.sortFlags?.dropDuplicates === true) next = next.filter((x, i) => i === 0 || cdtCompare(next[i - 1] as BinValue, x) !== 0);
      return { next, result: undefined };
    }
    case 'trim': {
      const [s, e] = range(op, list.length);
      const removed = list.length - (e - s);
      return { next: list.slice(s, e), result: BigInt(removed) };
    }
    default:
      throw new DbError('PARAMETER', `unknown list operation ${JSON.stringify(op.kind)} on bin '${op.bin}'`);
  }
}
