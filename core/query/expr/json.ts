import { DbError } from '../../errors/index.ts';
import { GeoJson, Hll, parseHll, type BinValue, type MapKey, type ValueType } from '../../model/index.ts';

/** The value types a list, map, bit or HLL call may declare. */
const VALUE_TYPES: readonly ValueType[] = ['nil', 'integer', 'double', 'string', 'boolean', 'bytes', 'geojson', 'list', 'map', 'hll'];
import { FUNCTION_NAMES, USER_KEY_TYPES, cdtModify, cdtRead, type ArithOp, type CompareOp, type ElemSource, type Expr, type FunctionName, type MetaField, type UserKeyType } from './ast.ts';
import { FUNCTION_ARITY } from './functions.ts';
import { compileRegex } from './regex.ts';
import { ARG_FIELDS, cdtOpFromJson, cdtOpToJson, type CdtArgField } from './cdt-call.ts';

/**
 * JSON form of expressions, so they travel in gRPC (as a string field) and in any language.
 * Values are tagged where JSON cannot tell them apart:
 *   integer {"int":"123"} · double {"double":1.5} (or a plain JSON number with a fraction)
 *   string "abc" · boolean · null · bytes {"bytes":"<base64>"} · GeoJSON {"geo":"<text>"}
 *   list {"list":[…]} · map {"map":[[k,v],…]}
 * A plain JSON integer is read as an integer, which is what users mean.
 */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };

export function valueToJson(v: BinValue): JsonValue {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return v;
  if (typeof v === 'bigint') return { int: v.toString() };
  if (typeof v === 'number') return Number.isFinite(v) && !Object.is(v, -0) ? { double: v } : { double: Object.is(v, -0) ? '-0' : String(v) };
  if (v instanceof Uint8Array) return { bytes: Buffer.from(v).toString('base64') };
  if (v instanceof GeoJson) return { geo: v.text };
  if (v instanceof Hll) return { hll: Buffer.from(v.bytes).toString('base64') };
  if (Array.isArray(v)) return { list: (v as readonly BinValue[]).map(valueToJson) };
  return { map: [...(v as ReadonlyMap<MapKey, BinValue>)].map(([k, x]) => [valueToJson(k), valueToJson(x)]) };
}

function bad(message: string, hint = 'see docs/queries.md for the JSON form of filter expressions'): DbError {
  return new DbError('PARAMETER', `bad filter expression: ${message}`, { hint });
}

/** Literals nest at most this deep (stored values nest at most MAX_VALUE_DEPTH). */
const MAX_LITERAL_DEPTH = 64;

export function valueFromJson(j: unknown, path = 'value', depth = 0): BinValue {
  if (j === null || typeof j === 'boolean' || typeof j === 'string') return j;
  if (depth > MAX_LITERAL_DEPTH) throw bad(`${path.length > 80 ? `${path.slice(0, 40)}…${path.slice(-40)}` : path} nests deeper than ${MAX_LITERAL_DEPTH} levels`, 'Flatten the literal; stored values nest at most 24 levels');
  if (typeof j === 'number') return Number.isInteger(j) ? BigInt(j) : j;
  if (Array.isArray(j)) return j.map((x, i) => valueFromJson(x, `${path}[${i}]`, depth + 1));
  if (typeof j === 'object') {
    const o = j as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length !== 1) throw bad(`${path} must be a tagged value like {"int":"1"}`);
    const tag = keys[0] as string;
    const x = o[tag];
    switch (tag) {
      case 'int':
        if ((typeof x === 'string' && /^-?\d+$/.test(x)) || (typeof x === 'number' && Number.isInteger(x))) return BigInt(x);
        throw bad(`${path}.int must be an integer or its decimal string`);
      case 'double':
        if (typeof x === 'number') return x;
        if (x === 'NaN' || x === 'Infinity' || x === '-Infinity' || x === '-0') return Number(x);
        throw bad(`${path}.double must be a number`);
      case 'bytes':
        if (typeof x === 'string') return new Uint8Array(Buffer.from(x, 'base64'));
        throw bad(`${path}.bytes must be base64 text`);
      case 'geo':
        if (typeof x === 'string') return new GeoJson(x);
        throw bad(`${path}.geo must be GeoJSON text`);
      case 'hll':
        if (typeof x === 'string') return parseHll(new Uint8Array(Buffer.from(x, 'base64')), `${path}.hll`);
        throw bad(`${path}.hll must be base64 text of an HLL`);
      case 'list':
        if (Array.isArray(x)) return x.map((y, i) => valueFromJson(y, `${path}.list[${i}]`, depth + 1));
        throw bad(`${path}.list must be an array`);
      case 'map': {
        if (!Array.isArray(x)) throw bad(`${path}.map must be an array of [key, value] pairs`);
        const m = new Map<MapKey, BinValue>();
        x.forEach((pair, i) => {
          if (!Array.isArray(pair) || pair.length !== 2) throw bad(`${path}.map[${i}] must be [key, value]`);
          const k = valueFromJson(pair[0], `${path}.map[${i}][0]`, depth + 1);
          if (typeof k !== 'string' && typeof k !== 'bigint' && typeof k !== 'number') throw bad(`${path}.map[${i}] key must be a string or number`);
          m.set(k, valueFromJson(pair[1], `${path}.map[${i}][1]`, depth + 1));
        });
        return m;
      }
      default:
        throw bad(`${path} has unknown tag ${JSON.stringify(tag)}`);
    }
  }
  throw bad(`${path} is not a JSON value`);
}

