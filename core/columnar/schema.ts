/**
 * Column types for exporting bins to Arrow and Parquet: inferred from the values (or given
 * as JSON), and turned into Arrow types. Integers are Int64 (exact to 64 bits), doubles
 * Float64, strings Utf8, booleans Bool, bytes Binary, GeoJSON Utf8 (marked in the field's
 * metadata), lists Arrow lists, maps Arrow maps (or structs when a schema asks for them). A
 * bin whose values do not share one type is exported as text in the tagged JSON form of
 * filter expressions (type `json`, docs/columnar.md).
 */
import { Binary, Bool, Field, Float64, Int64, List, Map_, Schema, Struct, Utf8, type DataType } from 'apache-arrow';
import { DbError } from '../errors/index.ts';
import { GeoJson, Hll, type BinValue, type MapKey } from '../model/index.ts';

export type ScalarType = 'int64' | 'double' | 'string' | 'bool' | 'binary' | 'geojson' | 'json' | 'hll';
export type MapKeyType = 'int64' | 'double' | 'string';
export type ColumnType =
  | ScalarType
  | { readonly list: ColumnType }
  | { readonly map: { readonly key: MapKeyType; readonly value: ColumnType } }
  | { readonly struct: Readonly<Record<string, ColumnType>> };

/** A column: a bin (or a metadata column such as `_key`) and its type. */
export interface ColumnSpec {
  readonly name: string;
  readonly type: ColumnType;
}

/** Field metadata key recording the Slipstream type of a Utf8 column (geojson, json) or a Binary one (hll: Aerospike's HLL bytes). */
export const TYPE_METADATA = 'slipstream.type';

/** The column type of one value; undefined for nil (fits any column). */
export function typeOfValue(v: BinValue): ColumnType | undefined {
  if (v === null) return undefined;
  switch (typeof v) {
    case 'bigint': return 'int64';
    case 'number': return 'double';
    case 'string': return 'string';
    case 'boolean': return 'bool';
  }
  if (v instanceof Uint8Array) return 'binary';
  if (v instanceof GeoJson) return 'geojson';
  if (v instanceof Hll) return 'hll';
  if (Array.isArray(v)) {
    let item: ColumnType | undefined;
    for (const x of v as readonly BinValue[]) item = unify(item, typeOfValue(x));
    return { list: item ?? 'json' };
  }
  const m = v as ReadonlyMap<MapKey, BinValue>;
  let key: ColumnType | undefined;
  let value: ColumnType | undefined;
  for (const [k, x] of m) {
    key = unify(key, typeOfValue(k));
    value = unify(value, typeOfValue(x));
  }
  if (key !== undefined && key !== 'int64' && key !== 'double' && key !== 'string') return 'json';
  return { map: { key: (key ?? 'string') as MapKeyType, value: value ?? 'json' } };
}

/** The narrowest type holding values of both types: the same type, or `json`. */
export function unify(a: ColumnType | undefined, b: ColumnType | undefined): ColumnType | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  if (typeof a === 'string' || typeof b === 'string') return a === b ? a : 'json';
  if ('list' in a && 'list' in b) return { list: unify(a.list, b.list) ?? 'json' };
  if ('map' in a && 'map' in b) {
    if (a.map.key !== b.map.key) return 'json';
    return { map: { key: a.map.key, value: unify(a.map.value, b.map.value) ?? 'json' } };
  }
  if ('struct' in a && 'struct' in b && JSON.stringify(a) === JSON.stringify(b)) return a;
  return 'json';
}

/** Whether a value can be written to a column of this type (nil always can). */
export function fits(v: BinValue, t: ColumnType): boolean {
  if (v === null || t === 'json') return true;
  if (typeof t === 'string') return typeOfValue(v) === t;
  if ('list' in t) return Array.isArray(v) && (v as readonly BinValue[]).every((x) => fits(x, t.list));
  if (!(v instanceof Map)) return false;
  if ('map' in t) return [...(v as ReadonlyMap<MapKey, BinValue>)].every(([k, x]) => typeOfValue(k) === t.map.key && fits(x, t.map.value));
  return [...(v as ReadonlyMap<MapKey, BinValue>)].every(([k, x]) => typeof k === 'string' && k in t.struct && fits(x, t.struct[k] as ColumnType));
}

