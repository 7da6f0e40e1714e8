/**
 * The cluster service: one entry point that wires transport, fabric, heartbeat, clustering and
 * partition tables for a node.
 *
 *   const cluster = createClusterService({ nodeId, clusterName, heartbeatAddress, fabricAddress,
 *     seeds, transport: tcpTransport factory, replication, retransmit, namespaces });
 *   await cluster.start(); cluster.on('change', (c) => …); cluster.partitionTable('test');
 */
import { randomInt } from 'node:crypto';
import { DbError } from '../plugin-api/index.ts';
import {
  silentLogger, systemClock,
  type Clock, type ClusterView, type Logger, type NodeId, type ReplicationStrategy, type RetransmitStrategy,
} from '../plugin-api/index.ts';
import type { PartitionId } from '../plugin-api/index.ts';
import { Clustering } from './clustering.ts';
import { defaultQuantumMs, CLUSTER_DEFAULTS } from './config.ts';
import { Fabric } from './fabric.ts';
import { Heartbeat, type PeerInfo } from './heartbeat.ts';
import { hexId, type MemberDesc, type NodeState } from './messages.ts';

import { buildPartitionTable, type NamespaceReplication, type PartitionTable } from './partition-table.ts';
import type { Channel, Transport, TransportFactory, TransportStats } from './transport.ts';

export interface ClusterServiceOptions {
  readonly nodeId: NodeId;
  readonly clusterName?: string;
  readonly rackId?: number;
  readonly zoneId?: number;
  /** "host:port" to listen on (port 0 = any free port). */
  readonly heartbeatAddress: string;
  readonly fabricAddress: string;
  /** What peers are told to use to reach the heartbeat / fabric ports, when not the bound addresses (NAT, relay). */
  readonly heartbeatAccessAddress?: string;
  readonly fabricAccessAddress?: string;
  /** Heartbeat addresses of nodes to contact. With none, the node forms a cluster of one at once. */
  readonly seeds?: readonly string[];
  readonly heartbeatIntervalMs?: number;
  readonly heartbeatTimeout?: number;
  readonly quantumMs?: number;
  readonly transport: TransportFactory;
  readonly clock?: Clock;
  readonly logger?: Logger;
  readonly replication: ReplicationStrategy;
  readonly retransmit: RetransmitStrategy;
  readonly namespaces: readonly NamespaceReplication[];
  /** This node's client-facing (gRPC) address, shared with peers through heartbeats. */
  readonly serviceAddress?: () => string;
  /** Uniform [0, 1) source for cluster keys (seed it in simulations). */
  readonly random?: () => number;
}

export interface MemberInfo {
  readonly id: NodeId;
  readonly serviceAddress: string;
  readonly heartbeatAddress: string;
  readonly fabricAddress: string;
  readonly rackId: number;
  readonly zoneId: number;
  readonly state: NodeState;
  /** Whether this node currently hears it (always true for self). */
  readonly alive: boolean;
  /** Whether the agreed cluster lists it as quiesced (it holds no partition). */
  readonly quiesced: boolean;
  readonly masters: ReadonlyMap<string, number>;
  readonly replicas: ReadonlyMap<string, number>;
}

export interface ClusterInfo {
  readonly nodeId: NodeId;
  readonly clusterName: string;
  readonly state: NodeState;
  /** 0 when the node is not in a cluster. */
  readonly clusterKey: bigint;
  readonly principal: NodeId;
  readonly members: readonly MemberInfo[];
  /** Nodes heard but not in the cluster. */
  readonly others: readonly NodeId[];
}

/** What a graceful departure did (ClusterService.leave). */
export interface LeaveReport {
  /** Ms until the others held this node's partitions (quiesced, their fills done); undefined when not waited for. */
  readonly handedOverMs: number | undefined;
  /** Why the hand-over was skipped or cut short, when it was. */
  readonly handOverNote?: string;
  /** Ms from announcing the departure until this node saw the cluster formed without it; undefined when it did not see it in time. */
  readonly reformedMs: number | undefined;
}

export interface LeaveOptions {
  /** Longest wait for the others to take over this node's partitions (migrations) before leaving anyway. */
  readonly handOverWaitMs: number;
}

export interface ClusterChange {
  readonly reason: 'cluster' | 'orphan' | 'state';
  readonly state: NodeState;
  readonly view: ClusterView | undefined;
}

