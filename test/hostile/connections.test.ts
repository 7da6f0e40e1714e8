/**
 * Connection floods against a real node process with small `node.limits`: connections over the
 * per-address and per-node caps are closed at once, on the node's port (gRPC and Aerospike
 * protocol alike) and on the metrics port; silent and idle connections are closed after the
 * idle timeout, which frees room for new ones; every count shows in statistics and metrics; a
 * bystander is served throughout.
 */
import { strict as assert } from 'node:assert';
import { connect, type Socket } from 'node:net';
import { SlipstreamClient } from '../../core/client/index.ts';
import { assertServed, startHostileNode, whileServed, type HostileNode } from './harness.ts';

interface Probe {
  readonly socket: Socket;
  /** Set when the node closed the connection. */
  closedByNode: boolean;
}

/** Opens a TCP connection from `localAddress`; resolves once connected (or closed at once). */
function open(port: number, localAddress = '127.0.0.1'): Promise<Probe> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1', localAddress });
    const probe: Probe = { socket, closedByNode: false };
    socket.on('error', () => { probe.closedByNode = true; });
    socket.on('close', () => { probe.closedByNode = true; });
    socket.on('end', () => { probe.closedByNode = true; });
    socket.once('connect', () => resolve(probe));
    socket.once('error', () => resolve(probe));
  });
}

/** Waits until `cond` holds (checking every 50 ms), failing after `ms`. */
async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const statOf = async (node: HostileNode, name: string): Promise<number> => Number((await node.client.statistics()).get(name));

describe('hostile/connections: connection caps and idle timeouts', function () {
  this.timeout(120_000);
  let node: HostileNode;
  const probes: Probe[] = [];
  before(async () => {
    node = await startHostileNode({ node: { metricsPort: 0, limits: { maxConnections: 30, maxConnectionsPerAddress: 12, idleTimeoutMs: 2000, metricsMaxConnections: 6 } } });
  });
  afterEach(() => { for (const p of probes.splice(0)) p.socket.destroy(); });
  after(async () => { await node?.stop(); });

  it('closes connections over the per-address and per-node caps at once; the bystander is served', async () => {
    const { served } = await whileServed('connection flood', node, async () => {
      // the harness client holds one connection from 127.0.0.1: 11 more fit from there
      const local = await Promise.all(Array.from({ length: 20 }, () => open(node.port)));
      probes.push(...local);
      await until('the connections over the per-address cap to be closed', () => local.filter((p) => p.closedByNode).length >= 9);
      // other addresses fill the node: 12 + 12 from two more, then 6 of a third fit (30 in all)
      const others = await Promise.all(['127.0.0.2', '127.0.0.3', '127.0.0.4'].flatMap((a) => Array.from({ length: 12 }, () => open(node.port, a))));
      probes.push(...others);
      await until('the connections over the node cap to be closed', () => others.filter((p) => p.closedByNode).length >= 36 - 18);
      // still open: what the caps allow, not fewer (none closed for nothing)
      await new Promise((r) => setTimeout(r, 300));
      const open_ = [...local, ...others].filter((p) => !p.closedByNode).length;
      assert.ok(open_ >= 25 && open_ <= 29, `${open_} flood connections stayed open`);
      return open_;
    });
    assertServed(served);
    assert.ok(await statOf(node, 'client_connections_refused') >= 27);
  });

  it('closes silent and idle connections after the idle timeout, which makes room again', async () => {
    const before = await statOf(node, 'reaped_fds');
    // silent TCP connections (no first byte) and an Aerospike protocol connection gone quiet
    const silent = await Promise.all(Array.from({ length: 5 }, () => open(node.port)));
    probes.push(...silent);
    const aerospike = await open(node.port);
    probes.push(aerospike);
    const info = Buffer.from('build\n');
    const header = Buffer.alloc(8);
    header[0] = 2; header[1] = 1; header.writeUIntBE(info.length, 2, 6);
    let answered = false;
    aerospike.socket.on('data', () => { answered = true; });
    aerospike.socket.write(Buffer.concat([header, info]));
    await until('the info answer', () => answered);
    // a second gRPC client that goes idle after one call
    const idle = await SlipstreamClient.connect({ hosts: `127.0.0.1:${node.port}`, timeoutMs: 15_000 });
    try {
      await idle.get({ namespace: 'test', set: 's', key: 'none' }).catch(() => undefined);
      const openWithIdle = await statOf(node, 'client_connections');
      await until('silent and idle connections to be closed', () => [...silent, aerospike].every((p) => p.closedByNode));
      assert.ok(await statOf(node, 'reaped_fds') >= before + 6);
      // the idle gRPC connection is closed too (GOAWAY), so fewer are open than while it was active
      await until('the idle gRPC connection to close', async () => (await statOf(node, 'client_connections')) < openWithIdle);
      // and a new connection is taken again
      await idle.get({ namespace: 'test', set: 's', key: 'none' }).catch(() => undefined);
    } finally {
      idle.close();
    }
  });

  it('caps the metrics port, and counts refusals in the metrics', async () => {
    const port = node.proc.metricsPort as number;
    const flood = await Promise.all(Array.from({ length: 12 }, () => open(port)));
    probes.push(...flood);
    await until('the metrics connections over the cap to be closed', () => flood.filter((p) => p.closedByNode).length >= 6);
    for (const p of flood) p.socket.destroy();
    let text = '';
    await until('a scrape to be served again', async () => {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/metrics`);
        text = await res.text();
        return res.ok;
      } catch {
        return false;
      }
    });
    const refused = (p: string): number => Number(new RegExp(`slipstream_client_connections_total\\{port="${p}",event="refused"\\} (\\d+)`).exec(text)?.[1] ?? -1);
    assert.ok(refused('metrics') >= 6, text.slice(0, 500));
    assert.ok(refused('service') >= 27);
    assert.match(text, /slipstream_client_connections\{port="service"\} \d+/);
  });
});
