/**
 * Helpers for the interoperability tests: a real node process on an ephemeral port with an
 * in-memory namespace in a temp folder, protoc stub generation, and running a foreign client.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startNodeProcess, type NodeProcess } from '../helpers/process-node.ts';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const PROTO_DIR = join(ROOT, 'proto');

/** Every .proto under proto/slipstream (relative to proto/), sorted. */
export function protoFiles(): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(PROTO_DIR, rel), { withFileTypes: true })) {
      const p = rel === '' ? name.name : `${rel}/${name.name}`;
      if (name.isDirectory()) walk(p);
      else if (p.endsWith('.proto')) out.push(p);
    }
  };
  walk('slipstream');
  return out.sort();
}

/** The first of the paths that exists (absolute) or is found on PATH; undefined when none. */
export function findTool(...candidates: string[]): string | undefined {
  for (const c of candidates) {
    if (c.startsWith('/')) { if (existsSync(c)) return c; continue; }
    for (const dir of (process.env.PATH ?? '').split(':')) if (dir !== '' && existsSync(join(dir, c))) return join(dir, c);
  }
  return undefined;
}

/** Throws a clear error naming the missing tools and how CI installs them. */
export function requireTools(tools: Record<string, string | undefined>): Record<string, string> {
  const missing = Object.entries(tools).filter(([, v]) => v === undefined).map(([k]) => k);
  if (missing.length > 0) throw new Error(`missing ${missing.join(', ')}: run .ci/system-packages (as root) to install them`);
  return tools as Record<string, string>;
}

export interface InteropNode {
  readonly node: NodeProcess;
  readonly address: string;
  readonly dir: string;
  stop(): Promise<void>;
}

/** Starts the server binary with one in-memory namespace `test` and its data in a temp folder. */
export async function startInteropNode(): Promise<InteropNode> {
  const dir = mkdtempSync(join(tmpdir(), 'slipstream-interop-'));
  const config = join(dir, 'node.json');
  writeFileSync(config, JSON.stringify({
    node: { port: 0, dataDir: join(dir, 'data') },
    logLevel: 'warn',
    namespaces: [{ name: 'test', storage: 'storage-memory', defaultTtl: 0 }],
  }));
  // generous: the Go and Python tests build their clients at the same time, on a possibly loaded machine
  const node = await startNodeProcess(['--config', config], { timeoutMs: 90_000 });
  return {
    node, dir, address: `127.0.0.1:${node.port}`,
    stop: async () => { await node.stop('SIGTERM'); rmSync(dir, { recursive: true, force: true }); },
  };
}

/** Runs protoc over every proto with the given plugin flags; returns the output folder. */
export function protoc(protocPath: string, flags: (out: string) => string[], out: string): string {
  execFileSync(protocPath, ['-I', PROTO_DIR, ...flags(out), ...protoFiles()], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  return out;
}

export interface RunResult { readonly code: number | null; readonly output: string }

/** Runs a program to completion (killed after timeoutMs); stdout and stderr together. */
export function run(cmd: string, args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: options.cwd ?? ROOT, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => { output += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { output += d.toString(); });
    const timer = setTimeout(() => { output += `\n[killed after ${options.timeoutMs ?? 60_000} ms]`; child.kill('SIGKILL'); }, options.timeoutMs ?? 60_000);
    child.on('error', (err) => { clearTimeout(timer); reject(err); });
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, output }); });
  });
}

/** A temp folder removed by the returned function. */
export function tempDir(prefix: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
