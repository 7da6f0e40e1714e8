/**
 * Backs up a namespace from a node into a directory: data files in the backup format
 * (format.ts), split by size, written by parallel workers that each scan groups of
 * partitions, throttled, with a state file after every checkpoint so that an interrupted
 * backup continues where it stopped; then the manifest (backup.json) with the index
 * definitions, the UDF modules and each file's SHA-256.
 */
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, rm, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { DbError } from '../../errors/index.ts';
import { N_PARTITIONS, partitionOf } from '../../model/index.ts';
import type { SlipstreamClient } from '../../client/client.ts';
import { nodeLost, ToolCluster, type PartitionMasters } from '../cluster-nodes.ts';
import { and, cmp, lit, meta, or, type Expr } from '../../query/expr/ast.ts';
import { exprToJsonText } from '../../query/expr/json.ts';
import { QueryServiceService } from '../../wire/generated/slipstream/v1/query.ts';
import { UdfServiceService } from '../../wire/generated/slipstream/v1/udf.ts';
import { Throttle } from '../throttle.ts';
import type { Progress } from '../progress.ts';
import { keyCheck, seal as sealBytes, type BackupKey } from './encryption.ts';
import { BlockWriter, fileEnd, fileHeader, FILE_SUFFIX, MANIFEST, type BackupEntry, type Compression } from './format.ts';
import { writeJsonAtomic, type BackupFileInfo, type BackupManifest, type IndexDefinition, type ModuleDefinition } from './manifest.ts';

export const BACKUP_STATE = 'backup.state.json';

export interface BackupOptions {
  /**
   * Where to read from: a node (a client), or a cluster (ToolCluster) whose partition map
   * sends each partition's scan to its master.
   */
  readonly client: SlipstreamClient | ToolCluster;
  readonly namespace: string;
  readonly directory: string;
  /** Only these sets; every set when absent. */
  readonly sets?: readonly string[];
  /** Only these partitions; all 4096 when absent. */
  readonly partitions?: readonly number[];
  /** Only records last updated at or after / before this time (ms since the epoch). */
  readonly modifiedAfterMs?: number;
  readonly modifiedBeforeMs?: number;
  /** Only records this filter expression accepts. */
  readonly filter?: Expr;
  /** Only these bins of each record (asbackup's --bin-list); a record holding none of them is left out. */
  readonly bins?: readonly string[];
  readonly compression?: Compression;
  /** Encrypt every block (and the UDF module sources) with this key (asbackup's --encrypt). */
  readonly encryption?: BackupKey;
  /** A data file is closed once it reaches this size (default 64 MiB). */
  readonly fileLimitBytes?: number;
  /** Scans at once per node (default 4). */
  readonly parallel?: number;
  readonly recordsPerSecond?: number;
  readonly bytesPerSecond?: number;
  /** Continue the unfinished backup in `directory` (its state file). */
  readonly resume?: boolean;
  /** Leave out the records, the index definitions or the UDF modules. */
  readonly noRecords?: boolean;
  readonly noIndexes?: boolean;
  readonly noUdfs?: boolean;
  readonly progress?: (p: Progress) => void;
  /** Stops the backup at the next record; the state file lets it continue later. */
  readonly signal?: AbortSignal;
  /** Raw bytes of a block before it is sealed at a partition boundary (default 1 MiB). */
  readonly blockBytes?: number;
}

export interface BackupSummary {
  readonly records: number;
  readonly bytes: number;
  readonly files: number;
  readonly indexes: number;
  readonly modules: number;
  readonly elapsedMs: number;
  readonly manifest: BackupManifest;
  /** Nodes read from, and how often a scan moved to another node because its node left. */
  readonly nodes: number;
  readonly failovers: number;
}

/** A data file as the state file keeps it: what was written up to the last checkpoint. */
interface FileState {
  name: string;
  offset: number;
  records: number;
  blocks: number;
  closed: boolean;
  sha256?: string;
}

interface BackupState {
  version: 1;
  /** The options that decide what is backed up; a continued backup must match them. */
  what: string;
  done: number[];
  files: FileState[];
  nextSeq: number;
  startedAt: string;
}

