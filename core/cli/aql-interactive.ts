/**
 * The interactive side of the aql shell: the `aql> ` prompt (node:readline: line editing,
 * persistent history), multi-line statements, tab completion of keywords and of the server's
 * namespace/set/bin names, progress of long statements, Ctrl-C cancelling the running statement.
 */
import { createInterface, type Interface } from 'node:readline';
import { appendFileSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { SlipstreamClient } from '../client/client.ts';
import { COMMANDS, expectedAfter, isIncomplete } from '../aql/language/parse.ts';
import { SETTING_NAMES } from '../aql/language/settings.ts';
import { OPERATIONS } from '../aql/language/operations.ts';
import type { AqlSession } from '../aql/shell/session.ts';
import { VERSION } from '../node/version.ts';

export const HISTORY_LINES = 1000;

export function historyPath(): string {
  return process.env['AQL_HISTORY'] ?? join(homedir(), '.aql_history');
}

/** A one-line progress indicator on a terminal (stderr), erased before any other output. */
export class Progress {
  private readonly tty: NodeJS.WriteStream;
  private timer: NodeJS.Timeout | undefined;
  private started = 0;
  private count = 0;
  private shown = false;
  constructor(tty: NodeJS.WriteStream) { this.tty = tty; }
  start(): void {
    if (!this.tty.isTTY) return;
    this.started = Date.now();
    this.count = 0;
    this.timer = setInterval(() => this.draw(), 250);
  }
  rows(n: number): void { this.count = n; }
  private draw(): void {
    const secs = (Date.now() - this.started) / 1000;
    if (secs < 0.5) return;
    const rate = this.count / secs;
    this.tty.write(`\r\x1b[K… ${this.count} rows (${Math.round(rate)}/s), ${secs.toFixed(1)} s — Ctrl-C cancels`);
    this.shown = true;
  }
  clear(): void {
    if (this.shown) { this.tty.write('\r\x1b[K'); this.shown = false; }
  }
  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.clear();
  }
}

/** Names the server knows, for completion; refreshed after each statement. */
class Names {
  words: string[] = [];
  private readonly client: SlipstreamClient;
  constructor(client: SlipstreamClient) { this.client = client; }
  async refresh(): Promise<void> {
    try {
      const [nss, sets, bins] = await Promise.all([this.client.namespaces(), this.client.sets(), this.client.bins()]);
      const words = new Set<string>();
      for (const ns of nss) words.add(ns.name);
      for (const s of sets) words.add(`${s.namespace}.${s.set}`);
      for (const b of bins) for (const bin of b.bins) words.add(bin);
      this.words = [...words].sort();
    } catch {
      // completion of names is best effort
    }
  }
}

const KEYWORDS = [...new Set([
  ...COMMANDS, 'FROM', 'WHERE', 'INTO', 'VALUES', 'LIMIT', 'AND', 'OR', 'NOT', 'BETWEEN', 'ON', 'PK', 'DIGEST', 'EDIGEST',
  'NAMESPACES', 'SETS', 'BINS', 'INDEXES', 'MODULES', 'SYSTEM', 'NAMESPACE', 'ORDER', 'BY', 'ASC', 'DESC', 'COUNT',
  'JSON', 'LIST', 'MAP', 'GEOJSON', 'CAST', 'AS', 'TRUE', 'FALSE', 'NULL', 'ALL', 'MODULE', 'UPTO', ...SETTING_NAMES,
])].sort();

