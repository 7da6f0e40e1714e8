/**
 * The grammar of AQL as a Chevrotain CstParser: grammar only, no actions. `build-ast.ts`
 * turns the CST into the typed AST (a CST visitor typed by `cst-types.ts`, which
 * `npm run aql:cst` generates from this grammar). New statements slot in as new rules in
 * `statement`: regenerate the types, and the type check asks for the visitor method.
 */
import { CstParser, type CstNode, type IParserErrorMessageProvider, type IToken, type TokenType, EOF } from 'chevrotain';
import {
  allTokens, KW, Name, ExprName, StringLit, CompareOp, QuotedName, DoubleLit, HexLit, IntegerLit,
  Plus, Minus, Star, Slash, Percent, LParen, RParen, Comma, Semicolon, Dot,
} from './lexer.ts';

/** What the last parse error expected, collected by the message provider. */
export interface ExpectedInfo { expected: TokenType[] }
const lastExpected: ExpectedInfo = { expected: [] };

function firstTokens(paths: TokenType[][]): TokenType[] {
  const out: TokenType[] = [];
  for (const p of paths) { const t = p[0]; if (t !== undefined && !out.includes(t)) out.push(t); }
  return out;
}

const messages: IParserErrorMessageProvider = {
  buildMismatchTokenMessage({ expected }) { lastExpected.expected = [expected]; return 'mismatch'; },
  buildNotAllInputParsedMessage() { lastExpected.expected = [Semicolon]; return 'redundant'; },
  buildNoViableAltMessage({ expectedPathsPerAlt }) { lastExpected.expected = firstTokens(expectedPathsPerAlt.flat()); return 'noalt'; },
  buildEarlyExitMessage({ expectedIterationPaths }) { lastExpected.expected = firstTokens(expectedIterationPaths); return 'earlyexit'; },
};

export function takeExpected(): TokenType[] {
  const e = lastExpected.expected;
  lastExpected.expected = [];
  return e;
}

class AqlParser extends CstParser {
  constructor() {
    super(allTokens, { maxLookahead: 3, errorMessageProvider: messages, recoveryEnabled: false, nodeLocationTracking: 'full' });
    this.performSelfAnalysis();
  }

  statement = this.RULE('statement', () => {
    this.OR([
      { ALT: () => this.SUBRULE(this.selectStmt) },
      { ALT: () => this.SUBRULE(this.insertStmt) },
      { ALT: () => this.SUBRULE(this.updateStmt) },
      { ALT: () => this.SUBRULE(this.deleteStmt) },
      { ALT: () => this.SUBRULE(this.operateStmt) },
      { ALT: () => this.SUBRULE(this.truncateStmt) },
      { ALT: () => this.SUBRULE(this.explainStmt) },
      { ALT: () => this.SUBRULE(this.showStmt) },
      { ALT: () => this.SUBRULE(this.statStmt) },
      { ALT: () => this.SUBRULE(this.setStmt) },
      { ALT: () => this.SUBRULE(this.getStmt) },
      { ALT: () => this.SUBRULE(this.resetStmt) },
      { ALT: () => this.SUBRULE(this.runStmt) },
      { ALT: () => this.SUBRULE(this.helpStmt) },
      { ALT: () => this.SUBRULE(this.exitStmt) },
      { ALT: () => this.SUBRULE(this.createIndexStmt) },
      { ALT: () => this.SUBRULE(this.dropIndexStmt) },
      { ALT: () => this.SUBRULE(this.registerStmt) },
      { ALT: () => this.SUBRULE(this.removeStmt) },
      { ALT: () => this.SUBRULE(this.descStmt) },
      { ALT: () => this.SUBRULE(this.executeStmt) },
      { ALT: () => this.SUBRULE(this.aggregateStmt) },
      { ALT: () => this.SUBRULE(this.killStmt) },
      { ALT: () => this.SUBRULE(this.createUserStmt) },
      { ALT: () => this.SUBRULE(this.createRoleStmt) },
      { ALT: () => this.SUBRULE(this.dropUserStmt) },
      { ALT: () => this.SUBRULE(this.dropRoleStmt) },
      { ALT: () => this.SUBRULE(this.grantStmt) },
      { ALT: () => this.SUBRULE(this.revokeStmt) },
    ]);
    this.OPTION(() => this.CONSUME(Semicolon));
  });

