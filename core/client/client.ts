/**
 * The TypeScript client for Slipstream: what a Node.js application imports, and what the
 * aql shell and the tests use. One gRPC channel per node, deadlines on every call, retries
 * by policy, typed values (integers are bigint, doubles number) and DbErrors with Aerospike
 * result codes.
 *
 *   const client = await SlipstreamClient.connect({ hosts: ['127.0.0.1:3000'] });
 *   await client.put({ namespace: 'test', set: 'demo', key: 'k1' }, { name: 'Ada', age: 36n });
 *   const rec = await client.get({ namespace: 'test', set: 'demo', key: 'k1' });
 */
import { DbError, resultCodeName } from '../errors/index.ts';
import type { Expr } from '../query/expr/ast.ts';
import type { Bins } from '../model/index.ts';
import type { Operation } from '../transaction/operations.ts';
import { KeyValueServiceService } from '../wire/generated/slipstream/v1/kv.ts';
import { AdminServiceService } from '../wire/generated/slipstream/v1/admin.ts';
import type { JobInfo } from '../wire/generated/slipstream/v1/udf.ts';
import { ClusterServiceService } from '../wire/generated/slipstream/v1/cluster.ts';
import { fromPbBins, toPbBins } from '../wire/convert.ts';
import { toPbOperation } from './operations.ts';
import { ClientChannel, type Method } from './channel.ts';
import { N_PARTITIONS } from '../model/index.ts';
import { ClusterRouting, type ClientRoutingStats, type PartitionMasters } from './cluster-routing.ts';
import { routedUnary, splitBatch } from './routed-calls.ts';
import { filterText, fromPbMeta, fromPbRecord, toPbKey, toPbPolicy, toPbReadKey, toPbReadPolicy } from './wire-mapping.ts';
import type { CallOptions, ClientKey, ClientOptions, ClientReadPolicy, ClientRecord, ClientRecordMeta, ClientReplica, ClientWritePolicy, ScanOptions } from './types.ts';
import { fromPbBatchResult, toPbBatchEntry, type ClientBatchEntry, type ClientBatchResult } from './batch.ts';

export type { ClientKey, ClientRecordMeta, ClientRecord, ClientWritePolicy, ClientReadPolicy, ClientReplica, CallOptions, ClientTlsOptions, ClientOptions, ScanOptions } from './types.ts';
export type { ClientRoutingStats, PartitionMasters } from './cluster-routing.ts';
export { toPbKey, toPbReadKey, fromPbMeta, fromPbRecord, toPbValue, fromPbValue } from './wire-mapping.ts';

/**
 * A connection to a Slipstream node. Create it with {@link SlipstreamClient.connect}; close it
 * with {@link SlipstreamClient.close}. Methods throw {@link DbError} with the server's result
 * code (`err.code` is the name, e.g. `'NOT_FOUND'`; `err.resultCode` the number).
 *
 * Retry policy: a failure whose code is TIMEOUT, CONNECTION, KEY_BUSY, UNAVAILABLE or
 * DEVICE_OVERLOAD is retried up to `maxRetries` times (default 2) after `retryDelayMs` (default
 * 50 ms, doubled each time) — for reads (get, exists, batchGet, admin calls). Writes (put,
 * delete, touch, operate, truncate) are not retried unless the call passes `maxRetries`, because
 * a write that timed out may have been applied (`err.inDoubt`). Streams (scan) are not retried:
 * resume them with `partitions` and `afterDigest`.
 */
export class SlipstreamClient {
  private readonly channel: ClientChannel;
  private readonly options: ClientOptions;
  /** Routing by the partition map (option routing 'partition-map' on a cluster); undefined otherwise. */
  private routing: ClusterRouting | undefined;
  /**
   * The cluster's partition map as this client knows it, for partitionMasters(): the routing's
   * (routing 'partition-map'), or learnt on first use (routing 'seed'); undefined on a node
   * without a cluster.
   */
  private clusterMap: Promise<ClusterRouting | undefined> | undefined;
  /** A client of one node made by node(): it shares its channel with the client that made it, which closes it. */
  private readonly borrowed: boolean;
  readonly address: string;

  private constructor(channel: ClientChannel, options: ClientOptions, borrowed = false) {
    this.channel = channel;
    this.options = options;
    this.address = channel.address;
    this.borrowed = borrowed;
  }

