import type { PluginContext } from './context.ts';
import type { StorageEngine } from './storage-engine.ts';
import type { ReplicationStrategy } from './replication-strategy.ts';
import type { RetransmitStrategy } from './retransmit-strategy.ts';
import type { NamespaceConfig } from '../model/index.ts';

export const PLUGIN_API_VERSION = 1;

export type PluginKind = 'storage' | 'replication' | 'retransmit';

interface PluginBase<K extends PluginKind> {
  readonly kind: K;
  /** Unique per node, `<kind>-<impl>` by convention: 'storage-memory'. */
  readonly name: string;
  readonly apiVersion: number;
}

export interface StoragePlugin extends PluginBase<'storage'> {
  /** Opens the engine for one namespace; `options` are the namespace's storage options. */
  create(ctx: PluginContext, namespace: NamespaceConfig, options: Readonly<Record<string, unknown>>): Promise<StorageEngine>;
}

export interface ReplicationPlugin extends PluginBase<'replication'> {
  create(ctx: PluginContext, options: Readonly<Record<string, unknown>>): ReplicationStrategy;
}

export interface RetransmitPlugin extends PluginBase<'retransmit'> {
  create(ctx: PluginContext, options: Readonly<Record<string, unknown>>): RetransmitStrategy;
}

export type Plugin = StoragePlugin | ReplicationPlugin | RetransmitPlugin;
