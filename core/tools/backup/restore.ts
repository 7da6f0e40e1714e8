/**
 * Restores a backup directory into a node: UDF modules and index definitions first (so
 * indexes fill as records arrive), then the records of every data file in batches through
 * DataService.RestoreRecords, which writes them with their generation, void time and
 * last-update time. Files are checked (SHA-256, then each block's CRC-32) before their
 * records are sent. A state file records the blocks done, so an interrupted restore continues.
 */
import { createHash } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DbError, ResultCode, resultCodeName } from '../../errors/index.ts';
import type { SlipstreamClient } from '../../client/client.ts';
import { partitionOf, type Bins } from '../../model/index.ts';
import { nodeLost, ToolCluster } from '../cluster-nodes.ts';
import { toPbBins, toPbValue } from '../../wire/convert.ts';
import { DataServiceService, RestorePolicy as PbRestorePolicy, RestoreStatus, type RestoreRecord as PbRestoreRecord } from '../../wire/generated/slipstream/v1/data.ts';
import { QueryServiceService } from '../../wire/generated/slipstream/v1/query.ts';
import { UdfServiceService } from '../../wire/generated/slipstream/v1/udf.ts';
import type { RestorePolicy } from '../../transaction/restore.ts';
import { Throttle } from '../throttle.ts';
import type { Progress } from '../progress.ts';
import { corrupt, readBackupFile, type BackupEntry } from './format.ts';
import { keyCheck, open as openSealed, type BackupKey } from './encryption.ts';
import { readManifest, writeJsonAtomic, type BackupManifest } from './manifest.ts';

export const RESTORE_STATE = 'restore.state.json';

export interface RestoreOptions {
  /**
   * Where to write: a node (a client), or a cluster (ToolCluster): each record goes to its
   * partition's master, UDF modules and index definitions to every node.
   */
  readonly client: SlipstreamClient | ToolCluster;
  readonly directory: string;
  /** Write into this namespace instead of the one backed up. */
  readonly namespace?: string;
  readonly policy?: RestorePolicy;
  /** The key of an encrypted backup (asrestore's --encrypt with --encryption-key-file/-env). */
  readonly encryption?: BackupKey;
  /** Files restored at once (default 4). */
  readonly parallel?: number;
  /** Records per RestoreRecords call (default 500). */
  readonly batchSize?: number;
  readonly recordsPerSecond?: number;
  readonly bytesPerSecond?: number;
  readonly noRecords?: boolean;
  readonly noIndexes?: boolean;
  readonly noUdfs?: boolean;
  /**
   * Only the records of these sets (asrestore's --set-list; the null set is `''`), and only the
   * index definitions of these sets or of no set. The others are skipped and counted.
   */
  readonly sets?: readonly string[];
  /** Only these bins of each record (asrestore's --bin-list); a record holding none of them is skipped and counted. */
  readonly bins?: readonly string[];
  /** Continue the interrupted restore recorded in the directory's state file. */
  readonly resume?: boolean;
  readonly progress?: (p: Progress) => void;
  readonly signal?: AbortSignal;
}

export interface RestoreSummary {
  readonly restored: number;
  readonly skippedExpired: number;
  readonly skippedExists: number;
  readonly skippedGeneration: number;
  /** Not in the listed sets, or holding none of the listed bins (`sets`, `bins`). */
  readonly skippedFiltered: number;
  readonly failed: number;
  /** Failure reasons with how often each happened. */
  readonly failures: ReadonlyArray<{ readonly reason: string; readonly count: number }>;
  readonly indexesCreated: number;
  readonly indexesExisting: number;
  readonly modulesRegistered: number;
  readonly elapsedMs: number;
  /** Nodes written to, and how often records were sent again because their node left. */
  readonly nodes: number;
  readonly failovers: number;
}

interface RestoreState {
  version: 1;
  namespace: string;
  /** The sets and bins asked for (absent: all); a restore continues only with the same. */
  sets?: string[];
  bins?: string[];
  /** Blocks done per file: the byte offsets of the blocks restored. */
  blocks: Record<string, number[]>;
  counts: Counts;
}

interface Counts { restored: number; skippedExpired: number; skippedExists: number; skippedGeneration: number; skippedFiltered: number; failed: number; failures: Record<string, number> }

