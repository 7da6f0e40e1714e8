/**
 * The fabric: typed node-to-node messages over a Transport, with acknowledgements for the
 * messages that need one and a retransmit loop driven by the node's RetransmitStrategy.
 * Duplicates (from resends or the network) are acknowledged again but delivered once.
 * Acknowledgements are batched: the ids received from one sender before the next timer turn
 * ride on the next message to that sender (a reply acknowledges its request), or leave in one
 * ack frame at that turn when there is none (under load, one frame acknowledges many messages).
 *
 * A message that fails unacknowledged says whether the peer may have it: TIMEOUT when some copy
 * of it was written to a live connection (the peer may have got it and lost the ack, or died
 * after reading it), UNAVAILABLE when no copy ever was (no connection could be made: the peer's
 * port refused it, nobody knew its address) — the peer never got it and never will (the message
 * is given up, not sent again), so a caller may safely send it elsewhere.
 */
import { DbError } from '../plugin-api/index.ts';
import type { Clock, FabricMessageKind, Logger, NodeId, RetransmitStrategy, TimerHandle } from '../plugin-api/index.ts';
import { encodeFrame } from './frame-codec.ts';
import { hexId, MAX_ACKS_PER_FRAME, type FabricAck, type FabricMessage, type FabricPayload, type Frame, type PiggybackedAcks } from './messages.ts';
import type { Transport } from './transport.ts';

export interface FabricOptions {
  readonly nodeId: NodeId;
  readonly clusterName: string;
  readonly transport: Transport;
  readonly clock: Clock;
  readonly retransmit: RetransmitStrategy;
  readonly logger: Logger;
  /** Distinguishes this run's message ids from a previous run's. */
  readonly incarnation: number;
  /** The cluster key this node is in now (0 when in none); stamped on every message. */
  readonly clusterKey?: () => bigint;
}

export interface SendOptions {
  /** Ms after which an unacknowledged message fails with TIMEOUT (default 1000). */
  readonly deadlineMs?: number;
  readonly kind?: FabricMessageKind;
  /**
   * Filled in by send with `giveUp`, which gives the message up before its deadline: it is not
   * sent again, and the promise rejects (UNAVAILABLE when no copy was ever written to a
   * connection, else TIMEOUT); after the message settled it does nothing.
   */
  readonly control?: SendControl;
}

/** A message's handle for its sender (see SendOptions.control); a plain object, cheaper than an AbortController per message. */
export interface SendControl {
  giveUp?: () => void;
}

interface Pending {
  readonly msg: FabricMessage;
  readonly to: NodeId;
  readonly sentAt: number;
  readonly deadlineMs: number;
  readonly bytes: number;
  attempt: number;
  /** Some copy was handed to a live connection: the peer may have it. */
  maybeDelivered: boolean;
  /** Copies whose fate the transport has not told yet (waiting for a connection). */
  unsure: number;
  /** The message's one timer: its next resend, or its deadline when that comes first. */
  timer: TimerHandle | undefined;
  /** Told of the outcome (undefined when nobody waits for it: see Fabric.deliver). */
  readonly resolve: (() => void) | undefined;
  readonly reject: ((e: DbError) => void) | undefined;
}

/** Message ids remembered per sender incarnation (its most recent ones). */
export const DEDUP_WINDOW = 4096;

/** What this node remembers of one sender incarnation's messages. */
interface SenderIds {
  readonly node: NodeId;
  readonly inc: number;
  readonly key: string;
  /** The ids of its last DEDUP_WINDOW messages delivered here. */
  readonly ids: Set<number>;
  /** The same ids in arrival order: a ring of up to DEDUP_WINDOW slots, `next` the oldest once it is full. */
  readonly order: number[];
  next: number;
  /** Its messages refused (stamped with another cluster key), the last DEDUP_WINDOW of them. */
  refused: Set<number> | undefined;
  /** When it was last heard (a count of frames): the sender heard longest ago is forgotten first. */
  heard: number;
}
/**
 * How long the ack of a reply may wait for a message to ride on (ms). A reply's ack only stops
 * the reply's resends (due after the retransmit interval), and under load the next request to
 * that node leaves well within this: its own ack frame would cost both nodes a socket write, a
 * read and often a wake-up. Other messages' acks leave by the next timer turn.
 */
export const ACK_REPLY_LATER_MS = 20;
/** Senders (node, incarnation) whose message ids are remembered; the oldest is forgotten first. */
export const MAX_SENDERS = 1024;

