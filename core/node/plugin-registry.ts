import { DbError } from '../errors/index.ts';
import type { PluginInfo, PluginInfoSource } from '../transaction/plugin-info.ts';
import { checkSchema, isJsonSchema, withDefaults } from '../schema/index.ts';
import {
  PLUGIN_API_VERSION,
  type NamespaceConfig, type Plugin, type PluginContext, type PluginHealth, type PluginKind,
  type ReplicationPlugin, type ReplicationStrategy, type RetransmitPlugin, type RetransmitStrategy,
  type StorageEngine, type StoragePlugin,
} from '../plugin-api/index.ts';

const KINDS: readonly PluginKind[] = ['storage', 'replication', 'retransmit'];

type ByKind = { storage: StoragePlugin; replication: ReplicationPlugin; retransmit: RetransmitPlugin };

/** Where a plugin came from: 'built-in', or the file it was loaded from. */
export type PluginSource = string;

export type { PluginInfo, PluginInstanceInfo } from '../transaction/plugin-info.ts';

interface Instance {
  readonly scope: string;
  readonly options: Readonly<Record<string, unknown>>;
  readonly target: { health?(): PluginHealth; start?(): void | Promise<void> };
}

interface Entry {
  readonly plugin: Plugin;
  readonly source: PluginSource;
  readonly instances: Instance[];
  readonly errors: Map<string, number>;
}