  /**
   * Connects to the first seed that answers within `connectTimeoutMs`. By default (routing
   * 'partition-map') the client then learns the cluster's partition map and sends each key's
   * request straight to the node that holds it; routing 'seed' sends everything to the seed.
   * @throws DbError CONNECTION when no seed answers; CLIENT_PARAM when no host is given.
   */
  static async connect(options: ClientOptions): Promise<SlipstreamClient> {
    const routing = options.routing ?? 'partition-map';
    if (routing !== 'seed' && routing !== 'partition-map') {
      throw new DbError('CLIENT_PARAM', `unknown routing ${JSON.stringify(routing)}`, { hint: "use 'partition-map' (send each request to the node holding the record) or 'seed'" });
    }
    toPbReadPolicy(options.replica); // an unknown default replica policy fails here, not on the first read
    const client = new SlipstreamClient(await ClientChannel.connect(options), options);
    if (routing === 'partition-map') {
      try {
        client.routing = await client.startRouting();
        client.clusterMap = Promise.resolve(client.routing);
      } catch (err) {
        client.close();
        throw err;
      }
    }
    return client;
  }

  private startRouting(): Promise<ClusterRouting | undefined> {
    const options = this.options;
    return ClusterRouting.start({
      seed: this.channel,
      seeds: typeof options.hosts === 'string' ? [options.hosts] : [...options.hosts],
      connect: (address) => ClientChannel.connect({ ...options, hosts: [address] }),
      tendIntervalMs: options.tendIntervalMs ?? 1000,
      rackId: options.rackId,
    });
  }

  /** Closes the connections; calls in flight fail with CLIENT_ABORT or CONNECTION. */
  close(): void {
    if (this.borrowed) return;
    this.routing?.close();
    void this.clusterMap?.then((m) => m?.close(), () => undefined);
    this.channel.close();
  }

  /**
   * Which node masters each partition of `namespace`, by service address, from the partition
   * map fetched afresh — for work done node by node (the backup tools scan each partition on its
   * master). A node without a cluster masters every partition.
   * @throws DbError NAMESPACE when the cluster does not have the namespace.
   */
  async partitionMasters(namespace: string): Promise<PartitionMasters> {
    if (this.borrowed) throw new DbError('CLIENT_PARAM', 'a client of one node has no partition map', { hint: 'ask the client that made it' });
    this.clusterMap ??= this.startRouting();
    const map = await this.clusterMap;
    if (map === undefined) return { masters: new Array<string>(N_PARTITIONS).fill(this.address), nodes: [this.address], clusterKey: '', replicationFactor: 1 };
    return map.masters(namespace);
  }

  /**
   * A client whose requests all go to the node at `address` (a node of the cluster this client
   * knows, or this client's own node), sharing this client's connection to it; closing it does
   * nothing, closing this client ends it.
   * @throws DbError CONNECTION when the cluster does not list that node (any more).
   */
  async node(address: string): Promise<SlipstreamClient> {
    if (this.borrowed) throw new DbError('CLIENT_PARAM', 'a client of one node knows no other node', { hint: 'ask the client that made it' });
    const map = await this.clusterMap;
    const channel = await (map?.channelAt(address) ?? (address === this.address ? Promise.resolve(this.channel) : undefined));
    if (channel === undefined) throw new DbError('CONNECTION', `node ${address} is not (or no longer) a member of the cluster`, { hint: 'ask for the partition map again' });
    return new SlipstreamClient(channel, { ...this.options, hosts: [address], routing: 'seed' }, true);
  }

  /**
   * How the client routed its requests (routing 'partition-map' on a cluster): answered directly
   * by the node the map named, proxied by a node (the map was stale: it is fetched again), sent to
   * any node for lack of a map entry; map refreshes, nodes dropped, the nodes known. Undefined
   * when the client sends everything to its seed.
   */
  routingStats(): ClientRoutingStats | undefined {
    return this.routing === undefined ? undefined : { ...this.routing.stats, nodes: [...this.routing.stats.nodes] };
  }

  /** Sends a single-record request to the node holding `key` (routing by map), else to the seed. */
  private keyed<Req, Res>(method: Method<Req, Res>, request: Req, key: ClientKey, options: CallOptions, write: boolean, replica?: ClientReplica): Promise<Res> {
    if (this.routing === undefined) return this.unary(method, request, options, !write);
    return routedUnary(this.routing, this.channel.policy, method, request, { key, write, replica: this.replicaOf(replica) }, options, !write);
  }

  private replicaOf(replica: ClientReplica | undefined): ClientReplica {
    return replica ?? this.options.replica ?? 'master';
  }

