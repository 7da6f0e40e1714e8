/**
 * Prometheus metrics of one node (prom-client, one registry per node): every gRPC call's
 * duration and result, counted where services are registered (GrpcServer.addService), plus
 * whatever the node adds (kernel and namespace gauges, read at scrape time). The hot path
 * costs two clock reads and a few additions per call (prom-client's own Histogram and Counter
 * children hash their labels on every update: ~0.9 µs a call); prom-client turns the counts
 * into the exposition only when Prometheus scrapes. Served over HTTP by MetricsEndpoint (`node.metricsPort`).
 */
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:https';
import { timingSafeEqual } from 'node:crypto';
import { collectDefaultMetrics, Counter, Gauge, Registry, type MetricType } from 'prom-client';
import type { ServiceDefinition, UntypedServiceImplementation } from '@grpc/grpc-js';
import { DbError, resultCodeName } from '../errors/index.ts';
import { RESULT_CODE_HEADER } from '../wire/status.ts';
import { ConnectionGate, type ConnectionCounts } from './connection-gate.ts';
import { wrapMethods } from './wrap-methods.ts';

/** Call durations, seconds: 100 µs to 10 s. */
export const RPC_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The result label of a finished call: OK, a result name (NOT_FOUND, …), or the gRPC status for others. */
function resultOf(err: unknown): string {
  if (err === null || err === undefined) return 'OK';
  const md = (err as { metadata?: { get(k: string): unknown[] } }).metadata;
  const code = md?.get(RESULT_CODE_HEADER)[0];
  const name = typeof code === 'string' ? resultCodeName(Number(code)) : undefined;
  if (name !== undefined) return name;
  const status = (err as { code?: unknown }).code;
  return typeof status === 'number' ? `GRPC_${status}` : 'UNKNOWN';
}

/** One method's counts, kept in plain numbers on the hot path and read at scrape time. */
class MethodStats {
  readonly service: string;
  readonly method: string;
  /** Per bucket of RPC_BUCKETS (not cumulative), then one for above the last bound. */
  readonly buckets = new Float64Array(RPC_BUCKETS.length + 1);
  sum = 0;
  ok = 0;
  readonly failed = new Map<string, number>();
  constructor(service: string, method: string) {
    this.service = service;
    this.method = method;
  }

  record(t0: number, err: unknown): void {
    const s = (performance.now() - t0) / 1000;
    let i = 0;
    while (i < RPC_BUCKETS.length && s > (RPC_BUCKETS[i] as number)) i++;
    this.buckets[i] = (this.buckets[i] as number) + 1;
    this.sum += s;
    if (err === null || err === undefined) {
      this.ok++;
    } else {
      const result = resultOf(err);
      this.failed.set(result, (this.failed.get(result) ?? 0) + 1);
    }
  }
}

/**
 * A histogram whose counts are kept elsewhere (MethodStats) and handed to prom-client at
 * scrape time; prom-client's own Histogram would hash its labels on every observation.
 */
const DURATION_NAME = 'slipstream_rpc_duration_seconds';
const DURATION_HELP = 'gRPC call duration, from the handler being called to the answer (the whole stream for streams).';

class PrecountedHistogram extends Gauge<'service' | 'method'> {
  private readonly source: () => Iterable<MethodStats>;
  constructor(registry: Registry, source: () => Iterable<MethodStats>) {
    super({ name: DURATION_NAME, help: DURATION_HELP, labelNames: ['service', 'method'], registers: [registry] });
    this.source = source;
  }

  override async get(): ReturnType<Gauge<'service' | 'method'>['get']> {
    const values: Array<{ value: number; labels: Record<string, string | number>; metricName: string }> = [];
    for (const m of this.source()) {
      if (m.ok === 0 && m.failed.size === 0) continue; // a method never called has no series
      const labels = { service: m.service, method: m.method };
      let cumulative = 0;
      RPC_BUCKETS.forEach((le, i) => {
        cumulative += m.buckets[i] as number;
        values.push({ value: cumulative, labels: { ...labels, le }, metricName: `${DURATION_NAME}_bucket` });
      });
      cumulative += m.buckets[RPC_BUCKETS.length] as number;
      values.push({ value: cumulative, labels: { ...labels, le: '+Inf' }, metricName: `${DURATION_NAME}_bucket` });
      values.push({ value: m.sum, labels, metricName: `${DURATION_NAME}_sum` });
      values.push({ value: cumulative, labels, metricName: `${DURATION_NAME}_count` });
    }
    // prom-client's exposition takes the type as the text it prints
    return { name: DURATION_NAME, help: DURATION_HELP, type: 'histogram' as unknown as MetricType, aggregator: 'sum', collect: () => undefined, values };
  }
}

