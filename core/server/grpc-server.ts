import { Server, ServerCredentials, type ServiceDefinition, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation } from 'grpc-health-check';
import { loadSync } from '@grpc/proto-loader';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { DbError } from '../errors/index.ts';
import type { Logger } from '../plugin-api/index.ts';
import { ServerMetrics } from './metrics.ts';
import { checkingUnknownFields } from './unknown-fields.ts';
import { NodePort, type PortProtocol } from './node-port.ts';
import { guarded, type SecurityGuard } from './security-guard.ts';
import { ConnectionGate, type ConnectionCounts } from './connection-gate.ts';

const PROTO_ROOT = fileURLToPath(new URL('../../proto', import.meta.url));
const PROTO_DIR = join(PROTO_ROOT, 'slipstream/v1');
const HEALTH_PROTO_ROOT = dirname(dirname(dirname(createRequire(import.meta.url).resolve('grpc-health-check/proto/health/v1/health.proto'))));

/** Largest request or response message, bytes (a 1 MiB record plus headroom). */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

/**
 * grpc-js server options. Channelz (grpc-js's per-call tracing for a channelz service) is
 * off: Slipstream does not serve channelz, and its bookkeeping is on every call. The
 * benchmarks' bare server uses these same options, so it measures the same transport.
 */
export const SERVER_OPTIONS = {
  'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
  'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.enable_channelz': 0,
  /** Streams (calls) at once on one HTTP/2 connection; more wait in the client, not in the node. */
  'grpc.max_concurrent_streams': 256,
} as const;

/** Limits on the client connections of a node's port (`node.limits`). */
export interface ClientConnectionLimits {
  /** Connections open at once (gRPC and Aerospike protocol together; 0: no limit). */
  readonly maxConnections: number;
  /** Connections open at once from one client address (0: no limit). */
  readonly maxConnectionsPerAddress: number;
  /** A connection with no call in flight for this long is closed (0: never). */
  readonly idleTimeoutMs: number;
}

/** Defaults of `node.limits` (Aerospike's `proto-fd-max` is 15,000; it has no per-address limit). */
export const CLIENT_CONNECTION_DEFAULTS: ClientConnectionLimits = { maxConnections: 10_000, maxConnectionsPerAddress: 1_000, idleTimeoutMs: 60_000 };

/**
 * The gRPC server: Slipstream's services plus server reflection and the standard health
 * service, so generic gRPC tools (grpcurl, grpc_health_probe) work against a node.
 */
export class GrpcServer {
  private readonly server: Server;
  private readonly logger: Logger;
  private readonly health = new HealthImplementation({ '': 'NOT_SERVING' });
  /** Call counts and durations of every registered service, and the node's other metrics. */
  readonly metrics = new ServerMetrics();
  private boundPort = 0;
  private serviceNames: string[] = [];
  private readonly port_: NodePort;
  private injector: ReturnType<Server['createConnectionInjector']> | undefined;
  private guard: SecurityGuard | undefined;
  /** Every registered method's rule path, for checks that the access table is complete. */
  readonly methodPaths: string[] = [];

  /** Admission and counts of the port's client connections (both protocols). */
  readonly connections: ConnectionGate;

  constructor(logger: Logger, limits: ClientConnectionLimits = CLIENT_CONNECTION_DEFAULTS) {
    this.logger = logger;
    // grpc-js closes (GOAWAY) a connection that has had no call for max_connection_idle_ms
    this.server = new Server({ ...SERVER_OPTIONS, ...(limits.idleTimeoutMs > 0 ? { 'grpc.max_connection_idle_ms': limits.idleTimeoutMs } : {}) });
    this.connections = new ConnectionGate('service', { maxConnections: limits.maxConnections, maxPerAddress: limits.maxConnectionsPerAddress }, logger);
    this.metrics.addConnectionSource('service', () => this.connections.counts());
    this.port_ = new NodePort((socket) => {
      if (this.injector === undefined) socket.destroy();
      else this.injector.injectConnection(socket);
    }, this.connections, limits.idleTimeoutMs);
  }

  /** The port's connection counts (for statistics). */
  connectionCounts(): ConnectionCounts {
    return this.connections.counts();
  }

  /** Serves another protocol on the same port (told apart by a connection's first byte). */
  addProtocol(protocol: PortProtocol): void {
    this.port_.addProtocol(protocol);
  }

  /** Registers a service; `name` is its full name (slipstream.v1.KeyValueService) for health checks. */
  addService<I extends UntypedServiceImplementation>(name: string, definition: ServiceDefinition<I>, implementation: I): void {
    this.server.addService(checkingUnknownFields(definition), this.metrics.instrument(definition, guarded(definition, implementation, () => this.guard)));
    this.serviceNames.push(name);
    for (const def of Object.values(definition)) this.methodPaths.push(def.path);
  }

  /** Turns access control on: from now on every call of every service passes the guard first. */
  useGuard(guard: SecurityGuard): void {
    this.guard = guard;
  }

  /** The guard, when security is on. */
  get securityGuard(): SecurityGuard | undefined {
    return this.guard;
  }

  /**
   * Starts serving; with `tls` (PEM bytes) the port speaks TLS only, mutual TLS when
   * `requireClientCert`. The port is the node's (NodePort): TLS is terminated there, then
   * gRPC connections are injected into grpc-js as plaintext HTTP/2.
   */
  async start(host: string, port: number, tls?: { readonly cert: Buffer; readonly key: Buffer; readonly ca?: Buffer; readonly requireClientCert: boolean }): Promise<number> {
    // Reflection describes Slipstream's protos and the health service, so grpcurl needs no files.
    const files = [...readdirSync(PROTO_DIR).filter((f) => f.endsWith('.proto')).map((f) => join('slipstream/v1', f)), 'health/v1/health.proto'];
    const definition = loadSync(files, { includeDirs: [PROTO_ROOT, HEALTH_PROTO_ROOT], longs: String, enums: String, defaults: true, oneofs: true });
    new ReflectionService(definition).addToServer(this.server);
    this.health.addToServer(this.server);
    this.injector = this.server.createConnectionInjector(ServerCredentials.createInsecure());
    try {
      this.boundPort = await this.port_.listen(host, port, tls);
    } catch (err) {
      if (err instanceof DbError) throw err;
      throw new DbError('PARAMETER', `node.tls: ${(err as Error).message}`, { hint: 'certFile and keyFile must be PEM files of a certificate and its private key (caFile a PEM CA certificate)', cause: err });
    }
    this.setServing(true);
    this.logger.info({ host, port: this.boundPort, tls: tls === undefined ? false : tls.requireClientCert ? 'mutual' : true }, 'gRPC server listening');
    return this.boundPort;
  }

  setServing(serving: boolean): void {
    const status = serving ? 'SERVING' : 'NOT_SERVING';
    this.health.setStatus('', status);
    for (const name of this.serviceNames) this.health.setStatus(name, status);
  }

  get port(): number {
    return this.boundPort;
  }

  /** Stops accepting calls, lets running calls finish for up to `graceMs`, then cuts them. */
  async stop(graceMs = 5000): Promise<void> {
    this.setServing(false);
    const closed = this.port_.close();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => { this.server.forceShutdown(); resolve(); }, graceMs);
      this.server.tryShutdown(() => { clearTimeout(timer); resolve(); });
    });
    this.port_.destroyAll();
    await closed;
  }
}
