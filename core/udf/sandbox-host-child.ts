/**
 * The UDF host process: the entry file the node forks (sandbox-host.ts) to run its UDF sandboxes
 * away from the node's own process. It holds the real `Sandbox` objects by id and answers the
 * node's requests over IPC (sandbox-host-protocol.ts). Whatever happens in here — an isolate
 * that makes V8 abort, an out-of-memory, a catastrophic isolated-vm error — ends this process
 * only; the node fails the calls in flight and starts a fresh host.
 *
 * The process exits as soon as its IPC channel closes (the node stopped, or was killed), so it
 * never outlives the node.
 */
import { Sandbox } from './sandbox.ts';
import { toWireError, type HostReply, type HostRequest } from './sandbox-host-protocol.ts';

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
    case 'call': {
      const s = sandboxes.get(m.sid);
      if (s === undefined) {
        reply({ t: 'error', id: m.id, error: { kind: 'db', code: 'UDF', resultCode: 100, message: `UDF error in ${m.what}: the sandbox is gone`, hint: 'retry the call' }, healthy: false, heap: 0 });
        return;
      }
      try {
        const out = await s.call(m.req, m.timeoutMs, m.what);
        reply({ t: 'result', id: m.id, out, heap: heapOf(m.sid, s) });
      } catch (err) {
        reply({ t: 'error', id: m.id, error: toWireError(err), healthy: s.healthy, heap: s.heapUsed() });
      }
      return;
    }
    case 'dispose': {
      const s = sandboxes.get(m.sid);
      sandboxes.delete(m.sid);
      heapSampledAt.delete(m.sid);
      s?.dispose();
      return;
    }
  }
}

process.on('message', (m: HostRequest) => {
  void handle(m);
});
// the node closed the channel (stop) or died (SIGKILL): nothing here may outlive it
process.on('disconnect', () => process.exit(0));
reply({ t: 'ready', pid: process.pid });