/** Partitions per scan job: one scan call covers these, in order. */
const PARTITIONS_PER_JOB = 32;
/** How long a scan whose node left waits for the cluster to hand its partitions to another node. */
const FAILOVER_WAIT_MS = 60_000;

/** A scan job: partitions read, in order, from the node that masters them. */
interface ScanJob {
  readonly partitions: readonly number[];
  readonly node: string;
  /** Resume the first partition after this digest (the last record received before its node left). */
  readonly afterDigest?: Uint8Array;
}

/** Groups partitions by master into jobs of at most PARTITIONS_PER_JOB. */
function planJobs(partitions: readonly number[], map: PartitionMasters): ScanJob[] {
  const byNode = new Map<string, number[]>();
  for (const p of partitions) {
    const node = map.masters[p] as string;
    let list = byNode.get(node);
    if (list === undefined) byNode.set(node, list = []);
    list.push(p);
  }
  const jobs: ScanJob[] = [];
  for (const [node, list] of byNode) {
    for (let i = 0; i < list.length; i += PARTITIONS_PER_JOB) jobs.push({ partitions: list.slice(i, i + PARTITIONS_PER_JOB), node });
  }
  return jobs;
}
/** A block is sealed mid-partition (without a checkpoint) once it holds this much. */
const HARD_BLOCK_BYTES = 16 * 1024 * 1024;

export async function runBackup(opts: BackupOptions): Promise<BackupSummary> {
  const started = Date.now();
  const compression = opts.compression ?? 'zstd';
  const fileLimit = opts.fileLimitBytes ?? 64 * 1024 * 1024;
  const blockBytes = opts.blockBytes ?? 1024 * 1024;
  const parallel = Math.max(1, Math.min(64, opts.parallel ?? 4));
  const partitions = [...(opts.partitions ?? Array.from({ length: N_PARTITIONS }, (_, i) => i))];
  for (const p of partitions) {
    if (!Number.isInteger(p) || p < 0 || p >= N_PARTITIONS) throw new DbError('PARAMETER', `partition ${p} does not exist`, { hint: `partitions are 0 to ${N_PARTITIONS - 1}` });
  }
  if (opts.bins !== undefined && (opts.bins.length === 0 || opts.bins.some((b) => b === ''))) {
    throw new DbError('PARAMETER', 'the bin list is empty or names an empty bin', { hint: 'name bins, comma-separated, or leave the bin list out to back up every bin' });
  }
  const filter = scanFilter(opts);
  const what = JSON.stringify({ namespace: opts.namespace, sets: opts.sets ?? null, bins: opts.bins ?? null, partitions: rangeText(partitions), filter: filter === undefined ? null : exprToJsonText(filter), compression, encryption: opts.encryption?.mode ?? 'none', noRecords: opts.noRecords === true });
  await mkdir(opts.directory, { recursive: true });
  const statePath = join(opts.directory, BACKUP_STATE);
  const state = opts.resume === true ? await loadState(statePath, what) : await freshState(opts.directory, statePath, what);

  // What is left from an interrupted run: cut every open file back to its last checkpoint and close it.
  for (const f of state.files) if (!f.closed) await closeFile(opts.directory, f, compression, opts.encryption);
  await writeJsonAtomic(statePath, state);

  const cluster = opts.client instanceof ToolCluster ? opts.client : ToolCluster.of(opts.client);
  try {
    return await backupWith(opts, cluster, { started, compression, fileLimit, blockBytes, parallel, partitions, filter, state, statePath });
  } finally {
    if (cluster !== opts.client) cluster.close();
  }
}

