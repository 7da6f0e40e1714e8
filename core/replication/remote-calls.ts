/**
 * Request/reply between nodes over the fabric: the data path's one way of asking another node
 * to do something (run a proxied client request, apply a replica write, take a migration
 * batch) and hear the result. A request is a fabric message (acknowledged, resent under the
 * RetransmitStrategy, refused by a node of another cluster key); the answer is a reply message
 * correlated by request id. Bodies are opaque bytes: the caller's layer encodes them.
 *
 * Outcomes, and what the caller may conclude:
 * - resolved: the other node ran the request and answered;
 * - rejected with its DbError: it ran the request and it failed (or refused to run it);
 * - UNAVAILABLE: the request was not delivered, and will not be: the node refused it unrun
 *   (another membership), or no copy of it was ever written to a connection to the node (no
 *   connection could be made: it is down) by the deadline or by the time it left the cluster;
 *   safe to send again (elsewhere);
 * - TIMEOUT (in doubt): no answer by the deadline, or the node left the cluster before it
 *   answered (`departed`: failed at once then, not at the deadline), and the request may have
 *   reached it; it may or may not have run.
 */
import { DbError, type ResultCodeName } from '../errors/index.ts';
import { ResultCode } from '../errors/index.ts';
import type { Clock, FabricMessageKind, Logger, NodeId } from '../plugin-api/index.ts';
import type { Fabric } from '../cluster/fabric.ts';
import type { FabricPayload } from '../cluster/messages.ts';
import { hexId } from '../cluster/messages.ts';

const EMPTY = new Uint8Array(0);

/** A handler gets the request's bytes (a view into the frame: decode them, do not keep them) and answers bytes. */
export type RemoteHandler = (from: NodeId, body: Uint8Array) => Promise<Uint8Array>;

export interface RemoteCalls {
  readonly localNode: NodeId;
  /** Sends `body` to `node`'s handler for `kind` and resolves with its answer. */
  call(node: NodeId, kind: string, body: Uint8Array, options: { deadlineMs: number; fabricKind?: FabricMessageKind }): Promise<Uint8Array>;
  /** Serves requests of `kind` sent by other nodes. */
  serve(kind: string, handler: RemoteHandler): void;
}

interface Waiting {
  readonly node: NodeId;
  readonly kind: string;
  resolve(v: Uint8Array): void;
  reject(e: DbError): void;
  readonly deadlineMs: number;
  timer: ReturnType<Clock['setTimeout']>;
  /** Gives the request's fabric message up while it is unacknowledged (undefined once acknowledged). */
  sending: AbortController | undefined;
  /** Why it was given up: its node left the cluster, or its deadline passed. */
  gaveUp?: 'departed' | 'deadline';
}

export class FabricCalls implements RemoteCalls {
  readonly #fabric: Fabric;
  readonly #clock: Clock;
  readonly #logger: Logger;
  #rid: number;
  readonly #waiting = new Map<number, Waiting>();
  readonly #handlers = new Map<string, RemoteHandler>();
  readonly localNode: NodeId;
  /** `departed`: calls failed at once because their node left the cluster before it answered. */
  readonly stats = { calls: 0, answered: 0, failed: 0, timedOut: 0, notDelivered: 0, served: 0, departed: 0 };

  constructor(fabric: Fabric, nodeId: NodeId, clock: Clock, logger: Logger, random: () => number = Math.random) {
    this.#fabric = fabric;
    this.#clock = clock;
    this.#logger = logger;
    this.localNode = nodeId;
    // request ids start at a random point so that a restarted node's ids do not meet its old ones
    this.#rid = Math.floor(random() * 2 ** 30);
    fabric.onMessage((from, body) => this.#onMessage(from, body));
  }

  serve(kind: string, handler: RemoteHandler): void {
    if (this.#handlers.has(kind)) throw new Error(`remote call kind ${kind} is served twice`);
    this.#handlers.set(kind, handler);
  }

  call(node: NodeId, kind: string, body: Uint8Array, options: { deadlineMs: number; fabricKind?: FabricMessageKind }): Promise<Uint8Array> {
    const rid = ++this.#rid;
    this.stats.calls++;
    return new Promise<Uint8Array>((resolve, reject) => {
      const fail = (e: DbError): void => {
        const w = this.#waiting.get(rid);
        if (w === undefined) return;
        this.#waiting.delete(rid);
        this.#clock.clearTimeout(w.timer);
        if (e.code === 'UNAVAILABLE') this.stats.notDelivered++;
        else if (e.code === 'TIMEOUT') this.stats.timedOut++;
        else this.stats.failed++;
        reject(e);
      };
      const timer = this.#clock.setTimeout(() => this.#giveUp(rid, 'deadline'), options.deadlineMs);
      const sending = new AbortController();
      this.#waiting.set(rid, { node, kind, resolve, reject, deadlineMs: options.deadlineMs, timer, sending });
      const msg: FabricPayload = { type: 'request', rid, kind, body };
      this.#fabric.send(node, msg, { deadlineMs: options.deadlineMs, kind: options.fabricKind ?? 'proxy', signal: sending.signal }).then(() => {
        const w = this.#waiting.get(rid);
        if (w !== undefined) w.sending = undefined;
      }, (e: unknown) => {
        const err = e instanceof DbError ? e : new DbError('SERVER_ERROR', String(e));
        const why = this.#waiting.get(rid)?.gaveUp;
        if (err.code === 'UNAVAILABLE') {
          // refused unrun, or never written to a connection: the node did not get it and will not
          fail(why === undefined ? err : new DbError('UNAVAILABLE', why === 'departed'
            ? `node ${hexId(node)} left the cluster before ${kind} could be sent to it (no connection to it could be made); not run there`
            : `${kind} could not be sent to node ${hexId(node)} within ${options.deadlineMs} ms (no connection to it could be made); not run there`, {
            hint: 'Nothing was done; the request may be sent again (to the partition\'s new owner once the cluster re-forms)',
          }));
          return;
        }
        if (err.code !== 'TIMEOUT') return fail(err);
        if (why !== undefined) return this.#failInDoubt(rid);
        fail(new DbError('TIMEOUT', err.message, { ...(err.hint === undefined ? {} : { hint: err.hint }), inDoubt: true }));
      });
    });
  }