  // ---- names ----
  nsSet = this.RULE('nsSet', () => {
    this.CONSUME(Name, { LABEL: 'ns' });
    this.OPTION(() => { this.CONSUME(Dot); this.CONSUME2(Name, { LABEL: 'set' }); });
  });

  collection = this.RULE('collection', () => {
    this.OR([{ ALT: () => this.CONSUME(KW.LIST) }, { ALT: () => this.CONSUME(KW.MAPKEYS) }, { ALT: () => this.CONSUME(KW.MAPVALUES) }]);
  });

  // ---- key-value statements ----
  selectStmt = this.RULE('selectStmt', () => {
    this.CONSUME(KW.SELECT);
    this.OR([
      { ALT: () => this.CONSUME(Star) },
      { ALT: () => this.AT_LEAST_ONE_SEP({ SEP: Comma, DEF: () => this.SUBRULE(this.selectItem) }) },
    ]);
    this.CONSUME(KW.FROM);
    this.SUBRULE(this.nsSet);
    this.OPTION(() => { this.CONSUME(KW.LIMIT, { LABEL: 'earlyLimit' }); this.CONSUME(IntegerLit, { LABEL: 'earlyLimitValue' }); });
    this.OPTION2(() => { this.CONSUME(KW.IN); this.SUBRULE(this.collection); });
    this.OPTION3(() => { this.CONSUME(KW.WHERE); this.SUBRULE(this.expr); });
    this.OPTION4(() => {
      this.CONSUME(KW.ORDER); this.CONSUME(KW.BY);
      this.AT_LEAST_ONE_SEP2({ SEP: Comma, DEF: () => this.SUBRULE(this.orderItem) });
    });
    this.OPTION5(() => { this.CONSUME2(KW.LIMIT); this.CONSUME2(IntegerLit, { LABEL: 'limitValue' }); });
  });

  selectItem = this.RULE('selectItem', () => {
    this.CONSUME(Name);
    this.OPTION(() => {
      this.CONSUME(LParen);
      this.OPTION2(() => this.OR([{ ALT: () => this.CONSUME(Star) }, { ALT: () => this.CONSUME2(Name, { LABEL: 'arg' }) }]));
      this.CONSUME(RParen);
    });
  });

  orderItem = this.RULE('orderItem', () => {
    this.CONSUME(Name);
    this.OPTION(() => this.OR([{ ALT: () => this.CONSUME(KW.ASC) }, { ALT: () => this.CONSUME(KW.DESC) }]));
  });

  insertStmt = this.RULE('insertStmt', () => {
    this.CONSUME(KW.INSERT); this.CONSUME(KW.INTO);
    this.SUBRULE(this.nsSet);
    this.CONSUME(LParen);
    this.AT_LEAST_ONE_SEP({ SEP: Comma, DEF: () => this.CONSUME(Name) });
    this.CONSUME(RParen);
    this.CONSUME(KW.VALUES);
    this.CONSUME2(LParen);
    this.AT_LEAST_ONE_SEP2({ SEP: Comma, DEF: () => this.SUBRULE(this.expr) });
    this.CONSUME2(RParen);
  });

  updateStmt = this.RULE('updateStmt', () => {
    this.CONSUME(KW.UPDATE);
    this.SUBRULE(this.nsSet);
    this.CONSUME(KW.SET);
    this.AT_LEAST_ONE_SEP({ SEP: Comma, DEF: () => this.SUBRULE(this.assignment) });
    this.CONSUME(KW.WHERE);
    this.SUBRULE(this.expr);
  });

