/**
 * The aql shell: `aql [-h host] [-p port] [-c "statements" | -f file] [-o table|json|raw|mute]`.
 * Statements are parsed here (syntax errors never leave the machine), settings live here, and
 * everything else runs on the node through the AqlService; results render here with aql's
 * renderers. Without -c/-f it is interactive on a terminal, or reads statements from stdin.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { DbError, toDbError, ResultCode, clientErrorName } from '../errors/index.ts';
import { SlipstreamClient } from '../client/client.ts';
import { executeAql } from '../client/aql.ts';
import { AqlSession, type RunOutcome, type StatementExecutor } from '../aql/shell/session.ts';
import type { Sink } from '../aql/shell/render/renderer.ts';
import { parseSettingValue, withSetting } from '../aql/language/settings.ts';
import { VERSION } from '../node/version.ts';
import { interactive, Progress } from './aql-interactive.ts';
import { credentialsOf, readPem } from './tool-options.ts';

function port(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new InvalidArgumentError('a port is a whole number from 1 to 65535');
  return n;
}

function timeout(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('the timeout is a whole number of milliseconds (0: none)');
  return n;
}

function outputMode(v: string): string {
  const up = v.toUpperCase();
  if (!['TABLE', 'JSON', 'RAW', 'MUTE'].includes(up)) throw new InvalidArgumentError('output modes are table, json, raw and mute');
  return up;
}

/** An option that takes one value: a second one is refused, not silently taken instead of the first. */
function once(flag: string, hint: string): (value: string, previous: string | undefined) => string {
  return (value, previous) => {
    if (previous !== undefined) throw new InvalidArgumentError(`${flag} was given twice (only one is run): ${hint}`);
    return value;
  };
}

const program = new Command()
  .name('aql')
  .description('Slipstream AQL shell: run AQL statements against a node')
  .helpOption('--help', 'show the options')
  .version(VERSION, '-V, --version', 'print the version')
  .option('-h, --host <host>', 'node address, host or host:port', '127.0.0.1')
  .option('-p, --port <port>', 'node port', port, 3000)
  .addOption(new Option('-c, --command <statements>', 'run the statements and exit (each is echoed)').argParser(once('-c', "separate the statements with ';' in one -c")).conflicts('file'))
  .addOption(new Option('-f, --file <path>', 'run the statements of a file and exit (each is echoed)').argParser(once('-f', 'put the statements in one file')))
  .option('-o, --outputmode <mode>', 'table, json, raw or mute', outputMode, 'TABLE')
  .option('-T, --timeout <ms>', 'statement timeout, ms (0: none)', timeout, 1000)
  .option('--no-color', 'no colours on the terminal')
  .option('-U, --user <user>', 'log in as this user (a node with security on)')
  .option('-P, --password [password]', 'the password; prompted for when -P has no value')
  .option('--tls-ca <file>', 'connect with TLS, trusting this PEM CA')
  .option('--tls-cert <file>', 'client certificate (PEM), for nodes that require one')
  .option('--tls-key <file>', 'the PEM private key of --tls-cert')
  .option('--tls-name <name>', 'name to check the node\'s certificate against')
  .addHelpText('after', '\nInside the shell, HELP lists the statements. Exit status: 0 when every statement succeeded, 1 otherwise.');

program.parse();
const opts = program.opts<{ host: string; port: number; command?: string; file?: string; outputmode: string; timeout: number; color: boolean; user?: string; password?: string | true; tlsCa?: string; tlsCert?: string; tlsKey?: string; tlsName?: string }>();

function address(): string {
  const h = opts.host;
  if (/^\[.*\]:\d+$/.test(h) || /^[^:]+:\d+$/.test(h)) return h;
  return `${h.includes(':') ? `[${h}]` : h}:${opts.port}`;
}

const useColor = opts.color && process.env['NO_COLOR'] === undefined;
const red = (s: string): string => (useColor && process.stderr.isTTY ? `\x1b[31m${s}\x1b[0m` : s);

/** Reports failed statements: non-zero exit, naming each. */
function report(outcome: RunOutcome): number {
  if (outcome.failures.length === 0) return 0;
  const lines = outcome.failures.map((f) => `  line ${f.line}: ${f.text.split('\n')[0]}${f.text.includes('\n') ? ' …' : ''}`);
  process.stderr.write(`aql: ${outcome.failures.length} statement${outcome.failures.length === 1 ? '' : 's'} failed:\n${lines.join('\n')}\n`);
  return 1;
}


