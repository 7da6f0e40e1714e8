import { DbError } from '../../errors/index.ts';
import { Hll, type BinValue, type MapKey } from '../../model/index.ts';
import type { Operation, ListOpKind, MapOpKind, CdtReturnType, CdtContextItem } from '../../transaction/operations.ts';
import { BIT_OP_KINDS, type BitOperation } from '../../transaction/bit-ops.ts';
import { HLL_OP_KINDS, type HllOperation } from '../../transaction/hll-ops.ts';
import { exprFromJsonText } from '../../query/expr/index.ts';
import type { HllOp as PbHllOp, BitOp as PbBitOp, Operation as PbOperation, ListOpKind as PbListOpKind, MapOpKind as PbMapOpKind, CdtReturnType as PbCdtReturnType, CdtContext as PbCdtContext } from '../../wire/generated/slipstream/v1/kv.ts';
import type { Value } from '../../wire/generated/slipstream/v1/types.ts';
import { fromPbValue, PB_MAP_ORDER } from '../../wire/convert.ts';

const LIST_KINDS: Record<number, ListOpKind> = {
  1: 'append', 2: 'appendItems', 3: 'insert', 4: 'insertItems', 5: 'set', 6: 'increment', 7: 'get', 8: 'getRange',
  9: 'pop', 10: 'popRange', 11: 'remove', 12: 'removeRange', 13: 'removeByValue', 14: 'getByValue', 15: 'size',
  16: 'clear', 17: 'sort', 18: 'trim', 19: 'getByIndex', 20: 'getByIndexRange', 21: 'getByRank', 22: 'getByRankRange',
  23: 'getByValueRange', 24: 'getByValueList', 25: 'getByValueRelRankRange', 26: 'removeByIndex', 27: 'removeByIndexRange',
  28: 'removeByRank', 29: 'removeByRankRange', 30: 'removeByValueRange', 31: 'removeByValueList', 32: 'removeByValueRelRankRange',
  33: 'setOrder',
};
const MAP_KINDS: Record<number, MapOpKind> = {
  1: 'put', 2: 'putItems', 3: 'increment', 4: 'getByKey', 5: 'getByKeys', 6: 'removeByKey', 7: 'removeByKeys',
  8: 'getByValue', 9: 'removeByValue', 10: 'size', 11: 'clear', 12: 'keys', 13: 'values',
  14: 'getByIndex', 15: 'getByIndexRange', 16: 'getByRank', 17: 'getByRankRange', 18: 'getByKeyRange', 19: 'getByValueRange',
  20: 'getByKeyList', 21: 'getByValueList', 22: 'getByKeyRelIndexRange', 23: 'getByValueRelRankRange', 24: 'removeByIndex',
  25: 'removeByIndexRange', 26: 'removeByRank', 27: 'removeByRankRange', 28: 'removeByKeyRange', 29: 'removeByValueRange',
  30: 'removeByKeyList', 31: 'removeByValueList', 32: 'removeByKeyRelIndexRange', 33: 'removeByValueRelRankRange',
  34: 'setOrder',
};
const RETURN_TYPES: Record<number, CdtReturnType> = {
  1: 'none', 2: 'index', 3: 'reverseIndex', 4: 'rank', 5: 'reverseRank', 6: 'count', 7: 'value', 8: 'exists', 9: 'key', 10: 'keyValue',
  11: 'unorderedMap', 12: 'orderedMap',
};

/** The return type and inverted flag of a list/map operation, as optional fields (absent: the default). */
function selectorFlags(rt: PbCdtReturnType, inverted: boolean, what: string): { returnType?: CdtReturnType; inverted?: boolean } {
  let returnType: CdtReturnType | undefined;
  if (rt !== 0) {
    returnType = RETURN_TYPES[rt];
    if (returnType === undefined) throw new DbError('PARAMETER', `unknown return type ${rt} on a ${what} operation`, { hint: 'use a CdtReturnType value from kv.proto' });
  }
  return { ...(returnType === undefined ? {} : { returnType }), ...(inverted ? { inverted: true } : {}) };
}

/** The arguments list and map operations share (ListOp and MapOp have the same fields for them). */
interface PbSelector {
  readonly index?: bigint | undefined;
  readonly rank?: bigint | undefined;
  readonly count?: bigint | undefined;
  readonly value?: Value | undefined;
  readonly valueEnd?: Value | undefined;
  readonly values: readonly Value[];
  readonly returnType: PbCdtReturnType;
  readonly inverted: boolean;
}