  assignment = this.RULE('assignment', () => {
    this.CONSUME(Name);
    this.CONSUME(CompareOp);
    this.SUBRULE(this.expr);
  });

  deleteStmt = this.RULE('deleteStmt', () => {
    this.CONSUME(KW.DELETE); this.CONSUME(KW.FROM);
    this.SUBRULE(this.nsSet);
    this.CONSUME(KW.WHERE);
    this.SUBRULE(this.expr);
  });

  operateStmt = this.RULE('operateStmt', () => {
    this.CONSUME(KW.OPERATE);
    this.AT_LEAST_ONE_SEP({ SEP: Comma, DEF: () => this.SUBRULE(this.call) });
    this.CONSUME(KW.ON);
    this.SUBRULE(this.nsSet);
    this.CONSUME(KW.WHERE);
    this.SUBRULE(this.expr);
  });

  /** name(args…) [modifier(args…)]…: an OPERATE operation, e.g. MAP_PUT(m, 'k', 1) WITH_POLICY(AS_MAP_KEY_ORDERED). */
  call = this.RULE('call', () => {
    this.CONSUME(ExprName);
    this.CONSUME(LParen);
    this.MANY_SEP({ SEP: Comma, DEF: () => this.SUBRULE(this.expr) });
    this.CONSUME(RParen);
    // only these names start a modifier (ON and other soft keywords are names too)
    this.MANY({ GATE: () => /^(WITH_POLICY|WITH_RETURN)$/i.test(this.LA(1).image), DEF: () => this.SUBRULE(this.callModifier) });
  });

  callModifier = this.RULE('callModifier', () => {
    this.CONSUME2(ExprName);
    this.CONSUME2(LParen);
    this.MANY_SEP2({ SEP: Comma, DEF: () => this.SUBRULE2(this.expr) });
    this.CONSUME2(RParen);
  });

  truncateStmt = this.RULE('truncateStmt', () => {
    this.CONSUME(KW.TRUNCATE);
    this.SUBRULE(this.nsSet);
    this.OPTION(() => {
      this.CONSUME(KW.UPTO);
      this.OR([{ ALT: () => this.CONSUME(IntegerLit) }, { ALT: () => this.CONSUME(StringLit) }]);
    });
  });

  explainStmt = this.RULE('explainStmt', () => {
    this.CONSUME(KW.EXPLAIN);
    this.SUBRULE(this.selectStmt);
  });

  // ---- info and session ----
  showStmt = this.RULE('showStmt', () => {
    this.CONSUME(KW.SHOW);
    this.OR([
      { ALT: () => this.CONSUME(KW.NAMESPACES) },
      { ALT: () => this.CONSUME(KW.SETS) },
      { ALT: () => this.CONSUME(KW.BINS) },
      { ALT: () => this.CONSUME(KW.INDEXES) },
      { ALT: () => this.CONSUME(KW.INDEX) },
      { ALT: () => this.CONSUME(KW.MODULES) },
      { ALT: () => this.CONSUME(KW.PACKAGES) },
      { ALT: () => this.CONSUME(KW.JOBS) },
      { ALT: () => this.CONSUME(KW.CLUSTER) },
      { ALT: () => this.CONSUME(KW.PARTITIONS) },
      { ALT: () => this.CONSUME(KW.PLUGINS) },
      { ALT: () => this.CONSUME(KW.CONFIG) },
      // SHOW USERS, SHOW USER <name>, SHOW ROLES, SHOW ROLE <name>: the name is read as the namespace slot
      { ALT: () => this.CONSUME(KW.USERS) },
      { ALT: () => this.CONSUME(KW.USER) },
      { ALT: () => this.CONSUME(KW.ROLES) },
      { ALT: () => this.CONSUME(KW.ROLE) },
    ]);
    this.OPTION(() => this.SUBRULE(this.nsSet));
  });

