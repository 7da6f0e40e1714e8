/**
 * CST → typed AST, with the checks the grammar cannot express (literal values where values are
 * required, PK forms, name lengths, setting names). Every error is a located AqlError.
 */
import type { CstElement, CstNode, IToken } from 'chevrotain';
import { DbError, type ResultCodeName } from '../../errors/index.ts';
import { INT64_MAX, type BinValue } from '../../model/index.ts';
import type {
  AggregateStatement, CollectionType, CompareOp, ExecuteStatement, Expr, IndexType, KeyRef, Operation,
  OrderItem, SelectItem, SelectStatement, Statement, Target, UdfCall, Where,
} from './ast.ts';
import { AqlError, type SourcePos } from './errors.ts';
import { castValue, isTypeName } from './literals.ts';
import { OPERATIONS } from './operations.ts';
import { parseSettingValue, settingName, settingText } from './settings.ts';

type Ctx = Record<string, CstElement[] | undefined>;
type Located = IToken | CstNode;

function isToken(e: CstElement): e is IToken {
  return (e as IToken).image !== undefined;
}

function posOf(at: Located): SourcePos {
  if (isToken(at)) return { offset: at.startOffset, line: at.startLine ?? 1, column: at.startColumn ?? 1 };
  const loc = at.location;
  return { offset: loc?.startOffset ?? 0, line: loc?.startLine ?? 1, column: loc?.startColumn ?? 1 };
}

function imageOf(at: Located, source: string): string {
  if (isToken(at)) return at.image;
  const loc = at.location;
  if (loc === undefined || loc.endOffset === undefined || Number.isNaN(loc.endOffset)) return '';
  return source.slice(loc.startOffset, loc.endOffset + 1);
}

class Builder {
  readonly source: string;
  /** Bins written as bare PK / DIGEST / EDIGEST: key references, not bins. */
  readonly keyRefs = new WeakMap<Expr, { word: 'PK' | 'DIGEST' | 'EDIGEST'; at: IToken }>();
  /** Where each expression came from, for errors. */
  readonly exprAt = new WeakMap<Expr, Located>();

  constructor(source: string) {
    this.source = source;
  }

  fail(code: ResultCodeName, message: string, at: Located, extra: { hint?: string; expected?: string[]; aqlText?: string } = {}): never {
    const token = imageOf(at, this.source);
    throw new AqlError(code, `${message} (line ${posOf(at).line}, column ${posOf(at).column})`, {
      pos: posOf(at),
      token,
      ...(extra.expected === undefined ? {} : { expected: extra.expected }),
      ...(extra.hint === undefined ? {} : { hint: extra.hint }),
      aqlText: extra.aqlText ?? `Unsupported command format with token -  '${token}'`,
    });
  }

  /** Re-throws a DbError from a helper (cast, setting) located at `at`. */
  located<T>(at: Located, f: () => T): T {
    try {
      return f();
    } catch (err) {
      if (err instanceof AqlError || !(err instanceof DbError)) throw err;
      const extra: { hint?: string } = {};
      if (err.hint !== undefined) extra.hint = err.hint;
      return this.fail(err.code, err.message, at, extra);
    }
  }

  // ---- CST access ----
  nodes(ctx: Ctx, name: string): CstNode[] {
    return (ctx[name] ?? []).filter((e): e is CstNode => !isToken(e));
  }
  node(ctx: Ctx, name: string): CstNode | undefined {
    return this.nodes(ctx, name)[0];
  }
  need(ctx: Ctx, name: string): CstNode {
    const n = this.node(ctx, name);
    if (n === undefined) throw new Error(`AQL grammar: missing ${name}`);
    return n;
  }
  toks(ctx: Ctx, name: string): IToken[] {
    return (ctx[name] ?? []).filter(isToken);
  }
  tok(ctx: Ctx, name: string): IToken | undefined {
    return this.toks(ctx, name)[0];
  }
  needTok(ctx: Ctx, name: string): IToken {
    const t = this.tok(ctx, name);
    if (t === undefined) throw new Error(`AQL grammar: missing token ${name}`);
    return t;
  }
  ctx(n: CstNode): Ctx {
    return n.children as Ctx;
  }

  /** The text of a name token: quotes and backticks removed. */
  nameText(t: IToken): string {
    const q = t.image[0];
    if (q === '`' || q === '"' || q === "'") return t.image.slice(1, -1);
    return t.image;
  }

  // ---- names ----
  checkName(kind: 'ns' | 'set' | 'bin', name: string, at: IToken): string {
    const bytes = Buffer.byteLength(name, 'utf8');
    if (kind === 'ns') {
      if (bytes === 0) this.fail('CLIENT_ERROR', 'Namespace name is empty', at, { hint: 'name a namespace, e.g. test' });
      if (bytes > 31) this.fail('CLIENT_ERROR', `Namespace is too long: '${name}'`, at, { hint: 'namespace names have at most 31 bytes', aqlText: `Namespace is too long: '${name}'` });
    } else if (kind === 'set') {
      if (bytes > 63) this.fail('CLIENT_ERROR', `Set name is too long: '${name}'`, at, { hint: 'set names have at most 63 bytes', aqlText: `Set name is too long: '${name}'` });
    } else {
      if (bytes === 0) this.fail('CLIENT_ERROR', 'Bin name is empty', at);
      if (bytes > 15) this.fail('CLIENT_ERROR', `Bin name is too long: '${name}'`, at, { hint: 'bin names have at most 15 bytes', aqlText: `Bin name is too long: '${name}'` });
    }
    return name;
  }

