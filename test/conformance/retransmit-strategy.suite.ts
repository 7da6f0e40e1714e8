/**
 * The conformance suite every RetransmitStrategy plugin must pass.
 */
import { strict as assert } from 'node:assert';
import {
  PLUGIN_API_VERSION, silentLogger,
  type PluginContext, type RetransmitPlugin, type RetransmitState, type RetransmitStrategy,
} from '../../core/plugin-api/index.ts';
import { FakeClock } from '../../core/cluster/clock.ts';

export function retransmitContext(clock: FakeClock): PluginContext {
  return { nodeId: 1n, logger: silentLogger, clock, signal: new AbortController().signal };
}

/**
 * Drives one never-acknowledged message the way the kernel does; returns the times (ms after
 * the first send) of its resends and whether it gave up before the deadline.
 */
export function driveUnacked(clock: FakeClock, s: RetransmitStrategy, deadlineMs: number, bytes = 100): { resends: number[]; gaveUpAt: number } {
  const start = clock.now();
  const resends: number[] = [];
  for (let attempt = 1; ; attempt++) {
    const state: RetransmitState = { attempt, elapsedMs: clock.now() - start, deadlineMs, peer: 2n, kind: 'replica-write', bytes };
    const d = s.nextDelayMs(state);
    if (d === null) return { resends, gaveUpAt: clock.now() - start };
    clock.advance(d);
    if (clock.now() - start >= deadlineMs) return { resends, gaveUpAt: clock.now() - start };
    resends.push(clock.now() - start);
    s.onResend?.({ ...state, elapsedMs: clock.now() - start });
  }
}

export function retransmitStrategyConformance(plugin: RetransmitPlugin, options: Readonly<Record<string, unknown>> = {}): void {
  describe(`retransmit strategy conformance: ${plugin.name}`, () => {
    it('is a retransmit plugin of the current API version', () => {
      assert.equal(plugin.kind, 'retransmit');
      assert.equal(plugin.apiVersion, PLUGIN_API_VERSION);
      assert.match(plugin.name, /^retransmit-[a-z0-9-]+$/);
    });

    it('returns null or a positive finite delay, never past the deadline', () => {
      const clock = new FakeClock();
      const s = plugin.create(retransmitContext(clock), options);
      for (let attempt = 1; attempt < 50; attempt++) {
        for (const elapsedMs of [0, 10, 400, 999]) {
          const d = s.nextDelayMs({ attempt, elapsedMs, deadlineMs: 1000, peer: 2n, kind: 'control', bytes: 64 });
          if (d !== null) {
            assert.ok(Number.isFinite(d) && d > 0, `delay ${d}`);
            assert.ok(elapsedMs + d <= 1000, `attempt ${attempt} at ${elapsedMs} ms waits ${d} ms, past the deadline`);
          }
        }
      }
    });

    it('gives up once the deadline has passed', () => {
      const clock = new FakeClock();
      const s = plugin.create(retransmitContext(clock), options);
      assert.equal(s.nextDelayMs({ attempt: 3, elapsedMs: 1000, deadlineMs: 1000, peer: 2n, kind: 'control', bytes: 1 }), null);
      assert.equal(s.nextDelayMs({ attempt: 3, elapsedMs: 5000, deadlineMs: 1000, peer: 2n, kind: 'control', bytes: 1 }), null);
    });

    it('resends an unacknowledged message at least once before a generous deadline, finitely often', () => {
      const clock = new FakeClock();
      const s = plugin.create(retransmitContext(clock), options);
      const { resends, gaveUpAt } = driveUnacked(clock, s, 10_000);
      assert.ok(resends.length >= 1, 'never resent');
      assert.ok(resends.length < 10_000);
      assert.ok(gaveUpAt <= 10_000);
      for (let i = 1; i < resends.length; i++) assert.ok((resends[i] as number) > (resends[i - 1] as number));
    });

    it('is deterministic for the same clock and inputs', () => {
      const c1 = new FakeClock();
      const c2 = new FakeClock();
      const r1 = driveUnacked(c1, plugin.create(retransmitContext(c1), options), 3000);
      const r2 = driveUnacked(c2, plugin.create(retransmitContext(c2), options), 3000);
      assert.deepEqual(r1, r2);
      assert.ok(r1.resends.length >= 1);
    });

    it('rejects nonsense options with a DbError', () => {
      const clock = new FakeClock();
      assert.throws(() => plugin.create(retransmitContext(clock), { ...options, intervalMs: -5 }), /intervalMs/);
    });
  });
}
