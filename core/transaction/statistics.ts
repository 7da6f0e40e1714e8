/**
 * Node and namespace statistics, and the set list, computed once for every surface that shows
 * them: the admin service (GetStatistics, ListSets) and AQL (STAT SYSTEM, STAT NAMESPACE,
 * SHOW SETS). Names are Aerospike's where one exists.
 */
import type { FabricCounters, Kernel } from './kernel.ts';
import { SCAN_SCHEDULER } from './scan-scheduler.ts';

/** What statistics need to know about the node beyond its kernel. */
export interface StatisticsIdentity {
  readonly nodeId: bigint;
  readonly startedAtMs: number;
  /** The node port's client connection counts, when it serves clients. */
  readonly connections?: () => { readonly open: number; readonly opened: number; readonly closed: number; readonly refused: number; readonly idleClosed: number };
}

export type Statistic = readonly [name: string, value: string];

/** The kernel's operation counts as reported (reads split into found and not found). */
export function operationCounts(kernel: Kernel): { readonly read: number; readonly readNotFound: number; readonly write: number; readonly delete: number; readonly batch: number; readonly scan: number } {
  const c = kernel.counters;
  return { read: c.reads - c.notFound, readNotFound: c.notFound, write: c.writes, delete: c.deletes, batch: c.batches, scan: c.scans };
}

