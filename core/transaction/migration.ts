/**
 * Migrations: after every membership change each node fills the partitions it must now hold,
 * pulling copies from the other members, and resolves duplicates by the namespace's conflict
 * resolution (copy-apply.ts), tombstones included.
 *
 * Which partitions, from whom (per namespace, for each partition this node is master or
 * replica of under the new map):
 * - the node was not in the partition's row before (it joined, restarted, or the row moved to
 *   it): any other member may hold a copy. Each member reports its partition versions for the
 *   new map — per partition it holds a full copy of: the cluster key of the map it last held it
 *   in full through while the copy changed, and whether it was the master then. A copy no write
 *   (or fill) changed keeps its version through later maps, so a membership that changes again
 *   and again (a node evicted under load and taken back) does not make unchanged copies look
 *   diverged. Of full holders with the same version the master has every write the others have,
 *   so it is the only one pulled from (at RF 2 this halves what a joiner takes in); holders with
 *   different versions (the two sides of a healed split, where writes landed) and every member
 *   holding less than a full copy are all pulled from. When the chosen copy's node leaves before
 *   it was pulled, the same-version copies skipped for it are pulled instead.
 * - it was in the row: it pulls from the members that are new to its view (a node that joined
 *   or came back, or the other side of a healed split), whose copies may have diverged — pruned
 *   by versions the same way (a node that was a cluster of its own for a moment before joining
 *   "held" every partition, and pulls each from one master of the cluster it joins).
 * Paged streams pull the partitions of each source node in partition order: one per source, or
 * with fewer sources than `maxIncoming`, each source's partitions split into that many runs
 * (streamsOf), each stream asking for its next page while the current one is applied.
 *
 * While a partition is being filled on a node, requests it serves for that partition first
 * fetch the record from the pending sources and resolve it (so reads see, and writes build on,
 * the newest copy), and scans of it wait until it is filled. The node stays FullSync /
 * PartialSync until all its partitions are filled, then goes Online.
 *
 * Limits (the cluster section's `migration`, changeable while the node runs): `maxIncoming`
 * source streams pulled at once and `recordsPerSecond` (0 = unlimited) taken in per node.
 * Once every member of the cluster is Online (all fills done), a node drops its copies of the
 * partitions it no longer holds (it is in neither the master's nor a replica's place).
 *
 * Not done: pushing (every transfer is a pull), Aerospike's full version vectors (a version here
 * is one cluster key and a master flag).
 */
import { deserialize, serialize } from 'node:v8';
import { DbError } from '../errors/index.ts';
import type { Clock, Logger, NodeId, StoredRecord } from '../plugin-api/index.ts';
import { N_PARTITIONS, partitionOf, type RecordKey } from '../model/index.ts';
import type { RemoteCalls } from '../replication/remote-calls.ts';
import { decodeRecordPage, encodeRecordPage, type RecordPage } from '../replication/record-page.ts';
import { hexId } from '../cluster/messages.ts';
import type { ClusterService } from '../cluster/cluster-service.ts';
import type { Kernel } from './kernel.ts';

/** How long a request on a filling partition waits for each pending source's copy of its record. */
const SETTLE_DEADLINE_MS = 2000;

/**
 * How long a fill waits for a member's partition versions: a member that has not taken the new
 * map yet answers UNAVAILABLE, a loaded one may answer after a request's deadline (TIMEOUT), and
 * both are asked again until then. Past it the fill pulls every partition from that member as
 * from a holder of unknown version — correct, but each of its partitions is then taken in twice.
 */
const VERSIONS_WAIT_MS = 10_000;
/** One request for a member's versions waits this long for its answer. */
const VERSIONS_REQUEST_MS = 2000;

/** Records of a page applied at once, between turns of the event loop (see #apply). */
const APPLY_SLICE = 256;

/** Payload bytes after which a page is cut (the fabric carries at most 24 MiB per message). */
export const PAGE_BYTES = 4 * 1024 * 1024;

export interface MigrationLimits {
  /** Source streams pulled at once (default 4). */
  readonly maxIncoming?: number;
  /** Records this node takes in per second, 0 for no limit (default 0). */
  readonly recordsPerSecond?: number;
  /** Records per page (default 5000; pages stop at 4 MiB whatever the count). */
  readonly pageRecords?: number;
}

