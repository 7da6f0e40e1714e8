/**
 * OPERATE: aql 6.x operation names (record, list and map) mapped onto the kernel's atomic
 * operate. The results of the read-like operations come back as one row; a write-only OPERATE
 * says `OK, 1 record affected.`
 */
import { DbError } from '../../errors/index.ts';
import { isList, isMap, ttlOf, type BinValue, type MapKey } from '../../model/index.ts';
import type { Operation as KernelOp, CdtReturnType, ListOpKind, ListOrder, MapOpKind, MapOrder } from '../../transaction/operations.ts';
import type { Operation, OperateStatement } from '../language/ast.ts';
import type { Renderer } from '../language/results.ts';
import { checkNamespace, keyOf, policy } from './common.ts';
import type { ExecContext, StatementFamily } from './executor.ts';
import { OPERATIONS } from '../language/operations.ts';

function fail(op: Operation, what: string): never {
  const spec = OPERATIONS[op.op];
  throw new DbError('PARAMETER', `${op.op}: ${what}`, spec === undefined ? {} : { hint: `write ${spec.usage}` });
}

function arg(op: Operation, i: number): BinValue {
  const v = op.args[i];
  if (v === undefined) fail(op, `argument ${i + 1} is missing`);
  return v;
}

function int(op: Operation, i: number, what: string): number {
  const v = arg(op, i);
  if (typeof v !== 'bigint' || v < BigInt(Number.MIN_SAFE_INTEGER) || v > BigInt(Number.MAX_SAFE_INTEGER)) fail(op, `the ${what} must be an integer`);
  return Number(v);
}

function number(op: Operation, i: number): bigint | number {
  const v = arg(op, i);
  if (typeof v !== 'bigint' && typeof v !== 'number') fail(op, 'the amount must be an integer or a double');
  return v;
}

function mapKey(op: Operation, i: number): MapKey {
  const v = arg(op, i);
  if (typeof v !== 'string' && typeof v !== 'bigint' && typeof v !== 'number') fail(op, 'map keys are strings, integers or doubles');
  return v;
}

function listArg(op: Operation, i: number): readonly BinValue[] {
  const v = arg(op, i);
  if (!isList(v)) fail(op, `argument ${i + 1} must be a list, e.g. LIST('[1, 2]')`);
  return v;
}

/** A map key range: NULL for an open bound. */
function keyRange(op: Operation): { key?: MapKey; keyEnd?: MapKey } {
  const lo = arg(op, 0);
  const hi = arg(op, 1);
  return { ...(lo === null ? {} : { key: mapKey(op, 0) }), ...(hi === null ? {} : { keyEnd: mapKey(op, 1) }) };
}

function binOf(op: Operation): string {
  if (op.bin === null) fail(op, 'the first argument must be a bin name');
  return op.bin;
}

const MAP_ORDER_NAMES: Readonly<Record<string, MapOrder>> = { UNORDERED: 'unordered', KEY_ORDERED: 'keyOrdered', KEY_VALUE_ORDERED: 'keyValueOrdered' };
const MAP_ORDER_NUMBERS: Readonly<Record<string, MapOrder>> = { 0: 'unordered', 1: 'keyOrdered', 3: 'keyValueOrdered' };
const LIST_ORDER_NAMES: Readonly<Record<string, ListOrder>> = { UNORDERED: 'unordered', ORDERED: 'ordered' };

/** A map order argument: 'AS_MAP_KEY_ORDERED' (or 'KEY_ORDERED'), or Aerospike's number 0, 1 or 3. */
function mapOrderArg(op: Operation, i: number): MapOrder {
  const v = arg(op, i);
  const order = typeof v === 'string' ? MAP_ORDER_NAMES[v.toUpperCase().replace(/^AS_MAP_/, '')] : typeof v === 'bigint' ? MAP_ORDER_NUMBERS[String(v)] : undefined;
  if (order === undefined) fail(op, `${JSON.stringify(typeof v === 'bigint' ? String(v) : v)} is not a map order; use 'AS_MAP_UNORDERED', 'AS_MAP_KEY_ORDERED' or 'AS_MAP_KEY_VALUE_ORDERED'`);
  return order;
}