/** Index, rank, count, value (range), values, return type and inverted of a list/map operation. */
function selectorFields(x: PbSelector, what: 'list' | 'map') {
  const index = int(x.index, `${what} index`);
  const rank = int(x.rank, `${what} rank`);
  const count = int(x.count, `${what} count`);
  const valueEnd = optValue(x.valueEnd);
  return {
    ...(index === undefined ? {} : { index }),
    ...(rank === undefined ? {} : { rank }),
    ...(count === undefined ? {} : { count }),
    ...(x.value === undefined ? {} : { value: fromPbValue(x.value) }),
    ...(valueEnd.present ? { valueEnd: valueEnd.value } : {}),
    values: x.values.map((v) => fromPbValue(v)),
    ...selectorFlags(x.returnType, x.inverted, what),
  };
}

/** An optional value argument: absent, or present (possibly nil). */
function optValue(v: Value | undefined): { present: boolean; value: BinValue } {
  if (v === undefined) return { present: false, value: null };
  return { present: true, value: fromPbValue(v) };
}

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

function unknownOrder(order: number, what: 'list' | 'map'): never {
  throw new DbError('PARAMETER', `${what} order ${order} is not known`, { hint: `use a ${what === 'list' ? 'ListOrder' : 'MapOrder'} value from types.proto` });
}

function numeric(v: BinValue, bin: string): bigint | number {
  if (typeof v === 'bigint' || typeof v === 'number') return v;
  throw new DbError('PARAMETER', `add on bin '${bin}' needs an integer or double value`);
}

function strOrBytes(v: BinValue, op: string, bin: string): string | Uint8Array {
  if (typeof v === 'string' || v instanceof Uint8Array) return v;
  throw new DbError('PARAMETER', `${op} on bin '${bin}' needs a string or bytes value`);
}

/** A context path, step by step; a step with no kind or an unknown create value is refused. */
export function fromPbContext(ctx: readonly PbCdtContext[], what: string): CdtContextItem[] {
  return ctx.map((c, i) => {
    const s = c.step;
    const at = `${what} context step ${i}`;
    if (s === undefined) {
      throw new DbError('PARAMETER', `${at} has no kind`, { hint: 'set one of list_index, list_rank, list_value, map_index, map_rank, map_key, map_value' });
    }
    const create = c.create;
    if (create !== 0 && !(s.$case === 'listIndex' ? create >= 1 && create <= 3 : s.$case === 'mapKey' ? create >= 4 && create <= 6 : false)) {
      throw new DbError('PARAMETER', `${at}: create value ${create} does not apply to a ${s.$case} step`, {
        hint: 'list_index steps take CDT_CONTEXT_CREATE_LIST_*, map_key steps CDT_CONTEXT_CREATE_MAP_*; other steps never create',
      });
    }
    switch (s.$case) {
      case 'listIndex': {
        const index = int(s.value, `${at} index`) as number;
        if (create === 0) return { type: 'listIndex', index };
        return { type: 'listIndex', index, create: create === 3 ? { order: 'ordered' } : create === 2 ? { order: 'unordered', pad: true } : { order: 'unordered' } };
      }
      case 'listRank': return { type: 'listRank', rank: int(s.value, `${at} rank`) as number };
      case 'listValue': return { type: 'listValue', value: fromPbValue(s.value) };
      case 'mapIndex': return { type: 'mapIndex', index: int(s.value, `${at} index`) as number };
      case 'mapRank': return { type: 'mapRank', rank: int(s.value, `${at} rank`) as number };
      case 'mapKey': {
        const key = mapKey(s.value);
        if (create === 0) return { type: 'mapKey', key };
        return { type: 'mapKey', key, create: { order: create === 6 ? 'keyValueOrdered' : create === 5 ? 'keyOrdered' : 'unordered' } };
      }
      case 'mapValue': return { type: 'mapValue', value: fromPbValue(s.value) };
    }
  });
}

/** The context of a list/map operation, when it has one. */
function contextField(ctx: readonly PbCdtContext[], what: string): { ctx?: CdtContextItem[] } {
  return ctx.length === 0 ? {} : { ctx: fromPbContext(ctx, what) };
}

