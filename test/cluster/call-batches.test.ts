/**
 * Remote calls sent together: the calls of one turn to one node, of one kind, fabric kind and
 * deadline, travel in one request and are answered by one reply, each call with its own outcome
 * (two real fabrics on a simulated network and clock); the batch bytes are refused whole when they
 * do not decode; replica writes of one turn travel together and a commit-to-all write is still
 * answered only after its replica applied it; and the end-of-turn pass the batches and the
 * transport's writes share runs deferred work after the turn's I/O, flushes last.
 */
import { strict as assert } from 'node:assert';
import { FakeClock } from '../../core/cluster/clock.ts';
import { SimNetwork } from '../../core/cluster/sim-network.ts';
import { DbError, silentLogger, type NodeId } from '../../core/plugin-api/index.ts';
import { endOfTurn } from '../../core/plugin-api/context.ts';
import {
  FabricCalls, MAX_BATCH_CALLS, MAX_HOLD_MS, decodeBatchReply, decodeCallBatch, encodeBatchReply, encodeCallBatch,
} from '../../core/replication/remote-calls.ts';
import { ACK_REPLY_LATER_MS, Fabric } from '../../core/cluster/fabric.ts';
import { ReplicaWriter, type ReplicaChange } from '../../core/replication/replica-writes.ts';
import { basicRetransmit } from '../../plugins/retransmit-basic/index.ts';

async function pair(seed = 7) {
  const clock = new FakeClock();
  const net = new SimNetwork(clock, seed);
  const mk = async (id: NodeId, host: string, inc: number) => {
    const fabric = new Fabric({
      nodeId: id, clusterName: 'c', transport: net.factory(host)('fabric'), clock, logger: silentLogger, incarnation: inc, clusterKey: () => 0x5en,
      retransmit: basicRetransmit().create({ nodeId: id, logger: silentLogger, clock, signal: new AbortController().signal }, { intervalMs: 50 }),
    });
    await fabric.start(`${host}:0`);
    return { fabric, calls: new FabricCalls(fabric, id, clock, silentLogger) };
  };
  const a = await mk(1n, 'a', 1);
  const b = await mk(2n, 'b', 2);
  a.fabric.setPeerAddress(2n, b.fabric.address);
  b.fabric.setPeerAddress(1n, a.fabric.address);
  /** Moves simulated time in small steps, letting the handlers' promises settle between them. */
  const run = async (ms: number): Promise<void> => {
    for (let t = 0; t < ms; t += 5) {
      clock.advance(5);
      for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
    }
  };
  return { clock, net, a, b, run };
}

const bytes = (s: string): Uint8Array => Buffer.from(s, 'utf8');
const text = (b: Uint8Array): string => Buffer.from(b).toString('utf8');
const outcome = (p: Promise<Uint8Array>): Promise<string | DbError> => p.then(text, (e: unknown) => (e instanceof DbError ? e : new DbError('SERVER_ERROR', String(e))));

/** Serves 'echo': answers the body upper-cased; a body "fail" fails with a DbError of its own. */
function serveEcho(calls: FabricCalls): void {
  calls.serve('echo', async (_from, body) => {
    const s = text(body);
    if (s === 'fail') throw new DbError('RECORD_TOO_BIG', 'this one is too big', { hint: 'make it smaller', inDoubt: true });
    return bytes(s.toUpperCase());
  });
}

