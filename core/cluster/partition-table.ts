/**
 * The partition table of a namespace: for each of the 4096 partitions the master and the
 * replicas, computed from the agreed cluster view by the node's ReplicationStrategy, with the
 * effective replication factor min(RF, cluster size). Pure: every member computes the same
 * rows from the same view. The generation is this node's counter of tables it has built.
 */
import { DbError, N_PARTITIONS, type ClusterView, type NodeId, type ReplicationStrategy } from '../plugin-api/index.ts';

export interface PartitionTable {
  readonly namespace: string;
  /** Increases every time this node installs a new table for the namespace. */
  readonly generation: number;
  readonly clusterKey: bigint;
  readonly replicationFactor: number;
  /** min(replicationFactor, cluster size). */
  readonly effectiveReplicationFactor: number;
  /** rows[pid] = [master, ...replicas]. */
  readonly rows: readonly (readonly NodeId[])[];
  /** Per member: partitions it masters and partitions it holds a replica of. */
  readonly counts: ReadonlyMap<NodeId, { readonly masters: number; readonly replicas: number }>;
}

export interface NamespaceReplication {
  readonly name: string;
  readonly replicationFactor: number;
}

/**
 * `quiesced` members (Aerospike's quiesce) are left out of the strategy's view: every row lists
 * them last, after the others, so they master nothing and hold a replica only where the others
 * are fewer than the replication factor. When every member is quiesced the flag is ignored.
 */
export function buildPartitionTable(
  namespace: NamespaceReplication, view: ClusterView, strategy: ReplicationStrategy, generation: number, quiesced: ReadonlySet<NodeId> = new Set(),
): PartitionTable {
  const effective = Math.min(namespace.replicationFactor, view.succession.length);
  const active = view.succession.filter((m) => !quiesced.has(m.id));
  const stepAside = active.length > 0 && active.length < view.succession.length
    ? view.succession.filter((m) => quiesced.has(m.id)).map((m) => m.id).slice(0, Math.max(0, effective - active.length))
    : undefined;
  const rows = stepAside === undefined
    ? strategy.assign(view, namespace.replicationFactor)
    : strategy.assign({ ...view, succession: active }, namespace.replicationFactor).map((row) => [...row, ...stepAside]);
  const members = new Set(view.succession.map((m) => m.id));
  if (rows.length !== N_PARTITIONS) {
    throw new DbError('SERVER_ERROR', `replication strategy returned ${rows.length} rows instead of ${N_PARTITIONS}`, {
      hint: 'The replication plugin is broken; check it against the conformance suite',
    });
  }
  const counts = new Map<NodeId, { masters: number; replicas: number }>();
  for (const m of view.succession) counts.set(m.id, { masters: 0, replicas: 0 });
  for (let pid = 0; pid < N_PARTITIONS; pid++) {
    const row = rows[pid] as readonly NodeId[];
    if (row.length !== effective || new Set(row).size !== row.length || !row.every((id) => members.has(id))) {
      throw new DbError('SERVER_ERROR', `replication strategy gave partition ${pid} an invalid row`, {
        hint: 'Rows must hold min(RF, cluster size) distinct members; check the plugin against the conformance suite',
      });
    }
    row.forEach((id, i) => {
      const c = counts.get(id) as { masters: number; replicas: number };
      if (i === 0) c.masters++;
      else c.replicas++;
    });
  }
  return {
    namespace: namespace.name, generation, clusterKey: view.clusterKey, replicationFactor: namespace.replicationFactor,
    effectiveReplicationFactor: effective, rows, counts,
  };
}

/** A short fingerprint of a table's rows, for comparing tables across nodes. */
export function tableFingerprint(table: PartitionTable): string {
  let h = 0x811c9dc5;
  for (const row of table.rows) {
    for (const id of row) {
      const s = id.toString(16);
      for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619) >>> 0;
      h = Math.imul(h ^ 44, 16777619) >>> 0;
    }
    h = Math.imul(h ^ 59, 16777619) >>> 0;
  }
  return `${table.effectiveReplicationFactor}:${h.toString(16)}`;
}
