/**
 * A member stopped with SIGTERM leaves gracefully, with real processes on 127.0.0.1 (memory
 * namespace, RF 2, heartbeat 150 ms × 20 = a 3 s node timeout): under a write load through every
 * node (one writer pinned to each node, plus a partition-aware client), the node hands its
 * partitions over, the survivors re-form without it while it still runs and is still heard (so
 * not by its heartbeat timing out), it keeps serving (proxying) until it exits with code 0, and
 * no acknowledged write is lost. The failed writes are reported.
 */
import { strict as assert } from 'node:assert';
import { ProcessCluster, membersOf } from '../helpers/process-cluster.ts';
import { AckChecker } from '../helpers/ack-checker.ts';
import { until } from '../helpers/until.ts';
import { aerospikeInfo as asInfo } from '../helpers/aerospike-info.ts';
import { SlipstreamClient } from '../../core/client/index.ts';
import { credentials } from '@grpc/grpc-js';
import { ClusterServiceClient, type GetClusterInfoResponse, type QuiesceResponse } from '../../core/wire/generated/slipstream/v1/cluster.ts';

const HB = { intervalMs: 150, timeout: 20 };
const NS = 'test';

/** ClusterService.Quiesce over gRPC. */
function grpcQuiesce(port: number, undo: boolean): Promise<QuiesceResponse> {
  const c = new ClusterServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
  return new Promise((resolve, reject) => c.quiesce({ undo }, (err, res) => { c.close(); if (err) reject(err); else resolve(res); }));
}

/** Partitions of namespace `test` a node masters, by its `replicas-master` bitmap (what the official clients read). */
async function mastered(port: number): Promise<number> {
  const entry = (await asInfo(port, 'replicas-master')).split(';').find((e) => e.startsWith(`${NS}:`)) ?? '';
  let n = 0;
  for (const byte of Buffer.from(entry.slice(NS.length + 1), 'base64')) for (let b = byte; b !== 0; b &= b - 1) n++;
  return n;
}

