import { DbError } from '../../errors/index.ts';
import type { BinValue, MapKey } from '../../model/index.ts';
import type { Operation, ListOpKind, MapOpKind } from '../../transaction/operations.ts';
import type { Operation as PbOperation, ListOpKind as PbListOpKind, MapOpKind as PbMapOpKind } from '../generated/slipstream/v1/kv.ts';
import type { Value } from '../generated/slipstream/v1/types.ts';
import { fromPbValue } from '../convert.ts';

const LIST_KINDS: Record<number, ListOpKind> = {
  1: 'append', 2: 'appendItems', 3: 'insert', 4: 'insertItems', 5: 'set', 6: 'increment', 7: 'get', 8: 'getRange',
  9: 'pop', 10: 'popRange', 11: 'remove', 12: 'removeRange', 13: 'removeByValue', 14: 'getByValue', 15: 'size',
  16: 'clear', 17: 'sort', 18: 'trim',
};
const MAP_KINDS: Record<number, MapOpKind> = {
  1: 'put', 2: 'putItems', 3: 'increment', 4: 'getByKey', 5: 'getByKeys', 6: 'removeByKey', 7: 'removeByKeys',
  8: 'getByValue', 9: 'removeByValue', 10: 'size', 11: 'clear', 12: 'keys', 13: 'values',
};

function mapKey(v: Value | undefined): MapKey {
  const k = fromPbValue(v);
  if (typeof k === 'string' || typeof k === 'bigint' || typeof k === 'number') return k;
  throw new DbError('PARAMETER', 'a map key must be a string, integer or double');
}

function int(v: bigint | undefined, what: string): number | undefined {
  if (v === undefined) return undefined;
  if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) throw new DbError('PARAMETER', `${what} ${v} is out of range`);
  return Number(v);
}

function numeric(v: BinValue, bin: string): bigint | number {
  if (typeof v === 'bigint' || typeof v === 'number') return v;
  throw new DbError('PARAMETER', `add on bin '${bin}' needs an integer or double value`);
}

function strOrBytes(v: BinValue, op: string, bin: string): string | Uint8Array {
  if (typeof v === 'string' || v instanceof Uint8Array) return v;
  throw new DbError('PARAMETER', `${op} on bin '${bin}' needs a string or bytes value`);
}

export function fromPbOperation(op: PbOperation): Operation {
  const o = op.op;
  if (o === undefined) throw new DbError('PARAMETER', 'an operation has no kind', { hint: 'set one of read, write, add, append, prepend, touch, delete, list, map' });
  switch (o.$case) {
    case 'read': return o.value.bin === '' ? { op: 'read' } : { op: 'read', bin: o.value.bin };
    case 'readHeader': return { op: 'readHeader' };
    case 'write': return { op: 'write', bin: o.value.bin, value: fromPbValue(o.value.value) };
    case 'add': return { op: 'add', bin: o.value.bin, value: numeric(fromPbValue(o.value.value), o.value.bin) };
    case 'append': return { op: 'append', bin: o.value.bin, value: strOrBytes(fromPbValue(o.value.value), 'append', o.value.bin) };
    case 'prepend': return { op: 'prepend', bin: o.value.bin, value: strOrBytes(fromPbValue(o.value.value), 'prepend', o.value.bin) };
    case 'touch': return { op: 'touch' };
    case 'delete': return { op: 'delete' };
    case 'list': {
      const l = o.value;
      const kind = LIST_KINDS[l.kind as PbListOpKind];
      if (kind === undefined) throw new DbError('PARAMETER', `unknown list operation ${l.kind}`);
      const index = int(l.index, 'list index');
      const count = int(l.count, 'list count');
      return {
        op: 'list', bin: l.bin, kind,
        ...(index === undefined ? {} : { index }),
        ...(count === undefined ? {} : { count }),
        ...(l.value === undefined ? {} : { value: fromPbValue(l.value) }),
        values: l.values.map((v) => fromPbValue(v)),
      };
    }
    case 'map': {
      const m = o.value;
      const kind = MAP_KINDS[m.kind as PbMapOpKind];
      if (kind === undefined) throw new DbError('PARAMETER', `unknown map operation ${m.kind}`);
      return {
        op: 'map', bin: m.bin, kind,
        ...(m.key === undefined ? {} : { key: mapKey(m.key) }),
        keys: m.keys.map(mapKey),
        ...(m.value === undefined ? {} : { value: fromPbValue(m.value) }),
        items: new Map(m.items.map((e) => [mapKey(e.key), fromPbValue(e.value)] as const)),
      };
    }
  }
}
