/**
 * Bin values as aql prints them: table/raw cells (asql_val_str) and JSON-mode values.
 */
import { GeoJson, Hll, type BinValue, type MapKey } from '../../../model/index.ts';

/** C's %.<p>g. */
export function formatG(v: number, p = 16): string {
  if (Number.isNaN(v)) return 'nan';
  if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  const [mant, expText] = v.toExponential(p - 1).split('e') as [string, string];
  const exp = Number(expText);
  const strip = (s: string): string => (s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s);
  if (exp < -4 || exp >= p) return `${strip(mant)}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  return strip(v.toFixed(Math.max(0, p - 1 - exp)));
}

function hexBytes(b: Uint8Array): string {
  return [...b].map((x) => x.toString(16).toUpperCase().padStart(2, '0')).join(' ');
}

/** The inside text of a value as aerospike-common's tostring writes it (strings in "…"). */
function inner(v: BinValue | MapKey): string {
  if (v === null) return 'NIL';
  switch (typeof v) {
    case 'string': return `"${v}"`;
    case 'bigint': return v.toString();
    case 'number': return formatG(v);
    case 'boolean': return v ? 'true' : 'false';
  }
  if (v instanceof Uint8Array) return hexBytes(v);
  if (v instanceof Hll) return hexBytes(v.bytes);
  if (v instanceof GeoJson) return v.text;
  if (Array.isArray(v)) return `[${(v as readonly BinValue[]).map(inner).join(', ')}]`;
  return `{${[...(v as ReadonlyMap<MapKey, BinValue>)].map(([k, x]) => `${inner(k)}:${inner(x)}`).join(', ')}}`;
}

/** A table or raw cell. `types`: wrap lists, maps and GeoJSON as LIST('…'), MAP('…'), GeoJSON('…'). */
export function cellText(v: BinValue | undefined, types = true): string {
  if (v === undefined || v === null) return '';
  if (v instanceof GeoJson) return types ? `GeoJSON('${v.text}')` : v.text;
  if (Array.isArray(v)) return types ? `LIST('${inner(v)}')` : inner(v);
  if (v instanceof Map) return types ? `MAP('${inner(v)}')` : inner(v);
  return inner(v);
}

function jsonString(s: string): string {
  return JSON.stringify(s);
}

/** A value as JSON text, pretty-printed like jansson's JSON_INDENT(2) at `depth`. */
export function jsonValue(v: BinValue | undefined, depth: number): string {
  if (v === undefined || v === null) return 'null';
  switch (typeof v) {
    case 'string': return jsonString(v);
    case 'bigint': return v.toString();
    case 'number': {
      if (!Number.isFinite(v)) return 'null';
      const s = String(v);
      return /[.eE]/.test(s) ? s : `${s}.0`;
    }
    case 'boolean': return v ? 'true' : 'false';
  }
  if (v instanceof Uint8Array) return jsonString(hexBytes(v));
  if (v instanceof Hll) return jsonString(hexBytes(v.bytes));
  if (v instanceof GeoJson) return jsonString(v.text);
  const pad = ' '.repeat(2 * (depth + 1));
  const end = ' '.repeat(2 * depth);
  if (Array.isArray(v)) {
    const items = (v as readonly BinValue[]).map((x) => `${pad}${jsonValue(x, depth + 1)}`);
    return items.length === 0 ? '[]' : `[\n${items.join(',\n')}\n${end}]`;
  }
  const entries = [...(v as ReadonlyMap<MapKey, BinValue>)].map(([k, x]) => `${pad}${jsonString(typeof k === 'string' ? k : typeof k === 'number' ? formatG(k) : k.toString())}: ${jsonValue(x, depth + 1)}`);
  return entries.length === 0 ? '{}' : `{\n${entries.join(',\n')}\n${end}}`;
}

/** A row as a JSON object (keys in order) at `depth`. */
export function jsonObject(cells: ReadonlyArray<readonly [string, BinValue]>, depth: number): string {
  return jsonValue(new Map(cells), depth);
}
