import { strict as assert } from 'node:assert';
import { Fabric, type SendControl } from '../../core/cluster/fabric.ts';
import { FakeClock } from '../../core/cluster/clock.ts';
import { SimNetwork } from '../../core/cluster/sim-network.ts';
import { DbError, silentLogger, type NodeId, type RetransmitStrategy } from '../../core/plugin-api/index.ts';
import type { FabricPayload } from '../../core/cluster/messages.ts';
import { basicRetransmit } from '../../plugins/retransmit-basic/index.ts';

async function pair(net: SimNetwork, clock: FakeClock, retransmit?: RetransmitStrategy) {
  const mk = async (id: NodeId, host: string, inc: number) => {
    const f = new Fabric({
      nodeId: id, clusterName: 'c', transport: net.factory(host)('fabric'), clock, logger: silentLogger, incarnation: inc,
      retransmit: retransmit ?? basicRetransmit().create({ nodeId: id, logger: silentLogger, clock, signal: new AbortController().signal }, { intervalMs: 50 }),
    });
    await f.start(`${host}:0`);
    return f;
  };
  const a = await mk(1n, 'a', 1);
  const b = await mk(2n, 'b', 2);
  a.setPeerAddress(2n, b.address);
  b.setPeerAddress(1n, a.address);
  const got: FabricPayload[] = [];
  b.onMessage((_from, body) => got.push(body));
  return { a, b, got };
}

const msg = (round: number): FabricPayload => ({ type: 'prepare', n: { round, node: 1n } });

