/**
 * The master's side of a replica write (ReplicaWriter.write) over scripted calls: the usual
 * write (one replica that confirms the first copy) and every rule of the way on when it does not —
 * another look at the map after UNAVAILABLE or a replica leaving it, TIMEOUT in doubt once a
 * replica still in the map did not confirm or the deadline passed, the background resend to
 * whoever did not confirm, commit level master, several replicas.
 */
import { strict as assert } from 'node:assert';
import { DbError } from '../../core/errors/index.ts';
import type { NodeId } from '../../core/plugin-api/index.ts';
import type { CallOptions, RemoteCalls } from '../../core/replication/remote-calls.ts';
import { decodeReplicaChange, ReplicaWriter, type ReplicaChange } from '../../core/replication/replica-writes.ts';
import { ManualClock } from '../helpers/manual-clock.ts';

type Answer = 'ok' | DbError;
interface Sent { node: NodeId; at: number; options: CallOptions; generation: number }

function scripted(clock: ManualClock, answer: (node: NodeId, nth: number) => Answer): { calls: RemoteCalls; sent: Sent[] } {
  const sent: Sent[] = [];
  const calls: RemoteCalls = {
    localNode: 1n,
    call(node, kind, body, options) {
      assert.equal(kind, 'replica.write');
      const { change } = decodeReplicaChange(body);
      sent.push({ node, at: clock.now(), options, generation: change.kind === 'put' ? change.record.meta.generation : change.generation });
      const a = answer(node, sent.filter((s) => s.node === node).length);
      return a === 'ok' ? Promise.resolve(new Uint8Array(0)) : Promise.reject(a);
    },
    callThen(node, kind, body, options, done) {
      this.call(node, kind, body, options).then((v) => done(undefined, v), (e: DbError) => done(e, new Uint8Array(0)));
    },
    serve() {},
  };
  return { calls, sent };
}

const unavailable = (): DbError => new DbError('UNAVAILABLE', 'another membership');
const timeout = (): DbError => new DbError('TIMEOUT', 'no answer');
const change: ReplicaChange = {
  kind: 'put',
  record: { digest: new Uint8Array(20).fill(7), partition: 7, set: 's', key: undefined, payload: new Uint8Array([1, 2]), tombstone: false, meta: { generation: 5, voidTime: 0, lastUpdateMs: 1 } },
};
/** Lets every promise settled by now run its reactions. */
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));
/** Advances the clock in steps, letting the writer's promises run between them. */
async function pass(clock: ManualClock, ms: number, step = 5): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    clock.advance(step);
    await turn();
  }
}
function outcome(p: Promise<void>): { value: string | undefined } {
  const o: { value: string | undefined } = { value: undefined };
  p.then(() => { o.value = 'ok'; }, (e: DbError) => { o.value = `${e.code}${e.inDoubt === true ? ' in doubt' : ''}: ${e.message}`; });
  return o;
}

