/**
 * The hostile suite's harness: a real node process, a bystander client whose latency is
 * measured while an attack runs, and the node's resident memory read from /proc.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNodeProcess, type NodeProcess } from '../helpers/process-node.ts';
import { SlipstreamClient } from '../../core/client/index.ts';

export interface HostileNode {
  readonly proc: NodeProcess;
  readonly port: number;
  readonly client: SlipstreamClient;
  readonly dir: string;
  rssMiB(): number;
  /** Asserts the process is still running. */
  assertAlive(): void;
  stop(): Promise<void>;
}

/** Starts the server binary with a config (node section merged over the defaults). */
export async function startHostileNode(config: Record<string, unknown> = {}, id = 'A1'): Promise<HostileNode> {
  const dir = mkdtempSync(join(tmpdir(), 'slipstream-hostile-'));
  const { node, ...rest } = config as { node?: Record<string, unknown> };
  const full = {
    node: { id, host: '127.0.0.1', port: 0, dataDir: join(dir, 'data'), ...node },
    logLevel: 'error',
    namespaces: [{ name: 'test', storage: 'storage-memory' }],
    ...rest,
  };
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify(full));
  const proc = await startNodeProcess(['--config', file], { timeoutMs: 60_000 });
  const client = await SlipstreamClient.connect({ hosts: `127.0.0.1:${proc.port}`, timeoutMs: 15_000 });
  return {
    proc, port: proc.port, client, dir,
    rssMiB: () => rssMiB(proc.child.pid as number),
    assertAlive() {
      assert.equal(proc.child.exitCode, null, `the node exited:\n${proc.output().slice(-3000)}`);
      assert.equal(proc.child.signalCode, null, `the node was killed:\n${proc.output().slice(-3000)}`);
    },
    async stop() {
      client.close();
      await proc.stop('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Resident memory of a process, in MiB. */
export function rssMiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m === null ? 0 : Number(m[1]) / 1024;
}

export interface Served {
  readonly calls: number;
  readonly errors: readonly string[];
  readonly p50Ms: number;
  readonly maxMs: number;
  /** Highest RSS seen while the attack ran (MiB), when a node was given. */
  readonly peakRssMiB: number;
}

/**
 * Runs `attack` while a bystander client reads one record in a loop on `node`; reports how
 * many reads it got, their latency and the node's peak RSS, and prints them.
 */
export async function whileServed<T>(label: string, node: HostileNode, attack: () => Promise<T>): Promise<{ result: T; served: Served }> {
  const key = { namespace: 'test', set: 'bystander', key: 'k' };
  await node.client.put(key, { v: 1 });
  let done = false;
  const lat: number[] = [];
  const errors: string[] = [];
  let peak = node.rssMiB();
  const started = performance.now();
  let slowestAt = 0;
  let slowest = 0;
  const probe = (async () => {
    while (!done) {
      const t0 = performance.now();
      try {
        await node.client.get(key, { timeoutMs: 20_000 });
        const ms = performance.now() - t0;
        lat.push(ms);
        if (ms > slowest) {
          slowest = ms;
          slowestAt = t0 - started;
        }
      } catch (e) {
        errors.push(String(e));
      }
      try {
        peak = Math.max(peak, node.rssMiB());
      } catch { /* exited: assertAlive says so */ }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  let result: T;
  try {
    result = await attack();
  } finally {
    done = true;
    await probe;
  }
  // one more read after the attack: the node still answers
  const t0 = performance.now();
  await node.client.get(key, { timeoutMs: 20_000 });
  lat.push(performance.now() - t0);
  const sorted = [...lat].sort((a, b) => a - b);
  const served: Served = {
    calls: lat.length, errors, p50Ms: Math.round(sorted[Math.floor(sorted.length / 2)] ?? 0),
    maxMs: Math.round(sorted[sorted.length - 1] ?? 0), peakRssMiB: Math.round(peak),
  };
  console.log(`      [${label}] bystander: ${served.calls} reads, p50 ${served.p50Ms} ms, max ${served.maxMs} ms (at +${Math.round(slowestAt)} ms of ${Math.round(performance.now() - started)}), errors ${errors.length}; node RSS peak ${served.peakRssMiB} MiB`);
  return { result, served };
}

/**
 * The bounds every hostile test holds the bystander to: generous (the machine is shared and
 * often loaded 15-fold), yet well under the stalls the attacks caused before they were closed
 * (31 s for a huge batch, 56 s behind scans, 9.8 s behind a regex).
 */
export function assertServed(s: Served, opts: { maxMs?: number; maxRssMiB?: number } = {}): void {
  assert.deepEqual(s.errors, [], 'the bystander client got errors');
  assert.ok(s.calls >= 2, `the bystander got only ${s.calls} answers`);
  assert.ok(s.maxMs < (opts.maxMs ?? 20_000), `a bystander read took ${s.maxMs} ms`);
  assert.ok(s.peakRssMiB < (opts.maxRssMiB ?? 700), `node RSS reached ${s.peakRssMiB} MiB`);
}
