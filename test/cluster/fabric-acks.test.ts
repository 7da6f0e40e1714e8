/**
 * The fabric's acknowledgements under a clock that defers work to the end of the turn (as a
 * running node's does): an ack owed by the next timer turn costs a timer only when no message took
 * it by the end of its turn, and the timer of the acks that may wait for a message (a reply's) is
 * set once per wait, not once per reply; a message nobody waits for (`deliver`, as a reply is sent)
 * is still resent until acknowledged. Two fabrics on a simulated network; each timer callback is a
 * turn, whose deferred work runs when it ends.
 */
import { strict as assert } from 'node:assert';
import { ACK_REPLY_LATER_MS, Fabric } from '../../core/cluster/fabric.ts';
import { FakeClock } from '../../core/cluster/clock.ts';
import { SimNetwork } from '../../core/cluster/sim-network.ts';
import type { TimerHandle } from '../../core/plugin-api/index.ts';
import { silentLogger, type NodeId } from '../../core/plugin-api/index.ts';
import { basicRetransmit } from '../../plugins/retransmit-basic/index.ts';

/** A FakeClock whose timer callbacks are turns: what they defer runs as each ends. It counts the timers set, by delay. */
class TurnClock extends FakeClock {
  readonly timers = new Map<number, number>();
  #deferred: (() => void)[] = [];
  override setTimeout(fn: () => void, ms: number): TimerHandle {
    this.timers.set(ms, (this.timers.get(ms) ?? 0) + 1);
    return super.setTimeout(() => {
      fn();
      this.endTurn();
    }, ms);
  }

  defer(fn: () => void): void {
    this.#deferred.push(fn);
  }

