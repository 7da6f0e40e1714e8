import type { Clock, Logger } from '../plugin-api/index.ts';
import type { Kernel } from '../transaction/kernel.ts';
import type { GrpcServer } from '../server/grpc-server.ts';
import type { NodeConfig } from './config.ts';
import type { PluginRegistry } from './plugin-registry.ts';
import type { SystemMetadataStore } from '../storage/system-metadata.ts';

/** A typed key for an object one subsystem provides to others (the UDF engine, the index manager…). */
export interface ServiceKey<T> {
  readonly name: string;
  /** Phantom field carrying T; never set. */
  readonly __type?: T;
}

export function serviceKey<T>(name: string): ServiceKey<T> {
  return { name };
}

/** Objects shared between subsystems of one node. */
export class ServiceLocator {
  private readonly services = new Map<string, unknown>();
  provide<T>(key: ServiceKey<T>, value: T): void {
    if (this.services.has(key.name)) throw new Error(`service ${key.name} is provided twice`);
    this.services.set(key.name, value);
  }
  get<T>(key: ServiceKey<T>): T | undefined {
    return this.services.get(key.name) as T | undefined;
  }
  require<T>(key: ServiceKey<T>): T {
    const v = this.get(key);
    if (v === undefined) throw new Error(`service ${key.name} is not available on this node`);
    return v;
  }
}

export interface ExtensionContext {
  readonly nodeId: bigint;
  readonly config: NodeConfig;
  readonly kernel: Kernel;
  readonly server: GrpcServer;
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
  /** Called once when the node stops, in reverse start order. */
  stop?(): Promise<void>;
}

/**
 * A subsystem of the node (UDFs, indexes, AQL, the cluster): started in order after the
 * kernel exists and before the gRPC port opens, stopped in reverse order.
 */
export interface NodeExtension {
  readonly name: string;
  /** Top-level config sections this extension reads; any other unknown section is an error. */
  readonly sections?: readonly string[];
  start(ctx: ExtensionContext): Promise<ExtensionHandle | void>;
}
