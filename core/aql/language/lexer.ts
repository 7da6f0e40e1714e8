/**
 * The AQL lexer (Chevrotain). Follows aql's lexical rules: case-insensitive keywords,
 * case-sensitive names that may contain '-' and ':', strings in '…' or "…" without escapes,
 * integers (hex too), doubles; adds `--` and `#` comments and `name` quoting with backticks.
 *
 * Keywords are recognised after lexing: every word lexes as an Identifier and is then promoted
 * to its keyword token. Soft keywords stay usable as names (a bin may be called `count` or
 * `type`); reserved words (AND, OR, NOT, BETWEEN, CONTAINS, WITHIN, TRUE, FALSE, NULL, CAST)
 * must be quoted to be used as names.
 */
import { createToken, Lexer, type IToken, type TokenType } from 'chevrotain';
import { AqlError } from './errors.ts';

/** Anything usable where a name is expected: identifiers, soft keywords, quoted names, strings. */
export const Name = createToken({ name: 'Name', pattern: Lexer.NA, label: '<name>' });
/** A name inside an expression (a string there is a value, not a name). */
export const ExprName = createToken({ name: 'ExprName', pattern: Lexer.NA, label: '<bin>', categories: [Name] });
export const CompareOp = createToken({ name: 'CompareOp', pattern: Lexer.NA, label: '<comparison>' });
export const StringLit = createToken({ name: 'StringLit', pattern: Lexer.NA, label: '<string>', categories: [Name] });

