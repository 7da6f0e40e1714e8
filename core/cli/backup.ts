/**
 * slipstream-backup: backs up a namespace into a directory, with asbackup's flags
 * (`-h host -p port -n namespace -s sets -d directory`, …). See docs/backup.md.
 */
import { Command, InvalidArgumentError } from 'commander';
import { rm } from 'node:fs/promises';
import { exprFromJsonText } from '../query/expr/json.ts';
import { runBackup, parsePartitionList } from '../tools/backup/backup.ts';
import { progressPrinter } from '../tools/progress.ts';
import type { Compression } from '../tools/backup/format.ts';
import { VERSION } from '../node/version.ts';
import { connectionOptions, connectTool, encryptionKeyOf, encryptionOptions, type ConnectionFlags, type EncryptionFlags, nonNegative, positiveInt, reportFailure, timeArgument } from './tool-options.ts';

function compression(v: string): Compression {
  if (v !== 'zstd' && v !== 'gzip' && v !== 'none') throw new InvalidArgumentError('compression is zstd, gzip or none');
  return v;
}

const program = encryptionOptions(connectionOptions(new Command()))
  .name('slipstream-backup')
  .description('Back up a Slipstream namespace (records with their metadata, index definitions, UDF modules) into a directory')
  .helpOption('--help', 'show the options')
  .version(VERSION, '-V, --version', 'print the version')
  .requiredOption('-n, --namespace <namespace>', 'namespace to back up')
  .requiredOption('-d, --directory <directory>', 'directory for the backup files')
  .option('-s, --set <sets>', 'only these sets, comma-separated')
  .option('-B, --bin-list <bins>', 'only these bins, comma-separated (a record with none of them is left out)')
  .option('-X, --partition-list <list>', 'only these partitions, e.g. 0-1023,2048')
  .option('-a, --modified-after <time>', 'only records last updated at or after this time (YYYY-MM-DD_HH:MM:SS)', timeArgument)
  .option('-b, --modified-before <time>', 'only records last updated before this time', timeArgument)
  .option('-f, --filter-exp <json>', 'only records this filter expression (JSON form, docs/queries.md) accepts')
  .option('-z, --compress <algorithm>', 'zstd, gzip or none', compression, 'zstd')
  .option('-F, --file-limit <MiB>', 'start a new file once one reaches this size', nonNegative('the file limit'), 64)
  .option('-w, --parallel <n>', 'partition groups scanned at once', positiveInt('parallel'), 4)
  .option('-L, --records-per-second <n>', 'limit the records read per second', positiveInt('the record rate'))
  .option('-N, --nice <MiB/s>', 'limit the bytes written per second', nonNegative('the bandwidth'))
  .option('-R, --no-records', 'leave out the records')
  .option('-I, --no-indexes', 'leave out the secondary-index definitions')
  .option('-u, --no-udfs', 'leave out the UDF modules')
  .option('-r, --remove-files', 'empty the directory first')
  .option('--continue', 'finish the interrupted backup in the directory (its state file)')
  .option('--no-progress', 'no progress bar')
  .addHelpText('after', '\nCtrl-C stops at a checkpoint; run again with --continue to finish. Exit status 0 on success, 1 otherwise.');

program.parse();
const o = program.opts<ConnectionFlags & EncryptionFlags & {
  namespace: string; directory: string; set?: string; binList?: string; partitionList?: string; modifiedAfter?: number; modifiedBefore?: number;
  filterExp?: string; compress: Compression; fileLimit: number; parallel: number; recordsPerSecond?: number; nice?: number;
  records: boolean; indexes: boolean; udfs: boolean; removeFiles?: boolean; continue?: boolean; progress: boolean;
}>();

async function main(): Promise<number> {
  const ac = new AbortController();
  process.on('SIGINT', () => ac.abort());
  process.on('SIGTERM', () => ac.abort());
  try {
    if (o.removeFiles === true && o.continue !== true) await rm(o.directory, { recursive: true, force: true });
    const encryption = encryptionKeyOf(o);
    const client = await connectTool('slipstream-backup', o);
    try {
      const print = o.progress ? progressPrinter('records') : undefined;
      const s = await runBackup({
        client, namespace: o.namespace, directory: o.directory,
        ...(o.set === undefined ? {} : { sets: o.set.split(',').map((x) => x.trim()) }),
        ...(o.binList === undefined ? {} : { bins: o.binList.split(',').map((x) => x.trim()) }),
        ...(o.partitionList === undefined ? {} : { partitions: parsePartitionList(o.partitionList) }),
        ...(o.modifiedAfter === undefined ? {} : { modifiedAfterMs: o.modifiedAfter }),
        ...(o.modifiedBefore === undefined ? {} : { modifiedBeforeMs: o.modifiedBefore }),
        ...(o.filterExp === undefined ? {} : { filter: exprFromJsonText(o.filterExp) }),
        compression: o.compress, ...(encryption === undefined ? {} : { encryption }), fileLimitBytes: Math.max(1, Math.round(o.fileLimit * 1048576)), parallel: o.parallel,
        ...(o.recordsPerSecond === undefined ? {} : { recordsPerSecond: o.recordsPerSecond }),
        ...(o.nice === undefined ? {} : { bytesPerSecond: o.nice * 1048576 }),
        noRecords: !o.records, noIndexes: !o.indexes, noUdfs: !o.udfs, resume: o.continue === true,
        ...(print === undefined ? {} : { progress: (p: Parameters<typeof print>[0]) => print(p) }),
        signal: ac.signal,
      });
      if (print !== undefined) print({ done: s.records, total: s.records, bytes: s.bytes, elapsedMs: s.elapsedMs }, true);
      process.stdout.write(`backed up ${s.records} records of namespace ${o.namespace} into ${s.files} files (${(s.bytes / 1048576).toFixed(1)} MiB), `
        + `${s.indexes} index definitions, ${s.modules} UDF modules in ${(s.elapsedMs / 1000).toFixed(1)} s `
        + `(${Math.round(s.records / Math.max(0.001, s.elapsedMs / 1000))} records/s) from ${s.nodes} node${s.nodes === 1 ? '' : 's'}`
        + `${s.failovers > 0 ? `; ${s.failovers} scans moved to another node after theirs left` : ''}\n`);
      return 0;
    } finally {
      client.close();
    }
  } catch (err) {
    return reportFailure('slipstream-backup', err);
  }
}

main().then((code) => { process.exitCode = code; });
