/**
 * What the fabric remembers to deliver each message once: the ids of each sender incarnation's
 * last DEDUP_WINDOW messages (whatever their order), and up to MAX_SENDERS sender incarnations,
 * the one heard longest ago forgotten first. Frames are handed to the fabric directly (a
 * transport that only captures the fabric's frame handler).
 */
import { strict as assert } from 'node:assert';
import { DEDUP_WINDOW, Fabric, MAX_SENDERS } from '../../core/cluster/fabric.ts';
import { FakeClock, seededRandom } from '../../core/cluster/clock.ts';
import type { Frame } from '../../core/cluster/messages.ts';
import type { Transport } from '../../core/cluster/transport.ts';
import { silentLogger, type NodeId } from '../../core/plugin-api/index.ts';
import { basicRetransmit } from '../../plugins/retransmit-basic/index.ts';

async function fabricFed(): Promise<{ fabric: Fabric; feed(from: NodeId, inc: number, id: number): void; delivered: () => number }> {
  const clock = new FakeClock();
  let onFrame: ((f: Frame) => void) | undefined;
  const transport: Transport = {
    listen(_address, handler) {
      onFrame = handler;
      return Promise.resolve('me:1');
    },
    send() {},
    stats: () => ({ framesReceived: 0, framesDropped: 0, framesUnauthenticated: 0, framesUnsent: 0, connectionsRefused: 0, connectionsClosed: 0, bytesBuffered: 0 }),
    close: () => Promise.resolve(),
  };
  const fabric = new Fabric({
    nodeId: 1n, clusterName: 'c', transport, clock, logger: silentLogger, incarnation: 1,
    retransmit: basicRetransmit().create({ nodeId: 1n, logger: silentLogger, clock, signal: new AbortController().signal }, { intervalMs: 50 }),
  });
  await fabric.start('me:0');
  let delivered = 0;
  fabric.onMessage(() => { delivered++; });
  const feed = (from: NodeId, inc: number, id: number): void => onFrame?.({
    t: 'msg', from, clusterName: 'c', clusterKey: 0n, inc, id, needsAck: false, kind: 'control', body: { type: 'prepare', n: { round: id, node: from } },
  });
  return { fabric, feed, delivered: () => delivered };
}

describe('cluster/fabric: duplicates', () => {
  it(`a sender's last ${DEDUP_WINDOW} messages are delivered once, whatever order they arrive in; older ones are forgotten`, async () => {
    const { fabric, feed, delivered } = await fabricFed();
    const n = DEDUP_WINDOW + 1000;
    // ids in a shuffled order, as resends and reordering deliver them
    const random = seededRandom(3);
    const ids = Array.from({ length: n }, (_, i) => i + 1);
    for (let i = ids.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [ids[i], ids[j]] = [ids[j] as number, ids[i] as number];
    }
    for (const id of ids) feed(2n, 7, id);
    assert.equal(delivered(), n);
    // every one of the last DEDUP_WINDOW to arrive is a duplicate now, again and again
    const recent = ids.slice(n - DEDUP_WINDOW);
    for (let round = 0; round < 2; round++) for (const id of recent) feed(2n, 7, id);
    assert.equal(delivered(), n);
    assert.equal(fabric.stats.duplicates, 2 * DEDUP_WINDOW);
    // the same ids of another incarnation of the sender (it restarted) are new
    feed(2n, 8, recent[0] as number);
    assert.equal(delivered(), n + 1);
    // the first to arrive are forgotten: the memory of each sender is bounded
    for (const id of ids.slice(0, 10)) feed(2n, 7, id);
    assert.equal(delivered(), n + 11);
  });

  it(`remembers ${MAX_SENDERS} sender incarnations; the one heard longest ago is forgotten first`, async () => {
    const { feed, delivered } = await fabricFed();
    // the first sender, then enough others to fill the memory
    feed(2n, 1, 1);
    for (let i = 1; i < MAX_SENDERS; i++) feed(1000n + BigInt(i), 1, 1);
    assert.equal(delivered(), MAX_SENDERS);
    // the first sender is heard again (a duplicate): now the second heard longest ago
    feed(2n, 1, 1);
    assert.equal(delivered(), MAX_SENDERS);
    // one more sender: the sender heard longest ago (the second) is forgotten, the first is not
    feed(5n, 1, 1);
    assert.equal(delivered(), MAX_SENDERS + 1);
    feed(2n, 1, 1);
    assert.equal(delivered(), MAX_SENDERS + 1, 'the first sender, heard recently, is remembered');
    feed(1001n, 1, 1);
    assert.equal(delivered(), MAX_SENDERS + 2, 'the sender heard longest ago was forgotten');
  });
});
