/**
 * The tools' view of a cluster: seeds (asbackup's `-h host1:port,host2:port`), the partition
 * map of a namespace learnt from ClusterService.GetPartitionMap, one client per node, and a
 * fresh map when a node leaves. A node that runs without a cluster is a cluster of one: it
 * masters every partition.
 */
import { DbError } from '../errors/index.ts';
import { N_PARTITIONS } from '../model/index.ts';
import { SlipstreamClient, type ClientOptions } from '../client/client.ts';
import { ClusterServiceService } from '../wire/generated/slipstream/v1/cluster.ts';

/** Who masters each partition of a namespace, as node service addresses. */
export interface PartitionMasters {
  /** By partition id: the master's service address. */
  readonly masters: readonly string[];
  /** Every node of the map (service addresses). */
  readonly nodes: readonly string[];
  readonly clusterKey: string;
  /** Copies of each partition (min(replication factor, nodes)). */
  readonly replicationFactor: number;
}

/** Failures that mean "this node is gone or no longer the owner": ask the map again and retry. */
export function nodeLost(err: unknown): boolean {
  return err instanceof DbError && (err.code === 'CONNECTION' || err.code === 'UNAVAILABLE' || err.code === 'TIMEOUT' || err.code === 'CLUSTER_KEY_MISMATCH');
}

export class ToolCluster {
  private readonly options: ClientOptions;
  private readonly clients = new Map<string, Promise<SlipstreamClient>>();
  /** The client connected to the first seed that answered. */
  readonly seed: SlipstreamClient;
  /** Addresses seen so far, asked in turn when the map must be learnt again. */
  private readonly known: string[];

  /** Whether close() closes the seed's client too (not when it was handed in: its owner closes it). */
  private readonly ownsSeed: boolean;

  private constructor(seed: SlipstreamClient, options: ClientOptions, known: string[], ownsSeed = true) {
    this.seed = seed;
    this.ownsSeed = ownsSeed;
    this.options = options;
    this.known = known;
    this.clients.set(seed.address, Promise.resolve(seed));
  }

  /**
   * Connects to the first seed that answers. `options.hosts` are the seeds.
   * @throws DbError CONNECTION naming every seed when none answers.
   */
  static async connect(tool: string, options: ClientOptions): Promise<ToolCluster> {
    const seeds = typeof options.hosts === 'string' ? [options.hosts] : [...options.hosts];
    try {
      const seed = await SlipstreamClient.connect(options);
      return new ToolCluster(seed, options, [seed.address, ...seeds.filter((s) => s !== seed.address)]);
    } catch (err) {
      const e = err instanceof DbError ? err : new DbError('CONNECTION', String(err));
      throw new DbError(e.code, `${tool}: cannot connect to ${seeds.join(',')}: ${e.message}`, { hint: e.hint ?? 'start a node or check -h and -p', cause: err });
    }
  }

  /**
   * A cluster seen through a client already connected; nodes it learns of are connected to with
   * `options` (the seed's address is added as the first host).
   */
  static of(client: SlipstreamClient, options: Omit<ClientOptions, 'hosts'> = { timeoutMs: 30_000, connectTimeoutMs: 5000 }): ToolCluster {
    return new ToolCluster(client, { ...options, hosts: [client.address] }, [client.address], false);
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

  /** The client of the node at `address` (connected once, then reused). */
  client(address: string): Promise<SlipstreamClient> {
    let c = this.clients.get(address);
    if (c === undefined) {
      c = SlipstreamClient.connect({ ...this.options, hosts: [address] });
      c.catch(() => this.clients.delete(address));
      this.clients.set(address, c);
      if (!this.known.includes(address)) this.known.push(address);
    }
    return c;
  }

  /**
   * The namespace's partition masters, asked of the nodes known in turn (a node that left is
   * skipped). A node without clustering masters everything itself.
   */
  async masters(namespace: string, signal?: AbortSignal): Promise<PartitionMasters> {
    let last: unknown;
    for (const address of [...this.known]) {
      if (signal?.aborted === true) break;
      try {
        const client = await this.client(address);
        let map;
        try {
          map = await client.unary(ClusterServiceService.getPartitionMap, { namespace }, { timeoutMs: 5000, maxRetries: 0 });
        } catch (err) {
          if (err instanceof DbError && err.code === 'UNSUPPORTED_FEATURE') {
            return { masters: new Array<string>(N_PARTITIONS).fill(client.address), nodes: [client.address], clusterKey: '', replicationFactor: 1 };
          }
          throw err;
        }
        const masters = map.partitions.map((p) => {
          const i = p.nodeIndexes[0];
          return i === undefined ? '' : (map.serviceAddresses[i] ?? '');
        });
        if (masters.length !== N_PARTITIONS || masters.some((m) => m === '')) {
          throw new DbError('UNAVAILABLE', `the partition map of namespace '${namespace}' from ${address} is not complete yet`, { hint: 'wait for the cluster to settle' });
        }
        for (const a of map.serviceAddresses) if (!this.known.includes(a)) this.known.push(a);
        return { masters, nodes: [...new Set(masters)], clusterKey: map.clusterKey, replicationFactor: map.effectiveReplicationFactor };
      } catch (err) {
        if (err instanceof DbError && err.code === 'NAMESPACE') throw err;
        last = err;
      }
    }
    const e = last instanceof DbError ? last : undefined;
    throw new DbError(e?.code ?? 'CONNECTION', `no node answered with the partition map of namespace '${namespace}' (asked ${this.known.join(', ')}): ${e?.message ?? String(last)}`, {
      hint: 'check that the cluster is up (-h lists seeds, host1:port,host2:port)',
    });
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

  /** Forgets the client of a node that failed, so the next call connects afresh. */
  drop(address: string): void {
    const c = this.clients.get(address);
    if (c === undefined || address === this.seed.address) return;
    this.clients.delete(address);
    c.then((x) => x.close(), () => undefined);
  }

  /** Every node the namespace's map names, as clients. */
  async nodeClients(namespace: string): Promise<SlipstreamClient[]> {
    const map = await this.masters(namespace);
    return Promise.all(map.nodes.map((a) => this.client(a)));
  }

  /** Closes every node's client (the seed's only when this cluster connected it). */
  close(): void {
    for (const [address, c] of this.clients) {
      if (address !== this.seed.address || this.ownsSeed) c.then((x) => x.close(), () => undefined);
    }
    this.clients.clear();
  }
}
