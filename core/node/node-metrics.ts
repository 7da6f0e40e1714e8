/**
 * The node's own Prometheus metrics, read from the kernel and the storage engines only when
 * Prometheus scrapes (prom-client `collect`): nothing on the request path.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Kernel } from '../transaction/kernel.ts';

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
      const c = kernel.counters;
      this.reset();
      this.inc({ op: 'read' }, c.reads - c.notFound);
      this.inc({ op: 'read_not_found' }, c.notFound);
      this.inc({ op: 'write' }, c.writes);
      this.inc({ op: 'delete' }, c.deletes);
      this.inc({ op: 'batch' }, c.batches);
      this.inc({ op: 'scan' }, c.scans);
    },
  });
  const perNamespace = (name: string, help: string, pick: (s: { records: number; tombstones: number; memoryBytes: number; diskBytes: number }) => number): void => {
    new Gauge({
      name, help, labelNames: ['namespace'], registers,
      async collect() {
        for (const ns of kernel.namespaceNames()) this.set({ namespace: ns }, pick(await kernel.namespace(ns).engine.stats()));
      },
    });
  };
  perNamespace('slipstream_namespace_records', 'Live records (tombstones not counted).', (s) => s.records);
  perNamespace('slipstream_namespace_tombstones', 'Tombstones of durable deletes.', (s) => s.tombstones);
  perNamespace('slipstream_namespace_memory_bytes', 'Memory the storage engine reports for the namespace.', (s) => s.memoryBytes);
  perNamespace('slipstream_namespace_disk_bytes', 'Disk the storage engine reports for the namespace.', (s) => s.diskBytes);
}
