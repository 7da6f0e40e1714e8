/**
 * Proxying and the client's deadline: a forwarded write that the master did not run (another
 * membership: UNAVAILABLE) is sent again only while its deadline has not passed, so a write the
 * client has given up on cannot land after the writes the client makes next; a forwarded read
 * (and a scan's page asked of another node) waits no longer than its client does.
 */
import { strict as assert } from 'node:assert';
import { serialize } from 'node:v8';
import { Forwarding } from '../../core/transaction/forwarding.ts';
import { writePolicy } from '../../core/transaction/policy.ts';
import { makeKey } from '../../core/model/index.ts';
import { DbError } from '../../core/errors/index.ts';
import { toFabric } from '../../core/model/fabric-values.ts';
import type { RemoteCalls } from '../../core/replication/remote-calls.ts';
import { ManualClock } from '../helpers/manual-clock.ts';

function setup(answer: (attempt: number) => Uint8Array | DbError): { f: Forwarding; clock: ManualClock; sent: number[]; waits: number[] } {
  const clock = new ManualClock();
  const sent: number[] = [];
  /** How long each call was allowed to wait for its answer. */
  const waits: number[] = [];
  const calls: RemoteCalls = {
    localNode: 1n,
    async call(_node, _kind, _body, options) {
      sent.push(clock.now());
      waits.push(options.deadlineMs);
      const a = answer(sent.length);
      // the master's answer takes 300 ms of the deadline
      clock.advance(300);
      if (a instanceof DbError) throw a;
      return a;
    },
    callThen(node, kind, body, options, done) {
      this.call(node, kind, body, options).then((a) => done(undefined, a), (e: DbError) => done(e, new Uint8Array(0)));
    },
    serve() {},
  };
  const f = new Forwarding({
    calls, clock, compileFilter: () => undefined,
    router: { localNode: 1n, masterOf: () => 2n, serviceAddressOf: () => undefined },
  });
  return { f, clock, sent, waits };
}

/** Settles `p`, moving the manual clock on whenever nothing else is left to run (the forwarder's back-off waits on it). */
async function drive<T>(clock: ManualClock, p: Promise<T>): Promise<T> {
  let done = false;
  const out = p.finally(() => { done = true; });
  out.catch(() => {});
  for (let i = 0; !done && i < 10_000; i++) {
    await new Promise((r) => setImmediate(r));
    if (!done) clock.advance(10);
  }
  return out;
}

const notRun = (): DbError => new DbError('UNAVAILABLE', 'not run: another membership');

describe('cluster/forwarding and the write deadline', () => {
  it('sends a write again after UNAVAILABLE only while its deadline has not passed, and then refuses it as not run (not in doubt)', async () => {
    const { f, clock, sent } = setup(() => notRun());
    const key = makeKey('test', 's', 'k');
    const deadline = clock.now() + 1000;
    const err = await drive(clock, f.put(key, { v: 1n }, writePolicy({ deadline }), async () => assert.fail('not the master'))).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof DbError, String(err));
    assert.ok(sent.length >= 2, `sent again after UNAVAILABLE (${sent.length})`);
    assert.ok(sent.every((t) => t <= deadline), `never sent after the deadline (sent at +${sent.map((t) => t - (deadline - 1000)).join(', +')} ms)`);
    assert.ok(!err.inDoubt, `not in doubt: ${err.code} ${err.message}`);
  });

  it('a write without a deadline keeps the proxy deadline, and a write answered in time is answered', async () => {
    const { f, clock } = setup((n) => (n < 3 ? notRun() : new Uint8Array(serialize(toFabric({ generation: 5, voidTime: 0, lastUpdateMs: 1 })))));
    const key = makeKey('test', 's', 'k');
    const meta = await drive(clock, f.put(key, { v: 1n }, writePolicy(), async () => assert.fail('not the master')));
    assert.equal(meta?.generation, 5);
  });

  it('a read with its client\'s deadline is not sent again past it, waits no longer, and fails TIMEOUT (not in doubt) — not after the 5 s proxy deadline', async () => {
    const { f, clock, sent, waits } = setup(() => notRun());
    for (const read of [
      (deadline: number): Promise<unknown> => f.get(makeKey('test', 's', 'k'), { deadline }, async () => assert.fail('not the master')),
      (deadline: number) => f.exists(makeKey('test', 's', 'k'), { deadline }, async () => assert.fail('not the master')),
      (deadline: number) => f.getStored(makeKey('test', 's', 'k'), { deadline }, async () => assert.fail('not the master')),
    ]) {
      sent.length = 0;
      waits.length = 0;
      const start = clock.now();
      const deadline = start + 1000;
      const err = await drive(clock, read(deadline)).then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof DbError && err.code === 'TIMEOUT' && !err.inDoubt, String(err));
      assert.ok(sent.length >= 1 && sent.every((t, i) => t <= deadline && t + (waits[i] as number) <= deadline),
        `asked only before the deadline and waited no longer (sent at +${sent.map((t) => t - start).join(', +')} ms, waits ${waits.join(', ')} ms)`);
      assert.ok(clock.now() - start < 1500, `gave up at the deadline, not the proxy deadline (+${clock.now() - start} ms)`);
    }
  });

  it('a page of a scan asked of another node waits no longer than the scan\'s deadline', async () => {
    const { f, clock, waits } = setup(() => new Uint8Array(serialize(toFabric({ records: [], done: true }))));
    const deadline = clock.now() + 700;
    const scan = f.scan({ namespace: 'test', partitions: [1], deadline }, async () => assert.fail('not the master'));
    await drive(clock, (async () => { for await (const r of scan) void r; })()).catch(() => {});
    assert.ok(waits.length >= 1, 'a page was asked of the master');
    assert.ok(waits.every((w) => w <= 700), `page waits ${waits.join(', ')} ms (10,000 ms without the deadline)`);
  });

  it('a read without a deadline is not bounded by a write deadline', async () => {
    const { f, clock, sent } = setup((n) => (n < 5 ? notRun() : new Uint8Array(serialize(toFabric({ generation: 1, voidTime: 0, lastUpdateMs: 1 })))));
    const start = clock.now();
    await drive(clock, f.exists(makeKey('test', 's', 'k'), {}, async () => assert.fail('not the master')));
    assert.equal(sent.length, 5);
    assert.ok(clock.now() - start > 1000);
  });
});
