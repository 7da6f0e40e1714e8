/** The kernel's many-record reads: batch reads by key, and scans of a namespace or set partition by partition. */
import { DbError } from '../errors/index.ts';
import type { StoredRecord } from '../plugin-api/index.ts';
import { checkSetName, N_PARTITIONS, type DbRecord, type RecordKey } from '../model/index.ts';
import { namespaceOf, toRecord, type KernelState } from './kernel-state.ts';
import { checkpoint } from './scan-scheduler.ts';
import type { ScanRequest } from './kernel-types.ts';
import { deadlinePassed, type ReadPolicy, type RecordPredicate } from './policy.ts';
import { get, getStored } from './read-path.ts';
import { SCAN_PAGE_BYTES, type ScanPage, type ScanPageRequest } from './cluster-scan.ts';

/** Reads many records; each result is the record, or a DbError (NOT_FOUND and the like). */
export async function batchGet(s: KernelState, keys: readonly RecordKey[], options: { bins?: readonly string[]; headerOnly?: boolean } & ReadPolicy = {}, read: (key: RecordKey) => Promise<DbRecord> = (k) => get(s, k, options)): Promise<Array<DbRecord | DbError>> {
  return batch(s, keys, read);
}

/** batchGet of whole records with their payloads still encoded (see getStored). */
export async function batchGetStored(s: KernelState, keys: readonly RecordKey[], policy: ReadPolicy = {}, read: (key: RecordKey) => Promise<StoredRecord> = (k) => getStored(s, k, policy)): Promise<Array<StoredRecord | DbError>> {
  return batch(s, keys, read);
}

/** Reads every key with `read` (in a cluster, the kernel's facade, which forwards keys mastered elsewhere). */
function batch<T>(s: KernelState, keys: readonly RecordKey[], read: (key: RecordKey) => Promise<T>): Promise<Array<T | DbError>> {
  s.counters.batches++;
  return Promise.all(keys.map(async (k) => {
    try {
      return await read(k);
    } catch (err) {
      if (err instanceof DbError) return err;
      throw err;
    }
  }));
}

/** Streams the live records of a namespace or set, partition by partition, in digest order. */
export async function* scan(s: KernelState, req: ScanRequest): AsyncGenerator<DbRecord> {
  const only = req.bins === undefined ? undefined : new Set(req.bins);
  for await (const stored of scanStored(s, req)) yield scannedRecord(req.namespace, stored, only, req.noBins === true);
}

/** A record scanStored() gave, decoded as scan() would return it (`only` these bins, or none). */
export function scannedRecord(namespace: string, stored: StoredRecord, only?: ReadonlySet<string>, noBins = false): DbRecord {
  const key: RecordKey = { namespace, set: stored.set, digest: stored.digest, partition: stored.partition };
  return toRecord(key, stored, only, noBins);
}

/**
 * The records scan() would return, with their payloads still encoded, for paths that
 * transcode them straight to a wire format (`bins` and `noBins` are the caller's to apply).
 */
export async function* scanStored(s: KernelState, req: ScanRequest): AsyncGenerator<StoredRecord> {
  namespaceOf(s, req.namespace);
  s.counters.scans++;
  // in a cluster: every master's share page by page (this node's own too), merged here in scan order (see cluster-scan.ts)
  if (s.forwarding !== undefined) {
    const filter = req.filter;
    yield* s.forwarding.scan(req, (page) => scanPage(s, { ...page, ...(filter === undefined ? {} : { filter }) }, req.signal));
  } else {
    yield* scanLocal(s, req);
  }
}

/** How long a master waits for partitions of a scan page to be filled before it refuses (the page is asked for again). */
const PAGE_FILL_WAIT_MS = 2000;

/**
 * A page of a cluster scan's share on this node (another node's request, or this node's own
 * share): only partitions this node masters and has filled — checked before reading and again
 * after, so that a map change while the page was read answers UNAVAILABLE (the asking node
 * resumes the partitions from their new masters after the last record it took) instead of a page
 * that silently lacks records.
 */
