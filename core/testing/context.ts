/**
 * What the kits share: a plugin context for tests, and creating a plugin's instance the way a
 * node does (options checked against the plugin's schema, defaults filled in, then `create`).
 */
import {
  checkSchema, silentLogger, systemClock,
  type Clock, type NamespaceConfig, type NodeId, type Plugin, type PluginContext,
  type ReplicationPlugin, type ReplicationStrategy, type RetransmitPlugin, type RetransmitStrategy,
  type StorageEngine, type StoragePlugin,
} from '../plugin-api/index.ts';
import { withDefaults } from '../schema/index.ts';
import { NAMESPACE_DEFAULTS } from '../model/index.ts';
import { FakeClock } from '../cluster/clock.ts';

export { FakeClock };
export { seededRandom } from '../cluster/clock.ts';

/** A context with a silent logger; a FakeClock unless another clock is given. */
export function testContext(nodeId: NodeId = 1n, clock: Clock = new FakeClock()): PluginContext {
  return { nodeId, logger: silentLogger, clock, signal: new AbortController().signal };
}

/** The options a node would pass to `create`: checked against the schema, defaults filled in. */
export function checkedOptions(plugin: Plugin, options: Readonly<Record<string, unknown>> = {}): Readonly<Record<string, unknown>> {
  checkSchema(plugin.optionsSchema, options, `plugin ${plugin.name} option `, { plugin: plugin.name });
  return withDefaults<Record<string, unknown>>(plugin.optionsSchema, options);
}

export function createReplication(plugin: ReplicationPlugin, options: Readonly<Record<string, unknown>> = {}, ctx: PluginContext = testContext()): ReplicationStrategy {
  return plugin.create(ctx, checkedOptions(plugin, options));
}

export function createRetransmit(plugin: RetransmitPlugin, options: Readonly<Record<string, unknown>> = {}, ctx: PluginContext = testContext()): RetransmitStrategy {
  return plugin.create(ctx, checkedOptions(plugin, options));
}

/** A namespace configuration for tests (`test`, Aerospike's defaults). */
export function testNamespace(overrides: Partial<NamespaceConfig> = {}): NamespaceConfig {
  return { name: 'test', storage: 'storage-test', storageOptions: {}, ...NAMESPACE_DEFAULTS, ...overrides };
}

export async function openEngine(plugin: StoragePlugin, options: Readonly<Record<string, unknown>> = {}, namespace: NamespaceConfig = testNamespace({ storage: plugin.name }), ctx: PluginContext = testContext(1n, systemClock)): Promise<StorageEngine> {
  return plugin.create(ctx, namespace, checkedOptions(plugin, options));
}
