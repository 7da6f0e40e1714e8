/**
 * Proxying: a single-record request that reaches a node which does not master the record's
 * partition is forwarded to the master over the fabric and answered as if served here. The
 * master runs it with the same kernel code, in "local only" mode (it never forwards again);
 * when it no longer masters the partition (the map changed on the way) it answers UNAVAILABLE
 * without running it, and the forwarding node retries against the owner its newer map names,
 * until the deadline: the client's (WritePolicy.deadline, ReadPolicy.deadline: its call's
 * deadline) when it has one, and at most the proxy deadline (5 s).
 *
 * When the master dies: a request that never left this node (no connection to the master could
 * be made — its port refuses them — so no copy was written to one: remote-calls answers
 * UNAVAILABLE) is sent to the new master once the cluster re-forms without the dead one, write
 * or read. A forwarded write that may have reached the master (written to a live connection,
 * or acknowledged) and gets no answer fails TIMEOUT marked in doubt — at its deadline, or as
 * soon as the cluster re-forms without the master — while a read is then asked of the new master.
 *
 * Requests and results cross the fabric in V8's structured-clone format (node:v8), which keeps
 * every bin type exactly (integers as bigint, doubles as number, bytes, maps, lists); GeoJSON
 * values and ordered lists and maps cross in the record codec (fabric-values.ts). A filter
 * expression crosses as its source text and is compiled again on the master.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { deserialize, serialize } from 'node:v8';
import { DbError } from '../errors/index.ts';
import type { Clock, NodeId, StoredRecord } from '../plugin-api/index.ts';
import type { Bins, DbRecord, RecordKey, RecordMeta } from '../model/index.ts';
import { fromFabric, toFabric } from '../model/fabric-values.ts';
import type { RemoteCalls } from '../replication/remote-calls.ts';
import type { PartitionRouter } from './routing.ts';
import { checkDeadline, type RecordPredicate, type WritePolicy, type ReadPolicy } from './policy.ts';
import type { Operation } from './operations.ts';
import type { OperateResult, ScanRequest } from './kernel-types.ts';
import { clusterScan, type ScanPage, type ScanPageRequest, type ScanRouting } from './cluster-scan.ts';

/** Set while a node runs a request another node forwarded: it must not forward again. */
const localOnly = new AsyncLocalStorage<true>();

/** Set while a client's request runs: whether any part of it was forwarded to another node. */
const proxyMark = new AsyncLocalStorage<{ proxied: boolean }>();

/**
 * Runs a client's request, telling whether any part of it was forwarded to another node (the
 * server tells the client, whose partition map is then stale).
 */
export async function watchProxying<T>(fn: () => Promise<T>): Promise<{ readonly value: T; readonly proxied: boolean }> {
  const mark = { proxied: false };
  try {
    const value = await proxyMark.run(mark, fn);
    return { value, proxied: mark.proxied };
  } catch (err) {
    if (mark.proxied && err !== null && typeof err === 'object') (err as { proxied?: boolean }).proxied = true;
    throw err;
  }
}

/** Runs `fn` so that the kernel serves it here or fails, never forwarding it. */
export function runLocally<T>(fn: () => Promise<T>): Promise<T> {
  return localOnly.run(true, fn);
}

export interface ProxyCounters {
  /** Requests forwarded to their master and answered (with a record or a result code). */
  proxied: number;
  /** Forwarded requests that got no answer by the deadline. */
  proxyTimeouts: number;
  /** Forwarded requests sent again because the map changed on the way. */
  proxyRetries: number;
  /** Requests other nodes forwarded to this one. */
  fromProxy: number;
}

export interface ForwardingOptions {
  readonly calls: RemoteCalls;
  readonly router: PartitionRouter;
  readonly clock: Clock;
  /** Total time for a forwarded request, retries included (default 5000 ms). */
  readonly deadlineMs?: number;
  /** Compiles a filter expression's source text (the master's side of a forwarded filter). */
  readonly compileFilter: (source: string) => RecordPredicate | undefined;
}

/** A key as it crosses the fabric. */
export interface WireKey {
  readonly namespace: string;
  readonly set: string;
  readonly digest: Uint8Array;
  readonly partition: number;
  readonly userKey?: RecordKey['userKey'];
}

export type WirePolicy = Omit<WritePolicy, 'filter'> & { readonly filterSource?: string };

export type ReadOptions = { bins?: readonly string[]; headerOnly?: boolean } & ReadPolicy;

function wireKey(key: RecordKey): WireKey {
  return {
    namespace: key.namespace, set: key.set, digest: key.digest, partition: key.partition,
    ...(key.userKey === undefined ? {} : { userKey: key.userKey }),
  };
}