  statStmt = this.RULE('statStmt', () => {
    this.CONSUME(KW.STAT);
    this.OR([
      { ALT: () => this.CONSUME(KW.SYSTEM) },
      { ALT: () => { this.CONSUME(KW.NAMESPACE); this.CONSUME(Name, { LABEL: 'ns' }); } },
      { ALT: () => { this.CONSUME(KW.INDEX); this.CONSUME2(Name, { LABEL: 'ns' }); this.CONSUME3(Name, { LABEL: 'index' }); } },
    ]);
  });

  // SET <setting> <value>, and SET CONFIG namespaces.test.defaultTtl 3600 (a dotted setting path)
  setStmt = this.RULE('setStmt', () => {
    this.CONSUME(KW.SET);
    this.OR([
      // SET PASSWORD and SET WHITELIST are statements of their own, not settings named so
      {
        GATE: () => this.LA(1).tokenType === KW.PASSWORD, IGNORE_AMBIGUITIES: true,
        ALT: () => {
          this.CONSUME(KW.PASSWORD);
          this.CONSUME5(Name, { LABEL: 'password' });
          this.OPTION(() => { this.CONSUME(KW.FOR); this.CONSUME6(Name, { LABEL: 'user' }); });
        },
      },
      {
        GATE: () => this.LA(1).tokenType === KW.WHITELIST, IGNORE_AMBIGUITIES: true,
        ALT: () => {
          this.CONSUME(KW.WHITELIST);
          this.SUBRULE(this.addressList);
          this.CONSUME2(KW.FOR);
          this.CONSUME7(Name, { LABEL: 'role' });
        },
      },
      {
        ALT: () => {
          this.OR2([
            {
              GATE: () => this.LA(1).tokenType === KW.CONFIG && this.LA(2).tokenType !== EOF && this.LA(3).tokenType !== EOF,
              ALT: () => {
                this.CONSUME(KW.CONFIG, { LABEL: 'config' });
                this.CONSUME2(Name, { LABEL: 'path' });
                this.MANY(() => { this.CONSUME(Dot); this.CONSUME3(Name, { LABEL: 'path' }); });
              },
              IGNORE_AMBIGUITIES: true,
            },
            { ALT: () => this.CONSUME(Name, { LABEL: 'setting' }) },
          ]);
          this.SUBRULE(this.settingValue);
        },
      },
    ]);
  });

  settingValue = this.RULE('settingValue', () => {
    this.OR([
      { ALT: () => this.CONSUME(Name) },
      { ALT: () => { this.OPTION(() => this.CONSUME(Minus)); this.OR2([{ ALT: () => this.CONSUME(IntegerLit) }, { ALT: () => this.CONSUME(HexLit) }, { ALT: () => this.CONSUME(DoubleLit) }]); } },
      { ALT: () => this.CONSUME(KW.TRUE) },
      { ALT: () => this.CONSUME(KW.FALSE) },
    ]);
  });

  getStmt = this.RULE('getStmt', () => {
    this.CONSUME(KW.GET);
    this.CONSUME(Name, { LABEL: 'setting' });
  });

  resetStmt = this.RULE('resetStmt', () => {
    this.CONSUME(KW.RESET);
    this.CONSUME(Name, { LABEL: 'setting' });
  });

  runStmt = this.RULE('runStmt', () => {
    this.CONSUME(KW.RUN);
    this.SUBRULE(this.moduleName);
  });

  helpStmt = this.RULE('helpStmt', () => {
    this.CONSUME(KW.HELP);
    this.MANY(() => this.CONSUME(Name, { LABEL: 'topic' }));
  });

  exitStmt = this.RULE('exitStmt', () => {
    this.OR([{ ALT: () => this.CONSUME(KW.EXIT) }, { ALT: () => this.CONSUME(KW.QUIT) }, { ALT: () => this.CONSUME(KW.Q) }]);
  });

