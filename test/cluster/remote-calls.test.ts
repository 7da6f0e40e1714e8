/**
 * Remote calls when their node leaves or their deadline passes (FabricCalls over a stub fabric
 * that does what a test tells it): a request no copy of which left this node fails UNAVAILABLE
 * (safe to send elsewhere), one that may have reached the node fails TIMEOUT in doubt — and a call
 * whose request is acknowledged in the same turn as its deadline passes still settles (in doubt).
 */
import { strict as assert } from 'node:assert';
import { DbError, silentLogger } from '../../core/plugin-api/index.ts';
import { FabricCalls } from '../../core/replication/remote-calls.ts';
import type { Fabric, SendControl, SendOptions } from '../../core/cluster/fabric.ts';
import { ManualClock } from '../helpers/manual-clock.ts';

/** A fabric whose sends the test settles: each is kept with its control, whose giveUp the test sets (as the fabric would). */
function stubFabric(): { fabric: Fabric; sends: Array<{ resolve(): void; reject(e: DbError): void; control: SendControl }> } {
  const sends: Array<{ resolve(): void; reject(e: DbError): void; control: SendControl }> = [];
  const fabric = {
    onMessage() {},
    send(_to: bigint, _body: unknown, options: SendOptions = {}) {
      const control = options.control ?? {};
      return new Promise<void>((resolve, reject) => sends.push({ resolve, reject, control }));
    },
  } as unknown as Fabric;
  return { fabric, sends };
}

const settle = async <T>(p: Promise<T>): Promise<T | DbError | 'pending'> => {
  let out: T | DbError | 'pending' = 'pending';
  p.then((v) => { out = v; }, (e: DbError) => { out = e; });
  for (let i = 0; i < 5; i++) await Promise.resolve();
  return out;
};

describe('cluster/remote calls: a node that leaves, a deadline that passes', () => {
  it('a request never sent (the fabric gives it up unsent) fails UNAVAILABLE when its node leaves; an acknowledged one fails TIMEOUT in doubt', async () => {
    const clock = new ManualClock();
    const { fabric, sends } = stubFabric();
    const calls = new FabricCalls(fabric, 1n, clock, silentLogger);
    const unsent = calls.call(2n, 'kv.put', new Uint8Array(0), { deadlineMs: 5000 });
    const acked = calls.call(2n, 'kv.put', new Uint8Array(0), { deadlineMs: 5000 });
    const [s0, s1] = sends;
    // the fabric's answer to being given up: never sent
    if (s0 !== undefined) s0.control.giveUp = () => s0.reject(new DbError('UNAVAILABLE', 'never sent'));
    s1?.resolve();
    await Promise.resolve();
    calls.departed(new Set([1n]));
    const [a, b] = await Promise.all([settle(unsent), settle(acked)]);
    assert.ok(a instanceof DbError && a.code === 'UNAVAILABLE' && !a.inDoubt, String(a));
    assert.match(a.message, /left the cluster before kv.put could be sent to it/);
    assert.ok(b instanceof DbError && b.code === 'TIMEOUT' && b.inDoubt, String(b));
    assert.match(b.message, /left the cluster before it answered kv.put/);
  });

  it('a request acknowledged in the same turn as its deadline passes fails TIMEOUT in doubt (it does not wait forever)', async () => {
    const clock = new ManualClock();
    const { fabric, sends } = stubFabric();
    const calls = new FabricCalls(fabric, 1n, clock, silentLogger);
    // the acknowledgement is handled in the timer turn just before the deadline's, with no
    // microtask between them (a fabric on a simulated clock delivers frames in timer turns too)
    let acked = false;
    clock.setTimeout(() => { acked = true; sends[0]?.resolve(); }, 1000);
    const p = calls.call(2n, 'kv.get', new Uint8Array(0), { deadlineMs: 1000 });
    // as the fabric: giving up a message already acknowledged does nothing, else it fails
    const s0 = sends[0];
    if (s0 !== undefined) s0.control.giveUp = () => { if (!acked) s0.reject(new DbError('TIMEOUT', 'given up')); };
    clock.advance(1000);
    const out = await settle(p);
    assert.ok(out instanceof DbError && out.code === 'TIMEOUT' && out.inDoubt, String(out));
  });
});