/** Checks that `value` is a plugin object this node can use; the message says what is wrong. */
export function checkPluginShape(value: unknown, origin: string): Plugin {
  const p = value as { kind?: unknown; name?: unknown; apiVersion?: unknown; create?: unknown; optionsSchema?: unknown } | null;
  if (p === null || typeof p !== 'object') {
    throw new DbError('PARAMETER', `${origin}: is not a plugin object (got ${p === null ? 'null' : typeof p})`, { hint: 'export a plugin { kind, name, apiVersion, optionsSchema, create } (or a function returning one) as the default export' });
  }
  const label = typeof p.name === 'string' && p.name.length > 0 ? `plugin '${p.name}'` : 'a plugin';
  const where = origin === '' ? label : `${label} (${origin})`;
  if (typeof p.name !== 'string' || p.name.length === 0) {
    throw new DbError('PARAMETER', `${where} has no name`, { hint: 'plugins are objects { kind, name, apiVersion, optionsSchema, create }' });
  }
  if (!KINDS.includes(p.kind as PluginKind)) {
    throw new DbError('PARAMETER', `${where} has unknown kind ${JSON.stringify(p.kind)}`, { hint: `use one of ${KINDS.join(', ')}`, plugin: p.name });
  }
  if (p.apiVersion !== PLUGIN_API_VERSION) {
    throw new DbError('PARAMETER', `${where} was written for plugin API version ${String(p.apiVersion)}; this node has version ${PLUGIN_API_VERSION}`, {
      hint: 'upgrade the plugin to the current plugin API (see docs/plugins.md)', plugin: p.name,
    });
  }
  if (typeof p.create !== 'function') throw new DbError('PARAMETER', `${where} has no create function`, { plugin: p.name });
  if (!isJsonSchema(p.optionsSchema)) {
    throw new DbError('PARAMETER', `${where} declares no optionsSchema`, { hint: "declare the options' JSON Schema with Type from slipstream/plugin-api, e.g. Type.Object({}, { additionalProperties: false })", plugin: p.name });
  }
  return value as Plugin;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * The plugins of one node (never module-global): registered with their source, created with
 * checked options, their instances started, stopped and asked for their health, and their
 * run-time errors counted per operation.
 */
export class PluginRegistry implements PluginInfoSource {
  private readonly plugins = new Map<string, Entry>();
  /** Called for every run-time plugin error (metrics). */
  onError: ((plugin: string, operation: string) => void) | undefined;

  register(plugin: Plugin, source: PluginSource = 'built-in'): void {
    checkPluginShape(plugin, source === 'built-in' ? '' : source);
    const existing = this.plugins.get(plugin.name);
    if (existing !== undefined) {
      throw new DbError('PARAMETER', `a plugin named '${plugin.name}' is already registered (${existing.source})${source === 'built-in' ? '' : `; ${source} declares it again`}`, { hint: 'plugin names must be unique on a node; rename the plugin' });
    }
    this.plugins.set(plugin.name, { plugin, source, instances: [], errors: new Map() });
  }

  get<K extends PluginKind>(kind: K, name: string): ByKind[K] {
    const e = this.plugins.get(name);
    if (e === undefined || e.plugin.kind !== kind) {
      const known = [...this.plugins.values()].filter((x) => x.plugin.kind === kind).map((x) => x.plugin.name);
      throw new DbError('PARAMETER', `no ${kind} plugin named '${name}' is registered`, { hint: `registered ${kind} plugins: ${known.join(', ') || '(none)'}; load another with the config's "plugins" list or --plugin <file or package>` });
    }
    return e.plugin as ByKind[K];
  }

  names(kind?: PluginKind): string[] {
    return [...this.plugins.values()].filter((e) => kind === undefined || e.plugin.kind === kind).map((e) => e.plugin.name);
  }

  sourceOf(name: string): PluginSource | undefined {
    return this.plugins.get(name)?.source;
  }

  /** The options after the plugin's schema check, with its defaults filled in. */
  checkOptions(plugin: Plugin, options: unknown, where: string): Readonly<Record<string, unknown>> {
    const entry = this.plugins.get(plugin.name);
    const from = entry === undefined || entry.source === 'built-in' ? '' : ` (${entry.source})`;
    checkSchema(plugin.optionsSchema, options ?? {}, `${where}: plugin ${plugin.name}${from} option `, { plugin: plugin.name });
    return withDefaults<Record<string, unknown>>(plugin.optionsSchema, options ?? {});
  }

  private createFailed(plugin: Plugin, scope: string, err: unknown): DbError {
    const source = this.plugins.get(plugin.name)?.source ?? 'built-in';
    const from = source === 'built-in' ? '' : ` (${source})`;
    return new DbError(err instanceof DbError ? err.code : 'SERVER_ERROR', `${scope}: plugin ${plugin.name}${from} failed in create: ${message(err)}`, {
      plugin: plugin.name, cause: err, ...(err instanceof DbError && err.hint !== undefined ? { hint: err.hint } : {}),
    });
  }

  private track(plugin: Plugin, scope: string, options: Readonly<Record<string, unknown>>, target: Instance['target']): void {
    this.plugins.get(plugin.name)?.instances.push({ scope, options, target });
  }

  /** Forgets the instances of plugins of `kind` made for `scope` (one replaced while the node runs). */
  forgetInstances(kind: PluginKind, scope: string): void {
    for (const e of this.plugins.values()) {
      if (e.plugin.kind !== kind) continue;
      for (let i = e.instances.length - 1; i >= 0; i--) if (e.instances[i]?.scope === scope) e.instances.splice(i, 1);
    }
  }

  /** Opens a namespace's storage engine: options checked, `create` called, failures named. */
  async createStorage(name: string, ctx: PluginContext, namespace: NamespaceConfig, options: unknown, adjust: (o: Record<string, unknown>) => Record<string, unknown> = (o) => o): Promise<StorageEngine> {
    const plugin = this.get('storage', name);
    const scope = `namespace '${namespace.name}'`;
    const checked = this.checkOptions(plugin, options, scope);
    const given = adjust({ ...checked });
    let engine: StorageEngine;
    try {
      engine = await plugin.create(ctx, namespace, given);
    } catch (err) {
      throw this.createFailed(plugin, scope, err);
    }
    this.track(plugin, `namespace ${namespace.name}`, given, engine);
    return engine;
  }

  createReplication(name: string, ctx: PluginContext, options: unknown, scope = 'cluster'): ReplicationStrategy {
    const plugin = this.get('replication', name);
    const checked = this.checkOptions(plugin, options, `config ${scope}.replication`);
    let inner: ReplicationStrategy;
    try { inner = plugin.create(ctx, checked); } catch (err) { throw this.createFailed(plugin, `config ${scope}.replication`, err); }
    this.track(plugin, scope, checked, inner);
    return {
      assign: (view, rf) => this.guard(plugin.name, 'assign', () => inner.assign(view, rf)),
      ...(inner.health === undefined ? {} : { health: () => (inner.health as () => PluginHealth)() }),
      ...(inner.stop === undefined ? {} : { stop: () => (inner.stop as () => void | Promise<void>)() }),
    };
  }

  createRetransmit(name: string, ctx: PluginContext, options: unknown, scope = 'cluster'): RetransmitStrategy {
    const plugin = this.get('retransmit', name);
    const checked = this.checkOptions(plugin, options, `config ${scope}.retransmit`);
    let inner: RetransmitStrategy;
    try { inner = plugin.create(ctx, checked); } catch (err) { throw this.createFailed(plugin, `config ${scope}.retransmit`, err); }
    this.track(plugin, scope, checked, inner);
    return {
      // A strategy that throws gives the message up (TIMEOUT) instead of breaking the fabric.
      nextDelayMs: (state) => {
        try { return inner.nextDelayMs(state); } catch (err) { this.record(plugin.name, 'nextDelayMs', err, ctx); return null; }
      },
      onResend: (state) => {
        try { inner.onResend?.(state); } catch (err) { this.record(plugin.name, 'onResend', err, ctx); }
      },
      ...(inner.stop === undefined ? {} : { stop: () => (inner.stop as () => void | Promise<void>)() }),
    };
  }

  /** Runs a plugin call; a throw is counted and rethrown as a DbError naming plugin and operation. */
  guard<T>(plugin: string, operation: string, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      this.count(plugin, operation);
      throw namedPluginError(plugin, operation, err);
    }
  }

  private record(plugin: string, operation: string, err: unknown, ctx: PluginContext): void {
    this.count(plugin, operation);
    ctx.logger.error({ err, plugin, operation }, 'plugin error');
  }

  /** Counts a run-time error of a plugin (the storage guard calls this too). */
  count(plugin: string, operation: string): void {
    const e = this.plugins.get(plugin);
    if (e !== undefined) e.errors.set(operation, (e.errors.get(operation) ?? 0) + 1);
    this.onError?.(plugin, operation);
  }

  /** Calls `start` of every instance that has one; a failure names the plugin and stops start-up. */
  async startAll(): Promise<void> {
    for (const e of this.plugins.values()) {
      for (const i of e.instances) {
        if (i.target.start === undefined) continue;
        try {
          await i.target.start();
        } catch (err) {
          const from = e.source === 'built-in' ? '' : ` (${e.source})`;
          throw new DbError(err instanceof DbError ? err.code : 'SERVER_ERROR', `${i.scope}: plugin ${e.plugin.name}${from} failed in start: ${message(err)}`, { plugin: e.plugin.name, cause: err });
        }
      }
    }
  }

  /** Calls `stop` of every instance that has one (storage engines are closed by the node). */
  async stopAll(logger: { error(obj: object, msg?: string): void }): Promise<void> {
    for (const e of this.plugins.values()) {
      for (const i of e.instances) {
        const t = i.target as { stop?: () => void | Promise<void> };
        if (typeof t.stop !== 'function') continue;
        try { await t.stop(); } catch (err) { logger.error({ err, plugin: e.plugin.name }, 'a plugin failed to stop'); }
      }
    }
  }

  /** What SHOW PLUGINS and the admin API report. */
  info(): PluginInfo[] {
    return [...this.plugins.values()].map((e) => ({
      name: e.plugin.name,
      kind: e.plugin.kind,
      version: e.plugin.version ?? '',
      description: e.plugin.description ?? '',
      source: e.source,
      instances: e.instances.map((i) => ({ scope: i.scope, options: i.options, health: healthOf(i.target) })),
      errors: Object.fromEntries(e.errors),
    }));
  }
}

function healthOf(target: Instance['target']): PluginHealth {
  if (target.health === undefined) return { ok: true };
  try {
    const h = target.health();
    return { ok: h.ok === true, ...(typeof h.detail === 'string' ? { detail: h.detail } : {}) };
  } catch (err) {
    return { ok: false, detail: `health check failed: ${message(err)}` };
  }
}

/** A plugin's throw as a DbError that names the plugin and the operation. */
export function namedPluginError(plugin: string, operation: string, err: unknown): DbError {
  if (err instanceof DbError && err.plugin !== undefined) return err;
  if (err instanceof DbError) {
    return new DbError(err.code, `plugin ${plugin} failed in ${operation}: ${err.message}`, { plugin, cause: err, ...(err.hint === undefined ? {} : { hint: err.hint }) });
  }
  return new DbError('SERVER_ERROR', `plugin ${plugin} failed in ${operation}: ${message(err)}`, { plugin, cause: err });
}
