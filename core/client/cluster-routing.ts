/**
 * Routing by the cluster's partition map (a "smart" client, as Aerospike's): the client learns
 * the members and each namespace's partition map from any node (ClusterService GetClusterInfo
 * and GetPartitionMap), keeps one channel per node, and sends each key's request straight to
 * the node that holds it — the master for writes, a copy the read policy allows for reads. It
 * checks the cluster every `tendIntervalMs` (the cluster key, the members) and fetches the maps
 * again when they changed, when a node proxied a request (its answer carries the
 * slipstream-proxied trailer: the client's map is stale) or when a node cannot be reached.
 * A request whose node is unknown or down goes to any live node, which proxies it.
 */
import { DbError } from '../errors/index.ts';
import { computeDigest, partitionOf } from '../model/index.ts';
import { AdminServiceService } from '../wire/generated/slipstream/v1/admin.ts';
import { ClusterServiceService, type GetClusterInfoResponse } from '../wire/generated/slipstream/v1/cluster.ts';
import type { ClientChannel } from './channel.ts';
import type { ClientKey, ClientReplica } from './types.ts';

/** Counts of how the client's requests were routed. */
export interface ClientRoutingStats {
  /** Key requests answered by the node the partition map named (no proxy hop). */
  direct: number;
  /** Key requests the receiving node had to forward to another node (the map was stale). */
  proxied: number;
  /** Key requests sent to some live node because the map named no reachable node. */
  fallback: number;
  /** Times the partition maps were fetched again. */
  mapRefreshes: number;
  /** Nodes dropped (gone from the cluster or unreachable). */
  nodesDropped: number;
  /** The cluster key of the maps in use, upper-case hex ('' before the first map). */
  clusterKey: string;
  /** Nodes the client has a channel to: id, address, rack. */
  nodes: Array<{ id: string; address: string; rackId: number }>;
}

interface NodeEntry {
  readonly id: string;
  readonly address: string;
  readonly rackId: number;
  channel: Promise<ClientChannel> | undefined;
  /** Set when a call failed to reach it; cleared when the cluster lists it again after a refresh. */
  down: boolean;
}

interface NamespaceMap {
  /** Node ids per partition: master first. */
  readonly rows: ReadonlyArray<readonly string[]>;
  /** Copies of each partition: min(replication factor, nodes). */
  readonly replicationFactor: number;
}

/** Who masters each partition of a namespace, by node service address (for work done node by node, as the backup tools do). */
export interface PartitionMasters {
  /** By partition id: the master's service address ('' when the map names no reachable master). */
  readonly masters: readonly string[];
  /** Every node that masters some partition (service addresses). */
  readonly nodes: readonly string[];
  /** The cluster key of the map, upper-case hex ('' for a node without a cluster). */
  readonly clusterKey: string;
  /** Copies of each partition (min(replication factor, nodes)). */
  readonly replicationFactor: number;
}

export interface ClusterRoutingOptions {
  /** The channel connect() opened to the first seed that answered. */
  readonly seed: ClientChannel;
  /** Every seed address, tried in order when no known node answers. */
  readonly seeds: readonly string[];
  /** Opens a channel to a node. */
  readonly connect: (address: string) => Promise<ClientChannel>;
  readonly tendIntervalMs: number;
  /** The client's rack, for the 'preferRack' replica policy. */
  readonly rackId: number | undefined;
}

export class ClusterRouting {
  readonly stats: ClientRoutingStats = { direct: 0, proxied: 0, fallback: 0, mapRefreshes: 0, nodesDropped: 0, clusterKey: '', nodes: [] };
  readonly #o: ClusterRoutingOptions;
  readonly #nodes = new Map<string, NodeEntry>();
  readonly #maps = new Map<string, NamespaceMap>();
  #clusterKey = '';
  #timer: NodeJS.Timeout | undefined;
  #refreshing: Promise<void> | undefined;
  #stale = false;
  #roundRobin = 0;
  #closed = false;
  /** Namespaces whose maps the client fetches: every namespace the seed lists, and any a request names. */
  readonly #wanted = new Set<string>();
  /** Namespaces the cluster said it does not have, with its answer (asked again when the cluster changes). */
  readonly #absent = new Map<string, DbError>();

  private constructor(options: ClusterRoutingOptions) {
    this.#o = options;
  }

  /**
   * Learns the cluster from the seed; undefined when the seed's node runs no cluster (one node:
   * there is nothing to route).
   */
  static async start(options: ClusterRoutingOptions): Promise<ClusterRouting | undefined> {
    const r = new ClusterRouting(options);
    try {
      await r.refresh(true);
    } catch (err) {
      if (err instanceof DbError && err.code === 'UNSUPPORTED_FEATURE') return undefined;
      // no map yet (the seed is between clusters): requests go to the seed until a tend gets one
      r.#stale = true;
    }
    r.#timer = setInterval(() => { r.tend(); }, options.tendIntervalMs);
    r.#timer.unref();
    return r;
  }

  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    for (const n of this.#nodes.values()) void n.channel?.then((c) => c.close(), () => undefined);
    this.#nodes.clear();
  }

