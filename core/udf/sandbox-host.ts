/**
 * The UDF host: one child process (sandbox-host-child.ts, forked with the node's own Node and
 * `--no-node-snapshot`) that runs all the engine's sandboxes, so that the worst a UDF can do —
 * make isolated-vm abort on an out-of-memory, or hit a catastrophic error — is end that child,
 * never the node. The node keeps a `RemoteSandbox` proxy per sandbox with the same narrow
 * interface as an in-process `Sandbox` (`UdfSandbox`), so pools and the engine do not care which
 * mode is in use.
 *
 * When the child dies (for any reason) every call in flight fails at once with a UDF error
 * (result code 100) naming the module and saying the host died and was restarted, every proxy of
 * that child becomes unhealthy (so pools replace them), and a fresh child is started. Each call
 * also has a deadline here, a little beyond its own time limit: if the child does not answer by
 * then it is considered wedged, killed and replaced. A child that keeps dying soon after it
 * started is restarted with exponential back-off.
 *
 * The child exits when its IPC channel closes, so it never outlives the node, even one killed
 * with SIGKILL.
 */
import { fork, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { DbError } from '../errors/index.ts';
import { UdfError } from './errors.ts';
import { answerId, FrameReader, FrameWriter, fromWireError, readAnswer, writeTaken, type HostReply, type HostRequest } from './sandbox-host-protocol.ts';
import type { CallOptions, SandboxModule, SandboxOptions, UdfSandbox } from './sandbox.ts';
import { IdTable } from './id-table.ts';

/** How much longer than its own time limit a call may wait behind others in the host (as in sandbox-host-child.ts), ms. */
const QUEUE_GRACE_MS = 1000;

const CHILD_ENTRY = fileURLToPath(new URL('./sandbox-host-child.ts', import.meta.url));

export interface SandboxHostEvent {
  readonly kind: 'start' | 'exit';
  readonly pid: number;
  /** Counts the children started by this host, from 1. */
  readonly generation: number;
  /** start: ms from fork to ready. */
  readonly startMs?: number;
  /** exit: why ("signal SIGKILL", "exit code 70", "no answer within 1200 ms", "stopped"). */
  readonly reason?: string;
  /** exit: calls and loads that were in flight and failed. */
  readonly inFlight?: number;
}

export interface SandboxHostOptions {
  /** How much longer than a call's own time limit the host waits before it declares the child wedged, ms. Default 2000. */
  readonly graceMs?: number;
  /** How long a child may take to start, ms. Default 20000. */
  readonly startTimeoutMs?: number;
  /** First back-off delay after a child died soon after starting, ms (doubles up to maxBackoffMs). Default 100. */
  readonly backoffMs?: number;
  readonly maxBackoffMs?: number;
  /** Starts and deaths of the child, for the node log. */
  readonly onEvent?: (e: SandboxHostEvent) => void;
}

type Reply = Extract<HostReply, { id: number }>;

interface Pending {
  /** A control request's reply; a call's result (the guest's response). */
  readonly resolve: (r: Reply | string) => void;
  readonly reject: (err: Error) => void;
  /** A call: the sandbox proxy that made it (it counts its calls in flight and takes the heap and health from the answer). */
  readonly owner: RemoteSandbox | undefined;
  /** When the child counts as wedged if it has not answered (performance.now() ms), and that deadline's length. */
  readonly due: number;
  readonly deadlineMs: number;
  /** What the caller ran, for error messages ("bank.transfer", "loading bank.js"). */
  readonly what: string;
}

/** One child process and the requests waiting on it. */
class HostChild {
  readonly proc: ChildProcess;
  /** The call pipe (the child's fd 4) and the batching writer on it. */
  readonly pipe: Socket;
  readonly calls: FrameWriter;
  readonly generation: number;
  readonly startedAt = Date.now();
  readonly pending = new IdTable<Pending>();
  /**
   * One timer for the deadlines of every request in flight (not one per call: a timer set and
   * cleared per call cost more than the rest of the call's bookkeeping), armed for the earliest.
   */
  watchdog: NodeJS.Timeout | undefined;
  watchdogDue = Infinity;
  readonly exited: Promise<void>;
  alive = true;
  ready = false;

  constructor(proc: ChildProcess, generation: number, onWrite: () => void) {
    this.proc = proc;
    this.generation = generation;
    this.pipe = proc.stdio[4] as Socket;
    this.calls = new FrameWriter((chunk) => {
      if (!this.alive || this.pipe.destroyed) return true;
      onWrite();
      return writeTaken(this.pipe, chunk);
    });
    this.exited = new Promise((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) resolve();
      else proc.once('exit', () => resolve());
    });
  }

  get pid(): number {
    return this.proc.pid ?? 0;
  }

  /** The IPC channel keeps the node's event loop alive only while calls are in flight. */
  hold(on: boolean): void {
    if (on) {
      this.proc.ref();
      this.proc.channel?.ref();
      this.pipe.ref();
    } else {
      this.proc.unref();
      this.proc.channel?.unref();
      this.pipe.unref();
    }
  }
}

