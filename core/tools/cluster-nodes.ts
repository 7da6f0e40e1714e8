/**
 * The tools' view of a cluster: seeds (asbackup's `-h host1:port,host2:port`), a client that
 * knows the cluster's partition map (the client's own routing, core/client/cluster-routing.ts:
 * the one place that knows which node holds a partition), a client per node sharing that
 * client's connections, and the waiting a tool does when a node leaves in the middle of its
 * work. A node that runs without a cluster is a cluster of one: it masters every partition.
 */
import { DbError } from '../errors/index.ts';
import { SlipstreamClient, type ClientOptions, type PartitionMasters } from '../client/client.ts';

export type { PartitionMasters } from '../client/client.ts';

/** Failures that mean "this node is gone or no longer the owner": ask the map again and retry. */
export function nodeLost(err: unknown): boolean {
  return err instanceof DbError && (err.code === 'CONNECTION' || err.code === 'UNAVAILABLE' || err.code === 'TIMEOUT' || err.code === 'CLUSTER_KEY_MISMATCH');
}

export class ToolCluster {
  /** The client connected to the first seed that answered; it holds the partition map. */
  readonly seed: SlipstreamClient;
  /** Clients of single nodes, by service address (they share the seed client's connections). */
  private readonly clients = new Map<string, Promise<SlipstreamClient>>();
  /** Whether close() closes the seed's client (not when it was handed in: its owner closes it). */
  private readonly ownsSeed: boolean;

  private constructor(seed: SlipstreamClient, ownsSeed: boolean) {
    this.seed = seed;
    this.ownsSeed = ownsSeed;
  }

  /**
   * Connects to the first seed that answers and learns the cluster from it. `options.hosts` are the seeds.
   * @throws DbError CONNECTION naming every seed when none answers.
   */
  static async connect(tool: string, options: ClientOptions): Promise<ToolCluster> {
    const seeds = typeof options.hosts === 'string' ? [options.hosts] : [...options.hosts];
    try {
      return new ToolCluster(await SlipstreamClient.connect({ routing: 'partition-map', ...options }), true);
    } catch (err) {
      const e = err instanceof DbError ? err : new DbError('CONNECTION', String(err));
      throw new DbError(e.code, `${tool}: cannot connect to ${seeds.join(',')}: ${e.message}`, { hint: e.hint ?? 'start a node or check -h and -p', cause: err });
    }
  }

  /** A cluster seen through a client already connected (its owner closes it). */
  static of(client: SlipstreamClient): ToolCluster {
    return new ToolCluster(client, false);
  }

  /** Whether the node at `address` answers at all (a short GetNodeInfo). */
  async answers(address: string): Promise<boolean> {
    try {
      const c = await this.client(address);
      await c.nodeInfo({ timeoutMs: 2000, maxRetries: 0 });
      return true;
    } catch {
      return false;
    }
  }

  /** The client of the node at `address`: its requests go to that node only. */
  client(address: string): Promise<SlipstreamClient> {
    let c = this.clients.get(address);
    if (c === undefined) {
      c = this.seed.node(address);
      c.catch(() => this.clients.delete(address));
      this.clients.set(address, c);
    }
    return c;
  }

  /**
   * The namespace's partition masters from a map fetched afresh.
   * @throws DbError UNAVAILABLE while the map names no master for some partition (the cluster is settling).
   */
  async masters(namespace: string, signal?: AbortSignal): Promise<PartitionMasters> {
    if (signal?.aborted === true) throw new DbError('CLIENT_ABORT', 'cancelled while asking for the partition map');
    let map: PartitionMasters;
    try {
      map = await this.seed.partitionMasters(namespace);
    } catch (err) {
      if (err instanceof DbError && err.code === 'NAMESPACE') throw err;
      const e = err instanceof DbError ? err : undefined;
      throw new DbError(e?.code ?? 'CONNECTION', `no node answered with the partition map of namespace '${namespace}': ${e?.message ?? String(err)}`, {
        hint: 'check that the cluster is up (-h lists seeds, host1:port,host2:port)', cause: err,
      });
    }
    if (map.masters.some((m) => m === '')) {
      throw new DbError('UNAVAILABLE', `the partition map of namespace '${namespace}' names no reachable master for some partitions yet`, { hint: 'wait for the cluster to settle' });
    }
    return map;
  }

  /**
   * Waits until the map no longer names a master that failed (`lost`), asking again every
   * half second until `deadlineMs` passes; returns the newest map either way.
   */
  async mastersWithout(namespace: string, lost: ReadonlySet<string>, deadlineMs: number, signal?: AbortSignal): Promise<PartitionMasters> {
    for (;;) {
      let map: PartitionMasters | undefined;
      try {
        map = await this.masters(namespace, signal);
        if (!map.nodes.some((n) => lost.has(n))) return map;
      } catch (err) {
        if (!nodeLost(err) || Date.now() >= deadlineMs) throw err;
      }
      if (Date.now() >= deadlineMs || signal?.aborted === true) {
        if (map !== undefined) return map;
        throw new DbError('CLIENT_ABORT', 'cancelled while waiting for the cluster');
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  /** Forgets the client of a node that failed, so the next call asks the cluster for it afresh. */
  drop(address: string): void {
    this.clients.delete(address);
  }

  /** Every node the namespace's map names, as clients. */
  async nodeClients(namespace: string): Promise<SlipstreamClient[]> {
    const map = await this.masters(namespace);
    return Promise.all(map.nodes.map((a) => this.client(a)));
  }

  /** Closes the seed's client when this cluster connected it (the node clients share its connections). */
  close(): void {
    this.clients.clear();
    if (this.ownsSeed) this.seed.close();
  }
}