export interface ClusterService {
  readonly nodeId: NodeId;
  start(): Promise<void>;
  stop(): Promise<void>;
  state(): NodeState;
  /** The agreed cluster, or undefined while the node is not in one. */
  view(): ClusterView | undefined;
  info(): ClusterInfo;
  partitionTable(namespace: string): PartitionTable | undefined;
  /** Names of the namespaces this service builds tables for. */
  namespaces(): string[];
  /** Master of a partition, or undefined when the node is not in a cluster. */
  masterOf(namespace: string, partition: PartitionId): NodeId | undefined;
  /**
   * Whether this node is alone — in no cluster, or in a cluster of itself — while it is about to
   * join others: it hears (live heartbeats) a node outside its cluster, or it was started with
   * seeds and has not been in a cluster with another node yet (for at most three node timeouts
   * after its start; then, hearing nobody, it is alone for good: one side of a split, or the first
   * node of a cluster).
   */
  aboutToJoin(): boolean;
  /** The client-facing (gRPC) address of a node this one hears (or of itself); undefined when unknown. */
  serviceAddressOf(node: NodeId): string | undefined;
  /** The cluster key this node is in now (0 when in none). */
  clusterKey(): bigint;
  /**
   * Keeps the node in FullSync/PartialSync while `pending()` holds (its partitions are being
   * filled); call `dataSettled()` when it may have stopped holding.
   */
  holdSyncWhile(pending: () => boolean): void;
  dataSettled(): void;
  /**
   * Quiesces this node (Aerospike's `quiesce`): the cluster re-forms with it listed last in every
   * partition's row, so it masters and replicates nothing and its copies migrate to the others,
   * while it still serves and proxies. `false` undoes it (`quiesce-undo`). False when refused
   * (undoing while leaving, or not running).
   */
  quiesce(on: boolean): boolean;
  /** Whether this node is quiesced, and whether it is leaving. */
  departure(): { readonly quiesced: boolean; readonly leaving: boolean };
  /**
   * Leaves the cluster gracefully: quiesces and waits (bounded) until the others hold its
   * partitions, then announces its departure so that they re-form without it at once, and
   * resolves once it has seen that cluster (it then routes by it, proxying what it receives to
   * the new owners) or after two quanta. The node keeps serving meanwhile; stop() comes after.
   */
  leave(options: LeaveOptions): Promise<LeaveReport>;
  on(event: 'change', listener: (change: ClusterChange) => void): () => void;
  /** The bound addresses (real ports), after start(). */
  addresses(): { heartbeat: string; fabric: string };
  readonly fabric: Fabric;
  stats(): { fabric: Fabric['stats']; clustering: Clustering['stats']; heartbeat: Heartbeat['stats']; transports: Record<Channel, TransportStats> };
}

