/**
 * The `cluster` section of a node's configuration, validated with errors that say what is
 * wrong and what to do. Defaults follow Aerospike: heartbeat every 150 ms, a node is dead
 * after 10 missed intervals, and the clustering quantum is derived from those.
 */
import { DbError } from '../plugin-api/index.ts';
import type { NodeId } from '../plugin-api/index.ts';
import { parseAddress } from './transport.ts';
import { TCP_TRANSPORT_DEFAULTS } from './tcp-transport.ts';
import { Type, checkSchema, type Static } from '../schema/index.ts';

export interface ClusterConfig {
  readonly nodeId: NodeId;
  readonly clusterName: string;
  readonly rackId: number;
  readonly zoneId: number;
  /**
   * `address` is where the port listens; `accessAddress` (default: the bound address) is what
   * peers are told to use to reach it — behind NAT, a port forward or a relay.
   */
  readonly heartbeat: { readonly address: string; readonly accessAddress?: string; readonly intervalMs: number; readonly timeout: number };
  readonly fabric: { readonly address: string; readonly accessAddress?: string };
  /** Heartbeat addresses of other nodes to contact first ("host:port"). */
  readonly seeds: readonly string[];
  /** Ms between clustering decisions (Aerospike's quantum). */
  readonly quantumMs: number;
  readonly replication: { readonly strategy: string; readonly options: Readonly<Record<string, unknown>> };
  readonly retransmit: { readonly strategy: string; readonly options: Readonly<Record<string, unknown>> };
  /** Per-node migration limits (changeable while the node runs). */
  readonly migration: { readonly maxIncoming: number; readonly recordsPerSecond: number };
  /** Time every replica has to confirm a write before it fails TIMEOUT in doubt (changeable while the node runs). */
  readonly replicaWriteTimeoutMs: number;
  /**
   * A node stopped with SIGTERM/SIGINT leaves gracefully: it waits up to `handOverWaitMs` for the
   * others to take over its partitions (quiesce and migrations), announces its departure, and
   * keeps serving (proxying to the new owners) for `drainMs` after the cluster re-formed without it.
   */
  readonly leave: { readonly handOverWaitMs: number; readonly drainMs: number };
  /** What one peer (or anyone reaching the heartbeat and fabric ports) can make the node hold. */
  readonly limits: {
    readonly maxConnections: number;
    readonly frameTimeoutMs: number;
    readonly idleTimeoutMs: number;
    readonly maxBufferedBytes: number;
  };
}

export const CLUSTER_DEFAULTS = {
  clusterName: 'slipstream',
  heartbeatIntervalMs: 150,
  heartbeatTimeout: 10,
  heartbeatAddress: '127.0.0.1:3002',
  fabricAddress: '127.0.0.1:3001',
  replication: 'replication-global-key',
  retransmit: 'retransmit-basic',
  migrationMaxIncoming: 4,
  migrationRecordsPerSecond: 0,
  replicaWriteTimeoutMs: 1000,
  leaveHandOverWaitMs: 30_000,
  leaveDrainMs: 1500,
} as const;

/**
 * Aerospike's quantum: max(4·rtt, min(max(5000, 2·interval), interval·timeout + 2·(interval + latency))),
 * with fabric latency 5 ms and rtt 10 ms — 1810 ms with the defaults.
 */
export function defaultQuantumMs(intervalMs: number, timeout: number, fabricLatencyMaxMs = 5): number {
  const rttMax = 2 * fabricLatencyMaxMs;
  return Math.max(4 * rttMax, Math.min(Math.max(5000, 2 * intervalMs), intervalMs * timeout + 2 * (intervalMs + fabricLatencyMaxMs)));
}

function fail(where: string, message: string, hint: string): never {
  throw new DbError('PARAMETER', `${where}: ${message}`, { hint });
}