/** Completion candidates for the word before the cursor: what the grammar expects there, else any keyword or name. */
export function complete(line: string, pending: string, names: readonly string[]): [string[], string] {
  const word = /[A-Za-z0-9_.:-]*$/.exec(line)?.[0] ?? '';
  const before = `${pending}${pending === '' ? '' : '\n'}${line.slice(0, line.length - word.length)}`;
  const expected = before.trim() === '' ? [...COMMANDS] : expectedAfter(before);
  let keywords: readonly string[] = KEYWORDS;
  let offerNames = true;
  if (/^\s*(set|get|reset)\s+$/i.test(before)) {
    keywords = before.trim().toUpperCase() === 'GET' ? [...SETTING_NAMES, 'ALL'] : SETTING_NAMES;
    offerNames = false;
  } else if (expected.length > 0) {
    keywords = expected.filter((w) => /^[A-Z][A-Z_]*$/.test(w));
    offerNames = expected.some((w) => w === '<name>' || w === '<bin>');
    if (/^\s*operate\b/i.test(before) && offerNames) keywords = [...keywords, ...Object.keys(OPERATIONS)];
  }
  const lower = word !== '' && word === word.toLowerCase() && /[a-z]/.test(word);
  const kw = keywords.filter((k) => k.startsWith(word.toUpperCase())).map((k) => (lower ? k.toLowerCase() : k));
  const nm = offerNames ? names.filter((n) => n.startsWith(word)) : [];
  return [[...new Set([...kw, ...nm])], word];
}

export interface InteractiveOptions {
  readonly session: AqlSession;
  readonly client: SlipstreamClient;
  readonly progress: Progress;
  readonly address: string;
  readonly color: boolean;
}

function loadHistory(): string[] {
  try {
    return readFileSync(historyPath(), 'utf8').split('\n').filter((l) => l.trim() !== '').slice(-HISTORY_LINES).reverse();
  } catch {
    return [];
  }
}

/** Runs the prompt until EXIT/QUIT/Q or Ctrl-D. */
export async function interactive(o: InteractiveOptions): Promise<void> {
  const names = new Names(o.client);
  await names.refresh();
  process.stdout.write(`Slipstream AQL shell\nVersion ${VERSION}\nSeed:         ${o.address}\nType HELP for the statements, EXIT to leave.\n\n`);
  let pending = '';
  const rl: Interface = createInterface({
    input: process.stdin,
    output: process.stdout,
    terminal: true,
    history: loadHistory(),
    historySize: HISTORY_LINES,
    removeHistoryDuplicates: true,
    completer: (line: string) => complete(line, pending, names.words),
  });
  const prompt = (): void => {
    rl.setPrompt(pending === '' ? 'aql> ' : '   -> ');
    rl.prompt();
  };
  const queue: string[] = [];
  let running: AbortController | undefined;
  let busy = false;
  let closed = false;
  let finish: () => void = () => {};
  const done = new Promise<void>((r) => { finish = r; });

  const handle = async (line: string): Promise<void> => {
    if (line.trim() !== '') {
      try { appendFileSync(historyPath(), `${line}\n`); } catch { /* history is best effort */ }
    }
    if (pending === '' && /^\s*(exit|quit|q)\s*;?\s*$/i.test(line)) { rl.close(); return; }
    pending = pending === '' ? line : `${pending}\n${line}`;
    if (pending.trim() === '') { pending = ''; return; }
    if (isIncomplete(pending)) return;
    const text = pending;
    pending = '';
    running = new AbortController();
    try {
      const outcome = await o.session.run(text, { signal: running.signal });
      if (outcome.exit) rl.close();
    } finally {
      running = undefined;
    }
    void names.refresh();
  };
  const pump = async (): Promise<void> => {
    if (busy) return;
    busy = true;
    try {
      while (queue.length > 0 && !closed) await handle(queue.shift() as string);
    } finally {
      busy = false;
    }
    if (!closed) prompt();
  };
  rl.on('line', (line) => { queue.push(line); void pump(); });
  rl.on('SIGINT', () => {
    if (running !== undefined) {
      running.abort();
      process.stdout.write('^C\n');
      return;
    }
    if (pending !== '' || rl.line !== '') {
      pending = '';
      process.stdout.write('^C\n');
      (rl as Interface & { line: string }).line = '';
      prompt();
      return;
    }
    process.stdout.write('\n(EXIT, QUIT or Ctrl-D leaves)\n');
    prompt();
  });
  rl.on('close', () => {
    closed = true;
    running?.abort();
    process.stdout.write('\n');
    finish();
  });
  prompt();
  await done;
  // let a statement cut short by Ctrl-D report before the connection closes
  while (busy) await new Promise((r) => setTimeout(r, 10));
}
