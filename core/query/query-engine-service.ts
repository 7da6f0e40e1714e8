import type { Logger } from '../plugin-api/index.ts';
import type { RemoteCalls } from '../replication/remote-calls.ts';
import type { SmdSync } from '../replication/smd-sync.ts';
import type { SystemMetadataStore } from '../storage/system-metadata.ts';
import { runLocally } from '../transaction/forwarding.ts';
import type { Kernel } from '../transaction/kernel.ts';
import { decodeSharePage, decodeShareRequest, encodeSharePage, encodeShareRequest, SHARE_KIND } from './cluster-index-query.ts';
import { IndexManager } from './index/manager.ts';
import { MemoryIndexMetadataStore, type IndexMetadataStore } from './index/store.ts';
import { attachIndexes, KernelRecordSource, SINDEX_SMD_MODULE, SmdIndexStore } from './query-engine-kernel.ts';
import { QueryEngine } from './query-engine.ts';

/** The query subsystem of a node: its index manager and query engine over the kernel. */
export interface QuerySubsystem {
  readonly indexes: IndexManager;
  readonly engine: QueryEngine;
}

/** What a cluster node gives its query subsystem: calls to other nodes, and system metadata on every member. */
export interface QueryClusterOptions {
  readonly calls: RemoteCalls;
  readonly smd?: Pick<SmdSync, 'digest' | 'catchUpFrom'>;
  /** Rows per page of another master's share (default 500). */
  readonly pageRows?: number;
}

/**
 * Wires indexes and queries to a kernel: definitions from system metadata (memory when
 * none), upkeep from the kernel's change listener, builds of every persisted index; on a
 * cluster node, index queries fan out to the partitions' masters (cluster-index-query.ts).
 */
export async function startQuerySubsystem(kernel: Kernel, options: { systemMetadata?: SystemMetadataStore; logger?: Logger; cluster?: QueryClusterOptions } = {}): Promise<QuerySubsystem> {
  const store: IndexMetadataStore = options.systemMetadata === undefined ? new MemoryIndexMetadataStore() : new SmdIndexStore(options.systemMetadata);
  const source = new KernelRecordSource(kernel);
  const indexes = new IndexManager({ store, source, namespaces: () => kernel.namespaceNames() });
  attachIndexes(kernel, indexes);
  await indexes.open();
  options.logger?.info({ indexes: indexes.list().length }, 'secondary indexes loaded');
  const q = { indexes, engine: new QueryEngine(indexes, source) };
  if (options.cluster !== undefined) attachClusterQueries(q.engine, kernel, options.cluster);
  return q;
}

/** Index queries on a cluster: this node asks the partitions' masters for their shares and answers theirs. */
function attachClusterQueries(engine: QueryEngine, kernel: Kernel, { calls, smd, pageRows }: QueryClusterOptions): void {
  const clock = kernel.clock;
  engine.useCluster({
    get localNode() {
      return kernel.router.localNode;
    },
    masterOf: (ns, p) => kernel.router.masterOf(ns, p),
    now: () => clock.now(),
    pause: (ms) => new Promise<void>((r) => clock.setTimeout(r, ms)),
    definitions: () => smd?.digest(SINDEX_SMD_MODULE),
    catchUpFrom: async (node, digest) => {
      await smd?.catchUpFrom(node, SINDEX_SMD_MODULE, digest);
    },
    async waitFilled(ns, partitions, timeoutMs) {
      const m = kernel.migration;
      if (m === undefined || !partitions.some((p) => m.filling(ns, p))) return true;
      let timer: ReturnType<typeof clock.setTimeout> | undefined;
      const late = new Promise<boolean>((r) => { timer = clock.setTimeout(() => r(false), timeoutMs); });
      try {
        return await Promise.race([m.waitFilled(ns, partitions).then(() => true), late]);
      } finally {
        if (timer !== undefined) clock.clearTimeout(timer);
      }
    },
    remoteShare: async (node, req, waitMs) => decodeSharePage(await calls.call(node, SHARE_KIND, encodeShareRequest(req), { deadlineMs: waitMs, fabricKind: 'proxy' })),
    runLocally,
    ...(pageRows === undefined ? {} : { pageRows }),
  });
  calls.serve(SHARE_KIND, async (_from, body) => encodeSharePage(await engine.share(decodeShareRequest(body))));
}
