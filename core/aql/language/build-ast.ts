/**
 * CST → typed AST: a Chevrotain CST visitor with one method per grammar rule, typed by the
 * generated `cst-types.ts` (so a rule the builder does not follow fails the type check, and
 * `validateVisitor` refuses a missing method when the module loads). It also makes the checks
 * the grammar cannot express (literal values where values are required, PK forms, name
 * lengths, setting names). Every error is a located AqlError.
 */
import type { CstElement, CstNode, IToken } from 'chevrotain';
import { DbError, type ResultCodeName } from '../../errors/index.ts';
import { INT64_MAX, type BinValue } from '../../model/index.ts';
import type {
  AggregateStatement, CollectionType, CompareOp, ExecuteStatement, Expr, IndexType, KeyRef, Operation,
  OrderItem, SelectItem, SelectStatement, Statement, Target, UdfCall, Where,
} from './ast.ts';
import type * as Cst from './cst-types.ts';
import { AqlError, type SourcePos } from './errors.ts';
import { castValue, isTypeName } from './literals.ts';
import { OPERATIONS } from './operations.ts';
import { parser } from './parser.ts';
import { parseSettingValue, settingName, settingText } from './settings.ts';

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

/** The first element of a child list the grammar always fills (a missing one is a grammar bug). */
function one<T>(list: readonly T[] | undefined, what: string): T {
  const first = list?.[0];
  if (first === undefined) throw new Error(`AQL grammar: missing ${what}`);
  return first;
}

/** The grammar's rules: one visitor method each. */
type RuleName = Exclude<keyof Cst.AqlCstVisitor<CstNode, unknown>, 'visit' | 'validateVisitor'>;
type ChildrenOf<K extends RuleName> = Parameters<Cst.AqlCstVisitor<CstNode, unknown>[K]>[0];

/** What each rule's visitor method makes. */
interface RuleResults {
  statement: Statement;
  nsSet: Target;
  collection: CollectionType;
  selectStmt: SelectStatement;
  selectItem: SelectItem;
  orderItem: OrderItem;
  insertStmt: Statement;
  updateStmt: Statement;
  assignment: { readonly name: string; readonly nameTok: IToken; readonly value: BinValue };
  deleteStmt: Statement;
  operateStmt: Statement;
  call: Operation;
  callModifier: { readonly name: string; readonly tok: IToken; readonly words: string[] };
  truncateStmt: Statement;
  explainStmt: Statement;
  showStmt: Statement;
  statStmt: Statement;
  setStmt: Statement;
  /** The value token of SET, and whether a '-' came before it. */
  settingValue: { readonly negative: boolean; readonly token: IToken };
  getStmt: Statement;
  resetStmt: Statement;
  runStmt: Statement;
  helpStmt: Statement;
  exitStmt: Statement;
  createIndexStmt: Statement;
  dropIndexStmt: Statement;
  moduleKw: 'MODULE' | 'PACKAGE';
  /** The module name as typed, dots included. */
  moduleName: string;
  registerStmt: Statement;
  removeStmt: Statement;
  descStmt: Statement;
  udfCall: UdfCall;
  executeStmt: ExecuteStatement;
  aggregateStmt: AggregateStatement;
  killStmt: Statement;
  nameList: string[];
  privilege: string;
  privilegeList: string[];
  address: string;
  addressList: string[];
  rolesKw: 'ROLE' | 'ROLES';
  privilegesKw: 'PRIVILEGE' | 'PRIVILEGES';
  createUserStmt: Statement;
  createRoleStmt: Statement;
  dropUserStmt: Statement;
  dropRoleStmt: Statement;
  grantStmt: Statement;
  revokeStmt: Statement;
  expr: Expr;
  andExpr: Expr;
  notExpr: Expr;
  predicate: Expr;
  additive: Expr;
  multiplicative: Expr;
  unary: Expr;
  atom: Expr;
}

/**
 * Every rule's method, typed: its children as the grammar makes them, the node itself (the
 * visitor's parameter, for locating errors), and what it returns.
 */
type TypedVisitor = { [K in RuleName]: (children: ChildrenOf<K>, node: CstNode) => RuleResults[K] };

const CstVisitor = parser.getBaseCstVisitorConstructor<CstNode, unknown>();

class AstBuilder extends CstVisitor implements TypedVisitor, Cst.AqlCstVisitor<CstNode, unknown> {
  readonly source: string;
  /** Bins written as bare PK / DIGEST / EDIGEST: key references, not bins. */
  readonly keyRefs = new WeakMap<Expr, { word: 'PK' | 'DIGEST' | 'EDIGEST'; at: IToken }>();
  /** Where each expression came from, for errors. */
  readonly exprAt = new WeakMap<Expr, Located>();

  constructor(source: string) {
    super();
    this.source = source;
  }