/** Node ids: a bigint, a non-negative safe integer, or a hex string (optionally 0x-prefixed), 1 .. 2^64−1. */
export function parseNodeId(v: unknown, where = 'cluster.nodeId'): NodeId {
  let id: bigint | undefined;
  if (typeof v === 'bigint') id = v;
  else if (typeof v === 'number' && Number.isSafeInteger(v)) id = BigInt(v);
  else if (typeof v === 'string' && /^(0x)?[0-9a-fA-F]{1,16}$/.test(v)) id = BigInt(v.startsWith('0x') ? v : `0x${v}`);
  if (id === undefined || id <= 0n || id >= 1n << 64n) {
    fail(where, `node id must be a non-zero 64-bit number (hex string like "A1" or an integer), got ${JSON.stringify(typeof v === 'bigint' ? v.toString() : v)}`,
      'Give every node a distinct explicit id, e.g. "nodeId": "A1"');
  }
  return id;
}

function address(v: unknown, where: string, fallback: string): string {
  const s = v ?? fallback;
  if (typeof s !== 'string' || parseAddress(s) === undefined) {
    fail(where, `expected "host:port" with a port 0-65535, got ${JSON.stringify(s)}`, 'Use e.g. "127.0.0.1:3002" (port 0 picks a free port)');
  }
  return s;
}

const choice = (kind: string, fallback: string) => Type.Union([
  Type.String({ pattern: `^${kind}-`, description: `a ${kind} plugin name`, hint: `Plugin names start with "${kind}-", e.g. "${fallback}"` }),
  Type.Object({
    strategy: Type.Optional(Type.String({ pattern: `^${kind}-`, hint: `Plugin names start with "${kind}-", e.g. "${fallback}"` })),
    options: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: "the plugin's options (its schema: SHOW PLUGINS)" })),
  }, { additionalProperties: false, title: `${kind} choice` }),
], { hint: `a plugin name or {"strategy": "...", "options": {...}}, e.g. "${fallback}"; plugin names start with "${kind}-"` });

const ms = (min: number, max: number, def: number | undefined, description: string) => Type.Integer({ minimum: min, maximum: max, ...(def === undefined ? {} : { default: def }), description });

