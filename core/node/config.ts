import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { createHash } from 'node:crypto';
import { DbError } from '../errors/index.ts';
import { checkNamespaceName, NAMESPACE_DEFAULTS, type NamespaceConfig } from '../model/index.ts';
import { evictionSchema, parseEvictionConfig } from '../storage/eviction.ts';
import { tombRaiderSchema } from '../storage/eviction-tombstones.ts';
import { Type, checkSchema, type Static } from '../schema/index.ts';
import { resolve } from 'node:path';
import type { PluginSpec } from './plugin-loader.ts';

export interface NodeSection {
  /** 64-bit node id. In files: a hex string ("A1B2") or a number. */
  readonly id: bigint;
  readonly host: string;
  readonly port: number;
  /** Folder for durable data and system metadata. */
  readonly dataDir: string;
  /** Port of the Prometheus metrics endpoint (HTTP GET /metrics on `host`); absent: not served. 0: any free port. */
  readonly metricsPort?: number;
  /** TLS for the gRPC port; absent: plaintext. */
  readonly tls?: TlsConfig;
  /** Client connection limits of the node's port and its metrics port. */
  readonly limits: NodeLimits;
}

/** `node.limits`: how many client connections the node takes and how long an idle one stays. */
export interface NodeLimits {
  /** Connections open at once on the node's port, gRPC and Aerospike protocol together (0: no limit). */
  readonly maxConnections: number;
  /** … from one client address (0: no limit). */
  readonly maxConnectionsPerAddress: number;
  /** A connection with no request in flight for this long is closed (0: never). */
  readonly idleTimeoutMs: number;
  /** Connections open at once on the metrics port. */
  readonly metricsMaxConnections: number;
  /** Scans, queries and aggregations working at once (others wait their turn; Aerospike's query-threads-limit). */
  readonly scanTurns: number;
  /** Longest a scan works before requests that arrived meanwhile are served, ms. */
  readonly scanSliceMs: number;
}

export const NODE_LIMIT_DEFAULTS: NodeLimits = { maxConnections: 10_000, maxConnectionsPerAddress: 1_000, idleTimeoutMs: 60_000, metricsMaxConnections: 64, scanTurns: 4, scanSliceMs: 4 };

/** PEM files for the gRPC server's TLS (paths as given, relative to the working directory). */
export interface TlsConfig {
  readonly certFile: string;
  readonly keyFile: string;
  /** CA that signs client certificates; with requireClientCert, clients must present one (mutual TLS). */
  readonly caFile?: string;
  readonly requireClientCert: boolean;
}

export interface NodeConfig {
  readonly node: NodeSection;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  readonly namespaces: readonly NamespaceConfig[];
  /** Record transactions allowed to wait on one key before KEY_BUSY. */
  readonly transactionPendingLimit: number;
  /** Plugins to load besides the built-in ones (config "plugins" and --plugin). */
  readonly plugins: readonly PluginSpec[];
  /** Sections owned by subsystems (cluster, udf, …), validated by them. */
  readonly sections: Readonly<Record<string, unknown>>;
}

/**
 * The embedded default: one node on 127.0.0.1:3000 with the in-memory namespace `test` and the
 * durable namespace `bar` (LMDB; a relative storageOptions.dataDir is under node.dataDir: ./data/bar).
 */
export const DEFAULT_CONFIG_TEXT = {
  node: { host: '127.0.0.1', port: 3000, dataDir: './data' },
  logLevel: 'info',
  namespaces: [
    { name: 'test', storage: 'storage-memory', defaultTtl: 0 },
    { name: 'bar', storage: 'storage-lmdb', defaultTtl: 0, storageOptions: { dataDir: 'bar', commit: 'sync' } },
  ],
} as const;

function fail(path: string, msg: string, hint?: string): never {
  throw new DbError('PARAMETER', `config ${path}: ${msg}`, hint === undefined ? {} : { hint });
}

export function parseNodeId(v: unknown, path = 'node.id'): bigint {
  let id: bigint;
  if (typeof v === 'number' && Number.isSafeInteger(v)) id = BigInt(v);
  else if (typeof v === 'string' && /^(0x)?[0-9a-fA-F]{1,16}$/.test(v)) id = BigInt(v.startsWith('0x') ? v : `0x${v}`);
  else fail(path, `must be a hex string of up to 16 digits or a number, got ${JSON.stringify(v)}`, 'for example "A1" or "BB9040011AC4202"');
  if (id === 0n) fail(path, 'must not be 0');
  return id;
}