describe('cluster/replica writer', () => {
  it('one replica that confirms: one call with the whole deadline, in a batch, answered ok', async () => {
    const clock = new ManualClock();
    const { calls, sent } = scripted(clock, () => 'ok');
    const w = new ReplicaWriter({ calls, clock, replicasOf: () => [2n], deadlineMs: 800 });
    const o = outcome(w.write('test', change, 'all'));
    await turn();
    assert.equal(o.value, 'ok');
    assert.deepEqual(sent.map((s) => [s.node, s.options.deadlineMs, s.options.batch, s.options.fabricKind]), [[2n, 800, true, 'replica-write']]);
    assert.equal(w.counters.sent, 1);
    w.deadlineMs = 300;
    await w.write('test', change, 'all');
    assert.equal(sent[1]?.options.deadlineMs, 300, 'a new deadline is used by the next writes');
    // no replica: nothing sent
    const alone = new ReplicaWriter({ calls, clock, replicasOf: () => [1n] });
    await alone.write('test', change, 'all');
    assert.equal(sent.length, 2);
  });

  it('UNAVAILABLE (another membership): the write goes to the replica of the new map with the time left', async () => {
    const clock = new ManualClock();
    let map: NodeId[] = [2n];
    const { calls, sent } = scripted(clock, (node) => (node === 2n ? unavailable() : 'ok'));
    const w = new ReplicaWriter({ calls, clock, replicasOf: () => map, deadlineMs: 1000 });
    const o = outcome(w.write('test', change, 'all'));
    await turn();
    assert.equal(o.value, undefined, 'not answered while the map has not changed');
    map = [3n];
    await pass(clock, 200);
    assert.equal(o.value, 'ok');
    assert.equal(sent.at(-1)?.node, 3n);
    assert.ok((sent.at(-1)?.options.deadlineMs ?? 0) < 1000, 'the retry takes the time left');
    assert.equal(w.counters.timedOut, 0);
    const before = sent.length;
    await pass(clock, 5000, 100);
    assert.equal(sent.length, before, 'nothing resent: the replica that refused is no longer one');
  });

  it('a replica that stays in the map and does not confirm: TIMEOUT in doubt at once, resent in the background until it confirms', async () => {
    const clock = new ManualClock();
    const { calls, sent } = scripted(clock, (node, nth) => (node === 2n && nth === 1 ? timeout() : 'ok'));
    const w = new ReplicaWriter({ calls, clock, replicasOf: () => [2n], deadlineMs: 1000 });
    const o = outcome(w.write('test', change, 'all'));
    await turn();
    assert.match(o.value ?? '', /^TIMEOUT in doubt: .*replica 2 did not confirm it within 1000 ms \(no answer\)/);
    assert.equal(w.counters.timedOut, 1);
    assert.equal(sent.length, 1);
    await pass(clock, 150);
    assert.deepEqual(sent.map((s) => s.node), [2n, 2n], 'resent to the replica that did not confirm');
    assert.equal(w.counters.resent, 1);
    assert.equal(w.counters.abandoned, 0);
  });

  it('a replica that left the map (TIMEOUT): the copy goes to the new map\'s replica', async () => {
    const clock = new ManualClock();
    let map: NodeId[] = [2n];
    const { calls, sent } = scripted(clock, (node) => {
      if (node === 2n) { map = [3n]; return timeout(); }
      return 'ok';
    });
    const w = new ReplicaWriter({ calls, clock, replicasOf: () => map });
    const o = outcome(w.write('test', change, 'all'));
    await pass(clock, 50);
    assert.equal(o.value, 'ok');
    assert.deepEqual(sent.map((s) => s.node), [2n, 3n]);
  });

  it('UNAVAILABLE until the deadline: TIMEOUT in doubt at the deadline, never a call past it', async () => {
    const clock = new ManualClock();
    const { calls, sent } = scripted(clock, () => unavailable());
    const w = new ReplicaWriter({ calls, clock, replicasOf: () => [2n], deadlineMs: 500 });
    const start = clock.now();
    const o = outcome(w.write('test', change, 'all'));
    await pass(clock, 400);
    assert.equal(o.value, undefined, 'still trying before the deadline');
    await pass(clock, 200);
    assert.match(o.value ?? '', /^TIMEOUT in doubt: .*replica 2 did not confirm/);
    assert.ok(sent.length >= 3, `${sent.length} attempts`);
    for (const s of sent) assert.ok(s.at + s.options.deadlineMs <= start + 500, 'no attempt runs past the write\'s deadline');
  });

  it('several replicas: only those that did not confirm are tried again', async () => {
    const clock = new ManualClock();
    let map: NodeId[] = [2n, 3n];
    const { calls, sent } = scripted(clock, (node) => (node === 3n ? unavailable() : 'ok'));
    const w = new ReplicaWriter({ calls, clock, replicasOf: () => map });
    const o = outcome(w.write('test', change, 'all'));
    await turn();
    assert.equal(o.value, undefined);
    map = [2n, 4n];
    await pass(clock, 100);
    assert.equal(o.value, 'ok');
    assert.deepEqual(sent.map((s) => s.node), [2n, 3n, 4n], 'the replica that confirmed is not sent the copy again');
    assert.equal(w.counters.sent, 3);
  });

  it('commit level master: answered at once; a copy that fails is resent in the background', async () => {
    const clock = new ManualClock();
    const { calls, sent } = scripted(clock, (_node, nth) => (nth === 1 ? timeout() : 'ok'));
    const w = new ReplicaWriter({ calls, clock, replicasOf: () => [2n] });
    await w.write('test', change, 'master');
    await turn();
    assert.equal(w.counters.timedOut, 1);
    await pass(clock, 150);
    assert.equal(sent.length, 2);
    assert.equal(w.counters.resent, 1);
  });

  it('a change that cannot be sent fails the write (a rejection, never a throw)', async () => {
    const clock = new ManualClock();
    const { calls } = scripted(clock, () => 'ok');
    const w = new ReplicaWriter({ calls, clock, replicasOf: () => [2n] });
    let p: Promise<void> | undefined;
    assert.doesNotThrow(() => { p = w.write('n'.repeat(300), change, 'all'); });
    await assert.rejects(p as Promise<void>, /namespace name of 300 bytes/);
  });
});