/** The `cluster` section. */
export const clusterSchema = Type.Object({
  nodeId: Type.Optional(Type.Unknown({ description: 'node id (default: node.id); a hex string like "A1" or an integer' })),
  clusterName: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$', default: CLUSTER_DEFAULTS.clusterName, description: 'nodes with the same cluster name form one cluster', hint: "use 1-64 letters, digits, '_', '.', '-'" })),
  rackId: Type.Optional(ms(0, 1_000_000, 0, 'rack of this node (copies avoid sharing racks with rack-aware strategies)')),
  zoneId: Type.Optional(ms(0, 1_000_000, 0, 'zone of this node')),
  heartbeat: Type.Optional(Type.Object({
    address: Type.Optional(Type.String({ default: CLUSTER_DEFAULTS.heartbeatAddress, description: '"host:port" of the heartbeat (port 0: any free port)' })),
    accessAddress: Type.Optional(Type.String({ description: '"host:port" peers use to reach the heartbeat when it differs from address (NAT, port forward, relay)' })),
    intervalMs: Type.Optional(ms(10, 600_000, CLUSTER_DEFAULTS.heartbeatIntervalMs, 'milliseconds between heartbeats')),
    timeout: Type.Optional(ms(3, 1000, CLUSTER_DEFAULTS.heartbeatTimeout, 'missed intervals after which a peer is dead')),
  }, { additionalProperties: false, title: 'heartbeat' })),
  fabric: Type.Optional(Type.Object({
    address: Type.Optional(Type.String({ default: CLUSTER_DEFAULTS.fabricAddress, description: '"host:port" of the fabric (port 0: any free port)' })),
    accessAddress: Type.Optional(Type.String({ description: '"host:port" peers use to reach the fabric when it differs from address (NAT, port forward, relay)' })),
  }, { additionalProperties: false, title: 'fabric' })),
  seeds: Type.Optional(Type.Array(Type.String(), { description: 'heartbeat addresses of other nodes to contact first', hint: 'e.g. ["10.0.0.2:3002"]' })),
  quantumMs: Type.Optional(ms(20, 3_600_000, undefined, "milliseconds between clustering decisions (default: Aerospike's formula)")),
  replication: Type.Optional(choice('replication', CLUSTER_DEFAULTS.replication)),
  retransmit: Type.Optional(choice('retransmit', CLUSTER_DEFAULTS.retransmit)),
  migration: Type.Optional(Type.Object({
    maxIncoming: Type.Optional(ms(1, 64, CLUSTER_DEFAULTS.migrationMaxIncoming, 'source streams a node pulls at once when it fills partitions: one per source node, or each source split into runs when there are fewer sources (Aerospike: migrate-max-num-incoming)')),
    recordsPerSecond: Type.Optional(ms(0, 100_000_000, CLUSTER_DEFAULTS.migrationRecordsPerSecond, 'records a node takes in per second by migration, 0 for no limit')),
  }, { additionalProperties: false, title: 'migration limits', hint: 'e.g. {"maxIncoming": 4, "recordsPerSecond": 20000}' })),
  replicaWriteTimeoutMs: Type.Optional(ms(10, 600_000, CLUSTER_DEFAULTS.replicaWriteTimeoutMs, 'time every replica has to confirm a write before the write fails TIMEOUT in doubt')),
  leave: Type.Optional(Type.Object({
    handOverWaitMs: Type.Optional(ms(0, 86_400_000, CLUSTER_DEFAULTS.leaveHandOverWaitMs, 'longest time a stopping node waits for the others to take over its partitions (quiesce, migrations) before it leaves anyway')),
    drainMs: Type.Optional(ms(0, 600_000, CLUSTER_DEFAULTS.leaveDrainMs, 'how long a stopping node keeps serving (proxying to the new owners) after the cluster re-formed without it, for clients to learn the new map')),
  }, { additionalProperties: false, title: 'graceful leave', hint: 'e.g. {"handOverWaitMs": 30000, "drainMs": 1500}' })),
  limits: Type.Optional(Type.Object({
    maxConnections: Type.Optional(ms(4, 65_536, TCP_TRANSPORT_DEFAULTS.maxConnections, 'most fabric/heartbeat connections accepted')),
    frameTimeoutMs: Type.Optional(ms(100, 600_000, TCP_TRANSPORT_DEFAULTS.frameTimeoutMs, 'longest time to read one frame')),
    idleTimeoutMs: Type.Optional(ms(1000, 86_400_000, TCP_TRANSPORT_DEFAULTS.idleTimeoutMs, 'idle connections are closed after this')),
    maxBufferedBytes: Type.Optional(ms(1 << 20, 2 ** 40, TCP_TRANSPORT_DEFAULTS.maxBufferedBytes, 'most bytes buffered across connections')),
  }, { additionalProperties: false, title: 'cluster limits', hint: 'e.g. {"maxConnections": 256}' })),
}, { additionalProperties: false, title: 'cluster', hint: 'See docs/cluster.md for the cluster section' });

type ClusterSection = Static<typeof clusterSchema>;

function pluginChoice(v: ClusterSection['replication'], fallback: string): { strategy: string; options: Record<string, unknown> } {
  if (v === undefined) return { strategy: fallback, options: {} };
  if (typeof v === 'string') return { strategy: v, options: {} };
  return { strategy: v.strategy ?? fallback, options: (v.options ?? {}) as Record<string, unknown> };
}

