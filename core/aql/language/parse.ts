/**
 * Entry points: parse one statement, or a script of statements separated by ';'.
 * Parsing never throws anything but an AqlError (located) for bad input.
 */
import { EOF, type IRecognitionException, type IToken, type TokenType } from 'chevrotain';
import type { Statement } from './ast.ts';
import { buildStatement } from './build-ast.ts';
import { AqlError } from './errors.ts';
import { Semicolon, tokenize } from './lexer.ts';
import { parser, takeExpected } from './parser.ts';

/** Statement-starting keywords, for "command not found" and completion. */
export const COMMANDS = [
  'SELECT', 'INSERT', 'UPDATE', 'DELETE', 'OPERATE', 'TRUNCATE', 'EXPLAIN', 'SHOW', 'STAT', 'SET', 'GET', 'RESET',
  'RUN', 'HELP', 'CREATE', 'DROP', 'REGISTER', 'REMOVE', 'DESC', 'EXECUTE', 'AGGREGATE', 'KILL', 'GRANT', 'REVOKE', 'EXIT', 'QUIT',
] as const;

/** Words that continue a statement on the next line rather than start a new one. */
const CLAUSES = new Set(['WHERE', 'LIMIT', 'AND', 'OR', 'ORDER', 'FROM', 'IN', 'ON', 'UPTO']);

function label(t: TokenType): string {
  return t.LABEL ?? t.name;
}

function endPos(tok: IToken): { offset: number; line: number; column: number } {
  return { offset: (tok.endOffset ?? tok.startOffset) + 1, line: tok.endLine ?? tok.startLine ?? 1, column: (tok.endColumn ?? tok.startColumn ?? 0) + 1 };
}

function syntaxError(ex: IRecognitionException, tokens: IToken[]): AqlError {
  const expected = [...new Set(takeExpected().map(label))];
  const tok = ex.token;
  const atEnd = tok.tokenType === EOF;
  const idx = atEnd ? tokens.length : tokens.indexOf(tok);
  const prev = (ex as IRecognitionException & { previousToken?: IToken }).previousToken ?? tokens[idx - 1];
  const expects = expected.length === 0 ? '' : expected.length === 1 ? `; expected ${expected[0]}` : `; expected one of: ${expected.join(', ')}`;
  if (atEnd) {
    const last = tokens[tokens.length - 1];
    const pos = last === undefined ? { offset: 0, line: 1, column: 1 } : endPos(last);
    const near = last?.image ?? '';
    return new AqlError('PARAMETER', `Incomplete statement: it ends after '${near}' (line ${pos.line}, column ${pos.column})${expects}`, {
      pos, token: '', expected, atEnd: true, aqlText: `Syntax error near token -  '${near}'`,
    });
  }
  const pos = { offset: tok.startOffset, line: tok.startLine ?? 1, column: tok.startColumn ?? 1 };
  if (idx === 0 && ex.name === 'NoViableAltException') {
    const word = tok.image;
    return new AqlError('PARAMETER', `COMMAND NOT FOUND : ${word} (line ${pos.line}, column ${pos.column}); statements begin with ${COMMANDS.join(', ')}`, {
      pos, token: word, expected: [...COMMANDS], aqlText: `ERROR: 404: COMMAND NOT FOUND : ${word}`, hint: 'type HELP for the statements',
    });
  }
  const after = prev === undefined ? '' : ` after '${prev.image}'`;
  return new AqlError('PARAMETER', `Unexpected '${tok.image}'${after} (line ${pos.line}, column ${pos.column})${expects}`, {
    pos, token: tok.image, expected, aqlText: `Unsupported command format with token -  '${tok.image}'`,
  });
}

function parseTokens(tokens: IToken[], source: string): Statement {
  if (tokens.length === 0) {
    throw new AqlError('PARAMETER', 'Empty statement', { pos: { offset: 0, line: 1, column: 1 }, token: '', atEnd: true, expected: [...COMMANDS] });
  }
  parser.input = tokens;
  const cst = parser.statement();
  const err = parser.errors[0];
  if (err !== undefined) throw syntaxError(err, tokens);
  return buildStatement(cst, source);
}

function asLocated(err: unknown): never {
  if (err instanceof AqlError) throw err;
  // Anything else is a bug in this module; still report it located rather than crash a caller.
  const message = err instanceof Error ? err.message : String(err);
  throw new AqlError('PARAMETER', `Cannot parse the statement: ${message}`, { pos: { offset: 0, line: 1, column: 1 }, token: '' });
}

