/**
 * Mesh heartbeat: every interval a pulse goes to every known heartbeat endpoint (the seeds,
 * the peers heard, and the peers they say they hear). A peer is alive while its last pulse is
 * younger than interval × timeout. Pulses of another cluster name, or with our own node id
 * from another address, are ignored (and logged). What pulses can make a node remember is
 * bounded: at most MAX_CLUSTER_NODES × 4 peers and as many discovered endpoints at once.
 *
 * Pulses of a node speaking another fabric protocol version (FABRIC_PROTOCOL_VERSION) are
 * ignored too — logged once per node with both versions and counted (`refusedVersion`): such a
 * node cannot exchange data with this one, so it is never heard, never a member. A pulse also
 * says whether its sender is quiesced (gives up its partitions) or leaving (stopping: the others
 * re-form without it at once instead of waiting for its heartbeat to time out).
 */
import type { Clock, Logger, NodeId, TimerHandle } from '../plugin-api/index.ts';
import { FABRIC_PROTOCOL_VERSION, hexId, MAX_CLUSTER_NODES, type AdjacentNode, type NodeState, type Pulse } from './messages.ts';
import type { Transport } from './transport.ts';

export interface PeerInfo {
  readonly id: NodeId;
  readonly hb: string;
  readonly fabric: string;
  readonly service: string;
  readonly rack: number;
  readonly zone: number;
  readonly state: NodeState;
  readonly clusterKey: bigint;
  readonly principal: NodeId;
  readonly succession: readonly NodeId[];
  readonly adjacency: readonly NodeId[];
  readonly lastSeen: number;
  /** It gives up its partitions (listed last in every row). */
  readonly quiesced: boolean;
  /** It is stopping: not a member of any cluster formed from now on. */
  readonly leaving: boolean;
}

/** What the clustering layer contributes to each pulse. */
export interface LocalClusterState {
  readonly state: NodeState;
  readonly clusterKey: bigint;
  readonly principal: NodeId;
  readonly succession: readonly NodeId[];
  readonly quiesced: boolean;
  readonly leaving: boolean;
}

export interface HeartbeatOptions {
  readonly nodeId: NodeId;
  readonly clusterName: string;
  readonly rackId: number;
  readonly zoneId: number;
  readonly transport: Transport;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly intervalMs: number;
  /** In intervals. */
  readonly timeout: number;
  readonly seeds: readonly string[];
  /** This node's client-facing address, carried in pulses. */
  readonly serviceAddress?: () => string;
  readonly local: () => LocalClusterState;
  readonly onPulse: (peer: PeerInfo, isNew: boolean) => void;
  readonly onPeerDown: (peer: PeerInfo) => void;
}

/** Peers and discovered endpoints remembered at once (a flood of invented nodes stops here). */
const MAX_REMEMBERED = MAX_CLUSTER_NODES * 4;
/** How many node timeouts a timed-out peer still counts as heard lately. */
const RECENT_TIMEOUTS = 10;

export class Heartbeat {
  readonly #o: HeartbeatOptions;
  readonly #peers = new Map<NodeId, PeerInfo>();
  /** Endpoints learned from adjacency lists → when last mentioned. */
  readonly #discovered = new Map<string, number>();
  readonly #warned = new Set<string>();
  /** Peers that timed out lately (id → their last state), for heardRecently(). */
  readonly #lately = new Map<NodeId, PeerInfo>();
  #timer: TimerHandle | undefined;
  #stopped = false;
  fabricAddress = '';
  address = '';
  /** Pulses ignored because their sender speaks another fabric protocol version. */
  readonly stats = { refusedVersion: 0 };

  constructor(options: HeartbeatOptions) {
    this.#o = options;
  }

  get nodeTimeoutMs(): number {
    return this.#o.intervalMs * this.#o.timeout;
  }

