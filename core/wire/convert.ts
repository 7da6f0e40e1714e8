/**
 * Protobuf ⇄ model conversions shared by the client and the server: values, bins, record
 * metadata and records. They need only the model; what turns a request into kernel keys and
 * policies is the server's (core/server/handlers/request-mapping.ts).
 */
import { DbError } from '../errors/index.ts';
import { checkBinName, GeoJson, Hll, parseHll, listOrder, mapOrder, parseGeoJson, ttlOf, withListOrder, withMapOrder, type BinValue, type Bins, type DbRecord, type MapKey, type MapOrder, type RecordMeta } from '../model/index.ts';
import type { Bin, MapOrder as PbMapOrder, Record as PbRecord, RecordMeta as PbRecordMeta, Value } from './generated/slipstream/v1/types.ts';

const MAX_DEPTH = 64;

/** MapOrder in types.proto ⇄ the model's map orders. */
export const PB_MAP_ORDER: Readonly<Record<number, MapOrder>> = { 0: 'unordered', 1: 'keyOrdered', 2: 'keyValueOrdered' };
export const MAP_ORDER_PB: Readonly<Record<MapOrder, PbMapOrder>> = { unordered: 0, keyOrdered: 1, keyValueOrdered: 2 };

/** A protobuf value as a bin value. Missing values are nil. */
export function fromPbValue(v: Value | undefined, depth = 0): BinValue {
  if (depth > MAX_DEPTH) throw new DbError('PARAMETER', `values nest deeper than ${MAX_DEPTH} levels`, { hint: 'flatten the value' });
  const k = v?.kind;
  if (k === undefined) return null;
  switch (k.$case) {
    case 'nil': return null;
    case 'int': return k.value;
    case 'double': return k.value;
    case 'string': return k.value;
    case 'bytes': return new Uint8Array(k.value.buffer, k.value.byteOffset, k.value.length);
    case 'bool': return k.value;
    case 'geojson': return parseGeoJson(k.value);
    case 'hll': return parseHll(new Uint8Array(k.value.buffer, k.value.byteOffset, k.value.length), 'an HLL value');
    case 'list': {
      const items = k.value.items.map((x) => fromPbValue(x, depth + 1));
      const order = k.value.order;
      if (order === 0) return items;
      if (order !== 1) throw new DbError('PARAMETER', `list order ${order} is not known`, { hint: 'use a ListOrder value from types.proto' });
      return withListOrder(items, 'ordered');
    }
    case 'map': {
      const order = PB_MAP_ORDER[k.value.order];
      if (order === undefined) throw new DbError('PARAMETER', `map order ${k.value.order} is not known`, { hint: 'use a MapOrder value from types.proto' });
      const m = new Map<MapKey, BinValue>();
      for (const e of k.value.entries) {
        const key = fromPbValue(e.key, depth + 1);
        if (typeof key !== 'string' && typeof key !== 'bigint' && typeof key !== 'number') {
          throw new DbError('PARAMETER', 'map keys must be strings, integers or doubles', { hint: 'use a scalar map key' });
        }
        m.set(key, fromPbValue(e.value, depth + 1));
      }
      return withMapOrder(m, order);
    }
  }
}

export function toPbValue(v: BinValue): Value {
  if (v === null) return { kind: { $case: 'nil', value: {} } };
  switch (typeof v) {
    case 'bigint': return { kind: { $case: 'int', value: v } };
    case 'number': return { kind: { $case: 'double', value: v } };
    case 'string': return { kind: { $case: 'string', value: v } };
    case 'boolean': return { kind: { $case: 'bool', value: v } };
    default:
      if (v instanceof Uint8Array) return { kind: { $case: 'bytes', value: v } };
      if (v instanceof GeoJson) return { kind: { $case: 'geojson', value: v.text } };
      if (v instanceof Hll) return { kind: { $case: 'hll', value: v.bytes } };
      if (Array.isArray(v)) {
        const list = v as readonly BinValue[];
        return { kind: { $case: 'list', value: { items: list.map(toPbValue), order: listOrder(list) === 'ordered' ? 1 : 0 } } };
      }
      {
        const map = v as ReadonlyMap<MapKey, BinValue>;
        return { kind: { $case: 'map', value: { entries: [...map].map(([key, value]) => ({ key: toPbValue(key), value: toPbValue(value) })), order: MAP_ORDER_PB[mapOrder(map)] } } };
      }
  }
}

export function fromPbBins(bins: readonly Bin[]): Bins {
  const out: Bins = {};
  for (const b of bins) {
    if (Object.prototype.hasOwnProperty.call(out, b.name)) {
      throw new DbError('PARAMETER', `bin '${b.name}' appears twice in the request`, { hint: 'send each bin once' });
    }
    out[checkBinName(b.name)] = fromPbValue(b.value);
  }
  return out;
}

export function toPbBins(bins: Bins): Bin[] {
  return Object.entries(bins).map(([name, value]) => ({ name, value: toPbValue(value) }));
}

export function toPbMeta(meta: RecordMeta, nowMs: number): PbRecordMeta {
  return { generation: meta.generation, ttl: BigInt(ttlOf(meta.voidTime, nowMs)), lastUpdateMs: BigInt(Math.floor(meta.lastUpdateMs)), voidTime: meta.voidTime };
}

export function toPbRecord(rec: DbRecord, nowMs: number): PbRecord {
  return {
    key: {
      namespace: rec.key.namespace,
      set: rec.key.set,
      digest: rec.key.digest,
      partition: rec.key.partition,
      ...(rec.key.userKey === undefined ? {} : { userKey: toPbValue(rec.key.userKey) }),
    },
    meta: toPbMeta(rec.meta, nowMs),
    bins: toPbBins(rec.bins),
  };
}
