/**
 * SHOW CLUSTER and SHOW PARTITIONS [ns]. A node in a cluster answers from its cluster
 * service (CLUSTER_SERVICE in the node's services); a single node answers for itself: one
 * member, Online, master of every partition.
 */
import { DbError } from '../../errors/index.ts';
import { N_PARTITIONS, type BinValue } from '../../model/index.ts';
import type { NodeId } from '../../plugin-api/index.ts';
import { CLUSTER_SERVICE } from '../../services/index.ts';
import { checkNamespace } from './common.ts';
import type { ExecContext, StatementFamily } from './executor.ts';
import type { Renderer } from '../language/results.ts';

const hex = (id: NodeId): string => id.toString(16).toUpperCase();

async function showCluster(ctx: ExecContext, out: Renderer): Promise<void> {
  const started = performance.now();
  const cluster = ctx.services.get(CLUSTER_SERVICE);
  const namespaces = ctx.kernel.namespaceNames();
  out.begin([]);
  if (cluster === undefined) {
    const id = ctx.identity?.nodeId ?? ctx.kernel.router.localNode;
    await out.row([
      ['node', hex(id)], ['address', ctx.nodeAddress], ['state', 'online'], ['principal', true], ['rack', 0n], ['zone', 0n],
      ['masters', BigInt(N_PARTITIONS * namespaces.length)], ['replicas', 0n],
      ['migrate_partitions_remaining', 0n], ['migrate_records_remaining', 0n], ['migrate_rx_rate', 0n], ['migrate_tx_rate', 0n],
    ]);
  } else {
    const info = cluster.info();
    // each member's migrations, asked over the fabric (null for a member that does not answer)
    const progress = await ctx.kernel.migration?.clusterProgress() ?? new Map();
    for (const m of info.members) {
      const sum = (counts: ReadonlyMap<string, number>): bigint => BigInt([...counts.values()].reduce((a, b) => a + b, 0));
      const p = progress.get(m.id);
      await out.row([
        ['node', hex(m.id)], ['address', m.serviceAddress], ['state', m.state], ['principal', m.id === info.principal],
        ['rack', BigInt(m.rackId)], ['zone', BigInt(m.zoneId)], ['masters', sum(m.masters)], ['replicas', sum(m.replicas)],
        ['migrate_partitions_remaining', p === undefined ? null : BigInt(p.partitionsRemaining)],
        ['migrate_records_remaining', p === undefined ? null : BigInt(p.recordsRemaining)],
        ['migrate_rx_rate', p === undefined ? null : BigInt(p.receiveRate)], ['migrate_tx_rate', p === undefined ? null : BigInt(p.sendRate)],
      ]);
    }
  }
  out.end(performance.now() - started, ctx.nodeAddress);
}

async function showPartitions(ctx: ExecContext, out: Renderer, namespace: string | null): Promise<void> {
  if (namespace !== null) checkNamespace(ctx, namespace);
  const started = performance.now();
  const cluster = ctx.services.get(CLUSTER_SERVICE);
  out.begin([]);
  for (const ns of namespace === null ? ctx.kernel.namespaceNames() : [namespace]) {
    if (cluster === undefined) {
      const self = hex(ctx.identity?.nodeId ?? ctx.kernel.router.localNode);
      for (let pid = 0; pid < N_PARTITIONS; pid++) {
        if (ctx.signal.aborted) throw new DbError('SCAN_ABORT', 'cancelled');
        await out.row([['ns', ns], ['partition', BigInt(pid)], ['master', self], ['replicas', [] as BinValue[]]]);
      }
      continue;
    }
    const table = cluster.partitionTable(ns);
    if (table === undefined) {
      throw new DbError('UNAVAILABLE', `this node has no partition table for namespace '${ns}' yet`, { hint: 'wait until the node has joined its cluster' });
    }
    for (let pid = 0; pid < table.rows.length; pid++) {
      if (ctx.signal.aborted) throw new DbError('SCAN_ABORT', 'cancelled');
      const [master, ...replicas] = table.rows[pid] ?? [];
      await out.row([['ns', ns], ['partition', BigInt(pid)], ['master', master === undefined ? null : hex(master)], ['replicas', replicas.map(hex)]]);
    }
  }
  out.end(performance.now() - started, ctx.nodeAddress);
}

export const clusterStatements: StatementFamily = {
  name: 'cluster',
  show: {
    CLUSTER: (_s, ctx, out) => showCluster(ctx, out),
    PARTITIONS: (s, ctx, out) => showPartitions(ctx, out, s.namespace),
  },
};