  target(n: CstNode): Target {
    const c = this.ctx(n);
    const nsTok = this.needTok(c, 'ns');
    const setTok = this.tok(c, 'set');
    const namespace = this.checkName('ns', this.nameText(nsTok), nsTok);
    const set = setTok === undefined ? null : this.checkName('set', this.nameText(setTok), setTok);
    return { namespace, set };
  }

  collection(n: CstNode | undefined): CollectionType | null {
    if (n === undefined) return null;
    const c = this.ctx(n);
    if (c['LIST']) return 'LIST';
    if (c['MAPKEYS']) return 'MAPKEYS';
    return 'MAPVALUES';
  }

  integer(t: IToken, what: string): bigint {
    const v = BigInt(t.image);
    if (v > INT64_MAX) this.fail('PARAMETER', `${what} ${t.image} is outside the 64-bit signed range`, t);
    return v;
  }

  // ---- statements ----
  statement(n: CstNode): Statement {
    const c = this.ctx(n);
    const [name, children] = Object.entries(c).find(([k]) => k !== 'Semicolon') ?? [];
    const child = children?.[0];
    if (name === undefined || child === undefined || isToken(child)) throw new Error('AQL grammar: empty statement');
    const cc = this.ctx(child);
    switch (name) {
      case 'selectStmt': return this.select(child);
      case 'insertStmt': return this.insert(cc);
      case 'updateStmt': return this.update(cc);
      case 'deleteStmt': {
        const target = this.target(this.need(cc, 'nsSet'));
        return { kind: 'delete', target, key: this.keyOnly(this.need(cc, 'expr'), 'DELETE') };
      }
      case 'operateStmt': return this.operate(cc);
      case 'truncateStmt': {
        const target = this.target(this.need(cc, 'nsSet'));
        const i = this.tok(cc, 'IntegerLit');
        const s = this.tok(cc, 'StringLit');
        return { kind: 'truncate', target, upto: i !== undefined ? this.integer(i, 'UPTO') : s !== undefined ? this.nameText(s) : null };
      }
      case 'explainStmt': return { kind: 'explain', statement: this.select(this.need(cc, 'selectStmt')) };
      case 'showStmt': return this.show(cc);
      case 'statStmt': {
        if (cc['SYSTEM']) return { kind: 'stat', what: 'SYSTEM' };
        const ns = this.needTok(cc, 'ns');
        const namespace = this.checkName('ns', this.nameText(ns), ns);
        if (cc['NAMESPACE']) return { kind: 'stat', what: 'NAMESPACE', namespace };
        return { kind: 'stat', what: 'INDEX', namespace, index: this.nameText(this.needTok(cc, 'index')) };
      }
      case 'setStmt': {
        if (cc['PASSWORD'] !== undefined) {
          const u = this.tok(cc, 'user');
          return { kind: 'set-password', password: this.nameText(this.needTok(cc, 'password')), user: u === undefined ? null : this.nameText(u) };
        }
        if (cc['WHITELIST'] !== undefined) return { kind: 'set-whitelist', whitelist: this.addresses(this.need(cc, 'addressList')), role: this.nameText(this.needTok(cc, 'role')) };
        if (cc['config'] === undefined) {
          const st = this.needTok(cc, 'setting');
          const name = this.located(st, () => settingName(this.nameText(st)));
          const vn = this.need(cc, 'settingValue');
          const vc = this.ctx(vn);
          const vt = (Object.values(vc).flat().filter((e): e is IToken => e !== undefined && isToken(e)));
          const text = vt.map((t) => (t.tokenType.name === 'SqString' || t.tokenType.name === 'DqString' || t.tokenType.name === 'QuotedName' ? this.nameText(t) : t.image)).sort((a, b) => (a === '-' ? -1 : b === '-' ? 1 : 0)).join('');
          const value = this.located(vn, () => parseSettingValue(name, text));
          return { kind: 'set-setting', name, value: settingText(value) };
        }
        const name = this.toks(cc, 'path').map((t) => this.nameText(t)).join('.');
        const vn = this.need(cc, 'settingValue');
        const vc = this.ctx(vn);
        const toks = Object.values(vc).flat().filter((e): e is IToken => e !== undefined && isToken(e));
        const negative = toks.some((t) => t.tokenType.name === 'Minus');
        const tok = toks.find((t) => t.tokenType.name !== 'Minus') as IToken;
        const kind = tok.tokenType.name;
        const value = kind === 'TRUE' ? true : kind === 'FALSE' ? false
          : kind === 'IntegerLit' || kind === 'HexLit' || kind === 'DoubleLit' ? (negative ? -1 : 1) * Number(tok.image)
          : this.nameText(tok);
        return { kind: 'set-config', name, value };
      }
      case 'getStmt': {
        const st = this.needTok(cc, 'setting');
        if (st.image.toUpperCase() === 'ALL' && st.tokenType.name === 'ALL') return { kind: 'get-setting', name: null };
        return { kind: 'get-setting', name: this.located(st, () => settingName(this.nameText(st))) };
      }
      case 'resetStmt': {
        const st = this.needTok(cc, 'setting');
        return { kind: 'reset-setting', name: this.located(st, () => settingName(this.nameText(st))) };
      }
      case 'runStmt': return { kind: 'run', path: this.toks(this.ctx(this.need(cc, 'moduleName')), 'Name').map((t) => this.nameText(t)).join('.') };
      case 'helpStmt': {
        const words = this.toks(cc, 'topic').map((t) => this.nameText(t).toUpperCase());
        return { kind: 'help', topic: words.length === 0 ? null : words.join(' ') };
      }
      case 'exitStmt': return { kind: 'exit' };
      case 'createIndexStmt': {
        const type = (['NUMERIC', 'STRING', 'BLOB', 'GEO2DSPHERE'] as const).find((k) => cc[k] !== undefined) as IndexType;
        const binTok = this.needTok(cc, 'bin');
        return {
          kind: 'create-index',
          collection: this.collection(this.node(cc, 'collection')),
          name: this.indexName(this.needTok(cc, 'index')),
          target: this.target(this.need(cc, 'nsSet')),
          bin: this.checkName('bin', this.nameText(binTok), binTok),
          type,
        };
      }
      case 'dropIndexStmt':
        return { kind: 'drop-index', target: this.target(this.need(cc, 'nsSet')), name: this.indexName(this.needTok(cc, 'index')) };
      case 'registerStmt': return { kind: 'register-module', path: this.nameText(this.needTok(cc, 'StringLit')) };
      case 'removeStmt': return { kind: 'remove-module', module: this.moduleName(this.need(cc, 'moduleName')) };
      case 'descStmt': return { kind: 'desc-module', module: this.moduleName(this.need(cc, 'moduleName')) };
      case 'executeStmt': return this.execute(cc);
      case 'aggregateStmt': return this.aggregate(cc);
      case 'killStmt': return { kind: 'kill-job', id: this.integer(this.needTok(cc, 'IntegerLit'), 'job id') };
      case 'createUserStmt': {
        const list = this.node(cc, 'nameList');
        return { kind: 'create-user', user: this.nameText(this.needTok(cc, 'user')), password: this.nameText(this.needTok(cc, 'password')), roles: list === undefined ? [] : this.names(list) };
      }
      case 'createRoleStmt': {
        const privileges = this.node(cc, 'privilegeList');
        const whitelist = this.node(cc, 'addressList');
        const role = this.needTok(cc, 'role');
        if (privileges === undefined && whitelist === undefined) this.fail('PARAMETER', 'Either privileges or whitelist is required', role, { hint: 'CREATE ROLE <role> PRIVILEGES <priv[.ns[.set]]>, … [WHITELIST <address>, …]' });
        return {
          kind: 'create-role', role: this.nameText(role),
          privileges: privileges === undefined ? [] : this.privileges(privileges),
          whitelist: whitelist === undefined ? [] : this.addresses(whitelist),
        };
      }
      case 'dropUserStmt': return { kind: 'drop-user', user: this.nameText(this.needTok(cc, 'user')) };
      case 'dropRoleStmt': return { kind: 'drop-role', role: this.nameText(this.needTok(cc, 'role')) };
      case 'grantStmt': case 'revokeStmt': {
        const grant = name === 'grantStmt';
        const roles = this.node(cc, 'nameList');
        if (roles !== undefined) return { kind: grant ? 'grant-roles' : 'revoke-roles', roles: this.names(roles), user: this.nameText(this.needTok(cc, 'user')) };
        return { kind: grant ? 'grant-privileges' : 'revoke-privileges', privileges: this.privileges(this.need(cc, 'privilegeList')), role: this.nameText(this.needTok(cc, 'role')) };
      }
      default: throw new Error(`AQL grammar: unknown statement ${name}`);
    }
  }

