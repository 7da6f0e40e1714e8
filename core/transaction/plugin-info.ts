/**
 * What a node tells about its plugins (SHOW PLUGINS, the admin API's ListPlugins): kept here, below
 * AQL and the server, so both read it (service key PLUGIN_INFO) without knowing the node.
 */
import type { PluginHealth, PluginKind } from '../plugin-api/index.ts';

/** One created instance of a plugin (a namespace's engine, the cluster's strategy). */
export interface PluginInstanceInfo {
  /** 'namespace test', 'cluster'. */
  readonly scope: string;
  /** The options after defaults, as the plugin got them. */
  readonly options: Readonly<Record<string, unknown>>;
  readonly health: PluginHealth;
}

export interface PluginInfo {
  readonly name: string;
  readonly kind: PluginKind;
  readonly version: string;
  readonly description: string;
  /** 'built-in', or the file the plugin was loaded from. */
  readonly source: string;
  readonly instances: readonly PluginInstanceInfo[];
  /** Run-time errors thrown by the plugin, per operation ('get', 'assign', …). */
  readonly errors: Readonly<Record<string, number>>;
}

export interface PluginInfoSource {
  info(): PluginInfo[];
}
