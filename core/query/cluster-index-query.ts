/**
 * Secondary-index queries across a cluster. Index definitions are system metadata, so every
 * node has every index, kept for the records it holds. A query that an index answers is split
 * by the master of each partition asked for; each master runs it on its own index, restricted to
 * the partitions it masters, and sends pages of matches in index order (key, then digest; digest
 * for geo indexes); the node that received the query merges the shares in that order. So the
 * stream is the one a single node holding everything would give, and a row's cursor resumes it
 * exactly (every share restarts after the cursor's position).
 *
 * - A master answers a share only for partitions it masters and is not filling (it waits a
 *   little for a fill, then refuses), and checks again after reading the page: a share whose
 *   master no longer masters some of its partitions (the map changed) answers UNAVAILABLE, and
 *   the asking node splits that share again by the new map and resumes it after the last
 *   position it took — never a silently shorter answer.
 * - A share request carries the asking node's digest of the index definitions: a master whose
 *   definitions differ first takes the asking node's (system metadata catch-up), then waits for
 *   the index to be ready on its records, so it never answers from an older index set.
 * - A share whose node leaves the map while a page is awaited (it died), or that gets no answer
 *   in time, is asked again by the map of the moment, as a refused one; after SHARE_RETRY_MS of
 *   retries the query fails.
 * - The node's own share goes through the same page function (without the fabric).
 */
import { deserialize, serialize } from 'node:v8';
import { DbError } from '../errors/index.ts';
import { decodeBins, encodeBins, type DbRecord, type RecordKey, type RecordMeta } from '../model/index.ts';
import type { NodeId } from '../plugin-api/index.ts';
import { groupByMasterWhenKnown, unlessMoved } from '../transaction/cluster-scan.ts';
import { deadlinePassed } from '../transaction/policy.ts';

/** What a share request carries. */
export interface ShareRequest {
  readonly namespace: string;
  readonly set?: string;
  /** The WHERE clause as expression JSON text. */
  readonly where?: string;
  readonly indexName: string;
  /** Partitions the master must master (in any order). */
  readonly partitions: readonly number[];
  /** Resume after this row's position (a cursor of the same index). */
  readonly cursor?: string;
  /** Bins to send (all when absent). */
  readonly bins?: readonly string[];
  readonly max: number;
  /**
   * How long the asking node waits for this page (sent with the client's deadline): a master that
   * cannot answer within it stops reading and answers TIMEOUT (its work is no longer wanted).
   */
  readonly forMs?: number;
  /** The asking node and its digest of the index definitions (absent: no system metadata). */
  readonly from: NodeId;
  readonly definitions?: string;
}

export interface ShareRow {
  readonly record: DbRecord;
  /** The row's cursor (encoded), which is also its position in index order. */
  readonly cursor: string;
}

export interface SharePage {
  readonly rows: readonly ShareRow[];
  /** No rows left in the share after these. */
  readonly done: boolean;
}

/** How a query reaches the partitions' masters (wired by the query subsystem on a cluster node). */
export interface ShareAccess {
  readonly localNode: NodeId;
  masterOf(namespace: string, partition: number): NodeId | undefined;
  /** A page of `node`'s share (this node's own share without the fabric), waited for at most `waitMs`. */
  fetchShare(node: NodeId, req: ShareRequest, waitMs: number): Promise<SharePage>;
  /** Waits before asking again after a map change. */
  pause(ms: number): Promise<void>;
  now(): number;
}

export const SHARE_KIND = 'query.indexShare';
export const SHARE_PAGE_ROWS = 500;
/** How long one page of another master's share is waited for (a page not answered is asked again). */
export const SHARE_DEADLINE_MS = 10_000;
/** How long a query keeps re-splitting shares while the map changes before it fails UNAVAILABLE. */
export const SHARE_RETRY_MS = 60_000;

interface WireRecord {
  readonly key: RecordKey;
  readonly meta: RecordMeta;
  readonly payload: Uint8Array;
}

export function encodeShareRequest(req: ShareRequest): Uint8Array {
  return serialize(req);
}

export function decodeShareRequest(bytes: Uint8Array): ShareRequest {
  return deserialize(bytes) as ShareRequest;
}

/** Records cross in the record codec (the structured clone would lose GeoJSON and ordered containers). */
export function encodeSharePage(page: SharePage): Uint8Array {
  const rows = page.rows.map((r) => ({
    record: { key: r.record.key, meta: r.record.meta, payload: encodeBins(r.record.bins) } satisfies WireRecord,
    cursor: r.cursor,
  }));
  return serialize({ rows, done: page.done });
}

export function decodeSharePage(bytes: Uint8Array): SharePage {
  const raw = deserialize(bytes) as { rows: Array<{ record: WireRecord; cursor: string }>; done: boolean };
  return {
    done: raw.done,
    rows: raw.rows.map((r) => ({ record: { key: r.record.key, meta: r.record.meta, bins: decodeBins(r.record.payload) }, cursor: r.cursor })),
  };
}

