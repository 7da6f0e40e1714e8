import type { AdminServiceServer } from '../../wire/generated/slipstream/v1/admin.ts';
import type { Kernel } from '../../transaction/kernel.ts';
import type { Logger } from '../../plugin-api/index.ts';
import { unary } from '../rpc.ts';
import type { NodeIdentity } from '../../services/index.ts';
import { setList, statistics } from '../../transaction/statistics.ts';
import type { PluginInfoSource } from '../../transaction/plugin-info.ts';
import type { ConfigControl } from '../../transaction/config-control.ts';
import { assertAppliedEverywhere, type ClusterConfig } from '../../transaction/cluster-config.ts';
import { DbError } from '../../errors/index.ts';


/**
 * `clusterConfig`: the cluster's way to apply a change set on every member (undefined on a node
 * without a cluster, where cluster_wide changes this node alone).
 */
export function adminHandlers(kernel: Kernel, identity: NodeIdentity, logger: Logger, plugins?: PluginInfoSource, config?: ConfigControl, clusterConfig?: () => ClusterConfig | undefined): AdminServiceServer {
  const liveConfig = (): ConfigControl => {
    if (config === undefined) throw new DbError('UNSUPPORTED_FEATURE', 'this node has no live configuration', { hint: 'change the config file and restart' });
    return config;
  };
  const names = (ns: string): string[] => (ns === '' ? kernel.namespaceNames() : [kernel.namespace(ns).name]);
  return {
    getNodeInfo: unary(logger, 'GetNodeInfo', async () => ({
      nodeId: identity.nodeId.toString(16).toUpperCase(),
      version: identity.version,
      build: `node ${process.version} ${process.platform}-${process.arch}`,
      uptimeSeconds: BigInt(Math.floor((Date.now() - identity.startedAtMs) / 1000)),
      address: identity.address(),
    })),
    listNamespaces: unary(logger, 'ListNamespaces', async () => ({
      namespaces: await Promise.all(kernel.namespaceNames().map(async (name) => {
        const ns = kernel.namespace(name);
        const st = await ns.engine.stats();
        return {
          name,
          storage: ns.config.storage,
          records: BigInt(st.records),
          tombstones: BigInt(st.tombstones),
          memoryBytes: BigInt(st.memoryBytes),
          diskBytes: BigInt(st.diskBytes),
          defaultTtl: BigInt(ns.config.defaultTtl),
          replicationFactor: ns.config.replicationFactor,
          maxRecordBytes: BigInt(ns.config.maxRecordBytes),
        };
      })),
    })),
    listPlugins: unary(logger, 'ListPlugins', async () => ({
      plugins: (plugins?.info() ?? []).map((p) => ({
        name: p.name, kind: p.kind, version: p.version, source: p.source, description: p.description,
        instances: p.instances.map((i) => ({ scope: i.scope, optionsJson: JSON.stringify(i.options), healthy: i.health.ok, healthDetail: i.health.detail ?? '' })),
        errors: Object.entries(p.errors).map(([operation, count]) => ({ operation, count: BigInt(count) })),
      })),
    })),
    listSets: unary(logger, 'ListSets', async (req) => ({
      sets: (await setList(kernel, req.namespace)).map((s) => ({ namespace: s.namespace, set: s.set, records: BigInt(s.records) })),
    })),
    listBins: unary(logger, 'ListBins', async (req) => ({
      namespaces: names(req.namespace).map((ns) => ({ namespace: ns, bins: kernel.binNames(ns) })),
    })),
    getConfig: unary(logger, 'GetConfig', async () => ({
      configJson: JSON.stringify(liveConfig().current()),
      dynamicSettings: [...liveConfig().dynamicSettings],
    })),
    setConfig: unary(logger, 'SetConfig', async (req) => {
      const changes = req.changes.map((c) => {
        try {
          return { name: c.name, value: JSON.parse(c.valueJson) as unknown };
        } catch (err) {
          throw new DbError('PARAMETER', `${c.name}: the value is not JSON (${(err as Error).message})`, { hint: 'send numbers as 3600, text as "debug" (with the quotes)' });
        }
      });
      const everywhere = req.clusterWide ? clusterConfig?.() : undefined;
      const results = everywhere !== undefined
        ? await everywhere.set(changes)
        : [{ nodeId: identity.nodeId.toString(16).toUpperCase(), applied: liveConfig().set(changes) }];
      assertAppliedEverywhere(results);
      const pb = (applied: NonNullable<(typeof results)[number]['applied']>) => applied.map((a) => ({ name: a.name, fromJson: JSON.stringify(a.from) ?? 'null', toJson: JSON.stringify(a.to) ?? 'null' }));
      const here = results[0];
      return {
        nodeId: here?.nodeId ?? '',
        applied: pb(here?.applied ?? []),
        nodes: results.map((r) => ({ nodeId: r.nodeId, applied: pb(r.applied ?? []) })),
      };
    }),
    getStatistics: unary(logger, 'GetStatistics', async (req) => ({
      statistics: (await statistics(kernel, identity, req.namespace)).map(([name, value]) => ({ name, value })),
    })),
  };
}
