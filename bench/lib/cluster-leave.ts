/**
 * A planned stop, measured on real server processes on 127.0.0.1 (memory engine, RF 2, default
 * heartbeat 150 ms × 10): SIGTERM of a member under the same write load as the SIGKILL row of
 * the cluster bench (16 writers through the two other nodes, 2 s client deadline). The node
 * hands its partitions over, leaves, drains and exits; reported: how long writes failed after the
 * signal and how many, when the survivors agreed on a cluster without it, and when it exited.
 * `measureStop('SIGKILL')` is the same run with a kill, the peer to compare with.
 */
import { SlipstreamClient } from '../../core/client/index.ts';
import { ProcessCluster, memberOrder, membersOf } from '../../test/helpers/process-cluster.ts';

export interface LeaveResults {
  /** From the signal to the last failed write (0 when none failed). */
  readonly windowMs: number;
  readonly failed: number;
  readonly acknowledged: number;
  /** From the signal until both survivors agree on a cluster without the node. */
  readonly reformedMs: number;
  /** From the signal until the process exited, and its exit code. */
  readonly exitMs: number;
  readonly exitCode: number | null;
  /** From the node's log (SIGTERM): the hand-over (quiesce and migrations), and its departure → the cluster without it. */
  readonly handedOverMs?: number;
  readonly departureToReformedMs?: number;
  /** The first failures after the signal: ms after it, and the error. */
  readonly errors: readonly string[];
}

export async function measureStop(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<LeaveResults> {
  // the nodes log at info, so that the leaving node's report of its steps can be read
  const level = process.env['SLIPSTREAM_TEST_LOG_LEVEL'];
  process.env['SLIPSTREAM_TEST_LOG_LEVEL'] = 'info';
  const c = new ProcessCluster({ name: 'bench-leave', clusterName: 'bench', heartbeat: { intervalMs: 150, timeout: 10 } });
  try {
    await c.startCluster(['C3', 'C2', 'C1'], { settled: true, ms: 120_000 });
    const clients = await Promise.all(['C3', 'C1'].map((id) => SlipstreamClient.connect({ hosts: `127.0.0.1:${c.port(id)}`, timeoutMs: 2000, routing: 'seed' })));
    let signalledAt = 0;
    let lastFail = 0;
    let failed = 0;
    let acknowledged = 0;
    const errors: string[] = [];
    let stop = false;
    const load = Promise.all(Array.from({ length: 16 }, async (_, w) => {
      for (let i = w; !stop; i += 16) {
        try {
          await (clients[w % 2] as SlipstreamClient).put({ namespace: 'test', set: 'k', key: `x${i % 5000}` }, { v: BigInt(i) });
          if (signalledAt > 0) acknowledged++;
        } catch (e) {
          if (signalledAt > 0) {
            lastFail = performance.now();
            failed++;
            if (errors.length < 5) errors.push(`+${Math.round(lastFail - signalledAt)} ms ${(e as { code?: string }).code ?? ''} ${(e as Error).message.slice(0, 160)}`);
          }
          await new Promise((r) => setTimeout(r, 5));
        }
      }
    }));
    await new Promise((r) => setTimeout(r, 1500));
    signalledAt = performance.now();
    let exitMs = 0;
    const leaver = c.node('C2'); // its output after the stop (the harness keeps what it printed until the signal)
    const exited = c.stop('C2', signal).then((code) => { exitMs = performance.now() - signalledAt; return code; });
    const want = memberOrder(['C3', 'C1']);
    for (;;) {
      const rs = await Promise.all(['C3', 'C1'].map((id) => c.info(id))).catch(() => undefined);
      if (rs !== undefined && rs.every((r) => membersOf(r) === want && r.clusterKey === rs[0]?.clusterKey)) break;
      if (performance.now() - signalledAt > 120_000) throw new Error('the survivors did not re-form without C2');
      await new Promise((r) => setTimeout(r, 10));
    }
    const reformedMs = performance.now() - signalledAt;
    const exitCode = await exited;
    await new Promise((r) => setTimeout(r, 8000));
    stop = true;
    await load;
    for (const cl of clients) cl.close();
    const logged = (name: string): number | undefined => {
      const m = new RegExp(`"?${name}"?:\\s*(\\d+(?:\\.\\d+)?)`).exec(leaver.output());
      return m === null ? undefined : Number(m[1]);
    };
    const handedOverMs = logged('handedOverMs');
    const departureToReformedMs = logged('reformedMs');
    return {
      windowMs: lastFail === 0 ? 0 : lastFail - signalledAt, failed, acknowledged, reformedMs, exitMs, exitCode, errors,
      ...(handedOverMs === undefined ? {} : { handedOverMs }), ...(departureToReformedMs === undefined ? {} : { departureToReformedMs }),
    };
  } finally {
    await c.close();
    if (level === undefined) delete process.env['SLIPSTREAM_TEST_LOG_LEVEL'];
    else process.env['SLIPSTREAM_TEST_LOG_LEVEL'] = level;
  }
}

/** The bench table's row, next to the SIGKILL row. */
export async function gracefulLeaveRow(): Promise<string> {
  const r = await measureStop('SIGTERM');
  const k = (x: number): string => Math.round(x).toLocaleString('en-US');
  const steps = r.handedOverMs === undefined ? '' : ` (hand-over ${k(r.handedOverMs)} ms, then re-formed ${k(r.departureToReformedMs ?? NaN)} ms after the departure)`;
  return `| SIGTERM of a member under write load: writes failing for | ${k(r.windowMs)} ms (${r.failed} failed of ${k(r.failed + r.acknowledged)} after the signal; survivors re-formed ${k(r.reformedMs)} ms after the signal${steps}, node exited at ${k(r.exitMs)} ms, exit code ${r.exitCode}) |`;
}