  endTurn(): void {
    for (let i = 0; i < this.#deferred.length; i++) (this.#deferred[i] as () => void)();
    this.#deferred = [];
  }

  /** Timers set with a delay in [from, to] ms. */
  set(from: number, to: number): number {
    let n = 0;
    for (const [ms, count] of this.timers) if (ms >= from && ms <= to) n += count;
    return n;
  }
}

const DELAY = ACK_REPLY_LATER_MS + 5;

async function pair() {
  const clock = new TurnClock();
  // frames take longer than the acks may wait, so that the timers the test counts are the fabric's
  const net = new SimNetwork(clock, 11, { minDelayMs: DELAY, maxDelayMs: DELAY, dropRate: 0, duplicateRate: 0 });
  const mk = async (id: NodeId, host: string) => {
    const f = new Fabric({
      nodeId: id, clusterName: 'c', transport: net.factory(host)('fabric'), clock, logger: silentLogger, incarnation: Number(id), clusterKey: () => 5n,
      retransmit: basicRetransmit().create({ nodeId: id, logger: silentLogger, clock, signal: new AbortController().signal }, { intervalMs: 4 * DELAY }),
    });
    await f.start(`${host}:0`);
    return f;
  };
  const a = await mk(1n, 'a');
  const b = await mk(2n, 'b');
  a.setPeerAddress(2n, b.address);
  b.setPeerAddress(1n, a.address);
  const ackFrames = { a: 0, b: 0 };
  net.dropIf = (from, _to, frame) => {
    if (frame.t === 'ack') ackFrames[from as 'a' | 'b']++;
    return false;
  };
  // b answers each request in the turn it arrives, as a node answers a replica write
  b.onMessage((_from, body) => {
    if (body.type === 'request' && body.kind === 'x') void b.send(1n, { type: 'reply', rid: body.rid, ok: true, body: new Uint8Array(1) }, { deadlineMs: 5000, kind: 'proxy' });
  });
  let replies = 0;
  a.onMessage((_from, body) => { if (body.type === 'reply') replies++; });
  /** A request b answers at once (kind x), or never (any other kind). */
  const request = (rid: number, kind = 'x'): Promise<void> => a.send(2n, { type: 'request', rid, kind, body: new Uint8Array(8) }, { deadlineMs: 5000, kind: 'proxy' });
  return { clock, net, a, b, ackFrames, request, replies: () => replies };
}

describe('cluster/fabric: acknowledgements at the end of the turn', () => {
  it('a request answered in the turn it arrives is acknowledged by its answer, with no timer; an ack no message took leaves by the next timer turn', async () => {
    const { clock, a, b, ackFrames, request, replies } = await pair();
    const acked: number[] = [];
    for (let i = 0; i < 5; i++) {
      void request(i).then(() => acked.push(i));
      clock.advance(3 * DELAY);
      await Promise.resolve();
    }
    assert.equal(replies(), 5);
    assert.deepEqual(acked, [0, 1, 2, 3, 4], 'each request acknowledged by its answer');
    assert.equal(ackFrames.b, 0, 'the answers carried the acks');
    assert.equal(b.stats.received, 5);
    assert.equal(clock.set(0, 0), 0, `b set ${clock.set(0, 0)} timers for acks its answers carried`);
    // a answered nothing: the acks of the answers (far apart) left in ack frames, one timer each
    assert.equal(ackFrames.a, 5);
    assert.equal(clock.set(1, ACK_REPLY_LATER_MS), 5);
    // a request b does not answer: its ack leaves in a frame of its own at the next timer turn
    let unanswered = false;
    void request(99, 'y').then(() => { unanswered = true; });
    clock.advance(DELAY);
    assert.equal(ackFrames.b, 1);
    assert.equal(clock.set(0, 0), 1);
    clock.advance(DELAY);
    await Promise.resolve();
    assert.equal(unanswered, true, 'acknowledged');
    assert.equal(a.stats.resent + b.stats.resent, 0);
    assert.equal(b.stats.acked, 5);
    assert.equal(a.stats.acked, 6);
  });

  it(`the acks of answers wait for the next request, or ${ACK_REPLY_LATER_MS} ms; their timer is set once per wait, not per answer`, async () => {
    const { clock, a, b, ackFrames, request, replies } = await pair();
    // a request every 5 ms: each carries the acks of the answers a got since the one before
    for (let i = 0; i < 40; i++) {
      void request(i);
      clock.advance(5);
      await Promise.resolve();
      if (i === 3 * DELAY / 5) assert.equal(ackFrames.a, 0, 'the acks rode on the requests');
    }
    assert.equal(ackFrames.a, 0, 'the acks rode on the requests');
    const timers = clock.set(1, ACK_REPLY_LATER_MS);
    assert.ok(replies() > 25 && timers <= replies() / 3, `${timers} timers for ${replies()} answers' acks`);
    // the answers to the last requests have nothing to ride on: their acks leave in frames of their own, each after waiting
    clock.advance(2 * DELAY);
    assert.equal(replies(), 40);
    clock.advance(ACK_REPLY_LATER_MS);
    assert.ok(ackFrames.a >= 1 && ackFrames.a <= 4, `${ackFrames.a} ack frames`);
    clock.advance(2 * DELAY);
    assert.equal(b.stats.acked, 40, 'every answer acknowledged');
    assert.equal(a.stats.resent + b.stats.resent, 0);
  });

  it('a message nobody waits for (deliver) is resent until acknowledged, delivered once, and given up at its deadline', async () => {
    const { clock, net, a, b, replies } = await pair();
    let lost = 0;
    net.dropIf = (from, _to, frame) => from === 'b' && frame.t === 'msg' && lost++ < 2;
    b.deliver(1n, { type: 'reply', rid: 1, ok: true, body: new Uint8Array(3) }, { deadlineMs: 5000, kind: 'proxy' });
    clock.advance(20 * DELAY);
    assert.equal(replies(), 1);
    assert.equal(b.stats.resent, 2);
    assert.equal(b.stats.acked, 1);
    // a peer that never acknowledges: given up at the deadline, counted, nothing thrown
    net.dropIf = (from) => from === 'a';
    b.deliver(1n, { type: 'reply', rid: 2, ok: true, body: new Uint8Array(3) }, { deadlineMs: 1000, kind: 'proxy' });
    clock.advance(1000 + 2 * DELAY);
    assert.equal(b.stats.timedOut, 1);
    assert.equal(replies(), 2, 'delivered once, however often resent');
    assert.equal(a.stats.duplicates > 0, true);
  });
});