/** Acks owed to one sender incarnation. */
interface OwedAcks {
  readonly inc: number;
  readonly ids: number[];
  /** Some must leave by the next timer turn (a request's); the others (replies') may wait for a message to ride on. */
  soon: boolean;
  /** When the first of them was owed (clock ms). */
  readonly since: number;
}

export type FabricHandler = (from: NodeId, body: FabricPayload) => void;

export class Fabric {
  readonly #o: FabricOptions;
  #seq = 0;
  #pending = new Map<number, Pending>();
  #addresses = new Map<NodeId, string>();
  /** Senders by `node:incarnation`. */
  #seen = new Map<string, SenderIds>();
  /** Each node's incarnation last heard (an entry of #seen): a frame then costs no key. */
  #latest = new Map<NodeId, SenderIds>();
  /** Frames heard, for the senders' recency. */
  #heard = 0;
  #handlers: FabricHandler[] = [];
  #stopped = false;
  /** Acks owed, per sender (of one incarnation: see #ack). */
  #acks = new Map<NodeId, OwedAcks>();
  /**
   * The timer that sends the acks no message took. `soon`: it fires at the next timer turn and
   * sends them all; else it sends those that have waited ACK_REPLY_LATER_MS (it is not stopped
   * when a message takes them: it then finds fewer or none, and is set again only for what is left).
   */
  #acksTimer: { handle: TimerHandle; soon: boolean } | undefined;
  /** A look at the acks owed soon is deferred to the end of this turn (a clock that defers: see #owedSoon). */
  #acksLook = false;
  readonly #lookAtAcks = (): void => this.#acksLookNow();
  readonly #acksTimerFired = (): void => this.#onAcksTimer();
  /**
   * `refusedForeign`: messages from another cluster name; `refusedStale`: data-path messages
   * stamped with another cluster key than this node's (sent under another membership).
   */
  readonly stats = { sent: 0, resent: 0, acked: 0, timedOut: 0, undelivered: 0, received: 0, duplicates: 0, refusedForeign: 0, refusedStale: 0 };
  address = '';

  constructor(options: FabricOptions) {
    this.#o = options;
  }

  async start(bindAddress: string): Promise<string> {
    this.address = await this.#o.transport.listen(bindAddress, (f) => this.#onFrame(f));
    return this.address;
  }

  onMessage(handler: FabricHandler): void {
    this.#handlers.push(handler);
  }

  /** Where to reach a peer (learned from its heartbeats). */
  setPeerAddress(node: NodeId, address: string): void {
    this.#addresses.set(node, address);
  }

  forgetPeer(node: NodeId): void {
    this.#addresses.delete(node);
  }

  /** Sends without acknowledgement (best effort). */
  post(to: NodeId, body: FabricPayload, kind: FabricMessageKind = 'control'): void {
    this.#transmit(to, this.#message(to, body, false, kind));
  }

