import type { Clock, JsonSchema, Logger } from '../plugin-api/index.ts';
import type { Kernel } from '../transaction/kernel.ts';
import type { GrpcServer } from '../server/grpc-server.ts';
import type { MetricsEndpoint } from '../server/metrics.ts';
import type { NodeConfig } from './config.ts';
import type { PluginRegistry } from './plugin-registry.ts';
import type { SystemMetadataStore } from '../storage/system-metadata.ts';

import type { ServiceLocator } from '../services/index.ts';

export interface ExtensionContext {
  readonly nodeId: bigint;
  readonly config: NodeConfig;
  readonly kernel: Kernel;
  readonly server: GrpcServer;
  /** The Prometheus endpoint, when `node.metricsPort` is set (not yet listening). */
  readonly metricsEndpoint: MetricsEndpoint | undefined;
  readonly registry: PluginRegistry;
  readonly services: ServiceLocator;
  /** The node's system metadata (index definitions, UDF modules, …): durable when a namespace is. */
  readonly systemMetadata: SystemMetadataStore;
  readonly logger: Logger;
  readonly clock: Clock;
  /** Aborted when the node stops. */
  readonly signal: AbortSignal;
}

export interface ExtensionHandle {
  /**
   * Called once when the node is asked to stop gracefully (SIGTERM, SIGINT), before anything
   * stops, in reverse start order: hand work over (the cluster leaves), while the node still
   * serves. Bounded by the extension itself.
   */
  leave?(): Promise<void>;
  /** Called once when the node stops, in reverse start order. */
  stop?(): Promise<void>;
}

/**
 * A subsystem of the node (storage maintenance, UDFs, indexes, AQL, the cluster): started
 * after the kernel exists and before the gRPC port opens, dependencies first (`dependsOn`),
 * stopped in reverse order.
 */
export interface NodeExtension {
  readonly name: string;
  /**
   * Extensions that must have started before this one (by name). The node starts extensions
   * in an order that honours these (otherwise in the order given); a name the node does not
   * start, or a cycle, is an error at start.
   */
  readonly dependsOn?: readonly string[];
  /** Top-level config sections this extension reads; any other unknown section is an error. */
  readonly sections?: readonly string[];
  /** JSON Schemas of those sections, for the configuration's JSON Schema (editors). */
  readonly schemas?: Readonly<Record<string, JsonSchema>>;
  start(ctx: ExtensionContext): Promise<ExtensionHandle | void>;
}