export class ServerMetrics {
  readonly registry = new Registry();
  private readonly methods: MethodStats[] = [];
  private readonly connectionSources = new Map<string, () => ConnectionCounts>();

  constructor() {
    const methods = this.methods;
    const sources = this.connectionSources;
    new Gauge({
      name: 'slipstream_client_connections', help: 'Client connections open now, by port (service: gRPC and Aerospike protocol; metrics).', labelNames: ['port'], registers: [this.registry],
      collect() {
        this.reset();
        for (const [port, counts] of sources) this.set({ port }, counts().open);
      },
    });
    new Counter({
      name: 'slipstream_client_connections_total',
      help: 'Client connections by port and event: opened (admitted), closed, refused (over node.limits), idle_closed (closed by the node for being idle).',
      labelNames: ['port', 'event'], registers: [this.registry],
      collect() {
        this.reset();
        for (const [port, counts] of sources) {
          const c = counts();
          this.inc({ port, event: 'opened' }, c.opened);
          this.inc({ port, event: 'closed' }, c.closed);
          this.inc({ port, event: 'refused' }, c.refused);
          this.inc({ port, event: 'idle_closed' }, c.idleClosed);
        }
      },
    });
    new Counter({
      name: 'slipstream_rpc_requests_total', help: 'gRPC calls answered, by service, method and result (OK or the result name).', labelNames: ['service', 'method', 'result'], registers: [this.registry],
      collect() {
        this.reset();
        for (const m of methods) {
          if (m.ok > 0) this.inc({ service: m.service, method: m.method, result: 'OK' }, m.ok);
          for (const [result, n] of m.failed) this.inc({ service: m.service, method: m.method, result }, n);
        }
      },
    });
    new PrecountedHistogram(this.registry, () => methods);
  }

  /**
   * The service's implementation with every unary and server-streaming method measured
   * (labels from the method's path: service `slipstream.v1.KeyValueService`, method `Get`).
   * Other call kinds pass through unchanged.
   */
  instrument<I extends UntypedServiceImplementation>(definition: ServiceDefinition<I>, implementation: I): I {
    const statsOf = (path: string, name: string): MethodStats => {
      const [service = '', method = name] = path.replace(/^\//, '').split('/');
      const stats = new MethodStats(service, method);
      this.methods.push(stats);
      return stats;
    };
    return wrapMethods(definition, implementation, {
      unary: (unary, { path }, name) => {
        const stats = statsOf(path, name);
        return (call, cb) => {
          const t0 = performance.now();
          unary(call, (err, value, trailer, flags) => {
            stats.record(t0, err);
            cb(err, value, trailer, flags);
          });
        };
      },
      serverStream: (stream, { path }, name) => {
        const stats = statsOf(path, name);
        return (call) => {
          const t0 = performance.now();
          let failed: unknown = null;
          let recorded = false;
          const once = (err: unknown): void => {
            if (recorded) return;
            recorded = true;
            stats.record(t0, err);
          };
          call.once('error', (err: unknown) => { failed = err; });
          call.once('finish', () => once(failed));
          call.once('cancelled', () => once(new DbError('SCAN_ABORT', 'cancelled by the client')));
          stream(call);
        };
      },
    });
  }

  /** Reports a port's connection counts in the metrics. */
  addConnectionSource(port: string, counts: () => ConnectionCounts): void {
    this.connectionSources.set(port, counts);
  }

  /** The Prometheus text exposition. */
  async text(): Promise<string> {
    return this.registry.metrics();
  }
}

/** The HTTP endpoint Prometheus scrapes: GET /metrics; anything else is 404. */
/** How the metrics endpoint is protected: a bearer token, TLS with the node's certificate, or both. */
export interface MetricsProtection {
  readonly token?: string;
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer };
}

/** Limits on the metrics port's connections (`node.limits.metricsMaxConnections`; idle as the node's). */
export interface MetricsConnectionLimits {
  readonly maxConnections: number;
  readonly maxPerAddress: number;
  /** A connection with no request for this long is closed (0: Node's defaults). */
  readonly idleTimeoutMs: number;
}