/** A UDF error for calls lost with their host process. */
function hostLost(what: string, why: string): UdfError {
  return new UdfError(100, `UDF error in ${what}: the UDF host process ${why} and was restarted; the call was lost`, {}, {
    hint: 'retry the call; if it keeps happening, the UDF is crashing its host (memory or a V8 abort)',
  });
}

export class SandboxHost {
  private readonly graceMs: number;
  private readonly startTimeoutMs: number;
  private readonly backoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly onEvent: ((e: SandboxHostEvent) => void) | undefined;
  private child: HostChild | undefined;
  private starting: Promise<HostChild> | undefined;
  private generation = 0;
  private nextId = 0;
  /** Deaths in a row of children that lived less than `STABLE_MS`. */
  private crashes = 0;
  private lastDeath = 0;
  private closed = false;
  private readonly exits = new Set<Promise<void>>();
  /** Starts, deaths and kills so far (for tests and statistics). */
  started = 0;
  died = 0;
  /**
   * Calls sent to the host processes, and the writes on the call pipe that carried them: calls
   * per write is the size of the batches the host gets (each write costs a system call here, a
   * wake-up and a read there, and an answer write back).
   */
  callsSent = 0;
  callWrites = 0;

  static readonly STABLE_MS = 10_000;

  constructor(opts: SandboxHostOptions = {}) {
    this.graceMs = opts.graceMs ?? 2000;
    this.startTimeoutMs = opts.startTimeoutMs ?? 20_000;
    this.backoffMs = opts.backoffMs ?? 100;
    this.maxBackoffMs = opts.maxBackoffMs ?? 5000;
    this.onEvent = opts.onEvent;
  }

  /** The current child's pid, once it is serving. */
  get pid(): number | undefined {
    return this.child?.alive === true && this.child.ready ? this.child.pid : undefined;
  }

  /** Loads a module in a new sandbox in the child (starting the child first if needed). */
  async create(module: SandboxModule, opts: SandboxOptions): Promise<UdfSandbox> {
    const child = await this.ensure();
    const what = `loading ${module.fileName}`;
    const r = await this.request(child, { t: 'create', id: 0, module, memoryLimitMb: opts.memoryLimitMb, loadTimeoutMs: opts.loadTimeoutMs },
      // the module's top-level code, install and export listing each have the load time limit
      3 * opts.loadTimeoutMs + this.graceMs + 5000, what);
    if (r.t === 'error') throw fromWireError(r.error);
    return new RemoteSandbox(this, child, r.sid, module, r.functions, r.heap);
  }

