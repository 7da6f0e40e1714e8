/**
 * The server binary: `npm start` or `slipstream [--config FILE] [--port N] [--host ADDR]`.
 * Without --config it runs the embedded default configuration.
 */
import { Command, InvalidArgumentError } from 'commander';
import { dirname } from 'node:path';
import { parseConfig, loadConfigFile, DEFAULT_CONFIG_TEXT, configJsonSchema } from './node/config.ts';
import { createNode, effectivePluginOptions } from './node/node.ts';
import { builtInExtensions } from './node/extensions.ts';
import { VERSION } from './node/version.ts';
import { createLogger } from './cli/logger.ts';
import { defaultPlugins } from './cli/default-plugins.ts';
import { DbError } from './errors/index.ts';

function port(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('a port is a whole number from 0 to 65535');
  return n;
}

const program = new Command()
  .name('slipstream')
  .description('Run a Slipstream database node')
  .version(VERSION, '-V, --version')
  .option('-c, --config <file>', 'JSON configuration file (default: the embedded configuration)')
  .option('-p, --port <n>', 'gRPC port (overrides the config)', port)
  .option('-H, --host <addr>', 'address to listen on (overrides the config)')
  .option('--node-id <hex>', 'node id (overrides the config)')
  .option('--data-dir <dir>', 'folder for durable data (overrides the config)')
  .option('--metrics-port <n>', 'serve Prometheus metrics at http://HOST:N/metrics (overrides the config)', port)
  .option('--tls-cert <file>', 'serve gRPC over TLS with this PEM certificate (with --tls-key)')
  .option('--tls-key <file>', 'the PEM private key of --tls-cert')
  .option('--tls-ca <file>', 'require client certificates signed by this PEM CA (mutual TLS)')
  .option('--log-level <level>', 'fatal, error, warn, info, debug or trace')
  .option('--plugin <file-or-package>', 'load a plugin that is not built in (repeatable; a .ts/.js file or a package name)', (v: string, acc: string[]) => [...acc, v], [] as string[])
  .option('--print-config', 'print the effective configuration, with every plugin\'s options, and exit')
  .option('--print-config-schema', 'print the JSON Schema of the configuration file (for editors) and exit');

program.parse();
const opts = program.opts<{ config?: string; port?: number; host?: string; nodeId?: string; dataDir?: string; metricsPort?: number; tlsCert?: string; tlsKey?: string; tlsCa?: string; logLevel?: string; plugin: string[]; printConfig?: boolean; printConfigSchema?: boolean }>();

async function main(): Promise<void> {
  if (opts.printConfigSchema === true) {
    const sections = Object.fromEntries(builtInExtensions().flatMap((e) => Object.entries(e.schemas ?? {})));
    console.log(JSON.stringify(configJsonSchema(sections), null, 2));
    return;
  }
  const raw = opts.config === undefined ? structuredClone(DEFAULT_CONFIG_TEXT) : loadConfigFile(opts.config);
  const withLevel = opts.logLevel === undefined || typeof raw !== 'object' || raw === null ? raw : { ...(raw as Record<string, unknown>), logLevel: opts.logLevel };
  const config = parseConfig(withLevel, {
    ...(opts.host === undefined ? {} : { host: opts.host }),
    ...(opts.port === undefined ? {} : { port: opts.port }),
    ...(opts.nodeId === undefined ? {} : { nodeId: opts.nodeId }),
    ...(opts.dataDir === undefined ? {} : { dataDir: opts.dataDir }),
    ...(opts.metricsPort === undefined ? {} : { metricsPort: opts.metricsPort }),
    ...(opts.config === undefined ? {} : { baseDir: dirname(opts.config) }),
    plugins: opts.plugin,
    ...(opts.tlsCert === undefined && opts.tlsKey === undefined && opts.tlsCa === undefined ? {} : {
      tls: {
        ...(opts.tlsCert === undefined ? {} : { certFile: opts.tlsCert }),
        ...(opts.tlsKey === undefined ? {} : { keyFile: opts.tlsKey }),
        ...(opts.tlsCa === undefined ? {} : { caFile: opts.tlsCa, requireClientCert: true }),
      },
    }),
  });
  if (opts.printConfig === true) {
    const plugins = await effectivePluginOptions(config, defaultPlugins());
    console.log(JSON.stringify({ ...config, pluginOptions: plugins }, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString(16).toUpperCase() : v), 2));
    return;
  }
  const { logger, setLevel } = createLogger(config.logLevel);
  const node = await createNode(config, { plugins: defaultPlugins(), logger, setLogLevel: setLevel });
  // Tools that start a node on port 0 read this line to learn the port.
  if (process.env['SLIPSTREAM_READY_FD'] === '1' || process.send !== undefined) process.send?.({ ready: true, port: node.port, ...(node.metricsPort === undefined ? {} : { metricsPort: node.metricsPort }) });
  // The first SIGTERM/SIGINT stops gracefully (a cluster member hands its partitions over and
  // leaves the cluster first, each step bounded); a second one exits at once. A signal within a
  // second of the first is the same request arriving twice (Ctrl-C on `npm start` reaches the node
  // from the terminal and again from npm, which forwards it), not a second one.
  let stoppingSince: number | undefined;
  const shutdown = (signal: string): void => {
    if (stoppingSince !== undefined) {
      if (Date.now() - stoppingSince < 1000) return;
      logger.warn({ signal }, 'second stop signal: exiting at once');
      process.exit(1);
    }
    stoppingSince = Date.now();
    logger.info({ signal }, 'shutting down gracefully (send it again to exit at once)');
    node.leave().then(() => process.exit(0), (err: unknown) => { logger.error({ err }, 'shutdown failed'); process.exit(1); });
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((err: unknown) => {
  const e = err instanceof DbError ? err : undefined;
  console.error(`slipstream: ${e === undefined ? String(err instanceof Error ? err.stack : err) : e.fullMessage}`);
  process.exit(1);
});
