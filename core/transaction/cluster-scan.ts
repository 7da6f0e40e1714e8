/**
 * Cluster-wide scans: the partitions a scan covers are split by master and read page by page
 * from each master — this node's own share too, through the same page function without the
 * fabric (the next page is asked for while the current one is consumed). The streams are merged
 * into the scan's order (partition order as requested, then digest), so a client's partition
 * cursor stays valid.
 *
 * A scan never silently returns fewer records (Aerospike's partition scans mark each partition
 * done or to be retried; here the retry is built in): a master answers a page only for
 * partitions it masters and has filled, and checks that again after reading it, else it answers
 * UNAVAILABLE. A page refused, or not answered by a node that the map no longer names as the
 * master (it died), is asked again: the rest of that share is split by the map of the moment and
 * resumed after the last record taken. When the retries run out the scan fails.
 */
import { DbError } from '../errors/index.ts';
import type { NodeId, StoredRecord } from '../plugin-api/index.ts';
import { N_PARTITIONS } from '../model/index.ts';
import type { ScanRequest } from './kernel-types.ts';
import { deadlinePassed } from './policy.ts';

/** What a scan page request asks a master for. */
export interface ScanPageRequest {
  readonly namespace: string;
  readonly set?: string;
  /** In scan order; the master must master every one of them. */
  readonly partitions: readonly number[];
  /** Resume after this digest within the first partition. */
  readonly afterDigest?: Uint8Array;
  readonly max: number;
  readonly filterSource?: string;
  /**
   * How long the asking node waits for this page (sent when the scan has a deadline): a master
   * still reading when it ends stops and answers TIMEOUT (nobody waits for the page any more).
   */
  readonly forMs?: number;
}

export interface ScanPage {
  readonly records: StoredRecord[];
  /** No records left in the requested partitions after these. */
  readonly done: boolean;
}

export interface ScanRouting {
  readonly localNode: NodeId;
  masterOf(namespace: string, partition: number): NodeId | undefined;
  /** A page of `node`'s share (this node's own without the fabric). */
  fetchPage(node: NodeId, req: ScanPageRequest): Promise<ScanPage>;
  /** Waits a little before asking again after a map change. */
  pause(ms: number): Promise<void>;
  /** The node's clock (for the scan's deadline). */
  now?(): number;
}

export const SCAN_PAGE_RECORDS = 1000;
/** Payload bytes after which a page is cut (the fabric carries at most 24 MiB per message). */
export const SCAN_PAGE_BYTES = 4 * 1024 * 1024;
/** Re-splits of one share after refusals before the scan fails (about 8 s of backing off). */
const MAX_RESPLITS = 20;
/** Looks at the map again while a partition has no master, before the scan fails (about 10 s). */
const NO_MASTER_WAITS = 24;
/** How often a page being waited for is checked against the map (its node may have left it). */
const MOVE_CHECK_MS = 250;

/**
 * The records of a scan over the whole cluster, in scan order. With the request's `deadline`
 * (the node's clock): no page is asked for past it, each page is asked with the time left (its
 * master stops reading when that ends), and at it the scan fails TIMEOUT (not in doubt) — the
 * other shares are dropped, no master is asked for more.
 */
export async function* clusterScan(req: ScanRequest, routing: ScanRouting): AsyncGenerator<StoredRecord> {
  const partitions = req.partitions ?? Array.from({ length: N_PARTITIONS }, (_, i) => i);
  const rank = new Map(partitions.map((p, i) => [p, i]));
  let filterSource: string | undefined;
  if (req.filter !== undefined) {
    if (req.filter.source === undefined) {
      throw new DbError('PARAMETER', 'this scan carries a filter that cannot be sent to other nodes', { hint: 'give the filter as an expression' });
    }
    filterSource = req.filter.source;
  }
  const max = req.maxRecords ?? Infinity;
  let n = 0;
  for await (const rec of split(req, partitions, req.afterDigest, routing, rank, filterSource, 0)) {
    yield rec;
    if (++n >= max) return;
  }
}

