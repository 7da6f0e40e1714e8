import type { Operation as PbOperation, ListOpKind as PbListOpKind, MapOpKind as PbMapOpKind } from '../server/generated/slipstream/v1/kv.ts';
import type { Operation, ListOpKind, MapOpKind } from '../transaction/operations.ts';
import { toPbValue } from '../server/convert.ts';

const LIST: Record<ListOpKind, number> = {
  append: 1, appendItems: 2, insert: 3, insertItems: 4, set: 5, increment: 6, get: 7, getRange: 8, pop: 9, popRange: 10,
  remove: 11, removeRange: 12, removeByValue: 13, getByValue: 14, size: 15, clear: 16, sort: 17, trim: 18,
};
const MAP: Record<MapOpKind, number> = {
  put: 1, putItems: 2, increment: 3, getByKey: 4, getByKeys: 5, removeByKey: 6, removeByKeys: 7, getByValue: 8,
  removeByValue: 9, size: 10, clear: 11, keys: 12, values: 13,
};

/** An operation as its protobuf message. */
export function toPbOperation(op: Operation): PbOperation {
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
      bin: op.bin, kind: LIST[op.kind] as PbListOpKind,
      ...(op.index === undefined ? {} : { index: BigInt(op.index) }),
      ...(op.count === undefined ? {} : { count: BigInt(op.count) }),
      ...(op.value === undefined ? {} : { value: toPbValue(op.value) }),
      values: (op.values ?? []).map(toPbValue),
    } } };
    case 'map': return { op: { $case: 'map', value: {
      bin: op.bin, kind: MAP[op.kind] as PbMapOpKind,
      ...(op.key === undefined ? {} : { key: toPbValue(op.key) }),
      keys: (op.keys ?? []).map(toPbValue),
      ...(op.value === undefined ? {} : { value: toPbValue(op.value) }),
      items: [...(op.items ?? [])].map(([k, v]) => ({ key: toPbValue(k), value: toPbValue(v) })),
    } } };
  }
}