/** A bit operation; every field it does not use must be left unset (never ignored). */
export function fromPbBitOp(b: PbBitOp): BitOperation {
  const kind = BIT_OP_KINDS[b.kind - 1];
  if (kind === undefined || b.kind === 0) throw new DbError('PARAMETER', `unknown bit operation ${b.kind}`, { hint: 'use a BitOpKind value from kv.proto' });
  const what = `bit ${kind} on bin '${b.bin}'`;
  const uses: Record<string, ReadonlySet<string>> = {
    resize: new Set(['size', 'resize', 'policy']), insert: new Set(['offset', 'value', 'policy']), remove: new Set(['offset', 'size', 'policy']),
    set: new Set(['offset', 'size', 'value', 'policy']), or: new Set(['offset', 'size', 'value', 'policy']), xor: new Set(['offset', 'size', 'value', 'policy']),
    and: new Set(['offset', 'size', 'value', 'policy']), not: new Set(['offset', 'size', 'policy']), lshift: new Set(['offset', 'size', 'shift', 'policy']),
    rshift: new Set(['offset', 'size', 'shift', 'policy']), add: new Set(['offset', 'size', 'integer', 'signed', 'overflow', 'policy']),
    subtract: new Set(['offset', 'size', 'integer', 'signed', 'overflow', 'policy']), setInt: new Set(['offset', 'size', 'integer', 'policy']),
    get: new Set(['offset', 'size']), count: new Set(['offset', 'size']), lscan: new Set(['offset', 'size', 'scanFor']), rscan: new Set(['offset', 'size', 'scanFor']),
    getInt: new Set(['offset', 'size', 'signed']),
  };
  const present: Array<[string, boolean]> = [
    ['offset', b.offset !== undefined], ['size', b.size !== undefined], ['value', b.value.length > 0], ['shift', b.shift !== undefined],
    ['integer', b.integer !== undefined], ['signed', b.signed], ['overflow', b.overflow !== 0], ['scanFor', b.scanFor !== undefined],
    ['resize', b.resizeFromFront || b.resizeGrowOnly || b.resizeShrinkOnly], ['policy', b.policy !== undefined],
  ];
  const allowed = uses[kind] as ReadonlySet<string>;
  const stray = present.filter(([f, set]) => set && !allowed.has(f)).map(([f]) => f);
  if (stray.length > 0) throw new DbError('PARAMETER', `${what} takes no ${stray.join(', ')}`, { hint: `it takes ${[...allowed].join(', ')}` });
  const p = b.policy;
  return {
    op: 'bit', bin: b.bin, kind,
    ...(b.offset === undefined ? {} : { offset: int(b.offset, `${what} offset`) as number }),
    ...(b.size === undefined ? {} : { size: int(b.size, `${what} size`) as number }),
    ...(b.value.length > 0 ? { value: new Uint8Array(b.value) } : {}),
    ...(b.shift === undefined ? {} : { shift: int(b.shift, `${what} shift`) as number }),
    ...(b.integer === undefined ? {} : { integer: b.integer }),
    ...(b.signed ? { signed: true } : {}),
    ...(b.overflow === 0 ? {} : { overflow: b.overflow === 1 ? 'saturate' as const : b.overflow === 2 ? 'wrap' as const : (() => { throw new DbError('PARAMETER', `${what}: unknown overflow action ${b.overflow}`); })() }),
    ...(b.scanFor === undefined ? {} : { scanFor: b.scanFor }),
    ...(b.resizeFromFront || b.resizeGrowOnly || b.resizeShrinkOnly ? { resizeFlags: { fromFront: b.resizeFromFront, growOnly: b.resizeGrowOnly, shrinkOnly: b.resizeShrinkOnly } } : {}),
    ...(p === undefined ? {} : { policy: { createOnly: p.createOnly, updateOnly: p.updateOnly, noFail: p.noFail, partial: p.partial } }),
    ...contextField(b.ctx, what),
  };
}

/** An HLL operation; a field the kind does not take is refused by the kernel (hll-ops.ts). */
export function fromPbHllOp(h: PbHllOp): HllOperation {
  const kind = HLL_OP_KINDS[h.kind - 1];
  if (kind === undefined || h.kind === 0) throw new DbError('PARAMETER', `unknown HLL operation ${h.kind}`, { hint: 'use an HllOpKind value from kv.proto' });
  const what = `hll ${kind} on bin '${h.bin}'`;
  const hlls = h.hlls.map((v, i) => {
    const x = fromPbValue(v);
    if (!(x instanceof Hll)) throw new DbError('PARAMETER', `${what}: hlls[${i}] is not an HLL value`, { hint: 'send HLLs as Value.hll' });
    return x;
  });
  const p = h.policy;
  return {
    op: 'hll', bin: h.bin, kind,
    ...(h.indexBits === undefined ? {} : { indexBits: h.indexBits }),
    ...(h.minHashBits === undefined ? {} : { minhashBits: h.minHashBits }),
    ...(h.values.length === 0 ? {} : { values: h.values.map((v) => fromPbValue(v)) }),
    ...(hlls.length === 0 ? {} : { hlls }),
    ...(p === undefined ? {} : { policy: { createOnly: p.createOnly, updateOnly: p.updateOnly, noFail: p.noFail, allowFold: p.allowFold } }),
  };
}