/** The expression as JSON-ready data. */
export function exprToJson(e: Expr): JsonValue {
  switch (e.kind) {
    case 'lit': return { kind: 'lit', value: valueToJson(e.value) };
    case 'bin': case 'binExists': case 'binType': return { kind: e.kind, name: e.name };
    case 'meta': return { kind: 'meta', field: e.field };
    case 'digestModulo': return { kind: 'digestModulo', modulus: e.modulus };
    case 'userKey': return { kind: 'userKey', type: e.type };
    case 'unknown': return { kind: 'unknown' };
    case 'cmp': case 'arith': return { kind: e.kind, op: e.op, left: exprToJson(e.left), right: exprToJson(e.right) };
    case 'and': case 'or': return { kind: e.kind, args: e.args.map(exprToJson) };
    case 'fn': return { kind: 'fn', name: e.name, args: e.args.map(exprToJson) };
    case 'not': case 'neg': case 'size': return { kind: e.kind, arg: exprToJson(e.arg) };
    case 'get': return { kind: 'get', source: exprToJson(e.source), key: exprToJson(e.key) };
    case 'elem': return { kind: 'elem' };
    case 'anyElem': return { kind: 'anyElem', of: e.of, source: exprToJson(e.source), where: exprToJson(e.where) };
    case 'in': return { kind: 'in', value: exprToJson(e.value), options: e.options.map(exprToJson) };
    case 'regex': return { kind: 'regex', arg: exprToJson(e.arg), pattern: e.pattern, flags: e.flags };
    case 'geo': return { kind: 'geo', op: e.op, left: exprToJson(e.left), region: exprToJson(e.region) };
    case 'cond': return { kind: 'cond', branches: e.branches.map((b) => ({ when: exprToJson(b.when), then: exprToJson(b.then) })), otherwise: exprToJson(e.otherwise) };
    case 'let': return { kind: 'let', defs: e.defs.map((d) => ({ name: d.name, value: exprToJson(d.value) })), body: exprToJson(e.body) };
    case 'var': return { kind: 'var', name: e.name };
    case 'cdtRead': case 'cdtModify': {
      const out: { [k: string]: JsonValue } = { kind: e.kind, source: exprToJson(e.source), op: cdtOpToJson(e.op, valueToJson) };
      if (e.args !== undefined && e.args.length > 0) out['args'] = e.args.map((a) => ({ field: a.field, value: exprToJson(a.value) }));
      if (e.type !== undefined) out['type'] = e.type;
      return out;
    }
  }
}

export function exprToJsonText(e: Expr): string {
  return JSON.stringify(exprToJson(e));
}

const COMPARE_OPS: readonly string[] = ['=', '!=', '<', '<=', '>', '>='];
const ARITH_OPS: readonly string[] = ['+', '-', '*', '/', '%'];
const META_FIELDS: readonly string[] = ['ttl', 'voidTime', 'generation', 'lastUpdate', 'sinceUpdate', 'setName', 'keyExists', 'recordSize'];
const ELEM_SOURCES: readonly string[] = ['list', 'mapkeys', 'mapvalues'];