  /**
   * Calls any unary method of any Slipstream service on this connection, with the deadline and
   * retry policy (e.g. `client.unary(QueryServiceService.aggregate, req)` for a service this
   * class has no method for). `retryByDefault`: retry by the client's policy when the call
   * does not pass `maxRetries` — true for reads, false for writes.
   */
  unary<Req, Res>(method: Method<Req, Res>, request: Req, options: CallOptions = {}, retryByDefault = true): Promise<Res> {
    return this.channel.unary(method, request, options, retryByDefault);
  }

  /** Calls any server-streaming method; iterate the results. Breaking out of the loop cancels the call. */
  stream<Req, Res>(method: Method<Req, Res>, request: Req, options: CallOptions = {}): AsyncGenerator<Res> {
    return this.channel.stream(method, request, options);
  }

  /** Calls any client-streaming method with the requests `requests` yields; resolves with the response. */
  clientStream<Req, Res>(method: Method<Req, Res>, requests: AsyncIterable<Req> | Iterable<Req>, options: CallOptions = {}): Promise<Res> {
    return this.channel.clientStream(method, requests, options);
  }

  // ---- key-value ----

  /**
   * Writes bins (a `null` value removes that bin). Returns the metadata after the write.
   * @throws DbError RECORD_EXISTS / NOT_FOUND by the exists action, GENERATION by the generation check.
   */
  async put(key: ClientKey, bins: Bins, policy: ClientWritePolicy = {}, options: CallOptions = {}): Promise<ClientRecordMeta> {
    const res = await this.keyed(KeyValueServiceService.put, { key: toPbKey(key), bins: toPbBins(bins), policy: toPbPolicy(policy) }, key, options, true);
    return fromPbMeta(res.meta);
  }

  /**
   * Reads a record: all bins, `bins` only, or metadata only (`headerOnly`).
   * @throws DbError NOT_FOUND when it does not exist.
   */
  async get(key: ClientKey, options: CallOptions & ClientReadPolicy & { bins?: readonly string[]; headerOnly?: boolean; filter?: Expr } = {}): Promise<ClientRecord> {
    const replica = this.replicaOf(options.replica);
    const res = await this.keyed(KeyValueServiceService.get, { key: toPbReadKey(key), bins: [...(options.bins ?? [])], headerOnly: options.headerOnly ?? false, filterJson: filterText(options.filter), readPolicy: toPbReadPolicy(replica) }, key, options, false, replica);
    return fromPbRecord(res.record);
  }

  /** The record's metadata, or undefined when it does not exist (never throws NOT_FOUND). */
  async exists(key: ClientKey, options: CallOptions & ClientReadPolicy & { filter?: Expr } = {}): Promise<ClientRecordMeta | undefined> {
    const replica = this.replicaOf(options.replica);
    const res = await this.keyed(KeyValueServiceService.exists, { key: toPbReadKey(key), filterJson: filterText(options.filter), readPolicy: toPbReadPolicy(replica) }, key, options, false, replica);
    return res.exists ? fromPbMeta(res.meta) : undefined;
  }

  /** Deletes a record. @throws DbError NOT_FOUND when it does not exist. */
  async delete(key: ClientKey, policy: ClientWritePolicy = {}, options: CallOptions = {}): Promise<void> {
    await this.keyed(KeyValueServiceService.delete, { key: toPbKey(key), policy: toPbPolicy(policy) }, key, options, true);
  }

  /** Resets the TTL (policy ttl) and bumps the generation. @throws DbError NOT_FOUND when it does not exist. */
  async touch(key: ClientKey, policy: ClientWritePolicy = {}, options: CallOptions = {}): Promise<ClientRecordMeta> {
    const res = await this.keyed(KeyValueServiceService.touch, { key: toPbKey(key), policy: toPbPolicy(policy) }, key, options, true);
    return fromPbMeta(res.meta);
  }

  /**
   * Applies operations to one record atomically, in order. `bins` holds the results of the
   * reading operations (and of list/map operations that return something), by bin; a bin
   * returned by several operations holds a list of their results. `meta` is undefined when the
   * operations deleted the record.
   */
  async operate(key: ClientKey, operations: readonly Operation[], policy: ClientWritePolicy = {}, options: CallOptions = {}): Promise<{ meta: ClientRecordMeta | undefined; bins: Bins }> {
    const res = await this.keyed(KeyValueServiceService.operate, { key: toPbKey(key), operations: operations.map(toPbOperation), policy: toPbPolicy(policy) }, key, options, true);
    return { meta: res.meta === undefined ? undefined : fromPbMeta(res.meta), bins: fromPbBins(res.bins) };
  }

