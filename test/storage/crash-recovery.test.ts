/**
 * Crash test with real processes: a node with a durable (`sync` commit) namespace runs under a
 * write load (puts, durable deletes, plain deletes) and is killed with SIGKILL at random
 * moments, several times. After every restart each acknowledged write must be there with the
 * right generation and value, and no acknowledged delete may have come back. An operation in
 * flight at the kill may have happened or not, but nothing else.
 */
import { strict as assert } from 'node:assert';
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SlipstreamClient } from '../../core/client/index.ts';
import { DbError } from '../../core/errors/index.ts';

const MAIN = new URL('../../core/main.ts', import.meta.url).pathname;
const KEYS_PER_WORKER = 25;
const WORKERS = 8;
const KILLS = 4;

/** What a key holds: live with a generation and value, a tombstone with its generation, or nothing. */
interface KeyState { readonly live: boolean; readonly gen: number; readonly tombGen: number; readonly value: number }
const ABSENT: KeyState = { live: false, gen: 0, tombGen: 0, value: -1 };

type Op = { kind: 'put'; value: number } | { kind: 'durableDelete' } | { kind: 'delete' };

/** The state after an op, as the kernel's generation rules say (a tombstone's generation carries on). */
function applyOp(s: KeyState, op: Op): KeyState {
  switch (op.kind) {
    case 'put': return { live: true, gen: s.live ? s.gen + 1 : s.tombGen + 1, tombGen: 0, value: op.value };
    case 'durableDelete': return s.live ? { live: false, gen: 0, tombGen: s.gen + 1, value: -1 } : s;
    case 'delete': return s.live ? ABSENT : s;
  }
}

interface NodeProc { child: ChildProcess; port: number; logs: string[] }

function startNode(configPath: string): Promise<NodeProc> {
  return new Promise((resolve, reject) => {
    const child = fork(MAIN, ['--config', configPath], { execArgv: ['--no-node-snapshot'], stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    const logs: string[] = [];
    child.stdout?.on('data', (d: Buffer) => logs.push(d.toString()));
    child.stderr?.on('data', (d: Buffer) => logs.push(d.toString()));
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`node did not start:\n${logs.join('')}`)); }, 30_000);
    child.on('message', (m: { ready?: boolean; port?: number }) => {
      if (m.ready === true && typeof m.port === 'number') { clearTimeout(timer); resolve({ child, port: m.port, logs }); }
    });
    child.on('exit', (code, signal) => { clearTimeout(timer); reject(new Error(`node exited (${code ?? signal}) before it was ready:\n${logs.join('')}`)); });
  });
}

function kill(node: NodeProc): Promise<void> {
  return new Promise((resolve) => {
    if (node.child.exitCode !== null || node.child.signalCode !== null) { resolve(); return; }
    node.child.removeAllListeners('exit');
    node.child.once('exit', () => resolve());
    node.child.kill('SIGKILL');
  });
}