  names(n: CstNode): string[] {
    return this.toks(this.ctx(n), 'Name').map((t) => this.nameText(t));
  }

  /** Privileges as typed: name, name.ns or name.ns.set (checked by the security subsystem). */
  privileges(n: CstNode): string[] {
    return this.nodes(this.ctx(n), 'privilege').map((p) => this.toks(this.ctx(p), 'Name').map((t) => this.nameText(t)).join('.'));
  }

  /** Addresses as typed: the tokens of one address joined back (10.0.0.0/8), quoted ones unquoted. */
  addresses(n: CstNode): string[] {
    return this.nodes(this.ctx(n), 'address').map((a) => {
      const toks = Object.values(this.ctx(a)).flat().filter((e): e is IToken => e !== undefined && isToken(e)).sort((x, y) => x.startOffset - y.startOffset);
      return toks.map((t) => (t.tokenType.name === 'SqString' || t.tokenType.name === 'DqString' ? this.nameText(t) : t.image)).join('');
    });
  }

  indexName(t: IToken): string {
    const name = this.nameText(t);
    if (name.length === 0) this.fail('PARAMETER', 'Index name is empty', t);
    if (/[;:]/.test(name)) this.fail('PARAMETER', `Index name '${name}' contains ';' or ':'`, t, { hint: 'index names may not contain ; or :' });
    return name;
  }

