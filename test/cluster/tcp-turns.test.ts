/**
 * The TCP transport writes the frames of a turn from one buffer, and writes the next turn from the
 * same buffer when the kernel took the last one at once. Every frame must arrive intact and in
 * order whether the peer reads at once (the buffer is reused) or not at all for a while (writes
 * wait in the socket, holding their bytes: the buffer must not be reused under them). A raw
 * socket receives, paused at first, so that the sender's writes back up.
 */
import { strict as assert } from 'node:assert';
import { createServer, type Socket } from 'node:net';
import { createHash } from 'node:crypto';
import { frameReader, tcpTransport } from '../../core/cluster/tcp-transport.ts';
import { decodeFrame, maxFrameBytes } from '../../core/cluster/frame-codec.ts';
import type { FabricMessage } from '../../core/cluster/messages.ts';
import { seededRandom } from '../../core/cluster/clock.ts';

const digest = (b: Uint8Array): string => createHash('sha1').update(b).digest('hex');

describe('cluster/tcp transport: turns written from one buffer', () => {
  it('every frame arrives intact and in order, while the peer does not read and once it does', async function () {
    this.timeout(30_000);
    const received: Array<{ rid: number; sum: string }> = [];
    let bad = 0;
    let peer: Socket | undefined;
    const server = createServer((socket) => {
      peer = socket;
      socket.pause();
      const reader = frameReader(maxFrameBytes('fabric'), (payload) => {
        const r = decodeFrame(payload, 'fabric');
        if (!r.ok || r.frame.t !== 'msg' || r.frame.body.type !== 'request') {
          bad++;
          return;
        }
        received.push({ rid: r.frame.body.rid, sum: digest(r.frame.body.body) });
      }, () => { bad++; });
      socket.on('data', (chunk: Buffer) => { reader.push(chunk); });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    const transport = tcpTransport({ channel: 'fabric' });
    const random = seededRandom(12);
    const sent: Array<{ rid: number; sum: string }> = [];
    let rid = 0;
    /** One turn of 1–5 frames of 10 bytes to 40 KiB, each body of its own bytes. */
    const turn = async (): Promise<void> => {
      const n = 1 + Math.floor(random() * 5);
      for (let i = 0; i < n; i++) {
        const body = Buffer.allocUnsafe(10 + Math.floor(random() * 40 * 1024));
        for (let j = 0; j < body.length; j += 97) body[j] = Math.floor(random() * 256);
        const msg: FabricMessage = {
          t: 'msg', from: 1n, clusterName: 'c', clusterKey: 5n, inc: 1, id: ++rid, needsAck: true, kind: 'proxy',
          body: { type: 'request', rid, kind: 'x', body },
        };
        sent.push({ rid, sum: digest(body) });
        transport.send(`127.0.0.1:${port}`, msg);
      }
      await new Promise((r) => setImmediate(r));
    };
    try {
      // the peer reads nothing: the socket's buffers fill and writes wait (about 8 MiB in all)
      while (peer === undefined) await turn();
      for (let bytes = 0; bytes < 8 * 1024 * 1024; bytes += 3 * 20 * 1024) await turn();
      peer.resume();
      // the peer reads: writes go through at once, turn after turn
      for (let i = 0; i < 300; i++) await turn();
      const end = Date.now() + 20_000;
      while (received.length < sent.length && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      assert.equal(bad, 0, 'frames that did not decode');
      assert.equal(transport.stats().framesUnsent, 0);
      assert.equal(received.length, sent.length);
      for (let i = 0; i < sent.length; i++) assert.deepEqual(received[i], sent[i], `frame ${i}`);
    } finally {
      await transport.close();
      peer?.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