async function backupWith(
  opts: BackupOptions, cluster: ToolCluster,
  { started, compression, fileLimit, blockBytes, parallel, partitions, filter, state, statePath }: {
    started: number; compression: Compression; fileLimit: number; blockBytes: number; parallel: number; partitions: number[];
    filter: Expr | undefined; state: BackupState; statePath: string;
  },
): Promise<BackupSummary> {
  const done = new Set(state.done);
  const todo = opts.noRecords === true ? [] : partitions.filter((p) => !done.has(p));
  const map = await cluster.masters(opts.namespace, opts.signal);
  const jobs = planJobs(todo, map);
  const nodesUsed = new Set<string>();
  let failovers = 0;
  // each node serves `parallel` scans at once: a worker takes the job of the least busy node
  const busy = new Map<string, number>();
  const nextJob = (): ScanJob | undefined => {
    let best = -1;
    for (let i = 0; i < jobs.length; i++) {
      if (best < 0 || (busy.get((jobs[i] as ScanJob).node) ?? 0) < (busy.get((jobs[best] as ScanJob).node) ?? 0)) best = i;
    }
    return best < 0 ? undefined : jobs.splice(best, 1)[0];
  };

  const counted = state.files.reduce((n, f) => n + f.records, 0);
  const progress = { done: counted, bytes: state.files.reduce((n, f) => n + f.offset, 0), total: 0 };
  progress.total = opts.noRecords === true ? 0 : await estimateTotal(opts, cluster, map, partitions.length);
  const report = (): void => opts.progress?.({ ...progress, elapsedMs: Date.now() - started });
  const timer = opts.progress === undefined ? undefined : setInterval(report, 250);
  const throttle = new Throttle(opts);
  let saving = Promise.resolve();
  const checkpoint = (): Promise<void> => (saving = saving.then(() => writeJsonAtomic(statePath, state)));

  const worker = async (): Promise<void> => {
    let file: { state: FileState; handle: FileHandle; hash: ReturnType<typeof createHash> } | undefined;
    const block = new BlockWriter();
    let pendingDone: number[] = [];
    const openFile = async (): Promise<NonNullable<typeof file>> => {
      const name = `${opts.namespace}_${String(state.nextSeq++).padStart(5, '0')}${FILE_SUFFIX}`;
      const handle = await open(join(opts.directory, name), 'w');
      const header = fileHeader(compression, opts.encryption);
      await handle.write(header);
      const fs: FileState = { name, offset: header.length, records: 0, blocks: 0, closed: false };
      state.files.push(fs);
      const hash = createHash('sha256').update(header);
      return { state: fs, handle, hash };
    };
    const seal = async (isCheckpoint: boolean): Promise<void> => {
      if (block.records > 0) {
        file ??= await openFile();
        const n = block.records;
        const bytes = await block.seal(compression, opts.encryption);
        await file.handle.write(bytes);
        file.hash.update(bytes);
        progress.bytes += bytes.length;
        if (isCheckpoint) {
          file.state.offset += bytes.length;
          file.state.records += n;
          file.state.blocks++;
        } else {
          // written but not yet a checkpoint: counted once the partition ends
          unCheckpointed.push({ bytes: bytes.length, records: n });
        }
      }
      if (!isCheckpoint) return;
      if (file !== undefined) {
        for (const u of unCheckpointed) { file.state.offset += u.bytes; file.state.records += u.records; file.state.blocks++; }
      }
      unCheckpointed = [];
      state.done.push(...pendingDone);
      pendingDone = [];
      if (file !== undefined && file.state.offset >= fileLimit) {
        await finishFile(file);
        file = undefined;
      }
      await checkpoint();
    };
    let unCheckpointed: Array<{ bytes: number; records: number }> = [];
    const finishFile = async (f: NonNullable<typeof file>): Promise<void> => {
      const end = fileEnd(f.state.records, f.state.blocks);
      await f.handle.write(end);
      f.hash.update(end);
      await f.handle.sync();
      await f.handle.close();
      f.state.closed = true;
      f.state.offset += end.length;
      f.state.sha256 = f.hash.digest('hex');
    };
    /**
     * Scans one job's partitions from its node. When the node leaves (or stops mastering
     * them) the partition in progress continues from its new master after the last record
     * received, and the rest are planned again by the new map.
     */
    const runJob = async (first: ScanJob): Promise<void> => {
      let job = first;
      let waitUntil = 0;
      for (;;) {
        let idx = 0;
        let last: Uint8Array | undefined;
        const node = job.node;
        busy.set(node, (busy.get(node) ?? 0) + 1);
        try {
          const client = await cluster.client(job.node);
          nodesUsed.add(job.node);
          const scan = client.scan(opts.namespace, {
            partitions: job.partitions,
            ...(job.afterDigest === undefined ? {} : { afterDigest: job.afterDigest }),
            ...(opts.sets?.length === 1 ? { set: opts.sets[0] as string } : {}),
            ...(filter === undefined ? {} : { filter }),
            ...(opts.bins === undefined ? {} : { bins: opts.bins }),
            recordsPerMessage: 500,
          }, opts.signal === undefined ? {} : { signal: opts.signal });
          for await (const rec of scan) {
            if (opts.signal?.aborted === true) throw new DbError('CLIENT_ABORT', 'the backup was cancelled');
            while (idx < job.partitions.length && rec.partition !== job.partitions[idx]) {
              pendingDone.push(job.partitions[idx++] as number);
              if (block.bytes >= blockBytes) await seal(true);
            }
            const entry: BackupEntry = {
              set: rec.set, digest: rec.digest, userKey: rec.userKey as BackupEntry['userKey'],
              generation: rec.meta.generation, voidTime: rec.meta.voidTime, lastUpdateMs: rec.meta.lastUpdateMs, bins: rec.bins,
            };
            const before = block.bytes;
            block.add(entry);
            last = rec.digest;
            waitUntil = 0;
            progress.done++;
            if (throttle.active) await throttle.take(1, block.bytes - before, opts.signal);
            if (block.bytes >= HARD_BLOCK_BYTES) await seal(false);
          }
          while (idx < job.partitions.length) pendingDone.push(job.partitions[idx++] as number);
          await seal(true);
          return;
        } catch (err) {
          if (opts.signal?.aborted === true || !nodeLost(err)) throw err;
          waitUntil ||= Date.now() + FAILOVER_WAIT_MS;
          if (Date.now() >= waitUntil) throw err;
          // is the node gone, or did it only hand the partitions on? wait for a map without it if gone
          const gone = !(await cluster.answers(job.node));
          if (gone) cluster.drop(job.node);
          else await new Promise((r) => setTimeout(r, 200));
          const now = await cluster.mastersWithout(opts.namespace, gone ? new Set([job.node]) : new Set(), waitUntil, opts.signal);
          failovers++;
          const current = job.partitions[idx] as number;
          const rest = job.partitions.slice(idx + 1);
          const after = last !== undefined && partitionOf(last) === current ? last : (idx === 0 ? job.afterDigest : undefined);
          // the queued jobs are planned again too: those of the node that left would fail one by one
          jobs.push(...planJobs([...rest, ...jobs.splice(0).flatMap((j) => j.partitions)], now));
          job = { partitions: [current], node: now.masters[current] as string, ...(after === undefined ? {} : { afterDigest: after }) };
        } finally {
          busy.set(node, (busy.get(node) ?? 1) - 1);
        }
      }
    };
    try {
      for (let job = nextJob(); job !== undefined; job = nextJob()) await runJob(job);
      if (file !== undefined) await finishFile(file);
      await checkpoint();
    } finally {
      if (file !== undefined && !file.state.closed) await file.handle.close();
    }
  };

  try {
    const results = await Promise.allSettled(Array.from({ length: Math.min(64, parallel * Math.max(1, map.nodes.length), Math.max(1, jobs.length)) }, worker));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) {
      await saving.catch(() => undefined);
      const e = failed.reason;
      if (opts.signal?.aborted === true) {
        throw new DbError('CLIENT_ABORT', `the backup was interrupted; ${BACKUP_STATE} in ${opts.directory} records where it stopped`, { hint: 'run it again with --continue to finish it' });
      }
      throw e instanceof DbError ? e : new DbError('CLIENT_ERROR', `the backup failed: ${(e as Error).message}`, { hint: 'run it again with --continue to finish it', cause: e });
    }
  } finally {
    if (timer !== undefined) clearInterval(timer);
  }
  await saving;

  const indexes = opts.noIndexes === true ? [] : await indexDefinitions(cluster.seed, opts.namespace);
  const key = opts.encryption;
  const modules = (opts.noUdfs === true ? [] : await udfModules(cluster.seed))
    .map((m) => (key === undefined ? m : { ...m, source: `enc:${sealBytes(key, Buffer.from(m.source, 'utf8')).toString('base64')}` }));
  const files: BackupFileInfo[] = state.files.filter((f) => f.records > 0 || f.blocks > 0).map((f) => ({ name: f.name, records: f.records, bytes: f.offset, sha256: f.sha256 as string }));
  // empty files (a worker that found nothing after a resume) are left out
  for (const f of state.files) if (f.records === 0 && f.blocks === 0) await rm(join(opts.directory, f.name), { force: true });
  const records = files.reduce((n, f) => n + f.records, 0);
  const manifest: BackupManifest = {
    format: 'slipstream-backup', version: key === undefined ? 1 : 2, namespace: opts.namespace, createdAt: new Date().toISOString(), source: map.nodes.join(','),
    sets: opts.sets === undefined ? null : [...opts.sets], ...(opts.bins === undefined ? {} : { bins: [...opts.bins] }), partitions: rangeText(partitions),
    modifiedAfterMs: opts.modifiedAfterMs ?? null, modifiedBeforeMs: opts.modifiedBeforeMs ?? null,
    filterJson: opts.filter === undefined ? null : exprToJsonText(opts.filter), compression,
    ...(key === undefined ? {} : { encryption: key.mode, keyCheck: keyCheck(key) }),
    records, bytes: files.reduce((n, f) => n + f.bytes, 0), files, indexes, modules,
  };
  await writeJsonAtomic(join(opts.directory, MANIFEST), manifest);
  await rm(statePath, { force: true });
  progress.done = records;
  report();
  return { records, bytes: manifest.bytes, files: files.length, indexes: indexes.length, modules: modules.length, elapsedMs: Date.now() - started, manifest, nodes: nodesUsed.size, failovers };
}