  /** Visits one child node with its rule's method (the node is the parameter, for locations). */
  sub<K extends RuleName>(node: CstNode & { name: K }): RuleResults[K] {
    return this.visit(node, node) as RuleResults[K];
  }

  /** Visits an optional child: null when the grammar left it out. */
  opt<K extends RuleName>(nodes: readonly (CstNode & { name: K })[] | undefined): RuleResults[K] | null {
    const node = nodes?.[0];
    return node === undefined ? null : this.sub(node);
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

  nsSet(c: Cst.NsSetCstChildren): Target {
    const nsTok = one(c.ns, 'ns');
    const setTok = c.set?.[0];
    const namespace = this.checkName('ns', this.nameText(nsTok), nsTok);
    const set = setTok === undefined ? null : this.checkName('set', this.nameText(setTok), setTok);
    return { namespace, set };
  }

  collection(c: Cst.CollectionCstChildren): CollectionType {
    if (c.LIST) return 'LIST';
    if (c.MAPKEYS) return 'MAPKEYS';
    return 'MAPVALUES';
  }

  integer(t: IToken, what: string): bigint {
    const v = BigInt(t.image);
    if (v > INT64_MAX) this.fail('PARAMETER', `${what} ${t.image} is outside the 64-bit signed range`, t);
    return v;
  }

  // ---- statements ----
  statement(c: Cst.StatementCstChildren): Statement {
    // exactly one statement rule filled it; the only other child is the optional ';'
    const { Semicolon: _semicolon, ...statements } = c;
    const child = Object.values(statements).flat()[0];
    if (child === undefined) throw new Error('AQL grammar: empty statement');
    return this.sub(child);
  }

  deleteStmt(c: Cst.DeleteStmtCstChildren): Statement {
    const target = this.sub(one(c.nsSet, 'nsSet'));
    return { kind: 'delete', target, key: this.keyOnly(one(c.expr, 'expr'), 'DELETE') };
  }

  truncateStmt(c: Cst.TruncateStmtCstChildren): Statement {
    const target = this.sub(one(c.nsSet, 'nsSet'));
    const i = c.IntegerLit?.[0];
    const s = c.StringLit?.[0];
    return { kind: 'truncate', target, upto: i !== undefined ? this.integer(i, 'UPTO') : s !== undefined ? this.nameText(s) : null };
  }

  explainStmt(c: Cst.ExplainStmtCstChildren): Statement {
    return { kind: 'explain', statement: this.sub(one(c.selectStmt, 'selectStmt')) };
  }

  statStmt(c: Cst.StatStmtCstChildren): Statement {
    if (c.SYSTEM) return { kind: 'stat', what: 'SYSTEM' };
    const ns = one(c.ns, 'ns');
    const namespace = this.checkName('ns', this.nameText(ns), ns);
    if (c.NAMESPACE) return { kind: 'stat', what: 'NAMESPACE', namespace };
    return { kind: 'stat', what: 'INDEX', namespace, index: this.nameText(one(c.index, 'index')) };
  }

  setStmt(c: Cst.SetStmtCstChildren): Statement {
    if (c.PASSWORD !== undefined) {
      const u = c.user?.[0];
      return { kind: 'set-password', password: this.nameText(one(c.password, 'password')), user: u === undefined ? null : this.nameText(u) };
    }
    if (c.WHITELIST !== undefined) return { kind: 'set-whitelist', whitelist: this.sub(one(c.addressList, 'addressList')), role: this.nameText(one(c.role, 'role')) };
    const valueNode = one(c.settingValue, 'settingValue');
    if (c.config === undefined) {
      const st = one(c.setting, 'setting');
      const name = this.located(st, () => settingName(this.nameText(st)));
      const { negative, token } = this.sub(valueNode);
      const quoted = token.tokenType.name === 'SqString' || token.tokenType.name === 'DqString' || token.tokenType.name === 'QuotedName';
      const text = `${negative ? '-' : ''}${quoted ? this.nameText(token) : token.image}`;
      const value = this.located(valueNode, () => parseSettingValue(name, text));
      return { kind: 'set-setting', name, value: settingText(value) };
    }
    const name = (c.path ?? []).map((t) => this.nameText(t)).join('.');
    const { negative, token } = this.sub(valueNode);
    const kind = token.tokenType.name;
    const value = kind === 'TRUE' ? true : kind === 'FALSE' ? false
      : kind === 'IntegerLit' || kind === 'HexLit' || kind === 'DoubleLit' ? (negative ? -1 : 1) * Number(token.image)
      : this.nameText(token);
    return { kind: 'set-config', name, value };
  }

  settingValue(c: Cst.SettingValueCstChildren): RuleResults['settingValue'] {
    const token = c.Name?.[0] ?? c.IntegerLit?.[0] ?? c.HexLit?.[0] ?? c.DoubleLit?.[0] ?? c.TRUE?.[0] ?? one(c.FALSE, 'setting value');
    return { negative: c.Minus !== undefined, token };
  }

  getStmt(c: Cst.GetStmtCstChildren): Statement {
    const st = one(c.setting, 'setting');
    if (st.image.toUpperCase() === 'ALL' && st.tokenType.name === 'ALL') return { kind: 'get-setting', name: null };
    return { kind: 'get-setting', name: this.located(st, () => settingName(this.nameText(st))) };
  }

  resetStmt(c: Cst.ResetStmtCstChildren): Statement {
    const st = one(c.setting, 'setting');
    return { kind: 'reset-setting', name: this.located(st, () => settingName(this.nameText(st))) };
  }

  runStmt(c: Cst.RunStmtCstChildren): Statement {
    return { kind: 'run', path: this.sub(one(c.moduleName, 'moduleName')) };
  }

  helpStmt(c: Cst.HelpStmtCstChildren): Statement {
    const words = (c.topic ?? []).map((t) => this.nameText(t).toUpperCase());
    return { kind: 'help', topic: words.length === 0 ? null : words.join(' ') };
  }

  exitStmt(): Statement {
    return { kind: 'exit' };
  }

  createIndexStmt(c: Cst.CreateIndexStmtCstChildren): Statement {
    const type: IndexType = c.NUMERIC ? 'NUMERIC' : c.STRING ? 'STRING' : c.BLOB ? 'BLOB' : 'GEO2DSPHERE';
    const binTok = one(c.bin, 'bin');
    return {
      kind: 'create-index',
      collection: this.opt(c.collection),
      name: this.indexName(one(c.index, 'index')),
      target: this.sub(one(c.nsSet, 'nsSet')),
      bin: this.checkName('bin', this.nameText(binTok), binTok),
      type,
    };
  }

  dropIndexStmt(c: Cst.DropIndexStmtCstChildren): Statement {
    return { kind: 'drop-index', target: this.sub(one(c.nsSet, 'nsSet')), name: this.indexName(one(c.index, 'index')) };
  }

  registerStmt(c: Cst.RegisterStmtCstChildren): Statement {
    return { kind: 'register-module', path: this.nameText(one(c.StringLit, 'StringLit')) };
  }

  removeStmt(c: Cst.RemoveStmtCstChildren): Statement {
    return { kind: 'remove-module', module: this.moduleFile(one(c.moduleName, 'moduleName')) };
  }

  descStmt(c: Cst.DescStmtCstChildren): Statement {
    return { kind: 'desc-module', module: this.moduleFile(one(c.moduleName, 'moduleName')) };
  }

  killStmt(c: Cst.KillStmtCstChildren): Statement {
    return { kind: 'kill-job', id: this.integer(one(c.IntegerLit, 'IntegerLit'), 'job id') };
  }

  createUserStmt(c: Cst.CreateUserStmtCstChildren): Statement {
    return {
      kind: 'create-user', user: this.nameText(one(c.user, 'user')), password: this.nameText(one(c.password, 'password')),
      roles: this.opt(c.nameList) ?? [],
    };
  }

  createRoleStmt(c: Cst.CreateRoleStmtCstChildren): Statement {
    const role = one(c.role, 'role');
    if (c.privilegeList === undefined && c.addressList === undefined) this.fail('PARAMETER', 'Either privileges or whitelist is required', role, { hint: 'CREATE ROLE <role> PRIVILEGES <priv[.ns[.set]]>, … [WHITELIST <address>, …]' });
    return {
      kind: 'create-role', role: this.nameText(role),
      privileges: this.opt(c.privilegeList) ?? [],
      whitelist: this.opt(c.addressList) ?? [],
    };
  }

  dropUserStmt(c: Cst.DropUserStmtCstChildren): Statement {
    return { kind: 'drop-user', user: this.nameText(one(c.user, 'user')) };
  }

  dropRoleStmt(c: Cst.DropRoleStmtCstChildren): Statement {
    return { kind: 'drop-role', role: this.nameText(one(c.role, 'role')) };
  }

  grantStmt(c: Cst.GrantStmtCstChildren): Statement {
    if (c.nameList !== undefined) return { kind: 'grant-roles', roles: this.sub(one(c.nameList, 'nameList')), user: this.nameText(one(c.user, 'user')) };
    return { kind: 'grant-privileges', privileges: this.sub(one(c.privilegeList, 'privilegeList')), role: this.nameText(one(c.role, 'role')) };
  }

  revokeStmt(c: Cst.RevokeStmtCstChildren): Statement {
    if (c.nameList !== undefined) return { kind: 'revoke-roles', roles: this.sub(one(c.nameList, 'nameList')), user: this.nameText(one(c.user, 'user')) };
    return { kind: 'revoke-privileges', privileges: this.sub(one(c.privilegeList, 'privilegeList')), role: this.nameText(one(c.role, 'role')) };
  }

  // ---- lists and keywords ----
  nameList(c: Cst.NameListCstChildren): string[] {
    return c.Name.map((t) => this.nameText(t));
  }

  /** A privilege as typed: name, name.ns or name.ns.set (checked by the security subsystem). */
  privilege(c: Cst.PrivilegeCstChildren): string {
    return c.Name.map((t) => this.nameText(t)).join('.');
  }

  privilegeList(c: Cst.PrivilegeListCstChildren): string[] {
    return c.privilege.map((p) => this.sub(p));
  }

  /** An address as typed: its tokens joined back (10.0.0.0/8), a quoted one unquoted. */
  address(c: Cst.AddressCstChildren): string {
    const toks = [c.StringLit, c.DoubleLit, c.IntegerLit, c.Dot, c.Slash].flatMap((l) => l ?? []).sort((x, y) => x.startOffset - y.startOffset);
    return toks.map((t) => (t.tokenType.name === 'SqString' || t.tokenType.name === 'DqString' ? this.nameText(t) : t.image)).join('');
  }

  addressList(c: Cst.AddressListCstChildren): string[] {
    return c.address.map((a) => this.sub(a));
  }

  rolesKw(c: Cst.RolesKwCstChildren): 'ROLE' | 'ROLES' {
    return c.ROLE ? 'ROLE' : 'ROLES';
  }

  privilegesKw(c: Cst.PrivilegesKwCstChildren): 'PRIVILEGE' | 'PRIVILEGES' {
    return c.PRIVILEGE ? 'PRIVILEGE' : 'PRIVILEGES';
  }

  moduleKw(c: Cst.ModuleKwCstChildren): 'MODULE' | 'PACKAGE' {
    return c.MODULE ? 'MODULE' : 'PACKAGE';
  }

  indexName(t: IToken): string {
    const name = this.nameText(t);
    if (name.length === 0) this.fail('PARAMETER', 'Index name is empty', t);
    if (/[;:]/.test(name)) this.fail('PARAMETER', `Index name '${name}' contains ';' or ':'`, t, { hint: 'index names may not contain ; or :' });
    return name;
  }

  moduleName(c: Cst.ModuleNameCstChildren): string {
    return c.Name.map((t) => this.nameText(t)).join('.');
  }

  /** A module named by its file: what follows the last '/' of the name as typed. */
  moduleFile(n: Cst.ModuleNameCstNode): string {
    const full = this.sub(n);
    return full.slice(full.lastIndexOf('/') + 1);
  }

  // ---- key-value statements ----
  selectStmt(c: Cst.SelectStmtCstChildren): SelectStatement {
    let items: SelectItem[] | null = null;
    if (c.Star === undefined) {
      items = (c.selectItem ?? []).map((it) => this.sub(it));
      const aggs = items.filter((i) => i.kind === 'aggregate').length;
      if (aggs > 0 && aggs < items.length) {
        this.fail('PARAMETER', 'A SELECT lists either bins or aggregates (COUNT, SUM, MIN, MAX, AVG), not both', one(c.selectItem, 'selectItem'), { hint: 'run two statements' });
      }
    }
    const target = this.sub(one(c.nsSet, 'nsSet'));
    const inType = this.opt(c.collection);
    const early = c.earlyLimitValue?.[0];
    const late = c.limitValue?.[0];
    if (early !== undefined && late !== undefined) this.fail('PARAMETER', 'LIMIT is given twice', late);
    const limitTok = early ?? late;
    const limit = limitTok === undefined ? null : this.integer(limitTok, 'LIMIT');
    const exprNode = c.expr?.[0];
    let where: Where | null = null;
    if (exprNode !== undefined) {
      where = this.where(exprNode);
      if (where.kind === 'key' && inType !== null) this.fail('PARAMETER', `IN ${inType} cannot be used with WHERE PK`, exprNode, { hint: 'IN applies to queries on a bin' });
    }
    const orderBy = (c.orderItem ?? []).map((o) => this.sub(o));
    return { kind: 'select', items, target, in: inType, where, orderBy, limit };
  }

  orderItem(c: Cst.OrderItemCstChildren): OrderItem {
    const t = one(c.Name, 'Name');
    return { bin: this.checkName('bin', this.nameText(t), t), direction: c.DESC ? 'DESC' : 'ASC' };
  }

  selectItem(c: Cst.SelectItemCstChildren): SelectItem {
    const t = one(c.Name, 'Name');
    if (c.LParen === undefined) return { kind: 'bin', name: this.checkName('bin', this.nameText(t), t) };
    const fn = this.nameText(t).toUpperCase();
    if (fn !== 'COUNT' && fn !== 'SUM' && fn !== 'MIN' && fn !== 'MAX' && fn !== 'AVG') {
      this.fail('PARAMETER', `Unknown aggregate function ${this.nameText(t)}()`, t, { expected: ['COUNT', 'SUM', 'MIN', 'MAX', 'AVG'] });
    }
    const arg = c.arg?.[0];
    if (c.Star !== undefined) {
      if (fn !== 'COUNT') this.fail('PARAMETER', `${fn}(*) is not an aggregate; name a bin`, t, { hint: `${fn}(bin)` });
      return { kind: 'aggregate', fn, bin: null };
    }
    if (arg === undefined) this.fail('PARAMETER', `${fn}() needs a bin`, t, { hint: fn === 'COUNT' ? 'COUNT(*)' : `${fn}(bin)` });
    return { kind: 'aggregate', fn, bin: this.checkName('bin', this.nameText(arg), arg) };
  }

  insertStmt(c: Cst.InsertStmtCstChildren): Statement {
    const nsSet = one(c.nsSet, 'nsSet');
    const target = this.sub(nsSet);
    const names = c.Name;
    const exprs = c.expr;
    const first = names[0];
    if (first === undefined || this.nameText(first).toUpperCase() !== 'PK') {
      this.fail('PARAMETER', 'The first name in INSERT must be PK', first ?? one(c.LParen, 'LParen'), { expected: ['PK'], hint: 'INSERT INTO ns.set (PK, bin1, …) VALUES (key, v1, …)' });
    }
    if (names.length < 2) this.fail('PARAMETER', 'INSERT needs at least one bin after PK', first, { hint: 'INSERT INTO ns.set (PK, bin1) VALUES (key, v1)' });
    if (names.length !== exprs.length) {
      const rp = c.RParen[1] ?? one(c.VALUES, 'VALUES');
      this.fail('PARAMETER', `INSERT names ${names.length} columns (PK and ${names.length - 1} bins) but gives ${exprs.length} values`, rp);
    }
    for (const t of [...nsSet.children.ns, ...(nsSet.children.set ?? []), ...names]) {
      const bad = /[;:]/.exec(this.nameText(t));
      if (bad) this.fail('CLIENT_ERROR', `Illegal character - '${bad[0]}'`, t, { aqlText: `Illegal character - '${bad[0]}'` });
    }
    const keyExpr = one(exprs, 'expr');
    const key: KeyRef = { kind: 'pk', value: this.keyValue(this.literal(keyExpr), keyExpr) };
    const bins = names.slice(1).map((t, i) => {
      const e = exprs[i + 1] as Cst.ExprCstNode;
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

  updateStmt(c: Cst.UpdateStmtCstChildren): Statement {
    const target = this.sub(one(c.nsSet, 'nsSet'));
    const assigns = c.assignment.map((a) => this.sub(a));
    const bins = assigns.map(({ name, value }) => ({ name, value }));
    this.noDuplicates(bins.map((b) => b.name), assigns.map((a) => a.nameTok));
    return { kind: 'update', target, bins, key: this.keyOnly(one(c.expr, 'expr'), 'UPDATE') };
  }

  assignment(c: Cst.AssignmentCstChildren): RuleResults['assignment'] {
    const t = one(c.Name, 'Name');
    const op = one(c.CompareOp, 'CompareOp');
    if (op.image !== '=' && op.image !== '==') this.fail('PARAMETER', `Expected '=' in SET, got '${op.image}'`, op, { expected: ["'='"] });
    return { name: this.checkName('bin', this.nameText(t), t), nameTok: t, value: this.literal(one(c.expr, 'expr')) };
  }

  operateStmt(c: Cst.OperateStmtCstChildren): Statement {
    const ops = c.call.map((call) => this.sub(call));
    const target = this.sub(one(c.nsSet, 'nsSet'));
    return { kind: 'operate', ops, target, key: this.keyOnly(one(c.expr, 'expr'), 'OPERATE') };
  }

  /** One operation of OPERATE: a known name, its bin, and literal arguments in the allowed number. */
  call(c: Cst.CallCstChildren): Operation {
    const nameTok = one(c.ExprName, 'ExprName');
    const op = this.nameText(nameTok).toUpperCase();
    const spec = OPERATIONS[op];
    if (spec === undefined) {
      this.fail('PARAMETER', `Unknown operation ${this.nameText(nameTok)}`, nameTok, { hint: 'see HELP OPERATE for the operations', expected: Object.keys(OPERATIONS) });
    }
    const args = c.expr ?? [];
    let bin: string | null = null;
    let rest = args;
    if (spec.bin) {
      const first = args[0];
      if (first === undefined) this.fail('PARAMETER', `${op} needs a bin name as its first argument`, nameTok, { hint: spec.usage });
      const e = this.sub(first);
      if (e.kind === 'bin') bin = this.checkName('bin', e.name, this.firstToken(first));
      else if (e.kind === 'literal' && typeof e.value === 'string') bin = this.checkName('bin', e.value, this.firstToken(first));
      else this.fail('PARAMETER', `${op} needs a bin name as its first argument`, first, { hint: spec.usage });
      rest = args.slice(1);
    }
    if (rest.length < spec.min || rest.length > spec.max) {
      this.fail('PARAMETER', `${op} takes ${spec.min === spec.max ? spec.min : `${spec.min} to ${spec.max}`} value${spec.max === 1 ? '' : 's'}${spec.bin ? ' after the bin' : ''}, got ${rest.length}`, nameTok, { hint: spec.usage });
    }
    const mods: { policy?: string[]; returnType?: string } = {};
    for (const m of c.callModifier ?? []) {
      const { name, tok, words } = this.sub(m);
      if (name === 'WITH_POLICY' && mods.policy === undefined && words.length > 0) mods.policy = words;
      else if (name === 'WITH_RETURN' && mods.returnType === undefined && words.length === 1) mods.returnType = words[0] as string;
      else this.fail('PARAMETER', `${op}: ${name}(${words.join(', ')}) is not an operation modifier here`, tok, { hint: 'after an operation: WITH_POLICY(<policy>[, <policy>]) once, WITH_RETURN(<return type>) once' });
    }
    return { op, bin, args: rest.map((e) => this.literal(e)), ...mods };
  }

  /** WITH_POLICY(…) / WITH_RETURN(…) after an operation: its name and its words (bare names or quoted strings). */
  callModifier(c: Cst.CallModifierCstChildren): RuleResults['callModifier'] {
    const tok = one(c.ExprName, 'ExprName');
    const name = this.nameText(tok).toUpperCase();
    const words = (c.expr ?? []).map((e) => {
      // a bare name or a quoted string (names, not bin names: no length limit)
      const first = this.firstToken(e);
      const text = first.tokenType.name === 'SqString' || first.tokenType.name === 'DqString' ? first.image.slice(1, -1) : /^[A-Za-z_][A-Za-z0-9_]*$/.test(first.image) ? first.image : undefined;
      if (text === undefined || first.endOffset !== this.lastOffset(e)) {
        return this.fail('PARAMETER', `${name} takes names such as AS_MAP_KEY_ORDERED or KEY_VALUE`, e, { hint: 'write WITH_POLICY(AS_MAP_KEY_ORDERED) or WITH_RETURN(KEY_VALUE)' });
      }
      return text.toUpperCase();
    });
    return { name, tok, words };
  }

  /** The end offset of the last token of `n`. */
  lastOffset(n: CstNode): number {
    let end = -1;
    const walk = (x: CstElement): void => {
      if ('image' in x) { end = Math.max(end, x.endOffset ?? -1); return; }
      for (const list of Object.values(x.children)) for (const c of list ?? []) walk(c);
    };
    walk(n);
    return end;
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

  showStmt(c: Cst.ShowStmtCstChildren): Statement {
    const security = c.USERS ? 'USERS' : c.USER ? 'USER' : c.ROLES ? 'ROLES' : c.ROLE ? 'ROLE' : undefined;
    const ns = c.nsSet?.[0];
    if (security !== undefined) {
      const nameTok = ns === undefined ? undefined : one(ns.children.ns, 'ns');
      if (ns !== undefined && ns.children.set !== undefined) this.fail('PARAMETER', `SHOW ${security} takes one name`, ns);
      if (nameTok !== undefined && (security === 'USERS' || security === 'ROLES')) this.fail('PARAMETER', `SHOW ${security} takes no name`, nameTok, { hint: `SHOW ${security.slice(0, -1)} <name> shows one` });
      if (nameTok === undefined && security === 'ROLE') this.fail('PARAMETER', 'SHOW ROLE needs a role name', one(c.ROLE, 'ROLE'), { hint: 'SHOW ROLES lists them all' });
      return { kind: 'show-security', what: security === 'USERS' || security === 'USER' ? 'USERS' : 'ROLES', name: nameTok === undefined ? null : this.nameText(nameTok) };
    }
    const what = c.NAMESPACES ? 'NAMESPACES' : c.SETS ? 'SETS' : c.BINS ? 'BINS'
      : c.INDEXES || c.INDEX ? 'INDEXES' : c.MODULES || c.PACKAGES ? 'MODULES'
      : c.CLUSTER ? 'CLUSTER' : c.PARTITIONS ? 'PARTITIONS' : c.PLUGINS ? 'PLUGINS' : c.CONFIG ? 'CONFIG' : 'JOBS';
    let namespace: string | null = null;
    if (ns !== undefined) {
      const t = this.sub(ns);
      if (t.set !== null) this.fail('PARAMETER', `SHOW ${what} takes a namespace, not a set`, one(ns.children.set, 'set'));
      if (what === 'NAMESPACES' || what === 'MODULES' || what === 'JOBS' || what === 'CLUSTER' || what === 'PLUGINS' || what === 'CONFIG') this.fail('PARAMETER', `SHOW ${what} takes no namespace`, ns);
      namespace = t.namespace;
    }
    return { kind: 'show', what, namespace };
  }

  // ---- UDFs ----
  udfCall(c: Cst.UdfCallCstChildren): UdfCall {
    return {
      module: this.nameText(one(c.module, 'module')),
      fn: this.nameText(one(c.fn, 'fn')),
      args: (c.expr ?? []).map((e) => this.literal(e)),
    };
  }

  executeStmt(c: Cst.ExecuteStmtCstChildren): ExecuteStatement {
    const call = this.sub(one(c.udfCall, 'udfCall'));
    const target = this.sub(one(c.nsSet, 'nsSet'));
    const inType = this.opt(c.collection);
    const e = c.expr?.[0];
    const where = e === undefined ? null : this.where(e);
    if (where?.kind === 'key' && inType !== null) this.fail('PARAMETER', `IN ${inType} cannot be used with WHERE PK`, e as CstNode);
    return { kind: 'execute', call, target, in: inType, where };
  }

  aggregateStmt(c: Cst.AggregateStmtCstChildren): AggregateStatement {
    const call = this.sub(one(c.udfCall, 'udfCall'));
    const target = this.sub(one(c.nsSet, 'nsSet'));
    const inType = this.opt(c.collection);
    const e = c.expr?.[0];
    let where: Expr | null = null;
    if (e !== undefined) {
      const w = this.where(e);
      if (w.kind === 'key') this.fail('PARAMETER', 'AGGREGATE runs over a scan or query, not one record', e, { hint: 'use EXECUTE … WHERE PK = … for a record UDF' });
      where = w.expr;
    }
    return { kind: 'aggregate', call, target, in: inType, where };
  }

  // ---- WHERE and keys ----
  where(n: Cst.ExprCstNode): Where {
    const e = this.sub(n);
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

  keyOnly(n: Cst.ExprCstNode, stmt: string): KeyRef {
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
  literal(n: Cst.ExprCstNode): BinValue {
    const e = this.sub(n);
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

  expr(c: Cst.ExprCstChildren, n: CstNode): Expr {
    const parts = c.andExpr.map((a) => this.sub(a));
    if (parts.length === 1) return parts[0] as Expr;
    return this.at({ kind: 'or', operands: parts.flatMap((p) => (p.kind === 'or' ? p.operands : [p])) }, n);
  }

  andExpr(c: Cst.AndExprCstChildren, n: CstNode): Expr {
    const parts = c.notExpr.map((a) => this.sub(a));
    if (parts.length === 1) return parts[0] as Expr;
    return this.at({ kind: 'and', operands: parts.flatMap((p) => (p.kind === 'and' ? p.operands : [p])) }, n);
  }

  notExpr(c: Cst.NotExprCstChildren, n: CstNode): Expr {
    const inner = c.notExpr?.[0];
    if (inner !== undefined) return this.at({ kind: 'not', operand: this.sub(inner) }, n);
    return this.sub(one(c.predicate, 'predicate'));
  }

  predicate(c: Cst.PredicateCstChildren, n: CstNode): Expr {
    const left = this.sub(one(c.additive, 'additive'));
    const op = c.CompareOp?.[0];
    if (op !== undefined) {
      const map: Record<string, CompareOp> = { '=': '=', '==': '=', '!=': '!=', '<>': '!=', '<': '<', '<=': '<=', '>': '>', '>=': '>=' };
      return this.at({ kind: 'compare', op: map[op.image] ?? '=', left, right: this.sub(one(c.right, 'right')) }, n);
    }
    if (c.BETWEEN) return this.at({ kind: 'between', operand: left, low: this.sub(one(c.low, 'low')), high: this.sub(one(c.high, 'high')) }, n);
    if (c.CONTAINS || c.WITHIN) {
      return this.at({ kind: 'geo', op: c.CONTAINS ? 'CONTAINS' : 'WITHIN', operand: left, region: this.sub(one(c.region, 'region')) }, n);
    }
    return left;
  }

  additive(c: Cst.AdditiveCstChildren): Expr {
    const terms = c.multiplicative.map((m) => this.sub(m));
    let acc = terms[0] as Expr;
    (c.op ?? []).forEach((op, i) => {
      acc = this.at({ kind: 'arith', op: op.image === '+' ? '+' : '-', left: acc, right: terms[i + 1] as Expr }, op);
    });
    return acc;
  }

  multiplicative(c: Cst.MultiplicativeCstChildren): Expr {
    const terms = c.unary.map((m) => this.sub(m));
    let acc = terms[0] as Expr;
    (c.op ?? []).forEach((op, i) => {
      acc = this.at({ kind: 'arith', op: op.image === '*' ? '*' : op.image === '/' ? '/' : '%', left: acc, right: terms[i + 1] as Expr }, op);
    });
    return acc;
  }

  unary(c: Cst.UnaryCstChildren, n: CstNode): Expr {
    const inner = c.unary?.[0];
    if (c.Minus !== undefined && inner !== undefined) {
      // -<integer literal>: negate before the range check, so -9223372036854775808 is allowed
      const atom = inner.children.atom?.[0];
      const intTok = atom === undefined ? undefined : (atom.children.IntegerLit?.[0] ?? atom.children.HexLit?.[0]);
      if (intTok !== undefined) {
        const v = -BigInt(intTok.image);
        if (v < -(2n ** 63n)) this.fail('PARAMETER', `integer -${intTok.image} is outside the 64-bit signed range`, intTok);
        return this.at({ kind: 'literal', value: v }, n);
      }
      const e = this.sub(inner);
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
      const e = this.sub(inner);
      if (e.kind === 'literal' && typeof e.value !== 'bigint' && typeof e.value !== 'number') this.fail('PARAMETER', "Unary '+' applies to numbers only", n);
      return e;
    }
    return this.sub(one(c.atom, 'atom'));
  }

  atom(c: Cst.AtomCstChildren, n: CstNode): Expr {
    const lit = (value: BinValue, t: Located): Expr => this.at({ kind: 'literal', value }, t);
    let t: IToken | undefined;
    if ((t = c.IntegerLit?.[0] ?? c.HexLit?.[0]) !== undefined) return lit(this.integer(t, 'integer'), t);
    if ((t = c.DoubleLit?.[0]) !== undefined) return lit(Number(t.image), t);
    if ((t = c.StringLit?.[0]) !== undefined) return lit(this.nameText(t), t);
    if ((t = c.TRUE?.[0]) !== undefined) return lit(true, t);
    if ((t = c.FALSE?.[0]) !== undefined) return lit(false, t);
    if ((t = c.NULL?.[0]) !== undefined) return lit(null, t);
    if (c.CAST !== undefined) {
      const typeTok = one(c.type, 'type');
      const type = this.nameText(typeTok).toUpperCase();
      if (!isTypeName(type)) this.fail('PARAMETER', `Unknown type ${this.nameText(typeTok)} in CAST`, typeTok, { expected: ['INT', 'FLOAT', 'STRING', 'BOOL', 'JSON', 'LIST', 'MAP', 'GEOJSON', 'BYTES'] });
      const inner = this.sub(one(c.expr, 'expr'));
      if (inner.kind !== 'literal') return this.at({ kind: 'call', name: type, args: [inner] }, n);
      return lit(this.located(n, () => castValue(type, inner.value)), n);
    }
    const nameTok = c.ExprName?.[0];
    if (nameTok === undefined) return this.sub(one(c.expr, 'expr')); // ( expr )
    const text = this.nameText(nameTok);
    if (c.callOpen === undefined) {
      const e: Expr = this.at({ kind: 'bin', name: text }, nameTok);
      const up = text.toUpperCase();
      if (nameTok.tokenType.name !== 'QuotedName' && (up === 'PK' || up === 'DIGEST' || up === 'EDIGEST')) {
        this.keyRefs.set(e, { word: up, at: nameTok });
      } else {
        this.checkName('bin', text, nameTok);
      }
      return e;
    }
    if (c.Star !== undefined) this.fail('PARAMETER', `${text}(*) is only allowed as SELECT COUNT(*)`, nameTok);
    const args = (c.arg ?? []).map((a) => this.sub(a));
    const name = text.toUpperCase();
    if (isTypeName(name) && args.length === 1 && args[0]?.kind === 'literal') {
      const v = args[0].value;
      return lit(this.located(n, () => castValue(name, v)), n);
    }
    if (isTypeName(name) && args.length !== 1) this.fail('PARAMETER', `${name}(…) takes one value`, nameTok, { hint: `${name}('…')` });
    return this.at({ kind: 'call', name, args }, n);
  }
}

// a visitor method missing for a grammar rule fails here, when the module loads, not on the first statement that needs it
new AstBuilder('').validateVisitor();

/** Converts a parsed `statement` CST to the AST. `source` is the full text the tokens came from. */
export function buildStatement(cst: CstNode, source: string): Statement {
  return new AstBuilder(source).sub(cst as Cst.StatementCstNode);
}
