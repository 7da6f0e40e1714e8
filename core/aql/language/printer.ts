/**
 * AST → canonical AQL text. Keywords upper-case, names bare when they can be, values in their
 * canonical literal form. parse(print(ast)) gives back the same AST.
 */
import { GeoJson, type BinValue } from '../../model/index.ts';
import type { Expr, KeyRef, SelectStatement, Statement, Target, Where } from './ast.ts';
import { isKeyword, isReservedWord, SECURITY_KEYWORDS } from './lexer.ts';
import { doubleText, valueToJson } from './literals.ts';

const BARE = /^[A-Za-z_][A-Za-z0-9_:-]*$/;

/** A name as AQL text: bare, or in backticks when it is a keyword or not a plain identifier. */
export function printName(name: string): string {
  const up = name.toUpperCase();
  if (BARE.test(name) && (!isKeyword(name) || SECURITY_KEYWORDS.includes(up)) && up !== 'PK' && up !== 'DIGEST' && up !== 'EDIGEST') return name;
  if (!name.includes('`')) return `\`${name}\``;
  return printQuoted(name);
}

/** A privilege as aql spells it: name, name.ns or name.ns.set. */
function printPrivilege(p: string): string {
  return p.split('.').map(printName).join('.');
}

/** Text in quotes: '…' unless it holds a ', then "…". Returns null when it holds both. */
function quoteOrNull(s: string): string | null {
  if (!s.includes("'")) return `'${s}'`;
  if (!s.includes('"')) return `"${s}"`;
  return null;
}

function printQuoted(s: string): string {
  return quoteOrNull(s) ?? `\`${s}\``;
}

/** JSON text inside '…': a ' in the JSON becomes \u0027, which JSON reads back the same. */
function jsonArg(json: string): string {
  return `'${json.replace(/'/g, '\\u0027')}'`;
}

/** A bin value as an AQL literal. */
export function printValue(v: BinValue): string {
  if (v === null) return 'NULL';
  switch (typeof v) {
    case 'bigint': return v.toString();
    case 'number': return Number.isFinite(v) ? doubleText(v) : `FLOAT('${String(v)}')`;
    case 'boolean': return v ? 'TRUE' : 'FALSE';
    case 'string': return quoteOrNull(v) ?? `JSON(${jsonArg(JSON.stringify(v))})`;
  }
  if (v instanceof Uint8Array) return `BYTES('${Buffer.from(v).toString('hex').toUpperCase()}')`;
  if (v instanceof GeoJson) return `GEOJSON(${quoteOrNull(v.text) ?? jsonArg(v.text)})`;
  const json = valueToJson(v);
  if (json === null) throw new Error('this list or map cannot be written as an AQL literal (it holds bytes, GeoJSON, NaN or non-string map keys)');
  return `${Array.isArray(v) ? 'LIST' : 'MAP'}(${jsonArg(json)})`;
}

function target(t: Target): string {
  return t.set === null ? printName(t.namespace) : `${printName(t.namespace)}.${printName(t.set)}`;
}

function key(k: KeyRef): string {
  return k.kind === 'pk' ? `PK = ${printValue(k.value)}` : `DIGEST = '${k.hex.toUpperCase()}'`;
}

function where(w: Where): string {
  return w.kind === 'key' ? key(w.key) : printExpr(w.expr);
}

function prec(e: Expr): number {
  switch (e.kind) {
    case 'or': return 1;
    case 'and': return 2;
    case 'not': return 3;
    case 'compare': case 'between': case 'geo': return 4;
    case 'arith': return e.op === '+' || e.op === '-' ? 5 : 6;
    case 'neg': return 7;
    default: return 8;
  }
}

function sub(e: Expr, min: number): string {
  const s = printExpr(e);
  return prec(e) < min ? `(${s})` : s;
}

