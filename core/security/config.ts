/**
 * The `security` config section. Security is off without it (as in Aerospike CE and in the
 * embedded default configuration); with it, every call must be authenticated:
 *
 *   "security": {
 *     "sessionTtl": 86400,                      // seconds a Login token lives
 *     "adminPasswordFile": "admin.password",    // first start: the admin's password (else env, else "admin" to change)
 *     "auditFile": "audit.log",                 // JSON lines; relative to node.dataDir; the node log without it
 *     "clusterSecretFile": "cluster.secret",    // shared by the nodes: heartbeat and fabric messages are signed with it
 *     "metricsTokenFile": "metrics.token",      // /metrics requires `Authorization: Bearer <token>`
 *     "metricsTls": true,                        // /metrics over HTTPS with node.tls's certificate
 *     "maxConnectionsPerUser": 200               // client connections one user may have open on a node (0: no limit)
 *   }
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { DbError } from '../errors/index.ts';

export interface SecurityConfig {
  readonly sessionTtlSeconds: number;
  readonly adminPassword: string | undefined;
  readonly auditFile: string | undefined;
  readonly clusterSecret: Buffer | undefined;
  readonly metricsToken: string | undefined;
  /** Serve /metrics over TLS with the node's certificate (node.tls). */
  readonly metricsTls: boolean;
  /** Client connections one user may have open on one node at once (0: no limit). */
  readonly maxConnectionsPerUser: number;
}

/** The environment variable that may carry the first admin password. */
export const ADMIN_PASSWORD_ENV = 'SLIPSTREAM_ADMIN_PASSWORD';

const KNOWN = ['sessionTtl', 'adminPasswordFile', 'auditFile', 'clusterSecretFile', 'metricsTokenFile', 'metricsTls', 'maxConnectionsPerUser'];
const HINT = `known security settings: ${KNOWN.join(', ')}; see docs/security.md`;

function readSecretFile(path: string, setting: string, minBytes: number): Buffer {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new DbError('PARAMETER', `config security.${setting}: cannot read ${path}: ${(err as Error).message}`, { hint: 'give the path of a readable file' });
  }
  const trimmed = Buffer.from(bytes.toString('utf8').trim(), 'utf8');
  if (trimmed.length < minBytes) {
    throw new DbError('PARAMETER', `config security.${setting}: ${path} holds ${trimmed.length} bytes, fewer than ${minBytes}`, { hint: `put at least ${minBytes} random bytes in it, e.g. openssl rand -base64 32 > ${path}` });
  }
  return trimmed;
}

/**
 * The cluster secret alone (the cluster subsystem signs heartbeat and fabric frames with it):
 * undefined without a security section or without `clusterSecretFile`.
 */
export function clusterSecretOf(raw: unknown, dataDir: string): Buffer | undefined {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return undefined;
  const file = (raw as Record<string, unknown>)['clusterSecretFile'];
  if (typeof file !== 'string' || file.length === 0) return undefined;
  return readSecretFile(isAbsolute(file) ? file : join(dataDir, file), 'clusterSecretFile', 16);
}

/** Validates the section; undefined when security is off. */
export function parseSecurityConfig(raw: unknown, dataDir: string, env: NodeJS.ProcessEnv = process.env): SecurityConfig | undefined {
  if (raw === undefined) return undefined;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new DbError('PARAMETER', 'config security: must be an object', { hint: HINT });
  const obj = raw as Record<string, unknown>;
  for (const k of Object.keys(obj)) if (!KNOWN.includes(k)) throw new DbError('PARAMETER', `config security.${k}: unknown setting`, { hint: HINT });
  const str = (k: string): string | undefined => {
    const v = obj[k];
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || v.length === 0) throw new DbError('PARAMETER', `config security.${k}: must be a file path`, { hint: HINT });
    return isAbsolute(v) ? v : join(dataDir, v);
  };
  const ttl = obj['sessionTtl'] ?? 86400;
  if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 60 || ttl > 864_000) {
    throw new DbError('PARAMETER', 'config security.sessionTtl: must be an integer from 60 to 864000 seconds', { hint: HINT });
  }
  const adminFile = str('adminPasswordFile');
  const adminPassword = adminFile !== undefined ? readSecretFile(adminFile, 'adminPasswordFile', 1).toString('utf8') : env[ADMIN_PASSWORD_ENV];
  const metricsTls = obj['metricsTls'] ?? false;
  if (typeof metricsTls !== 'boolean') throw new DbError('PARAMETER', 'config security.metricsTls: must be true or false', { hint: HINT });
  const maxConnectionsPerUser = obj['maxConnectionsPerUser'] ?? 0;
  if (typeof maxConnectionsPerUser !== 'number' || !Number.isInteger(maxConnectionsPerUser) || maxConnectionsPerUser < 0 || maxConnectionsPerUser > 1_000_000) {
    throw new DbError('PARAMETER', 'config security.maxConnectionsPerUser: must be an integer from 0 (no limit) to 1000000', { hint: HINT });
  }
  const secretFile = str('clusterSecretFile');
  const tokenFile = str('metricsTokenFile');
  return {
    sessionTtlSeconds: ttl,
    adminPassword: adminPassword === '' ? undefined : adminPassword,
    auditFile: str('auditFile'),
    clusterSecret: secretFile === undefined ? undefined : readSecretFile(secretFile, 'clusterSecretFile', 16),
    metricsToken: tokenFile === undefined ? undefined : readSecretFile(tokenFile, 'metricsTokenFile', 16).toString('utf8'),
    metricsTls,
    maxConnectionsPerUser,
  };
}
