import type { AdminServiceServer } from '../generated/slipstream/v1/admin.ts';
import type { Kernel } from '../../transaction/kernel.ts';
import type { Logger } from '../../plugin-api/index.ts';
import { unary } from '../rpc.ts';

export interface NodeIdentity {
  readonly nodeId: bigint;
  readonly version: string;
  readonly startedAtMs: number;
  address(): string;
}

export function adminHandlers(kernel: Kernel, identity: NodeIdentity, logger: Logger): AdminServiceServer {
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
    listSets: unary(logger, 'ListSets', async (req) => {
      const sets = [];
      for (const name of names(req.namespace)) {
        const st = await kernel.namespace(name).engine.stats();
        for (const [set, records] of [...st.sets].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
          if (set !== '') sets.push({ namespace: name, set, records: BigInt(records) });
        }
      }
      return { sets };
    }),
    listBins: unary(logger, 'ListBins', async (req) => ({
      namespaces: names(req.namespace).map((ns) => ({ namespace: ns, bins: kernel.binNames(ns) })),
    })),
    getStatistics: unary(logger, 'GetStatistics', async (req) => {
      const stats: Array<[string, string | number]> = [];
      if (req.namespace === '') {
        const c = kernel.counters;
        const mem = process.memoryUsage();
        stats.push(
          ['node_id', identity.nodeId.toString(16).toUpperCase()],
          ['uptime', Math.floor((Date.now() - identity.startedAtMs) / 1000)],
          ['namespaces', kernel.namespaceNames().length],
          ['client_read_success', c.reads - c.notFound],
          ['client_read_not_found', c.notFound],
          ['client_write_success', c.writes],
          ['client_delete_success', c.deletes],
          ['batch_index_initiate', c.batches],
          ['scan_initiate', c.scans],
          ['heap_used_bytes', mem.heapUsed],
          ['rss_bytes', mem.rss],
        );
      } else {
        const ns = kernel.namespace(req.namespace);
        const st = await ns.engine.stats();
        stats.push(
          ['ns_name', ns.name],
          ['storage_engine', ns.config.storage],
          ['objects', st.records],
          ['tombstones', st.tombstones],
          ['memory_used_bytes', st.memoryBytes],
          ['device_used_bytes', st.diskBytes],
          ['default_ttl', ns.config.defaultTtl],
          ['max_record_size', ns.config.maxRecordBytes],
          ['replication_factor', ns.config.replicationFactor],
          ['nsup_period', ns.config.nsupPeriod],
          ['sets', [...st.sets.keys()].filter((s) => s !== '').length],
        );
        stats.push(...(ns.extraStats?.() ?? []));
      }
      return { statistics: stats.map(([name, value]) => ({ name, value: String(value) })) };
    }),
  };
}
