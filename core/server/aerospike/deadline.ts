/**
 * Single-record requests answered within the client's server-side timeout (transaction_ttl):
 * each answer goes out when it is ready, or TIMEOUT (result 9) goes out when the deadline passes
 * first and the late answer is dropped. One timer for all of them, armed for the earliest due.
 */
import { SENT, type Reply } from './connection.ts';
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

/**
 * One single-record request answered within its transaction_ttl: `done` settles with whichever
 * comes first, the answer (sent) or the deadline (TIMEOUT sent, the late answer dropped). The
 * entry is its own list node and then-callbacks: one object and one promise per request.
 */
export class Deadline {
  readonly due: number;
  /** Neighbours in the list of waiting requests (while it waits). */
  prev: Deadline | undefined;
  next: Deadline | undefined;
  private readonly reply: Reply;
  private readonly compress: (b: Buffer) => Buffer;
  private readonly failed: (err: unknown) => Promise<void>;
  private answered = false;
  private resolve!: (v: void | Promise<void>) => void;
  readonly done: Promise<void>;

  constructor(work: Promise<Buffer>, ms: number, reply: Reply, compress: (b: Buffer) => Buffer, failed: (err: unknown) => Promise<void>) {
    this.due = performance.now() + ms;
    this.reply = reply;
    this.compress = compress;
    this.failed = failed;
    this.done = new Promise<void>((resolve) => { this.resolve = resolve; });
    this.next = firstWaiting;
    if (firstWaiting !== undefined) firstWaiting.prev = this;
    firstWaiting = this;
    if (this.due < sweepDue) armSweep(this.due);
    work.then(this.ok, this.fail);
  }

  /** The sweeper: the deadline passed first. */
  late(): void {
    this.unlist();
    if (this.answered) return;
    this.answered = true;
    this.resolve(sendNow(this.reply, this.compress(response({ resultCode: TIMEOUT }))));
  }

  private readonly ok = (answer: Buffer): void => {
    this.unlist();
    if (this.answered) return;
    this.answered = true;
    this.resolve(sendNow(this.reply, answer));
  };

  private readonly fail = (err: unknown): void => {
    this.unlist();
    if (this.answered) return;
    this.answered = true;
    this.resolve(this.failed(err));
  };

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
