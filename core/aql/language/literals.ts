/**
 * AQL's typed literals: JSON text to bin values (64-bit integers exact), the type constructors of
 * `CAST(v AS T)` / `T(v)`, and bin values back to JSON text for the printer.
 */
import { DbError } from '../../errors/index.ts';
import { GeoJson, INT64_MAX, INT64_MIN, parseGeoJson, type BinValue, type MapKey } from '../../model/index.ts';

/**
 * Parses JSON text to a bin value: integers become bigint (exact, 64-bit checked), reals
 * number, arrays lists, objects Maps in source order (JSON.parse would reorder integer-like keys).
 */
export function jsonToValue(text: string): BinValue {
  let i = 0;
  const fail = (what: string): never => {
    throw new DbError('PARAMETER', `${what} at position ${i + 1} of the JSON text`);
  };
  const ws = (): void => { while (i < text.length && ' \t\n\r'.includes(text[i] as string)) i++; };
  const str = (): string => {
    const m = /^"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/.exec(text.slice(i));
    if (m === null) return fail('bad string');
    i += m[0].length;
    return JSON.parse(m[0]) as string;
  };
  const val = (): BinValue => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const m = new Map<MapKey, BinValue>();
      ws();
      if (text[i] === '}') { i++; return m; }
      for (;;) {
        ws();
        if (text[i] !== '"') fail('expected a "key"');
        const k = str();
        ws();
        if (text[i] !== ':') fail("expected ':'");
        i++;
        m.set(k, val());
        ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === '}') { i++; return m; }
        return fail("expected ',' or '}'");
      }
    }
    if (c === '[') {
      i++;
      const a: BinValue[] = [];
      ws();
      if (text[i] === ']') { i++; return a; }
      for (;;) {
        a.push(val());
        ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === ']') { i++; return a; }
        return fail("expected ',' or ']'");
      }
    }
    if (c === '"') return str();
    const lit = /^(?:true|false|null)/.exec(text.slice(i));
    if (lit !== null) { i += lit[0].length; return lit[0] === 'null' ? null : lit[0] === 'true'; }
    const num = /^-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i));
    if (num === null) return fail(i >= text.length ? 'unexpected end' : `unexpected '${c}'`);
    i += num[0].length;
    if (num[1] === undefined && num[2] === undefined) {
      const n = BigInt(num[0]);
      if (n < INT64_MIN || n > INT64_MAX) throw new DbError('PARAMETER', `integer ${num[0]} is outside the 64-bit signed range`);
      return n;
    }
    return Number(num[0]);
  };
  const v = val();
  ws();
  if (i < text.length) fail('unexpected text after the value');
  return v;
}

/** A double as AQL/JSON text that reads back as a double (always has '.' or an exponent). */
export function doubleText(v: number): string {
  const s = String(v);
  if (/[.eE]/.test(s) || !Number.isFinite(v)) return s;
  return Object.is(v, -0) ? '-0.0' : `${s}.0`;
}

/** JSON text of a value (the inside of LIST('…') / MAP('…')). Returns null if JSON cannot express it. */
export function valueToJson(v: BinValue): string | null {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'bigint': return v.toString();
    case 'number': return Number.isFinite(v) ? doubleText(v) : null;
    case 'string': return JSON.stringify(v);
    case 'boolean': return v ? 'true' : 'false';
  }
  if (v instanceof Uint8Array || v instanceof GeoJson) return null;
  if (Array.isArray(v)) {
    const parts: string[] = [];
    for (const x of v as readonly BinValue[]) { const j = valueToJson(x); if (j === null) return null; parts.push(j); }
    return `[${parts.join(', ')}]`;
  }
  const parts: string[] = [];
  for (const [k, x] of v as ReadonlyMap<MapKey, BinValue>) {
    if (typeof k !== 'string') return null;
    const j = valueToJson(x);
    if (j === null) return null;
    parts.push(`${JSON.stringify(k)}: ${j}`);
  }
  return `{${parts.join(', ')}}`;
}

export const TYPE_NAMES: Readonly<Record<string, string>> = {
  INT: 'int', INTEGER: 'int', DECIMAL: 'int', NUMERIC: 'int',
  FLOAT: 'double', REAL: 'double', DOUBLE: 'double',
  CHAR: 'string', STRING: 'string', TEXT: 'string', VARCHAR: 'string',
  JSON: 'json', LIST: 'list', MAP: 'map', GEOJSON: 'geojson',
  BOOL: 'bool', BOOLEAN: 'bool', BYTES: 'bytes', BLOB: 'bytes',
};

