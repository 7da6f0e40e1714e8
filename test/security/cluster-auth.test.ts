/**
 * Nodes authenticate each other: with security.clusterSecretFile every heartbeat and fabric
 * frame is signed, so a process with the right cluster name but without the secret cannot join,
 * forge a heartbeat or speak on the fabric (real processes on 127.0.0.1).
 */
import { strict as assert } from 'node:assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Metadata } from '@grpc/grpc-js';
import { ProcessCluster } from '../helpers/process-cluster.ts';
import type { NodeProcess } from '../helpers/process-node.ts';
import type { GetClusterInfoResponse } from '../../core/wire/generated/slipstream/v1/cluster.ts';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { tcpTransport, frameBytes, CHALLENGE_BYTES } from '../../core/cluster/tcp-transport.ts';
import type { Frame, Pulse } from '../../core/cluster/messages.ts';
import { until } from '../helpers/until.ts';
import { clusterInfo } from '../helpers/cluster-info.ts';

const HB = { intervalMs: 100, timeout: 10 };

/** Cluster info, as the admin of the secured nodes (a node without security ignores the credentials). */
function info(port: number): Promise<GetClusterInfoResponse> {
  const md = new Metadata();
  md.set('user', 'admin');
  md.set('password', 'pw');
  return clusterInfo(port, md);
}

const members = (r: GetClusterInfoResponse): string => r.members.map((m) => m.nodeId).sort().join(',');