export function arrowType(t: ColumnType): DataType {
  if (typeof t === 'string') {
    switch (t) {
      case 'int64': return new Int64();
      case 'double': return new Float64();
      case 'bool': return new Bool();
      case 'binary': case 'hll': return new Binary();
      default: return new Utf8();
    }
  }
  if ('list' in t) return new List(arrowField('item', t.list));
  if ('map' in t) {
    const entries = new Struct([new Field('key', arrowType(t.map.key), false), arrowField('value', t.map.value)]);
    return new Map_(new Field('entries', entries, false) as Field<never>);
  }
  return new Struct(Object.entries(t.struct).map(([k, v]) => arrowField(k, v)));
}

export function arrowField(name: string, t: ColumnType): Field {
  const meta = t === 'geojson' || t === 'json' || t === 'hll' ? new Map([[TYPE_METADATA, t]]) : null;
  return new Field(name, arrowType(t), true, meta);
}

export function arrowSchema(columns: readonly ColumnSpec[]): Schema {
  return new Schema(columns.map((c) => arrowField(c.name, c.type)));
}

const SCALARS: readonly string[] = ['int64', 'double', 'string', 'bool', 'binary', 'geojson', 'json', 'hll'];

function badSchema(path: string, what: string): DbError {
  return new DbError('PARAMETER', `bad export schema at ${path}: ${what}`, {
    hint: 'a schema is {"columns":[{"name":"bin","type":T}]} with T one of int64, double, string, bool, binary, geojson, json, hll, {"list":T}, {"map":{"key":"string"|"int64"|"double","value":T}}, {"struct":{"field":T}} (docs/columnar.md)',
  });
}

function parseType(j: unknown, path: string): ColumnType {
  if (typeof j === 'string') {
    if (!SCALARS.includes(j)) throw badSchema(path, `unknown type '${j}'`);
    return j as ScalarType;
  }
  if (j === null || typeof j !== 'object' || Array.isArray(j)) throw badSchema(path, 'a type is a name or an object');
  const o = j as Record<string, unknown>;
  if ('list' in o) return { list: parseType(o['list'], `${path}.list`) };
  if ('map' in o) {
    const m = o['map'] as Record<string, unknown> | null;
    const key = m?.['key'];
    if (key !== 'string' && key !== 'int64' && key !== 'double') throw badSchema(`${path}.map.key`, 'map keys are string, int64 or double');
    return { map: { key, value: parseType(m?.['value'], `${path}.map.value`) } };
  }
  if ('struct' in o) {
    const s = o['struct'];
    if (s === null || typeof s !== 'object' || Array.isArray(s)) throw badSchema(`${path}.struct`, 'a struct is an object of field types');
    return { struct: Object.fromEntries(Object.entries(s).map(([k, v]) => [k, parseType(v, `${path}.struct.${k}`)])) };
  }
  throw badSchema(path, 'an object type has list, map or struct');
}

/** A schema given as JSON text: {"columns":[{"name":…,"type":…}]}. */
export function parseSchemaJson(text: string): ColumnSpec[] {
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch (err) {
    throw badSchema('$', `not JSON (${(err as Error).message})`);
  }
  const cols = (j as { columns?: unknown } | null)?.columns;
  if (!Array.isArray(cols) || cols.length === 0) throw badSchema('$.columns', 'give at least one column');
  return cols.map((c: unknown, i) => {
    const o = c as { name?: unknown; type?: unknown } | null;
    if (typeof o?.name !== 'string' || o.name === '') throw badSchema(`$.columns[${i}].name`, 'a column needs a name');
    return { name: o.name, type: parseType(o.type, `$.columns[${i}].type`) };
  });
}

export function schemaJson(columns: readonly ColumnSpec[]): string {
  return JSON.stringify({ columns });
}
