/**
 * Puts a kernel on a cluster's data path: it routes by the agreed partition map, forwards
 * requests for partitions mastered elsewhere, and serves the requests other nodes forward.
 * Used by the node's cluster subsystem and by in-process simulations alike.
 */
import type { Clock, Logger, NodeId } from '../plugin-api/index.ts';
import type { ClusterService } from '../cluster/cluster-service.ts';
import type { PartitionTable } from '../cluster/partition-table.ts';
import { FabricCalls } from '../replication/remote-calls.ts';
import { ReplicaWriter } from '../replication/replica-writes.ts';
import { Migrations, type MigrationLimits } from './migration.ts';
import { Forwarding } from './forwarding.ts';
import { serveKernelRequests } from './forwarded-requests.ts';
import type { Kernel } from './kernel.ts';
import type { RecordPredicate } from './policy.ts';
import type { PartitionRouter } from './routing.ts';

const NO_NODES: readonly NodeId[] = [];

export interface ClusterDataPathOptions {
  readonly clock: Clock;
  readonly logger: Logger;
  /** Compiles a forwarded filter expression's source text. */
  readonly compileFilter: (source: string) => RecordPredicate | undefined;
  /** Total time for a proxied request, retries included (default 5000 ms). */
  readonly proxyDeadlineMs?: number;
  /** Time for every replica to confirm a write (default 1000 ms). */
  readonly replicaDeadlineMs?: number;
  readonly migration?: MigrationLimits;
  readonly random?: () => number;
}

export interface ClusterDataPath {
  readonly router: PartitionRouter;
  readonly calls: FabricCalls;
  readonly forwarding: Forwarding;
  readonly replicas: ReplicaWriter;
  readonly migrations: Migrations;
}

export function attachClusterDataPath(kernel: Kernel, cluster: ClusterService, options: ClusterDataPathOptions): ClusterDataPath {
  // While the node is between clusters and hears nobody (one side of a split) it keeps routing by
  // the last map it had: it serves the partitions it mastered, and requests for the others are
  // refused by their masters until it is back in a cluster (retried).
  const lastTables = new Map<string, PartitionTable>();
  /** The last map of a cluster with other members (what a write waits for while this node is alone about to join others). */
  const lastShared = new Map<string, PartitionTable>();
  const calls = new FabricCalls(cluster.fabric, cluster.nodeId, options.clock, options.logger.child({ part: 'remote-calls' }), options.random);
  cluster.on('change', () => {
    const shared = (cluster.view()?.succession.length ?? 0) > 1;
    for (const ns of cluster.namespaces()) {
      const t = cluster.partitionTable(ns);
      if (t !== undefined) lastTables.set(ns, t);
      if (t !== undefined && shared) lastShared.set(ns, t);
    }
    // calls waiting on a node that is not in the new cluster fail now, not at their deadline
    const view = cluster.view();
    if (view !== undefined) calls.departed(new Set(view.succession.map((m) => m.id)));
  });
  // A node alone that is about to join others (it hears them, or it just started with seeds and
  // has not met them yet: a restarted node, an orphan after a heartbeat blip) masters nothing until
  // it has joined, so that it acknowledges no write (with one copy) that the cluster the others
  // form would not see — their reads and scans would silently miss it until the merge. A node that
  // hears nobody (after its start-up grace) is one side of a split and serves (AP).
  // Asked again at most every 50 ms: the answer is kept until a timer drops it, so the requests
  // that ask (every write, twice or more) read no clock (a clock read costs ~0.2 µs on this VM).
  let joining: boolean | undefined;
  const forget = (): void => { joining = undefined; };
  const aboutToJoin = (): boolean => {
    if (joining === undefined) {
      joining = cluster.aboutToJoin();
      options.clock.setTimeout(forget, 50);
    }
    return joining;
  };
  const router: PartitionRouter = {
    localNode: cluster.nodeId,
    masterOf: (ns, pid) => (aboutToJoin() ? undefined : cluster.masterOf(ns, pid) ?? lastTables.get(ns)?.rows[pid]?.[0]),
    serviceAddressOf: (node) => cluster.serviceAddressOf(node),
    members: () => cluster.view()?.succession.map((m) => m.id) ?? [cluster.nodeId],
    copiesOf: (ns, pid) => cluster.partitionTable(ns)?.rows[pid] ?? lastTables.get(ns)?.rows[pid] ?? [],
  };
  const forwarding = new Forwarding({
    calls, router, clock: options.clock, compileFilter: options.compileFilter,
    ...(options.proxyDeadlineMs === undefined ? {} : { deadlineMs: options.proxyDeadlineMs }),
  });
  serveKernelRequests(kernel, forwarding);
  // the other holders of a partition, per map (maps are immutable): looked up for every replicated
  // write, so made once per map and partition instead of filtered into a new array each time
  const othersByTable = new WeakMap<PartitionTable, Array<readonly NodeId[] | undefined>>();
  const othersOf = (table: PartitionTable | undefined, pid: number): readonly NodeId[] => {
    if (table === undefined) return NO_NODES;
    let others = othersByTable.get(table);
    if (others === undefined) othersByTable.set(table, others = []);
    return others[pid] ??= (table.rows[pid] ?? NO_NODES).filter((n) => n !== cluster.nodeId);
  };
  const replicas = new ReplicaWriter({
    calls, clock: options.clock,
    // every other holder of the partition under the current map: the replicas, and the master
    // too when the map moved it away while this node was writing as the old master (so a write
    // that finished just after the change reaches the new owners instead of only the old copies).
    // While this node is alone about to join others (the others evicted it — it stalled, or
    // cannot reach them — and it formed a cluster of itself or is between clusters) the last
    // shared map's: a write in flight then waits for replicas that refuse it (another
    // membership) and fails in doubt. Its own map names no replica then, and the write would be
    // acknowledged with this node's copy alone — a copy the others' cluster never sees, lost if
    // this node dies before it joins them again.
    replicasOf: (ns, pid) => {
      const table = cluster.partitionTable(ns);
      if (aboutToJoin() || table === undefined) {
        const shared = lastShared.get(ns);
        if (shared?.rows[pid] !== undefined) return othersOf(shared, pid);
      }
      return othersOf(table, pid);
    },
    ...(options.replicaDeadlineMs === undefined ? {} : { deadlineMs: options.replicaDeadlineMs }),
  });
  replicas.serve((ns, change) => kernel.applyCopy(ns, change));
  const migrations = new Migrations(kernel, cluster, calls, { clock: options.clock, logger: options.logger.child({ part: 'migrations' }), ...(options.migration === undefined ? {} : { limits: options.migration }) });
  kernel.useRouting(router, forwarding, replicas, migrations, { messages: cluster.fabric.stats, calls: calls.stats, refusedVersion: () => cluster.stats().heartbeat.refusedVersion });
  return { router, calls, forwarding, replicas, migrations };
}
