/**
 * The per-call cost model of a record UDF, piece by piece, in one process (no gRPC, no kernel):
 * what a call costs in CPU (this process plus the UDF host process) and wall time, sequentially
 * and with many calls in flight, in each isolation mode; and isolated-vm's two entry points on a
 * trivial function. CPU per call is steadier than wall time on a shared machine.
 * Run: node --no-node-snapshot bench/lib/udf-costs.ts [calls]
 */
import { readFileSync } from 'node:fs';
import ivm from 'isolated-vm';
import { UdfEngine } from '../../core/udf/index.ts';
import type { UdfIsolation } from '../../core/udf/engine.ts';
import { makeKey } from '../../core/model/index.ts';

const CALLS = Number(process.argv[2] ?? 20_000);
const MODULE = 'export function incr(rec, n) { rec.count = (rec.count ?? 0) + n; aerospike.update(rec); return rec.count; }';

/** CPU seconds used by a process (user + system), from /proc. */
function procCpu(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return 0;
  }
}
function selfCpu(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

async function measure(label: string, n: number, fn: () => Promise<void>, childPid?: number): Promise<void> {
  const c0 = selfCpu();
  const h0 = childPid === undefined ? 0 : procCpu(childPid);
  const t0 = performance.now();
  await fn();
  const wall = (performance.now() - t0) / 1000;
  const self = selfCpu() - c0;
  const child = childPid === undefined ? 0 : procCpu(childPid) - h0;
  const us = (s: number): string => ((s * 1e6) / n).toFixed(1).padStart(7);
  console.log(`${label.padEnd(58)} ${Math.round(n / wall).toLocaleString('en-US').padStart(9)} /s  CPU/call ${us(self + child)} µs (this process ${us(self)}, host ${us(child)})`);
}

// isolated-vm's two entry points, on a function that returns its string argument
{
  const isolate = new ivm.Isolate({ memoryLimit: 16 });
  const context = await isolate.createContext();
  const f = (await context.eval('(s) => s', { reference: true })) as ivm.Reference<(s: string) => string>;
  const arg = JSON.stringify({ op: 'record', fn: 'incr', args: [1], rec: { exists: true, bins: { count: 1 } } });
  await measure('isolated-vm apply (async, isolate thread), sequential', CALLS, async () => {
    for (let i = 0; i < CALLS; i++) await f.apply(undefined, [arg], { timeout: 1000 });
  });
  await measure('isolated-vm applySync, sequential', CALLS, async () => {
    for (let i = 0; i < CALLS; i++) f.applySync(undefined, [arg], { timeout: 1000 });
  });
  isolate.dispose();
}

const KEY = makeKey('test', 'bench', 'k');
const WIDE_BINS = { doc: 'x'.repeat(2000), name: 'a customer name', email: 'someone@example.com', score: 12.5, tags: ['a', 'b', 'c'], city: 'Amsterdam', zip: '1011AB', active: true, visits: 1234n, balance: 99.75 };
for (const isolation of ['in-process', 'process'] as UdfIsolation[]) {
  const engine = await UdfEngine.open({ isolation, poolSize: 2 });
  await engine.register('bench.js', MODULE);
  const call = (i: number) => engine.applyRecord({ module: 'bench', fn: 'incr', args: [1n] }, {
    key: KEY, exists: true, bins: { count: BigInt(i), name: 'record' }, meta: { generation: 1, voidTime: 0, lastUpdateMs: 0 },
  });
  for (let i = 0; i < 200; i++) await call(i); // warm
  const pid = engine.host?.pid;
  await measure(`engine.applyRecord, sequential [${isolation}]`, CALLS, async () => {
    for (let i = 0; i < CALLS; i++) await call(i);
  }, pid);
  for (const inFlight of [8, 64]) {
    await measure(`engine.applyRecord, ${inFlight} in flight [${isolation}]`, CALLS, async () => {
      let next = 0;
      await Promise.all(Array.from({ length: inFlight }, async () => {
        while (next < CALLS) await call(next++);
      }));
    }, pid);
  }
  // a wider record: ten more bins (one a 2 KB string) that the function does not touch
  const wide = (i: number) => engine.applyRecord({ module: 'bench', fn: 'incr', args: [1n] }, {
    key: KEY, exists: true, bins: { count: BigInt(i), ...WIDE_BINS }, meta: { generation: 1, voidTime: 0, lastUpdateMs: 0 },
  });
  await measure(`engine.applyRecord, 64 in flight, 11 bins, one changed [${isolation}]`, CALLS, async () => {
    let next = 0;
    await Promise.all(Array.from({ length: 64 }, async () => {
      while (next < CALLS) await wide(next++);
    }));
  }, pid);
  await engine.shutdown();
}
