/**
 * retransmit-basic: resend an unacknowledged fabric message every `intervalMs` (default 250)
 * until its deadline, or until `maxAttempts` resends (default unlimited) have been made.
 * The last wait is cut short so that the kernel sees the deadline on time.
 */
import {
  DbError, PLUGIN_API_VERSION,
  type PluginContext, type RetransmitPlugin, type RetransmitStrategy,
} from '../../core/plugin-api/index.ts';

const NAME = 'retransmit-basic';

export interface BasicRetransmitOptions {
  readonly intervalMs?: number;
  readonly maxAttempts?: number;
}

function positive(options: Readonly<Record<string, unknown>>, key: string, fallback: number, integer: boolean): number {
  const v = options[key] ?? fallback;
  if (typeof v !== 'number' || !(v > 0) || (integer && !Number.isInteger(v) && v !== Infinity)) {
    throw new DbError('PARAMETER', `${NAME}: ${key} must be a positive ${integer ? 'integer' : 'number'}, got ${JSON.stringify(v)}`, {
      hint: `Remove ${key} to use the default (${fallback}) or give a positive number`,
    });
  }
  return v;
}

export function basicRetransmit(): RetransmitPlugin {
  return {
    kind: 'retransmit',
    name: NAME,
    apiVersion: PLUGIN_API_VERSION,
    create(_ctx: PluginContext, options: Readonly<Record<string, unknown>>): RetransmitStrategy {
      const intervalMs = positive(options, 'intervalMs', 250, false);
      const maxAttempts = positive(options, 'maxAttempts', Infinity, true);
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
