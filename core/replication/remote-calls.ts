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
 *
 * Calls made with `batch: true` in one turn of the event loop to the same node, of the same kind,
 * fabric kind and deadline, travel together: one request of kind `batch:<kind>` whose body holds
 * each call's body (encodeCallBatch), run on the other node call by call by the kind's handler
 * and answered by one reply holding each call's answer or error (encodeBatchReply). Each call
 * still gets its own outcome; what befalls the request (not delivered, no answer, the node left)
 * befalls every call in it alike. A call alone in its turn travels as an ordinary request.
 */
import { DbError, toDbError, type ResultCodeName } from '../errors/index.ts';
import { ResultCode } from '../errors/index.ts';
import type { Clock, FabricMessageKind, Logger, NodeId, TimerHandle } from '../plugin-api/index.ts';
import type { Fabric, SendControl } from '../cluster/fabric.ts';
import type { FabricPayload } from '../cluster/messages.ts';
import { hexId } from '../cluster/messages.ts';

const EMPTY = new Uint8Array(0);

/** The request kind of several calls of one kind sent together: `batch:<kind>`. */
export const BATCH_PREFIX = 'batch:';
/** Calls one batch carries at most (more in one turn start another). */
export const MAX_BATCH_CALLS = 1024;
/** Bytes of bodies one batch carries at most, unless a single call's body is larger (it then travels alone). */
export const MAX_BATCH_BYTES = 1024 * 1024;
/** Requests of batched calls to one node, of one kind, fabric kind and deadline, unanswered at once at most. */
export const MAX_REQUESTS_IN_FLIGHT = 1;
/** The longest batched calls wait for the requests before them to be answered (ms; at most a quarter of their deadline). */
export const MAX_HOLD_MS = 20;

export interface CallOptions {
  readonly deadlineMs: number;
  readonly fabricKind?: FabricMessageKind;
  /**
   * The call may travel with the other calls of this turn to the same node, of the same kind,
   * fabric kind and deadline, in one request answered by one reply (for many small calls, such as
   * replica writes). It leaves at the end of the turn.
   */
  readonly batch?: boolean;
}

/** What a reply says of a failed call: the fields of its DbError. */
interface ErrorFields {
  readonly code?: string | undefined;
  readonly resultCode?: number | undefined;
  readonly message?: string | undefined;
  readonly hint?: string | undefined;
  readonly inDoubt?: boolean | undefined;
}

function errorFields(e: unknown): { code: string; resultCode: number; message: string; hint?: string; inDoubt?: true } {
  const err = toDbError(e);
  return { code: err.code, resultCode: err.resultCode, message: err.message, ...(err.hint === undefined ? {} : { hint: err.hint }), ...(err.inDoubt ? { inDoubt: true as const } : {}) };
}

function errorOf(f: ErrorFields): DbError {
  const code = (f.code !== undefined && f.code in ResultCode ? f.code : 'SERVER_ERROR') as ResultCodeName;
  return new DbError(code, f.message ?? 'the remote node failed', {
    ...(f.hint === undefined ? {} : { hint: f.hint }), ...(f.inDoubt === true ? { inDoubt: true } : {}),
    ...(f.resultCode === undefined ? {} : { resultCode: f.resultCode }),
  });
}

const badBatch = (what: string, why: string): DbError => new DbError('SERVER_ERROR', `a ${what} from another node does not decode: ${why}`, { hint: 'run the same version on every node' });

/** Several calls' bodies as one request body: count u32 | (length u32 | bytes) per call. */
export function encodeCallBatch(bodies: readonly Uint8Array[]): Uint8Array {
  let size = 4;
  for (const b of bodies) size += 4 + b.length;
  const out = Buffer.allocUnsafe(size);
  out.writeUInt32BE(bodies.length, 0);
  let at = 4;
  for (const b of bodies) {
    out.writeUInt32BE(b.length, at);
    out.set(b, at + 4);
    at += 4 + b.length;
  }
  return out;
}

