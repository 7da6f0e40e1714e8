/**
 * Runs AQL text on the server side (the gRPC AqlService): every statement of the text in order,
 * each reported as events — started, result sets, exactly one status. SET/GET/RESET change the
 * settings for the rest of the text; HELP prints; RUN is the client's. Each statement gets its
 * own abort signal: the caller's (a cancelled call) or its TIMEOUT, whichever comes first.
 */
import { clientErrorName, DbError, ResultCode, toDbError } from '../../errors/index.ts';
import type { Statement } from '../language/ast.ts';
import type { AqlError } from '../language/errors.ts';
import type { AqlExecutor, CallContext } from './executor.ts';
import { helpText } from '../language/help.ts';
import { parseScript } from '../language/parse.ts';
import type { Cells } from '../language/results.ts';
import { DEFAULT_SETTINGS, SETTING_NAMES, parseSettingValue, settingLine, settingName, withSetting, type Settings } from '../language/settings.ts';

export type AqlEvent =
  | { readonly kind: 'statement'; readonly index: number; readonly text: string; readonly line: number }
  | { readonly kind: 'header'; readonly columns: readonly string[] }
  | { readonly kind: 'row'; readonly cells: Cells }
  | { readonly kind: 'end'; readonly rows: number; readonly elapsedMs: number; readonly node: string }
  | { readonly kind: 'message'; readonly text: string }
  | {
      readonly kind: 'status'; readonly code: number; readonly message: string; readonly hint: string;
      readonly syntax?: { readonly line: number; readonly column: number; readonly token: string; readonly expected: readonly string[]; readonly aqlText: string };
    };

export interface ScriptOptions {
  readonly text: string;
  readonly settings?: Settings;
  /** Aborted when the caller goes away. */
  readonly signal: AbortSignal;
  /** The node's executor. */
  readonly executor: AqlExecutor;
  /** The executor context of one statement, minus what the script supplies. */
  readonly context: Omit<CallContext, 'settings' | 'signal'>;
  /** Receives events; a returned promise holds the statement until the consumer catches up. */
  readonly emit: (event: AqlEvent) => void | Promise<void>;
}

function syntaxStatus(err: AqlError): AqlEvent {
  return {
    kind: 'status', code: err.resultCode, message: err.message, hint: err.hint ?? '',
    syntax: { line: err.pos.line, column: err.pos.column, token: err.token, expected: err.expected, aqlText: err.aqlText },
  };
}

function errorStatus(err: unknown): AqlEvent {
  const e = toDbError(err);
  return { kind: 'status', code: e.resultCode, message: `${clientErrorName(e.resultCode)}: ${e.message}`, hint: e.hint ?? '' };
}

/** Session statements the script answers itself; undefined for the executor's statements. */
function sessionStatement(stmt: Statement, settings: Settings): { settings: Settings; lines: string[] } | undefined {
  switch (stmt.kind) {
    case 'set-setting': {
      const name = settingName(stmt.name);
      const next = withSetting(settings, name, parseSettingValue(name, stmt.value));
      return { settings: next, lines: [settingLine(next, name)] };
    }
    case 'get-setting':
      return { settings, lines: (stmt.name === null ? SETTING_NAMES : [settingName(stmt.name)]).map((n) => settingLine(settings, n)) };
    case 'reset-setting': {
      const name = settingName(stmt.name);
      const next = withSetting(settings, name, DEFAULT_SETTINGS[name]);
      return { settings: next, lines: [settingLine(next, name)] };
    }
    case 'help':
      return { settings, lines: [helpText(stmt.topic)] };
    default:
      return undefined;
  }
}

/** Runs every statement of the text; resolves when the last one has reported its status. */
export async function runAqlScript(opts: ScriptOptions): Promise<void> {
  let settings = opts.settings ?? DEFAULT_SETTINGS;
  const parts = parseScript(opts.text);
  for (const [index, part] of parts.entries()) {
    if (opts.signal.aborted) return;
    await opts.emit({ kind: 'statement', index, text: part.text, line: part.line });
    if (!part.result.ok) {
      await opts.emit(syntaxStatus(part.result.error));
      continue;
    }
    const stmt = part.result.statement;
    if (stmt.kind === 'exit') {
      await opts.emit({ kind: 'status', code: 0, message: '', hint: '' });
      return;
    }
    if (stmt.kind === 'run') {
      await opts.emit(errorStatus(new DbError('PARAMETER', `RUN '${stmt.path}' reads a file on the client`, { hint: 'send the file\'s statements as the text, or use the aql shell, which runs RUN itself' })));
      continue;
    }
    try {
      const session = sessionStatement(stmt, settings);
      if (session !== undefined) {
        settings = session.settings;
        for (const text of session.lines) await opts.emit({ kind: 'message', text });
        await opts.emit({ kind: 'status', code: 0, message: '', hint: '' });
        continue;
      }
    } catch (err) {
      await opts.emit(errorStatus(err));
      continue;
    }
    await runOne(stmt, settings, opts);
  }
}

async function runOne(stmt: Statement, settings: Settings, opts: ScriptOptions): Promise<void> {
  const ac = new AbortController();
  const onAbort = (): void => ac.abort();
  opts.signal.addEventListener('abort', onAbort, { once: true });
  let timedOut = false;
  const timer = settings.TIMEOUT > 0 ? setTimeout(() => { timedOut = true; ac.abort(); }, settings.TIMEOUT) : undefined;
  const perRecordMs = settings.SCAN_RECORDS_PER_SECOND > 0 ? 1000 / settings.SCAN_RECORDS_PER_SECOND : 0;
  let rows = 0;
  let paceStart = 0;
  let pending: Promise<void> = Promise.resolve();
  const emit = (e: AqlEvent): void => {
    const r = opts.emit(e);
    if (r !== undefined) pending = r;
  };
  try {
    await opts.executor.execute(stmt, { ...opts.context, settings, signal: ac.signal }, {
      begin: (columns) => { rows = 0; paceStart = performance.now(); emit({ kind: 'header', columns }); },
      row: async (cells) => {
        rows++;
        emit({ kind: 'row', cells });
        await pending;
        if (perRecordMs > 0) {
          const due = paceStart + rows * perRecordMs - performance.now();
          if (due > 0) await new Promise((r) => setTimeout(r, due));
        }
      },
      end: (elapsedMs, node) => emit({ kind: 'end', rows, elapsedMs, node: node ?? '' }),
      status: (code, message) => {
        if (code !== 0 && timedOut) {
          emit({
            kind: 'status', code: ResultCode.TIMEOUT, message: `${clientErrorName(ResultCode.TIMEOUT)}: the statement ran longer than TIMEOUT (${settings.TIMEOUT} ms)`,
            hint: 'SET TIMEOUT 0 for no limit, or a larger value (ms)',
          });
        } else {
          emit({ kind: 'status', code, message, hint: '' });
        }
      },
    });
    await pending;
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    opts.signal.removeEventListener('abort', onAbort);
  }
}