  moduleName(n: CstNode): string {
    const c = this.ctx(n);
    const parts = this.toks(c, 'Name').map((t) => this.nameText(t));
    const full = parts.join('.');
    return full.slice(full.lastIndexOf('/') + 1);
  }

  select(n: CstNode): SelectStatement {
    const c = this.ctx(n);
    let items: SelectItem[] | null = null;
    if (c['Star'] === undefined) {
      items = this.nodes(c, 'selectItem').map((it) => this.selectItem(it));
      const aggs = items.filter((i) => i.kind === 'aggregate').length;
      if (aggs > 0 && aggs < items.length) {
        this.fail('PARAMETER', 'A SELECT lists either bins or aggregates (COUNT, SUM, MIN, MAX, AVG), not both', this.need(c, 'selectItem'), { hint: 'run two statements' });
      }
    }
    const target = this.target(this.need(c, 'nsSet'));
    const inType = this.collection(this.node(c, 'collection'));
    const early = this.tok(c, 'earlyLimitValue');
    const late = this.tok(c, 'limitValue');
    if (early !== undefined && late !== undefined) this.fail('PARAMETER', 'LIMIT is given twice', late);
    const limitTok = early ?? late;
    const limit = limitTok === undefined ? null : this.integer(limitTok, 'LIMIT');
    const exprNode = this.node(c, 'expr');
    let where: Where | null = null;
    if (exprNode !== undefined) {
      where = this.where(exprNode);
      if (where.kind === 'key' && inType !== null) this.fail('PARAMETER', `IN ${inType} cannot be used with WHERE PK`, exprNode, { hint: 'IN applies to queries on a bin' });
    }
    const orderBy: OrderItem[] = this.nodes(c, 'orderItem').map((o) => {
      const oc = this.ctx(o);
      const t = this.needTok(oc, 'Name');
      return { bin: this.checkName('bin', this.nameText(t), t), direction: oc['DESC'] ? 'DESC' : 'ASC' };
    });
    return { kind: 'select', items, target, in: inType, where, orderBy, limit };
  }

  selectItem(n: CstNode): SelectItem {
    const c = this.ctx(n);
    const t = this.needTok(c, 'Name');
    if (c['LParen'] === undefined) return { kind: 'bin', name: this.checkName('bin', this.nameText(t), t) };
    const fn = this.nameText(t).toUpperCase();
    if (fn !== 'COUNT' && fn !== 'SUM' && fn !== 'MIN' && fn !== 'MAX' && fn !== 'AVG') {
      this.fail('PARAMETER', `Unknown aggregate function ${this.nameText(t)}()`, t, { expected: ['COUNT', 'SUM', 'MIN', 'MAX', 'AVG'] });
    }
    const arg = this.tok(c, 'arg');
    if (c['Star'] !== undefined) {
      if (fn !== 'COUNT') this.fail('PARAMETER', `${fn}(*) is not an aggregate; name a bin`, t, { hint: `${fn}(bin)` });
      return { kind: 'aggregate', fn, bin: null };
    }
    if (arg === undefined) this.fail('PARAMETER', `${fn}() needs a bin`, t, { hint: fn === 'COUNT' ? 'COUNT(*)' : `${fn}(bin)` });
    return { kind: 'aggregate', fn, bin: this.checkName('bin', this.nameText(arg), arg) };
  }

  insert(c: Ctx): Statement {
    const target = this.target(this.need(c, 'nsSet'));
    const names = this.toks(c, 'Name');
    const exprs = this.nodes(c, 'expr');
    const first = names[0];
    if (first === undefined || this.nameText(first).toUpperCase() !== 'PK') {
      this.fail('PARAMETER', 'The first name in INSERT must be PK', first ?? this.needTok(c, 'LParen'), { expected: ['PK'], hint: 'INSERT INTO ns.set (PK, bin1, …) VALUES (key, v1, …)' });
    }
    if (names.length < 2) this.fail('PARAMETER', 'INSERT needs at least one bin after PK', first, { hint: 'INSERT INTO ns.set (PK, bin1) VALUES (key, v1)' });
    if (names.length !== exprs.length) {
      const rp = this.toks(c, 'RParen')[1] ?? this.needTok(c, 'VALUES');
      this.fail('PARAMETER', `INSERT names ${names.length} columns (PK and ${names.length - 1} bins) but gives ${exprs.length} values`, rp);
    }
    const nsc = this.ctx(this.need(c, 'nsSet'));
    for (const t of [...this.toks(nsc, 'ns'), ...this.toks(nsc, 'set'), ...names]) {
      const bad = /[;:]/.exec(this.nameText(t));
      if (bad) this.fail('CLIENT_ERROR', `Illegal character - '${bad[0]}'`, t, { aqlText: `Illegal character - '${bad[0]}'` });
    }
    const keyExpr = exprs[0] as CstNode;
    const key: KeyRef = { kind: 'pk', value: this.keyValue(this.literal(keyExpr), keyExpr) };
    const bins = names.slice(1).map((t, i) => {
      const e = exprs[i + 1] as CstNode;
      return { name: this.checkName('bin', this.nameText(t), t), value: this.literal(e) };
    });
    this.noDuplicates(bins.map((b) => b.name), names.slice(1));
    return { kind: 'insert', target, key, bins };
  }

