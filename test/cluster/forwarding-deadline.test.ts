/**
 * Proxying and the write's deadline: a forwarded write that the master did not run (another
 * membership: UNAVAILABLE) is sent again only while its deadline has not passed, so a write the
 * client has given up on cannot land after the writes the client makes next.
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

function setup(answer: (attempt: number) => Uint8Array | DbError): { f: Forwarding; clock: ManualClock; sent: number[] } {
  const clock = new ManualClock();
  const sent: number[] = [];
  const calls: RemoteCalls = {
    localNode: 1n,
    async call() {
      sent.push(clock.now());
      const a = answer(sent.length);
      // the master's answer takes 300 ms of the deadline
      clock.advance(300);
      if (a instanceof DbError) throw a;
      return a;
    },
    serve() {},
  };
  const f = new Forwarding({
    calls, clock, compileFilter: () => undefined,
    router: { localNode: 1n, masterOf: () => 2n, serviceAddressOf: () => undefined },
  });
  return { f, clock, sent };
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

  it('a read is not bounded by a write deadline', async () => {
    const { f, clock, sent } = setup((n) => (n < 5 ? notRun() : new Uint8Array(serialize(toFabric({ generation: 1, voidTime: 0, lastUpdateMs: 1 })))));
    const start = clock.now();
    await drive(clock, f.exists(makeKey('test', 's', 'k'), {}, async () => assert.fail('not the master')));
    assert.equal(sent.length, 5);
    assert.ok(clock.now() - start > 1000);
  });
});
