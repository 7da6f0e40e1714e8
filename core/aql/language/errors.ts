import { DbError, type ResultCodeName } from '../../errors/index.ts';

/** Where in the source text something is. Lines and columns are 1-based. */
export interface SourcePos {
  readonly offset: number;
  readonly line: number;
  readonly column: number;
}

export interface AqlErrorDetails {
  readonly pos: SourcePos;
  /** The offending token's text ('' at the end of input). */
  readonly token: string;
  /** The forms that would have been accepted here, e.g. ["FROM", "<name>"]. */
  readonly expected?: readonly string[];
  /** True when the statement ended too early (more input could complete it). */
  readonly atEnd?: boolean;
  /** aql's own first line for this error, e.g. "Unsupported command format with token -  'x'". */
  readonly aqlText?: string;
  readonly hint?: string;
}

/**
 * An error found while reading AQL text: lexing, parsing or checking the statement.
 * Always located; `code` is PARAMETER for syntax errors and CLIENT_ERROR for aql's
 * client-side checks (names too long, a floating-point key).
 */
export class AqlError extends DbError {
  readonly pos: SourcePos;
  readonly token: string;
  readonly expected: readonly string[];
  readonly atEnd: boolean;
  readonly aqlText: string;

  constructor(code: ResultCodeName, message: string, details: AqlErrorDetails) {
    super(code, message, details.hint === undefined ? {} : { hint: details.hint });
    this.name = 'AqlError';
    this.pos = details.pos;
    this.token = details.token;
    this.expected = details.expected ?? [];
    this.atEnd = details.atEnd ?? false;
    this.aqlText = details.aqlText ?? message;
  }

  /** "line 1, column 8" */
  get where(): string {
    return `line ${this.pos.line}, column ${this.pos.column}`;
  }
}

export function isAqlError(err: unknown): err is AqlError {
  return err instanceof AqlError;
}

/** The source line with a caret under the error position, for terminals. */
export function caretLines(source: string, err: AqlError): string {
  const lines = source.split(/\r?\n/);
  const line = lines[err.pos.line - 1] ?? '';
  const width = Math.max(1, err.token.length);
  return `${line}\n${' '.repeat(Math.max(0, err.pos.column - 1))}${'^'.repeat(Math.min(width, Math.max(1, line.length - err.pos.column + 1)))}`;
}