/** A stable default node id from the host name and port (as Aerospike derives one from MAC and port). */
function defaultNodeId(host: string, port: number): bigint {
  const h = createHash('sha256').update(`${hostname()}|${host}|${port}`).digest();
  return (h.readBigUInt64BE(0) & 0x7fffffffffffffffn) | 1n;
}

/** TLS after the schema check: the settings that depend on each other. */
function parseTls(raw: unknown): TlsConfig | undefined {
  if (raw === undefined || raw === null) return undefined;
  const o = raw as Partial<TlsConfig>;
  if (o.certFile === undefined || o.keyFile === undefined) fail('node.tls', 'needs certFile and keyFile', 'give the PEM files of the server certificate and its private key');
  const requireClientCert = o.requireClientCert ?? false;
  if (requireClientCert && o.caFile === undefined) fail('node.tls.requireClientCert', 'needs caFile, the CA that signs client certificates');
  return { certFile: o.certFile, keyFile: o.keyFile, ...(o.caFile === undefined ? {} : { caFile: o.caFile }), requireClientCert };
}

const hexId = Type.Union([
  Type.String({ pattern: '^(0x)?[0-9a-fA-F]{1,16}$' }),
  Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
], { description: '64-bit node id: a hex string of up to 16 digits, or a number', hint: 'for example "A1" or "BB9040011AC4202"' });

const tlsSchema = Type.Object({
  certFile: Type.Optional(Type.String({ minLength: 1, description: 'PEM file of the server certificate' })),
  keyFile: Type.Optional(Type.String({ minLength: 1, description: 'PEM file of its private key' })),
  caFile: Type.Optional(Type.String({ minLength: 1, description: 'PEM file of the CA that signs client certificates' })),
  requireClientCert: Type.Optional(Type.Boolean({ default: false, description: 'require client certificates (mutual TLS; needs caFile)' })),
}, { additionalProperties: false, title: 'TLS', hint: 'for example { "certFile": "server.pem", "keyFile": "server.key" }' });

const port = (def: number | undefined, description: string) => Type.Integer({ minimum: 0, maximum: 65535, ...(def === undefined ? {} : { default: def }), description });

const nodeSchema = Type.Object({
  id: Type.Optional(hexId),
  host: Type.Optional(Type.String({ minLength: 1, default: '127.0.0.1', description: 'address to listen on' })),
  port: Type.Optional(port(3000, 'gRPC port (0: any free port)')),
  dataDir: Type.Optional(Type.String({ minLength: 1, default: './data', description: 'folder for durable data and system metadata' })),
  metricsPort: Type.Optional(Type.Union([port(undefined, 'Prometheus metrics port (0: any free port)'), Type.Null()])),
  tls: Type.Optional(Type.Union([tlsSchema, Type.Null()])),
  limits: Type.Optional(Type.Object({
    maxConnections: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000, default: NODE_LIMIT_DEFAULTS.maxConnections, description: 'client connections open at once on the node\'s port, gRPC and Aerospike protocol together (0: no limit); more are closed at once' })),
    maxConnectionsPerAddress: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000, default: NODE_LIMIT_DEFAULTS.maxConnectionsPerAddress, description: 'client connections open at once from one address (0: no limit)' })),
    idleTimeoutMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 86_400_000, default: NODE_LIMIT_DEFAULTS.idleTimeoutMs, description: 'a client connection with no request in flight for this long is closed (0: never)' })),
    metricsMaxConnections: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000, default: NODE_LIMIT_DEFAULTS.metricsMaxConnections, description: 'connections open at once on the metrics port' })),
    scanTurns: Type.Optional(Type.Integer({ minimum: 1, maximum: 1024, default: NODE_LIMIT_DEFAULTS.scanTurns, description: 'scans, queries and aggregations working at once; the others wait their turn (as Aerospike\'s query-threads-limit)' })),
    scanSliceMs: Type.Optional(Type.Integer({ minimum: 1, maximum: 60_000, default: NODE_LIMIT_DEFAULTS.scanSliceMs, description: 'longest a scan works before requests that arrived meanwhile are served, ms' })),
  }, { additionalProperties: false, title: 'limits', hint: 'for example { "maxConnections": 10000, "maxConnectionsPerAddress": 1000, "idleTimeoutMs": 60000 }' })),
}, { additionalProperties: false, title: 'node' });

