import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { createHash } from 'node:crypto';
import { DbError } from '../errors/index.ts';
import { checkNamespaceName, NAMESPACE_DEFAULTS, type NamespaceConfig } from '../model/index.ts';
import { parseEvictionConfig } from '../storage/eviction.ts';
import { parseTombRaiderConfig } from '../storage/eviction-tombstones.ts';

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
}

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

const KNOWN_TOP = new Set(['node', 'logLevel', 'namespaces', 'transactionPendingLimit']);
const NODE_KEYS = new Set(['id', 'host', 'port', 'dataDir', 'metricsPort', 'tls']);
const NS_KEYS = new Set(['name', 'storage', 'storageOptions', 'defaultTtl', 'maxRecordBytes', 'replicationFactor', 'nsupPeriod', 'maxTtl', 'eviction', 'tombRaider', 'writeCommitLevel', 'conflictResolution']);

function oneOf<T extends string>(v: unknown, path: string, values: readonly T[], hint: string): T {
  if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) fail(path, `must be one of ${values.map((x) => JSON.stringify(x)).join(', ')}, got ${JSON.stringify(v)}`, hint);
  return v as T;
}

function fail(path: string, msg: string, hint?: string): never {
  throw new DbError('PARAMETER', `config ${path}: ${msg}`, hint === undefined ? {} : { hint });
}

