/**
 * Debian's redis-server as a peer for benchmarks: found on the PATH (installed with apt-get when
 * missing and the benchmark runs as root), started on an ephemeral loopback port with no
 * persistence, driven with `redis-benchmark`, stopped afterwards.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { connect, createServer } from 'node:net';

/** The path of a program on the PATH, or undefined. */
function which(program: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${program}`], { encoding: 'utf8' });
  const path = r.stdout.trim();
  return r.status === 0 && path !== '' ? path : undefined;
}

/** redis-server and redis-benchmark, installing Debian's package when they are missing and we are root; undefined (with the reason) otherwise. */
export function ensureRedis(): { server: string; benchmark: string } | { missing: string } {
  let server = which('redis-server');
  let benchmark = which('redis-benchmark');
  if ((server === undefined || benchmark === undefined) && process.getuid?.() === 0) {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    let r = spawnSync('apt-get', ['install', '-y', '-q', 'redis-server'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    if (r.status !== 0) {
      spawnSync('apt-get', ['update', '-q'], { env, stdio: 'ignore' });
      r = spawnSync('apt-get', ['install', '-y', '-q', 'redis-server'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    }
    server = which('redis-server');
    benchmark = which('redis-benchmark');
  }
  if (server === undefined || benchmark === undefined) return { missing: 'redis-server / redis-benchmark not found (apt-get install redis-server, as root)' };
  return { server, benchmark };
}

/** A free TCP port on 127.0.0.1 (the OS picks it; redis-server cannot listen on port 0). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a !== null ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export interface RedisServer {
  readonly port: number;
  readonly pid: number;
  stop(): Promise<void>;
}

/** Starts redis-server on an ephemeral loopback port, without persistence; resolves once it answers PING. */
export async function startRedis(serverPath: string): Promise<RedisServer> {
  const port = await freePort();
  const proc: ChildProcess = spawn(serverPath, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'yes', '--loglevel', 'warning'], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = connect(port, '127.0.0.1');
      c.once('connect', () => c.write('PING\r\n'));
      c.once('data', (d: Buffer) => { c.destroy(); resolve(d.toString().startsWith('+PONG')); });
      c.once('error', () => resolve(false));
    });
    if (ok) break;
    if (Date.now() > deadline || proc.exitCode !== null) {
      proc.kill('SIGKILL');
      throw new Error(`redis-server did not start on port ${port}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    pid: proc.pid ?? 0,
    stop: async () => {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
}

/** Runs redis-benchmark for one command; returns its requests per second (and p50 when printed). */
export function redisBenchmark(benchmarkPath: string, port: number, args: readonly string[], options: { clients: number; requests: number; randomKeys: number }): { opsPerSec: number; p50Ms: number | undefined } {
  const r = spawnSync(benchmarkPath, ['-h', '127.0.0.1', '-p', String(port), '-c', String(options.clients), '-n', String(options.requests), '-r', String(options.randomKeys), '--csv', ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`redis-benchmark failed: ${r.stderr}`);
  // --csv: a header line, then "name","rps","avg_latency_ms","min_latency_ms","p50_latency_ms",…
  const lines = r.stdout.trim().split('\n');
  const header = (lines[0] ?? '').split(',').map((s) => s.replace(/"/g, ''));
  const row = (lines[lines.length - 1] ?? '').match(/"([^"]*)"/g)?.map((s) => s.slice(1, -1)) ?? [];
  const rps = Number(row[header.indexOf('rps')] ?? row[1]);
  const p50i = header.indexOf('p50_latency_ms');
  return { opsPerSec: rps, p50Ms: p50i >= 0 ? Number(row[p50i]) : undefined };
}
