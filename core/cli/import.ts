/**
 * slipstream-import: a Parquet, Arrow IPC or CSV file into a set, one record per row, keyed
 * by a column, through DataService.Import. See docs/columnar.md.
 */
import { Command, InvalidArgumentError } from 'commander';
import { importFromFile, formatOfFile, type FileFormat } from '../tools/columnar/transfer.ts';
import { VERSION } from '../node/version.ts';
import { connectionOptions, connectTool, type ConnectionFlags, reportFailure } from './tool-options.ts';

function format(v: string): FileFormat {
  if (v !== 'parquet' && v !== 'arrow' && v !== 'csv') throw new InvalidArgumentError('the import format is parquet, arrow or csv');
  return v;
}

function types(v: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of v.split(',')) {
    const [col, type] = part.split(':').map((x) => x.trim());
    if (col === undefined || col === '' || type === undefined || type === '') throw new InvalidArgumentError('write column:type pairs, e.g. age:int,score:double');
    out[col] = type;
  }
  return out;
}

const program = connectionOptions(new Command())
  .name('slipstream-import')
  .description('Import a Parquet, Arrow IPC or CSV file into a Slipstream set, one record per row')
  .helpOption('--help', 'show the options')
  .version(VERSION, '-V, --version', 'print the version')
  .requiredOption('-n, --namespace <namespace>', 'namespace')
  .requiredOption('-s, --set <set>', 'set')
  .requiredOption('-i, --input <file>', 'the file to read')
  .requiredOption('-k, --key-column <column>', 'the column holding each record\'s key')
  .option('--format <format>', 'parquet, arrow or csv (default: from the file name)', format)
  .option('-t, --types <column:type,…>', 'column types: int, double, string, bool, bytes (base64 text), geojson, json', types)
  .option('--send-key', 'store the key with each record')
  .addHelpText('after', '\nExit status 0 when every row was written, 1 otherwise.');

program.parse();
const o = program.opts<ConnectionFlags & { namespace: string; set: string; input: string; keyColumn: string; format?: FileFormat; types?: Record<string, string>; sendKey?: boolean }>();

async function main(): Promise<number> {
  try {
    const fmt = o.format ?? formatOfFile(o.input);
    if (fmt === undefined) throw new InvalidArgumentError(`cannot tell the format of ${o.input} from its name; pass --format parquet|arrow|csv`);
    const cluster = await connectTool('slipstream-import', o);
    const client = cluster.seed;
    try {
      const t = Date.now();
      const r = await importFromFile(client, { namespace: o.namespace, set: o.set, file: o.input, format: fmt, keyColumn: o.keyColumn, ...(o.types === undefined ? {} : { types: o.types }), sendKey: o.sendKey === true });
      process.stdout.write(`imported ${r.imported} records into ${o.namespace}.${o.set} in ${((Date.now() - t) / 1000).toFixed(1)} s; ${r.failed} rows failed${r.errors.map((e) => `\n  ${e}`).join('')}\n`);
      return r.failed > 0 ? 1 : 0;
    } finally {
      cluster.close();
    }
  } catch (err) {
    return reportFailure('slipstream-import', err);
  }
}

main().then((code) => { process.exitCode = code; });
