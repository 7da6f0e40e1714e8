/**
 * The one schema library of the project (TypeBox): configuration sections of the node and the
 * options of every plugin are declared as JSON Schema with `Type`, checked with `checkSchema`,
 * and their errors read the same everywhere — the path of the setting, what is wrong, what
 * was given, and a hint saying what to put instead.
 *
 * Why TypeBox: its schemas ARE JSON Schema (plain objects), so the same declaration validates,
 * types the parsed value (`Static`), prints in `--print-config`/SHOW PLUGINS, and composes into
 * the JSON Schema an editor uses for the configuration file, with no conversion step; a plugin
 * written in plain JavaScript may even declare a JSON Schema literal.
 *
 * Annotations read by the error messages (ignored by JSON Schema tools):
 *   `title`  on an object: names its settings ("is not a node setting");
 *   `hint`   on any schema: what to do when a value fails it.
 */
import { Type, type Static, type TSchema } from 'typebox';
import { Value } from 'typebox/value';
import { DbError } from '../errors/index.ts';

export { Type };
export type { Static, TSchema };

/** A JSON Schema, as declared with `Type` or written literally. */
export type JsonSchema = TSchema | Readonly<Record<string, unknown>>;

interface SchemaError {
  readonly keyword: string;
  readonly schemaPath: string;
  readonly instancePath: string;
  readonly params: Readonly<Record<string, unknown>>;
  readonly message: string;
}

type Node = Readonly<Record<string, unknown>>;

/** The sub-schema at a JSON pointer ('#/properties/a/anyOf/0'). */
function at(schema: Node, pointer: string): Node {
  let cur: unknown = schema;
  for (const raw of pointer.replace(/^#\/?/, '').split('/')) {
    if (raw === '') continue;
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    cur = cur !== null && typeof cur === 'object' ? (cur as Record<string, unknown>)[key] : undefined;
  }
  return (cur !== null && typeof cur === 'object' ? cur : {}) as Node;
}

/** The value at a JSON pointer of the instance ('/namespaces/0/name'). */
function valueAt(value: unknown, pointer: string): unknown {
  let cur = value;
  for (const raw of pointer.split('/').slice(1)) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    cur = cur !== null && typeof cur === 'object' ? (cur as Record<string, unknown>)[key] : undefined;
  }
  return cur;
}

/** '/namespaces/0/name' under 'config' → 'config namespaces[0].name'. */
function settingPath(where: string, pointer: string): string {
  let out = '';
  for (const raw of pointer.split('/').slice(1)) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(key) ? `[${key}]` : out === '' ? key : `.${key}`;
  }
  if (where === '') return out;
  if (out === '') return where.trimEnd();
  if (where.endsWith(' ')) return `${where}${out}`;
  if (out.startsWith('[')) return `${where}${out}`;
  // 'config' + 'node.port' → 'config node.port'; 'config cluster' + 'seeds' → 'config cluster.seeds'
  return where === 'config' ? `${where} ${out}` : `${where}.${out}`;
}

