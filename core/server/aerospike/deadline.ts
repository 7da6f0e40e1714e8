/**
 * Single-record requests answered within the client's server-side timeout (transaction_ttl):
 * each answer goes out when it is ready, or TIMEOUT (result 9) goes out when the deadline passes
 * first and the late answer is dropped. One timer for all of them, armed for the earliest due.
 */
import { SENT, type AnswerLater, type Reply } from './connection.ts';
import { Later, type Settlement } from '../../transaction/maybe-async.ts';
import { response } from './message.ts';

/** Result code 9: the server-side timeout passed. */
const TIMEOUT = 9;

/**
 * Requests waiting within their transaction_ttl, under one timer armed for the earliest due
 * (a timer set and cleared per request cost more than the rest of a small request's
 * bookkeeping). They form a list through the Deadlines themselves: adding and removing one is
 * two pointer writes, where a Set's inserts and deletes grew, rehashed and shrank its table
 * under every request.
 */
let firstWaiting: Deadline | undefined;
let sweepTimer: NodeJS.Timeout | undefined;
let sweepDue = Infinity;

function armSweep(due: number): void {
  if (sweepTimer !== undefined) clearTimeout(sweepTimer);
  sweepDue = due;
  sweepTimer = setTimeout(sweepLate, Math.max(1, Math.ceil(due - performance.now())));
  // an open connection keeps the process alive, not a request's deadline
  sweepTimer.unref();
}

function sweepLate(): void {
  sweepTimer = undefined;
  sweepDue = Infinity;
  const now = performance.now();
  let next = Infinity;
  for (let w = firstWaiting; w !== undefined;) {
    const after: Deadline | undefined = w.next;
    if (w.due <= now) w.late();
    else if (w.due < next) next = w.due;
    w = after;
  }
  if (next !== Infinity) armSweep(next);
}

/** A request not answered yet (Deadline's end, before it came). */
const WAITING: unique symbol = Symbol('waiting');

/**
 * One single-record request answered within its transaction_ttl: it ends with whichever comes
 * first, the answer (sent) or the deadline (TIMEOUT sent, the late answer dropped). The entry is
 * its own list node and the receiver of the work's outcome, and tells the connection that it is
 * done by callback (`whenAnswered`): one object per request, no promise of its own. The answer
 * is written in the microtask the work ends in — for a write with replicas, the one their
 * confirmation comes in (the kernel's steps after it are composed onto that one promise).
 */
export class Deadline implements AnswerLater, Settlement<Buffer> {
  readonly due: number;
  /** Neighbours in the list of waiting requests (while it waits). */
  prev: Deadline | undefined;
  next: Deadline | undefined;
  private readonly reply: Reply;
  private readonly compress: (b: Buffer) => Buffer;
  private readonly failed: (err: unknown, reply: Reply, compress: (b: Buffer) => Buffer) => Promise<void>;
  /** What the end waits on once answered (the socket's drain, or nothing); WAITING before. */
  private sent: Promise<void> | undefined | typeof WAITING = WAITING;
  private onAnswered: (() => void) | undefined;
  private onBroken: ((err: unknown) => void) | undefined;

  /**
   * `failed` answers a failure (shared by every request: it is given the reply and compression).
   * A Later's outcome comes by `settle` (no promise for it); a promise's by `then`.
   */
  constructor(work: Promise<Buffer>, ms: number, reply: Reply, compress: (b: Buffer) => Buffer, failed: (err: unknown, reply: Reply, compress: (b: Buffer) => Buffer) => Promise<void>) {
    this.due = performance.now() + ms;
    this.reply = reply;
    this.compress = compress;
    this.failed = failed;
    this.next = firstWaiting;
    if (firstWaiting !== undefined) firstWaiting.prev = this;
    firstWaiting = this;
    if (this.due < sweepDue) armSweep(this.due);
    if (work instanceof Later) (work as Later<Buffer>).settle(this);
    else work.then((answer) => this.resolved(answer), (err: unknown) => this.rejected(err));
  }

  /** The sweeper: the deadline passed first. */
  late(): void {
    this.unlist();
    if (this.sent !== WAITING) return;
    this.end(sendNow(this.reply, this.compress(response({ resultCode: TIMEOUT }))));
  }

  /** The answer came (sent now, unless the deadline passed first). */
  resolved(answer: Buffer): void {
    this.unlist();
    if (this.sent !== WAITING) return;
    this.end(sendNow(this.reply, answer));
  }

  /** The work failed (its failure answered now, unless the deadline passed first). */
  rejected(err: unknown): void {
    this.unlist();
    if (this.sent !== WAITING) return;
    this.end(this.failed(err, this.reply, this.compress));
  }

  whenAnswered(answered: () => void, broken: (err: unknown) => void): void {
    if (this.sent !== WAITING) {
      if (this.sent === undefined) answered();
      else this.sent.then(answered, broken);
      return;
    }
    const a = this.onAnswered;
    const b = this.onBroken;
    this.onAnswered = a === undefined ? answered : () => { a(); answered(); };
    this.onBroken = b === undefined ? broken : (err) => { b(err); broken(err); };
  }

  /** A promise of the end (for callers that await it; the connection is told by whenAnswered). */
  get done(): Promise<void> {
    return new Promise<void>((resolve, reject) => this.whenAnswered(resolve, reject));
  }

  private end(sent: Promise<void> | undefined): void {
    this.sent = sent;
    const answered = this.onAnswered;
    const broken = this.onBroken;
    if (answered === undefined || broken === undefined) return;
    this.onAnswered = undefined;
    this.onBroken = undefined;
    if (sent === undefined) answered();
    else sent.then(answered, broken);
  }

  /** Leaves the list of waiting requests (once; later calls do nothing). */
  private unlist(): void {
    if (this.prev !== undefined) this.prev.next = this.next;
    else if (firstWaiting === this) firstWaiting = this.next;
    else return; // not listed any more
    if (this.next !== undefined) this.next.prev = this.prev;
    this.prev = undefined;
    this.next = undefined;
  }
}

/** Sends an answer; undefined when the socket took it at once (nothing to wait for). */
export function sendNow(reply: Reply, answer: Buffer): Promise<void> | undefined {
  const sent = reply.send(answer);
  return sent === SENT ? undefined : sent;
}

/** How many requests wait on their deadline now (for tests: every one leaves the list). */
export function waitingDeadlines(): number {
  let n = 0;
  for (let w = firstWaiting; w !== undefined; w = w.next) n++;
  return n;
}
