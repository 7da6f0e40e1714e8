import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const MAIN = fileURLToPath(new URL('../../core/main.ts', import.meta.url));

export interface NodeProcess {
  readonly child: ChildProcess;
  readonly port: number;
  /** The Prometheus endpoint's port, when the node serves one. */
  readonly metricsPort: number | undefined;
  output(): string;
  /** Sends a signal and waits for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Starts the real server binary as a child process; resolves when it reports its port (allowing a minute: machines running several suites start slowly).
 * `main`: another checkout's core/main.ts (benches comparing two versions); default this one's.
 */
export function startNodeProcess(args: string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; nodeFlags?: readonly string[]; main?: string } = {}): Promise<NodeProcess> {
  const child = spawn(process.execPath, ['--no-node-snapshot', ...(options.nodeFlags ?? []), options.main ?? MAIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    env: { ...process.env, LOG_FORMAT: 'json', ...options.env },
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { out += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`node did not start in time:\n${out}`)); }, options.timeoutMs ?? 60_000);
    child.on('message', (m: { ready?: boolean; port?: number; metricsPort?: number }) => {
      if (m.ready === true && typeof m.port === 'number') {
        clearTimeout(timer);
        resolve({
          child,
          port: m.port,
          metricsPort: m.metricsPort,
          output: () => out,
          stop: async (signal = 'SIGTERM') => { if (child.exitCode === null) child.kill(signal); return exited; },
        });
      }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`node exited with ${code} before it was ready:\n${out}`)); });
  });
}

/** Runs the binary to completion and returns its exit code and output. */
export function runNodeBinary(args: string[]): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ['--no-node-snapshot', MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, output: out })));
}
