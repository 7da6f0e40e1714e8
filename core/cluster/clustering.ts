/**
 * Cluster formation (Aerospike's clustering v5, simplified). Every quantum each node decides
 * whether it should act as principal: it should when no higher node it hears would. The
 * principal computes the member list — itself plus the live peers, minus nodes bound to a
 * higher principal, minus nodes evicted so that the rest is a clique of mutual heartbeats —
 * and, if that differs from the current cluster (or members disagree on the cluster key),
 * runs a Paxos round: PREPARE/PROMISE from every proposed member, then ACCEPT/ACCEPTED from
 * every member for (member list, fresh random cluster key), then LEARN. A cluster key is bound
 * to exactly one proposal, so all nodes that adopt a key adopt the same member list.
 *
 * Acceptors refuse a proposal numbered below one they promised, and a proposal from a node
 * lower than their own live principal (so a lower node cannot steal members from a healthy
 * cluster). A member whose principal announces a cluster without it becomes an orphan
 * (Bootstrap) again; a member that missed LEARN adopts the accepted value when the new
 * principal's heartbeat shows it.
 *
 * Peers are not authenticated (yet), so an acceptor checks what it can: an ACCEPT must come
 * from the proposer its number names, list this node and the proposer, and name only nodes this
 * node hears or heard lately (a heartbeat flap under load does not count against a member), with
 * the rack and zone their heartbeats announce; a LEARN is applied only when it
 * is the value this node accepted. A forged LEARN, or an ACCEPT of invented nodes, is refused.
 *
 * Planned departures (Aerospike's quiesce, then shutdown). A node that quiesces says so in its
 * heartbeats; the principal re-forms with the node marked quiesced in the agreed member list, and
 * every member then builds rows that list it last (it masters and replicates nothing: its copies
 * migrate to the others while it still serves and proxies). A node that leaves says so in its
 * heartbeats and no longer proposes, promises or counts as anyone's principal; the others re-form
 * without it at once (a short settle, as after a death, not the heartbeat timeout). The principal
 * also sends the LEARN of that cluster to the leaving node, which adopts it as an observer — a
 * member list without itself — so that until it stops it proxies what it receives to the new
 * owners under the new cluster key.
 */
import type { Clock, ClusterView, Logger, NodeId, TimerHandle } from '../plugin-api/index.ts';
import type { Fabric } from './fabric.ts';
import type { Heartbeat, PeerInfo } from './heartbeat.ts';
import {
  compareProposals, hexId, sortDescending,
  type ClusteringMessage, type MemberDesc, type NodeState, type ProposalNumber,
} from './messages.ts';

export interface ClusteringOptions {
  readonly nodeId: NodeId;
  readonly rackId: number;
  readonly zoneId: number;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly quantumMs: number;
  /** Uniform [0, 1) source for cluster keys. */
  readonly random: () => number;
  readonly onChange: (reason: string) => void;
}

interface Accepted {
  readonly n: ProposalNumber;
  readonly clusterKey: bigint;
  readonly members: readonly MemberDesc[];
}

interface Round {
  readonly n: ProposalNumber;
  readonly ids: readonly NodeId[];
  readonly members: readonly MemberDesc[];
  readonly clusterKey: bigint;
  phase: 'prepare' | 'accept';
  waiting: Set<NodeId>;
  timer: TimerHandle | undefined;
}

/** How far ahead of this node's clock a proposal's round may be (clock skew between nodes). */
const MAX_ROUND_AHEAD_MS = 10 * 60_000;

export class Clustering {
  readonly #o: ClusteringOptions;
  #fabric!: Fabric;
  #hb!: Heartbeat;
  clusterKey = 0n;
  members: readonly MemberDesc[] = [];
  nodeState: NodeState = 'bootstrap';
  #promised: ProposalNumber | undefined;
  #accepted: Accepted | undefined;
  #applied: ProposalNumber | undefined;
  #lastRound = 0;
  #round: Round | undefined;
  #nacked = new Map<NodeId, number>();
  #outOfSyncSince: number | undefined;
  #timer: TimerHandle | undefined;
  /** When the pending decision (`#timer`) runs. */
  #nextTickAt = 0;
  #stopped = false;
  #quiesced = false;
  #leaving = false;
  readonly stats = { proposals: 0, proposalsFailed: 0, applied: 0 };

