/**
 * The cluster as a node subsystem. With a `cluster` section in the node's config, the node
 * runs heartbeat and fabric on their own ports, joins its cluster, and serves
 * slipstream.v1.ClusterService. Without one it stays a single node (and serves no cluster API).
 *
 *   "cluster": { "clusterName": "demo", "rackId": 1,
 *                "heartbeat": { "address": "127.0.0.1:3002" }, "fabric": { "address": "127.0.0.1:3001" },
 *                "seeds": ["127.0.0.1:4002"], "replication": "replication-rack-aware" }
 */
import { Gauge } from 'prom-client';
import { N_PARTITIONS } from '../../model/index.ts';
import { DbError, type PluginContext } from '../../plugin-api/index.ts';
import type { NodeExtension } from '../extension.ts';
import { SmdSync } from '../../replication/smd-sync.ts';
import { CLUSTER_CONFIG, CLUSTER_SERVICE, CONFIG_CONTROL, REMOTE_CALLS, SMD_SYNC } from '../../services/index.ts';
import { clusterConfig } from '../../transaction/cluster-config.ts';
import type { RetransmitStrategy } from '../../plugin-api/index.ts';
import { ClusterServiceService } from '../../wire/generated/slipstream/v1/cluster.ts';
import { createClusterService, hexId, tcpTransport, validateClusterConfig, type ClusterService } from '../../cluster/index.ts';
import { clusterSchema } from '../../cluster/config.ts';
import { clusterHandlers } from '../../server/handlers/cluster.ts';
import { recordFilter } from '../../query/record-filter.ts';
import { clusterSecretOf } from '../../security/config.ts';
import { attachClusterDataPath } from '../../transaction/cluster-data-path.ts';