  /** Sends and resolves on acknowledgement; rejects with TIMEOUT when the deadline passes. */
  send(to: NodeId, body: FabricPayload, options: SendOptions = {}): Promise<void> {
    if (this.#stopped) return Promise.reject(new DbError('TIMEOUT', 'fabric is stopped'));
    return new Promise<void>((resolve, reject) => this.#send(to, body, options, resolve, reject));
  }

  /**
   * Sends as `send` does (acknowledged, resent, given up at the deadline) when nobody waits for
   * the outcome (a reply: its caller times out without it): no promise. Counted as send's are.
   */
  deliver(to: NodeId, body: FabricPayload, options: SendOptions = {}): void {
    if (!this.#stopped) this.#send(to, body, options, undefined, undefined);
  }

  #send(to: NodeId, body: FabricPayload, options: SendOptions, resolve: Pending['resolve'], reject: Pending['reject']): void {
    const msg = this.#message(to, body, true, options.kind ?? 'control');
    const deadlineMs = options.deadlineMs ?? 1000;
    const p: Pending = {
      msg, to, sentAt: this.#o.clock.now(), deadlineMs, bytes: encodeFrame(msg).length,
      attempt: 0, maybeDelivered: false, unsure: 0, timer: undefined, resolve, reject,
    };
    this.#pending.set(msg.id, p);
    if (options.control !== undefined) options.control.giveUp = () => this.#fail(p, 'given up');
    this.#transmit(to, msg, p);
    this.#scheduleResend(p);
  }

  stop(): void {
    this.#stopped = true;
    if (this.#acksTimer !== undefined) this.#o.clock.clearTimeout(this.#acksTimer.handle);
    this.#acksTimer = undefined;
    for (const p of [...this.#pending.values()]) this.#fail(p, 'fabric stopped');
  }

  #message(to: NodeId, body: FabricPayload, needsAck: boolean, kind: FabricMessageKind): FabricMessage {
    const o = this.#o;
    const clusterKey = o.clusterKey?.() ?? 0n;
    const id = ++this.#seq;
    const acks = this.#takeAcks(to);
    return acks === undefined
      ? { t: 'msg', from: o.nodeId, clusterName: o.clusterName, clusterKey, inc: o.incarnation, id, needsAck, kind, body }
      : { t: 'msg', from: o.nodeId, clusterName: o.clusterName, clusterKey, inc: o.incarnation, id, needsAck, kind, body, acks };
  }

  /** The acks waiting for `to`, to ride on a message to it (when it can be sent: its address is known). */
  #takeAcks(to: NodeId): PiggybackedAcks | undefined {
    const batch = this.#acks.get(to);
    if (batch === undefined || batch.ids.length > MAX_ACKS_PER_FRAME || to === this.#o.nodeId || !this.#addresses.has(to)) return undefined;
    this.#acks.delete(to);
    if (this.#acks.size === 0 && this.#acksTimer?.soon === true) {
      // nothing left for the timer to send (a later one is let run: it stops when it finds nothing)
      this.#o.clock.clearTimeout(this.#acksTimer.handle);
      this.#acksTimer = undefined;
    }
    return batch;
  }

  /** Sends a frame; for a message awaiting its ack (`p`), notes whether this copy may reach the peer. */
  #transmit(to: NodeId, frame: Frame, p?: Pending): void {
    if (this.#stopped) return;
    if (to === this.#o.nodeId) {
      // to self: deliver through the clock so ordering stays deterministic
      if (p !== undefined) p.maybeDelivered = true;
      this.#o.clock.setTimeout(() => this.#onFrame(frame), 0);
      return;
    }
    const addr = this.#addresses.get(to);
    if (addr === undefined) return;
    this.stats.sent++;
    if (p === undefined) return this.#o.transport.send(addr, frame);
    p.unsure++;
    this.#o.transport.send(addr, frame, (maybeDelivered) => {
      p.unsure--;
      if (maybeDelivered) p.maybeDelivered = true;
    });
  }

  /**
   * Owes `to` an ack of message `id`: it rides on the next message to `to`, or leaves in an ack
   * frame by the next timer turn — `later`: once it has waited ACK_REPLY_LATER_MS.
   */
  #ack(to: NodeId, inc: number, id: number, later: boolean): void {
    let batch = this.#acks.get(to);
    if (batch !== undefined && batch.inc !== inc) {
      // the sender restarted: what its previous run is owed goes now
      this.#acks.delete(to);
      this.#sendAcks(to, batch.inc, batch.ids);
      batch = undefined;
    }
    if (batch === undefined) this.#acks.set(to, batch = { inc, ids: [], soon: false, since: this.#o.clock.now() });
    batch.ids.push(id);
    if (!later) {
      batch.soon = true;
      this.#owedSoon();
      return;
    }
    if (this.#acksTimer === undefined && !this.#acksLook) this.#armAcks(false, ACK_REPLY_LATER_MS);
  }

  /**
   * Acks are owed by the next timer turn. With a clock that defers, a timer is set at the end of
   * this turn only if no message took them by then (a request is mostly answered in the turn it
   * arrives in, and its answer carries the ack): no timer per request.
   */
  #owedSoon(): void {
    if (this.#acksTimer?.soon === true || this.#acksLook) return;
    const clock = this.#o.clock;
    if (clock.defer === undefined) return this.#armAcks(true, 0);
    this.#acksLook = true;
    clock.defer(this.#lookAtAcks);
  }

  #acksLookNow(): void {
    this.#acksLook = false;
    if (!this.#stopped) this.#scheduleAcks();
  }

  /** Sets the acks' timer for what is owed: at the next timer turn if some are owed soon, else when the oldest has waited its longest. */
  #scheduleAcks(): void {
    let soon = false;
    let oldest = Infinity;
    for (const b of this.#acks.values()) {
      if (b.soon) soon = true;
      if (b.since < oldest) oldest = b.since;
    }
    if (soon) {
      if (this.#acksTimer?.soon !== true) this.#armAcks(true, 0);
    } else if (oldest !== Infinity && this.#acksTimer === undefined) {
      this.#armAcks(false, Math.max(1, oldest + ACK_REPLY_LATER_MS - this.#o.clock.now()));
    }
  }

  #armAcks(soon: boolean, ms: number): void {
    if (this.#acksTimer !== undefined) this.#o.clock.clearTimeout(this.#acksTimer.handle);
    this.#acksTimer = { handle: this.#o.clock.setTimeout(this.#acksTimerFired, ms), soon };
  }

  /** Sends the acks that are due (all of them when the timer was `soon`), and sets the timer again for the rest. */
  #onAcksTimer(): void {
    const all = this.#acksTimer?.soon === true;
    this.#acksTimer = undefined;
    if (this.#stopped) return;
    const now = this.#o.clock.now();
    for (const [to, b] of [...this.#acks]) {
      if (!all && !b.soon && now - b.since < ACK_REPLY_LATER_MS) continue;
      this.#acks.delete(to);
      this.#sendAcks(to, b.inc, b.ids);
    }
    if (this.#acks.size > 0) this.#scheduleAcks();
  }

  #sendAcks(to: NodeId, inc: number, ids: readonly number[]): void {
    for (let i = 0; i < ids.length; i += MAX_ACKS_PER_FRAME) {
      const part = ids.slice(i, i + MAX_ACKS_PER_FRAME);
      const ack: FabricAck = part.length === 1
        ? { t: 'ack', from: this.#o.nodeId, inc, id: part[0] as number }
        : { t: 'ack', from: this.#o.nodeId, inc, id: part[0] as number, more: part.slice(1) };
      this.#transmit(to, ack);
    }
  }

  #scheduleResend(p: Pending): void {
    const now = this.#o.clock.now();
    const state = { attempt: p.attempt + 1, elapsedMs: now - p.sentAt, deadlineMs: p.deadlineMs, peer: p.to, kind: p.msg.kind, bytes: p.bytes };
    let delay: number | null;
    try {
      delay = this.#o.retransmit.nextDelayMs(state);
    } catch (e) {
      this.#o.logger.error({ err: (e as Error).message }, 'retransmit strategy failed; not resending');
      delay = null;
    }
    if (delay === null) {
      this.#fail(p, 'retransmit strategy gave up');
      return;
    }
    // one timer: the resend, or the deadline if it comes first
    const left = p.deadlineMs - (now - p.sentAt);
    const resend = delay < left;
    p.timer = this.#o.clock.setTimeout(() => {
      p.timer = undefined;
      if (!this.#pending.has(p.msg.id)) return;
      if (!resend || this.#o.clock.now() - p.sentAt >= p.deadlineMs) return this.#fail(p);
      p.attempt++;
      this.stats.resent++;
      this.#transmit(p.to, p.msg, p);
      this.#o.retransmit.onResend?.({ ...state, elapsedMs: this.#o.clock.now() - p.sentAt });
      this.#scheduleResend(p);
    }, Math.max(1, resend ? delay : left));
  }

  #fail(p: Pending, why = 'no acknowledgement'): void {
    if (!this.#pending.delete(p.msg.id)) return;
    if (p.timer !== undefined) this.#o.clock.clearTimeout(p.timer);
    const elapsed = Math.round(this.#o.clock.now() - p.sentAt);
    if (!p.maybeDelivered && p.unsure === 0) {
      // no copy ever left: the peer never gets this message (it is not sent again)
      this.stats.undelivered++;
      p.reject?.(new DbError('UNAVAILABLE', `fabric ${p.msg.body.type} to node ${hexId(p.to)} never sent: no connection to the node could be made in ${elapsed} ms (${why})`, {
        hint: 'The peer is down or unreachable; the cluster will re-form without it',
      }));
      return;
    }
    this.stats.timedOut++;
    p.reject?.(new DbError('TIMEOUT', `fabric ${p.msg.body.type} to node ${hexId(p.to)}: ${why} within ${elapsed} ms`, {
      hint: 'The peer may be down or unreachable; the cluster will re-form without it',
    }));
  }

  #onFrame(frame: Frame): void {
    if (this.#stopped) return;
    if (frame.t === 'ack') {
      if (frame.inc !== this.#o.incarnation) return;
      this.#acked(frame.from, frame.id, frame.refused);
      for (const id of frame.more ?? []) this.#acked(frame.from, id, frame.refused);
      return;
    }
    this.#onMessage(frame);
  }

  #acked(from: NodeId, id: number, refused: FabricAck['refused']): void {
    const p = this.#pending.get(id);
    if (p === undefined || p.to !== from) return;
    this.#pending.delete(id);
    if (p.timer !== undefined) this.#o.clock.clearTimeout(p.timer);
    if (refused !== undefined) {
      this.stats.timedOut++;
      // not delivered: the caller may safely send it again once the maps agree
      p.reject?.(new DbError('UNAVAILABLE', `node ${hexId(p.to)} refused ${p.msg.body.type}: it is in another cluster membership than this node`, {
        hint: 'The cluster is re-forming; retry in a moment',
      }));
      return;
    }
    this.stats.acked++;
    p.resolve?.();
  }

  /** What is remembered of a sender incarnation's messages (made when it is first heard), marked heard now. */
  #sender(from: NodeId, inc: number): SenderIds {
    let s = this.#latest.get(from);
    if (s === undefined || s.inc !== inc) {
      const key = `${from}:${inc}`;
      s = this.#seen.get(key);
      if (s === undefined) {
        if (this.#seen.size >= MAX_SENDERS) this.#forgetOldestSender();
        s = { node: from, inc, key, ids: new Set(), order: [], next: 0, refused: undefined, heard: 0 };
        this.#seen.set(key, s);
      }
      this.#latest.set(from, s);
    }
    s.heard = ++this.#heard;
    return s;
  }

  /** Forgets the sender incarnation heard longest ago (a scan: only when MAX_SENDERS are remembered). */
  #forgetOldestSender(): void {
    let oldest: SenderIds | undefined;
    for (const s of this.#seen.values()) if (oldest === undefined || s.heard < oldest.heard) oldest = s;
    if (oldest === undefined) return;
    this.#seen.delete(oldest.key);
    if (this.#latest.get(oldest.node) === oldest) this.#latest.delete(oldest.node);
  }

  #onMessage(frame: Frame): void {
    if (frame.t !== 'msg') return;
    if (frame.clusterName !== this.#o.clusterName) {
      this.stats.refusedForeign++;
      this.#o.logger.warn({ from: hexId(frame.from), clusterName: frame.clusterName }, 'refusing fabric message from another cluster');
      return;
    }
    // the acks riding on a message count as an ack frame would (whatever becomes of the message)
    if (frame.acks !== undefined && frame.acks.inc === this.#o.incarnation) {
      for (const id of frame.acks.ids) this.#acked(frame.from, id, undefined);
    }
    const seen = this.#sender(frame.from, frame.inc);
    const id = frame.id;
    const own = this.#o.clusterKey?.() ?? 0n;
    // Data-path messages must come from the same membership: a message addressed under another
    // map (a stale proxy, a replica write of an old master) is refused, and stays refused when
    // resent, so that the sender's view of whether it was delivered stays true.
    const stale = frame.kind !== 'control' && frame.body.type !== 'reply'
      && (seen.refused?.has(id) === true || (!seen.ids.has(id) && (own === 0n || frame.clusterKey !== own)));
    if (frame.needsAck) {
      if (stale) this.#transmit(frame.from, { t: 'ack', from: this.#o.nodeId, inc: frame.inc, id: frame.id, refused: 'stale-cluster-key' });
      else this.#ack(frame.from, frame.inc, frame.id, frame.body.type === 'reply');
    }
    if (stale) {
      this.stats.refusedStale++;
      const refused = seen.refused ??= new Set();
      if (!refused.has(id)) {
        refused.add(id);
        if (refused.size > DEDUP_WINDOW) refused.delete(refused.values().next().value as number);
      }
      return;
    }
    if (seen.ids.has(id)) {
      this.stats.duplicates++;
      return;
    }
    seen.ids.add(id);
    if (seen.order.length < DEDUP_WINDOW) {
      seen.order.push(id);
    } else {
      // the oldest id makes room
      seen.ids.delete(seen.order[seen.next] as number);
      seen.order[seen.next] = id;
      seen.next = (seen.next + 1) % DEDUP_WINDOW;
    }
    this.stats.received++;
    for (const h of this.#handlers) {
      try {
        h(frame.from, frame.body);
      } catch (e) {
        this.#o.logger.error({ err: (e as Error).message, type: frame.body.type }, 'fabric handler failed');
      }
    }
  }
}
