import { strict as assert } from 'node:assert';
import { throttleRetransmit } from '../../plugins/retransmit-throttle/index.ts';
import type { RetransmitState } from '../../core/plugin-api/index.ts';
import { FakeClock } from '../../core/cluster/clock.ts';
import { driveUnacked, retransmitContext, retransmitStrategyKit, checkedOptions } from 'slipstream/testing';

retransmitStrategyKit({ plugin: throttleRetransmit(), badOptions: [{ intervalMs: -5 }, { backoff: 0.5 }, { maxResendsPerSecond: 0 }] });
retransmitStrategyKit({ plugin: throttleRetransmit(), name: 'retransmit-throttle (intervalMs 200)', options: { intervalMs: 200 }, caps: { minGapMs: 200 } });

/** Many unacknowledged messages at once, driven like the kernel does; returns resend times. */
function storm(opts: Record<string, unknown>, messages: number, deadlineMs: number, bytes: number): number[] {
  const clock = new FakeClock(0);
  const s = throttleRetransmit().create(retransmitContext(clock), opts);
  const times: number[] = [];
  const schedule = (attempt: number): void => {
    const state: RetransmitState = { attempt, elapsedMs: clock.now(), deadlineMs, peer: 2n, kind: 'migration', bytes };
    const d = s.nextDelayMs(state);
    if (d === null) return;
    clock.setTimeout(() => {
      times.push(clock.now());
      s.onResend?.({ ...state, elapsedMs: clock.now() });
      schedule(attempt + 1);
    }, d);
  };
  for (let i = 0; i < messages; i++) schedule(1);
  clock.advance(deadlineMs + 1);
  return times;
}

function maxInWindow(times: number[], windowMs: number): number {
  let best = 0;
  let lo = 0;
  for (let hi = 0; hi < times.length; hi++) {
    while ((times[hi] as number) - (times[lo] as number) >= windowMs) lo++;
    best = Math.max(best, hi - lo + 1);
  }
  return best;
}

describe('plugins/retransmit-throttle', () => {
  it('backs off exponentially up to maxDelayMs', () => {
    const clock = new FakeClock();
    const s = throttleRetransmit().create(retransmitContext(clock), { intervalMs: 100, maxDelayMs: 400 });
    assert.deepEqual(driveUnacked(clock, s, 2000).resends, [100, 300, 700, 1100, 1500, 1900]);
  });

  it('caps resends per second across 2000 unacknowledged messages (no retry storm)', () => {
    const times = storm({ intervalMs: 50, maxResendsPerSecond: 100, burst: 10 }, 2000, 5000, 100);
    assert.ok(times.length > 300, `only ${times.length} resends`);
    assert.ok(maxInWindow(times, 1000) <= 110, `peak ${maxInWindow(times, 1000)} per second`);
  });

  it('caps resent bytes per second', () => {
    const times = storm({ intervalMs: 50, maxResendsPerSecond: 100_000, maxBytesPerSecond: 100_000, burst: 5 }, 500, 5000, 10_000);
    // 100 KB/s of 10 KB messages = 10/s, plus the burst of 5
    assert.ok(maxInWindow(times, 1000) <= 15, `peak ${maxInWindow(times, 1000)} per second`);
    assert.ok(times.length >= 40, String(times.length));
  });

  it('without pressure it behaves like plain backoff', () => {
    const times = storm({ intervalMs: 100, backoff: 1 }, 3, 1000, 10);
    assert.equal(times.length, 27);
  });
});