  async start(bindAddress: string): Promise<string> {
    this.address = await this.#o.transport.listen(bindAddress, (f) => {
      if (f.t === 'pulse') this.#onPulse(f);
    });
    this.#tick();
    return this.address;
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#o.clock.clearTimeout(this.#timer);
  }

  /** Alive peers (not including self). */
  peers(): PeerInfo[] {
    return [...this.#peers.values()];
  }

  peer(id: NodeId): PeerInfo | undefined {
    return this.#peers.get(id);
  }

  /**
   * A peer alive now, or one that timed out within the last RECENT_TIMEOUTS node timeouts
   * (a short flap under load), with the state it last announced; undefined for a node this one
   * has not heard lately (or never).
   */
  heardRecently(id: NodeId): PeerInfo | undefined {
    const p = this.#peers.get(id);
    if (p !== undefined) return p;
    const q = this.#lately.get(id);
    return q !== undefined && q.lastSeen + RECENT_TIMEOUTS * this.nodeTimeoutMs >= this.#o.clock.now() ? q : undefined;
  }

  isAlive(id: NodeId): boolean {
    return id === this.#o.nodeId || this.#peers.has(id);
  }

  /** Sends a pulse right away (e.g. after a cluster change), besides the periodic ones. */
  pulseNow(): void {
    if (this.#stopped) return;
    const pulse = this.#pulse();
    const targets = new Set<string>([...this.#o.seeds, ...this.#discovered.keys()]);
    for (const p of this.#peers.values()) targets.add(p.hb);
    targets.delete(this.address);
    for (const t of targets) this.#o.transport.send(t, pulse);
  }

  #tick(): void {
    if (this.#stopped) return;
    this.#expire();
    this.pulseNow();
    this.#timer = this.#o.clock.setTimeout(() => this.#tick(), this.#o.intervalMs);
  }

  #expire(): void {
    const now = this.#o.clock.now();
    for (const p of [...this.#peers.values()]) {
      if (p.lastSeen + this.nodeTimeoutMs < now) {
        this.#peers.delete(p.id);
        this.#lately.delete(p.id);
        if (this.#lately.size >= MAX_REMEMBERED) this.#lately.delete(this.#lately.keys().next().value as NodeId);
        this.#lately.set(p.id, p);
        this.#o.logger.info({ node: hexId(p.id) }, 'peer heartbeat timed out');
        this.#o.onPeerDown(p);
      }
    }
    for (const [addr, at] of this.#discovered) if (at + this.nodeTimeoutMs < now) this.#discovered.delete(addr);
  }

  #pulse(): Pulse {
    const local = this.#o.local();
    const adjacency: AdjacentNode[] = [...this.#peers.values()].map((p) => ({ id: p.id, hb: p.hb }));
    return {
      t: 'pulse', node: this.#o.nodeId, clusterName: this.#o.clusterName, hb: this.address, fabric: this.fabricAddress,
      service: this.#o.serviceAddress?.() ?? '', rack: this.#o.rackId, zone: this.#o.zoneId, state: local.state, clusterKey: local.clusterKey,
      principal: local.principal, succession: local.succession, adjacency, fabricVersion: FABRIC_PROTOCOL_VERSION,
      ...(local.quiesced ? { quiesced: true } : {}), ...(local.leaving ? { leaving: true } : {}),
    };
  }

  #warnOnce(key: string, obj: object, msg: string): void {
    if (this.#warned.has(key)) return;
    if (this.#warned.size >= MAX_REMEMBERED) this.#warned.clear();
    this.#warned.add(key);
    this.#o.logger.warn(obj, msg);
  }

  #onPulse(p: Pulse): void {
    if (this.#stopped) return;
    if (p.clusterName !== this.#o.clusterName) {
      this.#warnOnce(`name:${p.hb}`, { from: p.hb, clusterName: p.clusterName }, 'ignoring heartbeats from a node of another cluster name');
      return;
    }
    const version = p.fabricVersion ?? 1;
    if (version !== FABRIC_PROTOCOL_VERSION) {
      this.stats.refusedVersion++;
      this.#warnOnce(`version:${p.node}:${version}`, { node: hexId(p.node), from: p.hb, peerVersion: version, version: FABRIC_PROTOCOL_VERSION },
        `ignoring node ${hexId(p.node)}: it speaks fabric protocol version ${version}, this node speaks version ${FABRIC_PROTOCOL_VERSION} (nodes of different fabric versions cannot form one cluster; see docs/cluster.md, rolling upgrades)`);
      return;
    }
    if (p.node === this.#o.nodeId) {
      if (p.hb !== this.address) {
        this.#warnOnce(`dup:${p.hb}`, { node: hexId(p.node), other: p.hb }, 'another node uses this node id; ignoring it');
      }
      return;
    }
    const now = this.#o.clock.now();
    const prev = this.#peers.get(p.node);
    if (prev !== undefined && prev.hb !== p.hb && prev.lastSeen + this.nodeTimeoutMs >= now && now - prev.lastSeen < this.#o.intervalMs * 2) {
      this.#warnOnce(`dup:${p.hb}`, { node: hexId(p.node), a: prev.hb, b: p.hb }, 'two nodes claim one node id');
    }
    if (prev === undefined && this.#peers.size >= MAX_REMEMBERED) {
      this.#warnOnce('peers-full', { max: MAX_REMEMBERED }, 'ignoring heartbeats of new nodes: too many peers');
      return;
    }
    const info: PeerInfo = {
      id: p.node, hb: p.hb, fabric: p.fabric, service: p.service ?? '', rack: p.rack, zone: p.zone, state: p.state, clusterKey: p.clusterKey,
      principal: p.principal, succession: p.succession, adjacency: p.adjacency.map((a) => a.id), lastSeen: now,
      quiesced: p.quiesced === true, leaving: p.leaving === true,
    };
    this.#peers.set(p.node, info);
    for (const a of p.adjacency) {
      if (a.id === this.#o.nodeId || this.#peers.has(a.id) || a.hb === this.address) continue;
      if (this.#discovered.has(a.hb) || this.#discovered.size < MAX_REMEMBERED) this.#discovered.set(a.hb, now);
    }
    this.#o.onPulse(info, prev === undefined);
  }
}