  // ---- secondary indexes ----
  createIndexStmt = this.RULE('createIndexStmt', () => {
    this.CONSUME(KW.CREATE);
    this.OPTION(() => this.SUBRULE(this.collection));
    this.CONSUME(KW.INDEX);
    this.CONSUME(Name, { LABEL: 'index' });
    this.CONSUME(KW.ON);
    this.SUBRULE(this.nsSet);
    this.CONSUME(LParen);
    this.CONSUME2(Name, { LABEL: 'bin' });
    this.CONSUME(RParen);
    this.OR([
      { ALT: () => this.CONSUME(KW.NUMERIC) },
      { ALT: () => this.CONSUME(KW.STRING) },
      { ALT: () => this.CONSUME(KW.BLOB) },
      { ALT: () => this.CONSUME(KW.GEO2DSPHERE) },
    ]);
  });

  dropIndexStmt = this.RULE('dropIndexStmt', () => {
    this.CONSUME(KW.DROP);
    this.CONSUME(KW.INDEX);
    this.SUBRULE(this.nsSet);
    this.CONSUME(Name, { LABEL: 'index' });
  });

  // ---- UDFs ----
  moduleKw = this.RULE('moduleKw', () => {
    this.OR([{ ALT: () => this.CONSUME(KW.MODULE) }, { ALT: () => this.CONSUME(KW.PACKAGE) }]);
  });

  moduleName = this.RULE('moduleName', () => {
    this.CONSUME(Name);
    this.MANY(() => { this.CONSUME(Dot); this.CONSUME2(Name); });
  });

  registerStmt = this.RULE('registerStmt', () => {
    this.CONSUME(KW.REGISTER);
    this.SUBRULE(this.moduleKw);
    this.CONSUME(StringLit);
  });

  removeStmt = this.RULE('removeStmt', () => {
    this.CONSUME(KW.REMOVE);
    this.SUBRULE(this.moduleKw);
    this.SUBRULE(this.moduleName);
  });

  descStmt = this.RULE('descStmt', () => {
    this.CONSUME(KW.DESC);
    this.SUBRULE(this.moduleKw);
    this.SUBRULE(this.moduleName);
  });

  udfCall = this.RULE('udfCall', () => {
    this.CONSUME(Name, { LABEL: 'module' });
    this.CONSUME(Dot);
    this.CONSUME2(Name, { LABEL: 'fn' });
    this.CONSUME(LParen);
    this.MANY_SEP({ SEP: Comma, DEF: () => this.SUBRULE(this.expr) });
    this.CONSUME(RParen);
  });

  executeStmt = this.RULE('executeStmt', () => {
    this.CONSUME(KW.EXECUTE);
    this.SUBRULE(this.udfCall);
    this.CONSUME(KW.ON);
    this.SUBRULE(this.nsSet);
    this.OPTION(() => { this.CONSUME(KW.IN); this.SUBRULE(this.collection); });
    this.OPTION2(() => { this.CONSUME(KW.WHERE); this.SUBRULE(this.expr); });
  });

  aggregateStmt = this.RULE('aggregateStmt', () => {
    this.CONSUME(KW.AGGREGATE);
    this.SUBRULE(this.udfCall);
    this.CONSUME(KW.ON);
    this.SUBRULE(this.nsSet);
    this.OPTION(() => { this.CONSUME(KW.IN); this.SUBRULE(this.collection); });
    this.OPTION2(() => { this.CONSUME(KW.WHERE); this.SUBRULE(this.expr); });
  });

  killStmt = this.RULE('killStmt', () => {
    this.CONSUME(KW.KILL);
    this.OPTION(() => this.CONSUME(KW.JOB));
    this.CONSUME(IntegerLit);
  });

  // ---- users and roles ----
  nameList = this.RULE('nameList', () => {
    this.AT_LEAST_ONE_SEP({ SEP: Comma, DEF: () => this.CONSUME(Name) });
  });

  privilege = this.RULE('privilege', () => {
    this.CONSUME(Name);
    this.MANY(() => { this.CONSUME(Dot); this.CONSUME2(Name); });
  });

  privilegeList = this.RULE('privilegeList', () => {
    this.AT_LEAST_ONE_SEP({ SEP: Comma, DEF: () => this.SUBRULE(this.privilege) });
  });