const namespaceSchema = Type.Object({
  name: Type.String({ minLength: 1, description: 'namespace name' }),
  storage: Type.Optional(Type.String({ minLength: 1, default: 'storage-memory', description: 'storage plugin name' })),
  storageOptions: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: "options of the storage plugin (its schema: SHOW PLUGINS or the plugin's docs)" })),
  defaultTtl: Type.Optional(Type.Integer({ minimum: 0, maximum: 0xffffffff, default: NAMESPACE_DEFAULTS.defaultTtl, description: 'seconds; 0: never expire' })),
  maxRecordBytes: Type.Optional(Type.Integer({ minimum: 64, maximum: 128 * 1024 * 1024, default: NAMESPACE_DEFAULTS.maxRecordBytes })),
  replicationFactor: Type.Optional(Type.Integer({ minimum: 1, maximum: 256, default: NAMESPACE_DEFAULTS.replicationFactor })),
  nsupPeriod: Type.Optional(Type.Integer({ minimum: 0, maximum: 86400, default: NAMESPACE_DEFAULTS.nsupPeriod, description: 'seconds between expiry sweeps; 0: none' })),
  maxTtl: Type.Optional(Type.Integer({ minimum: 1, maximum: 0xffffffff, default: NAMESPACE_DEFAULTS.maxTtl })),
  writeCommitLevel: Type.Optional(Type.Union([Type.Literal('all'), Type.Literal('master')], {
    default: 'all', hint: "all: answer once every replica has the write (the default); master: answer after the master's write",
  })),
  conflictResolution: Type.Optional(Type.Union([Type.Literal('generation'), Type.Literal('last-update-time')], {
    default: 'generation', hint: 'which copy wins when copies of a record differ after a split or restart: generation (then last-update time; the default) or last-update-time (then generation)',
  })),
  eviction: Type.Optional(evictionSchema),
  tombRaider: Type.Optional(tombRaiderSchema),
}, { additionalProperties: false, title: 'namespace' });

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** The node's own configuration; subsystems' sections (cluster, udf, …) are checked by their owners. */
export const nodeConfigSchema = Type.Object({
  $schema: Type.Optional(Type.String({ description: 'the JSON Schema of this file, for editors (slipstream --print-config-schema)' })),
  node: Type.Optional(nodeSchema),
  logLevel: Type.Optional(Type.Union(LOG_LEVELS.map((l) => Type.Literal(l)), { default: 'info' })),
  namespaces: Type.Array(namespaceSchema, { minItems: 1, hint: 'configure at least one namespace, e.g. { "name": "test", "storage": "storage-memory" }' }),
  transactionPendingLimit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100000, default: 20, description: 'record transactions allowed to wait on one key before KEY_BUSY' })),
  plugins: Type.Optional(Type.Array(Type.String({ minLength: 1 }), {
    description: 'plugins to load that are not built in: paths of ES modules (.ts or .js, relative to this file) or package names',
    hint: 'for example ["./plugins/storage-mine.ts", "slipstream-storage-x"]',
  })),
}, { additionalProperties: true, title: 'configuration' });

const KNOWN_TOP = new Set(Object.keys(nodeConfigSchema.properties));

/**
 * The JSON Schema of the whole configuration file, for editors: the node's own sections and
 * the sections of its subsystems (`sections`: name → schema).
 */
export function configJsonSchema(sections: Readonly<Record<string, unknown>> = {}): Record<string, unknown> {
  const own = JSON.parse(JSON.stringify(nodeConfigSchema)) as Record<string, unknown>;
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    ...own,
    title: 'Slipstream node configuration',
    properties: { ...(own['properties'] as Record<string, unknown>), ...JSON.parse(JSON.stringify(sections)) as Record<string, unknown> },
    additionalProperties: false,
  };
}

