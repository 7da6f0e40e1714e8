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
import { encodeFrame, hexId, MAX_ACKS_PER_FRAME, type FabricAck, type FabricMessage, type FabricPayload, type Frame, type PiggybackedAcks } from './messages.ts';
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
  resolve(): void;
  reject(e: DbError): void;
}

const DEDUP_WINDOW = 4096;
/**
 * How long the ack of a reply may wait for a message to ride on (ms). A reply's ack only stops
 * the reply's resends (due after the retransmit interval), and under load the next request to
 * that node leaves well within this: its own ack frame would cost both nodes a socket write, a
 * read and often a wake-up. Other messages' acks leave by the next timer turn.
 */
export const ACK_REPLY_LATER_MS = 20;
/** Senders (node, incarnation) whose message ids are remembered; the oldest is forgotten first. */
const MAX_SENDERS = 1024;

export type FabricHandler = (from: NodeId, body: FabricPayload) => void;

export class Fabric {
  readonly #o: FabricOptions;
  #seq = 0;
  #pending = new Map<number, Pending>();
  #addresses = new Map<NodeId, string>();
  #seen = new Map<string, { set: Set<number>; order: number[]; refused: Set<number> }>();
  #senderKeys = new Map<NodeId, { inc: number; key: string }>();
  #handlers: FabricHandler[] = [];
  #stopped = false;
  /** Acks to send by the next timer turn, per sender (of one incarnation: see #ack). */
  #acks = new Map<NodeId, { inc: number; ids: number[] }>();
  /** The timer that sends the acks no message took; `soon`: it fires at the next timer turn (else after ACK_REPLY_LATER_MS). */
  #acksTimer: { handle: TimerHandle; soon: boolean } | undefined;
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
    const msg = this.#message(to, body, true, options.kind ?? 'control');
    const deadlineMs = options.deadlineMs ?? 1000;
    return new Promise<void>((resolve, reject) => {
      const p: Pending = {
        msg, to, sentAt: this.#o.clock.now(), deadlineMs, bytes: encodeFrame(msg).length,
        attempt: 0, maybeDelivered: false, unsure: 0, timer: undefined, resolve, reject,
      };
      this.#pending.set(msg.id, p);
      if (options.control !== undefined) options.control.giveUp = () => this.#fail(p, 'given up');
      this.#transmit(to, msg, p);
      this.#scheduleResend(p);
    });
  }

  stop(): void {
    this.#stopped = true;
    if (this.#acksTimer !== undefined) this.#o.clock.clearTimeout(this.#acksTimer.handle);
    this.#acksTimer = undefined;
    for (const p of [...this.#pending.values()]) this.#fail(p, 'fabric stopped');
  }

  #message(to: NodeId, body: FabricPayload, needsAck: boolean, kind: FabricMessageKind): FabricMessage {
    const msg: FabricMessage = {
      t: 'msg', from: this.#o.nodeId, clusterName: this.#o.clusterName, clusterKey: this.#o.clusterKey?.() ?? 0n,
      inc: this.#o.incarnation, id: ++this.#seq, needsAck, kind, body,
    };
    const acks = this.#takeAcks(to);
    return acks === undefined ? msg : { ...msg, acks };
  }

  /** The acks waiting for `to`, to ride on a message to it (when it can be sent: its address is known). */
  #takeAcks(to: NodeId): PiggybackedAcks | undefined {
    const batch = this.#acks.get(to);
    if (batch === undefined || batch.ids.length > MAX_ACKS_PER_FRAME || to === this.#o.nodeId || !this.#addresses.has(to)) return undefined;
    this.#acks.delete(to);
    if (this.#acks.size === 0 && this.#acksTimer !== undefined) {
      // nothing left for the timer to send
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

  /** Owes `to` an ack of message `id`; `later`: it may wait ACK_REPLY_LATER_MS for a message to ride on. */
  #ack(to: NodeId, inc: number, id: number, later: boolean): void {
    let batch = this.#acks.get(to);
    if (batch !== undefined && batch.inc !== inc) {
      // the sender restarted: what its previous run is owed goes now
      this.#acks.delete(to);
      this.#sendAcks(to, batch.inc, batch.ids);
      batch = undefined;
    }
    if (batch === undefined) this.#acks.set(to, batch = { inc, ids: [] });
    batch.ids.push(id);
    const t = this.#acksTimer;
    if (t !== undefined && (t.soon || later)) return;
    if (t !== undefined) this.#o.clock.clearTimeout(t.handle);
    this.#acksTimer = { handle: this.#o.clock.setTimeout(() => this.#flushAcks(), later ? ACK_REPLY_LATER_MS : 0), soon: !later };
  }

  #flushAcks(): void {
    this.#acksTimer = undefined;
    const batches = [...this.#acks];
    this.#acks.clear();
    for (const [to, { inc, ids }] of batches) this.#sendAcks(to, inc, ids);
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
      p.reject(new DbError('UNAVAILABLE', `fabric ${p.msg.body.type} to node ${hexId(p.to)} never sent: no connection to the node could be made in ${elapsed} ms (${why})`, {
        hint: 'The peer is down or unreachable; the cluster will re-form without it',
      }));
      return;
    }
    this.stats.timedOut++;
    p.reject(new DbError('TIMEOUT', `fabric ${p.msg.body.type} to node ${hexId(p.to)}: ${why} within ${elapsed} ms`, {
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
      p.reject(new DbError('UNAVAILABLE', `node ${hexId(p.to)} refused ${p.msg.body.type}: it is in another cluster membership than this node`, {
        hint: 'The cluster is re-forming; retry in a moment',
      }));
      return;
    }
    this.stats.acked++;
    p.resolve();
  }

  /** The dedup key of a sender's incarnation, kept per node: a frame then costs no bigint-to-string conversion. */
  #senderKey(from: NodeId, inc: number): string {
    const known = this.#senderKeys.get(from);
    if (known !== undefined && known.inc === inc) return known.key;
    if (this.#senderKeys.size >= MAX_SENDERS) this.#senderKeys.clear();
    const key = `${from}:${inc}`;
    this.#senderKeys.set(from, { inc, key });
    return key;
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
    const key = this.#senderKey(frame.from, frame.inc);
    let seen = this.#seen.get(key);
    if (seen === undefined) {
      if (this.#seen.size >= MAX_SENDERS) this.#seen.delete(this.#seen.keys().next().value as string);
      seen = { set: new Set(), order: [], refused: new Set() };
      this.#seen.set(key, seen);
    } else {
      this.#seen.delete(key); // most recently heard last
      this.#seen.set(key, seen);
    }
    const own = this.#o.clusterKey?.() ?? 0n;
    // Data-path messages must come from the same membership: a message addressed under another
    // map (a stale proxy, a replica write of an old master) is refused, and stays refused when
    // resent, so that the sender's view of whether it was delivered stays true.
    const stale = frame.kind !== 'control' && frame.body.type !== 'reply' && (seen.refused.has(frame.id) || (!seen.set.has(frame.id) && (own === 0n || frame.clusterKey !== own)));
    if (frame.needsAck) {
      if (stale) this.#transmit(frame.from, { t: 'ack', from: this.#o.nodeId, inc: frame.inc, id: frame.id, refused: 'stale-cluster-key' });
      else this.#ack(frame.from, frame.inc, frame.id, frame.body.type === 'reply');
    }
    if (stale) {
      this.stats.refusedStale++;
      if (!seen.refused.has(frame.id)) {
        seen.refused.add(frame.id);
        if (seen.refused.size > DEDUP_WINDOW) seen.refused.delete(seen.refused.values().next().value as number);
      }
      return;
    }
    if (seen.set.has(frame.id)) {
      this.stats.duplicates++;
      return;
    }
    seen.set.add(frame.id);
    seen.order.push(frame.id);
    if (seen.order.length > DEDUP_WINDOW) seen.set.delete(seen.order.shift() as number);
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