export const METRICS_CONNECTION_DEFAULTS: MetricsConnectionLimits = { maxConnections: 64, maxPerAddress: 16, idleTimeoutMs: 60_000 };

/** The time a scrape request may take to arrive whole (headers, then the whole request). */
const METRICS_HEADERS_TIMEOUT_MS = 10_000;
const METRICS_REQUEST_TIMEOUT_MS = 30_000;

export class MetricsEndpoint {
  private http: HttpServer | undefined;
  private boundPort = 0;
  private readonly metrics: ServerMetrics;
  private protection: MetricsProtection = {};
  private readonly limits: MetricsConnectionLimits;
  /** Admission and counts of the metrics port's connections. */
  readonly connections: ConnectionGate;

  constructor(metrics: ServerMetrics, limits: MetricsConnectionLimits = METRICS_CONNECTION_DEFAULTS) {
    this.metrics = metrics;
    this.limits = limits;
    this.connections = new ConnectionGate('metrics', { maxConnections: limits.maxConnections, maxPerAddress: limits.maxPerAddress });
    metrics.addConnectionSource('metrics', () => this.connections.counts());
    // prom-client's process metrics (slipstream_process_*, slipstream_nodejs_*) watch GC and the
    // event loop from the moment they are registered, so only a node that serves metrics has them
    collectDefaultMetrics({ register: metrics.registry, prefix: 'slipstream_' });
  }

  /** Requires a bearer token and/or serves over TLS; set before `start`. */
  protect(protection: MetricsProtection): void {
    this.protection = protection;
  }

  private authorized(req: IncomingMessage): boolean {
    const token = this.protection.token;
    if (token === undefined) return true;
    const [scheme = '', given = ''] = (req.headers.authorization ?? '').trim().split(/\s+/, 2);
    const a = Buffer.from(given);
    const b = Buffer.from(token);
    return scheme.toLowerCase() === 'bearer' && a.length === b.length && timingSafeEqual(a, b);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: metrics are at GET /metrics\n');
      return;
    }
    if (!this.authorized(req)) {
      res.writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': 'Bearer realm="slipstream metrics"' }).end('unauthorized: send "Authorization: Bearer <token>" (security.metricsTokenFile)\n');
      return;
    }
    this.metrics.text().then(
      (body) => res.writeHead(200, { 'content-type': this.metrics.registry.contentType }).end(body),
      (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${err instanceof Error ? err.message : String(err)}\n`),
    );
  }

  async start(host: string, port: number): Promise<number> {
    const handler = (req: IncomingMessage, res: ServerResponse): void => this.handle(req, res);
    const tls = this.protection.tls;
    const options = { headersTimeout: METRICS_HEADERS_TIMEOUT_MS, requestTimeout: METRICS_REQUEST_TIMEOUT_MS };
    const http: HttpServer = tls === undefined ? createServer(options, handler) : createTlsServer({ ...options, cert: tls.cert, key: tls.key }, handler);
    // admitted before the HTTP server (or TLS) sees the connection: a listener put first
    http.prependListener('connection', (s: Socket) => { this.connections.admit(s); });
    if (this.limits.idleTimeoutMs > 0) {
      http.keepAliveTimeout = Math.min(5000, this.limits.idleTimeoutMs);
      http.timeout = this.limits.idleTimeoutMs;
      http.on('timeout', (s: Socket) => { this.connections.countIdleClose(); s.destroy(); });
    }
    this.http = http;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(new DbError('SERVER_ERROR', `cannot serve metrics on ${host}:${port}: ${err.message}`, { hint: 'choose another node.metricsPort (or --metrics-port), or stop the process using it', cause: err }));
      http.once('error', onError);
      http.listen(port, host, () => { http.off('error', onError); resolve(); });
    });
    const addr = http.address();
    this.boundPort = typeof addr === 'object' && addr !== null ? addr.port : port;
    return this.boundPort;
  }

  get port(): number {
    return this.boundPort;
  }

  stop(): Promise<void> {
    const http = this.http;
    if (http === undefined) return Promise.resolve();
    return new Promise((resolve) => {
      http.close(() => resolve());
      http.closeAllConnections();
    });
  }
}