describe('cluster/graceful leave with real processes (SIGTERM under write load)', function () {
  this.timeout(300_000);
  const cluster = new ProcessCluster({ name: 'leave', clusterName: 'leave', heartbeat: HB });
  const checker = new AckChecker();
  after(() => cluster.close());

  it('3 nodes RF 2: SIGTERM of a member re-forms the others before it stops, it exits 0, no acknowledged write is lost', async () => {
    // a longer drain than the default 1.5 s, so that a loaded machine's slow GetClusterInfo polls
    // still see the re-formed cluster while the leaving node runs
    const clusterFields = { leave: { drainMs: 5000 } };
    await cluster.start('A3', { clusterFields });
    const seed = await cluster.heartbeatAddress('A3');
    await Promise.all(['A2', 'A1'].map((id) => cluster.start(id, { seeds: [seed], clusterFields })));
    await cluster.formed(['A3', 'A2', 'A1'], { settled: true });
    const ports = new Map(['A3', 'A2', 'A1'].map((id) => [id, cluster.port(id)]));
    let pinned = new Set(['A3', 'A2', 'A1']);
    let stopping = false;
    const failures: Array<{ at: number; what: string }> = [];
    let n = 0;
    /** One write at a time through `client`, keys of its own; failures recorded with where they went. */
    const writer = async (name: string, connect: () => Promise<SlipstreamClient>, goOn: () => boolean): Promise<void> => {
      let cl: SlipstreamClient | undefined;
      for (let i = 0; !stopping && goOn(); i++) {
        const key = `${name}-${i % 100}`;
        const value = BigInt(++n);
        try {
          cl ??= await connect();
          const meta = await cl.put({ namespace: NS, set: 'load', key }, { v: value });
          checker.ack(key, { value, generation: meta.generation, lastUpdateMs: meta.lastUpdateMs, side: name });
        } catch (e) {
          checker.fail(key, value, (e as { inDoubt?: boolean }).inDoubt === true, `${(e as { code?: string }).code ?? ''} ${(e as Error).message}`);
          failures.push({ at: Date.now(), what: `${name}: ${(e as { code?: string }).code ?? ''} ${(e as Error).message.slice(0, 120)}` });
          cl?.close();
          cl = undefined;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      cl?.close();
    };
    const writers = [
      ...[...ports].map(([id, port]) => writer(`via-${id}`, () => SlipstreamClient.connect({ routing: 'seed', hosts: `127.0.0.1:${port}`, timeoutMs: 5000 }), () => pinned.has(id))),
      writer('smart', () => SlipstreamClient.connect({ hosts: [...ports.values()].map((p) => `127.0.0.1:${p}`), timeoutMs: 5000 }), () => true),
    ];
    await until('writes acknowledged through every node', async () => (['A3', 'A2', 'A1'].every((id) => [...checker.acked.keys()].some((k) => k.startsWith(`via-${id}-`))) && checker.ackTimes.length > 100 ? true : undefined), 60_000);

    const before = checker.ackTimes.length;
    let exitCode: number | null | undefined;
    const t0 = Date.now();
    const exited = cluster.stop('A2', 'SIGTERM').then((code) => { exitCode = code; return code; });
    // the survivors re-form without A2 while A2 still runs and they still hear it: its departure, not a timeout
    let seen: GetClusterInfoResponse[] = [];
    await until('the survivors re-formed without A2', async () => {
      const rs = await Promise.all(['A3', 'A1'].map((id) => cluster.info(id)));
      if (!rs.every((r) => membersOf(r) === 'A3,A1' && r.clusterKey === rs[0]?.clusterKey)) return undefined;
      seen = rs;
      return true;
    }, 60_000, 20);
    const reformedMs = Date.now() - t0;
    assert.equal(exitCode, undefined, 'A2 exited before the survivors re-formed without it');
    for (const r of seen) assert.ok(r.others.includes('A2'), `${r.nodeId} no longer hears A2 when it re-formed without it: ${JSON.stringify(r.others)}`);
    // A2 still serves: a write through it is proxied to the new owners
    const viaLeaver = await SlipstreamClient.connect({ routing: 'seed', hosts: `127.0.0.1:${ports.get('A2') as number}`, timeoutMs: 5000 });
    try {
      const meta = await viaLeaver.put({ namespace: NS, set: 'load', key: 'after-reform' }, { v: 7n });
      checker.ack('after-reform', { value: 7n, generation: meta.generation, lastUpdateMs: meta.lastUpdateMs, side: 'A2' });
    } finally {
      viaLeaver.close();
    }
    // clients pinned to A2 move on once they learned the new map (a client tends every second)
    pinned = new Set(['A3', 'A1']);
    const code = await exited;
    const exitMs = Date.now() - t0;
    assert.equal(code, 0, `A2's exit code:\n${cluster.output('A2').slice(-3000)}`);
    await until('writes acknowledged after A2 stopped', async () => (checker.ackTimes.length > before + 100 ? true : undefined), 60_000);
    stopping = true;
    await Promise.all(writers);

    const problems: string[] = [];
    for (const id of ['A3', 'A1']) {
      const cl = await SlipstreamClient.connect({ routing: 'seed', hosts: `127.0.0.1:${cluster.port(id)}`, timeoutMs: 10_000 });
      try {
        for (const key of checker.acked.keys()) {
          let got: bigint | undefined;
          try {
            got = (await cl.get({ namespace: NS, set: 'load', key })).bins['v'] as bigint;
          } catch (e) {
            if ((e as { code?: string }).code !== 'NOT_FOUND') throw e;
          }
          const p = checker.judge(key, got);
          if (p !== undefined) problems.push(`through ${id}: ${p}`);
        }
      } finally {
        cl.close();
      }
    }
    const after = failures.filter((f) => f.at >= t0);
    console.log(`      (SIGTERM of A2: survivors re-formed ${reformedMs} ms after the signal, A2 exited after ${exitMs} ms; ${checker.ackTimes.length} writes acknowledged, ${after.length} failed after the signal${after.length > 0 ? ` (${after.slice(0, 3).map((f) => `+${f.at - t0} ms ${f.what}`).join('; ')})` : ''}, ${failures.length - after.length} before it, ${checker.inDoubt} in doubt)`);
    assert.equal(problems.length, 0, `acknowledged writes lost:\n${problems.slice(0, 5).join('\n')}`);
    assert.ok([...checker.acked.keys()].some((k) => k.startsWith('smart-')), 'the partition-aware client wrote');
  });

  it('quiesce over the Aerospike info protocol and quiesce-undo over gRPC: the node stays a member but masters nothing, then masters again', async () => {
    const [a1, a3] = [cluster.port('A1'), cluster.port('A3')];
    assert.ok(await mastered(a1) > 0);
    assert.equal(await asInfo(a1, 'quiesce:'), 'ok');
    await until('A1 masters nothing', async () => (await mastered(a1) === 0 && await mastered(a3) === 4096 ? true : undefined), 60_000);
    const seen = await cluster.info('A3');
    assert.deepEqual(seen.members.map((m) => `${m.nodeId}${m.quiesced ? ' quiesced' : ''}`), ['A3', 'A1 quiesced'], 'a quiesced node is still a member, marked so');
    assert.equal(await asInfo(a3, 'recluster:'), 'ok');
    assert.equal(await asInfo(a1, 'recluster:'), 'ignored-by-non-principal');
    assert.deepEqual(await grpcQuiesce(a1, true), { quiesced: false, leaving: false });
    await until('A1 masters again', async () => (await mastered(a1) > 0 && (await cluster.info('A3')).members.every((m) => !m.quiesced) ? true : undefined), 60_000);
  });

  it('a second SIGTERM during the graceful stop exits at once (code 1)', async () => {
    // a drain far longer than the test waits: only the second signal can end it soon
    await cluster.restart('A1', { clusterFields: { leave: { drainMs: 600_000 } } });
    await cluster.formed(['A3', 'A1']);
    const p = cluster.node('A1');
    const first = cluster.stop('A1', 'SIGTERM');
    await until('A3 re-formed without A1 (A1 draining)', async () => (membersOf(await cluster.info('A3')) === 'A3' ? true : undefined), 60_000);
    await new Promise((r) => setTimeout(r, 1200)); // past the window in which a repeated signal counts as the same request
    assert.equal(await p.stop('SIGTERM'), 1, `A1's exit code after a second SIGTERM:\n${cluster.output('A1').slice(-2000)}`);
    assert.equal(await first, 1);
  });
});
