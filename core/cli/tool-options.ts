/** Option parsing shared by the command-line tools (slipstream-backup, slipstream-restore, …). */
import { InvalidArgumentError, type Command } from 'commander';
import { readFileSync } from 'node:fs';
import { DbError, clientErrorName, toDbError } from '../errors/index.ts';
import type { ClientOptions, ClientTlsOptions } from '../client/client.ts';
import { ToolCluster } from '../tools/cluster-nodes.ts';
import { loadKey, type BackupKey } from '../tools/backup/encryption.ts';

export function portNumber(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new InvalidArgumentError('a port is a whole number from 1 to 65535');
  return n;
}

export function positiveInt(what: string): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${what} is a whole number above 0`);
    return n;
  };
}

export function nonNegative(what: string): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`${what} is a number, 0 or more`);
    return n;
  };
}

/** asbackup's time form YYYY-MM-DD_HH:MM:SS (local time), or anything Date parses, as ms since the epoch. */
export function timeArgument(v: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:_(\d{2}):(\d{2}):(\d{2}))?$/.exec(v);
  const ms = m === null ? Date.parse(v) : new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0)).getTime();
  if (!Number.isFinite(ms)) throw new InvalidArgumentError('write the time as YYYY-MM-DD_HH:MM:SS (local time) or an ISO 8601 time');
  return ms;
}

/** host (or host:port) and port as one address. */
export function addressOf(host: string, port: number): string {
  if (/^\[.*\]:\d+$/.test(host) || /^[^:]+:\d+$/.test(host)) return host;
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** How the tools connect: asbackup's `-h`, `-p`, `-U`, `-P` and `--tls-*` options. */
export interface ConnectionFlags {
  host: string;
  port: number;
  user?: string;
  password?: string | true;
  tlsEnable?: boolean;
  tlsCafile?: string;
  tlsCertfile?: string;
  tlsKeyfile?: string;
  tlsName?: string;
}

/** Adds the connection options every tool shares (asbackup's spelling). */
export function connectionOptions(cmd: Command): Command {
  return cmd
    .option('-h, --host <hosts>', 'seed nodes: host, host:port or host:tlsname:port, comma-separated (host1:3000,host2:3000)', '127.0.0.1')
    .option('-p, --port <port>', 'port of the seeds that name none', portNumber, 3000)
    .option('-U, --user <user>', 'log in as this user (nodes with security on)')
    .option('-P, --password [password]', 'the password; prompted for when -P has no value')
    .option('--tls-enable', 'connect with TLS (the nodes\' node.tls); the system\'s CAs unless --tls-cafile')
    .option('--tls-cafile <file>', 'trust this PEM CA (implies --tls-enable)')
    .option('--tls-certfile <file>', 'client certificate (PEM), for nodes that require one')
    .option('--tls-keyfile <file>', 'the PEM private key of --tls-certfile')
    .option('--tls-name <name>', 'name to check the nodes\' certificates against');
}

/** The seeds of `-h` (comma-separated; host:tlsname:port names the TLS name too) with `-p` as the default port. */
export function seedsOf(host: string, port: number): { seeds: string[]; tlsName?: string } {
  const seeds: string[] = [];
  let tlsName: string | undefined;
  for (const part of host.split(',').map((x) => x.trim()).filter((x) => x !== '')) {
    const three = /^([^:[\]]+):([^:]+):(\d+)$/.exec(part);
    if (three !== null) {
      seeds.push(`${three[1]}:${portNumber(three[3] as string)}`);
      tlsName ??= three[2];
      continue;
    }
    const m = /:(\d+)$/.exec(part);
    if (m !== null && /^(\[.*\]|[^:]+):\d+$/.test(part)) portNumber(m[1] as string);
    seeds.push(addressOf(part, port));
  }
  if (seeds.length === 0) throw new InvalidArgumentError('give at least one seed: -h host or -h host1:port,host2:port');
  return { seeds, ...(tlsName === undefined ? {} : { tlsName }) };
}

/** Reads a PEM file named by an option. */
export function readPem(path: string, option: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new DbError('CLIENT_PARAM', `${option}: cannot read ${path}: ${(err as Error).message}`, { hint: 'give the path of a PEM file' });
  }
}

/** Reads a password from the terminal without echoing it (aql's "Enter Password: "). */
export async function promptPassword(): Promise<string> {
  if (!process.stdin.isTTY) {
    throw new DbError('CLIENT_PARAM', '-P without a value needs a terminal to prompt on', { hint: 'give the password after -P (-Psecret or -P secret), or run on a terminal' });
  }
  process.stderr.write('Enter Password: ');
  const stdin = process.stdin;
  stdin.setRawMode(true);
  stdin.resume();
  let text = '';
  try {
    for await (const chunk of stdin) {
      for (const ch of (chunk as Buffer).toString('utf8')) {
        if (ch === '\r' || ch === '\n') { process.stderr.write('\n'); return text; }
        if (ch === '\u0003') throw new DbError('CLIENT_ABORT', 'cancelled');
        if (ch === '\u007f') text = text.slice(0, -1); else text += ch;
      }
    }
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
  }
  return text;
}

/** The -U/-P credentials, prompting for a password -P left out. */
export async function credentialsOf(user: string | undefined, password: string | true | undefined): Promise<{ user: string; password: string } | Record<string, never>> {
  if (user === undefined) {
    if (password !== undefined) throw new DbError('CLIENT_PARAM', '-P needs -U', { hint: 'give the user with -U' });
    return {};
  }
  return { user, password: password === undefined || password === true ? await promptPassword() : password };
}

/** Client options from the connection flags: seeds, TLS, credentials, the tools' deadlines. */
export async function clientOptionsOf(f: ConnectionFlags): Promise<ClientOptions> {
  const { seeds, tlsName } = seedsOf(f.host, f.port);
  const serverName = f.tlsName ?? tlsName;
  const wanted = f.tlsEnable === true || f.tlsCafile !== undefined || f.tlsCertfile !== undefined || f.tlsKeyfile !== undefined || f.tlsName !== undefined;
  const tls: ClientTlsOptions | undefined = wanted ? {
    ...(f.tlsCafile === undefined ? {} : { ca: readPem(f.tlsCafile, '--tls-cafile') }),
    ...(f.tlsCertfile === undefined ? {} : { cert: readPem(f.tlsCertfile, '--tls-certfile') }),
    ...(f.tlsKeyfile === undefined ? {} : { key: readPem(f.tlsKeyfile, '--tls-keyfile') }),
    ...(serverName === undefined ? {} : { serverName }),
  } : undefined;
  return { hosts: seeds, timeoutMs: 30_000, connectTimeoutMs: 5000, ...(tls === undefined ? {} : { tls }), ...(await credentialsOf(f.user, f.password)) };
}

/** Connects a tool to the cluster (or node) the flags name: the first seed that answers. */
export async function connectTool(tool: string, f: ConnectionFlags): Promise<ToolCluster> {
  return ToolCluster.connect(tool, await clientOptionsOf(f));
}

/** asbackup's `--encrypt aes128|aes256` with `--encryption-key-file` / `--encryption-key-env`. */
export function encryptionOptions(cmd: Command): Command {
  return cmd
    .option('--encrypt <mode>', 'encrypt (backup) or decrypt (restore) the blocks: aes128 or aes256 (AES-GCM)', (v: string) => {
      if (v !== 'aes128' && v !== 'aes256') throw new InvalidArgumentError('the encryption is aes128 or aes256');
      return v;
    })
    .option('--encryption-key-file <file>', 'the key material (PEM, e.g. openssl genrsa -out key.pem 2048)')
    .option('--encryption-key-env <variable>', 'environment variable holding the key material in base64');
}

export interface EncryptionFlags { encrypt?: 'aes128' | 'aes256'; encryptionKeyFile?: string; encryptionKeyEnv?: string }

/** The key the encryption flags name, or undefined without --encrypt. */
export function encryptionKeyOf(f: EncryptionFlags): BackupKey | undefined {
  if (f.encrypt === undefined) {
    if (f.encryptionKeyFile !== undefined || f.encryptionKeyEnv !== undefined) {
      throw new DbError('PARAMETER', 'an encryption key was given without --encrypt', { hint: 'add --encrypt aes128 or --encrypt aes256' });
    }
    return undefined;
  }
  return loadKey(f.encrypt, { ...(f.encryptionKeyFile === undefined ? {} : { file: f.encryptionKeyFile }), ...(f.encryptionKeyEnv === undefined ? {} : { env: f.encryptionKeyEnv }) });
}

/** Prints a failure the way every tool does and returns the exit status. */
export function reportFailure(tool: string, err: unknown): number {
  const e = toDbError(err);
  process.stderr.write(`${tool}: Error ${e.resultCode}: ${clientErrorName(e.resultCode)}: ${e.message}\n${e.hint === undefined ? '' : `${e.hint}\n`}`);
  return 1;
}
