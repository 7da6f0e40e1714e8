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
import { N_PARTITIONS } from '../../model/index.ts';
import type { SlipstreamClient } from '../../client/client.ts';
import { and, cmp, lit, meta, type Expr } from '../../query/expr/ast.ts';
import { exprToJsonText } from '../../query/expr/json.ts';
import { QueryServiceService } from '../../wire/generated/slipstream/v1/query.ts';
import { UdfServiceService } from '../../wire/generated/slipstream/v1/udf.ts';
import { Throttle } from '../throttle.ts';
import type { Progress } from '../progress.ts';
import { BlockWriter, fileEnd, fileHeader, FILE_SUFFIX, MANIFEST, type BackupEntry, type Compression } from './format.ts';
import { writeJsonAtomic, type BackupFileInfo, type BackupManifest, type IndexDefinition, type ModuleDefinition } from './manifest.ts';

export const BACKUP_STATE = 'backup.state.json';

export interface BackupOptions {
  readonly client: SlipstreamClient;
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
  readonly compression?: Compression;
  /** A data file is closed once it reaches this size (default 64 MiB). */
  readonly fileLimitBytes?: number;
  /** Workers scanning partitions at once (default 4). */
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
  const filter = scanFilter(opts);
  const what = JSON.stringify({ namespace: opts.namespace, sets: opts.sets ?? null, partitions: rangeText(partitions), filter: filter === undefined ? null : exprToJsonText(filter), compression, noRecords: opts.noRecords === true });
  await mkdir(opts.directory, { recursive: true });
  const statePath = join(opts.directory, BACKUP_STATE);
  const state = opts.resume === true ? await loadState(statePath, what) : await freshState(opts.directory, statePath, what);

  // What is left from an interrupted run: cut every open file back to its last checkpoint and close it.
  for (const f of state.files) if (!f.closed) await closeFile(opts.directory, f, compression);
  await writeJsonAtomic(statePath, state);

  const done = new Set(state.done);
  const todo = opts.noRecords === true ? [] : partitions.filter((p) => !done.has(p));
  const jobs: number[][] = [];
  for (let i = 0; i < todo.length; i += PARTITIONS_PER_JOB) jobs.push(todo.slice(i, i + PARTITIONS_PER_JOB));

  const counted = state.files.reduce((n, f) => n + f.records, 0);
  const progress = { done: counted, bytes: state.files.reduce((n, f) => n + f.offset, 0), total: 0 };
  progress.total = opts.noRecords === true ? 0 : await estimateTotal(opts, partitions.length);
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
      const header = fileHeader(compression);
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
        const bytes = await block.seal(compression);
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
    try {
      for (let job = jobs.shift(); job !== undefined; job = jobs.shift()) {
        let idx = 0;
        const scan = opts.client.scan(opts.namespace, {
          partitions: job,
          ...(opts.sets?.length === 1 ? { set: opts.sets[0] as string } : {}),
          ...(filter === undefined ? {} : { filter }),
          recordsPerMessage: 500,
        }, opts.signal === undefined ? {} : { signal: opts.signal });
        for await (const rec of scan) {
          if (opts.signal?.aborted === true) throw new DbError('CLIENT_ABORT', 'the backup was cancelled');
          while (idx < job.length && rec.partition !== job[idx]) {
            pendingDone.push(job[idx++] as number);
            if (block.bytes >= blockBytes) await seal(true);
          }
          const entry: BackupEntry = {
            set: rec.set, digest: rec.digest, userKey: rec.userKey as BackupEntry['userKey'],
            generation: rec.meta.generation, voidTime: rec.meta.voidTime, lastUpdateMs: rec.meta.lastUpdateMs, bins: rec.bins,
          };
          const before = block.bytes;
          block.add(entry);
          progress.done++;
          if (throttle.active) await throttle.take(1, block.bytes - before, opts.signal);
          if (block.bytes >= HARD_BLOCK_BYTES) await seal(false);
        }
        while (idx < job.length) pendingDone.push(job[idx++] as number);
        await seal(true);
      }
      if (file !== undefined) await finishFile(file);
      await checkpoint();
    } finally {
      if (file !== undefined && !file.state.closed) await file.handle.close();
    }
  };

  try {
    const results = await Promise.allSettled(Array.from({ length: Math.min(parallel, Math.max(1, jobs.length)) }, worker));
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

  const indexes = opts.noIndexes === true ? [] : await indexDefinitions(opts.client, opts.namespace);
  const modules = opts.noUdfs === true ? [] : await udfModules(opts.client);
  const files: BackupFileInfo[] = state.files.filter((f) => f.records > 0 || f.blocks > 0).map((f) => ({ name: f.name, records: f.records, bytes: f.offset, sha256: f.sha256 as string }));
  // empty files (a worker that found nothing after a resume) are left out
  for (const f of state.files) if (f.records === 0 && f.blocks === 0) await rm(join(opts.directory, f.name), { force: true });
  const records = files.reduce((n, f) => n + f.records, 0);
  const manifest: BackupManifest = {
    format: 'slipstream-backup', version: 1, namespace: opts.namespace, createdAt: new Date().toISOString(), source: opts.client.address,
    sets: opts.sets === undefined ? null : [...opts.sets], partitions: rangeText(partitions),
    modifiedAfterMs: opts.modifiedAfterMs ?? null, modifiedBeforeMs: opts.modifiedBeforeMs ?? null,
    filterJson: opts.filter === undefined ? null : exprToJsonText(opts.filter), compression,
    records, bytes: files.reduce((n, f) => n + f.bytes, 0), files, indexes, modules,
  };
  await writeJsonAtomic(join(opts.directory, MANIFEST), manifest);
  await rm(statePath, { force: true });
  progress.done = records;
  report();
  return { records, bytes: manifest.bytes, files: files.length, indexes: indexes.length, modules: modules.length, elapsedMs: Date.now() - started, manifest };
}

function scanFilter(opts: BackupOptions): Expr | undefined {
  const parts: Expr[] = [];
  if (opts.sets !== undefined && opts.sets.length > 1) parts.push({ kind: 'in', value: meta('setName'), options: opts.sets.map((s) => lit(s)) });
  if (opts.modifiedAfterMs !== undefined) parts.push(cmp('>=', meta('lastUpdate'), lit(BigInt(Math.floor(opts.modifiedAfterMs)))));
  if (opts.modifiedBeforeMs !== undefined) parts.push(cmp('<', meta('lastUpdate'), lit(BigInt(Math.floor(opts.modifiedBeforeMs)))));
  if (opts.filter !== undefined) parts.push(opts.filter);
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

async function estimateTotal(opts: BackupOptions, partitionCount: number): Promise<number> {
  try {
    let total: number;
    if (opts.sets !== undefined) {
      const sets = await opts.client.sets(opts.namespace);
      total = sets.filter((s) => opts.sets?.includes(s.set) === true).reduce((n, s) => n + Number(s.records), 0);
    } else {
      const ns = (await opts.client.namespaces()).find((n) => n.name === opts.namespace);
      if (ns === undefined) throw new DbError('NAMESPACE', `namespace '${opts.namespace}' is not configured on ${opts.client.address}`, { hint: 'check the namespace name (-n)' });
      total = Number(ns.records);
    }
    return Math.round((total * partitionCount) / N_PARTITIONS);
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
async function closeFile(directory: string, f: FileState, compression: Compression): Promise<void> {
  const path = join(directory, f.name);
  const handle = await open(path, 'r+').catch(async () => {
    // never created on disk (or lost): start it again empty
    const h = await open(path, 'w');
    await h.write(fileHeader(compression));
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
