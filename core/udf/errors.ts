/**
 * UDF errors, following Aerospike's convention: anything a UDF throws reaches the client as
 * result code 100 (UDF) with a message naming the module, function and line; a thrown error
 * whose message begins with `<code>:` (e.g. `throw new Error('1000:insufficient funds')`, the
 * port of Lua's `error('1000:…')`) reaches the client with that code and the rest as message.
 */
import { DbError, ResultCode, resultCodeName, type DbErrorExtra } from '../errors/index.ts';

export interface UdfErrorLocation {
  readonly module?: string;
  readonly fn?: string;
  readonly file?: string;
  readonly line?: number;
  readonly column?: number;
}

/**
 * A DbError raised by a UDF. `resultCode` (= `udfCode`) is the user's code when the UDF chose one
 * (which may lie outside the catalogue, e.g. 1000); `code` is its catalogue name, or `UDF`.
 */
export class UdfError extends DbError {
  readonly udfCode: number;
  readonly location: UdfErrorLocation;
  readonly logs: readonly string[];

  constructor(udfCode: number, message: string, location: UdfErrorLocation = {}, extra: DbErrorExtra & { logs?: readonly string[] } = {}) {
    super(resultCodeName(udfCode) ?? 'UDF', message, { ...extra, resultCode: udfCode });
    this.name = 'UdfError';
    this.udfCode = udfCode;
    this.location = location;
    this.logs = extra.logs ?? [];
  }
}

export interface GuestError {
  readonly name: string;
  readonly message: string;
  readonly stack: string;
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The first stack frame inside the module's file: line and column. */
export function locate(stack: string, file: string): { line: number; column: number } | undefined {
  const m = new RegExp(`${escapeRe(file)}:(\\d+):(\\d+)`).exec(stack);
  return m === null ? undefined : { line: Number(m[1]), column: Number(m[2]) };
}

function where(loc: UdfErrorLocation): string {
  const pos = loc.line === undefined ? loc.file ?? loc.module ?? '?' : `${loc.file}:${loc.line}:${loc.column}`;
  return loc.fn === undefined ? `at ${pos}` : `at ${pos} in ${loc.fn}`;
}

/** The smallest user-defined result code a UDF may raise (1000 and up are the application's). */
export const USER_CODE_MIN = 1000;

/**
 * Whether a UDF may end with this result code: an error of the catalogue (positive, not the
 * stream-control QUERY_END) or a user code of USER_CODE_MIN or more. Anything else (0 would read as
 * success, negatives are client-side codes) becomes 100.
 */
export function isUdfResultCode(code: number): boolean {
  if (code >= USER_CODE_MIN) return true;
  return code > 0 && code !== ResultCode.QUERY_END && resultCodeName(code) !== undefined;
}

/** Turns what the guest reported about a thrown value into a UdfError. */
export function fromGuestError(err: GuestError, module: string, file: string, fn: string | undefined, logs: readonly string[] = []): UdfError {
  const pos = locate(err.stack, file);
  const loc: UdfErrorLocation = { module, file, ...(fn === undefined ? {} : { fn }), ...(pos ?? {}) };
  if (err.name === 'NoSuchFunction') {
    return new UdfError(100, `${err.message}`, loc, { hint: `list the module's functions with DESC MODULE ${file}`, logs });
  }
  const user = /^\s*(-?\d{1,9})\s*:\s?([\s\S]*)$/.exec(err.message);
  if (user !== null && err.name === 'Error') {
    const code = Number(user[1]);
    if (isUdfResultCode(code)) return new UdfError(code, `${user[2]} (${where(loc)})`, loc, { logs });
    return new UdfError(100, `UDF raised result code ${code}, which a UDF may not send: ${user[2]} (${where(loc)})`, loc, {
      hint: `raise a catalogue error code (1-255, not 50) or a user code of ${USER_CODE_MIN} or more`, logs,
    });
  }
  return new UdfError(100, `UDF error: ${err.name}: ${err.message} (${where(loc)})`, loc, {
    hint: 'fix the module; UDF logs and the line above say where it failed',
    logs,
  });
}

export function udfTimeout(what: string, timeoutMs: number): UdfError {
  return new UdfError(100, `UDF Execution Timeout: ${what} ran longer than ${timeoutMs} ms`, {}, {
    hint: 'make the function do less per call, or raise the request timeout (up to the configured maximum)',
  });
}

export function udfMemory(what: string, limitMb: number): UdfError {
  return new UdfError(100, `UDF exceeded its memory limit: ${what} used more than ${limitMb} MiB`, {}, {
    hint: 'build smaller values, or raise the UDF memory limit in the node configuration',
  });
}
