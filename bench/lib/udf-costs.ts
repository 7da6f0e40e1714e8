/**
 * The per-call cost model of a record UDF, piece by piece, in one process (no network):
 * - the steps of one call, each timed alone: encoding the request, isolated-vm's entry (with
 *   and without the time limit's timer), the runtime's work inside the isolate, a sandbox call
 *   and a batch, framing for the call pipe, reading the answer;
 * - what a call costs in CPU (this process plus the UDF host process) and wall time,
 *   sequentially and with many calls in flight, in each isolation mode;
 * - through the kernel (record lock, read, write back): a plain put, the same read-modify-write
 *   without a UDF, and the record UDF, 64 in flight on 1,000 keys.
 * CPU per call is steadier than wall time on a shared machine.
 * - section `ab` (with BASE=<another checkout>, e.g. an archive of main with node_modules linked):
 *   the kernel + record UDF row of both checkouts in one process, rounds alternating (ROUNDS,
 *   default 7; ISOLATION in-process or process), min / median CPU per call of each, and how many
 *   calls took the asynchronous way in (in-process) — an A/B that a loaded machine cannot skew
 *   towards one side.
 * Run: node --no-node-snapshot bench/lib/udf-costs.ts [calls] [sections: steps,engine,kernel,ab]
 */
import { readFileSync } from 'node:fs';
import ivm from 'isolated-vm';
import { UdfEngine } from '../../core/udf/index.ts';
import { recordRequest, recordResult, type UdfIsolation } from '../../core/udf/engine.ts';
import { Sandbox } from '../../core/udf/sandbox.ts';
import { FrameReader, FrameWriter, readCall } from '../../core/udf/sandbox-host-protocol.ts';
import type { RecordView } from '../../core/udf/calls.ts';
import { executeRecordUdf } from '../../core/udf/kernel-bridge.ts';
import { makeKey, NAMESPACE_DEFAULTS } from '../../core/model/index.ts';
import { Kernel } from '../../core/transaction/kernel.ts';
import { DEFAULT_WRITE_POLICY } from '../../core/transaction/policy.ts';
import { Namespace } from '../../core/storage/namespace.ts';
import { GuardedEngine } from '../../core/storage/guarded-engine.ts';
import { singleNodeRouter } from '../../core/transaction/routing.ts';
import { memoryStorage } from '../../plugins/storage-memory/index.ts';
import { silentLogger, type Clock } from '../../core/plugin-api/index.ts';
import { cpuMicros } from './process-cpu.ts';

const CALLS = Number(process.argv[2] ?? 20_000);
const SECTIONS = new Set((process.argv[3] ?? 'steps,engine,kernel').split(','));
const MODULE = 'export function incr(rec, n) { rec.count = (rec.count ?? 0) + n; aerospike.update(rec); return rec.count; }';