const binExists = (name: string): Expr => ({ kind: 'binExists', name });

function scanFilter(opts: BackupOptions): Expr | undefined {
  const parts: Expr[] = [];
  if (opts.sets !== undefined && opts.sets.length > 1) parts.push({ kind: 'in', value: meta('setName'), options: opts.sets.map((s) => lit(s)) });
  if (opts.modifiedAfterMs !== undefined) parts.push(cmp('>=', meta('lastUpdate'), lit(BigInt(Math.floor(opts.modifiedAfterMs)))));
  if (opts.modifiedBeforeMs !== undefined) parts.push(cmp('<', meta('lastUpdate'), lit(BigInt(Math.floor(opts.modifiedBeforeMs)))));
  if (opts.filter !== undefined) parts.push(opts.filter);
  // a record holding none of the listed bins would come back empty: it is left out, on the node
  if (opts.bins !== undefined) parts.push(opts.bins.length === 1 ? binExists(opts.bins[0] as string) : or(...opts.bins.map(binExists)));
  return parts.length === 0 ? undefined : parts.length === 1 ? parts[0] : and(...parts);
}

/** Partitions as ranges, e.g. "0-4095" or "0-99,200". */
export function rangeText(partitions: readonly number[]): string {
  const sorted = [...partitions].sort((a, b) => a - b);
  const out: string[] = [];
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === (sorted[j] as number) + 1) j++;
    out.push(i === j ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return out.join(',');
}

