/**
 * The `cluster` section of a node's configuration, validated with errors that say what is
 * wrong and what to do. Defaults follow Aerospike: heartbeat every 150 ms, a node is dead
 * after 10 missed intervals, and the clustering quantum is derived from those.
 */
import { DbError } from '../plugin-api/index.ts';
import type { NodeId } from '../plugin-api/index.ts';
import { parseAddress } from './transport.ts';
import { TCP_TRANSPORT_DEFAULTS } from './tcp-transport.ts';

export interface ClusterConfig {
  readonly nodeId: NodeId;
  readonly clusterName: string;
  readonly rackId: number;
  readonly zoneId: number;
  readonly heartbeat: { readonly address: string; readonly intervalMs: number; readonly timeout: number };
  readonly fabric: { readonly address: string };
  /** Heartbeat addresses of other nodes to contact first ("host:port"). */
  readonly seeds: readonly string[];
  /** Ms between clustering decisions (Aerospike's quantum). */
  readonly quantumMs: number;
  readonly replication: { readonly strategy: string; readonly options: Readonly<Record<string, unknown>> };
  readonly retransmit: { readonly strategy: string; readonly options: Readonly<Record<string, unknown>> };
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

function int(v: unknown, where: string, fallback: number, min: number, max: number): number {
  const n = v ?? fallback;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    fail(where, `expected an integer from ${min} to ${max}, got ${JSON.stringify(n)}`, `Remove it to use the default (${fallback})`);
  }
  return n;
}

function pluginChoice(v: unknown, where: string, kind: string, fallback: string): { strategy: string; options: Record<string, unknown> } {
  if (v === undefined) return { strategy: fallback, options: {} };
  if (typeof v === 'string') return { strategy: v, options: {} };
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    fail(where, `expected a plugin name or {"strategy": "...", "options": {...}}`, `e.g. "${fallback}"`);
  }
  const o = v as Record<string, unknown>;
  const strategy = o['strategy'] ?? fallback;
  if (typeof strategy !== 'string' || !strategy.startsWith(`${kind}-`)) {
    fail(`${where}.strategy`, `expected a ${kind} plugin name, got ${JSON.stringify(strategy)}`, `Plugin names start with "${kind}-", e.g. "${fallback}"`);
  }
  const options = o['options'] ?? {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) fail(`${where}.options`, 'expected an object', 'Use {} for no options');
  return { strategy, options: options as Record<string, unknown> };
}

const KNOWN_KEYS = new Set(['nodeId', 'clusterName', 'rackId', 'zoneId', 'heartbeat', 'fabric', 'seeds', 'quantumMs', 'replication', 'retransmit', 'limits']);

export function validateClusterConfig(raw: unknown, where = 'cluster'): ClusterConfig {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) fail(where, 'expected an object', 'See docs/cluster.md for the cluster section');
  const o = raw as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!KNOWN_KEYS.has(k)) fail(`${where}.${k}`, 'unknown setting', `Known settings: ${[...KNOWN_KEYS].join(', ')}`);
  }
  const nodeId = parseNodeId(o['nodeId'], `${where}.nodeId`);
  const clusterName = o['clusterName'] ?? CLUSTER_DEFAULTS.clusterName;
  if (typeof clusterName !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(clusterName)) {
    fail(`${where}.clusterName`, `expected 1-64 letters, digits, '_', '.', '-', got ${JSON.stringify(clusterName)}`, 'Nodes with the same cluster name form one cluster');
  }
  const rackId = int(o['rackId'], `${where}.rackId`, 0, 0, 1_000_000);
  const zoneId = int(o['zoneId'], `${where}.zoneId`, 0, 0, 1_000_000);
  const hb = (o['heartbeat'] ?? {}) as Record<string, unknown>;
  if (typeof hb !== 'object' || hb === null) fail(`${where}.heartbeat`, 'expected an object', 'e.g. {"address": "127.0.0.1:3002"}');
  const intervalMs = int(hb['intervalMs'], `${where}.heartbeat.intervalMs`, CLUSTER_DEFAULTS.heartbeatIntervalMs, 10, 600_000);
  const timeout = int(hb['timeout'], `${where}.heartbeat.timeout`, CLUSTER_DEFAULTS.heartbeatTimeout, 3, 1000);
  const hbAddress = address(hb['address'], `${where}.heartbeat.address`, CLUSTER_DEFAULTS.heartbeatAddress);
  const fab = (o['fabric'] ?? {}) as Record<string, unknown>;
  if (typeof fab !== 'object' || fab === null) fail(`${where}.fabric`, 'expected an object', 'e.g. {"address": "127.0.0.1:3001"}');
  const fabricAddress = address(fab['address'], `${where}.fabric.address`, CLUSTER_DEFAULTS.fabricAddress);
  const h = parseAddress(hbAddress);
  const f = parseAddress(fabricAddress);
  if (h !== undefined && f !== undefined && h.port !== 0 && h.host === f.host && h.port === f.port) {
    fail(`${where}.fabric.address`, `fabric and heartbeat both use ${fabricAddress}`, 'Give the fabric and the heartbeat different ports');
  }
  const seedsRaw = o['seeds'] ?? [];
  if (!Array.isArray(seedsRaw)) fail(`${where}.seeds`, 'expected a list of "host:port"', 'e.g. ["10.0.0.2:3002"]');
  const seeds = seedsRaw.map((s, i) => address(s, `${where}.seeds[${i}]`, ''));
  const dup = seeds.find((s, i) => seeds.indexOf(s) !== i);
  if (dup !== undefined) fail(`${where}.seeds`, `${dup} is listed twice`, 'List each seed once');
  const quantumMs = int(o['quantumMs'], `${where}.quantumMs`, defaultQuantumMs(intervalMs, timeout), 2 * intervalMs, 3_600_000);
  const lim = (o['limits'] ?? {}) as Record<string, unknown>;
  if (typeof lim !== 'object' || lim === null || Array.isArray(lim)) fail(`${where}.limits`, 'expected an object', 'e.g. {"maxConnections": 256}');
  const LIMIT_KEYS = ['maxConnections', 'frameTimeoutMs', 'idleTimeoutMs', 'maxBufferedBytes'];
  for (const k of Object.keys(lim)) if (!LIMIT_KEYS.includes(k)) fail(`${where}.limits.${k}`, 'unknown setting', `Known settings: ${LIMIT_KEYS.join(', ')}`);
  const D = TCP_TRANSPORT_DEFAULTS;
  const limits = {
    maxConnections: int(lim['maxConnections'], `${where}.limits.maxConnections`, D.maxConnections, 4, 65_536),
    frameTimeoutMs: int(lim['frameTimeoutMs'], `${where}.limits.frameTimeoutMs`, D.frameTimeoutMs, 100, 600_000),
    idleTimeoutMs: int(lim['idleTimeoutMs'], `${where}.limits.idleTimeoutMs`, D.idleTimeoutMs, 1000, 86_400_000),
    maxBufferedBytes: int(lim['maxBufferedBytes'], `${where}.limits.maxBufferedBytes`, D.maxBufferedBytes, 1 << 20, 2 ** 40),
  };
  return {
    limits,
    nodeId, clusterName, rackId, zoneId,
    heartbeat: { address: hbAddress, intervalMs, timeout },
    fabric: { address: fabricAddress },
    seeds, quantumMs,
    replication: pluginChoice(o['replication'], `${where}.replication`, 'replication', CLUSTER_DEFAULTS.replication),
    retransmit: pluginChoice(o['retransmit'], `${where}.retransmit`, 'retransmit', CLUSTER_DEFAULTS.retransmit),
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