  /** An address as typed (10.0.0.0/8 lexes as numbers, dots and a slash) or quoted ('::1'). */
  address = this.RULE('address', () => {
    this.AT_LEAST_ONE(() => this.OR([
      { ALT: () => this.CONSUME(StringLit) },
      { ALT: () => this.CONSUME(DoubleLit) },
      { ALT: () => this.CONSUME(IntegerLit) },
      { ALT: () => this.CONSUME(Dot) },
      { ALT: () => this.CONSUME(Slash) },
    ]));
  });

  addressList = this.RULE('addressList', () => {
    this.AT_LEAST_ONE_SEP({ SEP: Comma, DEF: () => this.SUBRULE(this.address) });
  });

  rolesKw = this.RULE('rolesKw', () => {
    this.OR([{ ALT: () => this.CONSUME(KW.ROLE) }, { ALT: () => this.CONSUME(KW.ROLES) }]);
  });

  privilegesKw = this.RULE('privilegesKw', () => {
    this.OR([{ ALT: () => this.CONSUME(KW.PRIVILEGE) }, { ALT: () => this.CONSUME(KW.PRIVILEGES) }]);
  });

  createUserStmt = this.RULE('createUserStmt', () => {
    this.CONSUME(KW.CREATE);
    this.CONSUME(KW.USER);
    this.CONSUME(Name, { LABEL: 'user' });
    this.CONSUME(KW.PASSWORD);
    this.CONSUME2(Name, { LABEL: 'password' });
    this.OPTION(() => { this.SUBRULE(this.rolesKw); this.SUBRULE(this.nameList); });
  });

  createRoleStmt = this.RULE('createRoleStmt', () => {
    this.CONSUME(KW.CREATE);
    this.CONSUME(KW.ROLE);
    this.CONSUME(Name, { LABEL: 'role' });
    this.OPTION(() => { this.SUBRULE(this.privilegesKw); this.SUBRULE(this.privilegeList); });
    this.OPTION2(() => { this.CONSUME(KW.WHITELIST); this.SUBRULE(this.addressList); });
  });

  dropUserStmt = this.RULE('dropUserStmt', () => {
    this.CONSUME(KW.DROP);
    this.CONSUME(KW.USER);
    this.CONSUME(Name, { LABEL: 'user' });
  });

  dropRoleStmt = this.RULE('dropRoleStmt', () => {
    this.CONSUME(KW.DROP);
    this.CONSUME(KW.ROLE);
    this.CONSUME(Name, { LABEL: 'role' });
  });

  grantStmt = this.RULE('grantStmt', () => {
    this.CONSUME(KW.GRANT);
    this.OR([
      { ALT: () => { this.SUBRULE(this.rolesKw); this.SUBRULE(this.nameList); this.CONSUME(KW.TO); this.CONSUME(Name, { LABEL: 'user' }); } },
      { ALT: () => { this.SUBRULE(this.privilegesKw); this.SUBRULE(this.privilegeList); this.CONSUME2(KW.TO); this.CONSUME2(Name, { LABEL: 'role' }); } },
    ]);
  });

  revokeStmt = this.RULE('revokeStmt', () => {
    this.CONSUME(KW.REVOKE);
    this.OR([
      { ALT: () => { this.SUBRULE(this.rolesKw); this.SUBRULE(this.nameList); this.CONSUME(KW.FROM); this.CONSUME(Name, { LABEL: 'user' }); } },
      { ALT: () => { this.SUBRULE(this.privilegesKw); this.SUBRULE(this.privilegeList); this.CONSUME2(KW.FROM); this.CONSUME2(Name, { LABEL: 'role' }); } },
    ]);
  });

  // ---- expressions ----
  expr = this.RULE('expr', () => {
    this.SUBRULE(this.andExpr);
    this.MANY(() => { this.CONSUME(KW.OR); this.SUBRULE2(this.andExpr); });
  });

