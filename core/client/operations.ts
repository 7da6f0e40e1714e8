import type { HllOpKind as PbHllOpKind, BitOpKind as PbBitOpKind, BitOverflowAction as PbBitOverflowAction, Operation as PbOperation, ListOpKind as PbListOpKind, MapOpKind as PbMapOpKind, CdtReturnType as PbCdtReturnType, CdtContext as PbCdtContext, CdtContextCreate as PbCdtContextCreate } from '../wire/generated/slipstream/v1/kv.ts';
import type { Operation, ListOpKind, MapOpKind, CdtReturnType, CdtContextItem } from '../transaction/operations.ts';
import { MAP_ORDER_PB, toPbValue } from '../wire/convert.ts';
import { DbError } from '../errors/index.ts';
import { BIT_OP_KINDS } from '../transaction/bit-ops.ts';
import { HLL_OP_KINDS } from '../transaction/hll-ops.ts';

const LIST: Record<ListOpKind, number> = {
  append: 1, appendItems: 2, insert: 3, insertItems: 4, set: 5, increment: 6, get: 7, getRange: 8, pop: 9, popRange: 10,
  remove: 11, removeRange: 12, removeByValue: 13, getByValue: 14, size: 15, clear: 16, sort: 17, trim: 18,
  getByIndex: 19, getByIndexRange: 20, getByRank: 21, getByRankRange: 22, getByValueRange: 23, getByValueList: 24,
  getByValueRelRankRange: 25, removeByIndex: 26, removeByIndexRange: 27, removeByRank: 28, removeByRankRange: 29,
  removeByValueRange: 30, removeByValueList: 31, removeByValueRelRankRange: 32, setOrder: 33,
};
const MAP: Record<MapOpKind, number> = {
  put: 1, putItems: 2, increment: 3, getByKey: 4, getByKeys: 5, removeByKey: 6, removeByKeys: 7, getByValue: 8,
  removeByValue: 9, size: 10, clear: 11, keys: 12, values: 13,
  getByIndex: 14, getByIndexRange: 15, getByRank: 16, getByRankRange: 17, getByKeyRange: 18, getByValueRange: 19,
  getByKeyList: 20, getByValueList: 21, getByKeyRelIndexRange: 22, getByValueRelRankRange: 23, removeByIndex: 24,
  removeByIndexRange: 25, removeByRank: 26, removeByRankRange: 27, removeByKeyRange: 28, removeByValueRange: 29,
  removeByKeyList: 30, removeByValueList: 31, removeByKeyRelIndexRange: 32, removeByValueRelRankRange: 33, setOrder: 34,
};
const RETURN: Record<CdtReturnType, number> = {
  none: 1, index: 2, reverseIndex: 3, rank: 4, reverseRank: 5, count: 6, value: 7, exists: 8, key: 9, keyValue: 10,
  unorderedMap: 11, orderedMap: 12,
};

function badOrder(order: unknown): never {
  throw new DbError('CLIENT_PARAM', `unknown order ${JSON.stringify(order)}`, { hint: 'lists: unordered or ordered; maps: unordered, keyOrdered or keyValueOrdered' });
}

function returnTypeOf(rt: CdtReturnType | undefined): PbCdtReturnType {
  if (rt === undefined) return 0;
  const n = RETURN[rt];
  if (n === undefined) throw new DbError('PARAMETER', `unknown return type ${JSON.stringify(rt)}`, { hint: `use one of ${Object.keys(RETURN).join(', ')}` });
  return n as PbCdtReturnType;
}

/** A context step as its protobuf message. */
export function toPbContext(c: CdtContextItem): PbCdtContext {
  switch (c.type) {
    case 'listIndex': {
      const create = c.create === undefined ? 0 : c.create.order === 'ordered' ? 3 : c.create.pad === true ? 2 : 1;
      return { step: { $case: 'listIndex', value: BigInt(c.index) }, create: create as PbCdtContextCreate };
    }
    case 'listRank': return { step: { $case: 'listRank', value: BigInt(c.rank) }, create: 0 };
    case 'listValue': return { step: { $case: 'listValue', value: toPbValue(c.value) }, create: 0 };
    case 'mapIndex': return { step: { $case: 'mapIndex', value: BigInt(c.index) }, create: 0 };
    case 'mapRank': return { step: { $case: 'mapRank', value: BigInt(c.rank) }, create: 0 };
    case 'mapKey': {
      const create = c.create === undefined ? 0 : c.create.order === 'keyValueOrdered' ? 6 : c.create.order === 'keyOrdered' ? 5 : 4;
      return { step: { $case: 'mapKey', value: toPbValue(c.key) }, create: create as PbCdtContextCreate };
    }
    case 'mapValue': return { step: { $case: 'mapValue', value: toPbValue(c.value) }, create: 0 };
    default: throw new DbError('PARAMETER', `unknown context step ${JSON.stringify((c as { type: unknown }).type)}`, {
      hint: 'use listIndex, listRank, listValue, mapIndex, mapRank, mapKey or mapValue',
    });
  }
}