/** An expression as AQL text, with the parentheses its structure needs and no more. */
export function printExpr(e: Expr): string {
  switch (e.kind) {
    case 'literal': return printValue(e.value);
    case 'bin': return printName(e.name);
    case 'call': return `${e.name}(${e.args.map((a) => printExpr(a)).join(', ')})`;
    case 'compare': return `${sub(e.left, 5)} ${e.op} ${sub(e.right, 5)}`;
    case 'between': return `${sub(e.operand, 5)} BETWEEN ${sub(e.low, 5)} AND ${sub(e.high, 5)}`;
    case 'geo': return `${sub(e.operand, 5)} ${e.op} ${sub(e.region, 5)}`;
    case 'and': return e.operands.map((o) => sub(o, 3)).join(' AND ');
    case 'or': return e.operands.map((o) => sub(o, 2)).join(' OR ');
    case 'not': return `NOT ${sub(e.operand, 3)}`;
    case 'arith': {
      const p = prec(e);
      return `${sub(e.left, p)} ${e.op} ${sub(e.right, p + 1)}`;
    }
    case 'neg': return `-${sub(e.operand, 8)}`;
  }
}

function select(s: SelectStatement): string {
  const items = s.items === null ? '*' : s.items.map((i) => (i.kind === 'bin' ? printName(i.name) : `${i.fn}(${i.bin === null ? '*' : printName(i.bin)})`)).join(', ');
  let out = `SELECT ${items} FROM ${target(s.target)}`;
  if (s.in !== null) out += ` IN ${s.in}`;
  if (s.where !== null) out += ` WHERE ${where(s.where)}`;
  if (s.orderBy.length > 0) out += ` ORDER BY ${s.orderBy.map((o) => `${printName(o.bin)} ${o.direction}`).join(', ')}`;
  if (s.limit !== null) out += ` LIMIT ${s.limit}`;
  return out;
}

function udf(c: { module: string; fn: string; args: readonly BinValue[] }): string {
  return `${printName(c.module)}.${printName(c.fn)}(${c.args.map(printValue).join(', ')})`;
}

