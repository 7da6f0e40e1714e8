import { DbError } from '../errors/index.ts';
import { PLUGIN_API_VERSION, type Plugin, type PluginKind, type StoragePlugin, type ReplicationPlugin, type RetransmitPlugin } from '../plugin-api/index.ts';

const KINDS: readonly PluginKind[] = ['storage', 'replication', 'retransmit'];

type ByKind = { storage: StoragePlugin; replication: ReplicationPlugin; retransmit: RetransmitPlugin };

/** The plugins of one node (never module-global). */
export class PluginRegistry {
  private readonly plugins = new Map<string, Plugin>();

  register(plugin: Plugin): void {
    const p = plugin as { kind?: unknown; name?: unknown; apiVersion?: unknown; create?: unknown };
    if (typeof p.name !== 'string' || p.name.length === 0) {
      throw new DbError('PARAMETER', 'a plugin has no name', { hint: 'plugins are objects { kind, name, apiVersion, create }' });
    }
    if (!KINDS.includes(p.kind as PluginKind)) {
      throw new DbError('PARAMETER', `plugin '${p.name}' has unknown kind ${JSON.stringify(p.kind)}`, { hint: `use one of ${KINDS.join(', ')}` });
    }
    if (p.apiVersion !== PLUGIN_API_VERSION) {
      throw new DbError('PARAMETER', `plugin '${p.name}' was written for plugin API version ${String(p.apiVersion)}; this node has version ${PLUGIN_API_VERSION}`, {
        hint: 'upgrade the plugin to the current plugin API',
      });
    }
    if (typeof p.create !== 'function') throw new DbError('PARAMETER', `plugin '${p.name}' has no create function`);
    if (this.plugins.has(p.name)) throw new DbError('PARAMETER', `a plugin named '${p.name}' is already registered`, { hint: 'plugin names must be unique on a node' });
    this.plugins.set(p.name, plugin);
  }

  get<K extends PluginKind>(kind: K, name: string): ByKind[K] {
    const p = this.plugins.get(name);
    if (p === undefined || p.kind !== kind) {
      const known = [...this.plugins.values()].filter((x) => x.kind === kind).map((x) => x.name);
      throw new DbError('PARAMETER', `no ${kind} plugin named '${name}' is registered`, { hint: `registered ${kind} plugins: ${known.join(', ') || '(none)'}` });
    }
    return p as ByKind[K];
  }

  names(kind?: PluginKind): string[] {
    return [...this.plugins.values()].filter((p) => kind === undefined || p.kind === kind).map((p) => p.name);
  }
}