/** Refuses a missing or malformed expression before anything runs (the kernel compiles it again). */
function checkExpression(json: string, what: string): void {
  if (json === '') throw new DbError('PARAMETER', `${what} has no expression`, { hint: 'send expression_json (docs/queries.md)' });
  exprFromJsonText(json);
}

export function fromPbOperation(op: PbOperation): Operation {
  const o = op.op;
  if (o === undefined) throw new DbError('PARAMETER', 'an operation has no kind', { hint: 'set one of read, write, add, append, prepend, touch, delete, list, map, bit, hll, exp_read, exp_write' });
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
      const f = l.flags;
      return {
        op: 'list', bin: l.bin, kind, ...contextField(l.ctx, `list ${kind} on bin '${l.bin}'`), ...selectorFields(l, 'list'),
        ...(f === undefined ? {} : { flags: { addUnique: f.addUnique, insertBounded: f.insertBounded, noFail: f.noFail, partial: f.partial } }),
        ...(l.order === undefined ? {} : { order: l.order === 1 ? 'ordered' as const : l.order === 0 ? 'unordered' as const : unknownOrder(l.order, 'list') }),
        ...(l.sortFlags === undefined ? {} : { sortFlags: { descending: l.sortFlags.descending, dropDuplicates: l.sortFlags.dropDuplicates } }),
      };
    }
    case 'map': {
      const m = o.value;
      const kind = MAP_KINDS[m.kind as PbMapOpKind];
      if (kind === undefined) throw new DbError('PARAMETER', `unknown map operation ${m.kind}`);
      const shared = selectorFields(m, 'map'); // index/rank/count are checked first
      // a nil key_end (or key, for key ranges) is an open bound, as an absent one
      const keyEnd = m.keyEnd === undefined || fromPbValue(m.keyEnd) === null ? undefined : mapKey(m.keyEnd);
      const openKey = (kind === 'getByKeyRange' || kind === 'removeByKeyRange') && m.key !== undefined && fromPbValue(m.key) === null;
      return {
        op: 'map', bin: m.bin, kind,
        ...contextField(m.ctx, `map ${kind} on bin '${m.bin}'`),
        ...(m.flags === undefined ? {} : { flags: { createOnly: m.flags.createOnly, updateOnly: m.flags.updateOnly, noFail: m.flags.noFail, partial: m.flags.partial } }),
        ...(m.order === undefined ? {} : { order: PB_MAP_ORDER[m.order] ?? unknownOrder(m.order, 'map') }),
        ...(m.key === undefined || openKey ? {} : { key: mapKey(m.key) }),
        ...(keyEnd === undefined ? {} : { keyEnd }),
        keys: m.keys.map(mapKey),
        items: new Map(m.items.map((e) => [mapKey(e.key), fromPbValue(e.value)] as const)),
        ...shared,
      };
    }
    case 'bit': return fromPbBitOp(o.value);
    case 'hll': return fromPbHllOp(o.value);
    case 'expRead': {
      checkExpression(o.value.expressionJson, `expression read '${o.value.name}'`);
      if (o.value.name === '') throw new DbError('PARAMETER', 'an expression read needs a name for its result');
      return { op: 'expRead', name: o.value.name, expression: o.value.expressionJson, ...(o.value.evalNoFail ? { evalNoFail: true } : {}) };
    }
    case 'expWrite': {
      const w = o.value;
      checkExpression(w.expressionJson, `expression write to bin '${w.bin}'`);
      const flags = { createOnly: w.createOnly, updateOnly: w.updateOnly, allowDelete: w.allowDelete, policyNoFail: w.policyNoFail, evalNoFail: w.evalNoFail };
      return { op: 'expWrite', bin: w.bin, expression: w.expressionJson, ...(Object.values(flags).some((x) => x) ? { flags } : {}) };
    }
  }
}