describe('cluster/remote calls sent together', () => {
  it('the batched calls of one turn to one node, kind and deadline travel in one request, each with its own answer or error', async () => {
    const { a, b, run } = await pair();
    serveEcho(b.calls);
    const opts = { deadlineMs: 1000, batch: true };
    const batched = ['x', 'fail', 'y', 'z'].map((s) => outcome(a.calls.call(2n, 'echo', bytes(s), opts)));
    // another deadline, and a call not batched: each its own request
    const other = outcome(a.calls.call(2n, 'echo', bytes('w'), { deadlineMs: 2000, batch: true }));
    const plain = outcome(a.calls.call(2n, 'echo', bytes('v'), { deadlineMs: 1000 }));
    await run(200);
    const got = await Promise.all(batched);
    assert.deepEqual([got[0], got[2], got[3]], ['X', 'Y', 'Z']);
    const failed = got[1];
    assert.ok(failed instanceof DbError, String(failed));
    assert.equal(failed.code, 'RECORD_TOO_BIG');
    assert.equal(failed.message, 'this one is too big');
    assert.equal(failed.hint, 'make it smaller');
    assert.equal(failed.inDoubt, true);
    assert.equal(await other, 'W');
    assert.equal(await plain, 'V');
    assert.equal(a.calls.stats.batches, 1);
    assert.equal(a.calls.stats.batched, 4);
    // three requests reached the node (the batch, the other deadline's call, the plain call), and it ran six calls
    assert.equal(b.fabric.stats.received, 3);
    assert.equal(b.calls.stats.served, 6);
  });

  it('a batched call alone in its turn travels as an ordinary request; calls of later turns go in later requests', async () => {
    const { a, b, run } = await pair();
    serveEcho(b.calls);
    assert.equal(await (async () => { const p = outcome(a.calls.call(2n, 'echo', bytes('one'), { deadlineMs: 1000, batch: true })); await run(100); return p; })(), 'ONE');
    assert.equal(a.calls.stats.batches, 0);
    const first = [outcome(a.calls.call(2n, 'echo', bytes('a'), { deadlineMs: 1000, batch: true })), outcome(a.calls.call(2n, 'echo', bytes('b'), { deadlineMs: 1000, batch: true }))];
    await run(5);
    const second = [outcome(a.calls.call(2n, 'echo', bytes('c'), { deadlineMs: 1000, batch: true })), outcome(a.calls.call(2n, 'echo', bytes('d'), { deadlineMs: 1000, batch: true }))];
    await run(200);
    assert.deepEqual(await Promise.all([...first, ...second]), ['A', 'B', 'C', 'D']);
    assert.equal(a.calls.stats.batches, 2);
  });

  it(`more than ${MAX_BATCH_CALLS} calls in one turn start another batch; every call is answered`, async () => {
    const { a, b, run } = await pair();
    serveEcho(b.calls);
    const all = Array.from({ length: MAX_BATCH_CALLS + 3 }, (_, i) => outcome(a.calls.call(2n, 'echo', bytes(`k${i}`), { deadlineMs: 5000, batch: true })));
    await run(300);
    const got = await Promise.all(all);
    assert.deepEqual(got, Array.from({ length: MAX_BATCH_CALLS + 3 }, (_, i) => `K${i}`));
    assert.equal(a.calls.stats.batches, 2);
    assert.equal(a.calls.stats.batched, MAX_BATCH_CALLS + 3);
  });

  it('what befalls the request befalls every call in it: never sent → UNAVAILABLE, no answer → TIMEOUT in doubt', async () => {
    const { a, b, net, run } = await pair();
    serveEcho(b.calls);
    // the node's address refuses connections: no copy left
    a.fabric.setPeerAddress(3n, 'c:4000');
    const unsent = ['p', 'q'].map((s) => outcome(a.calls.call(3n, 'echo', bytes(s), { deadlineMs: 300, batch: true })));
    // the node gets the request but its answers are lost
    net.dropIf = (from) => from === 'b';
    const silent = ['r', 's'].map((s) => outcome(a.calls.call(2n, 'echo', bytes(s), { deadlineMs: 300, batch: true })));
    await run(500);
    for (const r of await Promise.all(unsent)) assert.ok(r instanceof DbError && r.code === 'UNAVAILABLE' && !r.inDoubt, String(r));
    for (const r of await Promise.all(silent)) assert.ok(r instanceof DbError && r.code === 'TIMEOUT' && r.inDoubt, String(r));
    assert.equal(b.calls.stats.served, 2, 'the node ran the calls it got');
  });

  it('a batch that does not decode is refused whole with the reason, and the node goes on serving', async () => {
    const { a, b, run } = await pair();
    serveEcho(b.calls);
    const bad = outcome(a.calls.call(2n, 'batch:echo', Uint8Array.from([0, 0, 0, 2, 0, 0, 0, 1, 65]), { deadlineMs: 1000 }));
    const unknown = outcome(a.calls.call(2n, 'batch:nothing', encodeCallBatch([bytes('x')]), { deadlineMs: 1000 }));
    await run(100);
    const r = await bad;
    assert.ok(r instanceof DbError && r.code === 'SERVER_ERROR', String(r));
    assert.match(r.message, /does not decode: call 1 of 2 is cut off/);
    const u = await unknown;
    assert.ok(u instanceof DbError && u.code === 'UNSUPPORTED_FEATURE', String(u));
    assert.equal(b.calls.stats.served, 0);
    const ok = outcome(a.calls.call(2n, 'echo', bytes('fine'), { deadlineMs: 1000 }));
    await run(100);
    assert.equal(await ok, 'FINE');
  });

  it('batch bytes round-trip, and anything else is refused, never half-read', () => {
    const bodies = [bytes(''), bytes('abc'), Buffer.alloc(70_000, 7)];
    assert.deepEqual(decodeCallBatch(encodeCallBatch(bodies)).map((b) => Buffer.from(b)), bodies.map((b) => Buffer.from(b)));
    const full = encodeCallBatch(bodies);
    for (const cut of [0, 3, 4, 8, full.length - 1]) assert.throws(() => decodeCallBatch(full.subarray(0, cut)), DbError);
    assert.throws(() => decodeCallBatch(Buffer.concat([full, Buffer.from([0])])), /after its 3 calls/);
    assert.throws(() => decodeCallBatch(Uint8Array.from([0, 0, 0, 0])), /0 calls/);
    const err = new DbError('GENERATION', 'old', { hint: 'read it again', inDoubt: true });
    const reply = encodeBatchReply([{ ok: true, body: bytes('yes') }, { ok: false, error: err }]);
    const [r0, r1] = decodeBatchReply(reply, 2);
    assert.ok(r0?.ok === true && text(r0.body) === 'yes');
    assert.ok(r1?.ok === false);
    assert.equal(r1.error.code, 'GENERATION');
    assert.equal(r1.error.resultCode, err.resultCode);
    assert.equal(r1.error.hint, 'read it again');
    assert.equal(r1.error.inDoubt, true);
    assert.throws(() => decodeBatchReply(reply, 3), /not 3 answers/);
    for (const cut of [2, 6, 10, reply.length - 1]) assert.throws(() => decodeBatchReply(reply.subarray(0, cut), 2), DbError);
    const badStatus = Buffer.from(reply);
    badStatus[4] = 9;
    assert.throws(() => decodeBatchReply(badStatus, 2), /status 9/);
  });

  it('replica writes of one turn travel together; a commit-to-all write is answered only once its replica applied it', async () => {
    const { clock, a, b, run } = await pair();
    const held = new Map<number, () => void>();
    const applied: number[] = [];
    new ReplicaWriter({ calls: b.calls, clock, replicasOf: () => [] }).serve(async (_ns, change) => {
      const gen = change.kind === 'put' ? change.record.meta.generation : change.generation;
      if (gen === 2) await new Promise<void>((r) => held.set(gen, r));
      if (gen === 3) throw new DbError('SERVER_ERROR', 'the disk is on fire');
      applied.push(gen);
      return true;
    });
    const writer = new ReplicaWriter({ calls: a.calls, clock, replicasOf: () => [2n], deadlineMs: 400 });
    const change = (generation: number): ReplicaChange => ({
      kind: 'put',
      record: { digest: Buffer.alloc(20, generation), partition: 1, set: 's', key: undefined, payload: Buffer.from([0, 0]), tombstone: false, meta: { generation, voidTime: 0, lastUpdateMs: 1 } },
    });
    const settled: Array<string | undefined> = [undefined, undefined, undefined, undefined];
    [1, 2, 3].forEach((g) => {
      writer.write('r2', change(g), 'all').then(() => { settled[g] = 'ok'; }, (e: DbError) => { settled[g] = `${e.code}${e.inDoubt ? ' in doubt' : ''}`; });
    });
    await run(150);
    assert.equal(a.calls.stats.batches, 1, 'the three copies went in one request');
    assert.deepEqual(applied, [1]);
    assert.equal(settled[2], undefined, 'not answered before the replica applied it');
    held.get(2)?.();
    await run(150);
    assert.deepEqual(applied, [1, 2]);
    assert.equal(settled[1], 'ok');
    assert.equal(settled[2], 'ok');
    assert.equal(settled[3], 'TIMEOUT in doubt', 'a copy the replica failed fails its write alone');
  });

  /** Serves 'echo' (upper-cased), except that the body "first" is answered only once `open` is called. */
  function serveGated(calls: FabricCalls): { open: () => void } {
    let open = (): void => {};
    const gate = new Promise<void>((r) => { open = r; });
    calls.serve('echo', async (_from, body) => {
      const s = text(body);
      if (s === 'first') await gate;
      return bytes(s.toUpperCase());
    });
    return { open: () => open() };
  }

  it('batched calls made while the request before them is unanswered wait for its answer and then leave together', async () => {
    const { a, b, run } = await pair();
    const gate = serveGated(b.calls);
    const opts = { deadlineMs: 1000, batch: true };
    const first = outcome(a.calls.call(2n, 'echo', bytes('first'), opts));
    await run(5);
    // two turns' calls while 'first' waits for its answer
    const later = [outcome(a.calls.call(2n, 'echo', bytes('b'), opts)), outcome(a.calls.call(2n, 'echo', bytes('c'), opts))];
    await run(5);
    later.push(outcome(a.calls.call(2n, 'echo', bytes('d'), opts)));
    assert.equal(b.fabric.stats.received, 1, 'the later calls waited');
    gate.open();
    await new Promise((r) => setImmediate(r)); // the node answers 'first'
    await run(100);
    assert.equal(await first, 'FIRST');
    assert.deepEqual(await Promise.all(later), ['B', 'C', 'D']);
    // 'first' alone, then the three calls of two turns in one request
    assert.equal(b.fabric.stats.received, 2);
    assert.equal(a.calls.stats.batches, 1);
    assert.equal(a.calls.stats.batched, 3);
    assert.equal(a.calls.stats.held, 1);
    assert.equal(a.calls.stats.heldTooLong, 0);
  });

  it(`waiting calls leave after ${MAX_HOLD_MS} ms even if the request before them is still unanswered`, async () => {
    const { clock, a, b, run } = await pair();
    const gate = serveGated(b.calls);
    const opts = { deadlineMs: 1000, batch: true };
    let firstDone = false;
    const first = outcome(a.calls.call(2n, 'echo', bytes('first'), opts)).finally(() => { firstDone = true; });
    await run(5);
    const madeAt = clock.now();
    let answeredAt = -1;
    const later = Promise.all([outcome(a.calls.call(2n, 'echo', bytes('b'), opts)), outcome(a.calls.call(2n, 'echo', bytes('c'), opts))]).finally(() => { answeredAt = clock.now(); });
    await run(MAX_HOLD_MS + 40);
    assert.deepEqual(await later, ['B', 'C']);
    assert.ok(answeredAt >= madeAt + MAX_HOLD_MS, `answered ${answeredAt - madeAt} ms after they were made: they did not wait`);
    assert.equal(firstDone, false, 'the request before them is still unanswered');
    assert.equal(a.calls.stats.heldTooLong, 1);
    gate.open();
    await run(50);
    assert.equal(await first, 'FIRST');
  });

  it('a waiting call\'s deadline counts from when it was made: no answer → TIMEOUT in doubt by then, not later', async () => {
    const { clock, a, b, net, run } = await pair();
    serveEcho(b.calls);
    net.dropIf = (from) => from === 'b'; // the node's answers are lost
    const opts = { deadlineMs: 400, batch: true };
    const first = outcome(a.calls.call(2n, 'echo', bytes('x'), opts));
    await run(5);
    const madeAt = clock.now();
    let failedAt = -1;
    const later = outcome(a.calls.call(2n, 'echo', bytes('y'), opts)).finally(() => { failedAt = clock.now(); });
    await run(600);
    for (const r of [await first, await later]) assert.ok(r instanceof DbError && r.code === 'TIMEOUT' && r.inDoubt, String(r));
    assert.ok(failedAt <= madeAt + 400 + 5, `failed ${failedAt - madeAt} ms after it was made, past its 400 ms deadline`);
    assert.equal(a.calls.stats.heldTooLong, 1);
  });

  it('calls waiting to leave for a node that left the cluster fail UNAVAILABLE at once (never sent); the unanswered one TIMEOUT in doubt', async () => {
    const { a, b, run } = await pair();
    serveGated(b.calls);
    const opts = { deadlineMs: 5000, batch: true };
    const first = outcome(a.calls.call(2n, 'echo', bytes('first'), opts));
    await run(5);
    const later = outcome(a.calls.call(2n, 'echo', bytes('b'), opts));
    await run(5);
    a.calls.departed(new Set([1n]));
    await run(5);
    const r = await later;
    assert.ok(r instanceof DbError && r.code === 'UNAVAILABLE' && !r.inDoubt, String(r));
    assert.match(r.message, /left the cluster before echo could be sent/);
    const f = await first;
    assert.ok(f instanceof DbError && f.code === 'TIMEOUT' && f.inDoubt, String(f));
    await run(50);
    assert.equal(b.calls.stats.served, 1, 'the waiting call never reached the node');
  });

  it(`the ack of a reply rides on the next request to its node, or leaves in a frame of its own after ${ACK_REPLY_LATER_MS} ms`, async () => {
    const { a, b, net, run } = await pair();
    serveEcho(b.calls);
    const ackFrames = { a: 0 };
    net.dropIf = (from, _to, frame) => {
      if (frame.t === 'ack' && from === 'a') ackFrames.a++;
      return false;
    };
    for (let i = 0; i < 5; i++) {
      const p = outcome(a.calls.call(2n, 'echo', bytes(`k${i}`), { deadlineMs: 1000 }));
      await run(10);
      assert.equal(await p, `K${i}`);
    }
    assert.equal(ackFrames.a, 0, 'the acks of the replies rode on the next requests');
    await run(ACK_REPLY_LATER_MS + 10);
    assert.equal(ackFrames.a, 1, 'the last reply\'s ack left on its own');
    assert.equal(a.fabric.stats.resent + b.fabric.stats.resent, 0);
    assert.equal(b.fabric.stats.acked, 5);
  });

  it('end of turn: deferred work runs after the turn, in order, with what it defers in the same pass and flushes last', async () => {
    const order: string[] = [];
    endOfTurn(() => order.push('flush'), true);
    endOfTurn(() => {
      order.push('first');
      endOfTurn(() => order.push('deferred by first'));
      endOfTurn(() => order.push('flush by first'), true);
    });
    endOfTurn(() => order.push('second'));
    order.push('this turn');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(order, ['this turn', 'first', 'second', 'deferred by first', 'flush', 'flush by first']);
  });
});