describe('cluster/fabric', () => {
  it('a message no copy of which left (the peer is down: its port refuses connections) fails UNAVAILABLE; one that may have reached the peer fails TIMEOUT; given up, neither is sent again', async () => {
    const clock = new FakeClock();
    const net = new SimNetwork(clock, 5);
    const { a, got } = await pair(net, clock);
    const outcome = (p: Promise<void>): Promise<string> => p.then(() => 'ok', (e: unknown) => (e instanceof DbError ? e.code : String(e)));
    // the peer's answers (acks) are lost: it got the message, the sender cannot tell
    net.dropIf = (from) => from === 'b';
    const reached = outcome(a.send(2n, msg(1), { deadlineMs: 500 }));
    clock.advance(600);
    assert.equal(await reached, 'TIMEOUT');
    assert.equal(got.length, 1);
    net.dropIf = undefined;
    // a node whose address nobody listens on (it is down)
    a.setPeerAddress(3n, 'c:4000');
    const refused = outcome(a.send(3n, msg(2), { deadlineMs: 500 }));
    clock.advance(600);
    assert.equal(await refused, 'UNAVAILABLE');
    // given up before the deadline: not sent again
    const control: SendControl = {};
    const givenUp = outcome(a.send(3n, msg(3), { deadlineMs: 5000, control }));
    clock.advance(120);
    const sent = a.stats.sent;
    control.giveUp?.();
    assert.equal(await givenUp, 'UNAVAILABLE');
    clock.advance(1000);
    assert.equal(a.stats.sent, sent, 'a message given up is not sent again');
    assert.equal(a.stats.undelivered, 2);
  });

  it('delivers each acknowledged message exactly once over a lossy, duplicating network', async () => {
    const clock = new FakeClock();
    const net = new SimNetwork(clock, 42, { minDelayMs: 1, maxDelayMs: 30, dropRate: 0.3, duplicateRate: 0.3 });
    const { a, got } = await pair(net, clock);
    const results: string[] = [];
    for (let i = 0; i < 100; i++) a.send(2n, msg(i), { deadlineMs: 5000 }).then(() => results.push('ok'), () => results.push('fail'));
    clock.advance(6000);
    await Promise.resolve();
    assert.equal(results.filter((r) => r === 'ok').length, 100);
    assert.deepEqual(got.map((m) => (m.type === 'prepare' ? m.n.round : -1)).sort((x, y) => x - y), Array.from({ length: 100 }, (_, i) => i));
    assert.ok(a.stats.resent > 10, `resent ${a.stats.resent}`);
    assert.ok(net.stats.duplicated > 0 && net.stats.dropped > 0);
  });

  it('acknowledges the messages of a burst that arrive together in one ack frame, and each of them is resolved', async () => {
    const clock = new FakeClock();
    const net = new SimNetwork(clock, 7, { minDelayMs: 2, maxDelayMs: 2, dropRate: 0, duplicateRate: 0 });
    const { a, b, got } = await pair(net, clock);
    let ackFrames = 0;
    net.dropIf = (_from, _to, frame) => {
      if (frame.t === 'ack') ackFrames++;
      return false;
    };
    const results: string[] = [];
    for (let i = 0; i < 50; i++) a.send(2n, msg(i), { deadlineMs: 5000 }).then(() => results.push('ok'), () => results.push('fail'));
    clock.advance(20);
    await Promise.resolve();
    assert.equal(got.length, 50);
    assert.equal(results.filter((r) => r === 'ok').length, 50);
    assert.equal(ackFrames, 1, `${ackFrames} ack frames for 50 messages that arrived together`);
    assert.equal(a.stats.resent, 0);
    assert.equal(b.stats.received, 50);
  });

  it('acknowledges a message on the answer sent back in the same turn, without an ack frame of its own', async () => {
    const clock = new FakeClock();
    const net = new SimNetwork(clock, 9, { minDelayMs: 2, maxDelayMs: 2, dropRate: 0, duplicateRate: 0 });
    const { a, b } = await pair(net, clock);
    const ackFrames = { a: 0, b: 0 };
    const piggybacked: number[] = [];
    net.dropIf = (from, _to, frame) => {
      if (frame.t === 'ack') ackFrames[from as 'a' | 'b']++;
      if (frame.t === 'msg' && frame.acks !== undefined) piggybacked.push(...frame.acks.ids);
      return false;
    };
    const answers: number[] = [];
    // b answers every prepare at once (as a node answers a request), a takes the answers
    b.onMessage((_from, body) => {
      if (body.type === 'prepare') void b.send(1n, { type: 'promise', n: body.n }, { deadlineMs: 5000 });
    });
    a.onMessage((_from, body) => { if (body.type === 'promise') answers.push(body.n.round); });
    const results: string[] = [];
    for (let i = 0; i < 20; i++) a.send(2n, msg(i), { deadlineMs: 5000 }).then(() => results.push('ok'), () => results.push('fail'));
    clock.advance(50);
    await Promise.resolve();
    assert.equal(results.filter((r) => r === 'ok').length, 20, 'every message acknowledged');
    assert.equal(answers.length, 20);
    assert.equal(ackFrames.b, 0, `b sent ${ackFrames.b} ack frames although its answers carried the acks`);
    assert.equal(piggybacked.length, 20);
    // a had nothing to send back: its acks of the answers left in an ack frame, and b's sends resolved
    assert.equal(ackFrames.a, 1);
    assert.equal(a.stats.resent + b.stats.resent, 0);
    assert.equal(b.stats.acked, 20);
  });

  it('fails with TIMEOUT at the deadline when the peer is unreachable, after resending per the strategy', async () => {
    const clock = new FakeClock();
    const net = new SimNetwork(clock, 1);
    const { a } = await pair(net, clock);
    net.partition([['a']]);
    const box: { err?: unknown } = {};
    a.send(2n, msg(1), { deadlineMs: 1000 }).catch((e: unknown) => { box.err = e; });
    clock.advance(999);
    await Promise.resolve();
    const errOf = (): unknown => box.err;
    assert.equal(errOf(), undefined);
    clock.advance(2);
    await Promise.resolve();
    const err = errOf();
    assert.ok(err instanceof DbError && err.code === 'TIMEOUT', String(err));
    assert.equal(a.stats.resent, 19); // every 50 ms: 50 … 950
  });

  it('gives up early when the strategy says so', async () => {
    const clock = new FakeClock();
    const net = new SimNetwork(clock, 1);
    const never: RetransmitStrategy = { nextDelayMs: () => null };
    const { a } = await pair(net, clock, never);
    net.partition([['a']]);
    let err: unknown;
    a.send(2n, msg(1), { deadlineMs: 1000 }).catch((e: unknown) => { err = e; });
    clock.advance(1);
    await Promise.resolve();
    assert.ok(err instanceof DbError && err.code === 'TIMEOUT');
    assert.equal(a.stats.resent, 0);
  });

  it('refuses messages of another cluster name', async () => {
    const clock = new FakeClock();
    const net = new SimNetwork(clock, 1);
    const { b, got } = await pair(net, clock);
    const stranger = new Fabric({
      nodeId: 9n, clusterName: 'other', transport: net.factory('x')('fabric'), clock, logger: silentLogger, incarnation: 3,
      retransmit: { nextDelayMs: () => null },
    });
    await stranger.start('x:0');
    stranger.setPeerAddress(2n, b.address);
    stranger.post(2n, msg(5));
    clock.advance(100);
    assert.equal(got.length, 0);
    assert.equal(b.stats.refusedForeign, 1);
  });

  it('refuses data-path messages stamped with another cluster key, counts them, and tells the sender they were not delivered', async () => {
    const clock = new FakeClock();
    const net = new SimNetwork(clock, 1);
    const keys = { a: 0xaaan, b: 0xbbbn };
    const mk = async (id: NodeId, host: string, own: () => bigint) => {
      const f = new Fabric({
        nodeId: id, clusterName: 'c', transport: net.factory(host)('fabric'), clock, logger: silentLogger, incarnation: Number(id),
        retransmit: basicRetransmit().create({ nodeId: id, logger: silentLogger, clock, signal: new AbortController().signal }, { intervalMs: 50 }),
        clusterKey: own,
      });
      await f.start(`${host}:0`);
      return f;
    };
    const a = await mk(1n, 'a', () => keys.a);
    const b = await mk(2n, 'b', () => keys.b);
    a.setPeerAddress(2n, b.address);
    b.setPeerAddress(1n, a.address);
    const got: FabricPayload[] = [];
    b.onMessage((_from, body) => got.push(body));
    const data: FabricPayload = { type: 'request', rid: 1, kind: 'kv.get', body: new Uint8Array([1, 2, 3]) };
    let err: unknown;
    a.send(2n, data, { deadlineMs: 1000, kind: 'proxy' }).catch((e: unknown) => { err = e; });
    // control messages (cluster formation) pass whatever the key: they are how keys get agreed
    let control = false;
    a.send(2n, msg(1), { deadlineMs: 1000 }).then(() => { control = true; });
    clock.advance(100);
    await new Promise((r) => setImmediate(r));
    assert.ok(err instanceof DbError && err.code === 'UNAVAILABLE', String(err));
    assert.equal(control, true);
    assert.deepEqual(got.map((m) => m.type), ['prepare']);
    assert.equal(b.stats.refusedStale, 1);
    // once both are in the same cluster, data flows
    keys.b = keys.a;
    let ok = false;
    a.send(2n, data, { deadlineMs: 1000, kind: 'proxy' }).then(() => { ok = true; });
    clock.advance(100);
    await new Promise((r) => setImmediate(r));
    assert.equal(ok, true);
    assert.deepEqual(got.map((m) => m.type), ['prepare', 'request']);
  });
});