function listOrderArg(op: Operation, i: number): ListOrder {
  const v = arg(op, i);
  const order = typeof v === 'string' ? LIST_ORDER_NAMES[v.toUpperCase().replace(/^AS_LIST_/, '')] : typeof v === 'bigint' ? (['unordered', 'ordered'] as const)[Number(v)] : undefined;
  if (order === undefined) fail(op, `${JSON.stringify(typeof v === 'bigint' ? String(v) : v)} is not a list order; use 'AS_LIST_UNORDERED' or 'AS_LIST_ORDERED'`);
  return order;
}

const RETURN_NAMES: Readonly<Record<string, CdtReturnType>> = {
  NONE: 'none', INDEX: 'index', REVERSE_INDEX: 'reverseIndex', RANK: 'rank', REVERSE_RANK: 'reverseRank', COUNT: 'count',
  KEY: 'key', VALUE: 'value', KEY_VALUE: 'keyValue', EXISTS: 'exists', UNORDERED_MAP: 'unorderedMap', ORDERED_MAP: 'orderedMap',
};

/** Positional list kinds whose selector form takes a return type (LIST_GET_BY_INDEX … WITH_RETURN(…)). */
const SELECTOR_FORM: Readonly<Partial<Record<ListOpKind, ListOpKind>>> = {
  get: 'getByIndex', getRange: 'getByIndexRange', remove: 'removeByIndex', removeRange: 'removeByIndexRange',
};

/**
 * WITH_POLICY and WITH_RETURN on an operation: aql's map policies (AS_MAP_UNORDERED,
 * AS_MAP_KEY_ORDERED, AS_MAP_KEY_VALUE_ORDERED, AS_MAP_UPDATE, AS_MAP_UPDATE_ONLY,
 * AS_MAP_CREATE_ONLY, and AS_MAP_NO_FAIL / AS_MAP_PARTIAL), the list orders AS_LIST_ORDERED /
 * AS_LIST_UNORDERED, and a return type by its Aerospike name (AS_MAP_RETURN_ / AS_LIST_RETURN_
 * prefixes optional). The kernel refuses what the operation does not take.
 */
