import type { PluginContext } from './context.ts';
import type { StorageEngine } from './storage-engine.ts';
import type { ReplicationStrategy } from './replication-strategy.ts';
import type { RetransmitStrategy } from './retransmit-strategy.ts';
import type { NamespaceConfig } from '../model/index.ts';
import type { JsonSchema } from '../schema/index.ts';
import type { SystemMetadataBackend } from './system-metadata.ts';

/**
 * The version of this contract. A node loads only plugins built for its version; it changes
 * when a contract changes in a way an existing plugin could not follow.
 * 2: `optionsSchema` (checked before `create`), `version`, lifecycle hooks (start, health, stop).
 */
export const PLUGIN_API_VERSION = 2;

export type PluginKind = 'storage' | 'replication' | 'retransmit';

interface PluginBase<K extends PluginKind> {
  readonly kind: K;
  /** Unique per node, `<kind>-<impl>` by convention: 'storage-memory'. */
  readonly name: string;
  /** The PLUGIN_API_VERSION the plugin was built for. */
  readonly apiVersion: number;
  /** The plugin's own version (e.g. '1.2.0'), shown by SHOW PLUGINS. */
  readonly version?: string;
  /** One line saying what the plugin does. */
  readonly description?: string;
  /**
   * JSON Schema of the options (declare it with `Type`, or write JSON Schema). The node checks
   * the configured options against it and fills in its defaults before `create`; a bad value
   * stops start-up with a message naming the setting. Use `Type.Object({}, { additionalProperties: false })`
   * for a plugin without options.
   */
  readonly optionsSchema: JsonSchema;
}

export interface StoragePlugin extends PluginBase<'storage'> {
  /** Opens the engine for one namespace; `options` are the namespace's storage options. */
  create(ctx: PluginContext, namespace: NamespaceConfig, options: Readonly<Record<string, unknown>>): Promise<StorageEngine>;
  /**
   * Optional, for persistent engines: a durable store for the node's system metadata in `dir`
   * (a folder the node owns under its data directory).
   */
  openSystemMetadata?(ctx: PluginContext, dir: string): Promise<SystemMetadataBackend>;
}

export interface ReplicationPlugin extends PluginBase<'replication'> {
  create(ctx: PluginContext, options: Readonly<Record<string, unknown>>): ReplicationStrategy;
}

export interface RetransmitPlugin extends PluginBase<'retransmit'> {
  create(ctx: PluginContext, options: Readonly<Record<string, unknown>>): RetransmitStrategy;
}

export type Plugin = StoragePlugin | ReplicationPlugin | RetransmitPlugin;