  /** Reads many records; a missing one is a DbError in its place. */
  async batchGet(keys: readonly ClientKey[], options: CallOptions & ClientReadPolicy & { bins?: readonly string[]; headerOnly?: boolean; filter?: Expr } = {}): Promise<Array<ClientRecord | DbError>> {
    const replica = this.replicaOf(options.replica);
    const request = (part: readonly ClientKey[]) => ({ keys: part.map(toPbReadKey), bins: [...(options.bins ?? [])], headerOnly: options.headerOnly ?? false, filterJson: filterText(options.filter), readPolicy: toPbReadPolicy(replica) });
    const results = this.routing === undefined
      ? (await this.unary(KeyValueServiceService.batchGet, request(keys), options)).results
      : await splitBatch(this.routing, keys, (key) => ({ key, write: false, replica }),
        async (part, send) => (await send(KeyValueServiceService.batchGet, request(part), options, true)).results, this.channel.policy);
    return results.map((r) => r.resultCode === 0 ? fromPbRecord(r.record) : new DbError(resultCodeName(r.resultCode) ?? 'SERVER_ERROR', r.message, { resultCode: r.resultCode }));
  }

  /**
   * Reads and writes many records in one call: per entry a read, put, delete, operate or record
   * UDF with its own policy. Entries on one record run in order; the batch is not atomic. One
   * result per entry, in order; a failed entry has `error` (and `error.inDoubt` when a write
   * may have been applied). Not retried: check each result instead.
   */
  async batchOperate(entries: readonly ClientBatchEntry<ClientKey, ClientWritePolicy>[], options: CallOptions & ClientReadPolicy = {}): Promise<Array<ClientBatchResult<ClientRecordMeta>>> {
    const replica = this.replicaOf(options.replica);
    const request = (part: readonly ClientBatchEntry<ClientKey, ClientWritePolicy>[]) => ({
      entries: part.map((e) => toPbBatchEntry(e, (k, forRead) => (forRead ? toPbReadKey(k) : toPbKey(k)), toPbPolicy)), readPolicy: toPbReadPolicy(replica),
    });
    let res;
    try {
      // split per node by each record's master (a record's entries stay together, in order)
      res = this.routing === undefined
        ? await this.unary(KeyValueServiceService.batchOperate, request(entries), options, false)
        : { results: await splitBatch(this.routing, entries, (e) => ({ key: e.key, write: true, replica }),
          async (part, send) => (await send(KeyValueServiceService.batchOperate, request(part), options, false)).results, this.channel.policy) };
    } catch (err) {
      // the server's transport refuses a request over its message limit before any entry runs
      if (err instanceof DbError && /larger than max/i.test(err.message)) {
        throw new DbError('BATCH_MAX_REQUESTS', `this batch of ${entries.length} entries is larger than the server accepts in one message (${err.message})`, {
          hint: 'split the batch into smaller ones', cause: err,
        });
      }
      throw err;
    }
    return res.results.map((r) => fromPbBatchResult(r, fromPbMeta));
  }

  /**
   * Starts a background job applying write operations to every record of a namespace or set
   * (optionally filtered), throttled to `recordsPerSecond` (0: unthrottled). Follow it with
   * UdfService.ListJobs and stop it with KillJob, as UDF jobs.
   */
  async startOperationJob(
    target: { readonly namespace: string; readonly set?: string; readonly filter?: Expr },
    operations: readonly Operation[],
    job: { readonly recordsPerSecond?: number; readonly policy?: ClientWritePolicy } = {},
    options: CallOptions = {},
  ): Promise<JobInfo> {
    const res = await this.unary(KeyValueServiceService.startOperationJob, {
      target: { namespace: target.namespace, ...(target.set === undefined ? {} : { set: target.set }), filterJson: filterText(target.filter) },
      operations: operations.map(toPbOperation),
      recordsPerSecond: job.recordsPerSecond ?? 0,
      ...(job.policy === undefined ? {} : { policy: toPbPolicy(job.policy) }),
    }, options, false);
    if (res.job === undefined) throw new DbError('CLIENT_ERROR', 'the server started a job but did not describe it');
    return res.job;
  }

