/**
 * SHOW PLUGINS: the node's plugins (PLUGIN_INFO in the node's services), one row per instance (a
 * plugin not in use has one row without a scope): name, kind, version, source, where it is used,
 * its options after defaults, its health and its run-time errors.
 */
import { PLUGIN_INFO } from '../../services/index.ts';
import type { ExecContext, StatementFamily } from './executor.ts';
import type { Renderer } from '../language/results.ts';

async function showPlugins(ctx: ExecContext, out: Renderer): Promise<void> {
  const started = performance.now();
  out.begin([]);
  for (const p of ctx.services.get(PLUGIN_INFO)?.info() ?? []) {
    const errors = BigInt(Object.values(p.errors).reduce((a, b) => a + b, 0));
    const common: [string, string | bigint | boolean | null][] = [['plugin', p.name], ['kind', p.kind], ['version', p.version], ['source', p.source]];
    if (p.instances.length === 0) {
      await out.row([...common, ['scope', null], ['options', null], ['healthy', null], ['health', null], ['errors', errors]]);
      continue;
    }
    for (const i of p.instances) {
      await out.row([...common, ['scope', i.scope], ['options', JSON.stringify(i.options)], ['healthy', i.health.ok], ['health', i.health.detail ?? ''], ['errors', errors]]);
    }
  }
  out.end(performance.now() - started, ctx.nodeAddress);
}

export const pluginStatements: StatementFamily = {
  name: 'plugins',
  show: {
    PLUGINS: (_s, ctx, out) => showPlugins(ctx, out),
  },
};