const PB_POLICY: Record<RestorePolicy, PbRestorePolicy> = {
  generationNewer: PbRestorePolicy.RESTORE_POLICY_GENERATION_NEWER,
  createOnly: PbRestorePolicy.RESTORE_POLICY_CREATE_ONLY,
  replace: PbRestorePolicy.RESTORE_POLICY_REPLACE,
  update: PbRestorePolicy.RESTORE_POLICY_UPDATE,
};

/** How long records whose node left wait for the cluster to hand their partitions to another node. */
const FAILOVER_WAIT_MS = 60_000;

export async function runRestore(opts: RestoreOptions): Promise<RestoreSummary> {
  const cluster = opts.client instanceof ToolCluster ? opts.client : ToolCluster.of(opts.client);
  try {
    return await restoreWith(opts, cluster);
  } finally {
    if (cluster !== opts.client) cluster.close();
  }
}

async function restoreWith(opts: RestoreOptions, cluster: ToolCluster): Promise<RestoreSummary> {
  const started = Date.now();
  const manifest = decryptedManifest(await readManifest(opts.directory), opts.encryption);
  const namespace = opts.namespace ?? manifest.namespace;
  const statePath = join(opts.directory, RESTORE_STATE);
  const only = listedParts(opts, manifest);
  const state: RestoreState = opts.resume === true ? await loadState(statePath, namespace, only) : {
    version: 1, namespace, ...only, blocks: {}, counts: { restored: 0, skippedExpired: 0, skippedExists: 0, skippedGeneration: 0, skippedFiltered: 0, failed: 0, failures: {} },
  };
  const counts = state.counts;
  const sets = only.sets === undefined ? undefined : new Set(only.sets);
  const indexes = sets === undefined ? manifest.indexes : manifest.indexes.filter((i) => i.set === undefined || i.set === '' || sets.has(i.set));

  let map = await cluster.masters(namespace, opts.signal);
  const nodes = await Promise.all(map.nodes.map((a) => cluster.client(a)));
  const nodesUsed = new Set<string>();
  let failovers = 0;
  let modulesRegistered = 0;
  const idx = { created: 0, existing: 0 };
  for (const node of nodes) {
    if (opts.noUdfs !== true) modulesRegistered = await restoreModules(node, manifest);
    if (opts.noIndexes !== true) {
      const r = await restoreIndexes(node, indexes, namespace);
      // a definition counts as created when some node did not have it yet
      idx.created = Math.max(idx.created, r.created);
      idx.existing = indexes.length - idx.created;
    }
  }

  const progress = { done: Object.values(state.blocks).length === 0 ? 0 : counts.restored + counts.skippedExpired + counts.skippedExists + counts.skippedGeneration + counts.skippedFiltered + counts.failed, bytes: 0, total: manifest.records };
  const report = (): void => opts.progress?.({ ...progress, elapsedMs: Date.now() - started });
  const timer = opts.progress === undefined ? undefined : setInterval(report, 250);
  const throttle = new Throttle(opts);
  const batchSize = Math.max(1, Math.min(10_000, opts.batchSize ?? 500));
  let saving = Promise.resolve();
  const checkpoint = (): Promise<void> => (saving = saving.then(() => writeJsonAtomic(statePath, state)));
  const files = opts.noRecords === true ? [] : [...manifest.files];

  /** Sends records to one node; what comes back UNAVAILABLE (mastered elsewhere now) is returned to send again. */
  const sendTo = async (node: string, entries: readonly BackupEntry[]): Promise<BackupEntry[]> => {
    const client = await cluster.client(node);
    nodesUsed.add(node);
    const records = entries.map(toPbRestoreRecord);
    const res = await client.unary(DataServiceService.restoreRecords, { namespace, policy: PB_POLICY[opts.policy ?? 'generationNewer'], records }, {
      timeoutMs: 60_000, ...(opts.signal === undefined ? {} : { signal: opts.signal }),
    }, true);
    const again: BackupEntry[] = [];
    for (const [i, r] of res.results.entries()) {
      switch (r.status) {
        case RestoreStatus.RESTORE_STATUS_RESTORED: counts.restored++; break;
        case RestoreStatus.RESTORE_STATUS_SKIPPED_EXPIRED: counts.skippedExpired++; break;
        case RestoreStatus.RESTORE_STATUS_SKIPPED_EXISTS: counts.skippedExists++; break;
        case RestoreStatus.RESTORE_STATUS_SKIPPED_GENERATION: counts.skippedGeneration++; break;
        default: {
          if (resultCodeName(r.resultCode) === 'UNAVAILABLE') { again.push(entries[i] as BackupEntry); break; }
          countFailure(r.resultCode, r.message);
        }
      }
    }
    return again;
  };
  const countFailure = (resultCode: number, message: string): void => {
    // grouped by result code, with the first message as the example
    counts.failed++;
    const name = resultCodeName(resultCode) ?? String(resultCode);
    const known = Object.keys(counts.failures).find((k) => k.startsWith(`${name} (`));
    const key = known ?? `${name} (${resultCode}), e.g. ${message}`;
    counts.failures[key] = (counts.failures[key] ?? 0) + 1;
  };

  /**
   * Sends a batch, each record to its partition's master, the nodes in parallel. Records
   * whose node left (or no longer masters them) go again to the master of a newer map.
   */
  const sendBatch = async (entries: readonly BackupEntry[]): Promise<void> => {
    let todo: readonly BackupEntry[] = entries;
    let waitUntil = 0;
    while (todo.length > 0) {
      const byNode = new Map<string, BackupEntry[]>();
      for (const e of todo) {
        const node = map.masters[partitionOf(e.digest)] as string;
        let list = byNode.get(node);
        if (list === undefined) byNode.set(node, list = []);
        list.push(e);
      }
      const again: BackupEntry[] = [];
      const lost = new Set<string>();
      let lastError: unknown;
      await Promise.all([...byNode].map(async ([node, list]) => {
        try {
          again.push(...await sendTo(node, list));
        } catch (err) {
          if (opts.signal?.aborted === true || !nodeLost(err)) throw err;
          lastError = err;
          again.push(...list);
          if (!(await cluster.answers(node))) { lost.add(node); cluster.drop(node); }
        }
      }));
      if (again.length > 0) {
        waitUntil ||= Date.now() + FAILOVER_WAIT_MS;
        if (Date.now() >= waitUntil) {
          if (lastError !== undefined) throw lastError;
          for (const _ of again) countFailure(ResultCode.UNAVAILABLE, `partition of the record had no master within ${FAILOVER_WAIT_MS / 1000} s`);
          break;
        }
        failovers++;
        await new Promise((r) => setTimeout(r, 200));
        map = await cluster.mastersWithout(namespace, lost, waitUntil, opts.signal);
      }
      todo = again;
    }
    progress.done += entries.length;
  };

  const worker = async (): Promise<void> => {
    for (let f = files.shift(); f !== undefined; f = files.shift()) {
      const path = join(opts.directory, f.name);
      const data = await readFile(path).catch((err: NodeJS.ErrnoException) => {
        throw new DbError('PARAMETER', `backup file ${path} cannot be read (${err.code ?? err.message})`, { hint: 'restore from a complete copy of the backup directory' });
      });
      const sha = createHash('sha256').update(data).digest('hex');
      if (sha !== f.sha256) {
        // name the first damaged block, when the blocks themselves show it
        for (const _ of readBackupFile(path, data, opts.encryption)) { /* throws at the damage */ }
        throw corrupt(path, 0, `its SHA-256 is ${sha}, the manifest says ${f.sha256}`);
      }
      const done = new Set(state.blocks[f.name] ?? []);
      for (const block of readBackupFile(path, data, opts.encryption)) {
        const { offset } = block;
        if (done.has(offset)) continue;
        const entries = only.sets === undefined && only.bins === undefined ? block.entries : listedOf(block.entries, sets, only.bins);
        const filtered = block.entries.length - entries.length;
        counts.skippedFiltered += filtered;
        progress.done += filtered;
        for (let i = 0; i < entries.length; i += batchSize) {
          if (opts.signal?.aborted === true) throw new DbError('CLIENT_ABORT', 'the restore was cancelled');
          const batch = entries.slice(i, i + batchSize);
          if (throttle.active) await throttle.take(batch.length, batch.reduce((n, e) => n + approxBytes(e), 0), opts.signal);
          await sendBatch(batch);
        }
        (state.blocks[f.name] ??= []).push(offset);
        progress.bytes += entries.reduce((n, e) => n + approxBytes(e), 0);
        await checkpoint();
      }
    }
  };

  try {
    const parallel = Math.max(1, Math.min(32, opts.parallel ?? 4));
    const results = await Promise.allSettled(Array.from({ length: Math.min(parallel, Math.max(1, files.length)) }, worker));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) {
      await saving.catch(() => undefined);
      if (opts.signal?.aborted === true) {
        throw new DbError('CLIENT_ABORT', `the restore was interrupted; ${RESTORE_STATE} in ${opts.directory} records where it stopped`, { hint: 'run it again with --continue to finish it' });
      }
      throw failed.reason;
    }
  } finally {
    if (timer !== undefined) clearInterval(timer);
  }
  await saving;
  await rm(statePath, { force: true });
  report();
  return {
    restored: counts.restored, skippedExpired: counts.skippedExpired, skippedExists: counts.skippedExists, skippedGeneration: counts.skippedGeneration,
    skippedFiltered: counts.skippedFiltered, failed: counts.failed, failures: Object.entries(counts.failures).map(([reason, count]) => ({ reason, count })).sort((a, b) => b.count - a.count),
    indexesCreated: idx.created, indexesExisting: idx.existing, modulesRegistered, elapsedMs: Date.now() - started, nodes: nodesUsed.size, failovers,
  };
}