/** The inverse of encodeCallBatch; each body is a view into `bytes`. Throws a DbError on anything else. */
export function decodeCallBatch(bytes: Uint8Array): Uint8Array[] {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 4) throw badBatch('batch of calls', `${buf.length} bytes`);
  const count = buf.readUInt32BE(0);
  if (count === 0 || count > MAX_BATCH_CALLS) throw badBatch('batch of calls', `${count} calls`);
  const out: Uint8Array[] = [];
  let at = 4;
  for (let i = 0; i < count; i++) {
    if (at + 4 > buf.length) throw badBatch('batch of calls', `call ${i} of ${count} is cut off`);
    const n = buf.readUInt32BE(at);
    if (at + 4 + n > buf.length) throw badBatch('batch of calls', `call ${i} of ${count} is cut off`);
    out.push(buf.subarray(at + 4, at + 4 + n));
    at += 4 + n;
  }
  if (at !== buf.length) throw badBatch('batch of calls', `${buf.length - at} bytes after its ${count} calls`);
  return out;
}

/** One call's outcome in a batch's reply. */
export type BatchResult = { readonly ok: true; readonly body: Uint8Array } | { readonly ok: false; readonly error: DbError };

const OK = 0;
const FAILED = 1;

/**
 * The answers to a batch of calls as one reply body: count u32 | per call: status u8 (0 answered,
 * 1 failed) | length u32 | the answer, or the error's fields as UTF-8 JSON (code, resultCode,
 * message, hint, inDoubt).
 */
export function encodeBatchReply(results: readonly BatchResult[]): Uint8Array {
  const parts = results.map((r) => (r.ok ? r.body : Buffer.from(JSON.stringify(errorFields(r.error)), 'utf8')));
  let size = 4;
  for (const p of parts) size += 5 + p.length;
  const out = Buffer.allocUnsafe(size);
  out.writeUInt32BE(results.length, 0);
  let at = 4;
  results.forEach((r, i) => {
    const p = parts[i] as Uint8Array;
    out[at] = r.ok ? OK : FAILED;
    out.writeUInt32BE(p.length, at + 1);
    out.set(p, at + 5);
    at += 5 + p.length;
  });
  return out;
}

/** The inverse of encodeBatchReply, for a batch of `count` calls. Throws a DbError on anything else. */
export function decodeBatchReply(bytes: Uint8Array, count: number): BatchResult[] {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 4 || buf.readUInt32BE(0) !== count) throw badBatch('reply to a batch of calls', `not ${count} answers`);
  const out: BatchResult[] = [];
  let at = 4;
  for (let i = 0; i < count; i++) {
    if (at + 5 > buf.length) throw badBatch('reply to a batch of calls', `answer ${i} of ${count} is cut off`);
    const status = buf[at];
    const n = buf.readUInt32BE(at + 1);
    if (at + 5 + n > buf.length) throw badBatch('reply to a batch of calls', `answer ${i} of ${count} is cut off`);
    const part = buf.subarray(at + 5, at + 5 + n);
    at += 5 + n;
    if (status === OK) {
      out.push({ ok: true, body: part });
      continue;
    }
    if (status !== FAILED) throw badBatch('reply to a batch of calls', `status ${status}`);
    let f: unknown;
    try {
      f = JSON.parse(part.toString('utf8'));
    } catch {
      throw badBatch('reply to a batch of calls', `error ${i} is not JSON`);
    }
    if (f === null || typeof f !== 'object' || Array.isArray(f)) throw badBatch('reply to a batch of calls', `error ${i} is not an object`);
    const o = f as Record<string, unknown>;
    const text = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
    out.push({ ok: false, error: errorOf({
      code: text(o['code']), message: text(o['message']), hint: text(o['hint']),
      resultCode: Number.isSafeInteger(o['resultCode']) ? o['resultCode'] as number : undefined, inDoubt: o['inDoubt'] === true,
    }) });
  }
  if (at !== buf.length) throw badBatch('reply to a batch of calls', `${buf.length - at} bytes after its ${count} answers`);
  return out;
}