function withModifiers(op: Operation, k: KernelOp): KernelOp {
  if (op.policy === undefined && op.returnType === undefined) return k;
  if (k.op !== 'list' && k.op !== 'map') fail(op, 'WITH_POLICY and WITH_RETURN apply to list and map operations');
  let out: KernelOp = k;
  if (op.returnType !== undefined) {
    const rt = RETURN_NAMES[op.returnType.replace(/^AS_(MAP|LIST)_RETURN_/, '')];
    if (rt === undefined) fail(op, `${op.returnType} is not a return type; use one of ${Object.keys(RETURN_NAMES).join(', ')}`);
    const kind = k.op === 'list' && /_BY_INDEX/.test(op.op) ? SELECTOR_FORM[k.kind] ?? k.kind : k.kind;
    out = { ...out, kind, returnType: rt } as KernelOp;
  }
  if (op.policy !== undefined) {
    if (k.op === 'map') {
      let order: MapOrder | undefined;
      const flags: { createOnly?: boolean; updateOnly?: boolean; noFail?: boolean; partial?: boolean } = {};
      for (const p of op.policy) {
        const name = p.replace(/^AS_MAP_(WRITE_)?/, '');
        if (MAP_ORDER_NAMES[name] !== undefined) order = MAP_ORDER_NAMES[name];
        else if (name === 'UPDATE' || name === 'DEFAULT') { /* aql's default write mode */ }
        else if (name === 'UPDATE_ONLY' || name === 'NO_CREATE') flags.updateOnly = true;
        else if (name === 'CREATE_ONLY' || name === 'NO_OVERWRITE') flags.createOnly = true;
        else if (name === 'NO_FAIL') flags.noFail = true;
        else if (name === 'PARTIAL') flags.partial = true;
        else fail(op, `${p} is not a map policy; use AS_MAP_UNORDERED, AS_MAP_KEY_ORDERED, AS_MAP_KEY_VALUE_ORDERED, AS_MAP_UPDATE, AS_MAP_UPDATE_ONLY, AS_MAP_CREATE_ONLY, AS_MAP_NO_FAIL or AS_MAP_PARTIAL`);
      }
      out = { ...out, ...(order === undefined ? {} : { order }), ...(Object.keys(flags).length === 0 ? {} : { flags }) } as KernelOp;
    } else {
      let order: ListOrder | undefined;
      const flags: { addUnique?: boolean; insertBounded?: boolean; noFail?: boolean; partial?: boolean } = {};
      for (const p of op.policy) {
        const name = p.replace(/^AS_LIST_(WRITE_)?/, '');
        if (LIST_ORDER_NAMES[name] !== undefined) order = LIST_ORDER_NAMES[name];
        else if (name === 'DEFAULT') { /* no flags */ }
        else if (name === 'ADD_UNIQUE') flags.addUnique = true;
        else if (name === 'INSERT_BOUNDED') flags.insertBounded = true;
        else if (name === 'NO_FAIL') flags.noFail = true;
        else if (name === 'PARTIAL') flags.partial = true;
        else fail(op, `${p} is not a list policy; use AS_LIST_ORDERED, AS_LIST_UNORDERED, AS_LIST_ADD_UNIQUE, AS_LIST_INSERT_BOUNDED, AS_LIST_NO_FAIL or AS_LIST_PARTIAL`);
      }
      out = { ...out, ...(order === undefined ? {} : { order }), ...(Object.keys(flags).length === 0 ? {} : { flags }) } as KernelOp;
    }
  }
  return out;
}

/** One AQL operation as a kernel operation, with its WITH_POLICY / WITH_RETURN. */
export function kernelOperation(op: Operation): KernelOp {
  return withModifiers(op, plainOperation(op));
}

