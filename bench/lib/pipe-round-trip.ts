/**
 * What one round trip on the UDF call pipe costs, apart from the calls it carries: the node
 * writes a batch of call frames to a child process over the same kind of channel (the child's
 * stdio fd 4, a UNIX socket pair), the child reads it, optionally works for `work` µs (a batch's
 * runtime), and writes the answers back; the node reads them and sends the next batch. CPU per
 * round trip of each process over the work, and wall time, for a few batch sizes (request bytes
 * → answer bytes: one call, ~4 calls, ~64 calls of the bench's one-bin increment).
 * The per-call share of this fixed cost is round trip ÷ calls per write, which the node counts
 * (slipstream_udf_host_calls_total / slipstream_udf_host_call_writes_total).
 * Run: node --no-node-snapshot bench/lib/pipe-round-trip.ts [round trips, default 3000]
 */
import { fork } from 'node:child_process';
import { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { cpuMicros } from './process-cpu.ts';

const busy = (us: number): void => {
  const until = performance.now() + us / 1000;
  while (performance.now() < until) { /* the batch's work */ }
};

if (process.argv[2] === 'child') {
  const work = Number(process.argv[3]);
  const answer = Buffer.alloc(Number(process.argv[4]), 0x79);
  const pipe = new Socket({ fd: 4, readable: true, writable: true });
  pipe.on('data', () => {
    busy(work);
    pipe.write(answer);
  });
  process.send?.('ready');
} else {
  const N = Number(process.argv[2] ?? 3000);
  const cases: ReadonlyArray<readonly [work: number, request: number, answer: number]> = [
    [0, 230, 100], [0, 920, 400], [0, 14_700, 6_400], [300, 14_700, 6_400],
  ];
  for (const [work, request, answer] of cases) {
    const child = fork(fileURLToPath(import.meta.url), ['child', String(work), String(answer)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc', 'pipe'] });
    const pipe = child.stdio[4] as Socket;
    // counted from when the child is up (its start-up is not a round trip's cost)
    await new Promise((r) => child.once('message', r));
    await new Promise((r) => setTimeout(r, 100));
    const batch = Buffer.alloc(request, 0x78);
    let got = 0;
    let rounds = 0;
    const pid = child.pid ?? 0;
    const c0 = cpuMicros(pid);
    const n0 = process.cpuUsage();
    const t0 = performance.now();
    await new Promise<void>((resolve) => {
      pipe.on('data', (d: Buffer) => {
        got += d.length;
        if (got < answer) return;
        got = 0;
        if (++rounds >= N) resolve();
        else pipe.write(batch);
      });
      pipe.write(batch);
    });
    const wall = ((performance.now() - t0) * 1000) / N - work;
    const node = process.cpuUsage(n0);
    const other = (cpuMicros(pid) - c0) / N - work;
    console.log(`${String(request).padStart(6)} B → ${String(answer).padStart(5)} B, child works ${String(work).padStart(3)} µs: CPU per round trip writer ${((node.user + node.system) / N).toFixed(1).padStart(6)} µs, reader ${other.toFixed(1).padStart(6)} µs over its work; wall ${wall.toFixed(0)} µs over the work`);
    child.kill();
  }
}