/** Calls gathered to be sent together in one request. */
interface Batch {
  readonly calls: Array<{ readonly body: Uint8Array; resolve(v: Uint8Array): void; reject(e: DbError): void }>;
  bytes: number;
  /** When its first call was made (clock ms): the request's deadline counts from then. */
  readonly since: number;
}

/**
 * The batched calls to one node, of one kind, fabric kind and deadline: at most
 * MAX_REQUESTS_IN_FLIGHT of its requests are unanswered at once; the calls made meanwhile gather
 * in `next`, which leaves when a request is answered (or fails), when it is full, or when it has
 * waited `holdMs`.
 */
interface Lane {
  readonly node: NodeId;
  readonly kind: string;
  readonly fabricKind: FabricMessageKind;
  readonly deadlineMs: number;
  /** Requests of this lane sent and not settled yet. */
  inFlight: number;
  next: Batch | undefined;
  /** Fires when `next` has waited its longest for the requests before it. */
  hold: TimerHandle | undefined;
  /** `next` leaves at the end of this turn. */
  due: boolean;
}

/** A handler gets the request's bytes (a view into the frame: decode them, do not keep them) and answers bytes. */
export type RemoteHandler = (from: NodeId, body: Uint8Array) => Promise<Uint8Array>;

export interface RemoteCalls {
  readonly localNode: NodeId;
  /** Sends `body` to `node`'s handler for `kind` and resolves with its answer. */
  call(node: NodeId, kind: string, body: Uint8Array, options: CallOptions): Promise<Uint8Array>;
  /** Serves requests of `kind` sent by other nodes (alone or in batches). */
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
  sending: SendControl | undefined;
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
  /** Batched calls by node, kind, fabric kind and deadline (a lane lives while it has calls). */
  readonly #lanes: Lane[] = [];
  /** Lanes whose next batch leaves at the end of this turn. */
  #due: Lane[] = [];
  /**
   * `departed`: calls failed at once because their node left the cluster before it answered.
   * `batches`: requests that carried several calls (`batched` calls in all); a batch counts as one call elsewhere.
   * `held`: requests of batched calls that waited for an earlier request to the node to be answered
   * (`heldTooLong` of them left before it was, at their longest wait).
   */
  readonly stats = { calls: 0, answered: 0, failed: 0, timedOut: 0, notDelivered: 0, served: 0, departed: 0, batches: 0, batched: 0, held: 0, heldTooLong: 0 };

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

