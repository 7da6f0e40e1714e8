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

const EMPTY: Uint8Array = Buffer.alloc(0);

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
/** Writes `v` as a big-endian u32 at `out[at]`. */
function putU32(out: Uint8Array, at: number, v: number): void {
  out[at] = v >>> 24;
  out[at + 1] = (v >>> 16) & 0xff;
  out[at + 2] = (v >>> 8) & 0xff;
  out[at + 3] = v & 0xff;
}

/** The big-endian u32 at `b[at]` (the caller checked that 4 bytes are there). */
function getU32(b: Uint8Array, at: number): number {
  return ((b[at] as number) * 0x1000000) + (((b[at + 1] as number) << 16) | ((b[at + 2] as number) << 8) | (b[at + 3] as number));
}

/** Several calls' bodies as one request body: count u32 | (length u32 | bytes) per call. */
export function encodeCallBatch(bodies: readonly Uint8Array[]): Uint8Array {
  let size = 4;
  for (let i = 0; i < bodies.length; i++) size += 4 + (bodies[i] as Uint8Array).length;
  const out = Buffer.allocUnsafe(size);
  putU32(out, 0, bodies.length);
  let at = 4;
  for (let i = 0; i < bodies.length; i++) {
    const b = bodies[i] as Uint8Array;
    putU32(out, at, b.length);
    out.set(b, at + 4);
    at += 4 + b.length;
  }
  return out;
}

/** The inverse of encodeCallBatch; each body is a view into `bytes`. Throws a DbError on anything else. */
export function decodeCallBatch(bytes: Uint8Array): Uint8Array[] {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const length = buf.length;
  if (length < 4) throw badBatch('batch of calls', `${length} bytes`);
  const count = getU32(buf, 0);
  if (count === 0 || count > MAX_BATCH_CALLS) throw badBatch('batch of calls', `${count} calls`);
  const out = new Array<Uint8Array>(count);
  let at = 4;
  for (let i = 0; i < count; i++) {
    if (at + 4 > length) throw badBatch('batch of calls', `call ${i} of ${count} is cut off`);
    const n = getU32(buf, at);
    if (at + 4 + n > length) throw badBatch('batch of calls', `call ${i} of ${count} is cut off`);
    out[i] = buf.subarray(at + 4, at + 4 + n);
    at += 4 + n;
  }
  if (at !== length) throw badBatch('batch of calls', `${length - at} bytes after its ${count} calls`);
  return out;
}

/** One call's outcome in a batch's reply. */
export type BatchResult = { readonly ok: true; readonly body: Uint8Array } | { readonly ok: false; readonly error: DbError };

/** One call's outcome as a batch is served and answered: its answer, or its error. */
type Answer = Uint8Array | DbError;

const OK = 0;
const FAILED = 1;

/**
 * The answers to a batch of calls as one reply body: count u32 | per call: status u8 (0 answered,
 * 1 failed) | length u32 | the answer, or the error's fields as UTF-8 JSON (code, resultCode,
 * message, hint, inDoubt).
 */
export function encodeBatchReply(results: readonly BatchResult[]): Uint8Array {
  return encodeAnswers(results.map((r) => (r.ok ? r.body : r.error)));
}

function encodeAnswers(answers: readonly Answer[]): Uint8Array {
  let size = 4 + 5 * answers.length;
  let errors: Uint8Array[] | undefined;
  for (let i = 0; i < answers.length; i++) {
    const a = answers[i] as Answer;
    if (!(a instanceof DbError)) {
      size += a.length;
      continue;
    }
    errors ??= new Array<Uint8Array>(answers.length);
    const json = Buffer.from(JSON.stringify(errorFields(a)), 'utf8');
    errors[i] = json;
    size += json.length;
  }
  const out = Buffer.allocUnsafe(size);
  putU32(out, 0, answers.length);
  let at = 4;
  for (let i = 0; i < answers.length; i++) {
    const a = answers[i] as Answer;
    const failed = a instanceof DbError;
    const p = failed ? (errors as Uint8Array[])[i] as Uint8Array : a;
    out[at] = failed ? FAILED : OK;
    putU32(out, at + 1, p.length);
    out.set(p, at + 5);
    at += 5 + p.length;
  }
  return out;
}