async function* split(
  req: ScanRequest, partitions: readonly number[], afterDigest: Uint8Array | undefined, routing: ScanRouting,
  rank: ReadonlyMap<number, number>, filterSource: string | undefined, depth: number,
): AsyncGenerator<StoredRecord> {
  if (partitions.length === 0) return;
  let groups: Map<NodeId, number[]>;
  try {
    groups = await groupByMasterWhenKnown(req.namespace, partitions, routing, req.deadline, req.signal);
  } catch (e) {
    throw req.deadline !== undefined && routing.now !== undefined && routing.now() >= req.deadline ? deadlinePassed('scan') : e;
  }
  const first = partitions[0];
  const sources: AsyncIterator<StoredRecord>[] = [];
  for (const [node, ps] of groups) {
    const after = ps[0] === first ? afterDigest : undefined;
    sources.push(share(req, node, ps, after, routing, rank, filterSource, depth)[Symbol.asyncIterator]());
  }
  yield* merge(sources, rank);
}

/**
 * groupByMaster, waiting while a partition has no master: the cluster is re-forming (this node
 * left one and has not joined another, or is about to join others after a heartbeat flap), which
 * takes a heartbeat timeout and a round or two — a scan, index query or aggregation waits for the
 * new map (about 10 s at most, and not past its deadline or its cancellation) instead of failing
 * at once.
 */
export async function groupByMasterWhenKnown(
  namespace: string, partitions: readonly number[],
  map: { masterOf(namespace: string, partition: number): NodeId | undefined; pause(ms: number): Promise<void>; now?(): number },
  deadline?: number, signal?: AbortSignal,
): Promise<Map<NodeId, number[]>> {
  for (let wait = 0; ; wait++) {
    try {
      return groupByMaster(namespace, partitions, (ns, p) => map.masterOf(ns, p));
    } catch (e) {
      if (!(e instanceof DbError) || e.code !== 'UNAVAILABLE' || wait >= NO_MASTER_WAITS) throw e;
      if (signal?.aborted === true) throw new DbError('SCAN_ABORT', 'the request was cancelled');
      if (deadline !== undefined && map.now !== undefined && map.now() >= deadline) throw e;
      await map.pause(Math.min(50 * 2 ** wait, 500));
    }
  }
}

/**
 * Partitions grouped by the node that masters each now (in the order first met); UNAVAILABLE
 * when one has no master. How cluster scans, index queries and aggregations split their work.
 */
export function groupByMaster(namespace: string, partitions: readonly number[], masterOf: (namespace: string, partition: number) => NodeId | undefined): Map<NodeId, number[]> {
  const groups = new Map<NodeId, number[]>();
  for (const p of partitions) {
    const m = masterOf(namespace, p);
    if (m === undefined) {
      throw new DbError('UNAVAILABLE', `partition ${p} of namespace '${namespace}' has no master now`, { hint: 'retry once the cluster has formed' });
    }
    let g = groups.get(m);
    if (g === undefined) groups.set(m, g = []);
    g.push(p);
  }
  return groups;
}

/**
 * Waits for another node's answer — or returns 'moved' as soon as `moved()` holds (checked every
 * 250 ms: the node no longer masters what it was asked for, e.g. it died and the map dropped it),
 * rather than waiting for the call's deadline. Cluster scans, index queries and aggregations use
 * it to resume a share on the new masters.
 */
export async function unlessMoved<T>(answer: Promise<T>, moved: () => boolean, pause: (ms: number) => Promise<void>): Promise<T | 'moved'> {
  let settled = false;
  const watch = async (): Promise<'moved'> => {
    for (;;) {
      await pause(MOVE_CHECK_MS);
      if (settled || moved()) return 'moved';
    }
  };
  try {
    return await Promise.race([answer, watch()]);
  } finally {
    settled = true;
  }
}