/** The sets and bins a restore is limited to (sorted, no repeats), checked against what the backup holds. */
function listedParts(opts: RestoreOptions, m: BackupManifest): { sets?: string[]; bins?: string[] } {
  const out: { sets?: string[]; bins?: string[] } = {};
  if (opts.sets !== undefined) {
    const sets = [...new Set(opts.sets)].sort();
    if (sets.length === 0) throw new DbError('PARAMETER', 'the set list is empty', { hint: 'name at least one set, or leave the set list out to restore every set' });
    const missing = m.sets === null ? [] : sets.filter((x) => !m.sets?.includes(x));
    if (missing.length > 0) {
      throw new DbError('PARAMETER', `the backup holds no set ${missing.map((x) => `'${x}'`).join(', ')}: it was taken of the sets ${m.sets?.map((x) => `'${x}'`).join(', ')}`, { hint: 'list sets the backup holds' });
    }
    out.sets = sets;
  }
  if (opts.bins !== undefined) {
    const bins = [...new Set(opts.bins)].sort();
    if (bins.length === 0 || bins.some((b) => b === '')) throw new DbError('PARAMETER', 'the bin list is empty or names an empty bin', { hint: 'name bins, comma-separated, or leave the bin list out to restore every bin' });
    const missing = m.bins === undefined ? [] : bins.filter((x) => !m.bins?.includes(x));
    if (missing.length > 0) {
      throw new DbError('PARAMETER', `the backup holds no bin ${missing.map((x) => `'${x}'`).join(', ')}: it was taken of the bins ${m.bins?.map((x) => `'${x}'`).join(', ')}`, { hint: 'list bins the backup holds' });
    }
    out.bins = bins;
  }
  return out;
}

