/**
 * slipstream-export: a namespace or set (optionally filtered) to a Parquet or Arrow IPC file,
 * through DataService.Export. See docs/columnar.md.
 */
import { Command, InvalidArgumentError } from 'commander';
import { readFileSync } from 'node:fs';
import { exprFromJsonText } from '../query/expr/json.ts';
import { exportToFile, formatOfFile } from '../tools/columnar/transfer.ts';
import { VERSION } from '../node/version.ts';
import { connectionOptions, connectTool, type ConnectionFlags, positiveInt, reportFailure } from './tool-options.ts';

function format(v: string): 'parquet' | 'arrow' {
  if (v !== 'parquet' && v !== 'arrow') throw new InvalidArgumentError('the export format is parquet or arrow');
  return v;
}

const program = connectionOptions(new Command())
  .name('slipstream-export')
  .description('Export a Slipstream namespace or set to a Parquet or Arrow IPC file (schema inferred from the bins, or given)')
  .helpOption('--help', 'show the options')
  .version(VERSION, '-V, --version', 'print the version')
  .requiredOption('-n, --namespace <namespace>', 'namespace')
  .option('-s, --set <set>', 'set; the whole namespace when absent')
  .requiredOption('-o, --output <file>', 'the file to write')
  .option('--format <format>', 'parquet or arrow (default: from the file name, else parquet)', format)
  .option('-B, --bin-list <bins>', 'only these bins, comma-separated')
  .option('-f, --filter-exp <json>', 'only records this filter expression (JSON form) accepts')
  .option('--schema <json|@file>', 'the columns and their types instead of inferring them (docs/columnar.md)')
  .option('--max-records <n>', 'stop after this many records', positiveInt('the record limit'))
  .addHelpText('after', '\nExit status 0 on success, 1 otherwise.');

program.parse();
const o = program.opts<ConnectionFlags & { namespace: string; set?: string; output: string; format?: 'parquet' | 'arrow'; binList?: string; filterExp?: string; schema?: string; maxRecords?: number }>();

async function main(): Promise<number> {
  try {
    const fmt = o.format ?? (formatOfFile(o.output) === 'arrow' ? 'arrow' : 'parquet');
    const schemaJson = o.schema === undefined ? undefined : o.schema.startsWith('@') ? readFileSync(o.schema.slice(1), 'utf8') : o.schema;
    const cluster = await connectTool('slipstream-export', o);
    const client = cluster.seed;
    try {
      const t = Date.now();
      const r = await exportToFile(client, {
        namespace: o.namespace, ...(o.set === undefined ? {} : { set: o.set }), file: o.output, format: fmt,
        ...(o.binList === undefined ? {} : { bins: o.binList.split(',').map((b) => b.trim()) }),
        ...(o.filterExp === undefined ? {} : { filter: exprFromJsonText(o.filterExp) }),
        ...(schemaJson === undefined ? {} : { schemaJson }), ...(o.maxRecords === undefined ? {} : { maxRecords: o.maxRecords }),
      });
      const s = (Date.now() - t) / 1000;
      process.stdout.write(`exported ${r.records} records to ${o.output} (${fmt}, ${(r.bytes / 1048576).toFixed(1)} MiB) in ${s.toFixed(1)} s\nschema: ${r.schemaJson}\n`);
      return 0;
    } finally {
      cluster.close();
    }
  } catch (err) {
    return reportFailure('slipstream-export', err);
  }
}

main().then((code) => { process.exitCode = code; });
