/**
 * Fairness between scans and single-record requests, against a real node process: 32 filtered
 * scans started at once by another process (two client connections, 16 each) each read 20,000
 * records on the node and send the 100 that match, while a bystander reads one record in a loop. Scans work in turns (core/transaction/scan-scheduler.ts), so the
 * bystander is served all along: no timed assertion, a progress condition instead — less than a
 * fifth of the scans' progress goes by while one of the bystander's reads waits for its answer (a
 * read stuck behind the scans sees much of their work go by), and every scan still returns every
 * record.
 */
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startHostileNode, type HostileNode } from './harness.ts';

const RECORDS = 20_000;
/** Each scan sends the records whose `i` is below this: the node reads every record and filters. */
const BELOW = 100;
const SCANS = 32;
/** The scans run in their own process (their client work would otherwise share the bystander's event loop). */
const SCAN_LOAD = fileURLToPath(new URL('../../bench/lib/scan-load.ts', import.meta.url));

describe('hostile/fairness: scans yield to single-record requests', function () {
  this.timeout(300_000);
  let node: HostileNode;
  const limits = process.env['FAIRNESS_LIMITS'] === undefined ? {} : JSON.parse(process.env['FAIRNESS_LIMITS']) as Record<string, number>;
  before(async () => {
    node = await startHostileNode({ node: { limits } });
    const v = 'f'.repeat(64);
    for (let at = 0; at < RECORDS; at += 500) {
      const entries = Array.from({ length: 500 }, (_, j) => ({ kind: 'put' as const, key: { namespace: 'test', set: 'fair', key: `k${at + j}` }, bins: { v, i: BigInt(at + j) } }));
      const r = await node.client.batchOperate(entries);
      assert.ok(r.every((x) => x.error === undefined));
    }
    await node.client.put({ namespace: 'test', set: 'bystander', key: 'k' }, { v: 1 });
  });
  after(async () => { await node?.stop(); });

  it(`a bystander's reads complete all through ${SCANS} concurrent scans`, async () => {
    const total = BELOW * SCANS;
    const load = spawn(process.execPath, ['--no-node-snapshot', SCAN_LOAD, `127.0.0.1:${node.port}`, String(SCANS), 'test', 'fair', String(BELOW)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let received = 0;
    let out = '';
    let counts: number[] | undefined;
    load.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    load.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      for (const m of d.toString().matchAll(/progress (\d+)/g)) received = Math.max(received, Number(m[1]));
      const done = /done (\[[^\]]*\])/.exec(out);
      if (done !== null) counts = JSON.parse(done[1] as string) as number[];
    });
    const exited = new Promise<number | null>((resolve) => load.on('exit', (code) => resolve(code)));
    let over = false;
    void exited.then(() => { over = true; });
    /** For each bystander read, the share of the scans' records that came while it was in flight. */
    const readsAt: number[] = [];
    const lat: number[] = [];
    try {
      while (!over) {
        const t0 = performance.now();
        const from = received;
        await node.client.get({ namespace: 'test', set: 'bystander', key: 'k' }, { timeoutMs: 120_000 });
        lat.push(performance.now() - t0);
        readsAt.push((received - from) / total);
        await new Promise((r) => setTimeout(r, 10));
      }
    } finally {
      load.kill('SIGKILL');
    }
    assert.equal(await exited, 0, out.slice(-2000));
    assert.deepEqual(counts, Array.from({ length: SCANS }, () => BELOW), 'every scan returns every matching record');
    // the most scan progress made while one bystander read was in flight (a read blocked behind
    // the scans sees a large share of their work go by)
    const widest = Math.max(...readsAt);
    const sorted = [...lat].sort((a, b) => a - b);
    console.log(`      bystander: ${readsAt.length} reads while ${SCANS} scans read ${RECORDS} records each (sending ${total} in all); at most ${(widest * 100).toFixed(1)}% of the scans' progress while one read was in flight; p50 ${Math.round(sorted[Math.floor(sorted.length / 2)] ?? 0)} ms, max ${Math.round(sorted[sorted.length - 1] ?? 0)} ms`);
    // served all along: no read waits while a large share of the scans' work is done
    assert.ok(readsAt.length >= 10, `only ${readsAt.length} bystander reads`);
    assert.ok(widest < 0.2, `${(widest * 100).toFixed(1)}% of the scans' progress went by while one bystander read waited`);
    node.assertAlive();
  });
});