/** A statement as canonical AQL text (no trailing ';'). */
export function printStatement(s: Statement): string {
  switch (s.kind) {
    case 'select': return select(s);
    case 'insert':
      return `INSERT INTO ${target(s.target)} (PK, ${s.bins.map((b) => printName(b.name)).join(', ')}) VALUES (${printValue(s.key.kind === 'pk' ? s.key.value : null)}, ${s.bins.map((b) => printValue(b.value)).join(', ')})`;
    case 'update':
      return `UPDATE ${target(s.target)} SET ${s.bins.map((b) => `${printName(b.name)} = ${printValue(b.value)}`).join(', ')} WHERE ${key(s.key)}`;
    case 'delete': return `DELETE FROM ${target(s.target)} WHERE ${key(s.key)}`;
    case 'operate':
      return `OPERATE ${s.ops.map((o) => `${o.op}(${[...(o.bin === null ? [] : [printName(o.bin)]), ...o.args.map(printValue)].join(', ')})`
        + (o.policy === undefined ? '' : ` WITH_POLICY(${o.policy.join(', ')})`) + (o.returnType === undefined ? '' : ` WITH_RETURN(${o.returnType})`)).join(', ')} ON ${target(s.target)} WHERE ${key(s.key)}`;
    case 'truncate':
      return `TRUNCATE ${target(s.target)}${s.upto === null ? '' : ` UPTO ${typeof s.upto === 'bigint' ? s.upto.toString() : printQuoted(s.upto)}`}`;
    case 'explain': return `EXPLAIN ${select(s.statement)}`;
    case 'show': return `SHOW ${s.what}${s.namespace === null ? '' : ` ${printName(s.namespace)}`}`;
    case 'stat':
      if (s.what === 'SYSTEM') return 'STAT SYSTEM';
      if (s.what === 'NAMESPACE') return `STAT NAMESPACE ${printName(s.namespace)}`;
      return `STAT INDEX ${printName(s.namespace)} ${printName(s.index)}`;
    // a setting path's parts may be soft keywords (namespaces): only reserved words need quotes there
    case 'set-config': return `SET CONFIG ${s.name.split('.').map((p) => (BARE.test(p) && !isReservedWord(p) ? p : printName(p))).join('.')} ${typeof s.value === 'string' ? printName(s.value) : String(s.value)}`;
    case 'set-setting': return `SET ${s.name} ${s.value}`;
    case 'get-setting': return `GET ${s.name ?? 'ALL'}`;
    case 'reset-setting': return `RESET ${s.name}`;
    case 'run': return `RUN ${printQuoted(s.path)}`;
    case 'help': return s.topic === null ? 'HELP' : `HELP ${s.topic.split(' ').map((w) => (BARE.test(w) ? w : printQuoted(w))).join(' ')}`;
    case 'exit': return 'EXIT';
    case 'create-index':
      return `CREATE ${s.collection === null ? '' : `${s.collection} `}INDEX ${printName(s.name)} ON ${target(s.target)} (${printName(s.bin)}) ${s.type}`;
    case 'drop-index': return `DROP INDEX ${target(s.target)} ${printName(s.name)}`;
    case 'register-module': return `REGISTER MODULE ${quoteOrNull(s.path) ?? `'${s.path}'`}`;
    case 'remove-module': return `REMOVE MODULE ${printQuoted(s.module)}`;
    case 'create-user': return `CREATE USER ${printName(s.user)} PASSWORD ${printQuoted(s.password)}${s.roles.length === 0 ? '' : ` ROLES ${s.roles.map(printName).join(', ')}`}`;
    case 'drop-user': return `DROP USER ${printName(s.user)}`;
    case 'set-password': return `SET PASSWORD ${printQuoted(s.password)}${s.user === null ? '' : ` FOR ${printName(s.user)}`}`;
    case 'grant-roles': return `GRANT ROLES ${s.roles.map(printName).join(', ')} TO ${printName(s.user)}`;
    case 'revoke-roles': return `REVOKE ROLES ${s.roles.map(printName).join(', ')} FROM ${printName(s.user)}`;
    case 'create-role': return `CREATE ROLE ${printName(s.role)}${s.privileges.length === 0 ? '' : ` PRIVILEGES ${s.privileges.map(printPrivilege).join(', ')}`}${s.whitelist.length === 0 ? '' : ` WHITELIST ${s.whitelist.map(printQuoted).join(', ')}`}`;
    case 'drop-role': return `DROP ROLE ${printName(s.role)}`;
    case 'grant-privileges': return `GRANT PRIVILEGES ${s.privileges.map(printPrivilege).join(', ')} TO ${printName(s.role)}`;
    case 'revoke-privileges': return `REVOKE PRIVILEGES ${s.privileges.map(printPrivilege).join(', ')} FROM ${printName(s.role)}`;
    case 'set-whitelist': return `SET WHITELIST ${s.whitelist.map(printQuoted).join(', ')} FOR ${printName(s.role)}`;
    case 'show-security': return `SHOW ${s.name === null ? s.what : `${s.what.slice(0, -1)} ${printName(s.name)}`}`;
    case 'desc-module': return `DESC MODULE ${printQuoted(s.module)}`;
    case 'execute':
      return `EXECUTE ${udf(s.call)} ON ${target(s.target)}${s.in === null ? '' : ` IN ${s.in}`}${s.where === null ? '' : ` WHERE ${where(s.where)}`}`;
    case 'aggregate':
      return `AGGREGATE ${udf(s.call)} ON ${target(s.target)}${s.in === null ? '' : ` IN ${s.in}`}${s.where === null ? '' : ` WHERE ${printExpr(s.where)}`}`;
    case 'kill-job': return `KILL JOB ${s.id}`;
  }
}
