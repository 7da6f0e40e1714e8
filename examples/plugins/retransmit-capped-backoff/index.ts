/**
 * retransmit-capped-backoff: resend after `firstDelayMs`, then each wait `factor` times the
 * last, at most `maxDelayMs`, and at most `maxAttempts` resends of one message — never past
 * the message's deadline. Written as an out-of-tree plugin.
 */
import { PLUGIN_API_VERSION, Type, type RetransmitPlugin, type RetransmitStrategy, type Static } from 'slipstream/plugin-api';

export const cappedBackoffOptions = Type.Object({
  firstDelayMs: Type.Optional(Type.Number({ minimum: 1, default: 100, description: 'milliseconds before the first resend' })),
  factor: Type.Optional(Type.Number({ minimum: 1, maximum: 10, default: 2, description: 'each wait is this many times the last' })),
  maxDelayMs: Type.Optional(Type.Number({ minimum: 1, default: 2000, description: 'longest wait between two sends' })),
  maxAttempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 8, description: 'most resends of one message' })),
}, { additionalProperties: false, title: 'retransmit-capped-backoff' });

export function cappedBackoffRetransmit(): RetransmitPlugin {
  return {
    kind: 'retransmit',
    name: 'retransmit-capped-backoff',
    apiVersion: PLUGIN_API_VERSION,
    version: '1.0.0',
    description: 'Exponential backoff with a cap on the wait and on resends per message',
    optionsSchema: cappedBackoffOptions,
    create(_ctx, options): RetransmitStrategy {
      // the node filled in the defaults from the schema
      const o = options as Required<Static<typeof cappedBackoffOptions>>;
      let resends = 0;
      let gaveUp = 0;
      return {
        nextDelayMs(state) {
          const left = state.deadlineMs - state.elapsedMs;
          if (state.attempt > o.maxAttempts || left <= 0) {
            gaveUp++;
            return null;
          }
          const wait = Math.min(o.maxDelayMs, o.firstDelayMs * o.factor ** (state.attempt - 1));
          // never past the deadline: give up instead of a resend the sender would not wait for
          if (wait > left) {
            gaveUp++;
            return null;
          }
          return wait;
        },
        onResend() {
          resends++;
        },
        health: () => ({ ok: true, detail: `${resends} resends, ${gaveUp} messages given up` }),
      };
    },
  };
}

export default cappedBackoffRetransmit;