export interface MigrationProgress {
  /** Partitions (over all namespaces) this node still has to fill. */
  readonly partitionsRemaining: number;
  /** Records received (and resolved) since the node started. */
  readonly recordsReceived: number;
  /**
   * Records the running fill still expects to receive, estimated: (partition, source) pairs
   * still to pull × records per pair received so far in this fill (partitions of a namespace
   * hold about as many records each). 0 when no fill runs, and until the fill's first pair is
   * done.
   */
  readonly recordsRemaining: number;
  /** Records sent to other nodes' fills. */
  readonly recordsSent: number;
  /** Records received per second during the last completed fill, 0 before one. */
  readonly lastRate: number;
  /** Records received / sent per second over the last few seconds. */
  readonly receiveRate: number;
  readonly sendRate: number;
  /** Source streams (source node × namespace) still to pull. */
  readonly sourcesRemaining: number;
  /** The limits in force. */
  readonly limits: Required<MigrationLimits>;
  /** Copies dropped because the node no longer holds their partitions. */
  readonly recordsDropped: number;
  /** Requests on a filling partition refused because a source holding a copy did not answer. */
  readonly requestsRefused: number;
  /** Fills started and finished (one per membership change). */
  readonly fillsStarted: number;
  readonly fillsDone: number;
}

interface PageRequest {
  readonly namespace: string;
  readonly partitions: readonly number[];
  readonly afterDigest?: Uint8Array;
  readonly max: number;
}

