/**
 * slipstream-restore: restores a backup directory into a node, with asrestore's flags
 * (`-h host -p port -d directory`, `-n source,destination` to restore into another namespace,
 * `-u` create-only, `-r` replace, `-g` no generation check, `-s` only some sets, `-B` only some
 * bins). See docs/backup.md.
 */
import { Command, InvalidArgumentError } from 'commander';
import { runRestore } from '../tools/backup/restore.ts';
import { readManifest } from '../tools/backup/manifest.ts';
import { progressPrinter } from '../tools/progress.ts';
import { RESTORE_POLICIES, type RestorePolicy } from '../transaction/restore.ts';
import { VERSION } from '../node/version.ts';
import { connectionOptions, connectTool, encryptionKeyOf, encryptionOptions, type ConnectionFlags, type EncryptionFlags, nonNegative, positiveInt, reportFailure } from './tool-options.ts';

function list(v: string): string[] {
  return v.split(',').map((x) => x.trim());
}

function policy(v: string): RestorePolicy {
  if (!(RESTORE_POLICIES as readonly string[]).includes(v)) throw new InvalidArgumentError(`the policy is one of ${RESTORE_POLICIES.join(', ')}`);
  return v as RestorePolicy;
}

const program = encryptionOptions(connectionOptions(new Command()))
  .name('slipstream-restore')
  .description('Restore a Slipstream backup directory into a node: records with their generation, TTL and last-update time, indexes and UDF modules')
  .helpOption('--help', 'show the options')
  .version(VERSION, '-V, --version', 'print the version')
  .requiredOption('-d, --directory <directory>', 'the backup directory')
  .option('-n, --namespace <mapping>', 'restore into another namespace: source,destination (or just destination)')
  .option('-s, --set-list <sets>', 'only the records (and index definitions) of these sets, comma-separated', list)
  .option('-B, --bin-list <bins>', 'only these bins of each record, comma-separated (a record with none of them is skipped)', list)
  .option('-u, --unique', 'create-only: skip records that exist')
  .option('-r, --replace', 'replace records that exist, whatever their generation')
  .option('-g, --no-generation', 'update: merge into records that exist, whatever their generation')
  .option('--policy <policy>', `write policy: ${RESTORE_POLICIES.join(', ')} (default generationNewer)`, policy)
  .option('-w, --parallel <n>', 'files restored at once', positiveInt('parallel'), 4)
  .option('--batch-size <n>', 'records per write call', positiveInt('the batch size'), 500)
  .option('-L, --records-per-second <n>', 'limit the records written per second', positiveInt('the record rate'))
  .option('-N, --nice <MiB/s>', 'limit the bytes sent per second', nonNegative('the bandwidth'))
  .option('-R, --no-records', 'leave out the records')
  .option('-I, --no-indexes', 'leave out the secondary indexes')
  .option('--no-udfs', 'leave out the UDF modules')
  .option('--continue', 'finish the interrupted restore recorded in the directory')
  .option('--no-progress', 'no progress bar')
  .addHelpText('after', '\nExit status: 0 when every record was restored or skipped (expired, exists, generation), 1 when any failed.');

program.parse();
const o = program.opts<ConnectionFlags & EncryptionFlags & {
  directory: string; namespace?: string; setList?: string[]; binList?: string[]; unique?: boolean; replace?: boolean; generation: boolean; policy?: RestorePolicy;
  parallel: number; batchSize: number; recordsPerSecond?: number; nice?: number; records: boolean; indexes: boolean; udfs: boolean; continue?: boolean; progress: boolean;
}>();

function chosenPolicy(): RestorePolicy {
  const picked = [o.unique === true ? 'createOnly' : undefined, o.replace === true ? 'replace' : undefined, o.generation ? undefined : 'update', o.policy].filter((x) => x !== undefined);
  if (new Set(picked).size > 1) throw new InvalidArgumentError(`choose one write policy, not ${picked.join(' and ')}`);
  return (picked[0] as RestorePolicy | undefined) ?? 'generationNewer';
}

async function main(): Promise<number> {
  const ac = new AbortController();
  process.on('SIGINT', () => ac.abort());
  process.on('SIGTERM', () => ac.abort());
  try {
    const writePolicy = chosenPolicy();
    const manifest = await readManifest(o.directory);
    let namespace: string | undefined;
    if (o.namespace !== undefined) {
      const [a, b] = o.namespace.split(',').map((x) => x.trim());
      if (b === undefined) namespace = a;
      else if (a !== manifest.namespace) throw new InvalidArgumentError(`the backup is of namespace '${manifest.namespace}', not '${a}'`);
      else namespace = b;
    }
    const encryption = encryptionKeyOf(o);
    const client = await connectTool('slipstream-restore', o);
    try {
      const print = o.progress ? progressPrinter('records') : undefined;
      const s = await runRestore({
        client, directory: o.directory, ...(encryption === undefined ? {} : { encryption }), ...(namespace === undefined ? {} : { namespace }), policy: writePolicy,
        ...(o.setList === undefined ? {} : { sets: o.setList }), ...(o.binList === undefined ? {} : { bins: o.binList }),
        parallel: o.parallel, batchSize: o.batchSize,
        ...(o.recordsPerSecond === undefined ? {} : { recordsPerSecond: o.recordsPerSecond }),
        ...(o.nice === undefined ? {} : { bytesPerSecond: o.nice * 1048576 }),
        noRecords: !o.records, noIndexes: !o.indexes, noUdfs: !o.udfs, resume: o.continue === true,
        ...(print === undefined ? {} : { progress: (p: Parameters<typeof print>[0]) => print(p) }),
        signal: ac.signal,
      });
      const total = s.restored + s.skippedExpired + s.skippedExists + s.skippedGeneration + s.skippedFiltered + s.failed;
      if (print !== undefined) print({ done: total, total, bytes: 0, elapsedMs: s.elapsedMs }, true);
      const lines = [
        `restored ${s.restored} records into namespace ${namespace ?? manifest.namespace} in ${(s.elapsedMs / 1000).toFixed(1)} s (${Math.round(s.restored / Math.max(0.001, s.elapsedMs / 1000))} records/s) on ${s.nodes} node${s.nodes === 1 ? '' : 's'}`
          + `${s.failovers > 0 ? `; ${s.failovers} times records went again to a new master after a node left` : ''}`,
        `skipped ${s.skippedExpired + s.skippedExists + s.skippedGeneration + s.skippedFiltered}: ${s.skippedExpired} expired, ${s.skippedExists} existed (create-only), ${s.skippedGeneration} not newer than the stored generation`
          + `${o.setList === undefined && o.binList === undefined ? '' : `, ${s.skippedFiltered} not in the listed sets or without a listed bin`}`,
        `failed ${s.failed}${s.failures.map((f) => `\n  ${f.count} × ${f.reason}`).join('')}`,
        `indexes: ${s.indexesCreated} created, ${s.indexesExisting} already there; UDF modules: ${s.modulesRegistered} registered`,
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
      return s.failed > 0 ? 1 : 0;
    } finally {
      client.close();
    }
  } catch (err) {
    return reportFailure('slipstream-restore', err);
  }
}

main().then((code) => { process.exitCode = code; });
