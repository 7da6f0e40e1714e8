/**
 * The UDF host process: the entry file the node forks (sandbox-host.ts) to run its UDF sandboxes
 * away from the node's own process. It holds the real `Sandbox` objects by id, loads modules on
 * the node's requests over IPC and runs calls from the call pipe (sandbox-host-protocol.ts).
 *
 * Calls arrive in batches and run one after the other per sandbox (a call may wait behind the
 * calls before it for up to its own time limit plus a second, then fails with the timeout error without
 * running; its sandbox stays in service). Repeatable calls (record UDFs) lined up in a sandbox
 * run back to back in one synchronous entry into its isolate (Sandbox.runBatch), which holds this
 * thread for at most one time slice (see sandbox.ts); others run on isolated-vm's threads.
 * Answers are written back as calls end, many per write.
 *
 * Whatever happens in here — an isolate
 * that makes V8 abort, an out-of-memory, a catastrophic isolated-vm error — ends this process
 * only; the node fails the calls in flight and starts a fresh host.
 *
 * The process exits as soon as its IPC channel closes (the node stopped, or was killed), so it
 * never outlives the node.
 */
import { Socket } from 'node:net';
import { udfTimeout } from './errors.ts';
import { MAX_BATCH, Sandbox, type BatchOutcome } from './sandbox.ts';
import { FrameReader, FrameWriter, readCall, toWireError, writeTaken, type CallFrame, type HostReply, type HostRequest } from './sandbox-host-protocol.ts';

/** Exit code after a catastrophic isolated-vm error (EX_SOFTWARE). */
const CATASTROPHE_EXIT = 70;

const send = process.send?.bind(process);
if (send === undefined) {
  process.stderr.write('slipstream: the UDF host process must be started by a node (child_process.fork)\n');
  process.exit(2);
}

const sandboxes = new Map<number, Sandbox>();
let nextSid = 0;
/** Heap statistics cost a little per call: each sandbox reports its heap at most this often (ms). */
const HEAP_SAMPLE_MS = 100;
const heapSampledAt = new Map<number, number>();

/** The sandbox's heap in bytes, or -1 (unchanged) when it was sampled less than HEAP_SAMPLE_MS ago. */
function heapOf(sid: number, s: Sandbox): number {
  const now = Date.now();
  if (now - (heapSampledAt.get(sid) ?? 0) < HEAP_SAMPLE_MS) return -1;
  heapSampledAt.set(sid, now);
  return s.heapUsed();
}

function ignore(): void {
  // a reply the node can no longer receive (it closed the channel): the process exits on 'disconnect'
}

function reply(r: HostReply): void {
  // the node may be gone already; the 'disconnect' handler ends this process then
  if (process.connected) send?.(r, undefined, undefined, ignore);
}

function catastrophe(message: string): void {
  // the process state is undefined now (isolated-vm's warning): end the host, never the node
  process.stderr.write(`slipstream: UDF host: isolated-vm catastrophic error: ${message}; exiting\n`);
  process.exit(CATASTROPHE_EXIT);
}

async function handle(m: HostRequest): Promise<void> {
  switch (m.t) {
    case 'create': {
      try {
        const s = await Sandbox.create(m.module, { memoryLimitMb: m.memoryLimitMb, loadTimeoutMs: m.loadTimeoutMs, onCatastrophicError: catastrophe });
        const sid = ++nextSid;
        sandboxes.set(sid, s);
        reply({ t: 'created', id: m.id, sid, functions: s.functions, heap: heapOf(sid, s) });
      } catch (err) {
        reply({ t: 'error', id: m.id, error: toWireError(err), healthy: false, heap: 0 });
      }
      return;
    }
    case 'dispose': {
      const s = sandboxes.get(m.sid);
      sandboxes.delete(m.sid);
      heapSampledAt.delete(m.sid);
      if (lanes.get(m.sid)?.busy !== true) lanes.delete(m.sid);
      s?.dispose();
      return;
    }
  }
}

/**
 * The call pipe (fd 4): frames in, read into one buffer that every read reuses (the frame reader
 * copies only the bytes of a frame cut by the end of a read), and answers out.
 */
const readBuffer = Buffer.allocUnsafe(64 * 1024);
const pipe = new Socket({
  fd: 4, readable: true, writable: true,
  onread: {
    buffer: readBuffer,
    callback: (n: number) => {
      callsRead(readBuffer.subarray(0, n));
      return true;
    },
  },
});
const answers = new FrameWriter((chunk) => {
  return pipe.destroyed || writeTaken(pipe, chunk);
});

/**
 * The calls of each sandbox, one after the other. A call may wait here behind the calls before
 * it for up to its own time limit plus QUEUE_GRACE_MS (the node allows for that: see
 * RemoteSandbox.call); one that waited longer fails with the timeout error without running, and
 * its sandbox stays in service.
 */
interface Queued {
  readonly c: CallFrame;
  readonly arrived: number;
}
interface Lane {
  busy: boolean;
  readonly queue: Queued[];
}
const lanes = new Map<number, Lane>();
/** How much longer than its own time limit a call may wait in its sandbox's lane, ms (as in sandbox-host.ts). */
const QUEUE_GRACE_MS = 1000;

/** Lanes that got calls from the chunk being read: they start once all its calls are in (so the first does not run alone). */
const fed = new Set<number>();