/** The inverse of encodeBatchReply, for a batch of `count` calls. Throws a DbError on anything else. */
export function decodeBatchReply(bytes: Uint8Array, count: number): BatchResult[] {
  return decodeAnswers(bytes, count).map((a) => (a instanceof DbError ? { ok: false, error: a } : { ok: true, body: a }));
}

/** The answers of a batch reply of `count` calls, each a view into `bytes` (or its error). Throws a DbError on anything else. */
function decodeAnswers(bytes: Uint8Array, count: number): Answer[] {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const length = buf.length;
  if (length < 4 || getU32(buf, 0) !== count) throw badBatch('reply to a batch of calls', `not ${count} answers`);
  const out = new Array<Answer>(count);
  let at = 4;
  for (let i = 0; i < count; i++) {
    if (at + 5 > length) throw badBatch('reply to a batch of calls', `answer ${i} of ${count} is cut off`);
    const status = buf[at];
    const n = getU32(buf, at + 1);
    if (at + 5 + n > length) throw badBatch('reply to a batch of calls', `answer ${i} of ${count} is cut off`);
    const from = at + 5;
    at += 5 + n;
    if (status === OK) {
      out[i] = n === 0 ? EMPTY : buf.subarray(from, at);
      continue;
    }
    if (status !== FAILED) throw badBatch('reply to a batch of calls', `status ${status}`);
    let f: unknown;
    try {
      f = JSON.parse(buf.toString('utf8', from, at));
    } catch {
      throw badBatch('reply to a batch of calls', `error ${i} is not JSON`);
    }
    if (f === null || typeof f !== 'object' || Array.isArray(f)) throw badBatch('reply to a batch of calls', `error ${i} is not an object`);
    const o = f as Record<string, unknown>;
    const text = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
    out[i] = errorOf({
      code: text(o['code']), message: text(o['message']), hint: text(o['hint']),
      resultCode: Number.isSafeInteger(o['resultCode']) ? o['resultCode'] as number : undefined, inDoubt: o['inDoubt'] === true,
    });
  }
  if (at !== length) throw badBatch('reply to a batch of calls', `${length - at} bytes after its ${count} answers`);
  return out;
}

/**
 * How a call made with `callThen` settles, once and never before `callThen` returns: with its
 * DbError (the answer then empty), or with the answer (error undefined).
 */
export type CallDone = (error: DbError | undefined, answer: Uint8Array) => void;

/** Calls gathered to be sent together in one request: their bodies, and whom to tell of each one's outcome. */
interface Batch {
  readonly bodies: Uint8Array[];
  readonly dones: CallDone[];
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
  /**
   * The same as `call`, with the outcome given to `done` instead of a promise (no promise per call:
   * for callers that make many, such as replica writes). `done` is called once, never before
   * callThen returns.
   */
  callThen(node: NodeId, kind: string, body: Uint8Array, options: CallOptions, done: CallDone): void;
  /** Serves requests of `kind` sent by other nodes (alone or in batches). */
  serve(kind: string, handler: RemoteHandler): void;
}

/** A request sent and not answered yet; its fabric message's control (the fabric fills in `giveUp`). */
interface Waiting extends SendControl {
  readonly node: NodeId;
  readonly kind: string;
  /** Told of the request's outcome. */
  readonly done: CallDone;
  readonly deadlineMs: number;
  readonly timer: TimerHandle;
  /** The request's fabric message was acknowledged (giving it up does nothing then). */
  acknowledged: boolean;
  /** Why it was given up: its node left the cluster, or its deadline passed. */
  gaveUp?: 'departed' | 'deadline';
}