  /**
   * Gives a call up: its node left the cluster, or its deadline passed. While its request is not
   * acknowledged, the fabric gives the message up too and says whether any copy of it left (its
   * rejection then fails the call: UNAVAILABLE, never sent, or TIMEOUT in doubt); once it is
   * acknowledged, the request may have run: TIMEOUT in doubt.
   */
  #giveUp(rid: number, why: 'departed' | 'deadline'): void {
    const w = this.#waiting.get(rid);
    if (w === undefined) return;
    w.gaveUp = why;
    if (w.sending === undefined) return this.#failInDoubt(rid);
    w.sending.abort();
    // the fabric's rejection settles the call first; an acknowledgement that arrived in this same
    // turn (its handler not run yet) leaves the call waiting for an answer: in doubt then
    queueMicrotask(() => {
      if (this.#waiting.get(rid)?.sending === undefined) this.#failInDoubt(rid);
    });
  }

  #failInDoubt(rid: number): void {
    const w = this.#waiting.get(rid);
    if (w === undefined) return;
    this.#waiting.delete(rid);
    this.#clock.clearTimeout(w.timer);
    this.stats.timedOut++;
    w.reject(w.gaveUp === 'departed'
      ? new DbError('TIMEOUT', `node ${hexId(w.node)} left the cluster before it answered ${w.kind}`, {
        hint: 'The request may or may not have run there; the cluster re-formed without that node', inDoubt: true,
      })
      : new DbError('TIMEOUT', `node ${hexId(w.node)} did not answer ${w.kind} within ${w.deadlineMs} ms`, {
        hint: 'The node may be down or overloaded; the cluster re-forms without a dead node', inDoubt: true,
      }));
  }

  /**
   * The cluster re-formed with `members`: the calls waiting on any other node fail at once
   * instead of at their deadline (a dead node never answers; its partitions have new owners,
   * which the callers may ask instead: a replica write goes to the new map's replicas, a proxied
   * read to the new master) — UNAVAILABLE when the request never left this node (no connection
   * to the node could be made: a proxied write may then go to the new master too), else TIMEOUT
   * in doubt.
   */
  departed(members: ReadonlySet<NodeId>): void {
    for (const [rid, w] of [...this.#waiting]) {
      if (members.has(w.node) || w.gaveUp !== undefined) continue;
      this.stats.departed++;
      this.#giveUp(rid, 'departed');
    }
  }

  #onMessage(from: NodeId, body: FabricPayload): void {
    if (body.type === 'reply') {
      const w = this.#waiting.get(body.rid);
      if (w === undefined || w.node !== from) return;
      this.#waiting.delete(body.rid);
      this.#clock.clearTimeout(w.timer);
      if (body.ok) {
        this.stats.answered++;
        w.resolve(body.body);
      } else {
        this.stats.failed++;
        const code = (body.code !== undefined && body.code in ResultCode ? body.code : 'SERVER_ERROR') as ResultCodeName;
        w.reject(new DbError(code, body.message ?? 'the remote node failed', {
          ...(body.hint === undefined ? {} : { hint: body.hint }), ...(body.inDoubt === true ? { inDoubt: true } : {}),
          ...(body.resultCode === undefined ? {} : { resultCode: body.resultCode }),
        }));
      }
      return;
    }
    if (body.type !== 'request') return;
    const handler = this.#handlers.get(body.kind);
    const reply = (p: FabricPayload): void => {
      this.#fabric.send(from, p, { deadlineMs: 2000, kind: 'proxy' }).catch(() => { /* the caller times out, in doubt */ });
    };
    if (handler === undefined) {
      reply({ type: 'reply', rid: body.rid, ok: false, body: EMPTY, code: 'UNSUPPORTED_FEATURE', message: `node does not serve ${body.kind}`, hint: 'Run the same version on every node' });
      return;
    }
    this.stats.served++;
    handler(from, body.body).then(
      (out) => reply({ type: 'reply', rid: body.rid, ok: true, body: out }),
      (e: unknown) => {
        const err = e instanceof DbError ? e : new DbError('SERVER_ERROR', e instanceof Error ? e.message : String(e));
        if (!(e instanceof DbError)) this.#logger.error({ err: err.message, kind: body.kind }, 'remote call handler failed');
        reply({
          type: 'reply', rid: body.rid, ok: false, body: EMPTY, code: err.code, resultCode: err.resultCode, message: err.message,
          ...(err.hint === undefined ? {} : { hint: err.hint }), ...(err.inDoubt ? { inDoubt: true } : {}),
        });
      },
    );
  }
}