  /** Stops the child (it exits when its channel closes; SIGKILL after a second if it does not). */
  close(): Promise<void> {
    this.closed = true;
    const child = this.child;
    if (child !== undefined) this.kill(child, 'stopped', false);
    const all = Promise.all([...this.exits]).then(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, 3000);
      timer.unref();
    });
    return Promise.race([all, limit]).finally(() => clearTimeout(timer));
  }

  /** How long past a call's time limit the host waits for the child's answer, ms. */
  graceFor(limitMs: number): number {
    return this.graceMs + Math.ceil(limitMs / 10);
  }

  /** @internal one control request to the child (over IPC); rejects when the child dies or misses the deadline. */
  request(child: HostChild, request: Extract<HostRequest, { id: number }>, deadlineMs: number, what: string): Promise<Reply> {
    if (!child.alive) return Promise.reject(hostLost(what, 'died'));
    const msg = { ...request, id: ++this.nextId };
    return new Promise<Reply>((resolve, reject) => {
      this.expect(child, msg.id, { resolve: resolve as (r: Reply | string) => void, reject, owner: undefined, due: performance.now() + deadlineMs, deadlineMs, what });
      this.send(child, msg);
    });
  }

  /**
   * @internal one call of `owner`'s sandbox in the child (over the call pipe, batched with
   * others): the guest's response; rejects with the call's error, or when the child dies or
   * misses the deadline. One promise per call: the answer settles it directly.
   */
  call(owner: RemoteSandbox, child: HostChild, sid: number, req: string, timeoutMs: number, what: string, repeatable: boolean, deadlineMs: number, runBy = 0): Promise<string> {
    const id = ++this.nextId;
    if (this.nextId >= 0xffffffff) this.nextId = 0;
    this.callsSent++;
    return new Promise<string>((resolve, reject) => {
      this.expect(child, id, { resolve: resolve as (r: Reply | string) => void, reject, owner, due: performance.now() + deadlineMs, deadlineMs, what });
      child.calls.call(id, sid, timeoutMs, repeatable, what, req, runBy);
    });
  }

  /** Registers an answer awaited from the child, with the deadline after which the child counts as wedged. */
  private expect(child: HostChild, id: number, p: Pending): void {
    if (child.pending.size === 0) child.hold(true);
    child.pending.set(id, p);
    if (p.due < child.watchdogDue) this.arm(child, p.due);
  }

  /** (Re)arms the child's watchdog for `due`. */
  private arm(child: HostChild, due: number): void {
    if (child.watchdog !== undefined) clearTimeout(child.watchdog);
    child.watchdogDue = due;
    // unref'd: the call pipe and channel keep the event loop alive while calls are in flight (HostChild.hold)
    child.watchdog = setTimeout(() => this.sweep(child), Math.max(1, Math.ceil(due - performance.now()))).unref();
  }

  /** The watchdog fired: a request past its deadline means the child is wedged; otherwise it is re-armed for the earliest. */
  private sweep(child: HostChild): void {
    child.watchdog = undefined;
    child.watchdogDue = Infinity;
    if (!child.alive) return;
    const now = performance.now();
    let next = Infinity;
    for (const [id, p] of child.pending.entries()) {
      if (p.due <= now) {
        // no answer: the child is wedged; this call gets its own message, the others the usual one
        child.pending.take(id);
        p.owner?.lost();
        p.reject(hostLost(p.what, `did not answer within ${p.deadlineMs} ms (it was killed)`));
        this.kill(child, `no answer within ${p.deadlineMs} ms`, true);
        return;
      }
      if (p.due < next) next = p.due;
    }
    if (next !== Infinity) this.arm(child, next);
  }

  /** @internal fire-and-forget message (dispose). */
  send(child: HostChild, msg: HostRequest): void {
    if (!child.alive) return;
    if (!child.proc.connected) {
      this.kill(child, 'lost its IPC channel', true);
      return;
    }
    try {
      child.proc.send(msg, (err) => {
        if (err !== null && err !== undefined) this.kill(child, `IPC failed: ${err.message}`, true);
      });
    } catch (err) {
      this.kill(child, `IPC failed: ${err instanceof Error ? err.message : String(err)}`, true);
    }
  }

  private settle(child: HostChild, r: Reply): void {
    const p = child.pending.take(r.id);
    if (p === undefined) return; // timed out already
    if (child.pending.size === 0) child.hold(false);
    p.resolve(r);
  }

  /** A call's answer from the call pipe: its sandbox takes the heap and health, the caller the result or the error. */
  private answered(child: HostChild, body: Buffer): void {
    const p = child.pending.take(answerId(body));
    if (p === undefined) return; // timed out already
    if (child.pending.size === 0) child.hold(false);
    const a = readAnswer(body);
    const owner = p.owner;
    if (owner === undefined) {
      p.reject(new DbError('UDF', `the UDF host process answered a control request on the call pipe (${p.what})`));
      return;
    }
    if (a.kind === 'result') {
      owner.answered(a.heap, true);
      p.resolve(a.out);
    } else {
      owner.answered(a.heap, a.healthy);
      p.reject(fromWireError(a.error));
    }
  }

  /** The running child, or a new one (after the back-off delay when children keep dying). */
  private ensure(): Promise<HostChild> {
    if (this.closed) return Promise.reject(new DbError('UDF', 'the UDF engine is closed'));
    if (this.child !== undefined && this.child.alive && this.child.ready) return Promise.resolve(this.child);
    if (this.starting === undefined) {
      const p = this.start();
      this.starting = p;
      const clear = (): void => {
        if (this.starting === p) this.starting = undefined;
      };
      p.then(clear, clear);
    }
    return this.starting;
  }

  private backoff(): number {
    if (this.crashes <= 1) return 0;
    const delay = Math.min(this.maxBackoffMs, this.backoffMs * 2 ** (this.crashes - 2));
    return Math.max(0, this.lastDeath + delay - Date.now());
  }

  private async start(): Promise<HostChild> {
    const wait = this.backoff();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    if (this.closed) throw new DbError('UDF', 'the UDF engine is closed');
    const forkedAt = Date.now();
    const proc = fork(CHILD_ENTRY, [], {
      // the node's own Node binary; isolated-vm needs --no-node-snapshot on Node ≥ 20
      execPath: process.execPath,
      // (a node started with --cpu-prof profiles its UDF host too)
      execArgv: ['--no-node-snapshot', '--disable-warning=ExperimentalWarning', ...process.execArgv.filter((a) => a.startsWith('--cpu-prof'))],
      serialization: 'advanced',
      // fd 4: the call pipe (sandbox-host-protocol.ts)
      stdio: ['ignore', 'inherit', 'inherit', 'ipc', 'pipe'],
    });
    const child = new HostChild(proc, ++this.generation, () => this.callWrites++);
    const answers = new FrameReader((body) => this.answered(child, body));
    child.pipe.on('data', (chunk: Buffer) => answers.push(chunk));
    // a child that dies breaks the pipe just before its 'exit' (which names the signal); kill one
    // whose pipe failed and that lingers
    child.pipe.on('error', (err) => setTimeout(() => this.kill(child, `call pipe failed: ${err.message}`, true), 500).unref());
    this.child = child;
    this.started++;
    const exited = child.exited;
    this.exits.add(exited);
    void exited.then(() => this.exits.delete(exited));
    proc.on('message', (r: HostReply) => {
      if (r.t !== 'ready') this.settle(child, r);
    });
    proc.on('exit', (code, signal) => this.lost(child, signal !== null ? `signal ${signal}` : `exit code ${code ?? '?'}`, true));
    // the channel closes just before 'exit' when the child dies; kill one that lingers without it
    proc.on('disconnect', () => setTimeout(() => this.kill(child, 'closed its IPC channel', true), 500).unref());
    proc.on('error', (err) => this.kill(child, `failed: ${err.message}`, true));
    return new Promise<HostChild>((resolve, reject) => {
      const fail = (why: string): void => {
        clearTimeout(timer);
        proc.off('message', onReady);
        proc.off('exit', onExit);
        reject(new DbError('UDF', `the UDF host process could not start: ${why}`, { hint: 'see the node log; retry the call' }));
      };
      const timer = setTimeout(() => {
        fail(`no ready signal within ${this.startTimeoutMs} ms`);
        this.kill(child, 'did not start in time', true);
      }, this.startTimeoutMs);
      const onExit = (code: number | null, signal: string | null): void => fail(signal !== null ? `signal ${signal}` : `exit code ${code ?? '?'}`);
      const onReady = (r: HostReply): void => {
        if (r.t !== 'ready') return;
        clearTimeout(timer);
        proc.off('message', onReady);
        proc.off('exit', onExit);
        child.ready = true;
        if (child.pending.size === 0) child.hold(false);
        this.onEvent?.({ kind: 'start', pid: child.pid, generation: child.generation, startMs: Date.now() - forkedAt });
        resolve(child);
      };
      proc.on('message', onReady);
      proc.once('exit', onExit);
    });
  }

  /** Kills a child and fails what it had in flight (SIGKILL; a stop first closes the channel and waits a second). */
  private kill(child: HostChild, reason: string, crashed: boolean): void {
    if (!child.alive) return;
    if (crashed) {
      child.proc.kill('SIGKILL');
    } else {
      // a clean stop: the child exits when its channel closes
      if (child.proc.connected) child.proc.disconnect();
      const t = setTimeout(() => child.proc.kill('SIGKILL'), 1000);
      void child.exited.then(() => clearTimeout(t));
    }
    this.lost(child, reason, crashed);
    // whoever awaits close() sees the exit: the process keeps the event loop alive until then
    if (!crashed) child.proc.ref();
  }

  /** Marks a child gone: every call in flight fails now; the next create (or a restart now) gets a fresh child. */
  private lost(child: HostChild, reason: string, crashed: boolean): void {
    if (!child.alive) return;
    child.alive = false;
    if (this.child === child) this.child = undefined;
    const inFlight = child.pending.entries().map(([, p]) => p);
    child.pending.clear();
    child.hold(false);
    if (child.watchdog !== undefined) clearTimeout(child.watchdog);
    child.watchdog = undefined;
    const stopping = this.closed || !crashed;
    for (const p of inFlight) {
      p.owner?.lost();
      p.reject(stopping ? new DbError('UDF', `UDF error in ${p.what}: the UDF engine was closed`, { hint: 'retry on a running node' }) : hostLost(p.what, `died (${reason})`));
    }
    if (!stopping) {
      this.died++;
      this.crashes = Date.now() - child.startedAt < SandboxHost.STABLE_MS ? this.crashes + 1 : 1;
      this.lastDeath = Date.now();
    }
    this.onEvent?.({ kind: 'exit', pid: child.pid, generation: child.generation, reason, inFlight: inFlight.length });
    // a host that had been serving is restarted at once (the pools will need it); one that never
    // became ready is retried only by the next create, so a broken install does not spin
    if (!stopping && child.ready) this.ensure().catch(() => undefined);
  }
}