  andExpr = this.RULE('andExpr', () => {
    this.SUBRULE(this.notExpr);
    this.MANY(() => { this.CONSUME(KW.AND); this.SUBRULE2(this.notExpr); });
  });

  notExpr = this.RULE('notExpr', () => {
    this.OR([
      { ALT: () => { this.CONSUME(KW.NOT); this.SUBRULE(this.notExpr); } },
      { ALT: () => this.SUBRULE(this.predicate) },
    ]);
  });

  predicate = this.RULE('predicate', () => {
    this.SUBRULE(this.additive);
    this.OPTION(() => this.OR([
      { ALT: () => { this.CONSUME(CompareOp); this.SUBRULE2(this.additive, { LABEL: 'right' }); } },
      { ALT: () => { this.CONSUME(KW.BETWEEN); this.SUBRULE3(this.additive, { LABEL: 'low' }); this.CONSUME(KW.AND); this.SUBRULE4(this.additive, { LABEL: 'high' }); } },
      { ALT: () => { this.CONSUME(KW.CONTAINS); this.SUBRULE5(this.additive, { LABEL: 'region' }); } },
      { ALT: () => { this.CONSUME(KW.WITHIN); this.SUBRULE6(this.additive, { LABEL: 'region' }); } },
    ]));
  });

  additive = this.RULE('additive', () => {
    this.SUBRULE(this.multiplicative);
    this.MANY(() => {
      this.OR([{ ALT: () => this.CONSUME(Plus, { LABEL: 'op' }) }, { ALT: () => this.CONSUME(Minus, { LABEL: 'op' }) }]);
      this.SUBRULE2(this.multiplicative);
    });
  });

  multiplicative = this.RULE('multiplicative', () => {
    this.SUBRULE(this.unary);
    this.MANY(() => {
      this.OR([
        { ALT: () => this.CONSUME(Star, { LABEL: 'op' }) },
        { ALT: () => this.CONSUME(Slash, { LABEL: 'op' }) },
        { ALT: () => this.CONSUME(Percent, { LABEL: 'op' }) },
      ]);
      this.SUBRULE2(this.unary);
    });
  });

  unary = this.RULE('unary', () => {
    this.OR([
      { ALT: () => { this.CONSUME(Minus); this.SUBRULE(this.unary); } },
      { ALT: () => { this.CONSUME(Plus); this.SUBRULE2(this.unary); } },
      { ALT: () => this.SUBRULE(this.atom) },
    ]);
  });

  atom = this.RULE('atom', () => {
    this.OR([
      { ALT: () => this.CONSUME(IntegerLit) },
      { ALT: () => this.CONSUME(HexLit) },
      { ALT: () => this.CONSUME(DoubleLit) },
      { ALT: () => this.CONSUME(StringLit) },
      { ALT: () => this.CONSUME(KW.TRUE) },
      { ALT: () => this.CONSUME(KW.FALSE) },
      { ALT: () => this.CONSUME(KW.NULL) },
      { ALT: () => { this.CONSUME(KW.CAST); this.CONSUME(LParen); this.SUBRULE(this.expr); this.CONSUME(KW.AS); this.CONSUME(Name, { LABEL: 'type' }); this.CONSUME(RParen); } },
      { ALT: () => { this.CONSUME2(LParen); this.SUBRULE2(this.expr); this.CONSUME2(RParen); } },
      { ALT: () => {
        this.CONSUME(ExprName);
        this.OPTION(() => {
          this.CONSUME3(LParen, { LABEL: 'callOpen' });
          this.OPTION2(() => this.OR2([
            { ALT: () => this.CONSUME(Star) },
            { ALT: () => this.AT_LEAST_ONE_SEP({ SEP: Comma, DEF: () => this.SUBRULE3(this.expr, { LABEL: 'arg' }) }) },
          ]));
          this.CONSUME3(RParen);
        });
      } },
    ]);
  });
}

export const parser = new AqlParser();
export type { CstNode, IToken };
export { QuotedName };