function plainOperation(op: Operation): KernelOp {
  const list = (kind: ListOpKind, extra: Omit<Extract<KernelOp, { op: 'list' }>, 'op' | 'bin' | 'kind'> = {}): KernelOp => ({ op: 'list', bin: binOf(op), kind, ...extra });
  const map = (kind: MapOpKind, extra: Omit<Extract<KernelOp, { op: 'map' }>, 'op' | 'bin' | 'kind'> = {}): KernelOp => ({ op: 'map', bin: binOf(op), kind, ...extra });
  const optCount = (i: number): { count?: number } => (op.args.length > i ? { count: int(op, i, 'count') } : {});
  switch (op.op) {
    case 'TOUCH': return { op: 'touch' };
    case 'DELETE': return { op: 'delete' };
    case 'READ': return { op: 'read', bin: binOf(op) };
    case 'WRITE': return { op: 'write', bin: binOf(op), value: arg(op, 0) };
    case 'INCR': return { op: 'add', bin: binOf(op), value: number(op, 0) };
    case 'APPEND': case 'PREPEND': {
      const v = arg(op, 0);
      if (typeof v !== 'string' && !(v instanceof Uint8Array)) fail(op, 'the value must be a string');
      return { op: op.op === 'APPEND' ? 'append' : 'prepend', bin: binOf(op), value: v };
    }
    case 'LIST_APPEND': return list('append', { value: arg(op, 0) });
    case 'LIST_APPEND_ITEMS': return list('appendItems', { values: listArg(op, 0) });
    case 'LIST_INSERT': return list('insert', { index: int(op, 0, 'index'), value: arg(op, 1) });
    case 'LIST_INSERT_ITEMS': return list('insertItems', { index: int(op, 0, 'index'), values: listArg(op, 1) });
    case 'LIST_SET': return list('set', { index: int(op, 0, 'index'), value: arg(op, 1) });
    case 'LIST_INCREMENT': return list('increment', { index: int(op, 0, 'index'), ...(op.args.length > 1 ? { value: number(op, 1) } : {}) });
    case 'LIST_GET': case 'LIST_GET_BY_INDEX': return list('get', { index: int(op, 0, 'index') });
    case 'LIST_GET_RANGE': case 'LIST_GET_BY_INDEX_RANGE': return list('getRange', { index: int(op, 0, 'index'), ...optCount(1) });
    case 'LIST_POP': return list('pop', { index: int(op, 0, 'index') });
    case 'LIST_POP_RANGE': return list('popRange', { index: int(op, 0, 'index'), ...optCount(1) });
    case 'LIST_REMOVE': case 'LIST_REMOVE_BY_INDEX': return list('remove', { index: int(op, 0, 'index') });
    case 'LIST_REMOVE_RANGE': case 'LIST_REMOVE_BY_INDEX_RANGE': return list('removeRange', { index: int(op, 0, 'index'), ...optCount(1) });
    case 'LIST_TRIM': return list('trim', { index: int(op, 0, 'index'), count: int(op, 1, 'count') });
    case 'LIST_CLEAR': return list('clear');
    case 'LIST_SIZE': return list('size');
    case 'LIST_SORT': {
      // flags: Aerospike's ListSortFlags (1 descending, 2 drop duplicates)
      const n = op.args.length > 0 ? int(op, 0, 'flags') : 0;
      if (n < 0 || n > 3) fail(op, `sort flags ${n} are not known (0, 1 descending, 2 drop duplicates, 3 both)`);
      return n === 0 ? list('sort') : list('sort', { sortFlags: { descending: (n & 1) !== 0, dropDuplicates: (n & 2) !== 0 } });
    }
    case 'LIST_GET_BY_VALUE': return list('getByValue', { value: arg(op, 0) });
    case 'LIST_REMOVE_BY_VALUE': return list('removeByValue', { value: arg(op, 0) });
    // by rank and by value range: gets return the values, removes how many were removed
    case 'LIST_GET_BY_RANK': return list('getByRank', { rank: int(op, 0, 'rank') });
    case 'LIST_GET_BY_RANK_RANGE': return list('getByRankRange', { rank: int(op, 0, 'rank'), ...optCount(1) });
    case 'LIST_GET_BY_VALUE_RANGE': return list('getByValueRange', { value: arg(op, 0), valueEnd: arg(op, 1) });
    case 'LIST_REMOVE_BY_RANK': return list('removeByRank', { rank: int(op, 0, 'rank'), returnType: 'count' });
    case 'LIST_REMOVE_BY_RANK_RANGE': return list('removeByRankRange', { rank: int(op, 0, 'rank'), ...optCount(1), returnType: 'count' });
    case 'LIST_REMOVE_BY_VALUE_RANGE': return list('removeByValueRange', { value: arg(op, 0), valueEnd: arg(op, 1), returnType: 'count' });
    case 'MAP_PUT': return map('put', { key: mapKey(op, 0), value: arg(op, 1) });
    case 'MAP_PUT_ITEMS': {
      const v = arg(op, 0);
      if (!isMap(v)) fail(op, `the items must be a map, e.g. MAP('{"a": 1}')`);
      return map('putItems', { items: v });
    }
    case 'MAP_INCREMENT': return map('increment', { key: mapKey(op, 0), value: number(op, 1) });
    case 'MAP_DECREMENT': {
      const d = number(op, 1);
      return map('increment', { key: mapKey(op, 0), value: typeof d === 'bigint' ? -d : -d });
    }
    case 'MAP_CLEAR': return map('clear');
    case 'MAP_SIZE': return map('size');
    case 'MAP_GET_BY_KEY': return map('getByKey', { key: mapKey(op, 0) });
    case 'MAP_REMOVE_BY_KEY': return map('removeByKey', { key: mapKey(op, 0) });
    case 'MAP_GET_BY_VALUE': return map('getByValue', { value: arg(op, 0) });
    case 'MAP_REMOVE_BY_VALUE': return map('removeByValue', { value: arg(op, 0) });
    // by key range, value range, index (key order) and rank: gets return the entries as a map,
    // removes how many were removed
    case 'MAP_GET_BY_KEY_RANGE': return map('getByKeyRange', keyRange(op));
    case 'MAP_GET_BY_VALUE_RANGE': return map('getByValueRange', { value: arg(op, 0), valueEnd: arg(op, 1) });
    case 'MAP_GET_BY_INDEX': return map('getByIndex', { index: int(op, 0, 'index') });
    case 'MAP_GET_BY_INDEX_RANGE': return map('getByIndexRange', { index: int(op, 0, 'index'), ...optCount(1) });
    case 'MAP_GET_BY_RANK': return map('getByRank', { rank: int(op, 0, 'rank') });
    case 'MAP_GET_BY_RANK_RANGE': return map('getByRankRange', { rank: int(op, 0, 'rank'), ...optCount(1) });
    case 'MAP_REMOVE_BY_KEY_RANGE': return map('removeByKeyRange', { ...keyRange(op), returnType: 'count' });
    case 'MAP_REMOVE_BY_VALUE_RANGE': return map('removeByValueRange', { value: arg(op, 0), valueEnd: arg(op, 1), returnType: 'count' });
    case 'MAP_REMOVE_BY_INDEX': return map('removeByIndex', { index: int(op, 0, 'index'), returnType: 'count' });
    case 'MAP_REMOVE_BY_INDEX_RANGE': return map('removeByIndexRange', { index: int(op, 0, 'index'), ...optCount(1), returnType: 'count' });
    case 'MAP_REMOVE_BY_RANK': return map('removeByRank', { rank: int(op, 0, 'rank'), returnType: 'count' });
    case 'MAP_REMOVE_BY_RANK_RANGE': return map('removeByRankRange', { rank: int(op, 0, 'rank'), ...optCount(1), returnType: 'count' });
    case 'MAP_SET_TYPE': return map('setOrder', { order: mapOrderArg(op, 0) });
    case 'LIST_SET_ORDER': return list('setOrder', { order: listOrderArg(op, 0) });
    default:
      if (OPERATIONS[op.op] === undefined) fail(op, 'unknown operation');
      throw new DbError('UNSUPPORTED_FEATURE', `${op.op} is not supported by this server's operate`, {
        hint: 'HELP OPERATE lists the supported operations',
      });
  }
}

export const operateStatements: StatementFamily = {
  name: 'operate',
  statements: { operate },
};

async function operate(s: OperateStatement, ctx: ExecContext, out: Renderer): Promise<void> {
  checkNamespace(ctx, s.target.namespace);
  const ops = s.ops.map(kernelOperation);
  const key = keyOf(ctx.kernel, s.target, s.key);
  const started = performance.now();
  const res = await ctx.kernel.operate(key, ops, policy(ctx.settings));
  const cells: Array<readonly [string, BinValue]> = Object.entries(res.bins);
  if (cells.length === 0) {
    out.status(0, '1 record affected.');
    return;
  }
  if (ctx.settings.RECORD_PRINT_METADATA && res.meta !== undefined) {
    cells.push(['{ttl}', BigInt(ttlOf(res.meta.voidTime, ctx.now()))], ['{gen}', BigInt(res.meta.generation)]);
  }
  out.begin([]);
  await out.row(cells);
  out.end(performance.now() - started);
}