/** What every share of one query has in common (the request less partitions and cursor). */
export type ShareTemplate = Omit<ShareRequest, 'partitions' | 'cursor'>;

/**
 * The merged stream of every master's share of an index query, in index order (`order`
 * compares two rows' cursors), starting after `cursor`. With the client's `deadline` (the
 * node's clock): no page is asked for past it, none is waited for beyond it, and at it the
 * stream fails TIMEOUT — the other shares are dropped (no more pages asked of them).
 */
export async function* mergedShares(
  template: ShareTemplate, partitions: readonly number[], cursor: string | undefined, access: ShareAccess,
  order: (a: string, b: string) => number, deadline?: number,
): AsyncGenerator<ShareRow> {
  const deadlineAt = access.now() + SHARE_RETRY_MS;
  const late = (): boolean => deadline !== undefined && access.now() >= deadline;

  /** One master's share, the next page asked for while this one is consumed. */
  async function* share(node: NodeId, parts: readonly number[], after: string | undefined, attempt: number): AsyncGenerator<ShareRow> {
    let last = after;
    const request = (c: string | undefined): Promise<SharePage> => {
      const waitMs = Math.max(1, Math.min(SHARE_DEADLINE_MS, (deadline ?? Infinity) - access.now()));
      const p = late() ? Promise.reject(deadlinePassed('query'))
        : access.fetchShare(node, { ...template, partitions: parts, ...(c === undefined ? {} : { cursor: c }), ...(deadline === undefined ? {} : { forMs: waitMs }) }, waitMs);
      p.catch(() => undefined); // a failed prefetch is seen when it is awaited
      return p;
    };
    let next = request(last);
    for (;;) {
      let page: SharePage | 'moved';
      try {
        // a node that leaves the map (it died) is not waited for: its share resumes on the new masters
        page = node === access.localNode ? await next
          : await unlessMoved(next, () => parts.some((p) => access.masterOf(template.namespace, p) !== node), (ms) => access.pause(ms));
      } catch (e) {
        if (late()) throw deadlinePassed('query');
        // a share only reads, so asking again is always safe: UNAVAILABLE (not mastered there any
        // more, or still being filled) and TIMEOUT (the node died or is slow) retry by the map of now
        if (!(e instanceof DbError) || (e.code !== 'UNAVAILABLE' && e.code !== 'TIMEOUT') || access.now() > deadlineAt) throw e;
        page = 'moved';
      }
      if (page === 'moved') {
        if (late()) throw deadlinePassed('query');
        if (access.now() > deadlineAt) throw new DbError('UNAVAILABLE', `the masters of namespace '${template.namespace}' kept changing during the query`, { hint: 'retry once the cluster has settled' });
        await access.pause(Math.min(20 * 2 ** attempt, 500));
        yield* split(parts, last, attempt + 1);
        return;
      }
      const tail = page.rows[page.rows.length - 1];
      if (tail !== undefined) last = tail.cursor;
      if (!page.done) next = request(last);
      yield* page.rows;
      if (page.done) return;
    }
  }

  /** Splits partitions by their current master (waiting for one while the cluster re-forms) and merges the shares in index order. */
  async function* split(parts: readonly number[], after: string | undefined, attempt: number): AsyncGenerator<ShareRow> {
    let byNode: Map<NodeId, number[]>;
    try {
      byNode = await groupByMasterWhenKnown(template.namespace, parts, access, Math.min(deadlineAt, deadline ?? Infinity));
    } catch (e) {
      throw late() ? deadlinePassed('query') : e;
    }
    yield* merge([...byNode].map(([node, ps]) => share(node, ps, after, attempt)), order);
  }

  yield* split(partitions, cursor, 0);
}

/** A k-way merge of streams that are each in `order` (of the rows' cursors). */
async function* merge(streams: ReadonlyArray<AsyncGenerator<ShareRow>>, order: (a: string, b: string) => number): AsyncGenerator<ShareRow> {
  try {
    if (streams.length === 1) {
      yield* streams[0] as AsyncGenerator<ShareRow>;
      return;
    }
    const heads: Array<ShareRow | undefined> = await Promise.all(streams.map(async (s) => {
      const r = await s.next();
      return r.done === true ? undefined : r.value;
    }));
    for (;;) {
      let best = -1;
      for (let i = 0; i < heads.length; i++) {
        const h = heads[i];
        if (h !== undefined && (best < 0 || order(h.cursor, (heads[best] as ShareRow).cursor) < 0)) best = i;
      }
      if (best < 0) return;
      yield heads[best] as ShareRow;
      const r = await (streams[best] as AsyncGenerator<ShareRow>).next();
      heads[best] = r.done === true ? undefined : r.value;
    }
  } finally {
    await Promise.allSettled(streams.map((s) => s.return(undefined)));
  }
}