  call(node: NodeId, kind: string, body: Uint8Array, options: CallOptions): Promise<Uint8Array> {
    if (options.batch === true) return this.#join(node, kind, body, options.deadlineMs, options.fabricKind ?? 'proxy');
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
      const sending: SendControl = {};
      this.#waiting.set(rid, { node, kind, resolve, reject, deadlineMs: options.deadlineMs, timer, sending });
      const msg: FabricPayload = { type: 'request', rid, kind, body };
      this.#fabric.send(node, msg, { deadlineMs: options.deadlineMs, kind: options.fabricKind ?? 'proxy', control: sending }).then(() => {
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
   * Adds a call to its lane's next batch. The batch leaves at the end of the turn when fewer than
   * MAX_REQUESTS_IN_FLIGHT requests of the lane are unanswered, else once one is answered (or
   * fails), or after the lane's hold time; a full batch leaves at once.
   */
  #join(node: NodeId, kind: string, body: Uint8Array, deadlineMs: number, fabricKind: FabricMessageKind): Promise<Uint8Array> {
    return new Promise<Uint8Array>((resolve, reject) => {
      let lane = this.#lanes.find((x) => x.node === node && x.kind === kind && x.fabricKind === fabricKind && x.deadlineMs === deadlineMs);
      if (lane === undefined) {
        lane = { node, kind, fabricKind, deadlineMs, inFlight: 0, next: undefined, hold: undefined, due: false };
        this.#lanes.push(lane);
      }
      let b = lane.next;
      if (b !== undefined && (b.calls.length >= MAX_BATCH_CALLS || b.bytes + body.length > MAX_BATCH_BYTES)) {
        // full: it leaves now, and this call starts the next one
        this.#sendNext(lane);
        b = undefined;
      }
      if (b === undefined) {
        b = lane.next = { calls: [], bytes: 0, since: this.#clock.now() };
        if (lane.inFlight < MAX_REQUESTS_IN_FLIGHT) {
          this.#markDue(lane);
        } else {
          this.stats.held++;
          this.#holdNext(lane);
        }
      }
      b.calls.push({ body, resolve, reject });
      b.bytes += body.length;
    });
  }

  /** The lane's next batch leaves at the end of this turn. */
  #markDue(lane: Lane): void {
    if (lane.due) return;
    lane.due = true;
    if (lane.hold !== undefined) {
      this.#clock.clearTimeout(lane.hold);
      lane.hold = undefined;
    }
    this.#due.push(lane);
    if (this.#due.length === 1) this.#defer(() => this.#flush());
  }

  /** The lane's next batch waits for an answer, at most its hold time. */
  #holdNext(lane: Lane): void {
    if (lane.hold !== undefined) return;
    lane.hold = this.#clock.setTimeout(() => {
      lane.hold = undefined;
      if (lane.next === undefined) return;
      this.stats.heldTooLong++;
      this.#markDue(lane);
    }, Math.max(1, Math.min(MAX_HOLD_MS, Math.floor(lane.deadlineMs / 4))));
  }

  #defer(fn: () => void): void {
    if (this.#clock.defer !== undefined) this.#clock.defer(fn);
    else this.#clock.setTimeout(fn, 0);
  }

  #flush(): void {
    const due = this.#due;
    this.#due = [];
    for (const lane of due) {
      lane.due = false;
      this.#sendNext(lane);
      this.#dropIdle(lane);
    }
  }

  /** Forgets a lane with no calls waiting or unanswered. */
  #dropIdle(lane: Lane): void {
    if (lane.inFlight !== 0 || lane.next !== undefined || lane.due) return;
    const i = this.#lanes.indexOf(lane);
    if (i >= 0) this.#lanes.splice(i, 1);
  }

  /** Sends the lane's next batch (if any), its deadline counted from its first call. */
  #sendNext(lane: Lane): void {
    const b = lane.next;
    if (b === undefined) return;
    lane.next = undefined;
    if (lane.hold !== undefined) {
      // a full batch leaving early
      this.#clock.clearTimeout(lane.hold);
      lane.hold = undefined;
    }
    lane.inFlight++;
    const waited = this.#clock.now() - b.since;
    this.#send(lane, b, Math.max(1, lane.deadlineMs - waited), () => {
      lane.inFlight--;
      if (lane.next !== undefined && lane.inFlight < MAX_REQUESTS_IN_FLIGHT) this.#markDue(lane);
      this.#dropIdle(lane);
    });
  }

  /** Sends a batch: a call alone as itself, several as one request whose reply answers each; `settled` runs first when it settles. */
  #send(lane: Lane, b: Batch, deadlineMs: number, settled: () => void): void {
    const options = { deadlineMs, fabricKind: lane.fabricKind };
    const only = b.calls.length === 1 ? b.calls[0] : undefined;
    if (only !== undefined) {
      this.call(lane.node, lane.kind, only.body, options).then((v) => {
        settled();
        only.resolve(v);
      }, (e: DbError) => {
        settled();
        only.reject(e);
      });
      return;
    }
    this.stats.batches++;
    this.stats.batched += b.calls.length;
    this.call(lane.node, BATCH_PREFIX + lane.kind, encodeCallBatch(b.calls.map((c) => c.body)), options).then((out) => {
      settled();
      let results: BatchResult[];
      try {
        results = decodeBatchReply(out, b.calls.length);
      } catch (e) {
        // the node ran the calls (or some): what became of each is not known
        const err = e as DbError;
        for (const c of b.calls) c.reject(new DbError('SERVER_ERROR', err.message, { ...(err.hint === undefined ? {} : { hint: err.hint }), inDoubt: true }));
        return;
      }
      results.forEach((r, i) => {
        const c = b.calls[i] as Batch['calls'][number];
        if (r.ok) c.resolve(r.body);
        else c.reject(r.error);
      });
    }, (e: DbError) => {
      settled();
      for (const c of b.calls) c.reject(e);
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
    w.sending.giveUp?.();
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
    for (const lane of [...this.#lanes]) {
      const b = lane.next;
      if (members.has(lane.node) || b === undefined) continue;
      // calls still waiting to leave were never sent: safe to send elsewhere
      lane.next = undefined;
      if (lane.hold !== undefined) this.#clock.clearTimeout(lane.hold);
      lane.hold = undefined;
      this.#dropIdle(lane);
      this.stats.departed += b.calls.length;
      this.stats.notDelivered += b.calls.length;
      const err = new DbError('UNAVAILABLE', `node ${hexId(lane.node)} left the cluster before ${lane.kind} could be sent to it; not run there`, {
        hint: 'Nothing was done; the request may be sent again (to the partition\'s new owner once the cluster re-forms)',
      });
      for (const c of b.calls) c.reject(err);
    }
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
        w.reject(errorOf(body));
      }
      return;
    }
    if (body.type !== 'request') return;
    const batch = body.kind.startsWith(BATCH_PREFIX);
    const kind = batch ? body.kind.slice(BATCH_PREFIX.length) : body.kind;
    const handler = this.#handlers.get(kind);
    const reply = (p: FabricPayload): void => {
      this.#fabric.send(from, p, { deadlineMs: 2000, kind: 'proxy' }).catch(() => { /* the caller times out, in doubt */ });
    };
    const failed = (e: unknown): void => reply({ type: 'reply', rid: body.rid, ok: false, body: EMPTY, ...errorFields(e) });
    if (handler === undefined) {
      failed(new DbError('UNSUPPORTED_FEATURE', `node does not serve ${body.kind}`, { hint: 'Run the same version on every node' }));
      return;
    }
    const logged = (e: unknown): void => {
      if (!(e instanceof DbError)) this.#logger.error({ err: e instanceof Error ? e.message : String(e), kind }, 'remote call handler failed');
    };
    /** Runs the handler on one call's bytes and gives its outcome to `done` (a throw counts as a failure). */
    const run = (bytes: Uint8Array, ok: (out: Uint8Array) => void, fail: (e: unknown) => void): void => {
      let out: Promise<Uint8Array>;
      try {
        out = handler(from, bytes);
      } catch (e) {
        logged(e);
        fail(e);
        return;
      }
      out.then(ok, (e: unknown) => {
        logged(e);
        fail(e);
      });
    };
    if (!batch) {
      this.stats.served++;
      run(body.body, (out) => reply({ type: 'reply', rid: body.rid, ok: true, body: out }), failed);
      return;
    }
    let parts: Uint8Array[];
    try {
      parts = decodeCallBatch(body.body);
    } catch (e) {
      failed(e);
      return;
    }
    this.stats.served += parts.length;
    // each call runs as it would alone; the reply waits for them all
    const results = new Array<BatchResult>(parts.length);
    let left = parts.length;
    const settle = (i: number, r: BatchResult): void => {
      results[i] = r;
      if (--left > 0) return;
      let out: Uint8Array;
      try {
        out = encodeBatchReply(results);
      } catch (e) {
        failed(e);
        return;
      }
      reply({ type: 'reply', rid: body.rid, ok: true, body: out });
    };
    parts.forEach((p, i) => run(p, (v) => settle(i, { ok: true, body: v }), (e) => settle(i, { ok: false, error: toDbError(e) })));
  }
}
