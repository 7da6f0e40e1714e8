/**
 * retransmit-throttle: exponential backoff (first resend after `intervalMs`, default 250, then
 * ×`backoff`, default 2, capped at `maxDelayMs`, default 5000) and, across all messages of the
 * node, at most `maxResendsPerSecond` (default 200) resends and `maxBytesPerSecond` (default
 * 4 MiB) resent bytes, with a burst allowance of `burst` messages (default 20). A bad link
 * therefore cannot start a retry storm: resends are spread out, and a message whose next slot
 * falls after its deadline gives up instead.
 *
 * Rate limiting is a generic cell-rate algorithm: each resend reserves the next free slot on
 * a message timeline and a byte timeline when it is scheduled.
 */
import {
  DbError, PLUGIN_API_VERSION,
  type PluginContext, type RetransmitPlugin, type RetransmitStrategy,
} from '../../core/plugin-api/index.ts';

const NAME = 'retransmit-throttle';

export interface ThrottleRetransmitOptions {
  readonly intervalMs?: number;
  readonly backoff?: number;
  readonly maxDelayMs?: number;
  readonly maxResendsPerSecond?: number;
  readonly maxBytesPerSecond?: number;
  readonly burst?: number;
}

function num(options: Readonly<Record<string, unknown>>, key: string, fallback: number, min: number): number {
  const v = options[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min) {
    throw new DbError('PARAMETER', `${NAME}: ${key} must be a number ≥ ${min}, got ${JSON.stringify(v)}`, {
      hint: `Remove ${key} to use the default (${fallback})`,
    });
  }
  return v;
}

export function throttleRetransmit(): RetransmitPlugin {
  return {
    kind: 'retransmit',
    name: NAME,
    apiVersion: PLUGIN_API_VERSION,
    create(ctx: PluginContext, options: Readonly<Record<string, unknown>>): RetransmitStrategy & { stats(): { scheduled: number; sent: number; gaveUp: number } } {
      const intervalMs = num(options, 'intervalMs', 250, 1);
      const backoff = num(options, 'backoff', 2, 1);
      const maxDelayMs = num(options, 'maxDelayMs', 5000, intervalMs);
      const msgCost = 1000 / num(options, 'maxResendsPerSecond', 200, 0.001);
      const byteRate = num(options, 'maxBytesPerSecond', 4 * 1024 * 1024, 1) / 1000;
      const burst = num(options, 'burst', 20, 1);
      // Theoretical arrival times (absolute ms) of the message and byte timelines.
      let tatMsgs = -Infinity;
      let tatBytes = -Infinity;
      let scheduled = 0;
      let sent = 0;
      let gaveUp = 0;
      return {
        nextDelayMs(state) {
          const now = ctx.clock.now();
          const base = Math.min(maxDelayMs, intervalMs * backoff ** (state.attempt - 1));
          const byteCost = Math.max(1, state.bytes) / byteRate;
          const wanted = now + base;
          const at = Math.max(wanted, tatMsgs - (burst - 1) * msgCost, tatBytes - (burst - 1) * byteCost);
          const firstSentAt = now - state.elapsedMs;
          if (at - firstSentAt >= state.deadlineMs) {
            gaveUp++;
            return null;
          }
          tatMsgs = Math.max(tatMsgs, at) + msgCost;
          tatBytes = Math.max(tatBytes, at) + byteCost;
          scheduled++;
          return at - now;
        },
        onResend() {
          sent++;
        },
        stats: () => ({ scheduled, sent, gaveUp }),
      };
    },
  };
}

export default throttleRetransmit;