/** The fields list and map operations share, as ListOp/MapOp fields. */
function toPbSelector(op: Extract<Operation, { op: 'list' | 'map' }>) {
  return {
    ...(op.index === undefined ? {} : { index: BigInt(op.index) }),
    ...(op.rank === undefined ? {} : { rank: BigInt(op.rank) }),
    ...(op.count === undefined ? {} : { count: BigInt(op.count) }),
    ...(op.value === undefined ? {} : { value: toPbValue(op.value) }),
    ...(op.valueEnd === undefined ? {} : { valueEnd: toPbValue(op.valueEnd) }),
    values: (op.values ?? []).map(toPbValue),
    returnType: returnTypeOf(op.returnType),
    inverted: op.inverted === true,
    ctx: (op.ctx ?? []).map(toPbContext),
  };
}

/** An operation as its protobuf message. */
/** The fields each operation has (a JavaScript caller may pass others; they are refused, not dropped). */
const LIST_FIELDS = ['bin', 'kind', 'ctx', 'index', 'rank', 'count', 'value', 'valueEnd', 'values', 'returnType', 'inverted', 'flags', 'order', 'sortFlags'];
const OPERATION_FIELDS: Readonly<Record<Operation['op'], readonly string[]>> = {
  read: ['bin'], readHeader: [], write: ['bin', 'value'], add: ['bin', 'value'], append: ['bin', 'value'], prepend: ['bin', 'value'],
  touch: [], delete: [], list: LIST_FIELDS, map: [...LIST_FIELDS.filter((f) => f !== 'sortFlags'), 'key', 'keyEnd', 'keys', 'items'],
  bit: ['bin', 'kind', 'offset', 'size', 'value', 'shift', 'integer', 'signed', 'overflow', 'scanFor', 'resizeFlags', 'policy', 'ctx'],
  hll: ['bin', 'kind', 'indexBits', 'minhashBits', 'values', 'hlls', 'policy'],
  expRead: ['name', 'expression', 'evalNoFail'], expWrite: ['bin', 'expression', 'flags'],
};
/** The flags of each flag object, by operation and field. */
const FLAG_FIELDS: Readonly<Record<string, readonly string[]>> = {
  'list.flags': ['addUnique', 'insertBounded', 'noFail', 'partial'], 'list.sortFlags': ['descending', 'dropDuplicates'], 'map.flags': ['createOnly', 'updateOnly', 'noFail', 'partial'],
  'bit.policy': ['createOnly', 'updateOnly', 'noFail', 'partial'], 'bit.resizeFlags': ['fromFront', 'growOnly', 'shrinkOnly'],
  'hll.policy': ['createOnly', 'updateOnly', 'noFail', 'allowFold'], 'expWrite.flags': ['createOnly', 'updateOnly', 'allowDelete', 'policyNoFail', 'evalNoFail'],
};

/** Refuses a field the operation (or one of its flag objects) does not have: it would not be sent. */
function checkFields(op: Operation): void {
  const allowed = OPERATION_FIELDS[op.op];
  if (allowed === undefined) throw new DbError('PARAMETER', `unknown operation ${JSON.stringify(op.op)}`, { hint: `use one of ${Object.keys(OPERATION_FIELDS).join(', ')}` });
  const o = op as unknown as Readonly<Record<string, unknown>>;
  const stray = Object.keys(o).filter((k) => k !== 'op' && o[k] !== undefined && !allowed.includes(k));
  for (const [field, flags] of Object.entries(FLAG_FIELDS)) {
    const [kind, name] = field.split('.') as [string, string];
    const f = o[name];
    if (kind !== op.op || f === undefined || f === null || typeof f !== 'object') continue;
    for (const k of Object.keys(f)) if ((f as Record<string, unknown>)[k] !== undefined && !flags.includes(k)) stray.push(`${name}.${k}`);
  }
  if (stray.length > 0) {
    throw new DbError('PARAMETER', `a ${op.op} operation has no ${stray.join(', ')}`, { hint: `a ${op.op} operation takes ${allowed.length === 0 ? 'no fields' : allowed.join(', ')}` });
  }
}

