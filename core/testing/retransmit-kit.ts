/**
 * The retransmit kit: the conformance suite every retransmit strategy passes. Inside a mocha
 * file:
 *
 *   import { retransmitStrategyKit } from 'slipstream/testing';
 *   retransmitStrategyKit({ plugin: myRetransmit(), options: { maxAttempts: 5 }, caps: { maxAttempts: 5 } });
 *
 * It checks: never a delay past the deadline, gives up once the deadline has passed, resends
 * at least once before a generous deadline and finitely often, determinism, schema-checked
 * options — and each cap the strategy claims (most resends per message, least gap between two
 * resends of one message).
 */
import { strict as assert } from 'node:assert';
import {
  PLUGIN_API_VERSION,
  type PluginContext, type RetransmitPlugin, type RetransmitState, type RetransmitStrategy,
} from '../plugin-api/index.ts';
import { isJsonSchema } from '../schema/index.ts';
import { FakeClock } from '../cluster/clock.ts';
import { checkedOptions, createRetransmit, testContext } from './context.ts';

export interface RetransmitStrategyKitTarget {
  readonly plugin: RetransmitPlugin;
  /** Options to create it with (checked against its schema). Default: {}. */
  readonly options?: Readonly<Record<string, unknown>>;
  /** Suite title (default: the plugin's name). */
  readonly name?: string;
  /** Caps the strategy claims under `options`; the kit checks each. */
  readonly caps?: {
    /** Most resends of one message. */
    readonly maxAttempts?: number;
    /** Least milliseconds between two sends of one message. */
    readonly minGapMs?: number;
  };
  /** Options the schema must refuse (default: { intervalMs: -5 } when the schema has intervalMs). */
  readonly badOptions?: readonly Readonly<Record<string, unknown>>[];
}

export function retransmitContext(clock: FakeClock): PluginContext {
  return testContext(1n, clock);
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

export function retransmitStrategyKit(target: RetransmitStrategyKitTarget): void {
  const plugin = target.plugin;
  const options = target.options ?? {};
  const make = (clock: FakeClock): RetransmitStrategy => createRetransmit(plugin, options, retransmitContext(clock));
  describe(`retransmit strategy kit: ${target.name ?? plugin.name}`, () => {
    it('is a retransmit plugin of the current API version with an options schema', () => {
      assert.equal(plugin.kind, 'retransmit');
      assert.equal(plugin.apiVersion, PLUGIN_API_VERSION);
      assert.match(plugin.name, /^retransmit-[a-z0-9-]+$/);
      assert.ok(isJsonSchema(plugin.optionsSchema), 'optionsSchema must be a JSON Schema');
    });

    const caps = target.caps ?? {};
    if (caps.maxAttempts !== undefined) {
      const max = caps.maxAttempts;
      it(`resends one message at most ${max} times`, () => {
        const clock = new FakeClock();
        const { resends } = driveUnacked(clock, make(clock), 3_600_000);
        assert.ok(resends.length <= max, `${resends.length} resends`);
      });
    }
    if (caps.minGapMs !== undefined) {
      const gap = caps.minGapMs;
      it(`waits at least ${gap} ms between two sends of one message`, () => {
        const clock = new FakeClock();
        const { resends } = driveUnacked(clock, make(clock), 60_000);
        let last = 0;
        for (const t of resends) {
          assert.ok(t - last >= gap - 1e-9, `resend at ${t} ms, ${t - last} ms after the previous send`);
          last = t;
        }
      });
    }

    it('returns null or a positive finite delay, never past the deadline', () => {
      const clock = new FakeClock();
      const s = make(clock);
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
      const s = make(clock);
      assert.equal(s.nextDelayMs({ attempt: 3, elapsedMs: 1000, deadlineMs: 1000, peer: 2n, kind: 'control', bytes: 1 }), null);
      assert.equal(s.nextDelayMs({ attempt: 3, elapsedMs: 5000, deadlineMs: 1000, peer: 2n, kind: 'control', bytes: 1 }), null);
    });

    it('resends an unacknowledged message at least once before a generous deadline, finitely often', () => {
      const clock = new FakeClock();
      const s = make(clock);
      const { resends, gaveUpAt } = driveUnacked(clock, s, 10_000);
      assert.ok(resends.length >= 1, 'never resent');
      assert.ok(resends.length < 10_000);
      assert.ok(gaveUpAt <= 10_000);
      for (let i = 1; i < resends.length; i++) assert.ok((resends[i] as number) > (resends[i - 1] as number));
    });

    it('is deterministic for the same clock and inputs', () => {
      const c1 = new FakeClock();
      const c2 = new FakeClock();
      const r1 = driveUnacked(c1, make(c1), 3000);
      const r2 = driveUnacked(c2, make(c2), 3000);
      assert.deepEqual(r1, r2);
      assert.ok(r1.resends.length >= 1);
    });

    const bad = target.badOptions ?? [{ intervalMs: -5 }];
    for (const b of bad) {
      it(`refuses the options ${JSON.stringify(b)} by its schema, naming the setting`, () => {
        const key = Object.keys(b)[0] ?? '';
        assert.throws(() => checkedOptions(plugin, { ...options, ...b }), (e: unknown) => e instanceof Error && e.name === 'DbError' && e.message.includes(key));
      });
    }
  });
}