export function isTypeName(name: string): boolean {
  return Object.hasOwn(TYPE_NAMES, name.toUpperCase());
}

function castError(v: BinValue, type: string, why?: string): DbError {
  const shown = typeof v === 'bigint' ? v.toString() : JSON.stringify(typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? v : String(v));
  return new DbError('PARAMETER', `Cannot cast ${shown} to ${type.toLowerCase()}${why === undefined ? '' : `: ${why}`}`, {
    hint: `see HELP for the literal forms, e.g. ${type}('…')`,
  });
}

function stringOf(v: BinValue): string | null {
  if (typeof v === 'string') return v;
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') return doubleText(v);
  if (typeof v === 'boolean') return String(v);
  return null;
}

/** Applies a type constructor (`CAST(v AS T)` / `T(v)`) to a literal value. Throws DbError. */
export function castValue(type: string, v: BinValue): BinValue {
  const T = type.toUpperCase();
  const kind = TYPE_NAMES[T];
  switch (kind) {
    case 'int': {
      if (typeof v === 'bigint') return v;
      if (typeof v === 'boolean') return v ? 1n : 0n;
      if (typeof v === 'number') {
        if (!Number.isFinite(v)) throw castError(v, T);
        return BigInt(Math.trunc(v));
      }
      if (typeof v === 'string') {
        const s = v.trim();
        if (!/^[+-]?(?:\d+|0[xX][0-9a-fA-F]+)$/.test(s)) throw castError(v, T);
        const neg = s.startsWith('-');
        const body = s.replace(/^[+-]/, '');
        const n = neg ? -BigInt(body) : BigInt(body);
        if (n < INT64_MIN || n > INT64_MAX) throw castError(v, T, 'outside the 64-bit signed range');
        return n;
      }
      throw castError(v, T);
    }
    case 'double': {
      if (typeof v === 'number') return v;
      if (typeof v === 'bigint') return Number(v);
      if (typeof v === 'string') {
        const s = v.trim();
        if (!/^[+-]?(?:Infinity|NaN|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)$/.test(s)) throw castError(v, T);
        return Number(s);
      }
      throw castError(v, T);
    }
    case 'string': {
      const s = stringOf(v);
      if (s === null) throw castError(v, T);
      return s;
    }
    case 'bool': {
      if (typeof v === 'boolean') return v;
      if (typeof v === 'bigint') return v !== 0n;
      if (typeof v === 'string') {
        const s = v.trim().toUpperCase();
        if (s === 'TRUE' || s === 'T' || s === '1') return true;
        if (s === 'FALSE' || s === 'F' || s === '0') return false;
      }
      throw castError(v, T);
    }
    case 'bytes': {
      if (v instanceof Uint8Array) return v;
      if (typeof v === 'string') {
        const s = v.replace(/\s+/g, '');
        if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) throw castError(v, T, 'give hex digits, two per byte');
        return new Uint8Array(Buffer.from(s, 'hex'));
      }
      throw castError(v, T);
    }
    case 'json': case 'list': case 'map': {
      if (typeof v !== 'string') {
        if (kind === 'list' && Array.isArray(v)) return v;
        if (kind === 'map' && v instanceof Map) return v;
        throw castError(v, T, 'give JSON text in quotes');
      }
      let parsed: BinValue;
      try {
        parsed = jsonToValue(v);
      } catch (err) {
        throw new DbError('PARAMETER', `Invalid ${T} value: ${v} (${(err as Error).message})`, { hint: `write ${T}('…') around valid JSON text` });
      }
      if (kind === 'list' && !Array.isArray(parsed)) throw new DbError('PARAMETER', `Invalid LIST value: ${v}`, { hint: "a LIST is a JSON array, e.g. LIST('[1, 2]')" });
      if (kind === 'map' && !(parsed instanceof Map)) throw new DbError('PARAMETER', `Invalid MAP value: ${v}`, { hint: "a MAP is a JSON object, e.g. MAP('{\"a\": 1}')" });
      return parsed;
    }
    case 'geojson': {
      if (v instanceof GeoJson) return v;
      if (typeof v !== 'string') throw castError(v, T, 'give GeoJSON text in quotes');
      return parseGeoJson(v);
    }
    default:
      throw new DbError('PARAMETER', `Unknown type ${type}`, { hint: `use one of ${Object.keys(TYPE_NAMES).join(', ')}` });
  }
}
