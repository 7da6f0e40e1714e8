import { DbError } from '../errors/index.ts';

/**
 * A GeoJSON bin value. Kept as its text (validated on write) so that it round-trips exactly.
 */
export class GeoJson {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
  toJSON(): unknown {
    return JSON.parse(this.text) as unknown;
  }
}

/**
 * A HyperLogLog bin value: Aerospike's HLL bytes (flags, index bits, min-hash bits, cached
 * count, registers; see hll.ts for the layout and the algorithms).
 */
export class Hll {
  readonly bytes: Uint8Array;
  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }
  get indexBits(): number { return this.bytes[1] as number; }
  get minhashBits(): number { return this.bytes[2] as number; }
  toJSON(): unknown {
    return { hll: Buffer.from(this.bytes).toString('base64') };
  }
}

/** Map keys: strings, integers and doubles (Aerospike's scalar key types). */
export type MapKey = string | bigint | number;

/**
 * A bin value. Integers are always `bigint` (64-bit, exact); doubles are always `number`;
 * so the two never blur. `null` is nil (writing nil to a bin removes the bin).
 */
export type BinValue =
  | null
  | bigint
  | number
  | string
  | boolean
  | Uint8Array
  | GeoJson
  | Hll
  | readonly BinValue[]
  | ReadonlyMap<MapKey, BinValue>;

export type Bins = Record<string, BinValue>;

export type ValueType = 'nil' | 'integer' | 'double' | 'string' | 'boolean' | 'bytes' | 'geojson' | 'list' | 'map' | 'hll';

export const INT64_MIN = -(2n ** 63n);
export const INT64_MAX = 2n ** 63n - 1n;

export function valueType(v: BinValue): ValueType {
  if (v === null) return 'nil';
  switch (typeof v) {
    case 'bigint': return 'integer';
    case 'number': return 'double';
    case 'string': return 'string';
    case 'boolean': return 'boolean';
    default:
      if (v instanceof Uint8Array) return 'bytes';
      if (v instanceof GeoJson) return 'geojson';
      if (v instanceof Hll) return 'hll';
      if (Array.isArray(v)) return 'list';
      return 'map';
  }
}

export function isList(v: BinValue): v is readonly BinValue[] {
  return Array.isArray(v);
}

export function isMap(v: BinValue): v is ReadonlyMap<MapKey, BinValue> {
  return v instanceof Map;
}

/** Wraps an int64 result, failing rather than silently wrapping around. */
/**
 * The deepest a stored value may nest (lists and maps inside lists and maps). Every response
 * encoding must carry what is stored: in protobuf a nested map costs three message levels
 * (Value, MapValue, MapEntry) and a record's envelope four more, and common protobuf decoders
 * stop at 100 levels (Python's, the upb runtime) — 4 + 3 × 24 = 76 leaves room.
 */
export const MAX_VALUE_DEPTH = 24;

/** Lists and maps nested in `v` (a scalar is 0, a list of scalars 1), counted up to `limit + 1`. */
export function valueDepth(v: BinValue, limit = MAX_VALUE_DEPTH): number {
  if (Array.isArray(v)) {
    let d = 0;
    if (limit < 0) return 1;
    for (const x of v as readonly BinValue[]) {
      if (typeof x === 'object' && x !== null) d = Math.max(d, valueDepth(x, limit - 1));
      if (d >= limit) break;
    }
    return d + 1;
  }
  if (v instanceof Map) {
    let d = 0;
    if (limit < 0) return 1;
    for (const x of (v as ReadonlyMap<MapKey, BinValue>).values()) {
      if (typeof x === 'object' && x !== null) d = Math.max(d, valueDepth(x, limit - 1));
      if (d >= limit) break;
    }
    return d + 1;
  }
  return 0;
}

/** PARAMETER when a value nests deeper than MAX_VALUE_DEPTH. */
export function checkValueDepth(v: BinValue, what: string): void {
  if (typeof v !== 'object' || v === null) return;
  const d = valueDepth(v);
  if (d > MAX_VALUE_DEPTH) {
    throw new DbError('PARAMETER', `${what} nests ${d > MAX_VALUE_DEPTH + 1 ? 'more than ' : ''}${d - (d > MAX_VALUE_DEPTH + 1 ? 1 : 0)} levels deep; the limit is ${MAX_VALUE_DEPTH}`, {
      hint: 'Flatten the value (store deeper parts under other bins or keys)',
    });
  }
}

export function checkInt64(v: bigint, what = 'integer'): bigint {
  if (v < INT64_MIN || v > INT64_MAX) {
    throw new DbError('PARAMETER', `${what} ${v} is outside the 64-bit signed range`, {
      hint: `use a value between ${INT64_MIN} and ${INT64_MAX}`,
    });
  }
  return v;
}

/** Parses and checks GeoJSON text: a Point, Polygon, MultiPolygon, or an AeroCircle as Aerospike has it. */
export function parseGeoJson(text: string): GeoJson {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new DbError('GEO_INVALID_GEOJSON', `GeoJSON is not valid JSON: ${(err as Error).message}`, {
      hint: 'pass a GeoJSON object such as {"type":"Point","coordinates":[-122.0,37.5]}',
    });
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new DbError('GEO_INVALID_GEOJSON', 'GeoJSON must be an object with a "type"');
  }
  const type = (doc as { type?: unknown }).type;
  const allowed = ['Point', 'Polygon', 'MultiPolygon', 'AeroCircle', 'MultiPoint', 'LineString', 'Feature'];
  if (typeof type !== 'string' || !allowed.includes(type)) {
    throw new DbError('GEO_INVALID_GEOJSON', `unsupported GeoJSON type ${JSON.stringify(type)}`, {
      hint: `use one of ${allowed.join(', ')}`,
    });
  }
  return new GeoJson(text);
}

/** Structural equality of bin values (list order matters, map order does not). */
export function valuesEqual(a: BinValue, b: BinValue): boolean {
  if (a === b) return true;
  if (a === null || b === null) return false;
  if (typeof a !== typeof b) return false;
  if (typeof a === 'number' && typeof b === 'number') return Number.isNaN(a) && Number.isNaN(b);
  if (a instanceof Uint8Array) return b instanceof Uint8Array && Buffer.compare(a, b) === 0;
  if (a instanceof GeoJson) return b instanceof GeoJson && a.text === b.text;
  if (a instanceof Hll) return b instanceof Hll && Buffer.compare(a.bytes, b.bytes) === 0;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    const bl = b as readonly BinValue[];
    return (a as readonly BinValue[]).every((x, i) => valuesEqual(x, bl[i] as BinValue));
  }
  if (a instanceof Map) {
    if (!(b instanceof Map) || a.size !== b.size) return false;
    for (const [k, v] of a) {
      if (!b.has(k) || !valuesEqual(v as BinValue, b.get(k) as BinValue)) return false;
    }
    return true;
  }
  return false;
}
