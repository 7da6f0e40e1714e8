/**
 * Live configuration: the settings a running node changes without a restart. A change is
 * validated exactly as at start-up — the node's configuration with the change applied goes
 * through parseConfig, which runs every section's own checks — then applied, logged, and
 * shown by GetConfig. Several changes in one call are all applied or none.
 */
import { DbError } from '../errors/index.ts';
import type { Logger } from '../plugin-api/index.ts';
import type { Namespace } from '../storage/namespace.ts';
import { parseEvictionConfig, type Evictor } from '../storage/eviction.ts';
import { parseConfig, type NodeConfig } from './config.ts';

/** Settings that may change while the node runs; `<ns>` is a namespace name. */
export const DYNAMIC_SETTINGS: readonly string[] = [
  'logLevel',
  'namespaces.<ns>.defaultTtl',
  'namespaces.<ns>.maxTtl',
  'namespaces.<ns>.maxRecordBytes',
  'namespaces.<ns>.eviction.evictUsedPct',
  'namespaces.<ns>.eviction.stopWritesUsedPct',
  'namespaces.<ns>.eviction.evictTenthsPct',
  'udf.defaultTimeoutMs',
  'udf.defaultAggregationTimeoutMs',
  'udf.maxTimeoutMs',
  'udf.maxCallsPerIsolate',
  'udf.memoryLimitMb',
  'cluster.retransmit.options.<option>',
  'cluster.migration.maxIncoming',
  'cluster.migration.recordsPerSecond',
  'cluster.replicaWriteTimeoutMs',
];

export interface ConfigChange {
  /** A dynamic setting, e.g. `logLevel` or `namespaces.test.defaultTtl`. */
  readonly name: string;
  readonly value: unknown;
}

export interface AppliedChange {
  readonly name: string;
  readonly from: unknown;
  readonly to: unknown;
}

export interface LiveConfigTargets {
  readonly namespaces: ReadonlyMap<string, Namespace>;
  readonly evictorOf: (namespace: string) => Evictor | undefined;
  /** Changes the level of the node's logger and every child logger. */
  readonly setLogLevel?: (level: string) => void;
  readonly logger: Logger;
}

/** The configuration as a plain JSON object: what a config file holds and --print-config prints. */
export function configJson(config: NodeConfig): Record<string, unknown> {
  return JSON.parse(JSON.stringify(config, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString(16).toUpperCase() : v))) as Record<string, unknown>;
}

/** The configuration in the form parseConfig reads (sections back at the top level). */
function rawConfig(config: NodeConfig): Record<string, unknown> {
  const { sections, ...rest } = configJson(config) as Record<string, unknown> & { sections: Record<string, unknown> };
  return { ...rest, ...sections };
}

const UDF_SETTING = /^udf\.(defaultTimeoutMs|defaultAggregationTimeoutMs|maxTimeoutMs|maxCallsPerIsolate|memoryLimitMb)$/;
const RETRANSMIT_SETTING = /^cluster\.retransmit\.options\.([A-Za-z][A-Za-z0-9_]*)$/;
const CLUSTER_SETTING = /^cluster\.(migration\.(?:maxIncoming|recordsPerSecond)|replicaWriteTimeoutMs)$/;
const NS_SETTING = /^namespaces\.([^.]+)\.(defaultTtl|maxTtl|maxRecordBytes|eviction\.(?:evictUsedPct|stopWritesUsedPct|evictTenthsPct))$/;

export class LiveConfig {
  private config: NodeConfig;
  private readonly targets: LiveConfigTargets;
  private readonly listeners = new Set<(applied: readonly AppliedChange[]) => void>();
  private readonly checks = new Map<string, Set<(section: unknown) => void>>();

  constructor(config: NodeConfig, targets: LiveConfigTargets) {
    this.config = config;
    this.targets = targets;
  }

  current(): NodeConfig {
    return this.config;
  }