export function createClusterService(options: ClusterServiceOptions): ClusterService {
  const clock = options.clock ?? systemClock;
  const logger = (options.logger ?? silentLogger).child({ component: 'cluster', node: hexId(options.nodeId) });
  const clusterName = options.clusterName ?? CLUSTER_DEFAULTS.clusterName;
  const intervalMs = options.heartbeatIntervalMs ?? CLUSTER_DEFAULTS.heartbeatIntervalMs;
  const timeout = options.heartbeatTimeout ?? CLUSTER_DEFAULTS.heartbeatTimeout;
  const quantumMs = options.quantumMs ?? defaultQuantumMs(intervalMs, timeout);
  const random = options.random ?? (() => randomInt(2 ** 47) / 2 ** 47);
  const nsNames = new Set<string>();
  for (const ns of options.namespaces) {
    if (nsNames.has(ns.name)) throw new DbError('PARAMETER', `namespace ${ns.name} is configured twice`, { hint: 'Name each namespace once' });
    if (!Number.isInteger(ns.replicationFactor) || ns.replicationFactor < 1 || ns.replicationFactor > 256) {
      throw new DbError('PARAMETER', `namespace ${ns.name}: replication factor must be 1-256, got ${ns.replicationFactor}`, { hint: 'Use 2 (the default) or another small integer' });
    }
    nsNames.add(ns.name);
  }

  const hbTransport: Transport = options.transport('heartbeat');
  const fabricTransport: Transport = options.transport('fabric');
  const listeners = new Set<(c: ClusterChange) => void>();
  const tables = new Map<string, PartitionTable>();
  const generations = new Map<string, number>();
  let started = false;
  /** When start() ran, and whether the node has been in a cluster with another node since (aboutToJoin). */
  let startedAt = 0;
  let joinedOthers = false;
  let stopped = false;

  const fabric = new Fabric({
    nodeId: options.nodeId, clusterName, transport: fabricTransport, clock, retransmit: options.retransmit,
    logger: logger.child({ part: 'fabric' }), incarnation: Math.floor(random() * 2 ** 31) ^ (clock.now() % 2 ** 31),
    clusterKey: () => clustering.clusterKey,
  });

  const clustering = new Clustering({
    nodeId: options.nodeId, rackId: options.rackId ?? 0, zoneId: options.zoneId ?? 0, clock, logger, quantumMs, random,
    onChange: (reason) => {
      if (reason !== 'state') rebuildTables();
      const change: ClusterChange = { reason: reason as ClusterChange['reason'], state: clustering.nodeState, view: clustering.view() };
      for (const l of listeners) {
        try {
          l(change);
        } catch (e) {
          logger.error({ err: (e as Error).message }, 'cluster change listener failed');
        }
      }
    },
  });

  const heartbeat = new Heartbeat({
    nodeId: options.nodeId, clusterName, rackId: options.rackId ?? 0, zoneId: options.zoneId ?? 0,
    transport: hbTransport, clock, logger: logger.child({ part: 'heartbeat' }), intervalMs, timeout,
    seeds: options.seeds ?? [],
    ...(options.serviceAddress === undefined ? {} : { serviceAddress: options.serviceAddress }),
    local: () => ({
      state: clustering.nodeState, clusterKey: clustering.clusterKey, principal: clustering.principal, succession: clustering.succession,
      quiesced: clustering.quiesced, leaving: clustering.leaving,
    }),
    onPulse: (peer: PeerInfo) => {
      fabric.setPeerAddress(peer.id, peer.fabric);
      clustering.onPulse(peer);
    },
    onPeerDown: (peer: PeerInfo) => clustering.onPeerDown(peer),
  });
  clustering.attach(fabric, heartbeat);

  function rebuildTables(): void {
    const view = clustering.view();
    const quiesced = new Set(clustering.members.filter((m) => m.quiesced === true).map((m) => m.id));
    for (const ns of options.namespaces) {
      if (view === undefined) {
        tables.delete(ns.name);
        continue;
      }
      const gen = (generations.get(ns.name) ?? 0) + 1;
      generations.set(ns.name, gen);
      tables.set(ns.name, buildPartitionTable(ns, view, options.replication, gen, quiesced));
    }
  }

  /** Polls `done` every heartbeat interval on the node's clock until it holds (true) or `ms` pass (false). */
  function waitUntil(done: () => boolean, ms: number): Promise<boolean> {
    const end = clock.now() + ms;
    return new Promise((resolve) => {
      const check = (): void => {
        if (stopped) return resolve(false);
        if (done()) return resolve(true);
        if (clock.now() >= end) return resolve(false);
        clock.setTimeout(check, Math.min(Math.max(5, Math.floor(intervalMs / 4)), Math.max(1, end - clock.now())));
      };
      check();
    });
  }

  function memberInfo(id: NodeId, alive: boolean, peer: PeerInfo | undefined): MemberInfo {
    const masters = new Map<string, number>();
    const replicas = new Map<string, number>();
    for (const [ns, t] of tables) {
      const c = t.counts.get(id);
      masters.set(ns, c?.masters ?? 0);
      replicas.set(ns, c?.replicas ?? 0);
    }
    const desc = clustering.members.find((m) => m.id === id);
    const quiesced = desc?.quiesced === true;
    if (id === options.nodeId) {
      return {
        id, serviceAddress: options.serviceAddress?.() ?? '', heartbeatAddress: heartbeat.address, fabricAddress: fabric.address, rackId: options.rackId ?? 0, zoneId: options.zoneId ?? 0,
        state: clustering.nodeState, alive: true, quiesced, masters, replicas,
      };
    }
    return {
      id, serviceAddress: peer?.service ?? '', heartbeatAddress: peer?.hb ?? '', fabricAddress: peer?.fabric ?? '', rackId: desc?.rack ?? peer?.rack ?? 0,
      zoneId: desc?.zone ?? peer?.zone ?? 0, state: peer?.state ?? 'bootstrap', alive, quiesced, masters, replicas,
    };
  }

  return {
    nodeId: options.nodeId,
    fabric,
    async start() {
      if (started) throw new DbError('SERVER_ERROR', 'cluster service already started', { hint: 'Start it once' });
      started = true;
      startedAt = clock.now();
      const boundFabric = await fabric.start(options.fabricAddress);
      fabric.address = options.fabricAccessAddress ?? boundFabric;
      heartbeat.fabricAddress = fabric.address;
      const boundHeartbeat = await heartbeat.start(options.heartbeatAddress);
      if (options.heartbeatAccessAddress !== undefined) heartbeat.address = options.heartbeatAccessAddress;
      const alone = (options.seeds ?? []).filter((s) => s !== heartbeat.address).length === 0;
      clustering.start(intervalMs * 3, alone);
      logger.info({ heartbeat: boundHeartbeat, fabric: boundFabric, heartbeatAccess: heartbeat.address, fabricAccess: fabric.address, clusterName }, 'cluster service started');
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      clustering.stop();
      heartbeat.stop();
      fabric.stop();
      await Promise.all([hbTransport.close(), fabricTransport.close()]);
    },
    state: () => clustering.nodeState,
    view: () => clustering.view(),
    info() {
      const peers = new Map(heartbeat.peers().map((p) => [p.id, p]));
      const ids = clustering.clusterKey === 0n ? [options.nodeId] : clustering.succession;
      return {
        nodeId: options.nodeId, clusterName, state: clustering.nodeState, clusterKey: clustering.clusterKey,
        principal: clustering.principal,
        members: ids.map((id) => memberInfo(id, heartbeat.isAlive(id), peers.get(id))),
        others: [...peers.keys()].filter((id) => !ids.includes(id)),
      };
    },
    partitionTable: (ns) => tables.get(ns),
    namespaces: () => options.namespaces.map((n) => n.name),
    masterOf: (ns, pid) => tables.get(ns)?.rows[pid]?.[0],
    aboutToJoin() {
      const ids = clustering.clusterKey === 0n ? [options.nodeId] : clustering.members.map((m) => m.id);
      if (ids.length > 1) {
        joinedOthers = true;
        return false;
      }
      // a leaving node is heard until it stops, but it joins nobody
      if (heartbeat.peers().some((p) => !p.leaving && !ids.includes(p.id))) return true;
      const seeded = (options.seeds ?? []).some((s) => s !== heartbeat.address);
      return seeded && !joinedOthers && clock.now() - startedAt < 3 * intervalMs * timeout;
    },
    serviceAddressOf(node) {
      if (node === options.nodeId) return options.serviceAddress?.();
      const s = heartbeat.peers().find((p) => p.id === node)?.service;
      return s === undefined || s === '' ? undefined : s;
    },
    clusterKey: () => clustering.clusterKey,
    holdSyncWhile(pending) {
      clustering.holdSync = pending;
    },
    dataSettled: () => clustering.checkOnline(),
    quiesce: (on) => clustering.quiesce(on),
    departure: () => ({ quiesced: clustering.quiesced, leaving: clustering.leaving }),
    async leave(o) {
      const t0 = clock.now();
      const peersOf = (): MemberDesc[] => clustering.members.filter((m) => m.id !== options.nodeId);
      let handedOverMs: number | undefined;
      let handOverNote: string | undefined;
      if (clustering.clusterKey === 0n || !clustering.isMember()) handOverNote = 'not in a cluster';
      else if (peersOf().length === 0) handOverNote = 'alone in its cluster: nobody to hand its partitions to';
      else if (peersOf().every((m) => m.quiesced === true || heartbeat.peer(m.id)?.leaving === true)) handOverNote = 'every other member is quiesced or leaving';
      else {
        clustering.quiesce(true);
        // handed over: the cluster agreed with this node quiesced, and every member (this one too) is online in it — their fills are done
        const handedOver = (): boolean => clustering.members.some((m) => m.id === options.nodeId && m.quiesced === true) && clustering.nodeState === 'online'
          && peersOf().every((m) => { const p = heartbeat.peer(m.id); return p !== undefined && p.clusterKey === clustering.clusterKey && p.state === 'online'; });
        if (await waitUntil(handedOver, o.handOverWaitMs)) handedOverMs = clock.now() - t0;
        else handOverNote = `the others did not take over its partitions within ${o.handOverWaitMs} ms`;
      }
      if (handOverNote !== undefined) logger.warn({ why: handOverNote }, 'leaving without handing over partitions first');
      const t1 = clock.now();
      clustering.leave();
      let reformedMs: number | undefined;
      // (when every other member is leaving or gone too, nobody re-forms: no wait)
      const nobodyStays = (): boolean => peersOf().every((m) => heartbeat.peer(m.id) === undefined || heartbeat.peer(m.id)?.leaving === true);
      if (clustering.clusterKey !== 0n && await waitUntil(() => !clustering.isMember() || nobodyStays(), 2 * quantumMs) && !clustering.isMember()) reformedMs = clock.now() - t1;
      logger.info({ handedOverMs, reformedMs }, reformedMs === undefined ? 'left the cluster (did not see it re-form without this node)' : 'left the cluster');
      return { handedOverMs, ...(handOverNote === undefined ? {} : { handOverNote }), reformedMs };
    },
    on(_event, listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    addresses: () => ({ heartbeat: heartbeat.address, fabric: fabric.address }),
    stats: () => ({ fabric: fabric.stats, clustering: clustering.stats, heartbeat: heartbeat.stats, transports: { heartbeat: hbTransport.stats(), fabric: fabricTransport.stats() } }),
  };
}
