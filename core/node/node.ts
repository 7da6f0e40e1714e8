import { DbError } from '../errors/index.ts';
import { systemClock, type Clock, type Logger, type Plugin, type PluginContext } from '../plugin-api/index.ts';
import { Namespace } from '../storage/namespace.ts';
import { GuardedEngine } from '../storage/guarded-engine.ts';
import { isAbsolute, join } from 'node:path';
import { durableSystemMetadata, memorySystemMetadata, type SystemMetadataStore } from '../storage/system-metadata.ts';
import { StorageMaintenance } from '../storage/maintenance.ts';
import { Kernel } from '../transaction/kernel.ts';
import { singleNodeRouter, type PartitionRouter } from '../transaction/routing.ts';
import { GrpcServer } from '../server/grpc-server.ts';
import { MetricsEndpoint } from '../server/metrics.ts';
import { registerNodeMetrics, registerPluginMetrics } from './node-metrics.ts';
import { AdminServiceService } from '../wire/generated/slipstream/v1/admin.ts';
import { keyValueHandlers, keyValueService } from '../server/handlers/kv.ts';
import { adminHandlers } from '../server/handlers/admin.ts';
import { CONFIG_CONTROL, NODE_IDENTITY, PLUGIN_INFO, STORAGE_MAINTENANCE, ServiceLocator } from '../services/index.ts';
import { recordExpressionCompiler } from '../query/record-filter.ts';
import { DataServiceService } from '../wire/generated/slipstream/v1/data.ts';
import { dataHandlers } from '../server/handlers/data.ts';
import type { NodeConfig, TlsConfig } from './config.ts';
import { readFileSync } from 'node:fs';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import type { PluginRegistry } from './plugin-registry.ts';
import { registryFor } from './plugin-options.ts';
export { effectivePluginOptions } from './plugin-options.ts';
import type { ExtensionHandle, NodeExtension } from './extension.ts';
import { builtInExtensions } from './extensions.ts';
import { orderExtensions } from './extension-order.ts';
import { storageMaintenanceExtension } from './extensions/storage-maintenance.ts';
import { VERSION } from './version.ts';
import { AerospikeFrontEnd } from '../server/aerospike/front-end.ts';
import { SCAN_SCHEDULER } from '../transaction/scan-scheduler.ts';
import { CLUSTER_CONFIG, CLUSTER_SERVICE } from '../services/keys.ts';
import { configJson, DYNAMIC_SETTINGS, LiveConfig } from './live-config.ts';
import type { ConfigControl } from '../transaction/config-control.ts';

export interface CreateNodeOptions {
  readonly plugins: readonly Plugin[];
  readonly logger: Logger;
  readonly clock?: Clock;
  /** Subsystems to start (the built-in ones by default), besides the storage maintenance every node runs. */
  readonly extensions?: readonly NodeExtension[];
  /** Partition routing; one node masters everything by default. */
  readonly router?: PartitionRouter;
  /** Changes the level of `logger` and its children (live configuration of logLevel). */
  readonly setLogLevel?: (level: string) => void;
}

export interface SlipstreamNode {
  readonly config: NodeConfig;
  readonly kernel: Kernel;
  readonly server: GrpcServer;
  readonly services: ServiceLocator;
  readonly registry: PluginRegistry;
  /** The bound gRPC port (after start). */
  readonly port: number;
  /** The bound port of the Prometheus endpoint, when `node.metricsPort` is set. */
  readonly metricsPort: number | undefined;
  readonly address: string;
  /**
   * Stops gracefully (SIGTERM, SIGINT): while the node still serves, every subsystem hands its
   * work over — a cluster member moves its partitions to the others and leaves the cluster, then
   * keeps proxying for a short drain — and then the node stops as stop() does. Each step is
   * bounded; a second call waits for the first.
   */
  leave(): Promise<void>;
  /** Stops at once: no more requests, running calls finish (bounded), subsystems and storage close. */
  stop(): Promise<void>;
}