/** Node statistics (`namespace` undefined or '') or one namespace's statistics, in a stable order. */
export async function statistics(kernel: Kernel, identity: StatisticsIdentity, namespace?: string): Promise<Statistic[]> {
  const stats: Array<[string, string | number]> = [];
  if (namespace === undefined || namespace === '') {
    const c = operationCounts(kernel);
    const mem = process.memoryUsage();
    stats.push(
      ['node_id', identity.nodeId.toString(16).toUpperCase()],
      ['uptime', Math.floor((Date.now() - identity.startedAtMs) / 1000)],
      ['namespaces', kernel.namespaceNames().length],
      ['client_read_success', c.read],
      ['client_read_not_found', c.readNotFound],
      ['client_write_success', c.write],
      ['client_delete_success', c.delete],
      ['batch_index_initiate', c.batch],
      ['scan_initiate', c.scan],
      ['client_read_replica', kernel.counters.replicaReads],
      ['client_proxy_complete', kernel.forwarding?.counters.proxied ?? 0],
      ['client_proxy_timeout', kernel.forwarding?.counters.proxyTimeouts ?? 0],
      ['client_proxy_retry', kernel.forwarding?.counters.proxyRetries ?? 0],
      ['from_proxy_request', kernel.forwarding?.counters.fromProxy ?? 0],
      ['replica_write_sent', kernel.replicas?.counters.sent ?? 0],
      ['replica_write_timeout', kernel.replicas?.counters.timedOut ?? 0],
      ['replica_write_applied', kernel.replicas?.counters.applied ?? 0],
      ['replica_write_stale', kernel.replicas?.counters.stale ?? 0],
      ['replica_write_resent', kernel.replicas?.counters.resent ?? 0],
      ['replica_write_abandoned', kernel.replicas?.counters.abandoned ?? 0],
      ['migrate_rx_rate', kernel.migration?.progress().receiveRate ?? 0],
      ['migrate_tx_rate', kernel.migration?.progress().sendRate ?? 0],
      ['migrate_partitions_remaining', kernel.migration?.progress().partitionsRemaining ?? 0],
      ['migrate_records_remaining', kernel.migration?.progress().recordsRemaining ?? 0],
      ['migrate_records_received', kernel.migration?.progress().recordsReceived ?? 0],
      ['migrate_records_sent', kernel.migration?.progress().recordsSent ?? 0],
      ['migrate_last_rate', kernel.migration?.progress().lastRate ?? 0],
      ['migrate_records_dropped', kernel.migration?.progress().recordsDropped ?? 0],
      ['migrate_requests_refused', kernel.migration?.progress().requestsRefused ?? 0],
      ...fabricStatistics(kernel.fabric),
      ...connectionStats(identity),
      ['scan_jobs_working', SCAN_SCHEDULER.stats().working],
      ['scan_jobs_waiting', SCAN_SCHEDULER.stats().waiting],
      ['heap_used_bytes', mem.heapUsed],
      ['rss_bytes', mem.rss],
    );
  } else {
    const ns = kernel.namespace(namespace);
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
  return stats.map(([name, value]) => [name, String(value)] as const);
}

/** A counter's name as a statistic or label (timedOut → timed_out). */
function snake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** Labels of the fabric's counters whose names do not say it alone (the others are snake_cased). */
const MESSAGE_LABELS: Readonly<Record<string, string>> = { refusedForeign: 'foreign_cluster', refusedStale: 'stale_cluster_key' };
const CALL_LABELS: Readonly<Record<string, string>> = { calls: 'sent' };
/** Remote-call counters that count requests of calls sent together, not calls by outcome. */
const NOT_OUTCOMES: ReadonlySet<string> = new Set(['batches', 'batched', 'held', 'heldTooLong']);

/**
 * The fabric's counters by what they count, labelled as statistics and metrics name them (one
 * home for both): messages by event (sent, resent, acked, timed_out, undelivered, received,
 * duplicates), messages and heartbeats refused by reason (foreign_cluster: another cluster's
 * name; stale_cluster_key: a data-path message sent under another membership's key;
 * protocol_version: a peer's heartbeats in another fabric protocol version), remote calls by
 * outcome (sent, answered, failed, timed_out, not_delivered, served, departed, …), and the
 * requests that carried several calls (batches) with the calls they carried (batched), and the
 * batches that waited for the request before them to be answered (held; heldTooLong of them left
 * at their longest wait instead). A counter the fabric adds later is shown under its own name.
 */
export function fabricCounts(f: FabricCounters): {
  readonly messages: ReadonlyArray<readonly [string, number]>; readonly refused: ReadonlyArray<readonly [string, number]>;
  readonly calls: ReadonlyArray<readonly [string, number]>; readonly batches: number; readonly batched: number;
  readonly held: number; readonly heldTooLong: number;
} {
  const messages: Array<readonly [string, number]> = [];
  const refused: Array<readonly [string, number]> = [];
  for (const [name, n] of Object.entries(f.messages)) {
    const label = MESSAGE_LABELS[name];
    if (label !== undefined) refused.push([label, n]);
    else messages.push([snake(name), n]);
  }
  refused.push(['protocol_version', f.refusedVersion()]);
  const calls: Array<readonly [string, number]> = [];
  for (const [name, n] of Object.entries(f.calls)) {
    if (!NOT_OUTCOMES.has(name)) calls.push([CALL_LABELS[name] ?? snake(name), n]);
  }
  return {
    messages, refused, calls, batches: f.calls['batches'] ?? 0, batched: f.calls['batched'] ?? 0,
    held: f.calls['held'] ?? 0, heldTooLong: f.calls['heldTooLong'] ?? 0,
  };
}

/** The fabric's counters as node statistics (fabric_msgs_sent, fabric_calls_timed_out, …); none on a single node. */
function fabricStatistics(f: FabricCounters | undefined): Array<[string, number]> {
  if (f === undefined) return [];
  const c = fabricCounts(f);
  return [
    ...c.messages.map(([label, n]): [string, number] => [`fabric_msgs_${label}`, n]),
    ...c.refused.map(([label, n]): [string, number] => [`fabric_refused_${label}`, n]),
    ...c.calls.map(([label, n]): [string, number] => [`fabric_calls_${label}`, n]),
    ['fabric_batches_sent', c.batches],
    ['fabric_calls_batched', c.batched],
    ['fabric_batches_held', c.held],
    ['fabric_batches_held_too_long', c.heldTooLong],
  ];
}

/** Aerospike's connection statistics (client_connections…, reaped_fds) plus the refused count. */
function connectionStats(identity: StatisticsIdentity): Array<[string, number]> {
  const c = identity.connections?.();
  if (c === undefined) return [];
  return [
    ['client_connections', c.open], ['client_connections_opened', c.opened], ['client_connections_closed', c.closed],
    ['client_connections_refused', c.refused], ['reaped_fds', c.idleClosed],
  ];
}

export interface SetStat {
  readonly namespace: string;
  readonly set: string;
  /** Live records. */
  readonly records: number;
}

/** The named sets of one namespace (or of all when `namespace` is undefined or ''), sorted by namespace then set. */
export async function setList(kernel: Kernel, namespace?: string): Promise<SetStat[]> {
  const names = namespace === undefined || namespace === '' ? kernel.namespaceNames() : [kernel.namespace(namespace).name];
  const sets: SetStat[] = [];
  for (const name of names) {
    const st = await kernel.namespace(name).engine.stats();
    for (const [set, records] of [...st.sets].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      if (set !== '') sets.push({ namespace: name, set, records });
    }
  }
  return sets;
}
