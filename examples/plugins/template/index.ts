/**
 * A plugin to start from: rename it, pick its kind, declare its options, implement `create`.
 * This one is a retransmit strategy that resends at a fixed interval until the deadline.
 * Other kinds: see examples/plugins/storage-append-log and replication-rendezvous, and
 * docs/plugins.md. Import only from 'slipstream/plugin-api'.
 */
import { PLUGIN_API_VERSION, Type, type RetransmitPlugin, type Static } from 'slipstream/plugin-api';

/** The options' JSON Schema: the node checks them and fills in the defaults before `create`. */
export const options = Type.Object({
  intervalMs: Type.Optional(Type.Number({ minimum: 1, default: 200, description: 'milliseconds between resends' })),
}, { additionalProperties: false, title: 'retransmit-my-strategy' });

export function myStrategy(): RetransmitPlugin {
  return {
    kind: 'retransmit',
    name: 'retransmit-my-strategy', // <kind>-<name>, unique on a node
    apiVersion: PLUGIN_API_VERSION,
    version: '0.1.0',
    description: 'Resend at a fixed interval until the deadline',
    optionsSchema: options,
    create(_ctx, raw) {
      const o = raw as Required<Static<typeof options>>;
      return {
        nextDelayMs(state) {
          const left = state.deadlineMs - state.elapsedMs;
          return left <= 0 ? null : Math.min(o.intervalMs, left);
        },
      };
    },
  };
}

// The node loads the default export: a plugin, or a function returning one.
export default myStrategy;