function filterSource(filter: RecordPredicate | undefined): { filterSource?: string } {
  if (filter === undefined) return {};
  if (filter.source === undefined) {
    throw new DbError('PARAMETER', 'this request carries a filter that cannot be sent to the partition\'s master node', {
      hint: 'send the request to the master node, or give the filter as an expression',
    });
  }
  return { filterSource: filter.source };
}

function wirePolicy(policy: WritePolicy): WirePolicy {
  const { filter, ...rest } = policy;
  return { ...rest, ...filterSource(filter) };
}

export class Forwarding {
  readonly counters: ProxyCounters = { proxied: 0, proxyTimeouts: 0, proxyRetries: 0, fromProxy: 0 };
  readonly #o: ForwardingOptions;
  readonly #deadlineMs: number;

  constructor(options: ForwardingOptions) {
    this.#o = options;
    this.#deadlineMs = options.deadlineMs ?? 5000;
  }

  /** The node to forward a request on `key` to, or undefined to serve it here. */
  remoteMaster(key: RecordKey): NodeId | undefined {
    if (localOnly.getStore() === true) return undefined;
    const m = this.#o.router.masterOf(key.namespace, key.partition);
    return m === undefined || m === this.#o.router.localNode ? undefined : m;
  }

  /**
   * Sends a request to the master of `key`'s partition and returns its answer; runs `local`
   * instead when this node masters the partition (now, or after a map change).
   */
  async forward<T>(key: RecordKey, kind: string, body: unknown, local: () => Promise<T>, write: boolean, until?: number): Promise<T> {
    const { clock } = this.#o;
    // a request is not sent (or sent again) past its client's deadline: a write would be refused
    // by the master anyway, and nobody waits for a read's answer any more
    const deadline = Math.min(clock.now() + this.#deadlineMs, until ?? Infinity);
    for (let attempt = 0; ; attempt++) {
      const master = this.remoteMaster(key);
      if (master === undefined) return local();
      checkDeadline(until, clock.now(), write ? 'write' : 'read');
      const remaining = deadline - clock.now();
      try {
        const mark = proxyMark.getStore();
        if (mark !== undefined) mark.proxied = true;
        const out = await this.#o.calls.call(master, kind, serialize(toFabric(body)), { deadlineMs: Math.max(1, remaining), fabricKind: 'proxy' });
        this.counters.proxied++;
        return fromFabric(deserialize(out)) as T;
      } catch (e) {
        if (!(e instanceof DbError)) throw e;
        if (e.code === 'UNAVAILABLE' && deadline - clock.now() > 20) {
          // not run there (another membership, no longer the master, or never sent: the master
          // could not be reached and has left the cluster): ask the owner the map names now
          this.counters.proxyRetries++;
          await new Promise<void>((r) => clock.setTimeout(r, Math.min(10 * 2 ** attempt, 200)));
          continue;
        }
        if (e.code === 'UNAVAILABLE' && until !== undefined && until - clock.now() <= 20) {
          // the client's deadline came while the request could not be run: nothing was done
          this.counters.proxyTimeouts++;
          throw new DbError('TIMEOUT', `the request's deadline passed before the partition's master could run it (${e.message}); nothing was ${write ? 'written' : 'read'}`, {
            hint: 'retry (with a longer timeout if this repeats): the cluster was changing', inDoubt: false,
          });
        }
        if (e.code === 'TIMEOUT' && !write && this.#o.router.members?.().includes(master) === false && deadline - clock.now() > 20) {
          // a read whose master left the cluster (it died): the new master answers it
          this.counters.proxyRetries++;
          continue;
        }
        if (e.code === 'TIMEOUT') {
          this.counters.proxyTimeouts++;
          throw new DbError('TIMEOUT', e.message, { ...(e.hint === undefined ? {} : { hint: e.hint }), inDoubt: write });
        }
        if (e.code !== 'UNAVAILABLE') this.counters.proxied++;
        throw e;
      }
    }
  }

  /** Serves forwarded requests of `kind` by running `handler` locally. */
  serve<B>(kind: string, handler: (body: B) => Promise<unknown>): void {
    this.#o.calls.serve(kind, async (_from, bytes) => {
      this.counters.fromProxy++;
      const body = fromFabric(deserialize(bytes)) as B;
      const out = await runLocally(() => handler(body));
      return serialize(toFabric(out));
    });
  }

  /** The master's side of a forwarded filter. */
  filter(source: string | undefined): { filter?: RecordPredicate } {
    if (source === undefined) return {};
    const f = this.#o.compileFilter(source);
    return f === undefined ? {} : { filter: f };
  }

  policy(p: WirePolicy): WritePolicy {
    const { filterSource: src, ...rest } = p;
    return { ...rest, ...this.filter(src) };
  }

  /** Whether requests here act on the whole cluster (not while serving another node's request). */
  clusterWide(): boolean {
    return localOnly.getStore() !== true;
  }

  /**
   * Truncates on every member with one cut-off (this node's clock), summing what they removed.
   * A member that cannot be reached fails the call (TIMEOUT, in doubt: others have truncated).
   */
  async truncate(namespace: string, set: string | undefined, beforeMs: number, local: () => Promise<number>): Promise<number> {
    const others = (this.#o.router.members?.() ?? []).filter((m) => m !== this.#o.router.localNode);
    const body = serialize({ namespace, set, beforeMs });
    const [mine, ...theirs] = await Promise.allSettled([
      runLocally(local),
      ...others.map(async (m) => deserialize(await this.#o.calls.call(m, 'kv.truncate', body, { deadlineMs: this.#deadlineMs * 2, fabricKind: 'proxy' })) as number),
    ]);
    let removed = 0;
    for (const r of [mine, ...theirs]) {
      if (r === undefined) continue;
      if (r.status === 'rejected') {
        const e = r.reason instanceof DbError ? r.reason : new DbError('SERVER_ERROR', String(r.reason));
        throw new DbError(e.code === 'UNAVAILABLE' ? 'TIMEOUT' : e.code, `the truncate did not reach every node: ${e.message}`, {
          hint: 'the nodes that got it have truncated; run it again once the cluster is whole', inDoubt: true,
        });
      }
      removed += r.value;
    }
    return removed;
  }

  /** How long a page of a scan may take from another node: 10 s, and not past the client's deadline. */
  #pageDeadlineMs(until: number | undefined): number {
    checkDeadline(until, this.#o.clock.now(), 'read');
    return Math.max(1, Math.min(10_000, (until ?? Infinity) - this.#o.clock.now()));
  }

  /** A scan over every master's partitions, merged here in scan order (see cluster-scan.ts); `localPage` reads this node's share. */
  scan(req: ScanRequest, localPage: (page: ScanPageRequest) => Promise<ScanPage>): AsyncGenerator<StoredRecord> {
    const { router, clock, calls } = this.#o;
    const routing: ScanRouting = {
      localNode: router.localNode,
      masterOf: (ns, p) => router.masterOf(ns, p),
      fetchPage: async (node, page) => (node === router.localNode ? localPage(page)
        : fromFabric(deserialize(await calls.call(node, 'kv.scanPage', serialize(page), { deadlineMs: this.#pageDeadlineMs(req.deadline), fabricKind: 'proxy' }))) as ScanPage),
      pause: (ms) => new Promise<void>((r) => clock.setTimeout(r, ms)),
      now: () => clock.now(),
    };
    return clusterScan(req, routing);
  }

  // The kernel's single-record requests, as they cross the fabric.

  get(key: RecordKey, options: ReadOptions, local: () => Promise<DbRecord>): Promise<DbRecord> {
    const { filter, ...rest } = options;
    return this.forward(key, 'kv.get', { key: wireKey(key), options: { ...rest, ...filterSource(filter) } }, local, false, options.deadline);
  }

  getStored(key: RecordKey, policy: ReadPolicy, local: () => Promise<StoredRecord>): Promise<StoredRecord> {
    return this.forward(key, 'kv.getStored', { key: wireKey(key) }, local, false, policy.deadline);
  }

  exists(key: RecordKey, policy: ReadPolicy, local: () => Promise<RecordMeta | undefined>): Promise<RecordMeta | undefined> {
    return this.forward(key, 'kv.exists', { key: wireKey(key), ...filterSource(policy.filter) }, local, false, policy.deadline);
  }

  put(key: RecordKey, bins: Bins, policy: WritePolicy, local: () => Promise<RecordMeta | undefined>): Promise<RecordMeta | undefined> {
    return this.forward(key, 'kv.put', { key: wireKey(key), bins, policy: wirePolicy(policy) }, local, true, policy.deadline);
  }

  delete(key: RecordKey, policy: WritePolicy, local: () => Promise<void>): Promise<void> {
    return this.forward(key, 'kv.delete', { key: wireKey(key), policy: wirePolicy(policy) }, local, true, policy.deadline);
  }

  touch(key: RecordKey, policy: WritePolicy, local: () => Promise<RecordMeta>): Promise<RecordMeta> {
    return this.forward(key, 'kv.touch', { key: wireKey(key), policy: wirePolicy(policy) }, local, true, policy.deadline);
  }

  operate(key: RecordKey, ops: readonly Operation[], policy: WritePolicy, write: boolean, local: () => Promise<OperateResult>): Promise<OperateResult> {
    return this.forward(key, 'kv.operate', { key: wireKey(key), ops, policy: wirePolicy(policy) }, local, write, write ? policy.deadline : undefined);
  }
}
