/**
 * Which arguments each list and map operation takes. An argument the operation does not use (a
 * rank on an append, a return type on a put, write flags on a read, an order on a get …) is
 * refused with PARAMETER naming it, never ignored: whatever front end built the operation (gRPC,
 * the TypeScript client, AQL, the Aerospike protocol), the kernel sees every field it was given.
 * A context is taken by every list and map operation. Empty `values`, `keys` and `items` and a
 * false `inverted` count as absent (the protobuf defaults).
 */
import { DbError } from '../../errors/index.ts';
import type { ListOpKind, MapOpKind } from '../operations.ts';
import type { ListOp, MapOp } from './common.ts';
import { LIST_PLANS, MAP_PLANS, type Selector } from './selectors.ts';

type Field =
  | 'index' | 'rank' | 'count' | 'value' | 'valueEnd' | 'values' | 'key' | 'keyEnd' | 'keys' | 'items'
  | 'returnType' | 'inverted' | 'flags' | 'order' | 'sortFlags';

const LIST_FIELDS: readonly Field[] = ['index', 'rank', 'count', 'value', 'valueEnd', 'values', 'returnType', 'inverted', 'flags', 'order', 'sortFlags'];
const MAP_FIELDS: readonly Field[] = [...LIST_FIELDS.filter((f) => f !== 'sortFlags'), 'key', 'keyEnd', 'keys', 'items'];

const NAMES: Readonly<Record<Field, string>> = {
  index: 'index', rank: 'rank', count: 'count', value: 'value', valueEnd: 'value end', values: 'values', key: 'key', keyEnd: 'key end',
  keys: 'keys', items: 'items', returnType: 'return type', inverted: 'inverted flag', flags: 'write flags', order: 'order', sortFlags: 'sort flags',
};

/** The arguments of each selector (get…By… / remove…By…), besides the return type and inverted. */
const SELECTOR_FIELDS: Readonly<Record<Selector, readonly Field[]>> = {
  index: ['index'], indexRange: ['index', 'count'], rank: ['rank'], rankRange: ['rank', 'count'],
  value: ['value'], valueRange: ['value', 'valueEnd'], valueList: ['values'], valueRelRankRange: ['value', 'rank', 'count'],
  key: ['key'], keyRange: ['key', 'keyEnd'], keyList: ['keys'], keyRelIndexRange: ['key', 'index', 'count'],
};

/** The positional and write list operations (the selectors take their selector's arguments). */
const LIST_OTHERS: Readonly<Partial<Record<ListOpKind, readonly Field[]>>> = {
  append: ['value', 'flags', 'order'], appendItems: ['values', 'flags', 'order'],
  insert: ['index', 'value', 'flags'], insertItems: ['index', 'values', 'flags'], set: ['index', 'value', 'flags'],
  increment: ['index', 'value', 'order'],
  get: ['index'], getRange: ['index', 'count'], pop: ['index'], popRange: ['index', 'count'],
  remove: ['index'], removeRange: ['index', 'count'], trim: ['index', 'count'],
  size: [], clear: [], sort: ['sortFlags'], setOrder: ['order'],
};

const MAP_OTHERS: Readonly<Partial<Record<MapOpKind, readonly Field[]>>> = {
  put: ['key', 'value', 'flags', 'order'], putItems: ['items', 'flags', 'order'], increment: ['key', 'value', 'flags', 'order'],
  size: [], clear: [], keys: [], values: [], setOrder: ['order'],
};

function takes(plans: Readonly<Partial<Record<string, { readonly selector: Selector }>>>, others: Readonly<Partial<Record<string, readonly Field[]>>>, kind: string): readonly Field[] | undefined {
  const plan = plans[kind];
  if (plan !== undefined) return [...SELECTOR_FIELDS[plan.selector], 'returnType', 'inverted'];
  return others[kind];
}

/** The arguments a list or map operation kind takes (undefined: not a known kind). */
export function fieldsOf(op: 'list' | 'map', kind: string): readonly Field[] | undefined {
  return op === 'list' ? takes(LIST_PLANS, LIST_OTHERS, kind) : takes(MAP_PLANS, MAP_OTHERS, kind);
}

function isSet(v: unknown, field: Field): boolean {
  if (v === undefined) return false;
  if (field === 'inverted') return v === true;
  if (field === 'values' || field === 'keys') return !Array.isArray(v) || v.length > 0;
  if (field === 'items') return !(v instanceof Map) || v.size > 0;
  return true;
}

/** Refuses every argument the operation's kind does not take, naming them and what it takes. */
export function checkOperationFields(op: ListOp | MapOp): void {
  const allowed = fieldsOf(op.op, op.kind);
  if (allowed === undefined) throw new DbError('PARAMETER', `unknown ${op.op} operation ${JSON.stringify(op.kind)} on bin '${op.bin}'`);
  const record = op as unknown as Readonly<Record<string, unknown>>;
  const stray = (op.op === 'list' ? LIST_FIELDS : MAP_FIELDS).filter((f) => !allowed.includes(f) && isSet(record[f], f));
  if (stray.length === 0) return;
  throw new DbError('PARAMETER', `${op.op} ${op.kind} on bin '${op.bin}' takes no ${stray.map((f) => NAMES[f]).join(', ')}`, {
    hint: allowed.length === 0 ? `${op.kind} takes no arguments besides a context: leave ${stray.map((f) => NAMES[f]).join(', ')} out` : `${op.kind} takes ${allowed.map((f) => NAMES[f]).join(', ')} (and a context); leave the rest out`,
  });
}
