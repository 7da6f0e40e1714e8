import { DbError } from '../errors/index.ts';
import { systemClock, type Clock, type Logger, type Plugin, type PluginContext } from '../plugin-api/index.ts';
import { Namespace } from '../storage/namespace.ts';
import { GuardedEngine } from '../storage/guarded-engine.ts';
import { Kernel } from '../transaction/kernel.ts';
import { singleNodeRouter, type PartitionRouter } from '../transaction/routing.ts';
import { GrpcServer } from '../server/grpc-server.ts';
import { KeyValueServiceService } from '../server/generated/slipstream/v1/kv.ts';
import { AdminServiceService } from '../server/generated/slipstream/v1/admin.ts';
import { keyValueHandlers } from '../server/handlers/kv.ts';
import { adminHandlers } from '../server/handlers/admin.ts';
import type { NodeConfig } from './config.ts';
import { PluginRegistry } from './plugin-registry.ts';
import { ServiceLocator, type ExtensionHandle, type NodeExtension } from './extension.ts';
import { builtInExtensions } from './extensions.ts';
import { VERSION } from './version.ts';

export interface CreateNodeOptions {
  readonly plugins: readonly Plugin[];
  readonly logger: Logger;
  readonly clock?: Clock;
  /** Subsystems to start; the built-in ones by default. */
  readonly extensions?: readonly NodeExtension[];
  /** Partition routing; one node masters everything by default. */
  readonly router?: PartitionRouter;
}

export interface SlipstreamNode {
  readonly config: NodeConfig;
  readonly kernel: Kernel;
  readonly server: GrpcServer;
  readonly services: ServiceLocator;
  readonly registry: PluginRegistry;
  /** The bound gRPC port (after start). */
  readonly port: number;
  readonly address: string;
  stop(): Promise<void>;
}

/** Builds and starts a node: plugins, namespaces, kernel, subsystems, gRPC. */
export async function createNode(config: NodeConfig, options: CreateNodeOptions): Promise<SlipstreamNode> {
  const logger = options.logger;
  const clock = options.clock ?? systemClock;
  const abort = new AbortController();
  const registry = new PluginRegistry();
  for (const p of options.plugins) registry.register(p);
  const pluginContext = (name: string): PluginContext => ({ nodeId: config.node.id, logger: logger.child({ plugin: name }), clock, signal: abort.signal });

  const extensions = options.extensions ?? builtInExtensions();
  const claimed = new Set(extensions.flatMap((e) => e.sections ?? []));
  for (const section of Object.keys(config.sections)) {
    if (!claimed.has(section)) {
      throw new DbError('PARAMETER', `config: unknown section '${section}'`, { hint: `known sections: node, logLevel, namespaces, transactionPendingLimit${claimed.size > 0 ? `, ${[...claimed].join(', ')}` : ''}` });
    }
  }

  const namespaces: Namespace[] = [];
  const handles: ExtensionHandle[] = [];
  const timers: NodeJS.Timeout[] = [];
  const server = new GrpcServer(logger);
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    abort.abort();
    for (const t of timers) clearInterval(t);
    await server.stop();
    for (const h of handles.reverse()) {
      try { await h.stop?.(); } catch (err) { logger.error({ err }, 'a subsystem failed to stop'); }
    }
    for (const ns of namespaces) {
      try { await ns.engine.close(); } catch (err) { logger.error({ err, namespace: ns.name }, 'a storage engine failed to close'); }
    }
    logger.info('node stopped');
  };

  try {
    for (const nsConfig of config.namespaces) {
      const plugin = registry.get('storage', nsConfig.storage);
      let engine;
      try {
        engine = await plugin.create(pluginContext(plugin.name), nsConfig, nsConfig.storageOptions ?? {});
      } catch (err) {
        const msg = err instanceof Error ? err.message : String(err);
        throw new DbError(err instanceof DbError ? err.code : 'SERVER_ERROR', `namespace '${nsConfig.name}': storage plugin ${plugin.name} failed to open: ${msg}`, { plugin: plugin.name, cause: err, ...(err instanceof DbError && err.hint !== undefined ? { hint: err.hint } : {}) });
      }
      namespaces.push(new Namespace(nsConfig, new GuardedEngine(engine, plugin.name)));
      logger.info({ namespace: nsConfig.name, storage: plugin.name }, 'namespace ready');
    }
    const kernel = new Kernel({
      namespaces,
      clock,
      router: options.router ?? singleNodeRouter(config.node.id),
      logger,
      transactionPendingLimit: config.transactionPendingLimit,
    });
    const services = new ServiceLocator();
    const startedAtMs = Date.now();
    let address = `${config.node.host}:${config.node.port}`;
    server.addService('slipstream.v1.KeyValueService', KeyValueServiceService, keyValueHandlers(kernel, logger));
    server.addService('slipstream.v1.AdminService', AdminServiceService, adminHandlers(kernel, { nodeId: config.node.id, version: VERSION, startedAtMs, address: () => address }, logger));

    for (const ext of extensions) {
      const handle = await ext.start({ nodeId: config.node.id, config, kernel, server, registry, services, logger: logger.child({ subsystem: ext.name }), clock, signal: abort.signal });
      if (handle) handles.push(handle);
    }

    for (const ns of namespaces) {
      if (ns.config.nsupPeriod <= 0) continue;
      const t = setInterval(() => {
        kernel.sweepExpired(ns.name).then(
          (n) => { if (n > 0) logger.debug({ namespace: ns.name, expired: n }, 'expiry sweep'); },
          (err: unknown) => logger.error({ err, namespace: ns.name }, 'expiry sweep failed'),
        );
      }, ns.config.nsupPeriod * 1000);
      t.unref();
      timers.push(t);
    }

    const port = await server.start(config.node.host, config.node.port);
    address = `${config.node.host}:${port}`;
    logger.info({ nodeId: config.node.id.toString(16).toUpperCase(), address, version: VERSION, namespaces: config.namespaces.map((n) => n.name) }, 'node ready');
    return { config, kernel, server, services, registry, port, address, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