async function main(): Promise<number> {
  let client: SlipstreamClient;
  try {
    const tlsWanted = opts.tlsCa !== undefined || opts.tlsCert !== undefined || opts.tlsKey !== undefined || opts.tlsName !== undefined;
    const tls = tlsWanted ? {
      ...(opts.tlsCa === undefined ? {} : { ca: readPem(opts.tlsCa, '--tls-ca') }),
      ...(opts.tlsCert === undefined ? {} : { cert: readPem(opts.tlsCert, '--tls-cert') }),
      ...(opts.tlsKey === undefined ? {} : { key: readPem(opts.tlsKey, '--tls-key') }),
      ...(opts.tlsName === undefined ? {} : { serverName: opts.tlsName }),
    } : undefined;
    client = await SlipstreamClient.connect({ hosts: [address()], timeoutMs: 5000, connectTimeoutMs: 3000, ...(tls === undefined ? {} : { tls }), ...(await credentialsOf(opts.user, opts.password)) });
  } catch (err) {
    const e = toDbError(err);
    process.stderr.write(`${red(`Error ${e.resultCode}: ${clientErrorName(e.resultCode)}: cannot connect to ${address()}`)}\n${e.message}\n${e.hint ?? ''}\n`);
    return 1;
  }
  const progress = new Progress(process.stderr);
  const sink: Sink = {
    out: (t) => { progress.clear(); process.stdout.write(t); },
    err: (t) => { progress.clear(); process.stderr.write(t.startsWith('Error') ? t.replace(/^[^\n]*/, (l) => red(l)) : t); },
  };
  const executor: StatementExecutor = async (stmt, text, settings, out, signal, baseDir) => {
    const files = new Map<string, Uint8Array>();
    try {
      if (stmt.kind === 'register-module') {
        try {
          files.set(stmt.path, new Uint8Array(await readFile(resolve(baseDir, stmt.path))));
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
          throw new DbError('CLIENT_ERROR', `Cannot open file ${stmt.path}: ${code === 'ENOENT' ? 'no such file' : code}`, { hint: 'the path is relative to the current folder (or to the script for RUN/-f)' });
        }
      }
      progress.start();
      await executeAql(client, { text, settings, files }, out, { onRow: (n) => progress.rows(n) }, signal);
    } catch (err) {
      const e = toDbError(err);
      if (signal.aborted || e.code === 'CLIENT_ABORT') out.status(ResultCode.CLIENT_ABORT, `${clientErrorName(ResultCode.CLIENT_ABORT)}: the statement was cancelled`);
      else out.status(e.resultCode, `${clientErrorName(e.resultCode)}: ${e.message}${e.hint === undefined ? '' : `. ${e.hint}`}`);
    } finally {
      progress.stop();
    }
  };
  const session = new AqlSession(executor, sink);
  session.settings = withSetting(withSetting(session.settings, 'OUTPUT', opts.outputmode), 'TIMEOUT', parseSettingValue('TIMEOUT', String(opts.timeout)));
  try {
    if (opts.command !== undefined) return report(await session.run(opts.command, { echo: true }));
    if (opts.file !== undefined) {
      const path = resolve(opts.file);
      let body: string;
      try {
        body = await readFile(path, 'utf8');
      } catch (err) {
        process.stderr.write(`${red(`Error: cannot open file ${opts.file} : ${(err as Error).message}`)}\n`);
        return 1;
      }
      const fileSession = new AqlSession(executor, sink, dirname(path));
      fileSession.settings = session.settings;
      return report(await fileSession.run(body, { echo: true }));
    }
    if (!process.stdin.isTTY) {
      let body = '';
      for await (const chunk of process.stdin) body += String(chunk);
      return report(await session.run(body));
    }
    await interactive({ session, client, progress, address: address(), color: useColor });
    return 0;
  } finally {
    client.close();
  }
}

main().then((code) => { process.exitCode = code; }, (err: unknown) => {
  process.stderr.write(`aql: ${err instanceof DbError ? err.fullMessage : String(err instanceof Error ? err.stack : err)}\n`);
  process.exitCode = 1;
});