  noDuplicates(names: string[], at: IToken[]): void {
    const seen = new Set<string>();
    names.forEach((n, i) => {
      if (seen.has(n)) this.fail('PARAMETER', `Bin '${n}' is named twice`, at[i] as IToken);
      seen.add(n);
    });
  }

  update(c: Ctx): Statement {
    const target = this.target(this.need(c, 'nsSet'));
    const assigns = this.nodes(c, 'assignment');
    const bins = assigns.map((a) => {
      const ac = this.ctx(a);
      const t = this.needTok(ac, 'Name');
      const op = this.needTok(ac, 'CompareOp');
      if (op.image !== '=' && op.image !== '==') this.fail('PARAMETER', `Expected '=' in SET, got '${op.image}'`, op, { expected: ["'='"] });
      return { name: this.checkName('bin', this.nameText(t), t), value: this.literal(this.need(ac, 'expr')) };
    });
    this.noDuplicates(bins.map((b) => b.name), assigns.map((a) => this.needTok(this.ctx(a), 'Name')));
    return { kind: 'update', target, bins, key: this.keyOnly(this.need(c, 'expr'), 'UPDATE') };
  }

  operate(c: Ctx): Statement {
    const ops: Operation[] = this.nodes(c, 'call').map((call) => {
      const cc = this.ctx(call);
      const nameTok = this.needTok(cc, 'ExprName');
      const op = this.nameText(nameTok).toUpperCase();
      const spec = OPERATIONS[op];
      if (spec === undefined) {
        this.fail('PARAMETER', `Unknown operation ${this.nameText(nameTok)}`, nameTok, { hint: 'see HELP OPERATE for the operations', expected: Object.keys(OPERATIONS) });
      }
      const args = this.nodes(cc, 'expr');
      let bin: string | null = null;
      let rest = args;
      if (spec.bin) {
        const first = args[0];
        if (first === undefined) this.fail('PARAMETER', `${op} needs a bin name as its first argument`, nameTok, { hint: spec.usage });
        const e = this.expr(first);
        if (e.kind === 'bin') bin = this.checkName('bin', e.name, this.firstToken(first));
        else if (e.kind === 'literal' && typeof e.value === 'string') bin = this.checkName('bin', e.value, this.firstToken(first));
        else this.fail('PARAMETER', `${op} needs a bin name as its first argument`, first, { hint: spec.usage });
        rest = args.slice(1);
      }
      if (rest.length < spec.min || rest.length > spec.max) {
        this.fail('PARAMETER', `${op} takes ${spec.min === spec.max ? spec.min : `${spec.min} to ${spec.max}`} value${spec.max === 1 ? '' : 's'}${spec.bin ? ' after the bin' : ''}, got ${rest.length}`, nameTok, { hint: spec.usage });
      }
      return { op, bin, args: rest.map((e) => this.literal(e)) };
    });
    const target = this.target(this.need(c, 'nsSet'));
    return { kind: 'operate', ops, target, key: this.keyOnly(this.need(c, 'expr'), 'OPERATE') };
  }

  firstToken(n: CstNode): IToken {
    let cur: CstElement = n;
    for (;;) {
      if (isToken(cur)) return cur;
      let best: CstElement | undefined;
      for (const arr of Object.values(cur.children)) {
        for (const e of arr ?? []) {
          const off = isToken(e) ? e.startOffset : (e.location?.startOffset ?? Infinity);
          const bestOff = best === undefined ? Infinity : isToken(best) ? best.startOffset : (best.location?.startOffset ?? Infinity);
          if (off < bestOff) best = e;
        }
      }
      if (best === undefined) throw new Error('AQL grammar: empty node');
      cur = best;
    }
  }