function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (typeof v === 'bigint') return v.toString();
  const s = JSON.stringify(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function typeWords(t: unknown): string {
  const words: Record<string, string> = {
    integer: 'an integer', number: 'a number', string: 'a string', boolean: 'true or false',
    object: 'an object', array: 'a list', null: 'null',
  };
  const list = Array.isArray(t) ? t : [t];
  return list.map((x) => words[String(x)] ?? String(x)).join(' or ');
}

/** "an integer from 1 to 10" / "a number of at least 0" for a numeric schema. */
function numberWords(s: Node): string {
  const kind = s['type'] === 'integer' ? 'an integer' : 'a number';
  const min = s['minimum'] ?? (s['exclusiveMinimum'] === undefined ? undefined : `more than ${String(s['exclusiveMinimum'])}`);
  const max = s['maximum'];
  if (typeof s['minimum'] === 'number' && typeof max === 'number') return `${kind} from ${s['minimum']} to ${max}`;
  if (min !== undefined) return typeof min === 'number' ? `${kind} of at least ${min}` : `${kind} ${min}`;
  if (typeof max === 'number') return `${kind} of at most ${max}`;
  return kind;
}

/** What a value must be, in words, from its schema. */
function expectation(s: Node): string {
  if (s['type'] === 'integer' || s['type'] === 'number') return numberWords(s);
  if (Array.isArray(s['enum'])) return `one of ${(s['enum'] as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
  if ('const' in s) return JSON.stringify(s['const']);
  if (s['type'] === 'string') {
    if (typeof s['minLength'] === 'number' && s['minLength'] > 0 && s['maxLength'] === undefined && s['pattern'] === undefined) return 'a non-empty string';
    return 'a string';
  }
  if (Array.isArray(s['anyOf'])) return (s['anyOf'] as Node[]).map(expectation).join(' or ');
  return typeWords(s['type'] ?? 'a valid value');
}

function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

/** The error a user should read first: the deepest path, then the earliest in the schema. */
function pick(errors: readonly SchemaError[], root: Node, value: unknown): SchemaError | undefined {
  const useful = errors.filter((e) => !(e.keyword === 'boolean' && e.message === 'schema is false'));
  // A value that fails every branch of an anyOf: when exactly one branch is of the value's type
  // (an object for { ... } | null), its errors say more than "must be an object or null".
  for (const e of useful) {
    if (e.keyword !== 'anyOf') continue;
    const branches = (at(root, e.schemaPath)['anyOf'] ?? []) as Node[];
    const t = jsonType(valueAt(value, e.instancePath));
    const same = branches.map((b, k) => ({ b, k })).filter(({ b }) => b['type'] === t || (t === 'integer' && b['type'] === 'number'));
    if (same.length !== 1 || t !== 'object') continue;
    const prefix = `${e.schemaPath}/anyOf/${(same[0] as { k: number }).k}`;
    const inner = useful.filter((x) => x.schemaPath === prefix || x.schemaPath.startsWith(`${prefix}/`));
    const chosen = pick(inner.filter((x) => x.keyword !== 'anyOf' || x.schemaPath !== e.schemaPath), root, value);
    if (chosen !== undefined) return chosen;
  }
  let best: SchemaError | undefined;
  for (const e of useful) {
    if (best === undefined) { best = e; continue; }
    const depth = (x: SchemaError): number => x.instancePath.split('/').length;
    // an anyOf's own error is clearer than the error of one of its branches
    if (e.keyword === 'anyOf' && e.instancePath === best.instancePath) { best = e; continue; }
    if (depth(e) > depth(best) && !(best.keyword === 'anyOf' && e.instancePath.startsWith(best.instancePath))) best = e;
  }
  return best;
}

/**
 * Checks `value` against `schema`; throws a PARAMETER DbError naming the setting (`where` is
 * the prefix, e.g. 'config' or 'plugin storage-x options'), what it must be, and a hint.
 */
export function checkSchema(schema: JsonSchema, value: unknown, where: string, extra: { plugin?: string } = {}): void {
  const root = schema as Node;
  if (Value.Check(root as TSchema, value)) return;
  const errors = [...Value.Errors(root as TSchema, value)] as unknown as SchemaError[];
  const e = pick(errors, root, value);
  const fail = (path: string, message: string, hint: string | undefined): never => {
    throw new DbError('PARAMETER', `${path}: ${message}`, { ...(hint === undefined ? {} : { hint }), ...(extra.plugin === undefined ? {} : { plugin: extra.plugin }) });
  };
  if (e === undefined) fail(where, 'is not valid', undefined);
  const err = e as SchemaError;
  const sub = at(root, err.schemaPath);
  const given = valueAt(value, err.instancePath);
  const hint = typeof sub['hint'] === 'string' ? sub['hint'] : undefined;
  switch (err.keyword) {
    case 'additionalProperties': {
      const extraKeys = (err.params['additionalProperties'] as string[] | undefined) ?? [];
      const key = extraKeys[0] ?? '?';
      const title = typeof sub['title'] === 'string' ? `${/^[aeiou]/.test(sub['title']) ? 'an' : 'a'} ${sub['title']} setting` : 'a known setting';
      const known = Object.keys((sub['properties'] ?? {}) as Node);
      return fail(settingPath(where, `${err.instancePath}/${key}`), `is not ${title}`, `known settings: ${known.join(', ') || '(none)'}`);
    }
    case 'required': {
      const missing = ((err.params['requiredProperties'] as string[] | undefined) ?? [])[0] ?? '?';
      const prop = at(sub, `#/properties/${missing}`);
      const propHint = typeof prop['hint'] === 'string' ? prop['hint'] : typeof prop['description'] === 'string' ? prop['description'] : undefined;
      return fail(settingPath(where, `${err.instancePath}/${missing}`), `is required (${expectation(prop)})`, propHint ?? hint);
    }
    case 'minItems':
      return fail(settingPath(where, err.instancePath), `must have at least ${String(sub['minItems'])} entr${sub['minItems'] === 1 ? 'y' : 'ies'}`, hint ?? 'add entries');
    case 'maxItems':
      return fail(settingPath(where, err.instancePath), `must have at most ${String(sub['maxItems'])} entries`, hint ?? 'remove entries');
    case 'pattern':
      return fail(settingPath(where, err.instancePath), `${show(given)} is not valid here (it must match ${String(sub['pattern'])})`, hint ?? (typeof sub['description'] === 'string' ? `give ${sub['description']}` : 'see the documentation of this setting'));
    case 'anyOf':
    case 'oneOf':
      return fail(settingPath(where, err.instancePath), `must be ${expectation(sub)}, got ${show(given)}`, hint ?? `give ${expectation(sub)}`);
    default:
      return fail(settingPath(where, err.instancePath), `must be ${expectation(sub)}, got ${show(given)}`,
        hint ?? `give ${expectation(sub)}${sub['default'] !== undefined ? `, or remove it to use the default (${show(sub['default'])})` : ''}`);
  }
}

/** A copy of `value` with the schema's defaults filled in (the value itself is not changed). */
export function withDefaults<T>(schema: JsonSchema, value: unknown): T {
  return Value.Default(schema as TSchema, Value.Clone(value)) as T;
}

/** Checks and fills defaults: the parsed, typed value. */
export function parseWithSchema<S extends TSchema>(schema: S, value: unknown, where: string, extra: { plugin?: string } = {}): Static<S> {
  checkSchema(schema, value, where, extra);
  return withDefaults<Static<S>>(schema, value);
}

/** True when `schema` looks like a JSON Schema object (for checking what a plugin declares). */
export function isJsonSchema(schema: unknown): schema is JsonSchema {
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) return false;
  try {
    Value.Check(schema as TSchema, {});
    return true;
  } catch {
    return false;
  }
}