export function validateClusterConfig(raw: unknown, where = 'cluster'): ClusterConfig {
  checkSchema(clusterSchema, raw, where);
  const o = raw as ClusterSection;
  const nodeId = parseNodeId(o.nodeId, `${where}.nodeId`);
  const clusterName = o.clusterName ?? CLUSTER_DEFAULTS.clusterName;
  const intervalMs = o.heartbeat?.intervalMs ?? CLUSTER_DEFAULTS.heartbeatIntervalMs;
  const timeout = o.heartbeat?.timeout ?? CLUSTER_DEFAULTS.heartbeatTimeout;
  const hbAddress = address(o.heartbeat?.address, `${where}.heartbeat.address`, CLUSTER_DEFAULTS.heartbeatAddress);
  const fabricAddress = address(o.fabric?.address, `${where}.fabric.address`, CLUSTER_DEFAULTS.fabricAddress);
  const access = (v: string | undefined, where2: string): string | undefined => {
    if (v === undefined) return undefined;
    const a = parseAddress(address(v, where2, ''));
    if (a?.port === 0) fail(where2, `an access address needs a real port, got ${JSON.stringify(v)}`, 'Give the host:port peers connect to, e.g. "203.0.113.7:3002"');
    return v;
  };
  const hbAccess = access(o.heartbeat?.accessAddress, `${where}.heartbeat.accessAddress`);
  const fabricAccess = access(o.fabric?.accessAddress, `${where}.fabric.accessAddress`);
  const h = parseAddress(hbAddress);
  const f = parseAddress(fabricAddress);
  if (h !== undefined && f !== undefined && h.port !== 0 && h.host === f.host && h.port === f.port) {
    fail(`${where}.fabric.address`, `fabric and heartbeat both use ${fabricAddress}`, 'Give the fabric and the heartbeat different ports');
  }
  const seeds = (o.seeds ?? []).map((s, i) => address(s, `${where}.seeds[${i}]`, ''));
  const dup = seeds.find((s, i) => seeds.indexOf(s) !== i);
  if (dup !== undefined) fail(`${where}.seeds`, `${dup} is listed twice`, 'List each seed once');
  const quantumMs = o.quantumMs ?? defaultQuantumMs(intervalMs, timeout);
  if (quantumMs < 2 * intervalMs) fail(`${where}.quantumMs`, `must be at least twice heartbeat.intervalMs (${2 * intervalMs}), got ${quantumMs}`, 'Remove it to use the default');
  const D = TCP_TRANSPORT_DEFAULTS;
  const limits = {
    maxConnections: o.limits?.maxConnections ?? D.maxConnections,
    frameTimeoutMs: o.limits?.frameTimeoutMs ?? D.frameTimeoutMs,
    idleTimeoutMs: o.limits?.idleTimeoutMs ?? D.idleTimeoutMs,
    maxBufferedBytes: o.limits?.maxBufferedBytes ?? D.maxBufferedBytes,
  };
  return {
    limits,
    nodeId, clusterName, rackId: o.rackId ?? 0, zoneId: o.zoneId ?? 0,
    heartbeat: { address: hbAddress, ...(hbAccess === undefined ? {} : { accessAddress: hbAccess }), intervalMs, timeout },
    fabric: { address: fabricAddress, ...(fabricAccess === undefined ? {} : { accessAddress: fabricAccess }) },
    seeds, quantumMs,
    replication: pluginChoice(o.replication, CLUSTER_DEFAULTS.replication),
    retransmit: pluginChoice(o.retransmit, CLUSTER_DEFAULTS.retransmit),
    migration: {
      maxIncoming: o.migration?.maxIncoming ?? CLUSTER_DEFAULTS.migrationMaxIncoming,
      recordsPerSecond: o.migration?.recordsPerSecond ?? CLUSTER_DEFAULTS.migrationRecordsPerSecond,
    },
    replicaWriteTimeoutMs: o.replicaWriteTimeoutMs ?? CLUSTER_DEFAULTS.replicaWriteTimeoutMs,
    leave: {
      handOverWaitMs: o.leave?.handOverWaitMs ?? CLUSTER_DEFAULTS.leaveHandOverWaitMs,
      drainMs: o.leave?.drainMs ?? CLUSTER_DEFAULTS.leaveDrainMs,
    },
  };
}

/** Checks several nodes meant to run together (e.g. a local cluster): distinct ids and ports. */
export function validateClusterLayout(nodes: readonly ClusterConfig[]): void {
  const ids = new Map<NodeId, number>();
  const ports = new Map<string, string>();
  nodes.forEach((n, i) => {
    const prev = ids.get(n.nodeId);
    if (prev !== undefined) {
      fail(`nodes[${i}].cluster.nodeId`, `node id ${n.nodeId.toString(16).toUpperCase()} is also used by nodes[${prev}]`, 'Every node needs its own id');
    }
    ids.set(n.nodeId, i);
    for (const [what, addr] of [['heartbeat', n.heartbeat.address], ['fabric', n.fabric.address]] as const) {
      const a = parseAddress(addr);
      if (a === undefined || a.port === 0) continue;
      const key = `${a.host}:${a.port}`;
      const other = ports.get(key);
      if (other !== undefined) fail(`nodes[${i}].cluster.${what}.address`, `${key} is also used by ${other}`, 'Give every node its own ports');
      ports.set(key, `nodes[${i}].cluster.${what}`);
    }
  });
}