  /** Validates every change as at start-up, then applies them all; returns what changed. */
  set(changes: readonly ConfigChange[]): AppliedChange[] {
    if (changes.length === 0) throw new DbError('PARAMETER', 'no setting to change', { hint: `dynamic settings: ${DYNAMIC_SETTINGS.join(', ')}` });
    const raw = rawConfig(this.config);
    const applied: AppliedChange[] = [];
    for (const c of changes) {
      const path = settingPath(c.name, raw);
      const parent = path.slice(0, -1).reduce<Record<string, unknown>>((o, k) => {
        const next = o[k];
        if ((next === undefined || next === null) && path[0] === 'cluster' && k === 'migration') {
          const made: Record<string, unknown> = {};
          o[k] = made;
          return made;
        }
        if (next === undefined || next === null) {
          if (k === 'eviction') throw new DbError('PARAMETER', `${c.name}: eviction is not configured for this namespace`, { hint: 'eviction (sizeBytes, …) is set in the config file at start-up; its thresholds can then change live' });
          throw new DbError('PARAMETER', `${c.name}: no such setting`);
        }
        return next as Record<string, unknown>;
      }, raw);
      const last = path[path.length - 1] as string;
      applied.push({ name: c.name, from: parent[last], to: c.value });
      parent[last] = c.value;
    }
    // the same checks as at start-up, over the whole configuration with the changes in it
    let next: NodeConfig;
    try {
      next = parseConfig(raw);
      // sections owned by subsystems (udf, cluster) are checked by their own rules
      for (const section of new Set(changes.map((c) => c.name.split('.')[0] as string))) {
        for (const check of this.checks.get(section) ?? []) check(raw[section]);
      }
    } catch (err) {
      const e = err instanceof DbError ? err : new DbError('PARAMETER', String(err));
      throw new DbError('PARAMETER', `the change is not valid: ${e.message}`, { hint: e.hint ?? 'fix the value; nothing was changed' });
    }
    this.apply(next);
    for (const a of applied) this.targets.logger.info({ setting: a.name, from: a.from, to: a.to }, 'configuration changed');
    for (const l of this.listeners) l(applied);
    return applied;
  }

  /** Adds a subsystem's check of its section (run over the section with the changes in it); returns the removal. */
  check(section: string, check: (section: unknown) => void): () => void {
    let set = this.checks.get(section);
    if (set === undefined) this.checks.set(section, set = new Set());
    set.add(check);
    return () => { set.delete(check); };
  }

  /** Calls `listener` after each applied change set; returns the unsubscribe. */
  watch(listener: (applied: readonly AppliedChange[]) => void): () => void {
    this.listeners.add(listener);
    return () => { this.listeners.delete(listener); };
  }

  private apply(next: NodeConfig): void {
    if (next.logLevel !== this.config.logLevel) this.targets.setLogLevel?.(next.logLevel);
    for (const nsConfig of next.namespaces) {
      const ns = this.targets.namespaces.get(nsConfig.name);
      ns?.reconfigure(nsConfig);
      const evictor = this.targets.evictorOf(nsConfig.name);
      if (evictor !== undefined && nsConfig.eviction !== undefined) evictor.reconfigure(parseEvictionConfig(nsConfig.eviction, `namespaces.${nsConfig.name}.eviction`));
    }
    this.config = next;
  }
}

function settingPath(name: string, raw: Record<string, unknown>): string[] {
  if (name === 'logLevel') return ['logLevel'];
  if (UDF_SETTING.test(name)) {
    // the udf section may be absent (defaults): the change creates it
    if (raw['udf'] === undefined || raw['udf'] === null) raw['udf'] = {};
    return name.split('.');
  }
  const rt = RETRANSMIT_SETTING.exec(name);
  if (rt !== null) {
    const cluster = raw['cluster'];
    if (cluster === undefined || cluster === null || typeof cluster !== 'object') {
      throw new DbError('PARAMETER', `${name}: this node runs alone (no cluster section)`, { hint: 'retransmit settings apply to nodes started with a cluster section' });
    }
    // the strategy may be given by name only, or not at all (the default)
    const c = cluster as Record<string, unknown>;
    const r = c['retransmit'];
    c['retransmit'] = typeof r === 'string' ? { strategy: r, options: {} } : { ...(r as Record<string, unknown> | undefined), options: { ...((r as { options?: object } | undefined)?.options) } };
    return ['cluster', 'retransmit', 'options', rt[1] as string];
  }
  const c = CLUSTER_SETTING.exec(name);
  if (c !== null) {
    const section = raw['cluster'];
    if (section === undefined || section === null || typeof section !== 'object') {
      throw new DbError('PARAMETER', `${name}: this node runs alone (no cluster section)`, { hint: 'cluster settings apply to nodes started with a cluster section' });
    }
    return ['cluster', ...(c[1] as string).split('.')];
  }
  const m = NS_SETTING.exec(name);
  if (m === null) {
    throw new DbError('PARAMETER', `'${name}' is not a setting that can change while the node runs`, {
      hint: `dynamic settings: ${DYNAMIC_SETTINGS.join(', ')}; others take a restart with a changed config file`,
    });
  }
  const nsName = m[1] as string;
  const list = raw['namespaces'] as Array<Record<string, unknown>>;
  const index = list.findIndex((n) => n['name'] === nsName);
  if (index < 0) throw new DbError('NAMESPACE', `namespace '${nsName}' is not configured on this node`, { hint: `namespaces: ${list.map((n) => n['name']).join(', ')}` });
  return ['namespaces', String(index), ...(m[2] as string).split('.')];
}