/** Parses "0-99,200" (asbackup's partition list) into partition ids. */
export function parsePartitionList(text: string): number[] {
  const out: number[] = [];
  for (const part of text.split(',')) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    const lo = m === null ? NaN : Number(m[1]);
    const hi = m === null ? NaN : m[2] === undefined ? lo : Number(m[2]);
    if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo > hi || hi >= N_PARTITIONS) {
      throw new DbError('PARAMETER', `'${part}' is not a partition or a range of partitions`, { hint: `write e.g. 0-1023,2048 (partitions are 0 to ${N_PARTITIONS - 1})` });
    }
    for (let p = lo; p <= hi; p++) out.push(p);
  }
  return [...new Set(out)];
}

/** Records to expect: the namespace's (or sets') master records over the nodes, for the partitions asked. */
async function estimateTotal(opts: BackupOptions, cluster: ToolCluster, map: PartitionMasters, partitionCount: number): Promise<number> {
  try {
    let total = 0;
    for (const address of map.nodes) {
      const client = await cluster.client(address);
      if (opts.sets !== undefined) {
        const sets = await client.sets(opts.namespace);
        total += sets.filter((s) => opts.sets?.includes(s.set) === true).reduce((n, s) => n + Number(s.records), 0);
      } else {
        const ns = (await client.namespaces()).find((n) => n.name === opts.namespace);
        if (ns === undefined) throw new DbError('NAMESPACE', `namespace '${opts.namespace}' is not configured on ${address}`, { hint: 'check the namespace name (-n)' });
        total += Number(ns.records);
      }
    }
    return Math.round((total * partitionCount) / N_PARTITIONS / Math.max(1, map.replicationFactor));
  } catch (err) {
    if (err instanceof DbError && err.code === 'NAMESPACE') throw err;
    return 0;
  }
}