/** The PEM bytes of the configured TLS files, with a clear error for one that cannot be read. */
function readTlsFiles(tls: TlsConfig): { cert: Buffer; key: Buffer; ca?: Buffer; requireClientCert: boolean } {
  const read = (path: string, setting: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new DbError('PARAMETER', `node.tls.${setting}: cannot read ${path}: ${(err as Error).message}`, { hint: 'give the path of a PEM file (relative paths are from the working directory)' });
    }
  };
  const files = {
    cert: read(tls.certFile, 'certFile'),
    key: read(tls.keyFile, 'keyFile'),
    ...(tls.caFile === undefined ? {} : { ca: read(tls.caFile, 'caFile') }),
    requireClientCert: tls.requireClientCert,
  };
  // check them here, so that a wrong file is named (the transport would only say "no start line")
  const check = (what: () => unknown, path: string, setting: string, kind: string): void => {
    try {
      what();
    } catch (err) {
      throw new DbError('PARAMETER', `node.tls.${setting}: ${path} is not a PEM ${kind} (${(err as Error).message})`, { hint: `give a PEM file with a ${kind}` });
    }
  };
  check(() => new X509Certificate(files.cert), tls.certFile, 'certFile', 'certificate');
  check(() => createPrivateKey(files.key), tls.keyFile, 'keyFile', 'private key');
  if (files.ca !== undefined && tls.caFile !== undefined) check(() => new X509Certificate(files.ca as Buffer), tls.caFile, 'caFile', 'CA certificate');
  return files;
}