export function toPbOperation(op: Operation): PbOperation {
  checkFields(op);
  switch (op.op) {
    case 'read': return { op: { $case: 'read', value: { bin: op.bin ?? '' } } };
    case 'readHeader': return { op: { $case: 'readHeader', value: {} } };
    case 'write': return { op: { $case: 'write', value: { bin: op.bin, value: toPbValue(op.value) } } };
    case 'add': return { op: { $case: 'add', value: { bin: op.bin, value: toPbValue(op.value) } } };
    case 'append': return { op: { $case: 'append', value: { bin: op.bin, value: toPbValue(op.value) } } };
    case 'prepend': return { op: { $case: 'prepend', value: { bin: op.bin, value: toPbValue(op.value) } } };
    case 'touch': return { op: { $case: 'touch', value: {} } };
    case 'delete': return { op: { $case: 'delete', value: {} } };
    case 'list': return { op: { $case: 'list', value: {
      bin: op.bin, kind: LIST[op.kind] as PbListOpKind, ...toPbSelector(op),
      ...(op.flags === undefined ? {} : { flags: { addUnique: op.flags.addUnique === true, insertBounded: op.flags.insertBounded === true, noFail: op.flags.noFail === true, partial: op.flags.partial === true } }),
      ...(op.order === undefined ? {} : { order: op.order === 'ordered' ? 1 : op.order === 'unordered' ? 0 : badOrder(op.order) }),
      ...(op.sortFlags === undefined ? {} : { sortFlags: { descending: op.sortFlags.descending === true, dropDuplicates: op.sortFlags.dropDuplicates === true } }),
    } } };
    case 'map': return { op: { $case: 'map', value: {
      bin: op.bin, kind: MAP[op.kind] as PbMapOpKind,
      ...(op.key === undefined ? {} : { key: toPbValue(op.key) }),
      ...(op.keyEnd === undefined ? {} : { keyEnd: toPbValue(op.keyEnd) }),
      keys: (op.keys ?? []).map(toPbValue),
      items: [...(op.items ?? [])].map(([k, v]) => ({ key: toPbValue(k), value: toPbValue(v) })),
      ...toPbSelector(op),
      ...(op.flags === undefined ? {} : { flags: { createOnly: op.flags.createOnly === true, updateOnly: op.flags.updateOnly === true, noFail: op.flags.noFail === true, partial: op.flags.partial === true } }),
      ...(op.order === undefined ? {} : { order: MAP_ORDER_PB[op.order] ?? badOrder(op.order) }),
    } } };
    case 'expRead': return { op: { $case: 'expRead', value: { name: op.name, expressionJson: op.expression, evalNoFail: op.evalNoFail === true } } };
    case 'expWrite': {
      const f = op.flags ?? {};
      return { op: { $case: 'expWrite', value: {
        bin: op.bin, expressionJson: op.expression, createOnly: f.createOnly === true, updateOnly: f.updateOnly === true,
        allowDelete: f.allowDelete === true, policyNoFail: f.policyNoFail === true, evalNoFail: f.evalNoFail === true,
      } } };
    }
    case 'hll': {
      const kind = HLL_OP_KINDS.indexOf(op.kind);
      if (kind < 0) throw new DbError('CLIENT_PARAM', `unknown HLL operation ${JSON.stringify(op.kind)}`, { hint: `use one of ${HLL_OP_KINDS.join(', ')}` });
      const p = op.policy;
      return { op: { $case: 'hll', value: {
        bin: op.bin, kind: (kind + 1) as PbHllOpKind,
        ...(op.indexBits === undefined ? {} : { indexBits: op.indexBits }),
        ...(op.minhashBits === undefined ? {} : { minHashBits: op.minhashBits }),
        values: (op.values ?? []).map(toPbValue),
        hlls: (op.hlls ?? []).map(toPbValue),
        ...(p === undefined ? {} : { policy: { createOnly: p.createOnly === true, updateOnly: p.updateOnly === true, noFail: p.noFail === true, allowFold: p.allowFold === true } }),
      } } };
    }
    case 'bit': {
      const kind = BIT_OP_KINDS.indexOf(op.kind);
      if (kind < 0) throw new DbError('CLIENT_PARAM', `unknown bit operation ${JSON.stringify(op.kind)}`, { hint: `use one of ${BIT_OP_KINDS.join(', ')}` });
      const f = op.resizeFlags;
      return { op: { $case: 'bit', value: {
        bin: op.bin, kind: (kind + 1) as PbBitOpKind,
        ...(op.offset === undefined ? {} : { offset: BigInt(op.offset) }),
        ...(op.size === undefined ? {} : { size: BigInt(op.size) }),
        value: op.value ?? new Uint8Array(0),
        ...(op.shift === undefined ? {} : { shift: BigInt(op.shift) }),
        ...(op.integer === undefined ? {} : { integer: op.integer }),
        signed: op.signed === true,
        overflow: (op.overflow === 'saturate' ? 1 : op.overflow === 'wrap' ? 2 : 0) as PbBitOverflowAction,
        ...(op.scanFor === undefined ? {} : { scanFor: op.scanFor }),
        resizeFromFront: f?.fromFront === true, resizeGrowOnly: f?.growOnly === true, resizeShrinkOnly: f?.shrinkOnly === true,
        ...(op.policy === undefined ? {} : { policy: { createOnly: op.policy.createOnly === true, updateOnly: op.policy.updateOnly === true, noFail: op.policy.noFail === true, partial: op.policy.partial === true } }),
        ctx: (op.ctx ?? []).map(toPbContext),
      } } };
    }
  }
}