  constructor(options: ClusteringOptions) {
    this.#o = options;
  }

  get principal(): NodeId {
    return this.members[0]?.id ?? 0n;
  }

  get succession(): NodeId[] {
    return this.members.map((m) => m.id);
  }

  view(): ClusterView | undefined {
    if (this.clusterKey === 0n) return undefined;
    return { clusterKey: this.clusterKey, succession: this.members.map((m) => ({ id: m.id, rackId: m.rack, zoneId: m.zone })) };
  }

  attach(fabric: Fabric, heartbeat: Heartbeat): void {
    this.#fabric = fabric;
    this.#hb = heartbeat;
    fabric.onMessage((from, body) => { if (body.type !== 'request' && body.type !== 'reply') this.#onMessage(from, body); });
  }

  /** Starts the quantum loop; the first decision comes after `firstDelayMs`. */
  start(firstDelayMs: number, formAlone: boolean): void {
    if (formAlone) this.#propose([this.#o.nodeId]);
    this.#schedule(firstDelayMs);
  }

  /** The next decision in `ms` (replacing the pending one). */
  #schedule(ms: number): void {
    if (this.#timer !== undefined) this.#o.clock.clearTimeout(this.#timer);
    this.#nextTickAt = this.#o.clock.now() + ms;
    this.#timer = this.#o.clock.setTimeout(() => this.#tick(), ms);
  }

  /** Whether this node gives up its partitions (announced in its heartbeats). */
  get quiesced(): boolean {
    return this.#quiesced;
  }

  /** Whether this node is leaving (announced in its heartbeats; it is in no cluster formed from now on). */
  get leaving(): boolean {
    return this.#leaving;
  }

  /**
   * Quiesces (or un-quiesces) this node: announced at once, the principal re-forms with the flag
   * within a settle time. Un-quiescing a leaving node is refused (false).
   */
  quiesce(on: boolean): boolean {
    if (this.#stopped || (this.#leaving && !on)) return false;
    if (this.#quiesced === on) return true;
    this.#quiesced = on;
    this.#o.logger.info({ quiesced: on }, on ? 'quiesced: handing this node\'s partitions to the others' : 'quiesce undone');
    this.#hb.pulseNow();
    this.#soon();
    return true;
  }

  /** Leaves the cluster: announced at once; the others re-form without this node. */
  leave(): void {
    if (this.#stopped || this.#leaving) return;
    this.#leaving = true;
    this.#quiesced = true;
    this.#o.logger.info({ members: this.succession.map(hexId) }, 'leaving the cluster');
    if (this.#round !== undefined) this.#endRound(this.#round, 'this node is leaving');
    this.#hb.pulseNow();
  }

  /** Whether this node is in the cluster it knows (false when it is in none, or an observer of the one it left). */
  isMember(): boolean {
    return this.members.some((m) => m.id === this.#o.nodeId);
  }

  /** Brings the next decision forward to a settle time from now (after news a principal must act on). */
  #soon(): void {
    const settleMs = this.#settleMs();
    if (this.#nextTickAt - this.#o.clock.now() > settleMs) this.#schedule(settleMs);
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#o.clock.clearTimeout(this.#timer);
    if (this.#round !== undefined) this.#endRound(this.#round, 'stopped');
  }

  /** Called for every heartbeat pulse. */
  onPulse(peer: PeerInfo): void {
    if (this.#stopped) return;
    const self = this.#o.nodeId;
    // A member that missed LEARN adopts what it accepted once the new principal shows it.
    const acc = this.#accepted;
    if (acc !== undefined && peer.clusterKey === acc.clusterKey && peer.principal === peer.id && this.clusterKey !== acc.clusterKey
      && acc.members.some((m) => m.id === self) && acc.members[0]?.id === peer.id && this.#canApply(acc.n)) {
      this.#apply(acc.n, acc.clusterKey, acc.members, 'adopted from the principal\'s heartbeat');
      return;
    }
    // a member announcing its departure (or a changed quiesce) is acted on a settle time from now
    const desc = this.members.find((m) => m.id === peer.id);
    if (desc !== undefined && (peer.leaving || peer.quiesced !== (desc.quiesced === true))) this.#soon();
    // a leaving node waits for the LEARN of the cluster formed without it (it stays an observer)
    if (this.clusterKey !== 0n && peer.id === this.principal && peer.id !== self && peer.clusterKey !== this.clusterKey && !this.#leaving) {
      if (peer.clusterKey === 0n || !peer.succession.includes(self)) {
        this.#orphan(`principal ${hexId(peer.id)} left this cluster`);
        return;
      }
    }
    this.#checkOnline();
  }

  /**
   * A member's heartbeat timed out: the next decision comes a short settle time from now
   * instead of at the next quantum boundary (up to a whole quantum away), so the cluster
   * re-forms about a heartbeat timeout after a death rather than up to a quantum later. The
   * settle time lets several departures (or heartbeats a stalled event loop has not read yet)
   * be seen by one decision. Arrivals still wait for the quantum, as in Aerospike.
   */
  onPeerDown(peer: PeerInfo): void {
    if (this.#stopped || !this.members.some((m) => m.id === peer.id)) return;
    this.#soon();
  }

  /** How long a decision after a departure waits for the rest of the news: a sixth of the quantum (300 ms by default), at least 50 ms. */
  #settleMs(): number {
    return Math.max(50, Math.floor(this.#o.quantumMs / 6));
  }

  // ---- principal side ------------------------------------------------------------------------

  #tick(): void {
    if (this.#stopped) return;
    this.#schedule(this.#o.quantumMs);
    if (this.#leaving || this.#round !== undefined || !this.#shouldPropose()) return;
    const desired = this.#desiredMembers();
    const same = this.clusterKey !== 0n && desired.length === this.members.length
      && desired.every((id, i) => this.members[i]?.id === id && (this.members[i]?.quiesced === true) === this.#isQuiesced(id));
    if (same) {
      const inSync = this.members.every((m) => m.id === this.#o.nodeId || this.#hb.peer(m.id)?.clusterKey === this.clusterKey);
      if (inSync) {
        this.#outOfSyncSince = undefined;
        return;
      }
      const now = this.#o.clock.now();
      if (this.#outOfSyncSince === undefined) {
        this.#outOfSyncSince = now;
        return;
      }
      if (now - this.#outOfSyncSince < this.#o.quantumMs) return;
    }
    this.#propose(desired);
  }

  /** Whether no higher node that we hear would act as principal for us. */
  #shouldPropose(): boolean {
    for (const p of this.#hb.peers()) {
      if (p.id <= this.#o.nodeId || p.leaving) continue;
      const defer = p.clusterKey === 0n || p.principal === p.id || (this.clusterKey !== 0n && p.clusterKey === this.clusterKey) || this.#hb.isAlive(p.principal);
      if (defer) return false;
    }
    return true;
  }

  #desiredMembers(): NodeId[] {
    const self = this.#o.nodeId;
    const now = this.#o.clock.now();
    const peers = this.#hb.peers().filter((p) => {
      if ((this.#nacked.get(p.id) ?? 0) > now || p.leaving) return false;
      const boundElsewhere = p.clusterKey !== 0n && p.clusterKey !== this.clusterKey && p.principal > self && p.principal !== p.id && this.#hb.isAlive(p.principal);
      return !boundElsewhere;
    });
    const adj = new Map<NodeId, Set<NodeId>>();
    adj.set(self, new Set(this.#hb.peers().map((p) => p.id)));
    for (const p of peers) adj.set(p.id, new Set(p.adjacency));
    const set = new Set<NodeId>([self, ...peers.map((p) => p.id)]);
    const edge = (a: NodeId, b: NodeId): boolean => (adj.get(a)?.has(b) ?? false) && (adj.get(b)?.has(a) ?? false);
    // Clique-based eviction: drop the node missing the most edges (ties: the lowest id) until
    // every pair hears each other. Never evict self.
    for (;;) {
      let worst: NodeId | undefined;
      let worstMissing = 0;
      for (const u of set) {
        if (u === self) continue;
        let missing = 0;
        for (const v of set) if (v !== u && !edge(u, v)) missing++;
        if (missing > worstMissing || (missing === worstMissing && missing > 0 && worst !== undefined && u < worst)) {
          worst = u;
          worstMissing = missing;
        }
      }
      if (worst === undefined) break;
      set.delete(worst);
    }
    return sortDescending(set);
  }

  #isQuiesced(id: NodeId): boolean {
    return id === this.#o.nodeId ? this.#quiesced : this.#hb.peer(id)?.quiesced === true;
  }

  #newKey(): bigint {
    for (;;) {
      const k = (BigInt(Math.floor(this.#o.random() * 2 ** 24)) << 24n) | BigInt(Math.floor(this.#o.random() * 2 ** 24));
      if (k !== 0n && k !== this.clusterKey) return k;
    }
  }

  /**
   * Runs one Paxos round. Written with callbacks, not promises, so that a round advances inside
   * the clock's timer callbacks (deterministic under a FakeClock).
   */
  #propose(ids: NodeId[]): void {
    if (this.#round !== undefined || this.#stopped) return;
    this.stats.proposals++;
    const round = Math.max(this.#o.clock.now(), this.#lastRound + 1, (this.#promised?.round ?? 0) + 1);
    this.#lastRound = round;
    const n: ProposalNumber = { round, node: this.#o.nodeId };
    const members: MemberDesc[] = ids.map((id) => {
      const q = this.#isQuiesced(id) ? { quiesced: true } : {};
      if (id === this.#o.nodeId) return { id, rack: this.#o.rackId, zone: this.#o.zoneId, ...q };
      const p = this.#hb.peer(id);
      return { id, rack: p?.rack ?? 0, zone: p?.zone ?? 0, ...q };
    });
    const r: Round = { n, ids, members, clusterKey: this.#newKey(), phase: 'prepare', waiting: new Set(ids), timer: undefined };
    this.#round = r;
    this.#o.logger.debug({ members: ids.map(hexId), clusterKey: r.clusterKey.toString(16) }, 'proposing cluster');
    this.#startPhase(r, { type: 'prepare', n });
  }

  #phaseMs(): number {
    return Math.max(50, Math.floor(this.#o.quantumMs / 3));
  }

  #startPhase(r: Round, msg: ClusteringMessage): void {
    if (r.timer !== undefined) this.#o.clock.clearTimeout(r.timer);
    r.waiting = new Set(r.ids);
    r.timer = this.#o.clock.setTimeout(() => this.#endRound(r, `no ${r.phase === 'prepare' ? 'promise' : 'accepted'} from ${[...r.waiting].map(hexId).join(',')}`), this.#phaseMs());
    for (const id of r.ids) this.#fabric.send(id, msg, { deadlineMs: this.#phaseMs() }).catch(() => {});
  }

  #endRound(r: Round, failure?: string): void {
    if (this.#round !== r) return;
    this.#round = undefined;
    if (r.timer !== undefined) this.#o.clock.clearTimeout(r.timer);
    if (failure !== undefined) {
      this.stats.proposalsFailed++;
      this.#o.logger.debug({ why: failure }, 'cluster proposal failed');
    }
  }

  #onReply(from: NodeId, type: 'promise' | 'accepted', n: ProposalNumber): void {
    const r = this.#round;
    if (r === undefined || compareProposals(r.n, n) !== 0) return;
    if ((type === 'promise') !== (r.phase === 'prepare')) return;
    r.waiting.delete(from);
    if (r.waiting.size > 0) return;
    if (r.phase === 'prepare') {
      r.phase = 'accept';
      this.#startPhase(r, { type: 'accept', n: r.n, clusterKey: r.clusterKey, members: r.members });
      return;
    }
    this.#endRound(r);
    // members of the cluster before that are leaving it learn it too (they proxy under it until they stop)
    const leaving = this.members.filter((m) => !r.ids.includes(m.id) && this.#hb.peer(m.id)?.leaving === true).map((m) => m.id);
    for (const id of [...r.ids, ...leaving]) {
      this.#fabric.send(id, { type: 'learn', n: r.n, clusterKey: r.clusterKey, members: r.members }, { deadlineMs: this.#o.quantumMs }).catch(() => {});
    }
  }

  // ---- acceptor side -------------------------------------------------------------------------

  #reply(to: NodeId, msg: ClusteringMessage): void {
    this.#fabric.send(to, msg, { deadlineMs: Math.max(50, Math.floor(this.#o.quantumMs / 3)) }).catch(() => {});
  }

  #onMessage(from: NodeId, m: ClusteringMessage): void {
    if (this.#stopped) return;
    switch (m.type) {
      case 'prepare': {
        if (this.#leaving) {
          this.#reply(from, { type: 'prepare-nack', n: m.n, reason: 'this node is leaving the cluster' });
          return;
        }
        const odd = this.#unbelievable(from, m.n);
        if (odd !== undefined) {
          this.#o.logger.warn({ from: hexId(from), why: odd }, 'refusing a cluster proposal');
          this.#reply(from, { type: 'prepare-nack', n: m.n, reason: odd });
          return;
        }
        const p = this.principal;
        if (this.clusterKey !== 0n && p !== from && p > from && this.#hb.isAlive(p) && this.#hb.peer(p)?.leaving !== true) {
          this.#reply(from, { type: 'prepare-nack', n: m.n, reason: `member of the cluster of live principal ${hexId(p)}` });
          return;
        }
        if (this.#promised !== undefined && compareProposals(m.n, this.#promised) < 0) {
          this.#reply(from, { type: 'prepare-nack', n: m.n, reason: 'promised a higher proposal' });
          return;
        }
        this.#promised = m.n;
        this.#lastRound = Math.max(this.#lastRound, m.n.round);
        this.#reply(from, { type: 'promise', n: m.n });
        return;
      }
      case 'accept': {
        if (this.#leaving) {
          this.#reply(from, { type: 'accept-nack', n: m.n, reason: 'this node is leaving the cluster' });
          return;
        }
        if (this.#promised !== undefined && compareProposals(m.n, this.#promised) < 0) {
          this.#reply(from, { type: 'accept-nack', n: m.n, reason: 'promised a higher proposal' });
          return;
        }
        const wrong = this.#inconsistency(from, m.n, m.members);
        if (wrong !== undefined) {
          this.#o.logger.warn({ from: hexId(from), why: wrong }, 'refusing a cluster proposal that does not match what this node hears');
          this.#reply(from, { type: 'accept-nack', n: m.n, reason: wrong });
          return;
        }
        this.#promised = m.n;
        this.#accepted = { n: m.n, clusterKey: m.clusterKey, members: m.members };
        this.#reply(from, { type: 'accepted', n: m.n });
        return;
      }
      case 'learn': {
        if (this.#leaving) {
          this.#observe(from, m.n, m.clusterKey, m.members);
          return;
        }
        if (!m.members.some((x) => x.id === this.#o.nodeId) || m.clusterKey === this.clusterKey || !this.#canApply(m.n)) return;
        // Only the value this node accepted can be learned (every member accepted it first).
        const acc = this.#accepted;
        if (acc === undefined || compareProposals(acc.n, m.n) !== 0 || acc.clusterKey !== m.clusterKey || from !== m.n.node) {
          this.#o.logger.warn({ from: hexId(from), clusterKey: m.clusterKey.toString(16) }, 'ignoring a cluster LEARN this node never accepted');
          return;
        }
        this.#apply(acc.n, acc.clusterKey, acc.members, `agreed by principal ${hexId(from)}`);
        return;
      }
      case 'promise':
      case 'accepted':
        this.#onReply(from, m.type, m.n);
        return;
      case 'prepare-nack':
      case 'accept-nack': {
        const r = this.#round;
        if (r === undefined || compareProposals(r.n, m.n) !== 0) return;
        this.#nacked.set(from, this.#o.clock.now() + 2 * this.#o.quantumMs);
        this.#endRound(r, `node ${hexId(from)} refused: ${m.reason}`);
        if (this.#hb.peer(from)?.leaving === true) this.#soon();
        return;
      }
    }
  }

  /**
   * Why a proposal cannot come from a real proposer: one this node does not hear, or numbered
   * far ahead of this node's clock (it would block every later proposal until then).
   */
  #unbelievable(from: NodeId, n: ProposalNumber): string | undefined {
    if (n.node !== from) return `proposal ${hexId(n.node)} sent by node ${hexId(from)}`;
    if (from !== this.#o.nodeId && this.#hb.heardRecently(from) === undefined) return `proposer ${hexId(from)} is not heard by this node`;
    if (n.round > this.#o.clock.now() + MAX_ROUND_AHEAD_MS) return `proposal round ${n.round} is more than ${MAX_ROUND_AHEAD_MS} ms ahead of this node's clock`;
    return undefined;
  }

  /** Why a proposed membership cannot be what its proposer saw, or undefined when it can. */
  #inconsistency(from: NodeId, n: ProposalNumber, members: readonly MemberDesc[]): string | undefined {
    const self = this.#o.nodeId;
    const odd = this.#unbelievable(from, n);
    if (odd !== undefined) return odd;
    const ids = new Set(members.map((x) => x.id));
    if (ids.size !== members.length) return 'a member is listed twice';
    if (!ids.has(self)) return 'this node is not a member';
    if (!ids.has(from)) return 'the proposer is not a member';
    for (const x of members) {
      if (x.id === self) {
        if (x.rack !== this.#o.rackId || x.zone !== this.#o.zoneId) return `this node is in rack ${this.#o.rackId} zone ${this.#o.zoneId}`;
        continue;
      }
      const peer = this.#hb.heardRecently(x.id);
      if (peer === undefined) return `member ${hexId(x.id)} is not heard by this node`;
      if (peer.rack !== x.rack || peer.zone !== x.zone) return `member ${hexId(x.id)} announces rack ${peer.rack} zone ${peer.zone}`;
    }
    return undefined;
  }

  #canApply(n: ProposalNumber): boolean {
    return (this.#promised === undefined || compareProposals(n, this.#promised) >= 0)
      && (this.#applied === undefined || compareProposals(n, this.#applied) > 0);
  }

  #apply(n: ProposalNumber, clusterKey: bigint, members: readonly MemberDesc[], why: string): void {
    const wasOrphan = this.clusterKey === 0n;
    this.#applied = n;
    this.#promised = this.#promised === undefined || compareProposals(n, this.#promised) > 0 ? n : this.#promised;
    this.clusterKey = clusterKey;
    this.members = [...members].sort((a, b) => (a.id > b.id ? -1 : a.id < b.id ? 1 : 0));
    this.nodeState = wasOrphan ? 'full-sync' : 'partial-sync';
    this.#outOfSyncSince = undefined;
    this.stats.applied++;
    this.#o.logger.info({ clusterKey: clusterKey.toString(16), members: this.succession.map(hexId) }, `joined cluster (${why})`);
    this.#o.onChange('cluster');
    this.#hb.pulseNow();
    this.#checkOnline();
  }

  /**
   * A leaving node adopts the cluster formed without it, as an observer: sent by the proposer
   * itself, one of the members this node was with, for a cluster without this node.
   */
  #observe(from: NodeId, n: ProposalNumber, clusterKey: bigint, members: readonly MemberDesc[]): void {
    if (from !== n.node || members.some((x) => x.id === this.#o.nodeId) || clusterKey === this.clusterKey || !this.members.some((x) => x.id === from)) return;
    if (this.#applied !== undefined && compareProposals(n, this.#applied) <= 0) return;
    this.#applied = n;
    this.clusterKey = clusterKey;
    this.members = [...members].sort((a, b) => (a.id > b.id ? -1 : a.id < b.id ? 1 : 0));
    this.#o.logger.info({ clusterKey: clusterKey.toString(16), members: this.succession.map(hexId) }, `the cluster re-formed without this node (agreed by principal ${hexId(from)}); proxying to it until stopped`);
    this.#o.onChange('cluster');
    this.#hb.pulseNow();
  }

  #orphan(why: string): void {
    this.#o.logger.info({ why }, 'left the cluster; looking for one');
    this.clusterKey = 0n;
    this.members = [];
    this.nodeState = 'bootstrap';
    this.#o.onChange('orphan');
    this.#hb.pulseNow();
  }

  /** While true, the node stays in its sync state (its partitions are still being filled). */
  holdSync: () => boolean = () => false;

  /** Looks again whether the node can be Online (after its data caught up). */
  checkOnline(): void {
    this.#checkOnline();
  }

  /** Online once every member reports the same cluster key (the exchange is complete) and the node's data caught up. */
  #checkOnline(): void {
    if (this.nodeState !== 'full-sync' && this.nodeState !== 'partial-sync') return;
    if (this.holdSync()) return;
    const all = this.members.every((m) => m.id === this.#o.nodeId || this.#hb.peer(m.id)?.clusterKey === this.clusterKey);
    if (!all) return;
    this.nodeState = 'online';
    this.#o.onChange('state');
    this.#hb.pulseNow();
  }
}