export async function scanPage(s: KernelState, req: ScanPageRequest & { readonly filter?: RecordPredicate }, signal?: AbortSignal): Promise<ScanPage> {
  const ns = namespaceOf(s, req.namespace);
  if (req.set !== undefined) checkSetName(req.set);
  const mastered = (): void => {
    for (const p of req.partitions) {
      const m = s.router.masterOf(req.namespace, p);
      if (m !== s.router.localNode) {
        throw new DbError('UNAVAILABLE', `partition ${p} of namespace '${req.namespace}' is not mastered here${m === undefined ? '' : ' any more'}`, { hint: 'ask its master' });
      }
    }
  };
  mastered();
  // past the time the asking node waits for the page, nobody wants it: stop reading (TIMEOUT)
  const stopAt = req.forMs === undefined ? undefined : s.clock.now() + req.forMs;
  const m = s.migration;
  if (m !== undefined && req.partitions.some((p) => m.filling(req.namespace, p))) {
    let timer: ReturnType<typeof s.clock.setTimeout> | undefined;
    const filled = await Promise.race([
      m.waitFilled(req.namespace, req.partitions).then(() => true),
      new Promise<boolean>((r) => { timer = s.clock.setTimeout(() => r(false), Math.min(PAGE_FILL_WAIT_MS, req.forMs ?? Infinity)); }),
    ]);
    if (timer !== undefined) s.clock.clearTimeout(timer);
    if (!filled) throw new DbError('UNAVAILABLE', `partitions of namespace '${req.namespace}' are still being filled here`, { hint: 'ask again once migrations are done' });
    mastered();
  }
  const records: StoredRecord[] = [];
  let bytes = 0;
  let full = false;
  const it = ns.engine.scan({
    partitions: [...req.partitions], ...(req.set === undefined ? {} : { set: req.set }), ...(req.afterDigest === undefined ? {} : { afterDigest: req.afterDigest }),
  });
  const overdue = stopAt === undefined ? undefined : (): DbError | undefined => (s.clock.now() >= stopAt
    ? new DbError('TIMEOUT', 'the scan page was not read in the time its asking node waits', { hint: 'retry with a longer timeout', inDoubt: false }) : undefined);
  for await (const stored of kept(s, ns, it, req.filter, signal, overdue)) {
    records.push(stored);
    bytes += stored.payload.length + 64;
    // a page stays well below the fabric's message limit, whatever the record sizes
    if (records.length >= req.max || bytes >= SCAN_PAGE_BYTES) {
      full = true;
      break;
    }
  }
  mastered();
  return { records, done: !full };
}

/** scanStored on a single node (it masters every partition; a partition it does not master is skipped). */
export async function* scanLocal(s: KernelState, req: ScanRequest): AsyncGenerator<StoredRecord> {
  const ns = namespaceOf(s, req.namespace);
  if (req.set !== undefined) checkSetName(req.set);
  const partitions = req.partitions ?? allPartitions();
  for (const p of partitions) {
    if (!Number.isInteger(p) || p < 0 || p >= N_PARTITIONS) {
      throw new DbError('PARAMETER', `partition ${p} does not exist`, { hint: `partitions are numbered 0 to ${N_PARTITIONS - 1}` });
    }
  }
  let n = 0;
  const max = req.maxRecords ?? Infinity;
  const mine = partitions.filter((p) => s.router.masterOf(req.namespace, p) === s.router.localNode);
  // a partition still being filled after a membership change is scanned once it is complete
  await s.migration?.waitFilled(req.namespace, mine);
  const scanOpts = {
    partitions: mine,
    ...(req.set === undefined ? {} : { set: req.set }),
    ...(req.afterDigest === undefined ? {} : { afterDigest: req.afterDigest }),
  };
  const deadline = req.deadline;
  const overdue = deadline === undefined ? undefined : (): DbError | undefined => (s.clock.now() >= deadline ? deadlinePassed('scan') : undefined);
  for await (const stored of kept(s, ns, ns.engine.scan(scanOpts), req.filter, req.signal, overdue)) {
    yield stored;
    if (++n >= max) return;
  }
}

/**
 * Every visible record this node stores of the partitions asked (masters, replicas and copies
 * not yet dropped alike): what the node's secondary indexes are built from.
 */
export async function* scanHeld(s: KernelState, req: ScanRequest): AsyncGenerator<StoredRecord> {
  const ns = namespaceOf(s, req.namespace);
  if (req.set !== undefined) checkSetName(req.set);
  const scanOpts = { partitions: req.partitions ?? allPartitions(), ...(req.set === undefined ? {} : { set: req.set }) };
  for await (const stored of ns.engine.scan(scanOpts)) {
    if (ns.isVisible(stored, s.clock.now())) yield stored;
  }
}

/**
 * The records of an engine scan a scan returns: visible now and passing the filter; the scan
 * stops when `signal` aborts or `overdue` names an error (its deadline passed: records it reads
 * but filters out count too), and yields its turn to requests between records (scan jobs).
 */
async function* kept(
  s: KernelState, ns: ReturnType<typeof namespaceOf>, records: AsyncIterable<StoredRecord>, filter: ScanRequest['filter'], signal: AbortSignal | undefined,
  overdue?: () => DbError | undefined,
): AsyncGenerator<StoredRecord> {
  for await (const stored of records) {
    if (signal?.aborted === true) throw new DbError('SCAN_ABORT', 'the scan was cancelled');
    // a scan run as a job lets requests be served between its turns
    const turn = checkpoint();
    if (turn !== undefined) await turn;
    const late = overdue?.();
    if (late !== undefined) throw late;
    if (!ns.isVisible(stored, s.clock.now())) continue;
    if (filter !== undefined) {
      const key: RecordKey = { namespace: ns.name, set: stored.set, digest: stored.digest, partition: stored.partition };
      if (!filter(toRecord(key, stored))) continue;
    }
    yield stored;
  }
}

function allPartitions(): number[] {
  return Array.from({ length: N_PARTITIONS }, (_, i) => i);
}