describe('security/cluster authentication', function () {
  this.timeout(180_000);
  const cluster = new ProcessCluster({
    name: 'cluster-auth', clusterName: 'alpha', heartbeat: HB, metrics: true,
    sections: (dir) => {
      writeFileSync(join(dir, 'cluster.secret'), 'a shared cluster secret of enough bytes\n');
      writeFileSync(join(dir, 'admin.password'), 'pw');
      return { security: { clusterSecretFile: join(dir, 'cluster.secret'), adminPasswordFile: join(dir, 'admin.password') } };
    },
    login: { user: 'admin', password: 'pw' },
    startTimeoutMs: 60_000,
  });
  const start = (id: string, seeds: string[], withSecret: boolean): Promise<NodeProcess> => cluster.start(id, { seeds, ...(withSecret ? {} : { sections: {} }) });

  after(() => cluster.close());

  const pulse = (node: bigint): Pulse => ({
    t: 'pulse', node, clusterName: 'alpha', hb: 'x:1', fabric: 'x:2', service: '', rack: 0, zone: 0, state: 'bootstrap',
    clusterKey: 1n, principal: 0n, succession: [node], adjacency: [],
  });

  /** A raw connection to a secured transport, with the challenge it was sent. */
  async function rawPeer(addr: string): Promise<{ socket: Socket; challenge: Buffer }> {
    const socket = connect({ host: '127.0.0.1', port: Number(addr.split(':')[1]) });
    const challenge = await new Promise<Buffer>((resolve, reject) => {
      let got = Buffer.alloc(0);
      socket.on('data', (d: Buffer) => {
        got = Buffer.concat([got, d]);
        if (got.length >= CHALLENGE_BYTES) resolve(got.subarray(0, CHALLENGE_BYTES));
      });
      socket.once('error', reject);
    });
    return { socket, challenge };
  }

  it('signed frames are delivered; unsigned, tampered and foreign-keyed frames are refused before decoding and counted', async () => {
    const secret = Buffer.from('0123456789abcdef0123456789abcdef');
    const receiver = tcpTransport({ channel: 'heartbeat', secret });
    const got: Frame[] = [];
    const addr = await receiver.listen('127.0.0.1:0', (f) => got.push(f));
    const friend = tcpTransport({ channel: 'heartbeat', secret });
    const stranger = tcpTransport({ channel: 'heartbeat' });
    const impostor = tcpTransport({ channel: 'heartbeat', secret: Buffer.from('another secret of 32 bytes......') });
    const raw = await rawPeer(addr);
    try {
      friend.send(addr, pulse(1n));
      stranger.send(addr, pulse(2n));
      impostor.send(addr, pulse(3n));
      // a signed frame with one payload byte changed
      const tampered = frameBytes(pulse(4n), { secret, channel: 'heartbeat', challenge: raw.challenge, counter: 1n });
      tampered[10] = (tampered[10] as number) ^ 1;
      raw.socket.write(tampered);
      // the fabric's signature does not pass on the heartbeat channel
      raw.socket.write(frameBytes(pulse(5n), { secret, channel: 'fabric', challenge: raw.challenge, counter: 2n }));
      friend.send(addr, pulse(6n));
      const ok = await until('frames', async () => (got.length >= 2 && receiver.stats().framesUnauthenticated >= 4 ? true : undefined), 10_000);
      assert.ok(ok);
      assert.deepEqual(got.map((f) => (f as Pulse).node), [1n, 6n]);
      assert.equal(receiver.stats().framesUnauthenticated, 4);
      assert.equal(receiver.stats().framesDropped, 0, 'refused frames are not even decoded');
    } finally {
      raw.socket.destroy();
      await Promise.all([receiver, friend, stranger, impostor].map((t) => t.close()));
    }
  });

  it('frames recorded on the wire cannot be replayed: not on a new connection, not on the same one, not to another node', async () => {
    const secret = Buffer.from('0123456789abcdef0123456789abcdef');
    const got: Frame[] = [];
    const receiver = tcpTransport({ channel: 'heartbeat', secret });
    const addr = await receiver.listen('127.0.0.1:0', (f) => got.push(f));
    const other: Frame[] = [];
    const otherNode = tcpTransport({ channel: 'heartbeat', secret });
    const otherAddr = await otherNode.listen('127.0.0.1:0', (f) => other.push(f));
    // a relay between the friend and the receiver that records what the friend sends
    const recorded: Buffer[] = [];
    const relayed: Socket[] = [];
    let relayConnections = 0;
    const relay = createServer((inSock) => {
      relayConnections++;
      const out = connect({ host: '127.0.0.1', port: Number(addr.split(':')[1]) });
      relayed.push(inSock, out);
      out.on('data', (d: Buffer) => inSock.write(d));
      inSock.on('data', (d: Buffer) => { recorded.push(d); out.write(d); });
      inSock.on('error', () => out.destroy());
      out.on('error', () => inSock.destroy());
    });
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', () => r()));
    const relayAddr = `127.0.0.1:${(relay.address() as AddressInfo).port}`;
    const friend = tcpTransport({ channel: 'heartbeat', secret });
    const raws: Socket[] = [];
    try {
      friend.send(relayAddr, pulse(1n));
      friend.send(relayAddr, pulse(2n));
      await until('the friend\'s frames', async () => (got.length >= 2 ? true : undefined), 10_000);
      const wire = Buffer.concat(recorded);
      const firstFrame = wire.subarray(0, 4 + wire.readUInt32BE(0));

      // the whole recording, played on a new connection to the same node and to another node
      for (const target of [addr, otherAddr]) {
        const raw = await rawPeer(target);
        raws.push(raw.socket);
        raw.socket.write(wire);
      }
      // the first frame again, on the friend's own connection (through the relay's outgoing socket: as a man in the middle)
      const mitm = await rawPeer(addr);
      raws.push(mitm.socket);
      mitm.socket.write(firstFrame);
      await until('replays refused', async () => (receiver.stats().framesUnauthenticated >= 3 && otherNode.stats().framesUnauthenticated >= 2 ? true : undefined), 10_000);
      assert.deepEqual(got.map((f) => (f as Pulse).node), [1n, 2n], 'nothing replayed was delivered');
      assert.equal(other.length, 0);
      assert.equal(receiver.stats().framesUnauthenticated, 3);
      assert.equal(otherNode.stats().framesUnauthenticated, 2);
      // a frame signed for the connection but with a counter that does not increase is refused too
      const dup = await rawPeer(addr);
      raws.push(dup.socket);
      dup.socket.write(frameBytes(pulse(7n), { secret, channel: 'heartbeat', challenge: dup.challenge, counter: 5n }));
      dup.socket.write(frameBytes(pulse(8n), { secret, channel: 'heartbeat', challenge: dup.challenge, counter: 5n }));
      dup.socket.write(frameBytes(pulse(9n), { secret, channel: 'heartbeat', challenge: dup.challenge, counter: 6n }));
      await until('in-order frames', async () => (got.length >= 4 ? true : undefined), 10_000);
      assert.deepEqual(got.map((f) => (f as Pulse).node), [1n, 2n, 7n, 9n]);
      assert.equal(receiver.stats().framesUnauthenticated, 4);
      // the sender keeps one connection per peer, however many frames it sends (each waits for no new challenge)
      for (let i = 0; i < 50; i++) friend.send(relayAddr, pulse(100n + BigInt(i)));
      await until('the friend\'s further frames', async () => (got.length >= 54 ? true : undefined), 10_000);
      assert.deepEqual(got.slice(4).map((f) => (f as Pulse).node), Array.from({ length: 50 }, (_, i) => 100n + BigInt(i)), 'in order');
      assert.equal(relayConnections, 1, 'one connection from the friend');
    } finally {
      for (const r of [...raws, ...relayed]) r.destroy();
      await new Promise<void>((r) => relay.close(() => r()));
      await Promise.all([receiver, otherNode, friend].map((t) => t.close()));
    }
  });

  it('a node without the cluster secret cannot join a secured cluster, and its frames are refused and counted', async () => {
    const [a, b] = await cluster.startCluster(['A1', 'A2'], { ms: 30_000 });
    const seed = await cluster.heartbeatAddress('A1');

    // same cluster name, same seed, no secret: a foreign process
    const foreign = await start('FF', [seed], false);
    const refused = await until('frames refused', async () => {
      const text = await (await fetch(`http://127.0.0.1:${a.metricsPort}/metrics`)).text();
      const n = Number(/^slipstream_cluster_frames_unauthenticated\{channel="heartbeat"\} (\d+)$/m.exec(text)?.[1] ?? 0);
      return n >= 5 ? n : undefined;
    }, 20_000);
    assert.ok(refused >= 5);
    // give it time to try: it must never become a member, and the secured pair stays whole
    await new Promise((r) => setTimeout(r, 1500));
    for (const p of [a, b]) assert.equal(members(await info(p.port)), 'A1,A2');
    assert.equal(members(await info(foreign.port)), 'FF');
  });
});