/** Events per second over a sliding window of whole seconds. */
class RateMeter {
  readonly #buckets = new Map<number, number>();
  readonly #clock: Clock;
  readonly #seconds: number;
  constructor(clock: Clock, seconds = 5) {
    this.#clock = clock;
    this.#seconds = seconds;
  }
  add(n: number): void {
    const sec = Math.floor(this.#clock.now() / 1000);
    this.#buckets.set(sec, (this.#buckets.get(sec) ?? 0) + n);
    for (const k of this.#buckets.keys()) if (k <= sec - this.#seconds) this.#buckets.delete(k);
  }
  /** Per second over the last completed seconds of the window. */
  rate(): number {
    const sec = Math.floor(this.#clock.now() / 1000);
    let n = 0;
    for (const [k, v] of this.#buckets) if (k < sec && k >= sec - this.#seconds) n += v;
    return Math.round(n / this.#seconds);
  }
}

/** A full copy of a partition: held through the cluster `key`, as its master or a replica. */
interface PartitionVersion {
  readonly key: bigint;
  readonly master: boolean;
}

/**
 * The streams of a fill: one per source node, covering every partition pulled from it — or,
 * with fewer sources than streams may run at once (`maxIncoming`), each source's partitions
 * in that many contiguous runs, so that several pages are on their way while one is applied
 * (a joiner of a 3-node RF 2 cluster has 2 sources: 2 streams left the node idle while a page
 * crossed). Interleaved by source, so the first streams started take different sources.
 */
export function streamsOf(bySource: ReadonlyMap<NodeId, ReadonlyMap<string, readonly number[]>>, maxIncoming: number): Array<[NodeId, Map<string, number[]>]> {
  const per = Math.max(1, Math.floor(maxIncoming / Math.max(1, bySource.size)));
  const runs: Array<Array<[NodeId, Map<string, number[]>]>> = [];
  for (const [src, byNs] of bySource) {
    const mine: Array<Map<string, number[]>> = Array.from({ length: per }, () => new Map());
    for (const [ns, pids] of byNs) {
      const size = Math.ceil(pids.length / per);
      for (let i = 0; i < per; i++) {
        const run = pids.slice(i * size, (i + 1) * size);
        if (run.length > 0) (mine[i] as Map<string, number[]>).set(ns, run);
      }
    }
    runs.push(mine.filter((m) => m.size > 0).map((m) => [src, m]));
  }
  const out: Array<[NodeId, Map<string, number[]>]> = [];
  for (let i = 0; i < per; i++) for (const r of runs) if (r[i] !== undefined) out.push(r[i] as [NodeId, Map<string, number[]>]);
  return out;
}

export class Migrations {
  readonly #kernel: Kernel;
  readonly #cluster: ClusterService;
  readonly #calls: RemoteCalls;
  readonly #clock: Clock;
  readonly #logger: Logger;
  #limits: Required<MigrationLimits>;
  readonly #rxRate: RateMeter;
  readonly #txRate: RateMeter;
  /** The current fill's queue of source streams, and how many workers pull it. */
  #fill: { round: number; queue: Array<[NodeId, Map<string, number[]>]>; workers: number; active: number; run: () => Promise<void> } | undefined;
  /** When the rate limit lets the next page in. */
  #nextFree = 0;
  /** namespace → partition → sources still to pull it from. */
  #pending = new Map<string, Map<number, Set<NodeId>>>();
  #prevRows = new Map<string, readonly (readonly NodeId[])[]>();
  #prevMembers: Set<NodeId> | undefined;
  #round = 0;
  #received = 0;
  #sent = 0;
  #lastRate = 0;
  #fillsStarted = 0;
  #fillsDone = 0;
  /** The running fill: records received before it started, and (partition, source) pairs it has pulled. */
  #fillReceivedBefore = 0;
  #fillPairsDone = 0;
  #waiters: Array<() => void> = [];
  #dropped = 0;
  #settleRefused = 0;
  /** The cluster key of the map the last fill was planned for (0 before any). */
  #prevKey = 0n;
  /** This node's partition versions as it entered the cluster `#versionsKey` (see #versionsLeaving). */
  #versions = new Map<string, Map<number, PartitionVersion>>();
  /** namespace → partitions whose stored copy changed here since the last map change (1 = changed). */
  #written = new Map<string, Uint8Array>();
  /** namespace → partition → sources a fill skipped for a same-version copy (pulled if that copy's node leaves first). */
  #skipped = new Map<string, Map<number, Set<NodeId>>>();
  #versionsKey = 0n;
  #dropTimer: ReturnType<Clock['setTimeout']> | undefined;

  constructor(kernel: Kernel, cluster: ClusterService, calls: RemoteCalls, options: { clock: Clock; logger: Logger; limits?: MigrationLimits }) {
    this.#kernel = kernel;
    this.#cluster = cluster;
    this.#calls = calls;
    this.#clock = options.clock;
    this.#logger = options.logger;
    this.#limits = { maxIncoming: 4, recordsPerSecond: 0, pageRecords: 5000, ...options.limits };
    this.#rxRate = new RateMeter(options.clock);
    this.#txRate = new RateMeter(options.clock);
    cluster.holdSyncWhile(() => this.remaining() > 0);
    // which copies changed since the map did (a copy that did not keeps its partition version);
    // expiry and eviction are left out: every copy expires alike, and an eviction loses data anyway
    kernel.addListener({
      onChange: (c) => { if (c.cause === 'write' || c.cause === 'delete') this.#touch(c.namespace, partitionOf(c.digest)); },
      readsBins: () => false,
      onTruncate: (ns) => { this.#writtenOf(ns).fill(1); },
    });
    cluster.on('change', (c) => {
      if (c.reason === 'cluster') this.#replan();
      // out of every cluster for a while: whoever it meets next may have taken writes without it
      else if (c.reason === 'orphan') this.#prevMembers = new Set([cluster.nodeId]);
    });
    calls.serve('migrate.page', async (_from, bytes) => encodeRecordPage(await this.#page(deserialize(bytes) as PageRequest)));
    calls.serve('migrate.progress', async () => serialize(this.progress()));
    calls.serve('migrate.versions', async (_from, bytes) => {
      const { key, namespaces } = deserialize(bytes) as { key: bigint; namespaces: string[] };
      if (key !== this.#versionsKey) throw new DbError('UNAVAILABLE', 'this node has not taken that partition map yet', { hint: 'ask again' });
      return serialize(namespaces.map((ns) => [ns, [...(this.#versions.get(ns) ?? [])].map(([pid, v]) => [pid, v.key, v.master])]));
    });
    calls.serve('migrate.get', async (_from, bytes) => {
      const { namespace, digest } = deserialize(bytes) as { namespace: string; digest: Uint8Array };
      const rec = await this.#kernel.namespace(namespace).engine.get(digest);
      return encodeRecordPage({ records: rec === undefined ? [] : [rec], done: true });
    });
  }

  #writtenOf(ns: string): Uint8Array {
    let w = this.#written.get(ns);
    if (w === undefined) this.#written.set(ns, w = new Uint8Array(N_PARTITIONS));
    return w;
  }

  #touch(ns: string, pid: number): void {
    this.#writtenOf(ns)[pid] = 1;
  }

  progress(): MigrationProgress {
    const f = this.#fill;
    return {
      partitionsRemaining: this.remaining(), recordsReceived: this.#received, recordsRemaining: this.#recordsRemaining(), recordsSent: this.#sent, lastRate: this.#lastRate, recordsDropped: this.#dropped, requestsRefused: this.#settleRefused,
      fillsStarted: this.#fillsStarted, fillsDone: this.#fillsDone, receiveRate: this.#rxRate.rate(), sendRate: this.#txRate.rate(),
      sourcesRemaining: f === undefined || f.round !== this.#round ? 0 : f.queue.reduce((n, [, m]) => n + m.size, 0) + f.active,
      limits: this.#limits,
    };
  }

  /** The migration progress of every member (this node's own included); a member that does not answer within 1 s is left out. */
  async clusterProgress(): Promise<ReadonlyMap<NodeId, MigrationProgress>> {
    const self = this.#cluster.nodeId;
    const members = this.#cluster.view()?.succession.map((m) => m.id) ?? [self];
    const out = new Map<NodeId, MigrationProgress>();
    await Promise.all(members.map(async (m) => {
      if (m === self) {
        out.set(m, this.progress());
        return;
      }
      try {
        out.set(m, deserialize(await this.#calls.call(m, 'migrate.progress', new Uint8Array(0), { deadlineMs: 1000, fabricKind: 'control' })) as MigrationProgress);
      } catch (e) {
        if (!(e instanceof DbError)) throw e;
      }
    }));
    return out;
  }

  /** Changes the limits; a running fill follows them from its next page (more or fewer streams at once). */
  setLimits(limits: MigrationLimits): void {
    this.#limits = { ...this.#limits, ...limits };
    const f = this.#fill;
    if (f !== undefined && f.round === this.#round) while (f.workers < Math.min(this.#limits.maxIncoming, f.queue.length + f.active)) void f.run();
  }

  remaining(): number {
    let n = 0;
    for (const m of this.#pending.values()) n += m.size;
    return n;
  }

  #recordsRemaining(): number {
    if (this.#fillPairsDone === 0) return 0;
    let pairs = 0;
    for (const m of this.#pending.values()) for (const sources of m.values()) pairs += sources.size;
    return Math.round(pairs * ((this.#received - this.#fillReceivedBefore) / this.#fillPairsDone));
  }

  /** Whether a partition of this node is still being filled. */
  filling(namespace: string, partition: number): boolean {
    return this.#pending.get(namespace)?.has(partition) ?? false;
  }

  /**
   * Before serving a request on `key`: resolve the record against the sources still pending for
   * its partition (Aerospike's duplicate resolution). A source that left the cluster took its
   * copy with it and is skipped; a source that is still a member but does not answer in time may
   * hold a newer version — a write built on what this node has would then lose to it on
   * resolution — so the request is refused (TIMEOUT, not in doubt: nothing was done), unless the
   * partition's copy from that source arrived meanwhile.
   */
  async settle(key: RecordKey): Promise<void> {
    const sources = this.#pending.get(key.namespace)?.get(key.partition);
    if (sources === undefined || sources.size === 0) return;
    const body = serialize({ namespace: key.namespace, digest: key.digest });
    const silent: NodeId[] = [];
    await Promise.all([...sources].map(async (src) => {
      try {
        const rec = decodeRecordPage(await this.#calls.call(src, 'migrate.get', body, { deadlineMs: SETTLE_DEADLINE_MS, fabricKind: 'migration' })).records[0];
        if (rec !== undefined) {
          this.#received++;
          if (await this.#kernel.applyCopy(key.namespace, { kind: 'put', record: rec })) this.#touch(key.namespace, key.partition);
        }
      } catch (e) {
        if (!(e instanceof DbError)) throw e;
        const member = this.#cluster.view()?.succession.some((m) => m.id === src) === true;
        if (member && this.#pending.get(key.namespace)?.get(key.partition)?.has(src) === true) silent.push(src);
      }
    }));
    if (silent.length > 0) {
      this.#settleRefused++;
      throw new DbError('TIMEOUT', `partition ${key.partition} of namespace '${key.namespace}' is being filled on this node, and ${silent.map(hexId).join(', ')} (holding a copy to resolve against) did not answer within ${SETTLE_DEADLINE_MS} ms; nothing was done`, {
        hint: 'retry: the request is served once that node answers or the partition is filled', inDoubt: false,
      });
    }
  }

  /** Resolves once none of `partitions` is being filled. */
  async waitFilled(namespace: string, partitions: readonly number[]): Promise<void> {
    while (partitions.some((p) => this.filling(namespace, p))) {
      await new Promise<void>((r) => this.#waiters.push(r));
    }
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  #replan(): void {
    const view = this.#cluster.view();
    if (view === undefined) return;
    const self = this.#cluster.nodeId;
    const members = view.succession.map((m) => m.id);
    const others = members.filter((m) => m !== self);
    const newcomers = new Set(others.filter((m) => this.#prevMembers === undefined || !this.#prevMembers.has(m)));
    const round = ++this.#round;
    // this node's partition versions as it enters the new cluster (from the state it leaves)
    this.#versions = this.#versionsLeaving();
    this.#versionsKey = view.clusterKey;
    this.#prevKey = view.clusterKey;
    /** namespace → partitions to fill (their sources are pruned by versions). */
    const toFill = new Map<string, number[]>();
    for (const ns of this.#cluster.namespaces()) {
      const table = this.#cluster.partitionTable(ns);
      if (table === undefined) continue;
      const prev = this.#prevRows.get(ns);
      const pending = new Map<number, Set<NodeId>>();
      const old = this.#pending.get(ns);
      const oldSkipped = this.#skipped.get(ns);
      const skipped = new Map<number, Set<NodeId>>();
      const fresh: number[] = [];
      for (let pid = 0; pid < N_PARTITIONS; pid++) {
        const row = table.rows[pid] ?? [];
        if (!row.includes(self)) continue;
        const had = prev !== undefined && (prev[pid] ?? []).includes(self);
        const sources = new Set<NodeId>(had ? [...newcomers] : others);
        // sources still pending from before stay pending while they are members; when one left
        // before its copy was pulled, the same-version copies skipped for it are pulled instead
        for (const s of old?.get(pid) ?? []) {
          if (members.includes(s)) sources.add(s);
          else for (const k of oldSkipped?.get(pid) ?? []) if (members.includes(k) && k !== self) sources.add(k);
        }
        if (sources.size === 0) continue;
        const kept = oldSkipped?.get(pid);
        if (kept !== undefined) skipped.set(pid, kept);
        pending.set(pid, sources);
        fresh.push(pid);
      }
      this.#pending.set(ns, pending);
      this.#skipped.set(ns, skipped);
      this.#prevRows.set(ns, table.rows);
      if (fresh.length > 0) toFill.set(ns, fresh);
    }
    this.#prevMembers = new Set(members);
    this.#wake();
    this.#scheduleDrop(round);
    if (this.remaining() === 0) {
      this.#cluster.dataSettled();
      return;
    }
    // ask the members for their versions first: of full holders with the same version, the one
    // that was master has every write the others have, and is the only one pulled from
    void this.#pruneByVersions(round, view.clusterKey, others, toFill)
      .catch((e: unknown) => this.#logger.warn({ err: (e as Error).message }, 'migrations: partition versions not compared; pulling from every member'))
      .then(() => { if (round === this.#round) this.#startFill(round); });
  }

  /**
   * This node's partition versions as it leaves the current cluster. A copy that did not change
   * since its version was set keeps it (its contents are those of that version). A copy that
   * changed (a write, a replica write, a fill) takes the current cluster's key, and whether this
   * node is its master, if the node holds it in full now (it is in the partition's row and is not
   * filling it); otherwise it has no version (pulled from as a partial copy). Holders that went
   * through the same writes in one cluster report the same key; the two sides of a split that
   * both took writes report different keys (their copies may have diverged) and are all pulled from.
   */
  #versionsLeaving(): Map<string, Map<number, PartitionVersion>> {
    const self = this.#cluster.nodeId;
    const out = new Map<string, Map<number, PartitionVersion>>();
    const written = this.#written;
    this.#written = new Map();
    if (this.#prevKey === 0n) return out;
    for (const [ns, rows] of this.#prevRows) {
      const m = new Map<number, PartitionVersion>();
      const pending = this.#pending.get(ns);
      const before = this.#versions.get(ns);
      const changed = written.get(ns);
      for (let pid = 0; pid < N_PARTITIONS; pid++) {
        const had = before?.get(pid);
        if (had !== undefined && changed?.[pid] !== 1) {
          m.set(pid, had);
          continue;
        }
        const row = rows[pid] ?? [];
        if (!row.includes(self) || (pending?.get(pid)?.size ?? 0) > 0) continue;
        m.set(pid, { key: this.#prevKey, master: row[0] === self });
      }
      out.set(ns, m);
    }
    return out;
  }

  async #pruneByVersions(round: number, key: bigint, others: readonly NodeId[], toFill: ReadonlyMap<string, readonly number[]>): Promise<void> {
    if (toFill.size === 0) return;
    const namespaces = [...toFill.keys()];
    const versions = new Map<NodeId, Map<string, Map<number, PartitionVersion>>>();
    const giveUpAt = this.#clock.now() + VERSIONS_WAIT_MS;
    await Promise.all(others.map(async (o) => {
      // a member that has not taken the new map yet answers UNAVAILABLE, a loaded one may answer
      // after the request's deadline (TIMEOUT): both are asked again while this map holds, up to
      // VERSIONS_WAIT_MS (giving up after one late answer pulled every partition twice)
      let failure = '';
      while (round === this.#round) {
        try {
          const wait = Math.max(1, Math.min(VERSIONS_REQUEST_MS, giveUpAt - this.#clock.now()));
          const got = deserialize(await this.#calls.call(o, 'migrate.versions', serialize({ key, namespaces }), { deadlineMs: wait, fabricKind: 'migration' })) as Array<[string, Array<[number, bigint, boolean]>]>;
          versions.set(o, new Map(got.map(([ns, l]) => [ns, new Map(l.map(([pid, k, master]) => [pid, { key: k, master }]))])));
          return;
        } catch (e) {
          if (!(e instanceof DbError)) throw e;
          failure = `${e.code}: ${e.message}`;
          if ((e.code !== 'UNAVAILABLE' && e.code !== 'TIMEOUT') || this.#clock.now() >= giveUpAt) break;
          await new Promise<void>((r) => this.#clock.setTimeout(r, 100));
        }
      }
      if (round === this.#round) this.#logger.warn({ node: hexId(o), failure }, 'migrations: partition versions of a member not known; every partition it holds is pulled from it');
    }));
    if (round !== this.#round) return;
    let skipped = 0;
    for (const [ns, pids] of toFill) {
      const pending = this.#pending.get(ns);
      for (const pid of pids) {
        const sources = pending?.get(pid);
        if (sources === undefined) continue;
        const groups = new Map<bigint, { masters: NodeId[]; rest: NodeId[] }>();
        for (const s of sources) {
          const v = versions.get(s)?.get(ns)?.get(pid);
          if (v === undefined) continue; // a subset (or no answer): pulled
          let g = groups.get(v.key);
          if (g === undefined) groups.set(v.key, g = { masters: [], rest: [] });
          (v.master ? g.masters : g.rest).push(s);
        }
        for (const g of groups.values()) {
          if (g.masters.length !== 1) continue;
          for (const s of g.rest) {
            sources.delete(s);
            let k = this.#skipped.get(ns)?.get(pid);
            if (k === undefined) this.#skipped.get(ns)?.set(pid, k = new Set());
            k?.add(s);
            skipped++;
          }
        }
      }
    }
    if (skipped > 0) this.#logger.info({ skipped }, 'migrations: full copies of the same version pulled from their master only');
  }

  #startFill(round: number): void {
    const bySource = new Map<NodeId, Map<string, number[]>>();
    for (const [ns, pending] of this.#pending) {
      for (const [pid, sources] of pending) {
        for (const s of sources) {
          let m = bySource.get(s);
          if (m === undefined) bySource.set(s, m = new Map());
          let l = m.get(ns);
          if (l === undefined) m.set(ns, l = []);
          l.push(pid);
        }
      }
    }
    for (const m of bySource.values()) for (const l of m.values()) l.sort((a, b) => a - b);
    if (bySource.size === 0) {
      this.#cluster.dataSettled();
      return;
    }
    this.#fillsStarted++;
    const started = this.#clock.now();
    const receivedBefore = this.#received;
    this.#fillReceivedBefore = receivedBefore;
    this.#fillPairsDone = 0;
    this.#logger.info({ partitions: this.remaining(), sources: bySource.size }, 'migrations: filling partitions');
    const fill = {
      round, queue: streamsOf(bySource, this.#limits.maxIncoming), workers: 0, active: 0,
      run: async (): Promise<void> => {
        fill.workers++;
        try {
          // a worker leaves when the map changed, the queue is empty, or the limit went down
          while (round === this.#round && fill.workers <= this.#limits.maxIncoming) {
            const next = fill.queue.shift();
            if (next === undefined) break;
            fill.active++;
            try {
              const [src, byNs] = next;
              for (const [ns, pids] of byNs) await this.#pull(round, src, ns, pids);
            } finally {
              fill.active--;
            }
          }
        } finally {
          fill.workers--;
        }
        if (fill.workers === 0 && (fill.queue.length === 0 || round !== this.#round)) finished();
      },
    };
    let finish: () => void = () => {};
    const finished = (): void => finish();
    this.#fill = fill;
    void new Promise<void>((resolve) => {
      finish = resolve;
      for (let i = 0; i < Math.min(this.#limits.maxIncoming, fill.queue.length); i++) fill.run().catch((e: unknown) => this.#logger.error({ err: (e as Error).message }, 'migrations failed'));
    }).then(() => {
      if (round !== this.#round) return;
      this.#fillsDone++;
      const secs = Math.max(0.001, (this.#clock.now() - started) / 1000);
      this.#lastRate = Math.round((this.#received - receivedBefore) / secs);
      this.#logger.info({ records: this.#received - receivedBefore, ms: this.#clock.now() - started, perSecond: this.#lastRate }, 'migrations: partitions filled');
      this.#cluster.dataSettled();
    });
  }

  #scheduleDrop(round: number): void {
    if (this.#dropTimer !== undefined) this.#clock.clearTimeout(this.#dropTimer);
    this.#dropTimer = this.#clock.setTimeout(() => {
      this.#dropTimer = undefined;
      if (round !== this.#round) return;
      const info = this.#cluster.info();
      const settled = info.clusterKey !== 0n && this.remaining() === 0
        && info.members.every((m) => m.id === info.nodeId || (m.alive && m.state === 'online'));
      if (!settled) {
        this.#scheduleDrop(round);
        return;
      }
      this.#drop(round).catch((e: unknown) => this.#logger.error({ err: (e as Error).message }, 'dropping partitions failed'));
    }, 250);
  }

  async #drop(round: number): Promise<void> {
    const self = this.#cluster.nodeId;
    for (const ns of this.#cluster.namespaces()) {
      const table = this.#cluster.partitionTable(ns);
      if (table === undefined) return;
      const foreign: number[] = [];
      for (let pid = 0; pid < N_PARTITIONS; pid++) if (!(table.rows[pid] ?? []).includes(self)) foreign.push(pid);
      if (foreign.length === 0) continue;
      // the copies go: their versions with them (a version names a copy this node holds)
      const versions = this.#versions.get(ns);
      for (const pid of foreign) versions?.delete(pid);
      const digests: Uint8Array[] = [];
      for await (const r of this.#kernel.namespace(ns).engine.scan({ partitions: foreign, includeTombstones: true })) digests.push(r.digest);
      for (const d of digests) {
        if (round !== this.#round) return; // the map changed again: these partitions may be needed
        if (await this.#kernel.removeStoredIf(ns, d, () => true, 'evict')) this.#dropped++;
      }
      if (digests.length > 0) this.#logger.info({ namespace: ns, records: digests.length }, 'migrations: dropped copies of partitions this node no longer holds');
    }
  }

  #done(ns: string, pid: number, src: NodeId): void {
    const m = this.#pending.get(ns);
    const s = m?.get(pid);
    if (m === undefined || s === undefined) return;
    if (s.delete(src)) this.#fillPairsDone++;
    if (s.size === 0) {
      m.delete(pid);
      this.#skipped.get(ns)?.delete(pid);
      this.#wake();
      if (this.remaining() === 0) this.#cluster.dataSettled();
    }
  }

  async #pull(round: number, src: NodeId, ns: string, pids: readonly number[]): Promise<void> {
    let idx = 0;
    let after: Uint8Array | undefined;
    const fetchPage = async (from: number, afterDigest: Uint8Array | undefined): Promise<RecordPage> => {
      const req: PageRequest = { namespace: ns, partitions: pids.slice(from), ...(afterDigest === undefined ? {} : { afterDigest }), max: this.#limits.pageRecords };
      return decodeRecordPage(await this.#calls.call(src, 'migrate.page', serialize(req), { deadlineMs: 10_000, fabricKind: 'migration' }));
    };
    /** The next page, asked for while the current one is applied (the source scans as this node writes). */
    let prefetched: Promise<RecordPage> | undefined;
    for (let attempt = 0; round === this.#round && idx < pids.length;) {
      let page: RecordPage;
      try {
        page = await (prefetched ?? fetchPage(idx, after));
        prefetched = undefined;
        attempt = 0;
      } catch (e) {
        prefetched = undefined;
        if (!(e instanceof DbError)) throw e;
        // a source that left took what only it held; one that is still a member is asked again
        // until it answers or the map changes (its partitions stay filling meanwhile: marking them
        // filled would let writes build on copies older than the ones it holds)
        const members = this.#cluster.view()?.succession.map((m) => m.id) ?? [];
        if (!members.includes(src)) break;
        attempt++;
        if (attempt % 20 === 0) this.#logger.warn({ source: hexId(src), namespace: ns, attempts: attempt, err: e.message }, 'migrations: a source does not answer; asking again');
        await new Promise<void>((r) => this.#clock.setTimeout(r, Math.min(50 * 2 ** Math.min(attempt, 5), 1000)));
        continue;
      }
      const last = page.records[page.records.length - 1];
      let nextIdx = idx;
      if (!page.done && last !== undefined) {
        while (nextIdx < pids.length && pids[nextIdx] !== last.partition) nextIdx++;
        if (this.#limits.recordsPerSecond === 0 && round === this.#round) {
          prefetched = fetchPage(nextIdx, last.digest);
          prefetched.catch(() => {}); // awaited (and handled) on the next turn
        }
      }
      await this.#apply(ns, page.records);
      this.#received += page.records.length;
      this.#rxRate.add(page.records.length);
      if (page.done) break;
      if (last !== undefined) {
        while (idx < nextIdx) this.#done(ns, pids[idx++] as number, src);
        after = last.digest;
      }
      const rate = this.#limits.recordsPerSecond;
      if (rate > 0) {
        // one budget for the whole node, shared by the streams pulled at once
        const now = this.#clock.now();
        const start = Math.max(now, this.#nextFree);
        this.#nextFree = start + (page.records.length / rate) * 1000;
        const due = this.#nextFree - now;
        if (due > 0) await new Promise<void>((r) => this.#clock.setTimeout(r, due));
      }
    }
    if (round !== this.#round) return;
    for (const p of pids.slice(idx)) this.#done(ns, p, src);
  }

  /**
   * Applies a page's records in slices, each slice's records at once, turning the event loop
   * before each slice: applying a memory-engine page is one run of microtasks that would
   * otherwise hold back the prefetched page's request (sent when the turn ends) and the bytes
   * of the other streams' pages until the whole page is applied.
   */
  async #apply(ns: string, records: readonly StoredRecord[]): Promise<void> {
    for (let i = 0; i < records.length; i += APPLY_SLICE) {
      await new Promise<void>((r) => setImmediate(r));
      const end = Math.min(records.length, i + APPLY_SLICE);
      const slice: Array<Promise<boolean>> = [];
      for (let j = i; j < end; j++) slice.push(this.#kernel.applyCopy(ns, { kind: 'put', record: records[j] as StoredRecord }));
      const changed = await Promise.all(slice);
      // (tombstones of records this node lacked change the copy too, and tell no listener)
      for (let j = i; j < end; j++) if (changed[j - i] === true) this.#touch(ns, (records[j] as StoredRecord).partition);
    }
  }

  /** A page of this node's copies (records and tombstones) of some partitions, for another node's fill. */
  async #page(req: PageRequest): Promise<RecordPage> {
    const ns = this.#kernel.namespace(req.namespace);
    const records: StoredRecord[] = [];
    const it = ns.engine.scan({ partitions: [...req.partitions], includeTombstones: true, ...(req.afterDigest === undefined ? {} : { afterDigest: req.afterDigest }) });
    let bytes = 0;
    let full = false;
    for await (const r of it) {
      records.push(r);
      bytes += r.payload.length + 64;
      // a page stays well below the fabric's message limit, whatever the record sizes
      if (records.length >= req.max || bytes >= PAGE_BYTES) {
        full = true;
        break;
      }
    }
    this.#sent += records.length;
    this.#txRate.add(records.length);
    return { records, done: !full };
  }
}
