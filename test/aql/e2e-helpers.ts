/** Helpers for the aql end-to-end tests: a real node process and the real bin/aql.js. */
import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startNodeProcess, type NodeProcess } from '../helpers/process-node.ts';

export const AQL_BIN = fileURLToPath(new URL('../../bin/aql.js', import.meta.url));

export interface TestNode {
  readonly node: NodeProcess;
  readonly dir: string;
  stop(): Promise<void>;
}

/** A node on an ephemeral port with in-memory namespaces test, ns1 and users. */
export async function startTestNode(): Promise<TestNode> {
  const dir = mkdtempSync(join(tmpdir(), 'aql-e2e-'));
  const config = {
    node: { host: '127.0.0.1', port: 0, dataDir: join(dir, 'data') },
    logLevel: 'warn',
    namespaces: ['test', 'ns1', 'users'].map((name) => ({ name, storage: 'storage-memory', defaultTtl: 0 })),
  };
  writeFileSync(join(dir, 'node.json'), JSON.stringify(config));
  const node = await startNodeProcess(['--config', join(dir, 'node.json')]);
  return { node, dir, stop: async () => { await node.stop(); rmSync(dir, { recursive: true, force: true }); } };
}

export interface AqlRun {
  readonly code: number | null;
  /** stdout and stderr in the order they were written. */
  readonly output: string;
}

/**
 * Runs bin/aql.js (through the node on PATH, as a user would) to completion. stdout and stderr
 * share one file so their order is kept; `input` is piped to stdin.
 */
export async function runAql(args: readonly string[], opts: { input?: string; cwd?: string; dir: string; env?: NodeJS.ProcessEnv }): Promise<AqlRun> {
  const outPath = join(opts.dir, `out-${process.hrtime.bigint()}.txt`);
  const fd = openSync(outPath, 'w');
  try {
    const child = spawn('node', [AQL_BIN, ...args], {
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', fd, fd],
      cwd: opts.cwd ?? opts.dir,
      env: { ...process.env, NO_COLOR: '1', AQL_HISTORY: join(opts.dir, 'history'), ...opts.env },
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    return { code, output: readFileSync(outPath, 'utf8') };
  } finally {
    closeSync(fd);
    rmSync(outPath, { force: true });
  }
}

/** Timings zeroed; a TTL read a second later than written counts as the same. */
export function normalise(text: string): string {
  return text
    .replace(/\(\d+\.\d{3} secs?\)/g, '(0.000 secs)')
    .replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:3000')
    .replace(/\| 99\d( +)\|/g, (_m, pad: string) => `| 1000${pad.slice(1)}|`);
}
