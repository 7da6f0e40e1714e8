/**
 * CDT contexts: list and map operations on nested lists and maps (Aerospike's `CTX` paths).
 *
 * A context is a path of steps — list index / rank / value, map index / rank / key / value —
 * from the bin's value down to the list or map an operation works on. The operation runs on
 * that element and its change is written back through every level (each level copied, never
 * changed in place). How a path resolves and fails follows Aerospike's server
 * (`cdt_context_dig`, `list_subcontext_by_*`, `map_subcontext_by_*`):
 *
 * - a bin that is neither a list nor a map: PARAMETER (4);
 * - a missing bin: a read gives what it gives on a missing bin (nil); a write needs a first step
 *   that creates, else OP_NOT_APPLICABLE (26);
 * - a step that finds nothing (index or rank out of range, key or value absent), a list step on
 *   a map or a map step on a list, or a step through a value that is neither: OP_NOT_APPLICABLE;
 * - a path that ends at a value of the wrong kind for the operation (a list operation on a
 *   map, on an integer …): BIN_TYPE (12, Aerospike's INCOMPATIBLE_TYPE).
 *
 * Creating (write operations only; list index and map key steps): a step with `create` whose
 * element is missing adds it — a map key entry, or a list element at the index (the index may
 * be -1 or the list's size; with `pad`, beyond it, padded with nils) — and every later step
 * creates its container as well: a list index step (index -1 or 0, or any index with `pad`)
 * a list, a map key step a map, each of the order of its own `create` (unordered when it has
 * none). The element the path ends at is created as an empty list or map of the operation's
 * order. A change inside an ordered list or key-ordered map keeps it sorted.
 * Rank and value steps never create.
 */
import { DbError } from '../../errors/index.ts';
import { isList, isMap, keepOrder, valueType, withListOrder, withMapOrder, type BinValue, type MapKey } from '../../model/index.ts';
import { cdtCompare } from '../../model/value-order.ts';
import { applyListOp } from './list.ts';
import { applyMapOp } from './map.ts';
import { checkOperationFields } from './op-fields.ts';
import type { CdtResult } from './common.ts';
import { applyBitOp } from '../bit-ops.ts';
import { isWriteOperation, type CdtContextItem, type Operation } from '../operations.ts';

type CdtOp = Extract<Operation, { op: 'list' | 'map' | 'bit' }>;

/** Deepest context accepted: far beyond any real document, small enough to never exhaust the stack. */
export const MAX_CONTEXT_DEPTH = 256;

/** Runs a list, map or bit operation on its bin's value, through the operation's context when it has one. */
export function applyCdtOperation(current: BinValue | undefined, op: CdtOp): CdtResult {
  const ctx = op.ctx;
  if (ctx === undefined || ctx.length === 0) return leaf(current, op);
  if (op.op !== 'bit') checkOperationFields(op); // before the path: a stray field is refused whatever the record holds
  checkContext(ctx, op);
  const write = isWriteOperation(op);
  if (current === undefined || current === null) {
    if (!write) return leaf(undefined, op);
    const first = ctx[0] as CdtContextItem;
    if (!((first.type === 'listIndex' || first.type === 'mapKey') && first.create !== undefined)) {
      throw new DbError('OP_NOT_APPLICABLE', `${what(op)}: the bin is missing and the context's first step does not create it`, {
        hint: 'give the first step (a list index or map key) create, or write the bin first',
      });
    }
    return createPath(ctx, 0, op);
  }
  if (!isList(current) && !isMap(current)) {
    throw new DbError('PARAMETER', `${what(op)}: the bin holds ${a(current)}, and a context needs a list or map`, {
      hint: 'use a context only on list and map bins',
    });
  }
  return descend(current, ctx, 0, op, write);
}

function leaf(current: BinValue | undefined, op: CdtOp): CdtResult {
  if (op.op === 'bit') return applyBitOp(current, op);
  return op.op === 'list' ? applyListOp(current, op) : applyMapOp(current, op);
}

function what(op: CdtOp): string {
  return `${op.op} ${op.kind} on bin '${op.bin}'`;
}

function step(item: CdtContextItem, i: number): string {
  switch (item.type) {
    case 'listIndex': return `step ${i} (list index ${item.index})`;
    case 'listRank': return `step ${i} (list rank ${item.rank})`;
    case 'listValue': return `step ${i} (list value)`;
    case 'mapIndex': return `step ${i} (map index ${item.index})`;
    case 'mapRank': return `step ${i} (map rank ${item.rank})`;
    case 'mapKey': return `step ${i} (map key ${typeof item.key === 'string' ? JSON.stringify(item.key) : String(item.key)})`;
    case 'mapValue': return `step ${i} (map value)`;
  }
}

