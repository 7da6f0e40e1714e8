/**
 * The two orders of values, over one type table:
 * - `compareValues`, the order of queries and ORDER BY: integers and doubles compare by value
 *   with each other, strings by UTF-16 unit;
 * - `cdtCompare`, Aerospike's order of collection elements (list sort, ranks, map key order):
 *   integers and doubles never compare by value with each other, strings by UTF-8 bytes.
 */
import { GeoJson, valueType, type BinValue, type Hll, type MapKey, type ValueType } from './values.ts';

/** nil < boolean < integer < string < list < map < bytes < double < GeoJSON, in both orders. */
const TYPE_ORDER: Record<ValueType, number> = {
  nil: 0, boolean: 1, integer: 2, string: 3, list: 4, map: 5, bytes: 6, double: 7, geojson: 8, hll: 9,
};

/** Aerospike's total order of values (nil < bool < int < string < list < map < bytes < double < geojson). */
export function compareValues(a: BinValue, b: BinValue): number {
  const ta = valueType(a);
  const tb = valueType(b);
  if (ta !== tb) {
    // integers and doubles compare numerically with each other, which users expect from ORDER BY
    if ((ta === 'integer' || ta === 'double') && (tb === 'integer' || tb === 'double')) {
      const na = Number(a as bigint | number);
      const nb = Number(b as bigint | number);
      return na < nb ? -1 : na > nb ? 1 : ta === 'integer' ? -1 : 1;
    }
    return TYPE_ORDER[ta] - TYPE_ORDER[tb];
  }
  switch (ta) {
    case 'nil': return 0;
    case 'boolean': return Number(a) - Number(b);
    case 'integer': return (a as bigint) < (b as bigint) ? -1 : (a as bigint) > (b as bigint) ? 1 : 0;
    case 'double': return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0;
    case 'string': return (a as string) < (b as string) ? -1 : (a as string) > (b as string) ? 1 : 0;
    case 'bytes': return Buffer.compare(a as Uint8Array, b as Uint8Array);
    case 'hll': return Buffer.compare((a as Hll).bytes, (b as Hll).bytes);
    case 'geojson': return (a as GeoJson).text < (b as GeoJson).text ? -1 : (a as GeoJson).text > (b as GeoJson).text ? 1 : 0;
    case 'list': {
      const la = a as readonly BinValue[];
      const lb = b as readonly BinValue[];
      for (let i = 0; i < Math.min(la.length, lb.length); i++) {
        const c = compareValues(la[i] as BinValue, lb[i] as BinValue);
        if (c !== 0) return c;
      }
      return la.length - lb.length;
    }
    case 'map': {
      const ma = a as ReadonlyMap<MapKey, BinValue>;
      const mb = b as ReadonlyMap<MapKey, BinValue>;
      if (ma.size !== mb.size) return ma.size - mb.size;
      const ka = [...ma.keys()].sort(compareValues);
      const kb = [...mb.keys()].sort(compareValues);
      for (let i = 0; i < ka.length; i++) {
        const c = compareValues(ka[i] as MapKey, kb[i] as MapKey) || compareValues(ma.get(ka[i] as MapKey) as BinValue, mb.get(kb[i] as MapKey) as BinValue);
        if (c !== 0) return c;
      }
      return 0;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Aerospike's CDT value order.

/** UTF-16 code unit adjusted so that unit order is code point (and so UTF-8 byte) order. */
function utf8Unit(c: number): number {
  if (c >= 0xd800 && c <= 0xdfff) return c + 0x2000;
  if (c >= 0xe000) return c - 0x800;
  return c;
}

function compareStrings(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const ca = a.charCodeAt(i);
    const cb = b.charCodeAt(i);
    if (ca !== cb) return utf8Unit(ca) - utf8Unit(cb);
  }
  return a.length - b.length;
}

function compareDoubles(a: number, b: number): number {
  if (a < b) return -1;
  if (a > b) return 1;
  if (a === b) return 0;
  return Number.isNaN(a) ? (Number.isNaN(b) ? 0 : 1) : -1; // NaN after every other double
}

/**
 * Aerospike's order of collection elements ("CDT ordering"): by type first —
 * nil < boolean < integer < string < list < map < bytes < double < GeoJSON — so integers and
 * doubles never compare by value with each other; then false < true, integers and doubles by
 * value, strings and bytes byte by byte (UTF-8), lists element by element then by length, maps
 * by entry count, then keys in key order, then values.
 */
export function cdtCompare(a: BinValue, b: BinValue): number {
  const ta = valueType(a);
  const tb = valueType(b);
  if (ta !== tb) return TYPE_ORDER[ta] - TYPE_ORDER[tb];
  switch (ta) {
    case 'nil': return 0;
    case 'boolean': return Number(a) - Number(b);
    case 'integer': return (a as bigint) < (b as bigint) ? -1 : (a as bigint) > (b as bigint) ? 1 : 0;
    case 'double': return compareDoubles(a as number, b as number);
    case 'string': return compareStrings(a as string, b as string);
    case 'bytes': return Math.sign(Buffer.compare(a as Uint8Array, b as Uint8Array));
    case 'hll': return Math.sign(Buffer.compare((a as Hll).bytes, (b as Hll).bytes));
    case 'geojson': return compareStrings((a as GeoJson).text, (b as GeoJson).text);
    case 'list': {
      const la = a as readonly BinValue[];
      const lb = b as readonly BinValue[];
      for (let i = 0; i < Math.min(la.length, lb.length); i++) {
        const c = cdtCompare(la[i] as BinValue, lb[i] as BinValue);
        if (c !== 0) return c;
      }
      return Math.sign(la.length - lb.length);
    }
    case 'map': {
      const ma = a as ReadonlyMap<MapKey, BinValue>;
      const mb = b as ReadonlyMap<MapKey, BinValue>;
      if (ma.size !== mb.size) return Math.sign(ma.size - mb.size);
      const ka = [...ma.keys()].sort(cdtCompare);
      const kb = [...mb.keys()].sort(cdtCompare);
      for (let i = 0; i < ka.length; i++) {
        const c = cdtCompare(ka[i] as MapKey, kb[i] as MapKey);
        if (c !== 0) return c;
      }
      for (const k of ka) {
        const c = cdtCompare(ma.get(k) as BinValue, mb.get(k) as BinValue);
        if (c !== 0) return c;
      }
      return 0;
    }
  }
}
