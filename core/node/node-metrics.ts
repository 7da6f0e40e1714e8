/**
 * The node's own Prometheus metrics, read from the kernel and the storage engines only when
 * Prometheus scrapes (prom-client `collect`): nothing on the request path.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Kernel } from '../transaction/kernel.ts';
import type { EngineStats } from '../plugin-api/index.ts';
import { fabricCounts, operationCounts } from '../transaction/statistics.ts';
import type { PluginInfoSource } from '../transaction/plugin-info.ts';

export function registerNodeMetrics(registry: Registry, kernel: Kernel, identity: { readonly nodeId: bigint; readonly version: string; readonly startedAtMs: number }): void {
  const registers = [registry];
  new Gauge({
    name: 'slipstream_node_info', help: 'Always 1; the labels name the node and its version.', labelNames: ['node_id', 'version'], registers,
    collect() { this.set({ node_id: identity.nodeId.toString(16).toUpperCase(), version: identity.version }, 1); },
  });
  new Gauge({
    name: 'slipstream_node_uptime_seconds', help: 'Seconds since the node started.', registers,
    collect() { this.set((Date.now() - identity.startedAtMs) / 1000); },
  });
  new Counter({
    name: 'slipstream_kernel_operations_total', help: 'Record operations the kernel carried out, by kind (as STAT SYSTEM counts them).', labelNames: ['op'], registers,
    collect() {
      const c = operationCounts(kernel);
      this.reset();
      this.inc({ op: 'read' }, c.read);
      this.inc({ op: 'read_not_found' }, c.readNotFound);
      this.inc({ op: 'write' }, c.write);
      this.inc({ op: 'delete' }, c.delete);
      this.inc({ op: 'batch' }, c.batch);
      this.inc({ op: 'scan' }, c.scan);
    },
  });
  new Counter({
    name: 'slipstream_proxy_requests_total',
    help: 'Single-record requests proxied between nodes: "out" answered by the master, "timeout" unanswered, "retry" sent again after a map change, "in" served for another node.',
    labelNames: ['direction'], registers,
    collect() {
      const c = kernel.forwarding?.counters;
      this.reset();
      this.inc({ direction: 'out' }, c?.proxied ?? 0);
      this.inc({ direction: 'timeout' }, c?.proxyTimeouts ?? 0);
      this.inc({ direction: 'retry' }, c?.proxyRetries ?? 0);
      this.inc({ direction: 'in' }, c?.fromProxy ?? 0);
    },
  });
  new Counter({
    name: 'slipstream_replica_writes_total',
    help: 'Replica writes: "sent" by this node as master (one per replica), "timeout" writes answered TIMEOUT because a replica did not confirm, "applied"/"stale" copies received as a replica and kept/ignored as older, "resent" copies a replica confirmed only on a background resend after the deadline, "abandoned" copies given up on.',
    labelNames: ['outcome'], registers,
    collect() {
      const c = kernel.replicas?.counters;
      this.reset();
      this.inc({ outcome: 'sent' }, c?.sent ?? 0);
      this.inc({ outcome: 'timeout' }, c?.timedOut ?? 0);
      this.inc({ outcome: 'applied' }, c?.applied ?? 0);
      this.inc({ outcome: 'stale' }, c?.stale ?? 0);
      this.inc({ outcome: 'resent' }, c?.resent ?? 0);
      this.inc({ outcome: 'abandoned' }, c?.abandoned ?? 0);
    },
  });
  // the fabric's counters (messages, refusals, remote calls, batches); absent on a single node
  const fabric = (): ReturnType<typeof fabricCounts> | undefined => (kernel.fabric === undefined ? undefined : fabricCounts(kernel.fabric));
  // counts by one label, as the fabric keeps them
  const byLabel = (name: string, label: string, counts: 'messages' | 'refused' | 'calls', help: string): void => {
    new Counter({
      name, help, labelNames: [label], registers,
      collect() {
        this.reset();
        for (const [value, n] of fabric()?.[counts] ?? []) this.inc({ [label]: value }, n);
      },
    });
  };
  byLabel('slipstream_fabric_messages_total', 'event', 'messages',
    'Fabric messages between nodes by event: "sent" (first sends), "resent" (retransmits before an ack), "acked" (acknowledged by the peer), "timed_out" (given up unacknowledged at their deadline, or refused by the peer), "undelivered" (never left: no connection), "received" (delivered to this node\'s handlers), "duplicates" (received again and dropped).');
  byLabel('slipstream_fabric_refused_total', 'reason', 'refused',
    'Messages from other nodes this node refused, by reason: "foreign_cluster" (another cluster name), "stale_cluster_key" (a data-path message sent under another membership\'s cluster key: a stale proxy or an old master\'s replica write), "protocol_version" (heartbeats of a node speaking another fabric protocol version, which cannot join).');
  byLabel('slipstream_fabric_calls_total', 'outcome', 'calls',
    'Remote calls (proxied requests, replica writes, scan and query pages, migrations, system metadata) by outcome: requests "sent" by this node (calls sent together count as one request: see slipstream_fabric_batched_calls_total), "answered", "failed" (the other node answered an error), "timed_out" (no answer by the deadline), "not_delivered" (never left), "departed" (failed at once: the node left the cluster), "served" (calls of other nodes this node ran, each call of a batch counted).');
  new Counter({
    name: 'slipstream_fabric_batches_total', help: 'Fabric requests that carried several calls of one turn to one node together (replica writes sent together).', registers,
    collect() { this.reset(); this.inc(fabric()?.batches ?? 0); },
  });
  new Counter({
    name: 'slipstream_fabric_batched_calls_total', help: 'Calls that travelled in those batches (batched calls / batches = calls per request).', registers,
    collect() { this.reset(); this.inc(fabric()?.batched ?? 0); },
  });
  new Counter({
    name: 'slipstream_fabric_held_batches_total',
    help: 'Calls sent together that waited for the request before them to the same node to be answered (one request in flight per node), by how the wait ended: "answered" (that request was answered or failed, or the batch filled) or "hold_limit" (they left unanswered after their longest wait, 20 ms).',
    labelNames: ['ended'], registers,
    collect() {
      this.reset();
      const f = fabric();
      this.inc({ ended: 'answered' }, Math.max(0, (f?.held ?? 0) - (f?.heldTooLong ?? 0)));
      this.inc({ ended: 'hold_limit' }, f?.heldTooLong ?? 0);
    },
  });
  new Gauge({
    name: 'slipstream_migrate_partitions_remaining', help: 'Partitions this node still fills after a membership change (0 when its data caught up).', registers,
    collect() { this.set(kernel.migration?.progress().partitionsRemaining ?? 0); },
  });
  new Gauge({
    name: 'slipstream_migrate_records_remaining', help: 'Records this node\'s running fill still expects to receive (estimated from the records per partition received so far; 0 when no fill runs).', registers,
    collect() { this.set(kernel.migration?.progress().recordsRemaining ?? 0); },
  });
  new Counter({
    name: 'slipstream_migrate_records_total', help: 'Records migrated: "received" into this node\'s fills, "sent" to other nodes\' fills.', labelNames: ['direction'], registers,
    collect() {
      const p = kernel.migration?.progress();
      this.reset();
      this.inc({ direction: 'received' }, p?.recordsReceived ?? 0);
      this.inc({ direction: 'sent' }, p?.recordsSent ?? 0);
    },
  });
  // The four namespace gauges are collected together in one scrape: each engine's statistics
  // are read once for all of them.
  let pending: Promise<Array<[string, EngineStats]>> | undefined;
  const engineStats = (): Promise<Array<[string, EngineStats]>> => pending ??= Promise.all(
    kernel.namespaceNames().map(async (ns): Promise<[string, EngineStats]> => [ns, await kernel.namespace(ns).engine.stats()]),
  ).finally(() => { pending = undefined; });
  const perNamespace = (name: string, help: string, pick: (s: EngineStats) => number): void => {
    new Gauge({
      name, help, labelNames: ['namespace'], registers,
      async collect() {
        for (const [ns, st] of await engineStats()) this.set({ namespace: ns }, pick(st));
      },
    });
  };
  perNamespace('slipstream_namespace_records', 'Live records (tombstones not counted).', (s) => s.records);
  perNamespace('slipstream_namespace_tombstones', 'Tombstones of durable deletes.', (s) => s.tombstones);
  perNamespace('slipstream_namespace_memory_bytes', 'Memory the storage engine reports for the namespace.', (s) => s.memoryBytes);
  perNamespace('slipstream_namespace_disk_bytes', 'Disk the storage engine reports for the namespace.', (s) => s.diskBytes);
}

/** Run-time errors of each plugin, per operation (read from the registry at scrape time). */
export function registerPluginMetrics(registry: Registry, plugins: PluginInfoSource): void {
  new Counter({
    name: 'slipstream_plugin_errors_total', help: 'Errors thrown by plugins at run time, by plugin and operation.', labelNames: ['plugin', 'operation'], registers: [registry],
    collect() {
      this.reset();
      for (const p of plugins.info()) for (const [operation, n] of Object.entries(p.errors)) this.inc({ plugin: p.name, operation }, n);
    },
  });
  new Gauge({
    name: 'slipstream_plugin_healthy', help: '1 when every instance of the plugin reports itself healthy.', labelNames: ['plugin', 'kind'], registers: [registry],
    collect() {
      this.reset();
      for (const p of plugins.info()) if (p.instances.length > 0) this.set({ plugin: p.name, kind: p.kind }, p.instances.every((i) => i.health.ok) ? 1 : 0);
    },
  });
}