  show(c: Ctx): Statement {
    const security = c['USERS'] ? 'USERS' : c['USER'] ? 'USER' : c['ROLES'] ? 'ROLES' : c['ROLE'] ? 'ROLE' : undefined;
    if (security !== undefined) {
      const ns = this.node(c, 'nsSet');
      const nameTok = ns === undefined ? undefined : this.needTok(this.ctx(ns), 'ns');
      if (ns !== undefined && this.tok(this.ctx(ns), 'set') !== undefined) this.fail('PARAMETER', `SHOW ${security} takes one name`, ns);
      if (nameTok !== undefined && (security === 'USERS' || security === 'ROLES')) this.fail('PARAMETER', `SHOW ${security} takes no name`, nameTok, { hint: `SHOW ${security.slice(0, -1)} <name> shows one` });
      if (nameTok === undefined && security === 'ROLE') this.fail('PARAMETER', 'SHOW ROLE needs a role name', c['ROLE']?.[0] as IToken, { hint: 'SHOW ROLES lists them all' });
      return { kind: 'show-security', what: security === 'USERS' || security === 'USER' ? 'USERS' : 'ROLES', name: nameTok === undefined ? null : this.nameText(nameTok) };
    }
    const what = c['NAMESPACES'] ? 'NAMESPACES' : c['SETS'] ? 'SETS' : c['BINS'] ? 'BINS'
      : c['INDEXES'] || c['INDEX'] ? 'INDEXES' : c['MODULES'] || c['PACKAGES'] ? 'MODULES'
      : c['CLUSTER'] ? 'CLUSTER' : c['PARTITIONS'] ? 'PARTITIONS' : c['PLUGINS'] ? 'PLUGINS' : c['CONFIG'] ? 'CONFIG' : 'JOBS';
    const ns = this.node(c, 'nsSet');
    let namespace: string | null = null;
    if (ns !== undefined) {
      const t = this.target(ns);
      if (t.set !== null) this.fail('PARAMETER', `SHOW ${what} takes a namespace, not a set`, this.needTok(this.ctx(ns), 'set'));
      if (what === 'NAMESPACES' || what === 'MODULES' || what === 'JOBS' || what === 'CLUSTER' || what === 'PLUGINS' || what === 'CONFIG') this.fail('PARAMETER', `SHOW ${what} takes no namespace`, ns);
      namespace = t.namespace;
    }
    return { kind: 'show', what, namespace };
  }

  udfCall(n: CstNode): UdfCall {
    const c = this.ctx(n);
    return {
      module: this.nameText(this.needTok(c, 'module')),
      fn: this.nameText(this.needTok(c, 'fn')),
      args: this.nodes(c, 'expr').map((e) => this.literal(e)),
    };
  }

  execute(c: Ctx): ExecuteStatement {
    const call = this.udfCall(this.need(c, 'udfCall'));
    const target = this.target(this.need(c, 'nsSet'));
    const inType = this.collection(this.node(c, 'collection'));
    const e = this.node(c, 'expr');
    const where = e === undefined ? null : this.where(e);
    if (where?.kind === 'key' && inType !== null) this.fail('PARAMETER', `IN ${inType} cannot be used with WHERE PK`, e as CstNode);
    return { kind: 'execute', call, target, in: inType, where };
  }

  aggregate(c: Ctx): AggregateStatement {
    const call = this.udfCall(this.need(c, 'udfCall'));
    const target = this.target(this.need(c, 'nsSet'));
    const inType = this.collection(this.node(c, 'collection'));
    const e = this.node(c, 'expr');
    let where: Expr | null = null;
    if (e !== undefined) {
      const w = this.where(e);
      if (w.kind === 'key') this.fail('PARAMETER', 'AGGREGATE runs over a scan or query, not one record', e, { hint: 'use EXECUTE … WHERE PK = … for a record UDF' });
      where = w.expr;
    }
    return { kind: 'aggregate', call, target, in: inType, where };
  }

  // ---- WHERE and keys ----
  where(n: CstNode): Where {
    const e = this.expr(n);
    if (e.kind === 'compare' && e.op === '=') {
      const ref = this.keyRefs.get(e.left);
      if (ref !== undefined) {
        const v = this.literalOf(e.right);
        return { kind: 'key', key: this.keyRef(ref.word, v, this.exprAt.get(e.right) ?? ref.at) };
      }
    }
    this.noKeyRefs(e);
    return { kind: 'filter', expr: e };
  }

  noKeyRefs(e: Expr): void {
    const ref = this.keyRefs.get(e);
    if (ref !== undefined) {
      this.fail('PARAMETER', `${ref.word} can only be used as WHERE ${ref.word} = <key>`, ref.at, { hint: `to use a bin named ${ref.at.image}, write it in backticks: \`${ref.at.image}\`` });
    }
    switch (e.kind) {
      case 'compare': case 'arith': this.noKeyRefs(e.left); this.noKeyRefs(e.right); break;
      case 'between': this.noKeyRefs(e.operand); this.noKeyRefs(e.low); this.noKeyRefs(e.high); break;
      case 'geo': this.noKeyRefs(e.operand); this.noKeyRefs(e.region); break;
      case 'and': case 'or': e.operands.forEach((x) => this.noKeyRefs(x)); break;
      case 'not': case 'neg': this.noKeyRefs(e.operand); break;
      case 'call': e.args.forEach((x) => this.noKeyRefs(x)); break;
      default: break;
    }
  }

  keyOnly(n: CstNode, stmt: string): KeyRef {
    const w = this.where(n);
    if (w.kind !== 'key') this.fail('PARAMETER', `${stmt} needs WHERE PK = <key> (or DIGEST = '<hex>', EDIGEST = '<base64>')`, n, { expected: ['PK', 'DIGEST', 'EDIGEST'] });
    return w.key;
  }

  literalOf(e: Expr): BinValue {
    if (e.kind !== 'literal') return this.fail('PARAMETER', 'Expected a literal value', this.exprAt.get(e) ?? { image: '' } as IToken, { hint: "e.g. 'text', 123, 1.5, true, NULL, LIST('[1]')" });
    return e.value;
  }