/** Builds and starts a node: plugins, namespaces, kernel, subsystems, gRPC. */
export async function createNode(config: NodeConfig, options: CreateNodeOptions): Promise<SlipstreamNode> {
  const logger = options.logger;
  const clock = options.clock ?? systemClock;
  const abort = new AbortController();
  // The built-in plugins and those the configuration names: loaded and checked before anything starts.
  const registry = await registryFor(config, options.plugins);
  const pluginContext = (name: string): PluginContext => ({ nodeId: config.node.id, logger: logger.child({ plugin: name }), clock, signal: abort.signal });

  // Storage maintenance always runs; the others start in the order their dependencies give.
  const requested = options.extensions ?? builtInExtensions();
  const extensions = orderExtensions(requested.some((e) => e.name === 'storage-maintenance') ? requested : [storageMaintenanceExtension(), ...requested]);
  const claimed = new Set(extensions.flatMap((e) => e.sections ?? []));
  for (const section of Object.keys(config.sections)) {
    if (!claimed.has(section)) {
      throw new DbError('PARAMETER', `config: unknown section '${section}'`, { hint: `known sections: node, logLevel, namespaces, transactionPendingLimit${claimed.size > 0 ? `, ${[...claimed].join(', ')}` : ''}` });
    }
  }

  const namespaces: Namespace[] = [];
  const handles: ExtensionHandle[] = [];
  let smd: SystemMetadataStore | undefined;
  const maintenance = new StorageMaintenance({ clock, logger });
  const limits = config.node.limits;
  // one event loop per process: every node in it shares the scan scheduler (the last one configures it)
  SCAN_SCHEDULER.configure({ turns: limits.scanTurns, sliceMs: limits.scanSliceMs });
  const server = new GrpcServer(logger, limits);
  const metricsEndpoint = config.node.metricsPort === undefined ? undefined : new MetricsEndpoint(server.metrics, {
    maxConnections: limits.metricsMaxConnections, maxPerAddress: Math.min(limits.metricsMaxConnections, 16), idleTimeoutMs: limits.idleTimeoutMs,
  });
  let stopped = false;
  let leaving: Promise<void> | undefined;
  const leave = (): Promise<void> => {
    leaving ??= (async () => {
      for (const h of [...handles].reverse()) {
        if (stopped) break;
        try { await h.leave?.(); } catch (err) { logger.error({ err }, 'a subsystem failed to hand over its work; stopping anyway'); }
      }
      await stop();
    })();
    return leaving;
  };
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    abort.abort();
    await server.stop();
    await metricsEndpoint?.stop();
    for (const h of handles.reverse()) {
      try { await h.stop?.(); } catch (err) { logger.error({ err }, 'a subsystem failed to stop'); }
    }
    await registry.stopAll(logger);
    for (const ns of namespaces) {
      try { await ns.engine.close(); } catch (err) { logger.error({ err, namespace: ns.name }, 'a storage engine failed to close'); }
    }
    try { await smd?.close(); } catch (err) { logger.error({ err }, 'system metadata failed to close'); }
    logger.info('node stopped');
  };

  try {
    for (const nsConfig of config.namespaces) {
      const plugin = registry.get('storage', nsConfig.storage);
      const started = Date.now();
      // A relative data directory of a storage engine lives under the node's data directory.
      const engine = await registry.createStorage(plugin.name, pluginContext(plugin.name), nsConfig, nsConfig.storageOptions, (o) => {
        const dir = o['dataDir'];
        return typeof dir === 'string' && !isAbsolute(dir) ? { ...o, dataDir: join(config.node.dataDir, dir) } : o;
      });
      const guarded = new GuardedEngine(engine, plugin.name, (op) => registry.count(plugin.name, op));
      const ns = new Namespace(nsConfig, maintenance.guard(nsConfig, guarded));
      namespaces.push(ns);
      const st = await guarded.stats();
      logger.info({ namespace: nsConfig.name, storage: plugin.name, records: st.records, tombstones: st.tombstones, ms: Date.now() - started }, 'namespace ready');
    }
    // System metadata is durable as soon as one namespace is: in the storage slot of the first
    // persistent namespace whose plugin offers a store (in memory when none does).
    const smdPlugin = namespaces.filter((ns) => ns.engine.capabilities.persistent).map((ns) => registry.get('storage', ns.config.storage)).find((p) => p.openSystemMetadata !== undefined);
    smd = smdPlugin?.openSystemMetadata === undefined
      ? memorySystemMetadata()
      : durableSystemMetadata(await smdPlugin.openSystemMetadata(pluginContext(smdPlugin.name), join(config.node.dataDir, 'smd')));
    const kernel = new Kernel({
      namespaces,
      clock,
      router: options.router ?? singleNodeRouter(config.node.id),
      logger,
      transactionPendingLimit: config.transactionPendingLimit,
    });
    kernel.useExpressions(recordExpressionCompiler(() => clock.now()));
    const services = new ServiceLocator();
    services.provide(STORAGE_MAINTENANCE, maintenance);
    const startedAtMs = Date.now();
    let address = `${config.node.host}:${config.node.port}`;
    server.addService('slipstream.v1.KeyValueService', keyValueService, keyValueHandlers(kernel, logger, services));
    const connections = () => server.connectionCounts();
    const identity = { nodeId: config.node.id, version: VERSION, startedAtMs, address: () => address, connections };
    services.provide(NODE_IDENTITY, identity);
    services.provide(PLUGIN_INFO, registry);
    const live = new LiveConfig(config, { namespaces: new Map(namespaces.map((n) => [n.name, n])), evictorOf: (name) => maintenance.evictor(name), logger, ...(options.setLogLevel === undefined ? {} : { setLogLevel: options.setLogLevel }) });
    const control: ConfigControl = { current: () => configJson(live.current()), dynamicSettings: DYNAMIC_SETTINGS, set: (changes) => live.set(changes), watch: (l) => live.watch(l), check: (section, c) => live.check(section, c) };
    services.provide(CONFIG_CONTROL, control);
    server.addService('slipstream.v1.AdminService', AdminServiceService, adminHandlers(kernel, identity, logger, registry, control, () => services.get(CLUSTER_CONFIG)));
    server.addService('slipstream.v1.DataService', DataServiceService, dataHandlers(kernel, logger));
    registerNodeMetrics(server.metrics.registry, kernel, identity);
    registerPluginMetrics(server.metrics.registry, registry);

    for (const ext of extensions) {
      const handle = await ext.start({ nodeId: config.node.id, config, kernel, server, metricsEndpoint, registry, services, systemMetadata: smd, logger: logger.child({ subsystem: ext.name }), clock, signal: abort.signal });
      if (handle) handles.push(handle);
    }

    // the Aerospike protocol on the same port: the official Aerospike clients work unchanged
    server.addProtocol(new AerospikeFrontEnd({
      kernel, services, nodeId: config.node.id, startedAtMs, version: VERSION, address: () => address, logger: logger.child({ protocol: 'aerospike' }), connections,
      clusterName: () => services.get(CLUSTER_SERVICE)?.info().clusterName,
      rackId: () => services.get(CLUSTER_SERVICE)?.info().members.find((m) => m.id === config.node.id)?.rackId ?? 0,
      peers: () => {
        const cluster = services.get(CLUSTER_SERVICE);
        if (cluster === undefined || cluster.view() === undefined) return [];
        return cluster.info().members.filter((m) => m.alive && m.id !== config.node.id && m.serviceAddress !== '').map((m) => ({ id: m.id, address: m.serviceAddress }));
      },
    }, { idleTimeoutMs: limits.idleTimeoutMs, onIdleClose: () => server.connections.countIdleClose() }));
    await registry.startAll();
    const port = await server.start(config.node.host, config.node.port, config.node.tls === undefined ? undefined : readTlsFiles(config.node.tls));
    address = `${config.node.host}:${port}`;
    const metricsPort = config.node.metricsPort === undefined ? undefined : await metricsEndpoint?.start(config.node.host, config.node.metricsPort);
    if (metricsPort !== undefined) logger.info({ url: `http://${config.node.host.includes(':') ? `[${config.node.host}]` : config.node.host}:${metricsPort}/metrics` }, 'Prometheus metrics');
    logger.info({ nodeId: config.node.id.toString(16).toUpperCase(), address, version: VERSION, namespaces: config.namespaces.map((n) => n.name) }, 'node ready');
    return { config, kernel, server, services, registry, port, metricsPort, address, leave, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
