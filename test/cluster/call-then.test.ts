/**
 * Remote calls with a callback (`callThen`), the promise-free form for callers that make many
 * calls: batched or alone, each call's outcome comes to its callback once, never before callThen
 * returns; a callback that throws is logged and the other calls of its batch still hear theirs;
 * calls waiting to leave for a node that left fail UNAVAILABLE at once. Two real fabrics on a
 * simulated network and clock.
 */
import { strict as assert } from 'node:assert';
import { FakeClock } from '../../core/cluster/clock.ts';
import { SimNetwork } from '../../core/cluster/sim-network.ts';
import { DbError, silentLogger, type Logger, type NodeId } from '../../core/plugin-api/index.ts';
import { FabricCalls, type CallDone } from '../../core/replication/remote-calls.ts';
import { Fabric } from '../../core/cluster/fabric.ts';
import { basicRetransmit } from '../../plugins/retransmit-basic/index.ts';

async function pair(logger: Logger = silentLogger) {
  const clock = new FakeClock();
  const net = new SimNetwork(clock, 5);
  const mk = async (id: NodeId, host: string) => {
    const fabric = new Fabric({
      nodeId: id, clusterName: 'c', transport: net.factory(host)('fabric'), clock, logger: silentLogger, incarnation: Number(id), clusterKey: () => 0x5en,
      retransmit: basicRetransmit().create({ nodeId: id, logger: silentLogger, clock, signal: new AbortController().signal }, { intervalMs: 50 }),
    });
    await fabric.start(`${host}:0`);
    return { fabric, calls: new FabricCalls(fabric, id, clock, logger) };
  };
  const a = await mk(1n, 'a');
  const b = await mk(2n, 'b');
  a.fabric.setPeerAddress(2n, b.fabric.address);
  b.fabric.setPeerAddress(1n, a.fabric.address);
  b.calls.serve('echo', async (_from, body) => {
    const s = Buffer.from(body).toString('utf8');
    if (s === 'fail') throw new DbError('RECORD_TOO_BIG', 'this one is too big', { inDoubt: true });
    return Buffer.from(s.toUpperCase(), 'utf8');
  });
  const run = async (ms: number): Promise<void> => {
    for (let t = 0; t < ms; t += 5) {
      clock.advance(5);
      for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
    }
  };
  return { a, b, run };
}

/** A callback that records each outcome it hears (`calls` counts them: exactly one is right). */
function recorder(): { done: CallDone; heard: Array<string | DbError> } {
  const heard: Array<string | DbError> = [];
  return { heard, done: (e, answer) => heard.push(e ?? Buffer.from(answer).toString('utf8')) };
}

describe('cluster/remote calls with a callback', () => {
  it('each call hears its own answer or error once, never before callThen returns, batched or alone', async () => {
    const { a, b, run } = await pair();
    const batched = ['x', 'fail', 'y'].map(() => recorder());
    ['x', 'fail', 'y'].forEach((s, i) => a.calls.callThen(2n, 'echo', Buffer.from(s), { deadlineMs: 1000, batch: true }, (batched[i] as ReturnType<typeof recorder>).done));
    const alone = recorder();
    a.calls.callThen(2n, 'echo', Buffer.from('v'), { deadlineMs: 1000 }, alone.done);
    // a node that refuses connections: the failure still comes later, not inside callThen
    a.fabric.setPeerAddress(3n, 'c:4000');
    const unsent = recorder();
    a.calls.callThen(3n, 'echo', Buffer.from('z'), { deadlineMs: 100, batch: true }, unsent.done);
    for (const r of [...batched, alone, unsent]) assert.equal(r.heard.length, 0);
    await run(300);
    assert.deepEqual(batched.map((r) => r.heard.length), [1, 1, 1]);
    assert.equal(batched[0]?.heard[0], 'X');
    assert.equal(batched[2]?.heard[0], 'Y');
    const failed = batched[1]?.heard[0];
    assert.ok(failed instanceof DbError && failed.code === 'RECORD_TOO_BIG' && failed.inDoubt, String(failed));
    assert.deepEqual(alone.heard, ['V']);
    const u = unsent.heard[0];
    assert.ok(unsent.heard.length === 1 && u instanceof DbError && u.code === 'UNAVAILABLE' && !u.inDoubt, String(u));
    assert.equal(a.calls.stats.batches, 1);
    assert.equal(b.calls.stats.served, 4);
  });

  it('a callback that throws is logged; the other calls of its batch still hear their answers', async () => {
    const errors: string[] = [];
    const logger: Logger = { ...silentLogger, error: (_o: object | string, msg?: string) => { errors.push(msg ?? ''); }, child: () => logger };
    const { a, run } = await pair(logger);
    const first = recorder();
    const last = recorder();
    a.calls.callThen(2n, 'echo', Buffer.from('p'), { deadlineMs: 1000, batch: true }, first.done);
    a.calls.callThen(2n, 'echo', Buffer.from('q'), { deadlineMs: 1000, batch: true }, () => { throw new Error('a caller bug'); });
    a.calls.callThen(2n, 'echo', Buffer.from('r'), { deadlineMs: 1000, batch: true }, last.done);
    await run(200);
    assert.deepEqual(first.heard, ['P']);
    assert.deepEqual(last.heard, ['R']);
    assert.equal(errors.filter((m) => /callback failed/.test(m)).length, 1, errors.join('; '));
  });

  it('calls waiting to leave for a node that left fail UNAVAILABLE at once', async () => {
    const { a, run } = await pair();
    const first = recorder();
    a.calls.callThen(2n, 'echo', Buffer.from('first'), { deadlineMs: 5000, batch: true }, first.done);
    await run(1); // 'first' leaves; the next call waits for its answer
    const waiting = recorder();
    a.calls.callThen(2n, 'echo', Buffer.from('w'), { deadlineMs: 5000, batch: true }, waiting.done);
    a.calls.departed(new Set([1n]));
    const w = waiting.heard[0];
    assert.ok(waiting.heard.length === 1 && w instanceof DbError && w.code === 'UNAVAILABLE', String(w));
    await run(100);
    assert.equal(first.heard.length, 1);
    assert.equal(waiting.heard.length, 1);
  });
});