  keyValue(v: BinValue, at: Located): string | bigint | Uint8Array {
    if (typeof v === 'string' || typeof v === 'bigint' || v instanceof Uint8Array) return v;
    if (typeof v === 'number') this.fail('CLIENT_ERROR', 'PK cannot be floating point value', at, { aqlText: 'PK cannot be floating point value', hint: "use an integer or a string key, e.g. PK = 1 or PK = '1.5'" });
    return this.fail('PARAMETER', 'A key is an integer, a string or BYTES(\'hex\')', at);
  }

  keyRef(word: 'PK' | 'DIGEST' | 'EDIGEST', v: BinValue, at: Located): KeyRef {
    if (word === 'PK') return { kind: 'pk', value: this.keyValue(v, at) };
    if (typeof v !== 'string') this.fail('PARAMETER', `${word} takes a quoted ${word === 'DIGEST' ? 'hex' : 'base64'} string`, at);
    let hex: string;
    if (word === 'DIGEST') {
      if (!/^[0-9a-fA-F]{40}$/.test(v)) this.fail('PARAMETER', `A DIGEST is 40 hex characters (20 bytes), got '${v}'`, at, { hint: "DIGEST = '139FE89822B63DFC173AEA51CCF2EF091AB3129F'" });
      hex = v.toLowerCase();
    } else {
      const b = Buffer.from(v, 'base64');
      if (b.length !== 20 || !/^[A-Za-z0-9+/=_-]+$/.test(v)) this.fail('PARAMETER', `An EDIGEST is 20 bytes in base64, got '${v}'`, at, { hint: "EDIGEST = 'E5/omCK2PfwXOupRzPLvCRqzEp8='" });
      hex = b.toString('hex');
    }
    return { kind: 'digest', hex };
  }

  /** A value position: the expression must be a literal (after folding signs and casts). */
  literal(n: CstNode): BinValue {
    const e = this.expr(n);
    if (e.kind !== 'literal') {
      this.fail('PARAMETER', 'Expected a value', n, {
        hint: "values are literals: 'text', \"text\", 123, 0x1F, 1.5, true, NULL, JSON('…'), LIST('[…]'), MAP('{…}'), GEOJSON('…'), CAST(v AS T)",
      });
    }
    return e.value;
  }

  // ---- expressions ----
  at<E extends Expr>(e: E, where: Located): E {
    if (!this.exprAt.has(e)) this.exprAt.set(e, where);
    return e;
  }

  expr(n: CstNode): Expr {
    const c = this.ctx(n);
    const parts = this.nodes(c, 'andExpr').map((a) => this.andExpr(a));
    if (parts.length === 1) return parts[0] as Expr;
    return this.at({ kind: 'or', operands: parts.flatMap((p) => (p.kind === 'or' ? p.operands : [p])) }, n);
  }

  andExpr(n: CstNode): Expr {
    const parts = this.nodes(this.ctx(n), 'notExpr').map((a) => this.notExpr(a));
    if (parts.length === 1) return parts[0] as Expr;
    return this.at({ kind: 'and', operands: parts.flatMap((p) => (p.kind === 'and' ? p.operands : [p])) }, n);
  }

  notExpr(n: CstNode): Expr {
    const c = this.ctx(n);
    const inner = this.node(c, 'notExpr');
    if (inner !== undefined) return this.at({ kind: 'not', operand: this.notExpr(inner) }, n);
    return this.predicate(this.need(c, 'predicate'));
  }

  predicate(n: CstNode): Expr {
    const c = this.ctx(n);
    const left = this.additive(this.need(c, 'additive'));
    const op = this.tok(c, 'CompareOp');
    if (op !== undefined) {
      const map: Record<string, CompareOp> = { '=': '=', '==': '=', '!=': '!=', '<>': '!=', '<': '<', '<=': '<=', '>': '>', '>=': '>=' };
      return this.at({ kind: 'compare', op: map[op.image] ?? '=', left, right: this.additive(this.need(c, 'right')) }, n);
    }
    if (c['BETWEEN']) return this.at({ kind: 'between', operand: left, low: this.additive(this.need(c, 'low')), high: this.additive(this.need(c, 'high')) }, n);
    if (c['CONTAINS'] || c['WITHIN']) {
      return this.at({ kind: 'geo', op: c['CONTAINS'] ? 'CONTAINS' : 'WITHIN', operand: left, region: this.additive(this.need(c, 'region')) }, n);
    }
    return left;
  }

  additive(n: CstNode): Expr {
    const c = this.ctx(n);
    const terms = this.nodes(c, 'multiplicative').map((m) => this.multiplicative(m));
    const ops = this.toks(c, 'op');
    let acc = terms[0] as Expr;
    ops.forEach((op, i) => {
      acc = this.at({ kind: 'arith', op: op.image === '+' ? '+' : '-', left: acc, right: terms[i + 1] as Expr }, op);
    });
    return acc;
  }