/** A proxy for one `Sandbox` living in the UDF host process. */
export class RemoteSandbox implements UdfSandbox {
  readonly module: SandboxModule;
  readonly functions: readonly string[];
  private readonly host: SandboxHost;
  private readonly child: HostChild;
  private readonly sid: number;
  private heap: number;
  private broken = false;
  private disposed = false;
  /** Calls sent and not answered yet. */
  private inFlight = 0;
  calls = 0;

  constructor(host: SandboxHost, child: HostChild, sid: number, module: SandboxModule, functions: readonly string[], heap: number) {
    this.host = host;
    this.child = child;
    this.sid = sid;
    this.module = module;
    this.functions = functions;
    this.heap = Math.max(0, heap);
  }

  get healthy(): boolean {
    return !this.broken && !this.disposed && this.child.alive;
  }

  call(requestJson: string, timeoutMs: number, what: string, options: CallOptions = {}): Promise<string> {
    if (!this.healthy) {
      if (!this.child.alive) return Promise.reject(hostLost(what, 'died'));
      return Promise.reject(new DbError('UDF', `the sandbox for ${this.module.fileName} is gone`, { hint: 'retry the call' }));
    }
    this.calls++;
    const limit = Math.max(1, Math.ceil(timeoutMs));
    // a call lined up behind others in this sandbox may wait there for up to its limit plus
    // QUEUE_GRACE_MS before it runs (sandbox-host-child.ts)
    const deadline = (this.inFlight > 0 ? 2 * limit + QUEUE_GRACE_MS : limit) + this.host.graceFor(limit);
    this.inFlight++;
    // settled by the host, which calls answered() or lost() first
    return this.host.call(this, this.child, this.sid, requestJson, limit, what, options.repeatable === true, deadline, options.runBy);
  }

  /** @internal one of this sandbox's calls was answered: the isolate's heap (-1: unchanged) and health. */
  answered(heap: number, healthy: boolean): void {
    this.inFlight--;
    if (heap >= 0) this.heap = heap;
    if (!healthy) this.broken = true;
  }

  /** @internal one of this sandbox's calls was lost with its host process (died, or wedged and killed). */
  lost(): void {
    this.inFlight--;
    this.broken = true;
  }

  /** Heap of the isolate in the child as last reported (the child samples it at most every 100 ms), bytes. */
  heapUsed(): number {
    return this.healthy ? this.heap : 0;
  }


  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.host.send(this.child, { t: 'dispose', sid: this.sid });
  }
}