export const WhiteSpace = createToken({ name: 'WhiteSpace', pattern: /\s+/, group: Lexer.SKIPPED, line_breaks: true });
export const Comment = createToken({ name: 'Comment', pattern: /(?:--|#)[^\n\r]*/, group: Lexer.SKIPPED });
export const SqString = createToken({ name: 'SqString', pattern: /'[^']*'/, categories: [StringLit], line_breaks: true, label: "'<string>'" });
export const DqString = createToken({ name: 'DqString', pattern: /"[^"]*"/, categories: [StringLit], line_breaks: true, label: '"<string>"' });
export const Unterminated = createToken({ name: 'Unterminated', pattern: /['"`][\s\S]*/, line_breaks: true });
export const QuotedName = createToken({ name: 'QuotedName', pattern: /`[^`]*`/, categories: [ExprName], label: '`<name>`' });
export const DoubleLit = createToken({ name: 'DoubleLit', pattern: /(?:\d+\.\d*|\.\d+)(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+/, label: '<double>' });
export const HexLit = createToken({ name: 'HexLit', pattern: /0[xX][0-9a-fA-F]+/, label: '<integer>' });
export const IntegerLit = createToken({ name: 'IntegerLit', pattern: /\d+/, label: '<integer>' });
export const Identifier = createToken({ name: 'Identifier', pattern: /[A-Za-z_][A-Za-z0-9_:-]*/, categories: [ExprName], label: '<name>' });

export const NotEq = createToken({ name: 'NotEq', pattern: /!=|<>/, categories: [CompareOp], label: "'!='" });
export const LtEq = createToken({ name: 'LtEq', pattern: /<=/, categories: [CompareOp], label: "'<='" });
export const GtEq = createToken({ name: 'GtEq', pattern: />=/, categories: [CompareOp], label: "'>='" });
export const Lt = createToken({ name: 'Lt', pattern: /</, categories: [CompareOp], label: "'<'" });
export const Gt = createToken({ name: 'Gt', pattern: />/, categories: [CompareOp], label: "'>'" });
export const Eq = createToken({ name: 'Eq', pattern: /==?/, categories: [CompareOp], label: "'='" });
export const Plus = createToken({ name: 'Plus', pattern: /\+/, label: "'+'" });
export const Minus = createToken({ name: 'Minus', pattern: /-/, label: "'-'" });
export const Star = createToken({ name: 'Star', pattern: /\*/, label: "'*'" });
export const Slash = createToken({ name: 'Slash', pattern: /\//, label: "'/'" });
export const Percent = createToken({ name: 'Percent', pattern: /%/, label: "'%'" });
export const LParen = createToken({ name: 'LParen', pattern: /\(/, label: "'('" });
export const RParen = createToken({ name: 'RParen', pattern: /\)/, label: "')'" });
export const LBracket = createToken({ name: 'LBracket', pattern: /\[/, label: "'['" });
export const RBracket = createToken({ name: 'RBracket', pattern: /\]/, label: "']'" });
export const Comma = createToken({ name: 'Comma', pattern: /,/, label: "','" });
export const Semicolon = createToken({ name: 'Semicolon', pattern: /;/, label: "';'" });
export const Dot = createToken({ name: 'Dot', pattern: /\./, label: "'.'" });

/** Keywords that remain usable as names. */
export const SOFT_KEYWORDS = [
  'SELECT', 'INSERT', 'INTO', 'VALUES', 'UPDATE', 'SET', 'DELETE', 'FROM', 'WHERE', 'LIMIT',
  'OPERATE', 'ON', 'TRUNCATE', 'UPTO', 'EXPLAIN', 'SHOW', 'NAMESPACES', 'SETS', 'BINS', 'STAT',
  'SYSTEM', 'NAMESPACE', 'GET', 'ALL', 'RESET', 'RUN', 'HELP', 'CREATE', 'LIST', 'MAPKEYS',
  'MAPVALUES', 'INDEX', 'DROP', 'INDEXES', 'IN', 'ORDER', 'BY', 'ASC', 'DESC', 'REGISTER', 'MODULE',
  'PACKAGE', 'REMOVE', 'MODULES', 'PACKAGES', 'EXECUTE', 'AGGREGATE', 'JOBS', 'KILL', 'JOB', 'AS',
  'NUMERIC', 'STRING', 'BLOB', 'GEO2DSPHERE', 'EXIT', 'QUIT', 'Q', 'CLUSTER', 'PARTITIONS', 'PLUGINS', 'CONFIG',
  'USER', 'USERS', 'PASSWORD', 'ROLE', 'ROLES', 'PRIVILEGE', 'PRIVILEGES', 'GRANT', 'REVOKE', 'WHITELIST', 'FOR', 'TO',
] as const;
/**
 * Soft keywords of the user and role statements: they only follow a statement's first word or
 * end a list, never stand where a name could, so names spelled like them print unquoted.
 */
export const SECURITY_KEYWORDS: readonly string[] = ['USER', 'USERS', 'PASSWORD', 'ROLE', 'ROLES', 'PRIVILEGE', 'PRIVILEGES', 'GRANT', 'REVOKE', 'WHITELIST', 'FOR', 'TO'];
/** Keywords that cannot be names unless quoted. */
export const RESERVED_WORDS = ['AND', 'OR', 'NOT', 'BETWEEN', 'CONTAINS', 'WITHIN', 'TRUE', 'FALSE', 'NULL', 'CAST'] as const;

export type Keyword = (typeof SOFT_KEYWORDS)[number] | (typeof RESERVED_WORDS)[number];

function keywordToken(word: string, soft: boolean): TokenType {
  return createToken({ name: word, pattern: Lexer.NA, label: word, ...(soft ? { categories: [ExprName] } : {}) });
}

export const KW: Readonly<Record<Keyword, TokenType>> = Object.fromEntries([
  ...SOFT_KEYWORDS.map((w) => [w, keywordToken(w, true)]),
  ...RESERVED_WORDS.map((w) => [w, keywordToken(w, false)]),
]) as Record<Keyword, TokenType>;

const lexedTokens: TokenType[] = [
  WhiteSpace, Comment, SqString, DqString, QuotedName, Unterminated, DoubleLit, HexLit, IntegerLit, Identifier,
  NotEq, LtEq, GtEq, Lt, Gt, Eq, Plus, Minus, Star, Slash, Percent, LParen, RParen, LBracket, RBracket,
  Comma, Semicolon, Dot,
];

/** Every token type, in the order the parser wants them. */
export const allTokens: TokenType[] = [Name, ExprName, CompareOp, StringLit, ...lexedTokens, ...Object.values(KW)];

const lexer = new Lexer(lexedTokens, { positionTracking: 'full', ensureOptimizations: false });

const keywordByWord = new Map<string, TokenType>(Object.entries(KW));

export function isReservedWord(word: string): boolean {
  return (RESERVED_WORDS as readonly string[]).includes(word.toUpperCase());
}
export function isKeyword(word: string): boolean {
  return keywordByWord.has(word.toUpperCase());
}

/**
 * Splits text into tokens (comments and whitespace dropped), keywords promoted.
 * Throws a located AqlError for a character no token starts with or an unterminated string.
 */
export function tokenize(text: string): IToken[] {
  const result = lexer.tokenize(text);
  const first = result.errors[0];
  if (first !== undefined) {
    const raw = text.substr(first.offset, 1);
    const ch = /[\x00-\x1f\x7f]/.test(raw) ? `\\x${raw.charCodeAt(0).toString(16).padStart(2, '0')}` : raw;
    throw new AqlError('PARAMETER', `Unexpected character '${ch}' at line ${first.line ?? 1}, column ${first.column ?? 1}`, {
      pos: { offset: first.offset, line: first.line ?? 1, column: first.column ?? 1 },
      token: ch,
      aqlText: `Unsupported command format with token -  '${ch}'`,
      hint: 'quote names with `backticks` and values with \'single\' or "double" quotes',
    });
  }
  for (const tok of result.tokens) {
    if (tok.tokenType === Unterminated) {
      const q = tok.image[0] ?? "'";
      throw new AqlError('PARAMETER', `Unterminated ${q === '`' ? 'quoted name' : 'string'} starting at line ${tok.startLine}, column ${tok.startColumn}`, {
        pos: { offset: tok.startOffset, line: tok.startLine ?? 1, column: tok.startColumn ?? 1 },
        token: tok.image.split(/\r?\n/)[0] ?? q,
        atEnd: true,
        expected: [q],
        aqlText: `Syntax error near token -  '${tok.image.split(/\r?\n/)[0] ?? q}'`,
        hint: `close it with ${q} (strings have no escapes; use the other quote character inside)`,
      });
    }
    if (tok.tokenType === Identifier) {
      const kw = keywordByWord.get(tok.image.toUpperCase());
      if (kw !== undefined) {
        tok.tokenType = kw;
        tok.tokenTypeIdx = kw.tokenTypeIdx as number;
      }
    }
  }
  return result.tokens;
}
