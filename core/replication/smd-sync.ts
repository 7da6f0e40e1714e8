/**
 * System metadata on every node of a cluster (Aerospike's SMD): UDF modules, index
 * definitions, truncate markers, users, roles and the session secret reach every member,
 * including members that join or return later.
 *
 * - Every item is versioned (generation, update time; deletions are versioned tombstones) and
 *   copies merge item by item, the higher version winning (`compareVersions` in
 *   core/storage/system-metadata.ts), so nodes that saw the same items agree whatever the order.
 * - A write on any node is stored there (durably), then pushed to every other member before the
 *   write resolves (bounded by `pushDeadlineMs`; a member that misses it is repaired below).
 * - On every cluster change the principal collects every member's items, merges them, and sends
 *   each member what it lacks, stamped with the cluster key: a member is **caught up** for a
 *   cluster once that round reached it (`caughtUp()`).
 * - Every `checkIntervalMs` the principal compares digests of all items with each member and
 *   runs the round again for a member that differs (lost messages, a write during a round).
 * - A node asked to act for another (a proxied record UDF, a share of an index query) compares
 *   the other node's digest of the module concerned and pulls that node's items first when they
 *   differ (`catchUpFrom`): it never runs with an older module or index set than the node that
 *   asked.
 */
import { deserialize, serialize } from 'node:v8';
import type { Clock, Logger, NodeId, TimerHandle } from '../plugin-api/index.ts';
import { DbError } from '../errors/index.ts';
import type { ClusterService } from '../cluster/cluster-service.ts';
import { compareVersions, type SmdItem, type SystemMetadataStore } from '../storage/system-metadata.ts';
import type { RemoteCalls } from './remote-calls.ts';

export interface SmdSyncOptions {
  readonly calls: RemoteCalls;
  readonly cluster: Pick<ClusterService, 'nodeId' | 'view' | 'info' | 'on'>;
  readonly store: SystemMetadataStore;
  readonly clock: Clock;
  readonly logger: Logger;
  /** How long a write waits for the other members to take it (default 1500 ms). */
  readonly pushDeadlineMs?: number;
  /** How often the principal compares digests with the members (default 1000 ms). */
  readonly checkIntervalMs?: number;
}

export interface SmdSyncStats {
  /** Items this node pushed to other members after a write here. */
  pushed: number;
  /** Pushes that did not reach a member in time (repaired by the principal's rounds). */
  pushFailures: number;
  /** Items from other nodes that were newer than this node's and were taken. */
  merged: number;
  /** Rounds this node ran as principal (collect, merge, distribute). */
  rounds: number;
  /** Members whose digest differed at a periodic check. */
  mismatches: number;
  /** Times this node pulled a module from a node that asked it to act (see catchUpFrom). */
  catchUps: number;
}

interface ItemsReply { readonly items: SmdItem[]; readonly digest: string }
interface MergeRequest { readonly items: readonly SmdItem[]; readonly round?: bigint; readonly digest?: string }

const KIND_ITEMS = 'smd.items';
const KIND_MERGE = 'smd.merge';
const KIND_DIGEST = 'smd.digest';

export class SmdSync {
  readonly #o: SmdSyncOptions;
  readonly #pushDeadlineMs: number;
  readonly #checkMs: number;
  /** The cluster key of the last round that reached this node (this node's own, as principal). */
  #syncedKey = 0n;
  #roundRunning: Promise<void> | undefined;
  /** A cluster change arrived while a round ran: run a full one again after it. */
  #roundAgain = false;
  #timer: TimerHandle | undefined;
  #stopped = false;
  readonly #unsubscribe: () => void;
  readonly stats: SmdSyncStats = { pushed: 0, pushFailures: 0, merged: 0, rounds: 0, mismatches: 0, catchUps: 0 };

