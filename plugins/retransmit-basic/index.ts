/**
 * retransmit-basic: resend an unacknowledged fabric message every `intervalMs` (default 250)
 * until its deadline, or until `maxAttempts` resends (default unlimited) have been made.
 * The last wait is cut short so that the kernel sees the deadline on time.
 */
import {
  PLUGIN_API_VERSION, Type,
  type PluginContext, type RetransmitPlugin, type RetransmitStrategy,
} from 'slipstream/plugin-api';

const NAME = 'retransmit-basic';

export interface BasicRetransmitOptions {
  readonly intervalMs?: number;
  readonly maxAttempts?: number;
}

export const basicRetransmitOptions = Type.Object({
  intervalMs: Type.Optional(Type.Number({ exclusiveMinimum: 0, default: 250, description: 'milliseconds between resends' })),
  maxAttempts: Type.Optional(Type.Integer({ minimum: 1, description: 'most resends of one message (default: until the deadline)' })),
}, { additionalProperties: false, title: 'retransmit-basic' });

export function basicRetransmit(): RetransmitPlugin {
  return {
    kind: 'retransmit',
    name: NAME,
    apiVersion: PLUGIN_API_VERSION,
    version: '1.0.0',
    description: 'Resend every intervalMs until the deadline or maxAttempts',
    optionsSchema: basicRetransmitOptions,
    create(_ctx: PluginContext, options: Readonly<Record<string, unknown>>): RetransmitStrategy {
      const intervalMs = (options['intervalMs'] as number | undefined) ?? 250;
      const maxAttempts = (options['maxAttempts'] as number | undefined) ?? Infinity;
      return {
        nextDelayMs(state) {
          if (state.attempt > maxAttempts) return null;
          const left = state.deadlineMs - state.elapsedMs;
          if (left <= 0) return null;
          return Math.min(intervalMs, left);
        },
      };
    },
  };
}

export default basicRetransmit;
