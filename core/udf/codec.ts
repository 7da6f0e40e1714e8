/**
 * The value codec of the sandbox boundary. Only JSON strings cross between the host and an
 * isolate; bin values travel in this tagged JSON form, which keeps 64-bit integers exact and
 * integers apart from doubles:
 *
 * | BinValue                         | wire                         | inside the sandbox            |
 * |----------------------------------|------------------------------|-------------------------------|
 * | integer (bigint), |v| ≤ 2^53−1   | JSON number                  | number                        |
 * | integer beyond 2^53−1            | `{"i":"<digits>"}`           | bigint                        |
 * | double with a fraction           | JSON number                  | number                        |
 * | double 2.0, NaN, ±Infinity, -0   | `{"d":"<text>"}`             | number                        |
 * | string, boolean, nil             | as is                        | as is (nil → null)            |
 * | bytes                            | `{"b":"<base64>"}`           | Uint8Array                    |
 * | GeoJSON                          | `{"g":"<text>"}`             | GeoJSON (`.text`, `.value`)   |
 * | list                             | JSON array                   | Array                         |
 * | map                              | `{"m":[k1,v1,k2,v2,…]}`      | Map (plain objects accepted)  |
| key-ordered / key-value-ordered map | `{"m":[…],"o":1}` / `{"m":[…],"o":3}` | the same, its order noted beside it |
 * | (a record UDF's written bins only) a bin still holding the primitive value it was read with | `{"s":0}` | – (the stored value is kept) |
 *
 * A map's order (Aerospike's map flags: 1 key-ordered, 3 key-value-ordered) travels with it, as
 * Aerospike's Lua keeps a map's flags: the sandbox notes it beside the map it decoded, and that
 * same map (changed in place or not) written back or returned carries it again, so a key-ordered
 * map stays key-ordered through a read-modify-write; a map the UDF builds itself is unordered. A
 * list's order does not travel (Aerospike's Lua writes every list back unordered).
 *
 * **Record calls** travel in a compact form of their own (arrays: no property names for either side
 * to write or parse — about a microsecond per call less than objects, measured): the request
 * `[fn, args, bins, doubles, exists, gen, ttl, lut, key, digest, set, ns]` (`doubles`: the names of
 * the bins holding doubles, or 0 when none; `key`: the user key or null; `digest`: base64) and its
 * answer `[value, effect, bins, create, ttl, logs]` with trailing parts left out (`effect`: 0 none,
 * 1 write, 2 delete; for a write `bins`, `create` 1 or 0 and `ttl` a number or null; `logs` only
 * when the call logged). A failure is answered with the response object (`{"ok":false,"error":…}`),
 * and a record call sent as an object (`{"op":"record",…}`) is answered with one.
 *
 * So a JSON number decodes to an integer exactly when it is integral. The guest side of this
 * codec is in sandbox-runtime.js. Decoding what a UDF produced is defensive: it checks depth,
 * int64 range, map key types and GeoJSON, because the producer is untrusted code.
 */
import { DbError } from '../errors/index.ts';
import { GeoJson, Hll, INT64_MAX, INT64_MIN, mapOrder, parseGeoJson, withMapOrder, type BinValue, type Bins, type MapKey, type MapOrder } from '../model/index.ts';

export type Wire = null | boolean | number | string | Wire[] | { readonly [tag: string]: Wire };

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
/** A map's order as Aerospike's map flags (the `o` of the map tag), and back. */
const ORDER_FLAGS: Readonly<Record<Exclude<MapOrder, 'unordered'>, number>> = { keyOrdered: 1, keyValueOrdered: 3 };
const FLAG_ORDERS: ReadonlyMap<unknown, MapOrder> = new Map([[1, 'keyOrdered'], [3, 'keyValueOrdered']]);
export const MAX_VALUE_DEPTH = 64;

function doubleTag(n: number): Wire {
  return { d: Object.is(n, -0) ? '-0' : String(n) };
}

