/**
 * aql's renderers: TABLE (bordered, 99-row chunks), JSON, RAW and MUTE. A renderer receives one
 * statement's output as events and writes text to a sink; it holds no other state, so the
 * shell can stream a scan as rows arrive. `renderResult` is the pure, all-at-once form.
 */
import type { BinValue } from '../../../model/index.ts';
import type { OutputMode } from '../../language/settings.ts';
import type { Cells, Renderer } from '../../language/results.ts';
import { cellText, jsonObject, jsonValue } from './values.ts';

/** Where text goes: stdout or stderr. */
export interface Sink {
  out(text: string): void;
  err(text: string): void;
}

export interface RenderOptions {
  /** OUTPUT_TYPES: LIST('…') / MAP('…') / GeoJSON('…') wrappers. */
  readonly types?: boolean;
}

export const CHUNK_ROWS = 99;
export const MAX_CELL = 254;

export function footer(rows: number, elapsedMs: number, node?: string | null): string {
  const secs = (elapsedMs / 1000).toFixed(3);
  const unit = elapsedMs === 1000 ? 'sec' : 'secs';
  return `${node ? `[${node}] ` : ''}${rows} ${rows === 1 ? 'row' : 'rows'} in set (${secs} ${unit})\n\n`;
}

function okText(message: string): string {
  return message === '' ? 'OK\n\n' : `OK, ${message}\n\n`;
}

function errorText(code: number, message: string): string {
  return `Error: (${code}) ${message}\n\n`;
}

class TableRenderer implements Renderer {
  private seeded: string[] = [];
  private chunk: Cells[] = [];
  private count = 0;
  private readonly sink: Sink;
  private readonly types: boolean;
  constructor(sink: Sink, opts: RenderOptions) {
    this.sink = sink;
    this.types = opts.types ?? true;
  }
  begin(columns: readonly string[]): void {
    this.seeded = [...columns];
    this.chunk = [];
    this.count = 0;
  }
  row(cells: Cells): void {
    this.chunk.push(cells);
    this.count++;
    if (this.chunk.length >= CHUNK_ROWS) this.flush();
  }
  private flush(): void {
    if (this.chunk.length === 0) return;
    const cols = [...this.seeded];
    const width = new Map<string, number>(cols.map((c) => [c, c.length + 1]));
    const texts = this.chunk.map((cells) => {
      const m = new Map<string, string>();
      for (const [name, v] of cells) {
        if (!width.has(name)) { cols.push(name); width.set(name, name.length); }
        const t = cellText(v, this.types).slice(0, MAX_CELL);
        m.set(name, t);
        width.set(name, Math.max(width.get(name) ?? 0, t.length));
      }
      return m;
    });
    const border = `+${cols.map((c) => '-'.repeat((width.get(c) ?? 0) + 2)).join('+')}+\n`;
    const line = (get: (c: string) => string): string => `${cols.map((c) => `| ${get(c).padEnd(width.get(c) ?? 0)} `).join('')}|\n`;
    let out = border + line((c) => c) + border;
    for (const m of texts) out += line((c) => m.get(c) ?? '');
    out += border;
    this.sink.out(out);
    this.chunk = [];
  }
  end(elapsedMs: number, node?: string | null): void {
    this.flush();
    this.sink.out(footer(this.count, elapsedMs, node));
  }
  status(code: number, message: string): void {
    if (code === 0) this.sink.out(okText(message));
    else this.sink.err(errorText(code, message));
  }
}

class RawRenderer implements Renderer {
  private count = 0;
  private readonly sink: Sink;
  private readonly types: boolean;
  constructor(sink: Sink, opts: RenderOptions) {
    this.sink = sink;
    this.types = opts.types ?? true;
  }
  begin(): void { this.count = 0; }
  row(cells: Cells): void {
    this.count++;
    let out = `*************************** ${this.count}. row ***************************\n`;
    for (const [name, v] of cells) out += `${name}: ${cellText(v, this.types)}\n`;
    this.sink.out(out);
  }
  end(elapsedMs: number, node?: string | null): void {
    this.sink.out(`${this.count > 0 ? '\n' : ''}${footer(this.count, elapsedMs, node)}`);
  }
  status(code: number, message: string): void {
    this.sink.out(code === 0 ? okText(message) : errorText(code, message));
  }
}

class MuteRenderer implements Renderer {
  private count = 0;
  private readonly sink: Sink;
  constructor(sink: Sink) { this.sink = sink; }
  begin(): void { this.count = 0; }
  row(): void { this.count++; }
  end(elapsedMs: number, node?: string | null): void { this.sink.out(footer(this.count, elapsedMs, node)); }
  status(code: number, message: string): void {
    if (code === 0) this.sink.out(okText(message));
    else this.sink.err(errorText(code, message));
  }
}

/**
 * JSON mode: an array of groups; rows of each result set form a group (info results end theirs
 * with {"node": …}), and the status is the last group: [{"Status": code[, "Message": …]}].
 */
class JsonRenderer implements Renderer {
  private opened = false;
  private rowsInGroup = 0;
  private readonly sink: Sink;
  constructor(sink: Sink) { this.sink = sink; }
  private open(): void {
    if (!this.opened) { this.sink.out('\n[\n'); this.opened = true; } else this.sink.out(',\n');
  }
  private object(text: string): void {
    const indented = text.split('\n').map((l) => `        ${l}`).join('\n');
    this.sink.out(`${this.rowsInGroup > 0 ? ',\n' : ''}${indented}`);
    this.rowsInGroup++;
  }
  begin(): void {
    this.open();
    this.sink.out('    [\n');
    this.rowsInGroup = 0;
  }
  row(cells: Cells): void { this.object(jsonObject(cells, 0)); }
  end(_elapsedMs: number, node?: string | null): void {
    if (node) this.object(jsonValue(new Map([['node', node]]), 0));
    this.sink.out(`${this.rowsInGroup > 0 ? '\n' : ''}    ]`);
  }
  status(code: number, message: string): void {
    this.open();
    this.sink.out('    [\n');
    this.rowsInGroup = 0;
    const cells: Array<[string, BinValue]> = [['Status', BigInt(code)]];
    if (message !== '') cells.push(['Message', message]);
    this.object(jsonObject(cells, 0));
    this.sink.out('\n    ]\n]\n\n');
    this.opened = false;
  }
}

export function createRenderer(mode: OutputMode, sink: Sink, opts: RenderOptions = {}): Renderer {
  switch (mode) {
    case 'TABLE': return new TableRenderer(sink, opts);
    case 'RAW': return new RawRenderer(sink, opts);
    case 'MUTE': return new MuteRenderer(sink);
    case 'JSON': return new JsonRenderer(sink);
  }
}

/** A whole statement result, for renderResult. */
export interface StatementResult {
  readonly sets: ReadonlyArray<{ readonly columns?: readonly string[]; readonly rows: readonly Cells[]; readonly node?: string | null; readonly elapsedMs: number }>;
  readonly status: { readonly code: number; readonly message: string };
}

/** Renders a whole result to text (pure). */
export function renderResult(result: StatementResult, mode: OutputMode, opts: RenderOptions = {}): { stdout: string; stderr: string } {
  let stdout = '';
  let stderr = '';
  const r = createRenderer(mode, { out: (t) => { stdout += t; }, err: (t) => { stderr += t; } }, opts);
  for (const set of result.sets) {
    r.begin(set.columns ?? []);
    for (const row of set.rows) r.row(row);
    r.end(set.elapsedMs, set.node ?? null);
  }
  r.status(result.status.code, result.status.message);
  return { stdout, stderr };
}