function int(v: unknown, path: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(path, `must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
  return v;
}

function str(v: unknown, path: string): string {
  if (typeof v !== 'string' || v.length === 0) fail(path, `must be a non-empty string, got ${JSON.stringify(v)}`);
  return v;
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

/** Validates a parsed config object (JSON) into a NodeConfig, with clear errors. */
function parseTls(raw: unknown): TlsConfig | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== 'object' || Array.isArray(raw)) fail('node.tls', 'must be an object', 'for example { "certFile": "server.pem", "keyFile": "server.key" }');
  const o = raw as Record<string, unknown>;
  const known = ['certFile', 'keyFile', 'caFile', 'requireClientCert'];
  for (const k of Object.keys(o)) if (!known.includes(k)) fail(`node.tls.${k}`, 'is not a TLS setting', `known settings: ${known.join(', ')}`);
  if (o['certFile'] === undefined || o['keyFile'] === undefined) fail('node.tls', 'needs certFile and keyFile', 'give the PEM files of the server certificate and its private key');
  const requireClientCert = o['requireClientCert'] ?? false;
  if (typeof requireClientCert !== 'boolean') fail('node.tls.requireClientCert', 'must be true or false');
  if (requireClientCert && o['caFile'] === undefined) fail('node.tls.requireClientCert', 'needs caFile, the CA that signs client certificates');
  return {
    certFile: str(o['certFile'], 'node.tls.certFile'),
    keyFile: str(o['keyFile'], 'node.tls.keyFile'),
    ...(o['caFile'] === undefined ? {} : { caFile: str(o['caFile'], 'node.tls.caFile') }),
    requireClientCert,
  };
}

export function parseConfig(raw: unknown, overrides: { host?: string; port?: number; nodeId?: string; dataDir?: string; metricsPort?: number; tls?: Partial<TlsConfig> } = {}): NodeConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('', 'must be a JSON object');
  const obj = raw as Record<string, unknown>;
  const nodeRaw = (obj['node'] ?? {}) as Record<string, unknown>;
  if (typeof nodeRaw !== 'object' || nodeRaw === null) fail('node', 'must be an object');
  const host = overrides.host ?? (nodeRaw['host'] === undefined ? '127.0.0.1' : str(nodeRaw['host'], 'node.host'));
  const port = overrides.port ?? (nodeRaw['port'] === undefined ? 3000 : int(nodeRaw['port'], 'node.port', 0, 65535));
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail('--port', `must be 0 to 65535, got ${port}`);
  const idRaw = overrides.nodeId ?? nodeRaw['id'];
  const id = idRaw === undefined ? defaultNodeId(host, port) : parseNodeId(idRaw);
  const dataDir = overrides.dataDir ?? (nodeRaw['dataDir'] === undefined ? './data' : str(nodeRaw['dataDir'], 'node.dataDir'));
  const metricsPort = overrides.metricsPort ?? (nodeRaw['metricsPort'] === undefined || nodeRaw['metricsPort'] === null ? undefined : int(nodeRaw['metricsPort'], 'node.metricsPort', 0, 65535));
  for (const k of Object.keys(nodeRaw)) {
    if (!NODE_KEYS.has(k)) fail(`node.${k}`, 'is not a node setting', `known settings: ${[...NODE_KEYS].join(', ')}`);
  }
  const tlsRaw = overrides.tls === undefined ? nodeRaw['tls'] : { ...(nodeRaw['tls'] as Record<string, unknown> | undefined), ...overrides.tls };
  const tls = parseTls(tlsRaw);

  const logLevel = obj['logLevel'] ?? 'info';
  const levels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
  if (typeof logLevel !== 'string' || !levels.includes(logLevel)) fail('logLevel', `must be one of ${levels.join(', ')}`);

  const nsRaw = obj['namespaces'];
  if (!Array.isArray(nsRaw) || nsRaw.length === 0) fail('namespaces', 'must be a non-empty list', 'configure at least one namespace, e.g. { "name": "test", "storage": "storage-memory" }');
  const seen = new Set<string>();
  const namespaces = nsRaw.map((n: unknown, i: number): NamespaceConfig => {
    const path = `namespaces[${i}]`;
    if (typeof n !== 'object' || n === null) fail(path, 'must be an object');
    const o = n as Record<string, unknown>;
    for (const k of Object.keys(o)) if (!NS_KEYS.has(k)) fail(`${path}.${k}`, 'is not a namespace setting', `known settings: ${[...NS_KEYS].join(', ')}`);
    const name = str(o['name'], `${path}.name`);
    try { checkNamespaceName(name); } catch (err) { fail(`${path}.name`, (err as Error).message); }
    if (seen.has(name)) fail(`${path}.name`, `namespace '${name}' is configured twice`);
    seen.add(name);
    const storageOptions = o['storageOptions'] ?? {};
    if (typeof storageOptions !== 'object' || storageOptions === null || Array.isArray(storageOptions)) fail(`${path}.storageOptions`, 'must be an object');
    return {
      name,
      storage: o['storage'] === undefined ? 'storage-memory' : str(o['storage'], `${path}.storage`),
      storageOptions: storageOptions as Record<string, unknown>,
      defaultTtl: o['defaultTtl'] === undefined ? NAMESPACE_DEFAULTS.defaultTtl : int(o['defaultTtl'], `${path}.defaultTtl`, 0, 0xffffffff),
      maxRecordBytes: o['maxRecordBytes'] === undefined ? NAMESPACE_DEFAULTS.maxRecordBytes : int(o['maxRecordBytes'], `${path}.maxRecordBytes`, 64, 128 * 1024 * 1024),
      replicationFactor: o['replicationFactor'] === undefined ? NAMESPACE_DEFAULTS.replicationFactor : int(o['replicationFactor'], `${path}.replicationFactor`, 1, 256),
      nsupPeriod: o['nsupPeriod'] === undefined ? NAMESPACE_DEFAULTS.nsupPeriod : int(o['nsupPeriod'], `${path}.nsupPeriod`, 0, 86400),
      maxTtl: o['maxTtl'] === undefined ? NAMESPACE_DEFAULTS.maxTtl : int(o['maxTtl'], `${path}.maxTtl`, 1, 0xffffffff),
      ...(o['writeCommitLevel'] === undefined ? {} : { writeCommitLevel: oneOf(o['writeCommitLevel'], `${path}.writeCommitLevel`, ['all', 'master'] as const, 'all: answer once every replica has the write (the default); master: answer after the master\'s write') }),
      ...(o['conflictResolution'] === undefined ? {} : { conflictResolution: oneOf(o['conflictResolution'], `${path}.conflictResolution`, ['generation', 'last-update-time'] as const, 'which copy wins when copies of a record differ after a split or restart: generation (then last-update time; the default) or last-update-time (then generation)') }),
      ...(o['eviction'] === undefined ? {} : { eviction: (parseEvictionConfig(o['eviction'], `${path}.eviction`), o['eviction'] as Record<string, unknown>) }),
      ...(o['tombRaider'] === undefined ? {} : { tombRaider: (parseTombRaiderConfig(o['tombRaider'], `${path}.tombRaider`), o['tombRaider'] as Record<string, unknown>) }),
    };
  });
  const tpl = obj['transactionPendingLimit'] === undefined ? 20 : int(obj['transactionPendingLimit'], 'transactionPendingLimit', 1, 100000);
  const sections: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) if (!KNOWN_TOP.has(k)) sections[k] = v;
  return { node: { id, host, port, dataDir, ...(metricsPort === undefined ? {} : { metricsPort }), ...(tls === undefined ? {} : { tls }) }, logLevel: logLevel as NodeConfig['logLevel'], namespaces, transactionPendingLimit: tpl, sections };
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