  multiplicative(n: CstNode): Expr {
    const c = this.ctx(n);
    const terms = this.nodes(c, 'unary').map((m) => this.unary(m));
    const ops = this.toks(c, 'op');
    let acc = terms[0] as Expr;
    ops.forEach((op, i) => {
      acc = this.at({ kind: 'arith', op: op.image === '*' ? '*' : op.image === '/' ? '/' : '%', left: acc, right: terms[i + 1] as Expr }, op);
    });
    return acc;
  }

  unary(n: CstNode): Expr {
    const c = this.ctx(n);
    const inner = this.node(c, 'unary');
    if (c['Minus'] !== undefined && inner !== undefined) {
      // -<integer literal>: negate before the range check, so -9223372036854775808 is allowed
      const ic = this.ctx(inner);
      const atom = this.node(ic, 'atom');
      const intTok = atom === undefined ? undefined : (this.tok(this.ctx(atom), 'IntegerLit') ?? this.tok(this.ctx(atom), 'HexLit'));
      if (intTok !== undefined) {
        const v = -BigInt(intTok.image);
        if (v < -(2n ** 63n)) this.fail('PARAMETER', `integer -${intTok.image} is outside the 64-bit signed range`, intTok);
        return this.at({ kind: 'literal', value: v }, n);
      }
      const e = this.unary(inner);
      if (e.kind === 'literal') {
        if (typeof e.value === 'bigint') {
          if (e.value === -(2n ** 63n)) this.fail('PARAMETER', 'integer 9223372036854775808 is outside the 64-bit signed range', n);
          return this.at({ kind: 'literal', value: -e.value }, n);
        }
        if (typeof e.value === 'number') return this.at({ kind: 'literal', value: -e.value }, n);
        this.fail('PARAMETER', 'Only numbers can be negated', n);
      }
      return this.at({ kind: 'neg', operand: e }, n);
    }
    if (inner !== undefined) {
      const e = this.unary(inner);
      if (e.kind === 'literal' && typeof e.value !== 'bigint' && typeof e.value !== 'number') this.fail('PARAMETER', "Unary '+' applies to numbers only", n);
      return e;
    }
    return this.atom(this.need(c, 'atom'));
  }

  atom(n: CstNode): Expr {
    const c = this.ctx(n);
    const lit = (value: BinValue, t: Located): Expr => this.at({ kind: 'literal', value }, t);
    let t: IToken | undefined;
    if ((t = this.tok(c, 'IntegerLit') ?? this.tok(c, 'HexLit')) !== undefined) return lit(this.integer(t, 'integer'), t);
    if ((t = this.tok(c, 'DoubleLit')) !== undefined) return lit(Number(t.image), t);
    if ((t = this.tok(c, 'StringLit')) !== undefined) return lit(this.nameText(t), t);
    if ((t = this.tok(c, 'TRUE')) !== undefined) return lit(true, t);
    if ((t = this.tok(c, 'FALSE')) !== undefined) return lit(false, t);
    if ((t = this.tok(c, 'NULL')) !== undefined) return lit(null, t);
    if (c['CAST'] !== undefined) {
      const typeTok = this.needTok(c, 'type');
      const type = this.nameText(typeTok).toUpperCase();
      if (!isTypeName(type)) this.fail('PARAMETER', `Unknown type ${this.nameText(typeTok)} in CAST`, typeTok, { expected: ['INT', 'FLOAT', 'STRING', 'BOOL', 'JSON', 'LIST', 'MAP', 'GEOJSON', 'BYTES'] });
      const inner = this.expr(this.need(c, 'expr'));
      if (inner.kind !== 'literal') return this.at({ kind: 'call', name: type, args: [inner] }, n);
      return lit(this.located(n, () => castValue(type, inner.value)), n);
    }
    const nameTok = this.tok(c, 'ExprName');
    if (nameTok === undefined) return this.expr(this.need(c, 'expr')); // ( expr )
    const text = this.nameText(nameTok);
    if (c['callOpen'] === undefined) {
      const e: Expr = this.at({ kind: 'bin', name: text }, nameTok);
      const up = text.toUpperCase();
      if (nameTok.tokenType.name !== 'QuotedName' && (up === 'PK' || up === 'DIGEST' || up === 'EDIGEST')) {
        this.keyRefs.set(e, { word: up, at: nameTok });
      } else {
        this.checkName('bin', text, nameTok);
      }
      return e;
    }
    if (c['Star'] !== undefined) this.fail('PARAMETER', `${text}(*) is only allowed as SELECT COUNT(*)`, nameTok);
    const args = this.nodes(c, 'arg').map((a) => this.expr(a));
    const name = text.toUpperCase();
    if (isTypeName(name) && args.length === 1 && args[0]?.kind === 'literal') {
      const v = args[0].value;
      return lit(this.located(n, () => castValue(name, v)), n);
    }
    if (isTypeName(name) && args.length !== 1) this.fail('PARAMETER', `${name}(…) takes one value`, nameTok, { hint: `${name}('…')` });
    return this.at({ kind: 'call', name, args }, n);
  }
}

/** Converts a parsed `statement` CST to the AST. `source` is the full text the tokens came from. */
export function buildStatement(cst: CstNode, source: string): Statement {
  return new Builder(source).statement(cst);
}