async function indexDefinitions(client: SlipstreamClient, namespace: string): Promise<IndexDefinition[]> {
  const res = await client.unary(QueryServiceService.listIndexes, { namespace });
  return res.indexes.map((i) => ({ name: i.name, ...(i.set === undefined ? {} : { set: i.set }), bin: i.bin, type: i.type, collection: i.collection }));
}

async function udfModules(client: SlipstreamClient): Promise<ModuleDefinition[]> {
  const list = await client.unary(UdfServiceService.listModules, {});
  const out: ModuleDefinition[] = [];
  for (const m of list.modules) {
    const got = await client.unary(UdfServiceService.getModule, { name: m.fileName });
    out.push({ fileName: m.fileName, source: got.source, hash: got.module?.hash ?? m.hash });
  }
  return out;
}

async function freshState(directory: string, statePath: string, what: string): Promise<BackupState> {
  const exists = async (p: string): Promise<boolean> => stat(p).then(() => true, () => false);
  if (await exists(statePath)) {
    throw new DbError('PARAMETER', `${directory} holds an unfinished backup (${BACKUP_STATE})`, { hint: 'finish it with --continue, or remove the directory (or pass --remove-files) to start over' });
  }
  if (await exists(join(directory, MANIFEST))) {
    throw new DbError('PARAMETER', `${directory} already holds a backup (${MANIFEST})`, { hint: 'back up into an empty directory, or pass --remove-files to replace it' });
  }
  return { version: 1, what, done: [], files: [], nextSeq: 0, startedAt: new Date().toISOString() };
}

async function loadState(statePath: string, what: string): Promise<BackupState> {
  let s: BackupState;
  try {
    s = JSON.parse(await readFile(statePath, 'utf8')) as BackupState;
  } catch (err) {
    throw new DbError('PARAMETER', `cannot continue: ${statePath} cannot be read (${(err as Error).message})`, { hint: 'start the backup afresh in an empty directory' });
  }
  if (s.what !== what) {
    throw new DbError('PARAMETER', `cannot continue: the unfinished backup in ${statePath} was of ${s.what}, not ${what}`, { hint: 'continue with the same namespace, sets, partitions, filter and compression' });
  }
  return s;
}

/** Cuts a file left open by an interrupted run back to its last checkpoint and closes it. */
async function closeFile(directory: string, f: FileState, compression: Compression, key: BackupKey | undefined): Promise<void> {
  const path = join(directory, f.name);
  const handle = await open(path, 'r+').catch(async () => {
    // never created on disk (or lost): start it again empty
    const h = await open(path, 'w');
    await h.write(fileHeader(compression, key));
    f.offset = 16; f.records = 0; f.blocks = 0;
    return h;
  });
  try {
    await handle.truncate(f.offset);
    const end = fileEnd(f.records, f.blocks);
    await handle.write(end, 0, end.length, f.offset);
    await handle.sync();
  } finally {
    await handle.close();
  }
  f.offset += END_BYTES_OF_END;
  f.closed = true;
  f.sha256 = createHash('sha256').update(await readFile(path)).digest('hex');
}

const END_BYTES_OF_END = 16;
