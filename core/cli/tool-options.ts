/** Option parsing shared by the command-line tools (slipstream-backup, slipstream-restore, …). */
import { InvalidArgumentError } from 'commander';
import { DbError, clientErrorName, toDbError } from '../errors/index.ts';
import { SlipstreamClient } from '../client/client.ts';

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

export async function connectTool(tool: string, address: string): Promise<SlipstreamClient> {
  try {
    return await SlipstreamClient.connect({ hosts: [address], timeoutMs: 30_000, connectTimeoutMs: 5000 });
  } catch (err) {
    const e = toDbError(err);
    throw new DbError(e.code, `${tool}: cannot connect to ${address}: ${e.message}`, { hint: e.hint ?? 'start a node or check -h and -p' });
  }
}

/** Prints a failure the way every tool does and returns the exit status. */
export function reportFailure(tool: string, err: unknown): number {
  const e = toDbError(err);
  process.stderr.write(`${tool}: Error ${e.resultCode}: ${clientErrorName(e.resultCode)}: ${e.message}\n${e.hint === undefined ? '' : `${e.hint}\n`}`);
  return 1;
}