/** The entries of the listed sets, with only the listed bins; entries left without a bin are dropped. */
function listedOf(entries: readonly BackupEntry[], sets: ReadonlySet<string> | undefined, bins: readonly string[] | undefined): BackupEntry[] {
  const out: BackupEntry[] = [];
  for (const e of entries) {
    if (sets !== undefined && !sets.has(e.set)) continue;
    if (bins === undefined) { out.push(e); continue; }
    const kept: Bins = {};
    let any = false;
    for (const b of bins) {
      const v = e.bins[b];
      if (v !== undefined) { kept[b] = v; any = true; }
    }
    if (any) out.push({ ...e, bins: kept });
  }
  return out;
}

/** Checks the key against the manifest and opens the UDF module sources of an encrypted backup. */
function decryptedManifest(m: BackupManifest, key: BackupKey | undefined): BackupManifest {
  const encryption = m.encryption ?? 'none';
  if (encryption === 'none') {
    if (key !== undefined) throw new DbError('PARAMETER', `the backup is not encrypted, yet --encrypt ${key.mode} was given`, { hint: 'restore it without --encrypt' });
    return m;
  }
  if (key === undefined) {
    throw new DbError('PARAMETER', `the backup is encrypted (${encryption})`, { hint: `restore with --encrypt ${encryption} and its key (--encryption-key-file or --encryption-key-env)` });
  }
  if (key.mode !== encryption) throw new DbError('PARAMETER', `the backup is encrypted with ${encryption}, not ${key.mode}`, { hint: `restore with --encrypt ${encryption}` });
  if (m.keyCheck !== undefined && keyCheck(key) !== m.keyCheck) {
    throw new DbError('PARAMETER', 'the encryption key is not the one the backup was written with', { hint: 'give the key file (or variable) used for the backup' });
  }
  return {
    ...m,
    modules: m.modules.map((mod) => {
      if (!mod.source.startsWith('enc:')) return mod;
      try {
        return { ...mod, source: openSealed(key, Buffer.from(mod.source.slice(4), 'base64')).toString('utf8') };
      } catch (err) {
        throw new DbError('PARAMETER', `UDF module ${mod.fileName} in the manifest ${(err as Error).message}`, { hint: 'give the key the backup was written with' });
      }
    }),
  };
}

