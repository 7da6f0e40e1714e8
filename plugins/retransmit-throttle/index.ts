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
  DbError, PLUGIN_API_VERSION, Type,
  type PluginContext, type RetransmitPlugin, type RetransmitStrategy,
} from 'slipstream/plugin-api';

const NAME = 'retransmit-throttle';

export interface ThrottleRetransmitOptions {
  readonly intervalMs?: number;
  readonly backoff?: number;
  readonly maxDelayMs?: number;
  readonly maxResendsPerSecond?: number;
  readonly maxBytesPerSecond?: number;
  readonly burst?: number;
}

export const throttleRetransmitOptions = Type.Object({
  intervalMs: Type.Optional(Type.Number({ minimum: 1, default: 250, description: 'milliseconds before the first resend' })),
  backoff: Type.Optional(Type.Number({ minimum: 1, default: 2, description: 'factor between successive waits' })),
  maxDelayMs: Type.Optional(Type.Number({ minimum: 1, default: 5000, description: 'longest wait between resends (at least intervalMs)' })),
  maxResendsPerSecond: Type.Optional(Type.Number({ minimum: 0.001, default: 200, description: 'resends per second across all messages' })),
  maxBytesPerSecond: Type.Optional(Type.Number({ minimum: 1, default: 4 * 1024 * 1024, description: 'resent bytes per second across all messages' })),
  burst: Type.Optional(Type.Number({ minimum: 1, default: 20, description: 'resends allowed at once above the rates' })),
}, { additionalProperties: false, title: 'retransmit-throttle' });

export function throttleRetransmit(): RetransmitPlugin {
  return {
    kind: 'retransmit',
    name: NAME,
    apiVersion: PLUGIN_API_VERSION,
    version: '1.0.0',
    description: 'Exponential backoff with node-wide resend and byte rate caps',
    optionsSchema: throttleRetransmitOptions,
    create(ctx: PluginContext, options: Readonly<Record<string, unknown>>): RetransmitStrategy & { stats(): { scheduled: number; sent: number; gaveUp: number } } {
      const o = options as Required<ThrottleRetransmitOptions>;
      const intervalMs = o.intervalMs ?? 250;
      const backoff = o.backoff ?? 2;
      const maxDelayMs = o.maxDelayMs ?? 5000;
      if (maxDelayMs < intervalMs) {
        throw new DbError('PARAMETER', `${NAME}: maxDelayMs (${maxDelayMs}) must be at least intervalMs (${intervalMs})`, { hint: 'Raise maxDelayMs or lower intervalMs', plugin: NAME });
      }
      const msgCost = 1000 / (o.maxResendsPerSecond ?? 200);
      const byteRate = (o.maxBytesPerSecond ?? 4 * 1024 * 1024) / 1000;
      const burst = o.burst ?? 20;
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