export function encodeValue(v: BinValue): Wire {
  if (v === null) return null;
  switch (typeof v) {
    case 'bigint':
      return v >= -MAX_SAFE && v <= MAX_SAFE ? Number(v) : { i: v.toString() };
    case 'number':
      return Number.isFinite(v) && !Number.isInteger(v) ? v : doubleTag(v);
    case 'string':
    case 'boolean':
      return v;
    default:
      if (v instanceof Uint8Array) return { b: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') };
      if (v instanceof GeoJson) return { g: v.text };
      // an HLL reaches a UDF as its bytes (as Aerospike's Lua sees it)
      if (v instanceof Hll) return { b: Buffer.from(v.bytes).toString('base64') };
      if (Array.isArray(v)) return (v as readonly BinValue[]).map(encodeValue);
      if (v instanceof Map) {
        const kv: Wire[] = [];
        for (const [k, x] of v as ReadonlyMap<MapKey, BinValue>) kv.push(encodeValue(k), encodeValue(x));
        const order = mapOrder(v as ReadonlyMap<MapKey, BinValue>);
        return order === 'unordered' ? { m: kv } : { m: kv, o: ORDER_FLAGS[order] };
      }
      throw new DbError('PARAMETER', `value of type ${typeof v} cannot be passed to a UDF`);
  }
}

export function encodeBins(bins: Bins): Record<string, Wire> {
  // an ordinary object, not a prototype-less one: V8 keeps a prototype-less object in dictionary
  // mode, which made JSON.stringify of a request ~1 µs slower; a bin named __proto__ is defined
  // as an own property (rare, so the cost of defineProperty does not matter)
  const out: Record<string, Wire> = {};
  for (const name of Object.keys(bins)) {
    const v = bins[name];
    if (v === undefined || v === null) continue;
    if (name === '__proto__') Object.defineProperty(out, name, { value: encodeValue(v), enumerable: true, writable: true, configurable: true });
    else out[name] = encodeValue(v);
  }
  return out;
}

/** The names of bins holding doubles, so that numbers written back to them stay doubles. */
export function doubleBinNames(bins: Bins): string[] {
  return Object.keys(bins).filter((k) => typeof bins[k] === 'number');
}

function bad(what: string): DbError {
  return new DbError('UDF', `UDF produced an invalid value: ${what}`);
}

/** Decodes a value produced by a UDF; throws DbError(UDF) on anything malformed. */
export function decodeValue(w: unknown, depth = 0): BinValue {
  if (w === null) return null;
  switch (typeof w) {
    case 'number':
      if (Number.isInteger(w)) {
        if (!Number.isSafeInteger(w)) throw bad(`integer ${w} has lost precision`);
        return BigInt(w);
      }
      return w;
    case 'string':
    case 'boolean':
      return w;
    case 'object': {
      if (depth >= MAX_VALUE_DEPTH) throw bad(`nested more than ${MAX_VALUE_DEPTH} levels deep`);
      if (Array.isArray(w)) return w.map((x) => decodeValue(x, depth + 1));
      const o = w as Record<string, unknown>;
      if (typeof o.i === 'string') {
        if (!/^-?\d{1,20}$/.test(o.i)) throw bad(`integer ${JSON.stringify(o.i.slice(0, 40))}`);
        const n = BigInt(o.i);
        if (n < INT64_MIN || n > INT64_MAX) throw new DbError('UDF', `UDF produced integer ${n}, outside the 64-bit signed range`, { hint: `keep integers between ${INT64_MIN} and ${INT64_MAX}` });
        return n;
      }
      if (typeof o.d === 'string') {
        const n = o.d === '-0' ? -0 : Number(o.d);
        if (Number.isNaN(n) && o.d !== 'NaN') throw bad(`double ${JSON.stringify(o.d.slice(0, 40))}`);
        return n;
      }
      if (typeof o.b === 'string') return new Uint8Array(Buffer.from(o.b, 'base64'));
      if (typeof o.g === 'string') {
        try {
          return parseGeoJson(o.g);
        } catch (err) {
          throw new DbError('UDF', `UDF produced invalid GeoJSON: ${(err as Error).message}`);
        }
      }
      if (Array.isArray(o.m)) {
        const kv = o.m as unknown[];
        const m = new Map<MapKey, BinValue>();
        for (let i = 0; i + 1 < kv.length; i += 2) {
          const k = decodeValue(kv[i], depth + 1);
          if (typeof k !== 'string' && typeof k !== 'bigint' && typeof k !== 'number') throw bad('map key is not a string or a number');
          m.set(k, decodeValue(kv[i + 1], depth + 1));
        }
        if (o.o === undefined) return m;
        const order = FLAG_ORDERS.get(o.o);
        if (order === undefined) throw bad(`map order ${JSON.stringify(o.o)}`);
        return withMapOrder(m, order);
      }
      throw bad('unknown tagged value');
    }
    default:
      throw bad(`unexpected ${typeof w}`);
  }
}

/** Whether a written bin is `{"s":0}`: left as it was read (see sandbox-runtime.js, SAME). */
function isSame(v: unknown): boolean {
  return typeof v === 'object' && v !== null && (v as { s?: unknown }).s === 0 && !Array.isArray(v);
}

/**
 * Decodes the bins a UDF wrote. `stored`: the bins it was given (a record UDF's effect), from
 * which a bin written as `{"s":0}` keeps its value.
 */
export function decodeBins(w: unknown, stored?: Bins): Bins {
  if (typeof w !== 'object' || w === null || Array.isArray(w)) throw bad('bins are not an object');
  const out: Bins = {};
  const o = w as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    const v = o[k];
    let value: BinValue;
    if (typeof v === 'object' && isSame(v)) {
      if (stored === undefined || !Object.hasOwn(stored, k)) throw bad(`bin '${k.slice(0, 40)}' is marked unchanged but was not read`);
      value = stored[k] as BinValue;
    } else value = decodeValue(v);
    if (value === null) continue;
    // a bin named __proto__ is an own property like any other
    if (k === '__proto__') Object.defineProperty(out, k, { value, enumerable: true, writable: true, configurable: true });
    else out[k] = value;
  }
  return out;
}