function toPbRestoreRecord(e: BackupEntry): PbRestoreRecord {
  return {
    set: e.set, digest: e.digest, ...(e.userKey === undefined ? {} : { userKey: toPbValue(e.userKey) }),
    bins: toPbBins(e.bins), generation: e.generation, voidTime: e.voidTime, lastUpdateMs: BigInt(Math.floor(e.lastUpdateMs)),
  };
}

function approxBytes(e: BackupEntry): number {
  let n = 64 + e.set.length;
  for (const [k, v] of Object.entries(e.bins)) n += k.length + (typeof v === 'string' ? v.length : v instanceof Uint8Array ? v.length : 16);
  return n;
}

async function restoreModules(client: SlipstreamClient, m: BackupManifest): Promise<number> {
  let n = 0;
  for (const mod of m.modules) {
    await client.unary(UdfServiceService.registerModule, { fileName: mod.fileName, source: mod.source }, {}, true);
    n++;
  }
  return n;
}

async function restoreIndexes(client: SlipstreamClient, indexes: BackupManifest['indexes'], namespace: string): Promise<{ created: number; existing: number }> {
  const have = (await client.unary(QueryServiceService.listIndexes, { namespace })).indexes;
  let created = 0, existing = 0;
  for (const i of indexes) {
    const same = have.find((h) => h.name === i.name);
    if (same !== undefined) {
      if (same.bin !== i.bin || same.type !== i.type || same.collection !== i.collection || (same.set ?? '') !== (i.set ?? '')) {
        throw new DbError('INDEX_FOUND', `index '${i.name}' exists in namespace '${namespace}' with another definition (bin ${same.bin}, ${same.type} ${same.collection})`, {
          hint: 'drop that index first, or restore with --no-indexes',
        });
      }
      existing++;
      continue;
    }
    try {
      await client.unary(QueryServiceService.createIndex, { namespace, name: i.name, ...(i.set === undefined ? {} : { set: i.set }), bin: i.bin, type: i.type, collection: i.collection }, {}, false);
    } catch (err) {
      // created meanwhile through another node (system metadata shared by the cluster): same as existing
      if (err instanceof DbError && err.code === 'INDEX_FOUND' && await sameIndexExists(client, namespace, i)) { existing++; continue; }
      throw err;
    }
    created++;
  }
  return { created, existing };
}

async function sameIndexExists(client: SlipstreamClient, namespace: string, i: BackupManifest['indexes'][number]): Promise<boolean> {
  const have = (await client.unary(QueryServiceService.listIndexes, { namespace })).indexes.find((h) => h.name === i.name);
  return have !== undefined && have.bin === i.bin && have.type === i.type && have.collection === i.collection && (have.set ?? '') === (i.set ?? '');
}

async function loadState(statePath: string, namespace: string, only: { sets?: string[]; bins?: string[] }): Promise<RestoreState> {
  let s: RestoreState;
  try {
    s = JSON.parse(await readFile(statePath, 'utf8')) as RestoreState;
  } catch (err) {
    throw new DbError('PARAMETER', `cannot continue: ${statePath} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { hint: 'restore without --continue to start over' });
  }
  if (s.namespace !== namespace) {
    throw new DbError('PARAMETER', `cannot continue: the interrupted restore wrote into namespace '${s.namespace}', not '${namespace}'`, { hint: 'continue with the same -n mapping' });
  }
  for (const what of ['sets', 'bins'] as const) {
    const was = s[what]?.join(',') ?? '';
    const now = only[what]?.join(',') ?? '';
    if (was !== now) {
      throw new DbError('PARAMETER', `cannot continue: the interrupted restore took ${was === '' ? `all ${what}` : `the ${what} ${was}`}, this one ${now === '' ? `all ${what}` : `the ${what} ${now}`}`, {
        hint: `continue with the same ${what === 'sets' ? '-s/--set-list' : '-B/--bin-list'}`,
      });
    }
  }
  s.counts.skippedFiltered ??= 0;
  return s;
}