  constructor(options: SmdSyncOptions) {
    this.#o = options;
    this.#pushDeadlineMs = options.pushDeadlineMs ?? 1500;
    this.#checkMs = options.checkIntervalMs ?? 1000;
    const { calls, store } = options;
    calls.serve(KIND_ITEMS, async (_from, body) => {
      const req = deserialize(body) as { module?: string };
      const reply: ItemsReply = { items: store.items(req.module), digest: store.digest(req.module) };
      return serialize(reply);
    });
    calls.serve(KIND_MERGE, async (_from, body) => {
      const req = deserialize(body) as MergeRequest;
      await this.#merge(req.items);
      // the principal's round reached this node: caught up for that cluster once the digests agree
      if (req.round !== undefined && req.round === this.#o.cluster.view()?.clusterKey && req.digest === store.digest()) this.#syncedKey = req.round;
      return serialize(store.digest());
    });
    calls.serve(KIND_DIGEST, async () => serialize(store.digest()));
    store.replicateWith((items) => this.#push(items));
    this.#unsubscribe = options.cluster.on('change', (c) => {
      if (c.reason !== 'state') this.#startRound();
    });
    this.#schedule();
    this.#startRound();
  }

  stop(): void {
    this.#stopped = true;
    this.#unsubscribe();
    this.#o.store.replicateWith(undefined);
    if (this.#timer !== undefined) this.#o.clock.clearTimeout(this.#timer);
  }

  /** Whether this node holds every item the cluster it is in agreed on (see the file's comment). */
  caughtUp(): boolean {
    const view = this.#o.cluster.view();
    return view !== undefined && this.#syncedKey === view.clusterKey;
  }

  /** Resolves once caughtUp() holds, or after `timeoutMs` (resolving false). */
  async whenCaughtUp(timeoutMs: number): Promise<boolean> {
    const end = this.#o.clock.now() + timeoutMs;
    while (!this.caughtUp()) {
      if (this.#stopped || this.#o.clock.now() >= end) return false;
      await new Promise<void>((r) => this.#o.clock.setTimeout(r, 20));
    }
    return true;
  }

  /**
   * Before acting for `node` on `module`: when `theirDigest` differs from this node's digest of
   * the module, takes `node`'s items of it (newer ones win), so this node is at least as new.
   */
  async catchUpFrom(node: NodeId, module: string, theirDigest: string): Promise<void> {
    if (node === this.#o.cluster.nodeId || theirDigest === this.#o.store.digest(module)) return;
    this.stats.catchUps++;
    const reply = deserialize(await this.#o.calls.call(node, KIND_ITEMS, serialize({ module }), { deadlineMs: this.#pushDeadlineMs, fabricKind: 'control' })) as ItemsReply;
    await this.#merge(reply.items);
  }

  /** This node's digest of one module (what a request to another node carries). */
  digest(module: string): string {
    return this.#o.store.digest(module);
  }

  #others(): NodeId[] {
    const view = this.#o.cluster.view();
    if (view === undefined) return [];
    return view.succession.map((m) => m.id).filter((id) => id !== this.#o.cluster.nodeId);
  }

  #isPrincipal(): boolean {
    return this.#o.cluster.view() !== undefined && this.#o.cluster.info().principal === this.#o.cluster.nodeId;
  }

  async #merge(items: readonly SmdItem[]): Promise<void> {
    if (items.length === 0) return;
    const taken = await this.#o.store.merge(items);
    this.stats.merged += taken.length;
  }

  /** Sends a write made here to every other member; resolves when each took it or failed. */
  async #push(items: readonly SmdItem[]): Promise<void> {
    const others = this.#others();
    if (others.length === 0) return;
    const body = serialize({ items } satisfies MergeRequest);
    this.stats.pushed += items.length;
    await Promise.all(others.map(async (m) => {
      try {
        await this.#o.calls.call(m, KIND_MERGE, body, { deadlineMs: this.#pushDeadlineMs, fabricKind: 'control' });
      } catch (err) {
        this.stats.pushFailures++;
        this.#o.logger.debug({ node: m.toString(16), err: (err as Error).message }, 'system metadata did not reach a member; the next round repairs it');
      }
    }));
  }

  #startRound(members?: readonly NodeId[]): void {
    if (this.#stopped || !this.#isPrincipal()) return;
    if (this.#roundRunning !== undefined) {
      if (members === undefined) this.#roundAgain = true;
      return;
    }
    const p = this.#round(members).catch((err: unknown) => {
      this.#o.logger.debug({ err: (err as Error).message }, 'system metadata round failed; it runs again');
    }).finally(() => {
      if (this.#roundRunning === p) this.#roundRunning = undefined;
      if (this.#roundAgain) {
        this.#roundAgain = false;
        this.#startRound();
      }
    });
    this.#roundRunning = p;
  }

  /**
   * The principal's round: collect the members' items, merge, send each member what it lacks
   * (with the cluster key, so it knows it is caught up). Members that fail are left to the next check.
   */
  async #round(only?: readonly NodeId[]): Promise<void> {
    const view = this.#o.cluster.view();
    if (view === undefined) return;
    const key = view.clusterKey;
    const members = only ?? this.#others();
    this.stats.rounds++;
    const { calls, store } = this.#o;
    const theirs = new Map<NodeId, SmdItem[]>();
    await Promise.all(members.map(async (m) => {
      try {
        const reply = deserialize(await calls.call(m, KIND_ITEMS, serialize({}), { deadlineMs: 2 * this.#pushDeadlineMs, fabricKind: 'control' })) as ItemsReply;
        theirs.set(m, reply.items);
      } catch (err) {
        this.#o.logger.debug({ node: m.toString(16), err: (err as Error).message }, 'could not collect system metadata from a member');
      }
    }));
    for (const items of theirs.values()) await this.#merge(items);
    if (this.#o.cluster.view()?.clusterKey !== key) return;
    if (only === undefined && theirs.size === members.length) this.#syncedKey = key;
    const mine = store.items();
    const digest = store.digest();
    await Promise.all([...theirs].map(async ([m, items]) => {
      const have = new Map(items.map((i) => [`${i.module}\u0000${i.key}`, i]));
      const missing = mine.filter((i) => {
        const h = have.get(`${i.module}\u0000${i.key}`);
        return h === undefined || compareVersions(i, h) > 0;
      });
      try {
        await calls.call(m, KIND_MERGE, serialize({ items: missing, round: key, digest } satisfies MergeRequest), { deadlineMs: 2 * this.#pushDeadlineMs, fabricKind: 'control' });
      } catch (err) {
        this.#o.logger.debug({ node: m.toString(16), err: (err as Error).message }, 'could not send system metadata to a member');
      }
    }));
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = this.#o.clock.setTimeout(() => {
      this.#check().catch(() => undefined).finally(() => this.#schedule());
    }, this.#checkMs);
  }

  /** The principal's periodic check: a member whose digest differs gets a round of its own. */
  async #check(): Promise<void> {
    if (!this.#isPrincipal() || this.#roundRunning !== undefined) return;
    const mine = this.#o.store.digest();
    const differing: NodeId[] = [];
    await Promise.all(this.#others().map(async (m) => {
      try {
        const d = deserialize(await this.#o.calls.call(m, KIND_DIGEST, serialize({}), { deadlineMs: this.#checkMs, fabricKind: 'control' })) as string;
        if (d !== mine) differing.push(m);
      } catch { /* not reachable now: checked again next time */ }
    }));
    if (differing.length === 0) {
      const view = this.#o.cluster.view();
      if (view !== undefined && this.#syncedKey !== view.clusterKey) this.#startRound();
      return;
    }
    this.stats.mismatches += differing.length;
    this.#startRound(differing);
  }
}

/** The error a node answers while it cannot yet be sure it holds the cluster's system metadata. */
export function notCaughtUp(what: string): DbError {
  return new DbError('UNAVAILABLE', `this node is still receiving the cluster's system metadata (${what})`, {
    hint: 'retry in a moment; the node joined or rejoined the cluster and is catching up',
  });
}