  /**
   * Streams the records of a namespace or set, partition by partition in digest order.
   * Breaking out of the loop (or `signal`) cancels the scan on the server. No deadline unless
   * `timeoutMs` is given.
   */
  async *scan(namespace: string, scan: ScanOptions = {}, options: CallOptions = {}): AsyncGenerator<ClientRecord> {
    const req = {
      namespace,
      ...(scan.set === undefined ? {} : { set: scan.set }),
      partitions: [...(scan.partitions ?? [])],
      afterDigest: scan.afterDigest ?? new Uint8Array(0),
      bins: [...(scan.bins ?? [])],
      noBins: scan.noBins ?? false,
      maxRecords: BigInt(scan.maxRecords ?? 0),
      filterJson: filterText(scan.filter),
      recordsPerMessage: scan.recordsPerMessage ?? 256,
    };
    for await (const r of this.stream(KeyValueServiceService.scan, req, options)) {
      if (r.record !== undefined) yield fromPbRecord(r.record);
      for (const rec of r.records) yield fromPbRecord(rec);
    }
  }

  /** Removes every record of a namespace or set last updated before `beforeMs` (now when omitted); returns how many. */
  async truncate(namespace: string, set?: string, beforeMs?: number, options: CallOptions = {}): Promise<number> {
    const res = await this.unary(KeyValueServiceService.truncate, { namespace, ...(set === undefined ? {} : { set }), beforeMs: BigInt(beforeMs ?? 0) }, options, false);
    return Number(res.removed);
  }

  // ---- admin ----

  /** The node: id, version, build, uptime, address. */
  nodeInfo(options: CallOptions = {}) {
    return this.unary(AdminServiceService.getNodeInfo, {}, options);
  }

  /** Configured namespaces with their record counts and settings. */
  async namespaces(options: CallOptions = {}) {
    return (await this.unary(AdminServiceService.listNamespaces, {}, options)).namespaces;
  }

  /** The node's plugins: name, kind, version, source, instances (options, health), run-time errors. */
  async plugins(options: CallOptions = {}) {
    return (await this.unary(AdminServiceService.listPlugins, {}, options)).plugins;
  }

  /** Sets of a namespace (all when `''`) with record counts. */
  async sets(namespace = '', options: CallOptions = {}) {
    return (await this.unary(AdminServiceService.listSets, { namespace }, options)).sets;
  }

  /** Bin names used per namespace (all when `''`). */
  async bins(namespace = '', options: CallOptions = {}) {
    return (await this.unary(AdminServiceService.listBins, { namespace }, options)).namespaces;
  }

  /** The node's effective configuration (JSON object) and the settings that can change while it runs. */
  async getConfig(options: CallOptions = {}): Promise<{ config: Record<string, unknown>; dynamicSettings: string[] }> {
    const res = await this.unary(AdminServiceService.getConfig, {}, options);
    return { config: JSON.parse(res.configJson) as Record<string, unknown>, dynamicSettings: res.dynamicSettings };
  }

  /**
   * Changes dynamic settings without a restart (e.g. `{ logLevel: 'debug', 'namespaces.test.defaultTtl': 3600 }`),
   * validated by the node as at start-up, all or none. With `clusterWide`, the node applies them
   * and then sends them to every member of its cluster (a change it refuses itself goes nowhere).
   * Returns what changed, per node id.
   * @throws DbError when some node did not apply them: the message says per node what was
   *   applied and what was not, and why (the nodes that applied them keep the new values).
   */
  async setConfig(changes: Readonly<Record<string, unknown>>, setting: { clusterWide?: boolean } = {}, options: CallOptions = {}): Promise<Array<{ nodeId: string; applied: Array<{ name: string; from: unknown; to: unknown }> }>> {
    const req = { changes: Object.entries(changes).map(([name, value]) => ({ name, valueJson: JSON.stringify(value) ?? 'null' })), clusterWide: setting.clusterWide === true };
    const res = await this.unary(AdminServiceService.setConfig, req, options, false);
    const applied = (list: ReadonlyArray<{ name: string; fromJson: string; toJson: string }>) => list.map((a) => ({ name: a.name, from: JSON.parse(a.fromJson) as unknown, to: JSON.parse(a.toJson) as unknown }));
    // a node that does not know the nodes field answers for itself alone
    return res.nodes.length === 0 ? [{ nodeId: res.nodeId, applied: applied(res.applied) }] : res.nodes.map((n) => ({ nodeId: n.nodeId, applied: applied(n.applied) }));
  }

  /** Node statistics, or a namespace's when `namespace` is given, by Aerospike-style name. */
  async statistics(namespace = '', options: CallOptions = {}): Promise<Map<string, string>> {
    const res = await this.unary(AdminServiceService.getStatistics, { namespace }, options);
    return new Map(res.statistics.map((s) => [s.name, s.value]));
  }
}
