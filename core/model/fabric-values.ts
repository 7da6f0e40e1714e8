/**
 * Requests and results cross the cluster fabric in V8's structured-clone format, which keeps
 * plain data (bigint, number, strings, bytes, arrays, Maps, plain objects) but not what a bin
 * value carries beyond it: the class of a GeoJSON or HLL value and the order mark of an ordered list
 * or map (see container-order.ts). `toFabric` replaces each such value, wherever it sits in a
 * message, by its record-codec bytes in a tagged envelope, and `fromFabric` puts it back.
 */
import { encodeValue, decodeValue } from './record-codec.ts';
import { listOrder, mapOrder } from './container-order.ts';
import { GeoJson, Hll, type BinValue, type MapKey } from './values.ts';

/** The envelope's one property (a name no message field has). */
const TAG = '__slipstreamEncodedValue';

function needsCodec(v: unknown): boolean {
  if (v instanceof GeoJson || v instanceof Hll) return true;
  if (Array.isArray(v)) return listOrder(v as readonly BinValue[]) !== 'unordered';
  if (v instanceof Map) return mapOrder(v as ReadonlyMap<MapKey, BinValue>) !== 'unordered';
  return false;
}

/** `x` with every GeoJSON value and ordered container wrapped for the structured clone. */
export function toFabric(x: unknown): unknown {
  if (typeof x !== 'object' || x === null || ArrayBuffer.isView(x)) return x;
  if (needsCodec(x)) return { [TAG]: encodeValue(x as BinValue) };
  if (Array.isArray(x)) return x.map(toFabric);
  if (x instanceof Map) {
    const out = new Map<unknown, unknown>();
    for (const [k, v] of x) out.set(toFabric(k), toFabric(v));
    return out;
  }
  if (Object.getPrototypeOf(x) !== Object.prototype) return x;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(x)) out[k] = toFabric(v);
  return out;
}

/** The inverse of toFabric. */
export function fromFabric(x: unknown): unknown {
  if (typeof x !== 'object' || x === null || ArrayBuffer.isView(x)) return x;
  if (Array.isArray(x)) return x.map(fromFabric);
  if (x instanceof Map) {
    const out = new Map<unknown, unknown>();
    for (const [k, v] of x) out.set(fromFabric(k), fromFabric(v));
    return out;
  }
  if (Object.getPrototypeOf(x) !== Object.prototype) return x;
  const keys = Object.keys(x);
  if (keys.length === 1 && keys[0] === TAG) return decodeValue((x as Record<string, Uint8Array>)[TAG] as Uint8Array);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(x)) out[k] = fromFabric(v);
  return out;
}
