/**
 * Cluster-wide scans: the partitions a scan covers are split by master; this node scans the
 * ones it masters and pulls the others from their masters page by page (the next page is
 * asked for while the current one is consumed). The streams are merged into the scan's order
 * (partition order as requested, then digest), so a client's partition cursor stays valid.
 * When a master stops mastering partitions mid-scan (the map changed), the rest of its share
 * is split again by the new map and resumed from the last record taken.
 */
import { DbError } from '../errors/index.ts';
import type { NodeId, StoredRecord } from '../plugin-api/index.ts';
import { N_PARTITIONS } from '../model/index.ts';
import type { ScanRequest } from './kernel-types.ts';

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
}

export interface ScanPage {
  readonly records: StoredRecord[];
  /** No records left in the requested partitions after these. */
  readonly done: boolean;
}

export interface ScanRouting {
  readonly localNode: NodeId;
  masterOf(namespace: string, partition: number): NodeId | undefined;
  fetchPage(node: NodeId, req: ScanPageRequest): Promise<ScanPage>;
  /** Waits a little before asking again after a map change. */
  pause(ms: number): Promise<void>;
}

export const SCAN_PAGE_RECORDS = 1000;

type Local = (req: ScanRequest) => AsyncIterable<StoredRecord>;

/** The records of a scan over the whole cluster, in scan order. */
export async function* clusterScan(req: ScanRequest, routing: ScanRouting, local: Local): AsyncGenerator<StoredRecord> {
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
  for await (const rec of split(req, partitions, req.afterDigest, routing, local, rank, filterSource, 0)) {
    yield rec;
    if (++n >= max) return;
  }
}

function split(
  req: ScanRequest, partitions: readonly number[], afterDigest: Uint8Array | undefined, routing: ScanRouting, local: Local,
  rank: ReadonlyMap<number, number>, filterSource: string | undefined, depth: number,
): AsyncIterable<StoredRecord> {
  if (partitions.length === 0) return (async function* () {})();
  const groups = new Map<NodeId, number[]>();
  for (const p of partitions) {
    const m = routing.masterOf(req.namespace, p);
    if (m === undefined) {
      throw new DbError('UNAVAILABLE', `partition ${p} of namespace '${req.namespace}' has no master`, { hint: 'wait for the cluster to settle and retry' });
    }
    let g = groups.get(m);
    if (g === undefined) groups.set(m, g = []);
    g.push(p);
  }
  const first = partitions[0];
  const sources: AsyncIterator<StoredRecord>[] = [];
  for (const [node, ps] of groups) {
    const after = ps[0] === first ? afterDigest : undefined;
    if (node === routing.localNode) {
      const { maxRecords: _m, afterDigest: _a, ...rest } = req;
      sources.push(local({ ...rest, partitions: ps, ...(after === undefined ? {} : { afterDigest: after }) })[Symbol.asyncIterator]());
    } else {
      sources.push(remote(req, node, ps, after, routing, local, rank, filterSource, depth)[Symbol.asyncIterator]());
    }
  }
  return merge(sources, rank);
}

async function* remote(
  req: ScanRequest, node: NodeId, partitions: readonly number[], afterDigest: Uint8Array | undefined, routing: ScanRouting, local: Local,
  rank: ReadonlyMap<number, number>, filterSource: string | undefined, depth: number,
): AsyncGenerator<StoredRecord> {
  let idx = 0;
  let after = afterDigest;
  const pageReq = (): ScanPageRequest => ({
    namespace: req.namespace, ...(req.set === undefined ? {} : { set: req.set }), partitions: partitions.slice(idx),
    ...(after === undefined ? {} : { afterDigest: after }), max: SCAN_PAGE_RECORDS, ...(filterSource === undefined ? {} : { filterSource }),
  });
  let next: Promise<ScanPage> | undefined = routing.fetchPage(node, pageReq());
  while (next !== undefined) {
    if (req.signal?.aborted === true) throw new DbError('SCAN_ABORT', 'the scan was cancelled');
    let page: ScanPage;
    try {
      page = await next;
    } catch (e) {
      if (e instanceof DbError && e.code === 'UNAVAILABLE' && depth < 20) {
        // the node no longer masters (some of) these partitions: resume the rest by the new map
        await routing.pause(Math.min(20 * 2 ** depth, 500));
        yield* split(req, partitions.slice(idx), after, routing, local, rank, filterSource, depth + 1);
        return;
      }
      throw e;
    }
    const last = page.records[page.records.length - 1];
    if (last !== undefined) {
      while (partitions[idx] !== last.partition && idx < partitions.length) idx++;
      after = last.digest;
    }
    next = page.done ? undefined : routing.fetchPage(node, pageReq());
    // a failed prefetch is seen when it is awaited
    next?.catch(() => {});
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