function str(o: Record<string, unknown>, k: string, path: string): string {
  const v = o[k];
  if (typeof v !== 'string') throw bad(`${path}.${k} must be a string`);
  return v;
}

/** Reads and checks an expression from JSON data; throws PARAMETER naming the bad spot. */
export function exprFromJson(j: unknown, path = 'expr', depth = 0, scope: ReadonlySet<string> = new Set()): Expr {
  if (depth > 200) throw bad(`${path} nests too deeply`);
  if (typeof j !== 'object' || j === null || Array.isArray(j)) throw bad(`${path} must be an object with a "kind"`);
  const o = j as Record<string, unknown>;
  const sub = (k: string): Expr => exprFromJson(o[k], `${path}.${k}`, depth + 1, scope);
  const list = (k: string): Expr[] => {
    const v = o[k];
    if (!Array.isArray(v)) throw bad(`${path}.${k} must be an array`);
    return v.map((x, i) => exprFromJson(x, `${path}.${k}[${i}]`, depth + 1, scope));
  };
  const kind = o.kind;
  switch (kind) {
    case 'lit': return { kind, value: valueFromJson(o.value, `${path}.value`) };
    case 'bin': case 'binExists': case 'binType': return { kind, name: str(o, 'name', path) };
    case 'meta': {
      const f = str(o, 'field', path);
      if (!META_FIELDS.includes(f)) throw bad(`${path}.field must be one of ${META_FIELDS.join(', ')}`);
      return { kind, field: f as MetaField };
    }
    case 'userKey': {
      const t = str(o, 'type', path);
      if (!(USER_KEY_TYPES as readonly string[]).includes(t)) throw bad(`${path}.type must be one of ${USER_KEY_TYPES.join(', ')}`);
      return { kind, type: t as UserKeyType };
    }
    case 'unknown': return { kind };
    case 'digestModulo': {
      const m = o.modulus;
      if (typeof m !== 'number' || !Number.isInteger(m) || m < 1) throw bad(`${path}.modulus must be a positive integer`);
      return { kind, modulus: m };
    }
    case 'cmp': {
      const op = str(o, 'op', path);
      if (!COMPARE_OPS.includes(op)) throw bad(`${path}.op must be one of ${COMPARE_OPS.join(' ')}`);
      return { kind, op: op as CompareOp, left: sub('left'), right: sub('right') };
    }
    case 'arith': {
      const op = str(o, 'op', path);
      if (!ARITH_OPS.includes(op)) throw bad(`${path}.op must be one of ${ARITH_OPS.join(' ')}`);
      return { kind, op: op as ArithOp, left: sub('left'), right: sub('right') };
    }
    case 'and': case 'or': {
      const args = list('args');
      if (args.length === 0) throw bad(`${path}.args must not be empty`);
      return { kind, args };
    }
    case 'not': case 'neg': case 'size': return { kind, arg: sub('arg') };
    case 'fn': {
      const name = str(o, 'name', path);
      if (!(FUNCTION_NAMES as readonly string[]).includes(name)) throw bad(`${path}.name must be one of ${FUNCTION_NAMES.join(' ')}`);
      const fname = name as FunctionName;
      const args = list('args');
      const [min, max] = FUNCTION_ARITY[fname];
      if (args.length < min || args.length > max) throw bad(`${path}: ${fname} takes ${min === max ? min : max === Infinity ? `at least ${min}` : `${min} to ${max}`} argument${max === 1 ? '' : 's'}, got ${args.length}`);
      return { kind, name: fname, args };
    }
    case 'get': return { kind, source: sub('source'), key: sub('key') };
    case 'elem': return { kind };
    case 'anyElem': {
      const of = str(o, 'of', path);
      if (!ELEM_SOURCES.includes(of)) throw bad(`${path}.of must be one of ${ELEM_SOURCES.join(', ')}`);
      return { kind, of: of as ElemSource, source: sub('source'), where: sub('where') };
    }
    case 'in': return { kind, value: sub('value'), options: list('options') };
    case 'regex': {
      const flags = typeof o.flags === 'string' ? o.flags : '';
      if (!/^[imsu]*$/.test(flags)) throw bad(`${path}.flags may only use i, m, s, u`);
      const pattern = str(o, 'pattern', path);
      try {
        compileRegex(pattern, flags);
      } catch (err) {
        throw bad(`${path}.pattern: ${(err as Error).message}`, err instanceof DbError ? err.hint : undefined);
      }
      return { kind, arg: sub('arg'), pattern, flags };
    }
    case 'geo': {
      const op = str(o, 'op', path);
      if (op !== 'within' && op !== 'contains') throw bad(`${path}.op must be "within" or "contains"`);
      return { kind, op, left: sub('left'), region: sub('region') };
    }
    case 'cond': {
      const b = o.branches;
      if (!Array.isArray(b) || b.length === 0) throw bad(`${path}.branches must be a non-empty array of {when, then}`);
      const branches = b.map((x, i) => {
        if (typeof x !== 'object' || x === null) throw bad(`${path}.branches[${i}] must be {when, then}`);
        const bo = x as Record<string, unknown>;
        return { when: exprFromJson(bo.when, `${path}.branches[${i}].when`, depth + 1, scope), then: exprFromJson(bo.then, `${path}.branches[${i}].then`, depth + 1, scope) };
      });
      return { kind, branches, otherwise: sub('otherwise') };
    }
    case 'let': {
      const d = o.defs;
      if (!Array.isArray(d) || d.length === 0) throw bad(`${path}.defs must be a non-empty array of {name, value}`);
      const inner = new Set(scope);
      const defs = d.map((x, i) => {
        if (typeof x !== 'object' || x === null) throw bad(`${path}.defs[${i}] must be {name, value}`);
        const name = str(x as Record<string, unknown>, 'name', `${path}.defs[${i}]`);
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw bad(`${path}.defs[${i}].name must be an identifier`);
        const value = exprFromJson((x as Record<string, unknown>).value, `${path}.defs[${i}].value`, depth + 1, inner);
        inner.add(name);
        return { name, value };
      });
      return { kind, defs, body: exprFromJson(o.body, `${path}.body`, depth + 1, inner) };
    }
    case 'cdtRead': case 'cdtModify': {
      const args: Array<{ field: CdtArgField; value: Expr }> = [];
      if (o.args !== undefined) {
        if (!Array.isArray(o.args)) throw bad(`${path}.args must be an array of {field, value}`);
        o.args.forEach((a: unknown, i: number) => {
          const ao = (typeof a === 'object' && a !== null ? a : {}) as Record<string, unknown>;
          const field = ao.field;
          if (typeof field !== 'string' || !ARG_FIELDS.includes(field)) throw bad(`${path}.args[${i}].field must be one of ${ARG_FIELDS.join(', ')}`);
          if (args.some((x) => x.field === field)) throw bad(`${path}.args[${i}]: field ${field} is given twice`);
          args.push({ field: field as CdtArgField, value: exprFromJson(ao.value, `${path}.args[${i}].value`, depth + 1, scope) });
        });
      }
      const op = cdtOpFromJson(o.op, `${path}.op`, (x: unknown, p: string) => valueFromJson(x, p), kind === 'cdtModify', args.map((a) => a.field));
      let type: ValueType | undefined;
      if (o.type !== undefined) {
        if (typeof o.type !== 'string' || !(VALUE_TYPES as readonly string[]).includes(o.type)) throw bad(`${path}.type must be one of ${VALUE_TYPES.join(', ')}`);
        type = o.type as ValueType;
      }
      return (kind === 'cdtModify' ? cdtModify : cdtRead)(sub('source'), op, args, type);
    }
    case 'var': {
      const name = str(o, 'name', path);
      if (!scope.has(name)) throw bad(`${path}: variable ${JSON.stringify(name)} is not bound by an enclosing let`);
      return { kind, name };
    }
    default:
      throw bad(`${path}.kind ${JSON.stringify(kind)} is unknown`);
  }
}

export function exprFromJsonText(text: string): Expr {
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch (err) {
    throw bad(`not valid JSON: ${(err as Error).message}`);
  }
  return exprFromJson(j);
}