export function clusterExtension(): NodeExtension {
  return {
    name: 'cluster',
    sections: ['cluster'],
    schemas: { cluster: clusterSchema },
    async start(ctx) {
      const section = ctx.config.sections['cluster'];
      if (section === undefined) return;
      if (section === null || typeof section !== 'object' || Array.isArray(section)) {
        throw new DbError('PARAMETER', 'config cluster: must be an object', { hint: 'See docs/cluster.md for the cluster section' });
      }
      const raw = section as Record<string, unknown>;
      const cfg = validateClusterConfig({ ...raw, nodeId: raw['nodeId'] ?? ctx.nodeId }, 'config cluster');
      if (cfg.nodeId !== ctx.nodeId) {
        throw new DbError('PARAMETER', `config cluster.nodeId ${hexId(cfg.nodeId)} differs from node.id ${hexId(ctx.nodeId)}`, { hint: 'Set the id once, in node.id' });
      }
      // with security.clusterSecretFile, heartbeat and fabric frames are signed and checked
      const secret = clusterSecretOf(ctx.config.sections['security'], ctx.config.node.dataDir);
      const pctx = (name: string): PluginContext => ({ nodeId: ctx.nodeId, logger: ctx.logger.child({ plugin: name }), clock: ctx.clock, signal: ctx.signal });
      // the retransmit strategy is swapped for a new instance when its options change live
      let retransmitNow = ctx.registry.createRetransmit(cfg.retransmit.strategy, pctx(cfg.retransmit.strategy), cfg.retransmit.options);
      const retransmit: RetransmitStrategy = {
        nextDelayMs: (state) => retransmitNow.nextDelayMs(state),
        onResend: (state) => retransmitNow.onResend?.(state),
        stop: () => retransmitNow.stop?.(),
      };
      const control = ctx.services.get(CONFIG_CONTROL);
      const sectionNow = (): ReturnType<typeof validateClusterConfig> => validateClusterConfig({
        ...((control?.current()['sections'] as Record<string, unknown> | undefined)?.['cluster'] as Record<string, unknown>), nodeId: ctx.nodeId,
      }, 'config cluster');
      const uncheck = control?.check('cluster', (section) => {
        const next = validateClusterConfig({ ...(section as Record<string, unknown>), nodeId: ctx.nodeId }, 'config cluster');
        if (next.retransmit.strategy !== cfg.retransmit.strategy) {
          throw new DbError('PARAMETER', 'cluster.retransmit.strategy takes a restart', { hint: 'change it in the config file and restart the node; its options can change live' });
        }
        ctx.registry.checkOptions(ctx.registry.get('retransmit', next.retransmit.strategy), next.retransmit.options, 'config cluster.retransmit');
      });
      const unwatch = control?.watch((applied) => {
        if (!applied.some((a) => a.name.startsWith('cluster.retransmit.'))) return;
        const next = sectionNow().retransmit;
        const old = retransmitNow;
        ctx.registry.forgetInstances('retransmit', 'cluster');
        retransmitNow = ctx.registry.createRetransmit(next.strategy, pctx(next.strategy), next.options);
        void Promise.resolve(old.stop?.()).catch((err: unknown) => ctx.logger.warn({ err }, 'the replaced retransmit strategy failed to stop'));
      });
      const cluster = createClusterService({
        nodeId: cfg.nodeId, clusterName: cfg.clusterName, rackId: cfg.rackId, zoneId: cfg.zoneId,
        heartbeatAddress: cfg.heartbeat.address, fabricAddress: cfg.fabric.address, seeds: cfg.seeds,
        ...(cfg.heartbeat.accessAddress === undefined ? {} : { heartbeatAccessAddress: cfg.heartbeat.accessAddress }),
        ...(cfg.fabric.accessAddress === undefined ? {} : { fabricAccessAddress: cfg.fabric.accessAddress }),
        heartbeatIntervalMs: cfg.heartbeat.intervalMs, heartbeatTimeout: cfg.heartbeat.timeout, quantumMs: cfg.quantumMs,
        transport: (channel) => tcpTransport({ logger: ctx.logger, channel, ...cfg.limits, ...(secret === undefined ? {} : { secret }) }), clock: ctx.clock, logger: ctx.logger,
        replication: ctx.registry.createReplication(cfg.replication.strategy, pctx(cfg.replication.strategy), cfg.replication.options),
        retransmit,
        namespaces: ctx.config.namespaces.map((n) => ({ name: n.name, replicationFactor: n.replicationFactor })),
        serviceAddress: () => {
          try {
            return `${ctx.config.node.host}:${ctx.server.port}`;
          } catch {
            return '';
          }
        },
      });
      await cluster.start();
      ctx.services.provide(CLUSTER_SERVICE, cluster);
      // the data path: the kernel routes by the agreed partition map and proxies to masters elsewhere
      const dataPath = attachClusterDataPath(ctx.kernel, cluster, {
        clock: ctx.clock, logger: ctx.logger, compileFilter: (src) => recordFilter(src, () => ctx.clock.now()),
        migration: cfg.migration, replicaDeadlineMs: cfg.replicaWriteTimeoutMs,
      });
      ctx.services.provide(REMOTE_CALLS, dataPath.calls);
      // migration limits and the replica-write timeout follow live configuration changes
      const unwatchLimits = control?.watch((applied) => {
        if (!applied.some((a) => a.name.startsWith('cluster.migration.') || a.name === 'cluster.replicaWriteTimeoutMs')) return;
        const next = sectionNow();
        dataPath.migrations.setLimits(next.migration);
        dataPath.replicas.deadlineMs = next.replicaWriteTimeoutMs;
      });
      // system metadata (UDF modules, indexes, truncate markers, users) on every member
      const smdSync = new SmdSync({ calls: dataPath.calls, cluster, store: ctx.systemMetadata, clock: ctx.clock, logger: ctx.logger.child({ part: 'smd' }) });
      ctx.services.provide(SMD_SYNC, smdSync);
      // live configuration changes for every member (AQL SET CONFIG), over the fabric
      if (control !== undefined) {
        ctx.services.provide(CLUSTER_CONFIG, clusterConfig(control, dataPath.calls, () => cluster.view()?.succession.map((m) => m.id) ?? [ctx.nodeId]));
      }
      ctx.server.addService('slipstream.v1.ClusterService', ClusterServiceService, clusterHandlers(cluster, ctx.logger, ctx.kernel, () => dataPath.migrations.progress()));
      const registers = [ctx.server.metrics.registry];
      new Gauge({
        name: 'slipstream_cluster_size', help: 'Members of the cluster this node is in (0 while it is in none).', registers,
        collect() { this.set(cluster.view() === undefined ? 0 : cluster.info().members.length); },
      });
      new Gauge({
        name: 'slipstream_cluster_frames_dropped', help: 'Heartbeat and fabric frames dropped because they did not decode or match their schema.',
        labelNames: ['channel'], registers,
        collect() {
          const t = cluster.stats().transports;
          this.set({ channel: 'heartbeat' }, t.heartbeat.framesDropped);
          this.set({ channel: 'fabric' }, t.fabric.framesDropped);
        },
      });
      new Gauge({
        name: 'slipstream_cluster_frames_unauthenticated', help: 'Heartbeat and fabric frames refused because they were not signed with the cluster secret (security.clusterSecretFile).',
        labelNames: ['channel'], registers,
        collect() {
          const t = cluster.stats().transports;
          this.set({ channel: 'heartbeat' }, t.heartbeat.framesUnauthenticated);
          this.set({ channel: 'fabric' }, t.fabric.framesUnauthenticated);
        },
      });
      new Gauge({
        name: 'slipstream_cluster_principal', help: '1 when this node is the cluster principal.', registers,
        collect() { this.set(cluster.view() !== undefined && cluster.info().principal === ctx.nodeId ? 1 : 0); },
      });
      new Gauge({
        name: 'slipstream_cluster_partitions_mastered', help: 'Partitions of the namespace this node masters (of 4096).', labelNames: ['namespace'], registers,
        collect() {
          for (const ns of cluster.namespaces()) {
            let n = 0;
            for (let p = 0; p < N_PARTITIONS; p++) if (cluster.masterOf(ns, p) === ctx.nodeId) n++;
            this.set({ namespace: ns }, n);
          }
        },
      });
      new Gauge({
        name: 'slipstream_cluster_peers_refused_version', help: 'Heartbeats ignored because their node speaks another fabric protocol version (it cannot join this node\'s cluster).', registers,
        collect() { this.set(cluster.stats().heartbeat.refusedVersion); },
      });
      return {
        // a graceful stop: hand the partitions over, leave, then keep serving (proxying) while clients learn the new map
        leave: async () => {
          const report = await cluster.leave({ handOverWaitMs: cfg.leave.handOverWaitMs });
          if (report.reformedMs === undefined) return; // nobody took over: nothing to proxy to
          ctx.logger.info({ ...report, drainMs: cfg.leave.drainMs }, 'left the cluster; proxying to the new owners while clients learn the new map');
          await new Promise<void>((r) => { ctx.clock.setTimeout(r, cfg.leave.drainMs); });
        },
        stop: () => {
          smdSync.stop();
          unwatch?.();
          unwatchLimits?.();
          uncheck?.();
          return cluster.stop();
        },
      };
    },
  };
}
