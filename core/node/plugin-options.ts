/**
 * The options every configured plugin gets, checked against its schema with defaults filled in:
 * what `slipstream --print-config` shows, without starting anything.
 */
import type { Plugin } from '../plugin-api/index.ts';
import type { NodeConfig } from './config.ts';
import { loadPlugins } from './plugin-loader.ts';
import { PluginRegistry } from './plugin-registry.ts';

export interface EffectivePluginOptions {
  /** 'namespace test', 'cluster'. */
  readonly scope: string;
  readonly plugin: string;
  readonly kind: string;
  readonly source: string;
  readonly options: Readonly<Record<string, unknown>>;
}

/** A registry holding the given plugins and those the configuration names (loaded, checked). */
export async function registryFor(config: NodeConfig, builtIns: readonly Plugin[]): Promise<PluginRegistry> {
  const registry = new PluginRegistry();
  for (const p of builtIns) registry.register(p);
  for (const { plugin, source } of await loadPlugins(config.plugins)) registry.register(plugin, source);
  return registry;
}

type Choice = { strategy?: unknown; options?: unknown } | string | undefined;

function choice(v: Choice, fallback: string): { name: string; options: unknown } {
  if (v === undefined) return { name: fallback, options: {} };
  if (typeof v === 'string') return { name: v, options: {} };
  return { name: typeof v.strategy === 'string' ? v.strategy : fallback, options: v.options ?? {} };
}

export async function effectivePluginOptions(config: NodeConfig, builtIns: readonly Plugin[]): Promise<EffectivePluginOptions[]> {
  const registry = await registryFor(config, builtIns);
  const out: EffectivePluginOptions[] = [];
  const add = (scope: string, plugin: Plugin, options: unknown, where: string): void => {
    out.push({ scope, plugin: plugin.name, kind: plugin.kind, source: registry.sourceOf(plugin.name) ?? 'built-in', options: registry.checkOptions(plugin, options, where) });
  };
  for (const ns of config.namespaces) add(`namespace ${ns.name}`, registry.get('storage', ns.storage), ns.storageOptions, `namespace '${ns.name}'`);
  const cluster = config.sections['cluster'] as { replication?: Choice; retransmit?: Choice } | undefined;
  if (cluster !== undefined && cluster !== null && typeof cluster === 'object') {
    const r = choice(cluster.replication, 'replication-global-key');
    add('cluster', registry.get('replication', r.name), r.options, 'config cluster.replication');
    const t = choice(cluster.retransmit, 'retransmit-basic');
    add('cluster', registry.get('retransmit', t.name), t.options, 'config cluster.retransmit');
  }
  return out;
}
