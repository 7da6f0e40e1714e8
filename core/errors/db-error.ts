import { ResultCode, type ResultCodeName } from './result-code.ts';

export interface DbErrorExtra {
  /** What to do about it, in one sentence. */
  readonly hint?: string;
  /** The plugin that raised the error, when one did. */
  readonly plugin?: string;
  readonly cause?: unknown;
  /** Whether a write that failed with this error may nevertheless have been applied. */
  readonly inDoubt?: boolean;
  /**
   * A numeric result code other than the catalogue's number for `code` — for user codes
   * raised by UDFs (`throw new Error('1000:message')` reaches the client as code 1000).
   */
  readonly resultCode?: number;
}

/** The most characters of a message or a hint that reach a client (or a log line). */
export const MAX_ERROR_TEXT = 1024;

/**
 * Cuts text that is echoed to clients (messages, hints; they may quote client input or a UDF's
 * error) to about MAX_ERROR_TEXT characters, saying how much was cut. Every DbError's message
 * and hint pass through here, so no path can send a client (a gRPC trailer, an AQL status, a
 * fabric reply) unbounded text.
 */
export function clipText(text: string, max = MAX_ERROR_TEXT): string {
  if (text.length <= max) return text;
  let end = max - 40;
  const c = text.charCodeAt(end - 1);
  if (c >= 0xd800 && c <= 0xdbff) end--; // do not split a surrogate pair
  return `${text.slice(0, end)}… (${text.length - end} more characters)`;
}

/**
 * The one error class of the database. `code` names an entry in the ResultCode catalogue;
 * `message` says what was wrong, `hint` what to do about it.
 */
export class DbError extends Error {
  readonly code: ResultCodeName;
  readonly hint: string | undefined;
  readonly plugin: string | undefined;
  readonly inDoubt: boolean;
  /** The Aerospike result code number sent to clients. */
  readonly resultCode: number;

  constructor(code: ResultCodeName, message: string, extra: DbErrorExtra = {}) {
    super(clipText(message), extra.cause === undefined ? undefined : { cause: extra.cause });
    this.name = 'DbError';
    this.code = code;
    this.hint = extra.hint === undefined ? undefined : clipText(extra.hint);
    this.plugin = extra.plugin;
    this.inDoubt = extra.inDoubt ?? false;
    this.resultCode = extra.resultCode ?? ResultCode[code];
  }

  /** Message and hint together, as users should read them. */
  get fullMessage(): string {
    return this.hint === undefined ? this.message : `${this.message}. ${this.hint}`;
  }
}

/** Any thrown value as a DbError; foreign errors become SERVER_ERROR with their message kept. */
export function toDbError(err: unknown, context?: string): DbError {
  if (err instanceof DbError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new DbError('SERVER_ERROR', context === undefined ? message : `${context}: ${message}`, { cause: err });
}

export function isDbError(err: unknown, code?: ResultCodeName): err is DbError {
  return err instanceof DbError && (code === undefined || err.code === code);
}