describe('crash recovery (real processes, SIGKILL under a sync write load)', function () {
  this.timeout(120_000);
  let dir: string;
  let node: NodeProc | undefined;
  let client: SlipstreamClient | undefined;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'slip-crash-'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({
      node: { id: 'C1', host: '127.0.0.1', port: 0, dataDir: join(dir, 'data') },
      logLevel: 'info',
      namespaces: [{ name: 'bar', storage: 'storage-lmdb', storageOptions: { dataDir: 'bar', commit: 'sync' } }],
    }));
  });
  after(async () => {
    client?.close();
    if (node !== undefined) await kill(node);
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps every acknowledged write and delete across repeated kills', async () => {
    const keyOf = (i: number) => ({ namespace: 'bar', set: 'crash', key: `k${i}` });
    const acked: KeyState[] = Array.from({ length: WORKERS * KEYS_PER_WORKER }, () => ABSENT);
    const inFlight = new Map<number, Op>();
    let seq = 0;
    let ackedOps = 0;
    const random = (n: number) => Math.floor(Math.random() * n);

    async function verify(c: SlipstreamClient): Promise<void> {
      for (let i = 0; i < acked.length; i++) {
        const before = acked[i] as KeyState;
        const op = inFlight.get(i);
        const allowed = op === undefined ? [before] : [before, applyOp(before, op)];
        let actual: { live: boolean; gen: number; value: number };
        try {
          const r = await c.get(keyOf(i));
          actual = { live: true, gen: r.meta.generation, value: Number(r.bins['v']) };
        } catch (err) {
          if (!(err instanceof DbError && err.code === 'NOT_FOUND')) throw err;
          actual = { live: false, gen: 0, value: -1 };
        }
        const match = allowed.find((s) => s.live === actual.live && (!s.live || (s.gen === actual.gen && s.value === actual.value)));
        assert.ok(match, `key k${i}: found ${JSON.stringify(actual)}, acknowledged ${JSON.stringify(before)}${op ? `, in flight ${JSON.stringify(op)}` : ''}`);
        // the tombstone generation cannot be read back; take the in-flight outcome that matches
        acked[i] = match.live === actual.live && match === allowed[1] ? applyOp(before, op as Op) : before;
      }
      inFlight.clear();
    }

    async function worker(c: SlipstreamClient, w: number, stop: { now: boolean }): Promise<void> {
      while (!stop.now) {
        const i = w * KEYS_PER_WORKER + random(KEYS_PER_WORKER);
        const roll = random(10);
        const op: Op = roll < 7 ? { kind: 'put', value: ++seq } : roll < 9 ? { kind: 'durableDelete' } : { kind: 'delete' };
        const before = acked[i] as KeyState;
        inFlight.set(i, op);
        try {
          if (op.kind === 'put') {
            const meta = await c.put(keyOf(i), { v: BigInt(op.value) }, {}, { timeoutMs: 5000 });
            const expect = applyOp(before, op);
            assert.equal(meta.generation, expect.gen, `generation model for k${i}`);
            acked[i] = expect;
          } else {
            try {
              await c.delete(keyOf(i), { durableDelete: op.kind === 'durableDelete' }, { timeoutMs: 5000 });
            } catch (err) {
              if (!(err instanceof DbError && err.code === 'NOT_FOUND')) throw err;
              assert.equal(before.live, false, `k${i} was live but delete said NOT_FOUND`);
            }
            acked[i] = applyOp(before, op);
          }
          ackedOps++;
          inFlight.delete(i);
        } catch (err) {
          if (err instanceof assert.AssertionError) throw err;
          return; // the node died under us: this op stays in flight
        }
      }
    }

    let restarts = 0;
    for (let round = 0; round <= KILLS; round++) {
      node = await startNode(join(dir, 'config.json'));
      client = await SlipstreamClient.connect({ hosts: [`127.0.0.1:${node.port}`], timeoutMs: 5000 });
      await verify(client);
      if (round === KILLS) break;
      const stop = { now: false };
      const workers = Array.from({ length: WORKERS }, (_, w) => worker(client as SlipstreamClient, w, stop));
      const before = ackedOps;
      await new Promise((r) => setTimeout(r, 400 + random(900)));
      await kill(node);
      stop.now = true;
      await Promise.all(workers);
      client.close();
      client = undefined;
      restarts++;
      assert.ok(ackedOps > before, `round ${round}: the load made progress`);
      const logs = node.logs.join('');
      if (round > 0) assert.match(logs, /storage-lmdb recovered: records recounted/, 'the restart after a kill recounted');
    }
    assert.equal(restarts, KILLS);
    assert.ok(ackedOps > 100, `${ackedOps} acknowledged operations`);
    assert.ok(acked.some((s) => s.live) && acked.some((s) => !s.live), 'both live and deleted keys were checked');
  });
});