/** How a node answers a request (the reply's ack may wait for a message to ride on). */
const REPLY_OPTIONS = { deadlineMs: 2000, kind: 'proxy' } as const;

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
  readonly #flushDue = (): void => this.#flush();
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
    return new Promise<Uint8Array>((resolve, reject) => {
      this.callThen(node, kind, body, options, (e, answer) => (e === undefined ? resolve(answer) : reject(e)));
    });
  }

  callThen(node: NodeId, kind: string, body: Uint8Array, options: CallOptions, done: CallDone): void {
    const fabricKind = options.fabricKind ?? 'proxy';
    if (options.batch === true) this.#join(node, kind, body, options.deadlineMs, fabricKind, done);
    else this.#request(node, kind, body, options.deadlineMs, fabricKind, done);
  }

  /** Tells `done` of a call's outcome; a callback that throws is logged and does not keep the others of its batch from being told. */
  #tell(done: CallDone, e: DbError | undefined, answer: Uint8Array): void {
    try {
      done(e, answer);
    } catch (err) {
      this.#logger.error({ err: err instanceof Error ? err.message : String(err) }, 'a remote call\'s callback failed');
    }
  }

  /** Sends one request; `done` hears its answer or why it failed. */
  #request(node: NodeId, kind: string, body: Uint8Array, deadlineMs: number, fabricKind: FabricMessageKind, done: CallDone): void {
    const rid = ++this.#rid;
    this.stats.calls++;
    const w: Waiting = { node, kind, done, deadlineMs, timer: this.#clock.setTimeout(() => this.#giveUp(rid, 'deadline'), deadlineMs), acknowledged: false };
    this.#waiting.set(rid, w);
    this.#fabric.send(node, { type: 'request', rid, kind, body }, { deadlineMs, kind: fabricKind, control: w }).then(() => {
      w.acknowledged = true;
    }, (e: unknown) => this.#notAcknowledged(rid, w, e));
  }

  /** The request's fabric message failed unacknowledged (or was refused). */
  #notAcknowledged(rid: number, w: Waiting, e: unknown): void {
    if (this.#waiting.get(rid) !== w) return;
    const err = e instanceof DbError ? e : new DbError('SERVER_ERROR', String(e));
    const why = w.gaveUp;
    if (err.code === 'UNAVAILABLE') {
      // refused unrun, or never written to a connection: the node did not get it and will not
      this.#fail(rid, w, why === undefined ? err : new DbError('UNAVAILABLE', why === 'departed'
        ? `node ${hexId(w.node)} left the cluster before ${w.kind} could be sent to it (no connection to it could be made); not run there`
        : `${w.kind} could not be sent to node ${hexId(w.node)} within ${w.deadlineMs} ms (no connection to it could be made); not run there`, {
        hint: 'Nothing was done; the request may be sent again (to the partition\'s new owner once the cluster re-forms)',
      }));
      return;
    }
    if (err.code !== 'TIMEOUT') return this.#fail(rid, w, err);
    if (why !== undefined) return this.#failInDoubt(rid);
    this.#fail(rid, w, new DbError('TIMEOUT', err.message, { ...(err.hint === undefined ? {} : { hint: err.hint }), inDoubt: true }));
  }

  #fail(rid: number, w: Waiting, e: DbError): void {
    this.#waiting.delete(rid);
    this.#clock.clearTimeout(w.timer);
    if (e.code === 'UNAVAILABLE') this.stats.notDelivered++;
    else if (e.code === 'TIMEOUT') this.stats.timedOut++;
    else this.stats.failed++;
    this.#tell(w.done, e, EMPTY);
  }

  /** The lane of batched calls to `node` of `kind`, `fabricKind` and `deadlineMs` (made when there is none). */
  #lane(node: NodeId, kind: string, fabricKind: FabricMessageKind, deadlineMs: number): Lane {
    const lanes = this.#lanes;
    for (let i = 0; i < lanes.length; i++) {
      const x = lanes[i] as Lane;
      if (x.node === node && x.kind === kind && x.fabricKind === fabricKind && x.deadlineMs === deadlineMs) return x;
    }
    const lane: Lane = { node, kind, fabricKind, deadlineMs, inFlight: 0, next: undefined, hold: undefined, due: false };
    lanes.push(lane);
    return lane;
  }

  /**
   * Adds a call to its lane's next batch. The batch leaves at the end of the turn when fewer than
   * MAX_REQUESTS_IN_FLIGHT requests of the lane are unanswered, else once one is answered (or
   * fails), or after the lane's hold time; a full batch leaves at once.
   */
  #join(node: NodeId, kind: string, body: Uint8Array, deadlineMs: number, fabricKind: FabricMessageKind, done: CallDone): void {
    const lane = this.#lane(node, kind, fabricKind, deadlineMs);
    let b = lane.next;
    if (b !== undefined && (b.bodies.length >= MAX_BATCH_CALLS || b.bytes + body.length > MAX_BATCH_BYTES)) {
      // full: it leaves now, and this call starts the next one
      this.#sendNext(lane);
      b = undefined;
    }
    if (b === undefined) {
      b = lane.next = { bodies: [], dones: [], bytes: 0, since: this.#clock.now() };
      if (lane.inFlight < MAX_REQUESTS_IN_FLIGHT) {
        this.#markDue(lane);
      } else {
        this.stats.held++;
        this.#holdNext(lane);
      }
    }
    b.bodies.push(body);
    b.dones.push(done);
    b.bytes += body.length;
  }

  /** Stops the lane's hold timer, if it runs. */
  #clearHold(lane: Lane): void {
    if (lane.hold === undefined) return;
    this.#clock.clearTimeout(lane.hold);
    lane.hold = undefined;
  }

  /** The lane's next batch leaves at the end of this turn. */
  #markDue(lane: Lane): void {
    if (lane.due) return;
    lane.due = true;
    this.#clearHold(lane);
    this.#due.push(lane);
    if (this.#due.length === 1) this.#defer(this.#flushDue);
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

  /**
   * Sends the lane's next batch (if any), its deadline counted from its first call: a call alone
   * as itself, several as one request whose reply answers each. The lane hears first when it settles.
   */
  #sendNext(lane: Lane): void {
    const b = lane.next;
    if (b === undefined) return;
    lane.next = undefined;
    // a full batch leaving early
    this.#clearHold(lane);
    lane.inFlight++;
    const deadlineMs = Math.max(1, lane.deadlineMs - (this.#clock.now() - b.since));
    if (b.bodies.length === 1) {
      const done = b.dones[0] as CallDone;
      this.#request(lane.node, lane.kind, b.bodies[0] as Uint8Array, deadlineMs, lane.fabricKind, (e, answer) => {
        this.#laneSettled(lane);
        done(e, answer);
      });
      return;
    }
    this.stats.batches++;
    this.stats.batched += b.bodies.length;
    this.#request(lane.node, BATCH_PREFIX + lane.kind, encodeCallBatch(b.bodies), deadlineMs, lane.fabricKind, (e, out) => {
      this.#laneSettled(lane);
      this.#answerBatch(b.dones, e, out);
    });
  }

  /** A request of the lane settled: its next batch may leave. */
  #laneSettled(lane: Lane): void {
    lane.inFlight--;
    if (lane.next !== undefined && lane.inFlight < MAX_REQUESTS_IN_FLIGHT) this.#markDue(lane);
    this.#dropIdle(lane);
  }

  /** Tells each call of a batch its answer from the reply `out`, or the request's failure `e`. */
  #answerBatch(dones: readonly CallDone[], e: DbError | undefined, out: Uint8Array): void {
    if (e !== undefined) {
      for (const done of dones) this.#tell(done, e, EMPTY);
      return;
    }
    let answers: Answer[];
    try {
      answers = decodeAnswers(out, dones.length);
    } catch (err) {
      // the node ran the calls (or some): what became of each is not known
      const d = err as DbError;
      for (const done of dones) this.#tell(done, new DbError('SERVER_ERROR', d.message, { ...(d.hint === undefined ? {} : { hint: d.hint }), inDoubt: true }), EMPTY);
      return;
    }
    for (let i = 0; i < dones.length; i++) {
      const a = answers[i] as Answer;
      if (a instanceof DbError) this.#tell(dones[i] as CallDone, a, EMPTY);
      else this.#tell(dones[i] as CallDone, undefined, a);
    }
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
    if (w.acknowledged) return this.#failInDoubt(rid);
    w.giveUp?.();
    // the fabric's rejection settles the call first; an acknowledgement that arrived in this same
    // turn (its handler not run yet) leaves the call waiting for an answer: in doubt then
    queueMicrotask(() => {
      if (this.#waiting.get(rid)?.acknowledged !== false) this.#failInDoubt(rid);
    });
  }

  #failInDoubt(rid: number): void {
    const w = this.#waiting.get(rid);
    if (w === undefined) return;
    this.#waiting.delete(rid);
    this.#clock.clearTimeout(w.timer);
    this.stats.timedOut++;
    this.#tell(w.done, w.gaveUp === 'departed'
      ? new DbError('TIMEOUT', `node ${hexId(w.node)} left the cluster before it answered ${w.kind}`, {
        hint: 'The request may or may not have run there; the cluster re-formed without that node', inDoubt: true,
      })
      : new DbError('TIMEOUT', `node ${hexId(w.node)} did not answer ${w.kind} within ${w.deadlineMs} ms`, {
        hint: 'The node may be down or overloaded; the cluster re-forms without a dead node', inDoubt: true,
      }), EMPTY);
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
      this.#clearHold(lane);
      this.#dropIdle(lane);
      this.stats.departed += b.dones.length;
      this.stats.notDelivered += b.dones.length;
      const err = new DbError('UNAVAILABLE', `node ${hexId(lane.node)} left the cluster before ${lane.kind} could be sent to it; not run there`, {
        hint: 'Nothing was done; the request may be sent again (to the partition\'s new owner once the cluster re-forms)',
      });
      for (const done of b.dones) this.#tell(done, err, EMPTY);
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
        this.#tell(w.done, undefined, body.body);
      } else {
        this.stats.failed++;
        this.#tell(w.done, errorOf(body), EMPTY);
      }
      return;
    }
    if (body.type !== 'request') return;
    const batch = body.kind.startsWith(BATCH_PREFIX);
    const kind = batch ? body.kind.slice(BATCH_PREFIX.length) : body.kind;
    const handler = this.#handlers.get(kind);
    const rid = body.rid;
    if (handler === undefined) {
      this.#replyFailed(from, rid, new DbError('UNSUPPORTED_FEATURE', `node does not serve ${body.kind}`, { hint: 'Run the same version on every node' }));
      return;
    }
    if (!batch) {
      this.stats.served++;
      let out: Promise<Uint8Array>;
      try {
        out = handler(from, body.body);
      } catch (e) {
        this.#handlerFailed(e, kind);
        this.#replyFailed(from, rid, e);
        return;
      }
      out.then((answer) => this.#reply(from, { type: 'reply', rid, ok: true, body: answer }), (e: unknown) => {
        this.#handlerFailed(e, kind);
        this.#replyFailed(from, rid, e);
      });
      return;
    }
    let parts: Uint8Array[];
    try {
      parts = decodeCallBatch(body.body);
    } catch (e) {
      this.#replyFailed(from, rid, e);
      return;
    }
    this.stats.served += parts.length;
    // each call runs as it would alone; the reply waits for them all
    const answers = new Array<Answer>(parts.length);
    let left = parts.length;
    const settle = (i: number, a: Answer): void => {
      answers[i] = a;
      if (--left > 0) return;
      let out: Uint8Array;
      try {
        out = encodeAnswers(answers);
      } catch (e) {
        this.#replyFailed(from, rid, e);
        return;
      }
      this.#reply(from, { type: 'reply', rid, ok: true, body: out });
    };
    for (let i = 0; i < parts.length; i++) {
      let out: Promise<Uint8Array>;
      try {
        out = handler(from, parts[i] as Uint8Array);
      } catch (e) {
        this.#handlerFailed(e, kind);
        settle(i, toDbError(e));
        continue;
      }
      out.then((answer) => settle(i, answer), (e: unknown) => {
        this.#handlerFailed(e, kind);
        settle(i, toDbError(e));
      });
    }
  }

  #reply(to: NodeId, reply: FabricPayload): void {
    // if it does not arrive, the caller times out, in doubt
    this.#fabric.deliver(to, reply, REPLY_OPTIONS);
  }

  #replyFailed(to: NodeId, rid: number, e: unknown): void {
    this.#reply(to, { type: 'reply', rid, ok: false, body: EMPTY, ...errorFields(e) });
  }

  /** Logs a handler's failure that is not a DbError (a bug, not an answer). */
  #handlerFailed(e: unknown, kind: string): void {
    if (!(e instanceof DbError)) this.#logger.error({ err: e instanceof Error ? e.message : String(e), kind }, 'remote call handler failed');
  }
}