/** CPU seconds used by a process (user + system), from /proc. */
function procCpu(pid: number): number {
  try {
    return cpuMicros(pid) / 1e6;
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

// the steps of one call, each alone (sequential, this process only)
if (SECTIONS.has('steps')) {
  // each step runs once unmeasured first, so that the measured run is of optimised code
  const step = async (label: string, n: number, fn: () => Promise<void>): Promise<void> => {
    await fn();
    await measure(label, n, fn);
  };
  const view: RecordView = { key: makeKey('test', 'bench', 7n), exists: true, bins: { count: 41n }, meta: { generation: 3, voidTime: 0, lastUpdateMs: 1_765_000_000_000 } };
  const call = { module: 'bench', fn: 'incr', args: [1n] };
  const req = recordRequest(call, view, Date.now());
  await step('step: encode the request (node)', CALLS, async () => {
    for (let i = 0; i < CALLS; i++) recordRequest(call, view, Date.now());
  });
  const isolate = new ivm.Isolate({ memoryLimit: 64 });
  const context = await isolate.createContext();
  const runtime = await isolate.compileScript(readFileSync(new URL('../../core/udf/sandbox-runtime.js', import.meta.url), 'utf8'));
  const api = (await runtime.run(context, { reference: true })) as ivm.Reference<Record<string, unknown>>;
  const dispatch = (await api.get('dispatch', { reference: true })) as ivm.Reference<(s: string) => string>;
  const install = (await api.get('install', { reference: true })) as ivm.Reference<(ns: unknown, name: string) => void>;
  const mod = await isolate.compileModule(MODULE);
  await mod.instantiate(context, () => { throw new Error('no imports'); });
  await mod.evaluate();
  await install.apply(undefined, [mod.namespace.derefInto(), 'bench']);
  const echo = (await context.eval('(s) => s', { reference: true })) as ivm.Reference<(s: string) => string>;
  await step('step: isolated-vm applySync, echo the request, no time limit', CALLS, async () => {
    for (let i = 0; i < CALLS; i++) echo.applySync(undefined, [req]);
  });
  await step('step: isolated-vm applySync, echo, with a time limit (its timer)', CALLS, async () => {
    for (let i = 0; i < CALLS; i++) echo.applySync(undefined, [req], { timeout: 1000 });
  });
  await step('step: runtime dispatch in the isolate, no time limit', CALLS, async () => {
    for (let i = 0; i < CALLS; i++) dispatch.applySync(undefined, [req]);
  });
  const answer = dispatch.applySync(undefined, [req]);
  isolate.dispose();
  const sandbox = await Sandbox.create({ fileName: 'bench.js', packageName: 'bench', code: MODULE }, { memoryLimitMb: 64, loadTimeoutMs: 1000 });
  await step('step: Sandbox.call (one synchronous entry, with timer)', CALLS, async () => {
    for (let i = 0; i < CALLS; i++) await sandbox.call(req, 1000, 'bench.incr', { repeatable: true });
  });
  const batch = Array.from({ length: 32 }, () => ({ req, timeoutMs: 1000, what: 'bench.incr' }));
  await step('step: Sandbox.runBatch, 32 calls per entry (per call)', CALLS, async () => {
    for (let i = 0; i < CALLS; i += 32) sandbox.runBatch(batch);
  });
  sandbox.dispose();
  let frames = 0;
  const reader = new FrameReader((body) => { readCall(body); frames++; });
  const writer = new FrameWriter((chunk) => {
    reader.push(chunk);
    return true;
  });
  await step('step: call pipe framing, write + read one call frame', CALLS, async () => {
    frames = 0;
    for (let i = 0; i < CALLS; i++) {
      writer.call(i, 1, 1000, true, 'bench.incr', req);
      if (i % 32 === 31) writer.flush();
    }
    writer.flush();
  });
  if (frames !== CALLS) throw new Error(`framing lost calls: ${frames}`);
  await step('step: read the answer (parse, decode value and effect)', CALLS, async () => {
    for (let i = 0; i < CALLS; i++) {
      recordResult(JSON.parse(answer) as unknown[], 'bench.incr', view.bins);
    }
  });
}

if (SECTIONS.has('engine')) {
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
}

// through the kernel: lock, read, write back; 64 in flight on 1,000 keys
if (SECTIONS.has('kernel')) {
  const clock = { now: () => Date.now() } as unknown as Clock;
  const cfg = { name: 'test', storage: 'storage-memory', ...NAMESPACE_DEFAULTS };
  const storage = await memoryStorage().create({ nodeId: 1n, logger: silentLogger, clock, signal: new AbortController().signal }, cfg, {});
  const k = new Kernel({ namespaces: [new Namespace(cfg, new GuardedEngine(storage, 'storage-memory'))], clock, router: singleNodeRouter(1n), logger: silentLogger });
  const keys = Array.from({ length: 1000 }, (_, i) => k.key('test', 'u', BigInt(i)));
  const inFlight = async (n: number, f: (i: number) => Promise<unknown>): Promise<void> => {
    let next = 0;
    await Promise.all(Array.from({ length: 64 }, async () => {
      while (next < n) await f(next++);
    }));
  };
  await inFlight(CALLS, (i) => k.put(keys[i % 1000] as ReturnType<typeof k.key>, { count: BigInt(i) }));
  await measure('kernel put, 64 in flight', CALLS, () => inFlight(CALLS, (i) => k.put(keys[i % 1000] as ReturnType<typeof k.key>, { count: BigInt(i) })));
  await measure('kernel read-modify-write (count + 1, no UDF), 64 in flight', CALLS, () => inFlight(CALLS, (i) => k.mutate(keys[i % 1000] as ReturnType<typeof k.key>, DEFAULT_WRITE_POLICY, (cur) => ({
    mutation: { kind: 'write', bins: { count: (typeof cur?.bins.count === 'bigint' ? cur.bins.count : 0n) + 1n }, create: cur === undefined }, value: null,
  }))));
  for (const isolation of ['in-process', 'process'] as UdfIsolation[]) {
    const engine = await UdfEngine.open({ isolation, poolSize: 2 });
    await engine.register('bench.js', MODULE);
    const udf = (i: number) => executeRecordUdf(k, engine, keys[i % 1000] as ReturnType<typeof k.key>, { module: 'bench', fn: 'incr', args: [1n] });
    await inFlight(2000, udf); // warm
    await measure(`kernel + record UDF, 64 in flight [${isolation}]`, CALLS, () => inFlight(CALLS, udf), engine.host?.pid);
    await engine.shutdown();
  }
}

// the kernel + record UDF row of this checkout and of BASE, alternating
if (SECTIONS.has('ab')) {
  const base = process.env['BASE'];
  if (base === undefined) throw new Error('section ab needs BASE=<another checkout>');
  const isolation = (process.env['ISOLATION'] ?? 'in-process') as UdfIsolation;
  const rounds = Number(process.env['ROUNDS'] ?? 7);
  const here = new URL('../../', import.meta.url).pathname;
  const side = async (root: string) => {
    const at = (path: string): string => new URL(path, `file://${root.endsWith('/') ? root : `${root}/`}`).href;
    const { Kernel: K } = await import(at('core/transaction/kernel.ts')) as typeof import('../../core/transaction/kernel.ts');
    const { Namespace: Ns } = await import(at('core/storage/namespace.ts')) as typeof import('../../core/storage/namespace.ts');
    const { GuardedEngine: G } = await import(at('core/storage/guarded-engine.ts')) as typeof import('../../core/storage/guarded-engine.ts');
    const { singleNodeRouter: router } = await import(at('core/transaction/routing.ts')) as typeof import('../../core/transaction/routing.ts');
    const { memoryStorage: mem } = await import(at('plugins/storage-memory/index.ts')) as typeof import('../../plugins/storage-memory/index.ts');
    const { UdfEngine: E } = await import(at('core/udf/index.ts')) as typeof import('../../core/udf/index.ts');
    const { executeRecordUdf: exec } = await import(at('core/udf/kernel-bridge.ts')) as typeof import('../../core/udf/kernel-bridge.ts');
    const clock = { now: () => Date.now() } as unknown as Clock;
    const cfg = { name: 'test', storage: 'storage-memory', ...NAMESPACE_DEFAULTS };
    const storage = await mem().create({ nodeId: 1n, logger: silentLogger, clock, signal: new AbortController().signal }, cfg, {});
    const k = new K({ namespaces: [new Ns(cfg, new G(storage, 'storage-memory'))], clock, router: router(1n), logger: silentLogger });
    const engine = await E.open({ isolation, poolSize: 2 });
    await engine.register('bench.js', MODULE);
    const keys = Array.from({ length: 1000 }, (_, i) => k.key('test', 'u', BigInt(i)));
    const run = async (n: number): Promise<void> => {
      let next = 0;
      await Promise.all(Array.from({ length: 64 }, async () => {
        while (next < n) await exec(k, engine, keys[next++ % 1000] as ReturnType<typeof k.key>, { module: 'bench', fn: 'incr', args: [1n] });
      }));
    };
    await run(5000); // warm
    return { root, engine, run, cpu: [] as number[] };
  };
  const sides = [await side(base), await side(here)];
  for (let r = 0; r < rounds; r++) {
    for (const s of r % 2 === 0 ? sides : [...sides].reverse()) {
      const pid = s.engine.host?.pid;
      const c0 = selfCpu();
      const h0 = pid === undefined ? 0 : procCpu(pid);
      await s.run(CALLS);
      s.cpu.push(((selfCpu() - c0 + (pid === undefined ? 0 : procCpu(pid) - h0)) * 1e6) / CALLS);
    }
  }
  for (const s of sides) {
    const sorted = [...s.cpu].sort((a, b) => a - b);
    let calls = 0;
    let sync = 0;
    // in-process: the sandboxes are here, and say how many calls took the synchronous way in
    for (const pool of (s.engine as unknown as { pools: Map<string, { idle: Array<{ calls: number; syncCalls?: number }> }> }).pools.values()) {
      for (const sb of pool.idle) {
        calls += sb.calls;
        sync += sb.syncCalls ?? sb.calls;
      }
    }
    const asyncNote = isolation === 'in-process' ? `, asynchronous ${calls - sync} of ${calls} calls` : '';
    console.log(`kernel + record UDF [${isolation}] ${s.root === here ? 'this checkout' : `BASE ${s.root}`}: CPU/call min ${sorted[0]?.toFixed(1)} median ${sorted[Math.floor(sorted.length / 2)]?.toFixed(1)} µs over ${rounds} rounds${asyncNote}`);
    await s.engine.shutdown();
  }
}