/** Parses exactly one statement (a trailing ';' is allowed). */
export function parseStatement(text: string): Statement {
  try {
    const tokens = tokenize(text);
    const semi = tokens.findIndex((t) => t.tokenType === Semicolon);
    if (semi >= 0 && semi < tokens.length - 1) {
      const t = tokens[semi + 1] as IToken;
      throw new AqlError('PARAMETER', `Only one statement expected; another begins at line ${t.startLine}, column ${t.startColumn}`, {
        pos: { offset: t.startOffset, line: t.startLine ?? 1, column: t.startColumn ?? 1 }, token: t.image,
        hint: 'run scripts with parseScript (or the shell), which splits statements at ;',
      });
    }
    return parseTokens(tokens, text);
  } catch (err) {
    return asLocated(err);
  }
}

/** One statement of a script: its source text and position, and its AST or its error. */
export interface ScriptPart {
  readonly text: string;
  readonly line: number;
  /** False for a last statement that simply stopped (no ';', more input could complete it). */
  readonly terminated: boolean;
  readonly result: { readonly ok: true; readonly statement: Statement } | { readonly ok: false; readonly error: AqlError };
}

/**
 * Splits a script into statements and parses each independently, so one bad statement does not
 * hide the others. A statement ends at ';' (outside quotes and comments), or at the end of a line
 * when what came so far is a whole statement and the next line starts another (so aql's
 * one-statement-per-line scripts work and statements may still span lines). Empty statements are skipped. A lexer error (an
 * unterminated string) ends the script with that error.
 */
export function parseScript(text: string): ScriptPart[] {
  let tokens: IToken[];
  try {
    tokens = tokenize(text);
  } catch (err) {
    const e = err instanceof AqlError ? err : new AqlError('PARAMETER', String(err), { pos: { offset: 0, line: 1, column: 1 }, token: '' });
    return [{ text, line: e.pos.line, terminated: !e.atEnd, result: { ok: false, error: e } }];
  }
  const parts: ScriptPart[] = [];
  const attempt = (slice: IToken[]): ScriptPart['result'] => {
    try {
      return { ok: true, statement: parseTokens(slice, text) };
    } catch (err) {
      try { asLocated(err); } catch (e) { return { ok: false, error: e as AqlError }; }
      throw err;
    }
  };
  const push = (slice: IToken[], terminated: boolean, result?: ScriptPart['result']): void => {
    const first = slice[0];
    const last = slice[slice.length - 1];
    if (first === undefined || last === undefined) return;
    const src = text.slice(first.startOffset, (last.endOffset ?? last.startOffset) + 1);
    parts.push({ text: src, line: first.startLine ?? 1, terminated, result: result ?? attempt(slice) });
  };
  let current: IToken[] = [];
  tokens.forEach((t, i) => {
    if (t.tokenType === Semicolon) { push(current, true); current = []; return; }
    current.push(t);
    const next = tokens[i + 1];
    const lineEnds = next === undefined || (next.startLine ?? 0) > (t.endLine ?? t.startLine ?? 0);
    if (lineEnds && next !== undefined && next.tokenType !== Semicolon) {
      const r = attempt(current);
      // wrong beyond repair at the end of a line: the statement ends here; an incomplete one
      // continues, unless the next line starts a new statement it cannot take
      const startsCommand = (COMMANDS as readonly string[]).includes(next.image.toUpperCase());
      // a whole statement followed by a line that starts with a clause (WHERE …, LIMIT …) continues
      const ends = r.ok ? !CLAUSES.has(next.image.toUpperCase()) : !r.error.atEnd || (startsCommand && !r.error.expected.includes(next.image.toUpperCase()));
      if (ends) {
        push(current, true, r);
        current = [];
      }
    }
  });
  push(current, false);
  return parts;
}

/**
 * Whether `text` is a statement that is still being typed: it parses only up to its end
 * (an incomplete statement or an unterminated string). Used for multi-line input.
 */
export function isIncomplete(text: string): boolean {
  if (/;\s*(?:(?:--|#)[^\n]*)?\s*$/.test(text)) return false;
  try {
    parseStatement(text);
    return false;
  } catch (err) {
    return err instanceof AqlError && err.atEnd && err.message !== 'Empty statement';
  }
}

/** What may come next after `prefix` (keywords and placeholders such as <name>), for completion. */
export function expectedAfter(prefix: string): string[] {
  try {
    parseStatement(prefix);
  } catch (err) {
    if (err instanceof AqlError && err.atEnd) return [...err.expected];
    return [];
  }
  return [];
}
