import { strict as assert } from 'node:assert';
import { tcpTransport, frameBytes, frameReader } from '../../core/cluster/tcp-transport.ts';
import { createClusterService, type ClusterService } from '../../core/cluster/cluster-service.ts';
import { decodeFrame } from '../../core/cluster/frame-codec.ts';
import type { Frame, Pulse } from '../../core/cluster/messages.ts';
import { silentLogger, systemClock, type NodeId, type PluginContext } from '../../core/plugin-api/index.ts';
import { globalKeyReplication } from '../../plugins/replication-global-key/index.ts';
import { basicRetransmit } from '../../plugins/retransmit-basic/index.ts';
import { freePort } from '../helpers/cluster-relay.ts';

const pulse = (node: bigint, extra: Partial<Pulse> = {}): Pulse => ({
  t: 'pulse', node, clusterName: 'c', hb: 'x:1', fabric: 'x:2', service: '', rack: 0, zone: 0, state: 'bootstrap',
  clusterKey: 0xffff_ffff_ffffn, principal: 0n, succession: [0xffff_ffff_ffff_ffffn], adjacency: [], ...extra,
});

async function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}

describe('cluster/tcp transport', () => {
  it('frames survive arbitrary chunking, and 64-bit ids round-trip exactly', () => {
    const frames: Frame[] = [pulse(1n), pulse(0xfedc_ba98_7654_3210n, { clusterName: 'ünï' }), pulse(3n)];
    const bytes = Buffer.concat(frames.map((f) => frameBytes(f)));
    for (const step of [1, 3, 7, 64, bytes.length]) {
      const got: Frame[] = [];
      const read = frameReader(1 << 20, (p) => {
        const r = decodeFrame(p, 'heartbeat');
        assert.ok(r.ok, r.ok ? '' : r.reason);
        got.push(r.frame);
      }, () => assert.fail('oversize'));
      for (let i = 0; i < bytes.length; i += step) assert.ok(read.push(bytes.subarray(i, i + step)));
      assert.deepEqual(got, frames);
      assert.equal(read.buffered, 0);
      assert.equal(read.frameStartedAt, undefined);
    }
  });

  it('rejects an oversized frame by its length, before reading it', () => {
    let len: number | undefined;
    const read = frameReader(1000, () => assert.fail('read'), (n) => { len = n; });
    const b = Buffer.alloc(4);
    b.writeUInt32BE(0xffff_ffff, 0);
    assert.equal(read.push(b), false);
    assert.equal(len, 0xffff_ffff);
  });

  it('buffers a trickled frame once: a 8 MiB frame in 1 KiB chunks is linear work', () => {
    const payload = Buffer.alloc(8 * 1024 * 1024, 0x20);
    const framed = Buffer.concat([Buffer.from([0, 0x80, 0, 0]), payload]);
    let got = 0;
    const read = frameReader(16 << 20, (p) => { got = p.length; }, () => assert.fail('oversize'));
    for (let i = 0; i < framed.length; i += 1024) read.push(framed.subarray(i, i + 1024));
    assert.equal(got, payload.length);
  });

  it('delivers frames over 127.0.0.1 and reconnects after the peer restarts on the same port', async () => {
    const a = tcpTransport();
    let b = tcpTransport();
    const got: bigint[] = [];
    await a.listen('127.0.0.1:0', () => {});
    const addr = await b.listen('127.0.0.1:0', (f) => { if (f.t === 'pulse') got.push(f.node); });
    try {
      a.send(addr, pulse(1n));
      assert.ok(await waitFor(() => got.length === 1, 2000));
      await b.close();
      b = tcpTransport();
      await b.listen(addr, (f) => { if (f.t === 'pulse') got.push(f.node); });
      // the old connection is dead; sends may be lost until the transport reconnects
      const ok = await waitFor(() => {
        a.send(addr, pulse(2n));
        return got.includes(2n);
      }, 3000);
      assert.ok(ok, 'never reconnected');
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('tells whether a frame left: false when no connection could be made (the port refuses it) or before the peer\'s challenge, true once written to a live connection', async () => {
    const closedPort = await freePort(); // nobody listens there
    const secret = Buffer.alloc(32, 7);
    const a = tcpTransport({ secret });
    const b = tcpTransport({ secret });
    const got: bigint[] = [];
    const addr = await b.listen('127.0.0.1:0', (f) => { if (f.t === 'pulse') got.push(f.node); });
    const outcome = (to: string, node: bigint): Promise<boolean> => new Promise((resolve) => a.send(to, pulse(node), resolve));
    try {
      // refused: both frames queued for the connection are reported, and the next (in back-off) at once
      assert.deepEqual(await Promise.all([outcome(`127.0.0.1:${closedPort}`, 1n), outcome(`127.0.0.1:${closedPort}`, 2n)]), [false, false]);
      assert.equal(await outcome(`127.0.0.1:${closedPort}`, 3n), false);
      // a live peer: written once its challenge came, and delivered
      assert.equal(await outcome(addr, 4n), true);
      assert.ok(await waitFor(() => got.includes(4n), 2000));
      await a.close();
      assert.equal(await outcome(addr, 5n), false, 'a closed transport sends nothing');
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('reports a port in use as a DbError', async () => {
    const a = tcpTransport();
    const b = tcpTransport();
    const addr = await a.listen('127.0.0.1:0', () => {});
    try {
      await assert.rejects(b.listen(addr, () => {}), /cannot listen on/);
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe('cluster/tcp cluster (real sockets, real clock, in one process)', () => {
  it('three nodes form a cluster over TCP, and drop a stopped node', async function () {
    this.timeout(20_000);
    const ctx = (id: NodeId): PluginContext => ({ nodeId: id, logger: silentLogger, clock: systemClock, signal: new AbortController().signal });
    const mk = (id: NodeId, seeds: string[]): ClusterService => createClusterService({
      nodeId: id, clusterName: 'tcp-test', heartbeatAddress: '127.0.0.1:0', fabricAddress: '127.0.0.1:0', seeds,
      heartbeatIntervalMs: 50, heartbeatTimeout: 5, quantumMs: 300, transport: () => tcpTransport(),
      replication: globalKeyReplication().create(ctx(id), {}), retransmit: basicRetransmit().create(ctx(id), { intervalMs: 50 }),
      namespaces: [{ name: 'test', replicationFactor: 2 }],
    });
    const first = mk(3n, []);
    await first.start();
    const seed = first.addresses().heartbeat;
    const others = [mk(2n, [seed]), mk(1n, [seed])];
    const all = [first, ...others];
    try {
      for (const s of others) await s.start();
      const formed = await waitFor(() => all.every((s) => s.state() === 'online' && s.view()?.succession.length === 3 && s.view()?.clusterKey === first.view()?.clusterKey), 10_000);
      assert.ok(formed, JSON.stringify(all.map((s) => [s.state(), s.view()?.succession.length])));
      assert.equal(others[1]?.partitionTable('test')?.counts.size, 3);
      await others[0]?.stop();
      const shrunk = await waitFor(() => [first, others[1]].every((s) => s?.view()?.succession.length === 2 && s.state() === 'online'), 5000);
      assert.ok(shrunk, 'stopped node was not removed');
    } finally {
      for (const s of all) await s.stop();
    }
  });
});