export interface ConfigOverrides {
  host?: string; port?: number; nodeId?: string; dataDir?: string; metricsPort?: number; tls?: Partial<TlsConfig>;
  /** Plugins from the command line (relative to the working directory). */
  plugins?: readonly string[];
  /** Folder the config file's relative plugin paths start from (default: the working directory). */
  baseDir?: string;
}

/** Validates a parsed config object (JSON) into a NodeConfig, with clear errors. */
export function parseConfig(raw: unknown, overrides: ConfigOverrides = {}): NodeConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('', 'must be a JSON object');
  checkSchema(nodeConfigSchema, raw, 'config');
  const obj = raw as Static<typeof nodeConfigSchema>;
  const nodeRaw = obj.node ?? {};
  const host = overrides.host ?? nodeRaw.host ?? '127.0.0.1';
  const port = overrides.port ?? nodeRaw.port ?? 3000;
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail('--port', `must be 0 to 65535, got ${port}`);
  const idRaw = overrides.nodeId ?? nodeRaw.id;
  const id = idRaw === undefined ? defaultNodeId(host, port) : parseNodeId(idRaw);
  const dataDir = overrides.dataDir ?? nodeRaw.dataDir ?? './data';
  const metricsPort = overrides.metricsPort ?? nodeRaw.metricsPort ?? undefined;
  const tlsRaw = overrides.tls === undefined ? nodeRaw.tls : { ...(nodeRaw.tls ?? undefined), ...overrides.tls };
  const tls = parseTls(tlsRaw);

  const seen = new Set<string>();
  const namespaces = obj.namespaces.map((o, i): NamespaceConfig => {
    const path = `namespaces[${i}]`;
    try { checkNamespaceName(o.name); } catch (err) { fail(`${path}.name`, (err as Error).message); }
    if (seen.has(o.name)) fail(`${path}.name`, `namespace '${o.name}' is configured twice`);
    seen.add(o.name);
    return {
      name: o.name,
      storage: o.storage ?? 'storage-memory',
      storageOptions: (o.storageOptions ?? {}) as Record<string, unknown>,
      defaultTtl: o.defaultTtl ?? NAMESPACE_DEFAULTS.defaultTtl,
      maxRecordBytes: o.maxRecordBytes ?? NAMESPACE_DEFAULTS.maxRecordBytes,
      replicationFactor: o.replicationFactor ?? NAMESPACE_DEFAULTS.replicationFactor,
      nsupPeriod: o.nsupPeriod ?? NAMESPACE_DEFAULTS.nsupPeriod,
      maxTtl: o.maxTtl ?? NAMESPACE_DEFAULTS.maxTtl,
      ...(o.writeCommitLevel === undefined ? {} : { writeCommitLevel: o.writeCommitLevel }),
      ...(o.conflictResolution === undefined ? {} : { conflictResolution: o.conflictResolution }),
      ...(o.eviction === undefined ? {} : { eviction: (parseEvictionConfig(o.eviction, `${path}.eviction`), o.eviction as Record<string, unknown>) }),
      ...(o.tombRaider === undefined ? {} : { tombRaider: o.tombRaider as Record<string, unknown> }),
    };
  });
  const sections: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) if (!KNOWN_TOP.has(k)) sections[k] = v;
  const cwd = process.cwd();
  const plugins: PluginSpec[] = [
    ...(obj.plugins ?? []).map((spec) => ({ spec, from: resolve(overrides.baseDir ?? cwd) })),
    ...(overrides.plugins ?? []).map((spec) => ({ spec, from: cwd })),
  ];
  return {
    node: { id, host, port, dataDir, limits: { ...NODE_LIMIT_DEFAULTS, ...(nodeRaw.limits ?? {}) }, ...(metricsPort === undefined ? {} : { metricsPort }), ...(tls === undefined ? {} : { tls }) },
    logLevel: obj.logLevel ?? 'info', namespaces, transactionPendingLimit: obj.transactionPendingLimit ?? 20, plugins, sections,
  };
}

export function loadConfigFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new DbError('PARAMETER', `cannot read config file ${path}: ${(err as Error).message}`, { hint: 'pass an existing JSON file to --config' });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new DbError('PARAMETER', `config file ${path} is not valid JSON: ${(err as Error).message}`);
  }
}