/** Refuses a malformed context before anything runs. */
function checkContext(ctx: readonly CdtContextItem[], op: CdtOp): void {
  if (ctx.length > MAX_CONTEXT_DEPTH) {
    throw new DbError('PARAMETER', `${what(op)}: a context of ${ctx.length} steps is deeper than ${MAX_CONTEXT_DEPTH}`, { hint: 'flatten the document' });
  }
  ctx.forEach((item, i) => {
    const at = `${what(op)}: context step ${i}`;
    switch (item.type) {
      case 'listIndex': case 'mapIndex':
        if (!Number.isSafeInteger(item.index)) throw new DbError('PARAMETER', `${at} needs an integer index`);
        break;
      case 'listRank': case 'mapRank':
        if (!Number.isSafeInteger(item.rank)) throw new DbError('PARAMETER', `${at} needs an integer rank`);
        break;
      case 'mapKey':
        if (typeof item.key !== 'string' && typeof item.key !== 'bigint' && typeof item.key !== 'number') {
          throw new DbError('PARAMETER', `${at} needs a string, integer or double key`);
        }
        break;
      case 'listValue': case 'mapValue':
        if (item.value === undefined) throw new DbError('PARAMETER', `${at} needs a value`);
        break;
      default:
        throw new DbError('PARAMETER', `${at} has an unknown type ${JSON.stringify((item as { type: unknown }).type)}`, {
          hint: 'use listIndex, listRank, listValue, mapIndex, mapRank, mapKey or mapValue',
        });
    }
    const create = (item as { create?: { order?: unknown; pad?: unknown } }).create;
    if (create === undefined) return;
    if (item.type === 'listIndex') {
      if (create.order !== 'unordered' && create.order !== 'ordered') throw new DbError('PARAMETER', `${at}: create order must be unordered or ordered`);
      if (create.order === 'ordered' && create.pad === true) {
        throw new DbError('PARAMETER', `${at}: an ordered list cannot be padded`, { hint: 'pad only unordered lists' });
      }
    } else if (item.type === 'mapKey') {
      if (create.order !== 'unordered' && create.order !== 'keyOrdered' && create.order !== 'keyValueOrdered') {
        throw new DbError('PARAMETER', `${at}: create order must be unordered, keyOrdered or keyValueOrdered`);
      }
    } else {
      throw new DbError('PARAMETER', `${at}: only list index and map key steps can create`, { hint: 'drop create from the rank and value steps' });
    }
  });
}

/** A value type with its article: "an integer", "a map". */
function a(v: BinValue): string {
  const t = valueType(v);
  return /^[aeiou]/.test(t) ? `an ${t}` : `a ${t}`;
}

const isListStep = (item: CdtContextItem): boolean => item.type === 'listIndex' || item.type === 'listRank' || item.type === 'listValue';

function notApplicable(op: CdtOp, message: string, hint: string): DbError {
  return new DbError('OP_NOT_APPLICABLE', `${what(op)}: ${message}`, { hint });
}

/** Positions in value order; equal values keep their order. */
function byRank(values: readonly BinValue[]): number[] {
  return values.map((_, i) => i).sort((x, y) => cdtCompare(values[x] as BinValue, values[y] as BinValue) || x - y);
}

function position(i: number, n: number): number | undefined {
  const p = i < 0 ? n + i : i;
  return p >= 0 && p < n ? p : undefined;
}