/** One master's share, page by page; split again by the map of the moment when a page is refused or its node is gone. */
async function* share(
  req: ScanRequest, node: NodeId, partitions: readonly number[], afterDigest: Uint8Array | undefined, routing: ScanRouting,
  rank: ReadonlyMap<number, number>, filterSource: string | undefined, depth: number,
): AsyncGenerator<StoredRecord> {
  let idx = 0;
  let after = afterDigest;
  const deadline = req.deadline;
  const late = (): boolean => deadline !== undefined && routing.now !== undefined && routing.now() >= deadline;
  const pageReq = (): ScanPageRequest => ({
    namespace: req.namespace, ...(req.set === undefined ? {} : { set: req.set }), partitions: partitions.slice(idx),
    ...(after === undefined ? {} : { afterDigest: after }), max: SCAN_PAGE_RECORDS, ...(filterSource === undefined ? {} : { filterSource }),
    ...(deadline === undefined || routing.now === undefined ? {} : { forMs: Math.max(1, deadline - routing.now()) }),
  });
  const ask = (): Promise<ScanPage> => {
    const p = late() ? Promise.reject(deadlinePassed('scan')) : routing.fetchPage(node, pageReq());
    p.catch(() => {}); // a failed prefetch is seen when it is awaited
    return p;
  };
  let next: Promise<ScanPage> | undefined = ask();
  while (next !== undefined) {
    if (req.signal?.aborted === true) throw new DbError('SCAN_ABORT', 'the scan was cancelled');
    if (late()) throw deadlinePassed('scan');
    let page: ScanPage | 'moved';
    try {
      const rest = partitions.slice(idx);
      page = node === routing.localNode ? await next
        : await unlessMoved(next, () => rest.some((p) => routing.masterOf(req.namespace, p) !== node), (ms) => routing.pause(ms));
    } catch (e) {
      if (late()) throw deadlinePassed('scan');
      // UNAVAILABLE: not (all) mastered there any more, or still filling; TIMEOUT from a node the
      // map no longer names: it died. A scan only reads, so asking again is always safe.
      const moved = e instanceof DbError && e.code === 'TIMEOUT' && partitions.slice(idx).some((p) => routing.masterOf(req.namespace, p) !== node);
      if (!(e instanceof DbError) || (e.code !== 'UNAVAILABLE' && !moved) || depth >= MAX_RESPLITS) throw e;
      page = 'moved';
    }
    if (page === 'moved') {
      if (late()) throw deadlinePassed('scan');
      if (depth >= MAX_RESPLITS) throw new DbError('UNAVAILABLE', `the masters of namespace '${req.namespace}' kept changing during the scan`, { hint: 'retry once the cluster has settled' });
      await routing.pause(Math.min(20 * 2 ** depth, 500));
      yield* split(req, partitions.slice(idx), after, routing, rank, filterSource, depth + 1);
      return;
    }
    const last = page.records[page.records.length - 1];
    if (last !== undefined) {
      while (partitions[idx] !== last.partition && idx < partitions.length) idx++;
      after = last.digest;
    }
    next = page.done ? undefined : ask();
    for (const r of page.records) yield r;
  }
}

function before(a: StoredRecord, b: StoredRecord, rank: ReadonlyMap<number, number>): boolean {
  const ra = rank.get(a.partition) ?? 0;
  const rb = rank.get(b.partition) ?? 0;
  if (ra !== rb) return ra < rb;
  return Buffer.compare(a.digest, b.digest) < 0;
}

/** Merges streams each in scan order into one in scan order. */
async function* merge(sources: AsyncIterator<StoredRecord>[], rank: ReadonlyMap<number, number>): AsyncGenerator<StoredRecord> {
  if (sources.length === 1) {
    const only = sources[0] as AsyncIterator<StoredRecord>;
    try {
      for (let r = await only.next(); r.done !== true; r = await only.next()) yield r.value;
    } finally {
      await only.return?.();
    }
    return;
  }
  const heads: (StoredRecord | undefined)[] = [];
  try {
    const firsts = await Promise.all(sources.map((s) => s.next()));
    firsts.forEach((r) => heads.push(r.done === true ? undefined : r.value));
    for (;;) {
      let best = -1;
      for (let i = 0; i < heads.length; i++) {
        const h = heads[i];
        if (h !== undefined && (best < 0 || before(h, heads[best] as StoredRecord, rank))) best = i;
      }
      if (best < 0) return;
      yield heads[best] as StoredRecord;
      const r = await (sources[best] as AsyncIterator<StoredRecord>).next();
      heads[best] = r.done === true ? undefined : r.value;
    }
  } finally {
    await Promise.allSettled(sources.map((s) => s.return?.()));
  }
}
