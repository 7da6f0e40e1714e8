/**
 * An aql session: session settings plus the statement loop shared by the shell (`-c`, `-f`,
 * interactive) and tests. Settings statements, HELP and RUN are handled here; everything else
 * goes to an executor (in-process, or the server over gRPC).
 */
import { readFile } from 'node:fs/promises';
import { resolve, dirname } from 'node:path';
import type { Statement } from '../language/ast.ts';
import { parseScript } from '../language/parse.ts';
import { createRenderer, type Sink } from './render/renderer.ts';
import type { Renderer } from '../language/results.ts';
import { renderAqlError } from './render/syntax-error.ts';
import { DEFAULT_SETTINGS, SETTING_NAMES, parseSettingValue, settingLine, withSetting, type Settings } from '../language/settings.ts';
import { helpText } from '../language/help.ts';

/** Runs a statement somewhere and reports its output as renderer events. */
export type StatementExecutor = (stmt: Statement, text: string, settings: Settings, out: Renderer, signal: AbortSignal, baseDir: string) => Promise<void>;

export interface RunOutcome {
  /** Statements that failed: their first line and text. */
  readonly failures: ReadonlyArray<{ readonly line: number; readonly text: string }>;
  readonly exit: boolean;
}

export class AqlSession {
  settings: Settings = DEFAULT_SETTINGS;
  private readonly executor: StatementExecutor;
  private readonly sink: Sink;
  private readonly baseDir: string;

  constructor(executor: StatementExecutor, sink: Sink, baseDir = process.cwd()) {
    this.executor = executor;
    this.sink = sink;
    this.baseDir = baseDir;
  }

  /** Runs every statement of `text`; `echo` prints each statement first (aql does with -c/-f/RUN). */
  async run(text: string, opts: { echo?: boolean; signal?: AbortSignal; depth?: number } = {}): Promise<RunOutcome> {
    const failures: Array<{ line: number; text: string }> = [];
    for (const part of parseScript(text)) {
      if (opts.echo === true || this.settings.ECHO) this.sink.out(`${part.text}\n`);
      if (!part.result.ok) {
        const r = renderAqlError(part.result.error, text);
        if (r.stdout !== '') this.sink.out(r.stdout);
        if (r.stderr !== '') this.sink.err(r.stderr);
        failures.push({ line: part.line, text: part.text });
        continue;
      }
      const stmt = part.result.statement;
      if (stmt.kind === 'exit') return { failures, exit: true };
      const ok = await this.one(stmt, part.text, opts.signal ?? new AbortController().signal, opts.depth ?? 0);
      if (!ok) failures.push({ line: part.line, text: part.text });
    }
    return { failures, exit: false };
  }

  private async one(stmt: Statement, text: string, signal: AbortSignal, depth: number): Promise<boolean> {
    switch (stmt.kind) {
      case 'set-setting': {
        const name = stmt.name as keyof Settings;
        this.settings = withSetting(this.settings, name, parseSettingValue(name, stmt.value));
        this.sink.out(`${settingLine(this.settings, name)}\n`);
        return true;
      }
      case 'get-setting':
        for (const n of stmt.name === null ? SETTING_NAMES : [stmt.name as keyof Settings]) this.sink.out(`${settingLine(this.settings, n)}\n`);
        return true;
      case 'reset-setting': {
        const name = stmt.name as keyof Settings;
        this.settings = withSetting(this.settings, name, DEFAULT_SETTINGS[name]);
        this.sink.out(`${settingLine(this.settings, name)}\n`);
        return true;
      }
      case 'help':
        this.sink.out(`${helpText(stmt.topic)}\n`);
        return true;
      case 'run': {
        if (depth > 8) { this.sink.err('Error: RUN nests too deeply\n\n'); return false; }
        const path = resolve(this.baseDir, stmt.path);
        let body: string;
        try {
          body = await readFile(path, 'utf8');
        } catch (err) {
          this.sink.err(`Error: cannot open file ${stmt.path} : ${(err as Error).message}\n\n`);
          return false;
        }
        const inner = new AqlSession(this.executor, this.sink, dirname(path));
        inner.settings = this.settings;
        const r = await inner.run(body, { echo: true, signal, depth: depth + 1 });
        this.settings = inner.settings;
        return r.failures.length === 0;
      }
      default: {
        let code = 0;
        const r = createRenderer(this.settings.OUTPUT, this.sink, { types: this.settings.OUTPUT_TYPES });
        const tracking: Renderer = {
          begin: (c) => r.begin(c), row: (c) => r.row(c), end: (ms, n) => r.end(ms, n),
          status: (c, m) => { code = c; r.status(c, m); },
        };
        await this.executor(stmt, text, this.settings, tracking, signal, this.baseDir);
        return code === 0;
      }
    }
  }
}
