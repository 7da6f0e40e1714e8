import { GeoJson, type BinValue, type MapKey } from '../../model/index.ts';
import type { Expr } from './ast.ts';

/** A value as a literal in the expression text (AQL-like). */
export function valueText(v: BinValue): string {
  if (v === null) return 'NULL';
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') return Number.isInteger(v) ? `${v}.0` : String(v);
  if (typeof v === 'string') return `'${v}'`;
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (v instanceof Uint8Array) return `BLOB('${Buffer.from(v).toString('hex')}')`;
  if (v instanceof GeoJson) return `GEOJSON('${v.text}')`;
  if (Array.isArray(v)) return `[${(v as readonly BinValue[]).map(valueText).join(', ')}]`;
  return `{${[...(v as ReadonlyMap<MapKey, BinValue>)].map(([k, x]) => `${valueText(k)}: ${valueText(x)}`).join(', ')}}`;
}

/** Human-readable text of an expression, for EXPLAIN and messages. */
export function exprToString(e: Expr, parent = 0): string {
  const wrap = (s: string, p: number): string => (p < parent ? `(${s})` : s);
  switch (e.kind) {
    case 'lit': return valueText(e.value);
    case 'bin': return e.name;
    case 'binExists': return `EXISTS(${e.name})`;
    case 'binType': return `TYPE(${e.name})`;
    case 'meta': return e.field === 'recordSize' ? 'RECORD_SIZE()' : `${e.field.toUpperCase()}()`;
    case 'digestModulo': return `DIGEST_MODULO(${e.modulus})`;
    case 'userKey': return `KEY(${e.type})`;
    case 'unknown': return 'UNKNOWN';
    case 'cmp': return wrap(`${exprToString(e.left, 5)} ${e.op} ${exprToString(e.right, 5)}`, 4);
    case 'and': return wrap(e.args.map((a) => exprToString(a, 2)).join(' AND '), 2);
    case 'or': return wrap(e.args.map((a) => exprToString(a, 1)).join(' OR '), 1);
    case 'not': return wrap(`NOT ${exprToString(e.arg, 3)}`, 3);
    case 'arith': {
      const p = e.op === '+' || e.op === '-' ? 5 : 6;
      return wrap(`${exprToString(e.left, p)} ${e.op} ${exprToString(e.right, p + 1)}`, p);
    }
    case 'neg': return `-${exprToString(e.arg, 7)}`;
    case 'fn': return `${e.name.toUpperCase()}(${e.args.map((a) => exprToString(a)).join(', ')})`;
    case 'size': return `SIZE(${exprToString(e.arg)})`;
    case 'get': return `${exprToString(e.source, 8)}[${exprToString(e.key)}]`;
    case 'elem': return 'ELEM';
    case 'anyElem': return `ANY(${e.of.toUpperCase()} ${exprToString(e.source)}, ${exprToString(e.where)})`;
    case 'in': return wrap(`${exprToString(e.value, 5)} IN (${e.options.map((o) => exprToString(o)).join(', ')})`, 4);
    case 'regex': return wrap(`${exprToString(e.arg, 5)} REGEXP '/${e.pattern}/${e.flags}'`, 4);
    case 'geo': return wrap(`${exprToString(e.left, 5)} ${e.op.toUpperCase()} ${exprToString(e.region, 5)}`, 4);
    case 'cond': return `COND(${e.branches.map((b) => `${exprToString(b.when)} => ${exprToString(b.then)}`).join(', ')}, ELSE ${exprToString(e.otherwise)})`;
    case 'let': return `LET(${e.defs.map((d) => `${d.name} = ${exprToString(d.value)}`).join(', ')}; ${exprToString(e.body)})`;
    case 'var': return `$${e.name}`;
    case 'cdtRead': case 'cdtModify': {
      const args = (e.args ?? []).map((a) => `${a.field} = ${exprToString(a.value)}`);
      return `${e.kind === 'cdtModify' ? 'MODIFY_' : ''}${e.op.op.toUpperCase()}_${e.op.kind}(${[exprToString(e.source), ...args].join(', ')})`;
    }
  }
}