  /** One tend: refreshes the maps when the cluster changed or a request found them stale. */
  tend(): void {
    if (this.#closed || this.#refreshing !== undefined) return;
    void this.refresh(this.#stale).catch(() => undefined);
  }

  /** Marks the maps stale (a node proxied a request): the next tend, right now, fetches them. */
  markStale(): void {
    this.#stale = true;
    this.tend();
  }

  /** A node could not be reached: route around it until the cluster lists it again. */
  nodeDown(id: string): void {
    const n = this.#nodes.get(id);
    if (n === undefined || n.down) return;
    n.down = true;
    this.markStale();
  }

  /**
   * The nodes that may serve a request on `key`, in the order to try them: the master (writes,
   * and reads with replica 'master'), or the copies in the policy's order. Empty when the map
   * does not know the partition.
   */
  candidates(key: ClientKey, write: boolean, replica: ClientReplica): string[] {
    const map = this.#maps.get(key.namespace);
    if (map === undefined) {
      // a namespace the client has no map of: fetch it, and send this request anywhere meanwhile
      if (!this.#wanted.has(key.namespace) && !this.#absent.has(key.namespace)) {
        this.#wanted.add(key.namespace);
        this.markStale();
      }
      return [];
    }
    const row = map.rows[partitionOfKey(key)] ?? [];
    const live = row.filter((id) => this.#nodes.get(id)?.down === false);
    if (write || replica === 'master') return live.slice(0, 1).filter((id) => id === row[0]);
    if (replica === 'sequence') return live;
    if (replica === 'any') {
      const start = this.#roundRobin++ % Math.max(1, live.length);
      return [...live.slice(start), ...live.slice(0, start)];
    }
    const rack = this.#o.rackId;
    const near = live.filter((id) => this.#nodes.get(id)?.rackId === rack);
    return [...near, ...live.filter((id) => !near.includes(id))];
  }

  /** The channel to a node (opened on first use). */
  channel(id: string): Promise<ClientChannel> | undefined {
    const n = this.#nodes.get(id);
    if (n === undefined || n.down) return undefined;
    return this.#open(n);
  }

  /**
   * The channel to the node at a service address, also when a call found it down (the caller
   * asks that node on purpose); undefined when the cluster does not list it.
   */
  channelAt(address: string): Promise<ClientChannel> | undefined {
    for (const n of this.#nodes.values()) if (n.address === address) return this.#open(n);
    return undefined;
  }

  #open(n: NodeEntry): Promise<ClientChannel> {
    if (n.channel === undefined) {
      const opening = n.address === this.#o.seed.address ? Promise.resolve(this.#o.seed) : this.#o.connect(n.address);
      n.channel = opening;
      opening.catch(() => { if (n.channel === opening) n.channel = undefined; this.nodeDown(n.id); });
    }
    return n.channel;
  }

  /**
   * The namespace's partition masters by service address, from maps fetched afresh (the
   * namespace is followed from now on).
   * @throws DbError NAMESPACE when the cluster does not have it; CONNECTION when no node answers.
   */
  async masters(namespace: string): Promise<PartitionMasters> {
    this.#wanted.add(namespace);
    this.#absent.delete(namespace);
    while (this.#refreshing !== undefined) await this.#refreshing.catch(() => undefined);
    await this.refresh(true);
    const absent = this.#absent.get(namespace);
    if (absent !== undefined) throw absent;
    const map = this.#maps.get(namespace);
    if (map === undefined) throw new DbError('UNAVAILABLE', `no partition map of namespace '${namespace}' yet`, { hint: 'wait for the cluster to settle' });
    const masters = map.rows.map((row) => (row[0] === undefined ? '' : (this.#nodes.get(row[0])?.address ?? '')));
    return { masters, nodes: [...new Set(masters.filter((m) => m !== ''))], clusterKey: this.#clusterKey, replicationFactor: map.replicationFactor };
  }

  /** Some live channel, for requests the map cannot route (the receiving node proxies them). */
  async anyChannel(): Promise<ClientChannel> {
    for (const n of this.#nodes.values()) {
      if (n.down) continue;
      try {
        const c = this.channel(n.id);
        if (c !== undefined) return await c;
      } catch {
        // try the next node
      }
    }
    return this.#o.seed;
  }

  /** Fetches the cluster's members and every namespace's map (`force`: even when the cluster key did not change). */
  refresh(force = false): Promise<void> {
    this.#refreshing ??= this.#refresh(force).finally(() => { this.#refreshing = undefined; });
    return this.#refreshing;
  }

  async #refresh(force: boolean): Promise<void> {
    const { channel, info } = await this.#clusterInfo();
    const key = info.clusterKey;
    const members = new Map(info.members.filter((m) => m.serviceAddress !== '' && m.alive).map((m) => [m.nodeId, m]));
    const changed = force || this.#stale || key !== this.#clusterKey
      || [...members.keys()].some((id) => this.#nodes.get(id)?.down !== false) || this.#nodes.size !== members.size;
    if (!changed) return;
    this.#stale = false;
    if (key !== this.#clusterKey) this.#absent.clear();
    // members: keep the channels of nodes still there, drop the others
    for (const [id, n] of this.#nodes) {
      const m = members.get(id);
      if (m === undefined || m.serviceAddress !== n.address) {
        this.#nodes.delete(id);
        this.stats.nodesDropped++;
        if (n.channel !== undefined) void n.channel.then((c) => { if (c !== this.#o.seed) c.close(); }, () => undefined);
      } else {
        n.down = false;
      }
    }
    for (const [id, m] of members) {
      if (!this.#nodes.has(id)) this.#nodes.set(id, { id, address: m.serviceAddress, rackId: m.rackId, channel: undefined, down: false });
    }
    if (this.#wanted.size === 0) {
      // best effort: a user without the privilege to list them gets maps as requests name namespaces
      const listed = await channel.unary(AdminServiceService.listNamespaces, {}, { maxRetries: 0 }).catch(() => undefined);
      for (const n of listed?.namespaces ?? []) this.#wanted.add(n.name);
    }
    for (const ns of this.#wanted) {
      try {
        const map = await channel.unary(ClusterServiceService.getPartitionMap, { namespace: ns }, { maxRetries: 0 });
        this.#maps.set(ns, { rows: map.partitions.map((p) => p.nodeIndexes.map((i) => map.nodes[i] ?? '')), replicationFactor: map.effectiveReplicationFactor });
      } catch (err) {
        // a namespace the cluster does not have: its requests go anywhere and fail there, clearly
        if (!(err instanceof DbError) || err.code !== 'NAMESPACE') throw err;
        this.#wanted.delete(ns);
        this.#maps.delete(ns);
        this.#absent.set(ns, err);
      }
    }
    this.#clusterKey = key;
    this.stats.mapRefreshes++;
    this.stats.clusterKey = key;
    this.stats.nodes = [...this.#nodes.values()].map((n) => ({ id: n.id, address: n.address, rackId: n.rackId }));
  }

  /** The cluster as the first node that answers sees it: known live nodes first, then the seeds. */
  async #clusterInfo(): Promise<{ channel: ClientChannel; info: GetClusterInfoResponse }> {
    const errors: string[] = [];
    const tried = new Set<string>();
    const ask = async (channel: ClientChannel): Promise<{ channel: ClientChannel; info: GetClusterInfoResponse } | undefined> => {
      tried.add(channel.address);
      try {
        const info = await channel.unary(ClusterServiceService.getClusterInfo, {}, { maxRetries: 0 });
        // a node between clusters (cluster key 0) knows no map: ask another
        if (info.clusterKey === '0') throw new DbError('UNAVAILABLE', 'the node is not in a cluster yet');
        return { channel, info };
      } catch (err) {
        if (err instanceof DbError && err.code === 'UNSUPPORTED_FEATURE') throw err;
        errors.push(`${channel.address}: ${err instanceof Error ? err.message : String(err)}`);
        return undefined;
      }
    };
    for (const n of this.#nodes.values()) {
      if (n.down) continue;
      const c = await this.channel(n.id)?.catch(() => undefined);
      const got = c === undefined ? undefined : await ask(c);
      if (got !== undefined) return got;
    }
    if (!tried.has(this.#o.seed.address)) {
      const got = await ask(this.#o.seed);
      if (got !== undefined) return got;
    }
    for (const address of this.#o.seeds) {
      if (tried.has(address)) continue;
      const c = await this.#o.connect(address).catch(() => undefined);
      if (c === undefined) continue;
      const got = await ask(c);
      if (got !== undefined) return got;
      c.close();
    }
    throw new DbError('CONNECTION', `no node answered with the cluster's map (${errors.join('; ')})`, { hint: 'check that the cluster is up and the seeds are right' });
  }
}

/** The partition of a client key (its digest, computed as the server does). */
export function partitionOfKey(k: ClientKey): number {
  if (k.digest !== undefined) return partitionOf(k.digest);
  const key = typeof k.key === 'number' ? BigInt(k.key) : k.key;
  if (key === undefined) throw new DbError('CLIENT_PARAM', 'a key needs key or digest');
  return partitionOf(computeDigest(k.set ?? '', key));
}