function enqueue(c: CallFrame, arrived: number): void {
  let lane = lanes.get(c.sid);
  if (lane === undefined) {
    lane = { busy: false, queue: [] };
    lanes.set(c.sid, lane);
  }
  lane.queue.push({ c, arrived });
  fed.add(c.sid);
}

/** Starts the lanes the last chunk fed that are not running yet. */
function startFed(): void {
  for (const sid of fed) {
    const lane = lanes.get(sid);
    if (lane !== undefined && !lane.busy) void drain(sid, lane);
  }
  fed.clear();
}

async function drain(sid: number, lane: Lane): Promise<void> {
  lane.busy = true;
  while (lane.queue.length > 0) {
    const s = sandboxes.get(sid);
    const head = lane.queue[0] as Queued;
    if (s !== undefined && head.c.repeatable && s.batchable(head.c)) await runBatch(s, sid, lane);
    else {
      lane.queue.shift();
      await run(head.c, head.arrived);
    }
  }
  lane.busy = false;
  if (!sandboxes.has(sid)) lanes.delete(sid);
}

/** A call that waited in its lane longer than its limit plus QUEUE_GRACE_MS (at `now`): answered with the timeout error, not run. */
function late(q: Queued, s: Sandbox, now = performance.now()): boolean {
  if (now - q.arrived <= q.c.timeoutMs + QUEUE_GRACE_MS) return false;
  answers.answer({ id: q.c.id, kind: 'error', error: toWireError(udfTimeout(q.c.what, q.c.timeoutMs)), healthy: s.healthy, heap: -1 });
  return true;
}

/**
 * The record calls at the front of a lane, run back to back in one entry into the isolate
 * (Sandbox.runBatch); calls the batch did not reach go back to the front of the lane, and one
 * it stopped at the end of its slice is run again on its own.
 */
async function runBatch(s: Sandbox, sid: number, lane: Lane): Promise<void> {
  const batch: Queued[] = [];
  const calls: CallFrame[] = [];
  let taken = 0;
  const now = performance.now();
  while (taken < lane.queue.length && batch.length < MAX_BATCH) {
    const q = lane.queue[taken] as Queued;
    if (!q.c.repeatable || !s.batchable(q.c)) break;
    taken++;
    if (!late(q, s, now)) {
      batch.push(q);
      calls.push(q.c);
    }
  }
  lane.queue.splice(0, taken);
  if (batch.length === 0) return;
  let outcome: BatchOutcome;
  try {
    outcome = s.runBatch(calls);
  } catch (err) {
    const error = toWireError(err);
    const heap = s.heapUsed();
    for (const q of batch) answers.answer({ id: q.c.id, kind: 'error', error, healthy: s.healthy, heap });
    return;
  }
  const done = outcome.answers;
  // the heap is sampled once per batch: the first answer carries it (when due), the others say unchanged
  for (let i = 0; i < done.length; i++) answers.result((calls[i] as CallFrame).id, done[i] as string, i === 0 ? heapOf(sid, s) : -1);
  const overran = outcome.overran;
  // the calls the batch did not reach wait at the front of the lane (it is busy until this returns)
  lane.queue.unshift(...batch.slice(overran === undefined ? done.length : done.length + 1));
  if (overran !== undefined) {
    const c = (batch[done.length] as Queued).c;
    try {
      answers.answer({ id: c.id, kind: 'result', out: await s.rerun(c, overran.ranMs), heap: heapOf(sid, s) });
    } catch (err) {
      answers.answer({ id: c.id, kind: 'error', error: toWireError(err), healthy: s.healthy, heap: s.heapUsed() });
    }
  }
}

async function run(c: CallFrame, arrived: number): Promise<void> {
  const s = sandboxes.get(c.sid);
  if (s === undefined) {
    answers.answer({ id: c.id, kind: 'error', error: { kind: 'db', code: 'UDF', resultCode: 100, message: `UDF error in ${c.what}: the sandbox is gone`, hint: 'retry the call' }, healthy: false, heap: 0 });
    return;
  }
  if (late({ c, arrived }, s)) return;
  try {
    const out = await s.call(c.req, c.timeoutMs, c.what, { repeatable: c.repeatable, ...(c.runBy > 0 ? { runBy: c.runBy } : {}) });
    answers.answer({ id: c.id, kind: 'result', out, heap: heapOf(c.sid, s) });
  } catch (err) {
    answers.answer({ id: c.id, kind: 'error', error: toWireError(err), healthy: s.healthy, heap: s.heapUsed() });
  }
}

/** When the chunk being read arrived: the calls in it count their time from then. */
let arrived = 0;
const calls = new FrameReader((body) => {
  enqueue(readCall(body), arrived);
});
function callsRead(chunk: Buffer): void {
  arrived = performance.now();
  calls.push(chunk);
  startFed();
}
// the node went (or closed the pipe): nothing here may outlive it
pipe.on('close', () => process.exit(0));
pipe.on('error', () => process.exit(0));

process.on('message', (m: HostRequest) => {
  void handle(m);
});
// the node closed the channel (stop) or died (SIGKILL): nothing here may outlive it
process.on('disconnect', () => process.exit(0));
reply({ t: 'ready', pid: process.pid });