/** Follows step `i` into `container` and on down, runs the operation, and writes back. */
function descend(container: readonly BinValue[] | ReadonlyMap<MapKey, BinValue>, ctx: readonly CdtContextItem[], i: number, op: CdtOp, write: boolean): CdtResult {
  const item = ctx[i] as CdtContextItem;
  const last = i === ctx.length - 1;
  if (isListStep(item) !== isList(container)) {
    throw notApplicable(op, `context ${step(item, i)} is a ${isListStep(item) ? 'list' : 'map'} step but finds a ${isList(container) ? 'list' : 'map'}`,
      `use a ${isList(container) ? 'list' : 'map'} step at that level`);
  }
  const missing = (): never => {
    throw notApplicable(op, `context ${step(item, i)} finds no element`, write && (item.type === 'listIndex' || item.type === 'mapKey')
      ? 'check the path, or let the step create what is missing'
      : 'check the path against the stored value');
  };
  const inner = (child: BinValue | undefined): CdtResult => {
    if (child === undefined) return createPath(ctx, i + 1, op);
    if (last) {
      const kind = op.op === 'bit' ? 'bytes value' : op.op;
      if (op.op === 'list' ? !isList(child) : op.op === 'map' ? !isMap(child) : !(child instanceof Uint8Array)) {
        throw new DbError('BIN_TYPE', `${what(op)}: the context ends at ${a(child)}, not a ${kind}`, {
          hint: `point the context at a ${kind}`,
        });
      }
      return leaf(child, op);
    }
    if (!isList(child) && !isMap(child)) {
      throw notApplicable(op, `context ${step(item, i)} finds ${a(child)}, which has no elements for step ${i + 1}`, 'check the path against the stored value');
    }
    return descend(child, ctx, i + 1, op, write);
  };

  if (isList(container)) {
    const list = container;
    let p: number | undefined;
    if (item.type === 'listIndex') p = position(item.index, list.length);
    else if (item.type === 'listRank') {
      const r = position(item.rank, list.length);
      p = r === undefined ? undefined : byRank(list)[r];
    } else if (item.type === 'listValue') {
      const v = item.value;
      const at = list.findIndex((x) => cdtCompare(x, v) === 0);
      p = at < 0 ? undefined : at;
    }
    if (p !== undefined) {
      const r = inner(list[p] as BinValue);
      if (r.next === undefined) return r;
      const next = [...list];
      next[p] = r.next;
      // an ordered list sorts the changed element again
      return { next: keepOrder(list, next), result: r.result };
    }
    if (!write || item.type !== 'listIndex' || item.create === undefined) return missing();
    // create the element at the index: -1 on an empty list or the list's size appends; beyond, pad with nils
    const idx = item.index;
    let pad = 0;
    if (!((idx === -1 && list.length === 0) || idx === list.length)) {
      if (idx > list.length && item.create.pad === true) pad = idx - list.length;
      else missing();
    }
    const r = inner(undefined);
    if (r.next === undefined) return r;
    return { next: keepOrder(list, [...list, ...new Array<BinValue>(pad).fill(null), r.next]), result: r.result };
  }

  const map = container;
  const keys = [...map.keys()].sort(cdtCompare);
  let k: MapKey | undefined;
  if (item.type === 'mapIndex') {
    const p = position(item.index, keys.length);
    k = p === undefined ? undefined : keys[p];
  } else if (item.type === 'mapRank') {
    const values = keys.map((x) => map.get(x) as BinValue);
    const r = position(item.rank, keys.length);
    k = r === undefined ? undefined : keys[byRank(values)[r] as number];
  } else if (item.type === 'mapKey') {
    k = map.has(item.key) ? item.key : undefined;
  } else if (item.type === 'mapValue') {
    const v = item.value;
    k = keys.find((x) => cdtCompare(map.get(x) as BinValue, v) === 0);
  }
  if (k !== undefined) {
    const r = inner(map.get(k) as BinValue);
    if (r.next === undefined) return r;
    return { next: withEntry(map, k, r.next), result: r.result };
  }
  if (!write || item.type !== 'mapKey' || item.create === undefined) return missing();
  const r = inner(undefined);
  if (r.next === undefined) return r;
  return { next: withEntry(map, item.key, r.next), result: r.result };
}

/** A copy of `map` with `key` set to `value` (a new key goes last, or where it sorts in an ordered map). */
function withEntry(map: ReadonlyMap<MapKey, BinValue>, key: MapKey, value: BinValue): BinValue {
  const next = new Map(map);
  next.set(key, value);
  return keepOrder(map, next);
}

/**
 * Creates the containers steps `i`… look into (the element before step `i` is missing) and the
 * operation's empty list or map at the end; nothing is created when the operation changes nothing.
 */
function createPath(ctx: readonly CdtContextItem[], i: number, op: CdtOp): CdtResult {
  if (i === ctx.length) return leaf(undefined, op);
  const item = ctx[i] as CdtContextItem;
  if (item.type === 'listIndex') {
    const idx = item.index;
    const pad = item.create?.pad === true;
    if (idx < -1 || (idx > 0 && !pad)) {
      throw notApplicable(op, `context ${step(item, i)} would create a list with nothing at index ${idx}`,
        'use index -1 or 0 for a created list, or create with pad to fill with nils');
    }
    const r = createPath(ctx, i + 1, op);
    if (r.next === undefined) return r;
    return { next: withListOrder([...new Array<BinValue>(Math.max(idx, 0)).fill(null), r.next], item.create?.order ?? 'unordered'), result: r.result };
  }
  if (item.type === 'mapKey') {
    const r = createPath(ctx, i + 1, op);
    if (r.next === undefined) return r;
    return { next: withMapOrder(new Map<MapKey, BinValue>([[item.key, r.next]]), item.create?.order ?? 'unordered'), result: r.result };
  }
  throw notApplicable(op, `context ${step(item, i)} finds nothing to select from, and only list index and map key steps create`,
    'check the path, or create it with list index and map key steps');
}
