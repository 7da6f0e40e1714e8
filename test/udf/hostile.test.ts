import { strict as assert } from 'node:assert';
import type { BinValue, Bins } from '../../core/model/index.ts';
import { UdfEngine } from '../../core/udf/index.ts';
import { rejects, view } from './helpers.ts';

const HOSTILE = `
export function loop(rec) { for (;;) {} }
export function ctorChain(rec) { return rec.constructor.constructor('return typeof process + typeof require + typeof Buffer')(); }
export function fnGlobal(rec) { const g = Function('return this')(); return Object.getOwnPropertyNames(g).sort(); }
export function probe(rec) {
  const out = [];
  for (const name of ['process', 'require', 'module', 'Buffer', 'setTimeout', 'setImmediate', 'queueMicrotask', 'fetch', 'console',
    'SharedArrayBuffer', 'Atomics', 'WebAssembly', 'ivm', '_ivm', 'global', 'WeakRef', 'FinalizationRegistry']) {
    if (typeof globalThis[name] !== 'undefined') out.push(name);
  }
  return out;
}
export function pollute(rec) { Object.prototype.polluted = 'yes'; return 1; }
export function polluteRec(rec) { rec.__proto__.polluted = 'yes'; return 1; }
export function polluteArray(rec) { Array.prototype.push = () => 0; return 1; }
export function polluteJson(rec) { JSON.stringify = () => '{"ok":true,"value":"pwned"}'; return 1; }
export function isPolluted(rec) { return [({}).polluted === undefined, typeof [].push, JSON.stringify([1])]; }
export function dynImport(rec) { return import('node:fs'); }
export function atomics(rec) { return Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); }
export function hugeString(rec) { return 'x'.repeat(2 ** 27).split('').length; }
export function spreadString(rec) { return [...'.'.repeat(1e9)].length; }
export function hugeArray(rec) { const a = []; for (;;) a.push(new Array(4e6).fill(a.length + 0.5)); }
export function recurse(rec) { const r = (n) => r(n + 1) + 1; return r(0); }
export function getterLoop(rec) { return { get x() { for (;;) {} } }; }
export function proxyLoop(rec) { return new Proxy({}, { ownKeys() { for (;;) {} } }); }
export function evalLoop(rec) { return eval('for(;;){}'); }
export function ok(rec) { return 'still here'; }
export function mapLoop(stream) { return stream.map((r) => { for (;;) {} }); }
export function reduceLoop(stream) { return stream.map((r) => 1).reduce((a, b) => { if (a >= 2) for (;;) {} return a + b; }); }
export function aggMemory(stream) { return stream.aggregate([], (acc, r) => { for (let i = 0; i < 256; i++) acc.push(new Array(1 << 18).fill(i)); return acc; }); }
`;

/**
 * Either isolated-vm stops the isolate at its limit, or (under load) V8 aborts on the allocation
 * or the host misses its deadline inside one long builtin: then only the UDF host process goes
 * (the default isolation), the call fails with UDF 100 all the same and the next call runs on a
 * fresh host.
 */
const oom = (re: RegExp): RegExp => new RegExp(`${re.source}|the UDF host process (died|did not answer)`);

describe('udf/hostile', function () {
  this.timeout(20_000);
  let engine: UdfEngine;
  const hostBefore = Object.getOwnPropertyNames(Object.prototype).length;
  before(async () => {
    engine = await UdfEngine.open({ poolSize: 1, memoryLimitMb: 32, defaultTimeoutMs: 150, maxTimeoutMs: 1000 });
    await engine.register('evil.js', HOSTILE);
  });
  after(() => engine.close());
  const call = (fn: string, bins: Bins = { a: 1n }, timeoutMs?: number) =>
    engine.applyRecord({ module: 'evil', fn, ...(timeoutMs === undefined ? {} : { timeoutMs }) }, view(bins));
  const fails = async (fn: string, re: RegExp, timeoutMs?: number) => {
    const err = await rejects(call(fn, { a: 1n }, timeoutMs));
    assert.equal(err.resultCode, 100, `${fn}: ${err.message}`);
    assert.match(err.message, re, `${fn}: ${err.message}`);
    return err;
  };

  it('infinite loops end with a timeout and the isolate is replaced', async () => {
    const before = engine.poolStats('evil')?.replaced ?? 0;
    const started = Date.now();
    await fails('loop', /^UDF Execution Timeout: evil\.loop ran longer than 150 ms/);
    assert.ok(Date.now() - started < 1000);
    // a requested timeout above the maximum is capped
    const capped = Date.now();
    await fails('loop', /longer than 1000 ms/, 60_000);
    assert.ok(Date.now() - capped < 2500);
    await fails('evalLoop', /Timeout/);
    await fails('getterLoop', /Timeout/);
    await fails('proxyLoop', /Timeout/);
    assert.equal((engine.poolStats('evil')?.replaced ?? 0) - before, 5);
    assert.equal((await call('ok')).value, 'still here');
  });

  it('constructor chains, Function and globalThis probing find no host', async () => {
    assert.equal((await call('ctorChain')).value, 'undefinedundefinedundefined');
    const globals = (await call('fnGlobal')).value as string[];
    for (const name of ['process', 'require', 'Buffer', 'setTimeout', 'console', 'SharedArrayBuffer', 'Atomics', 'WebAssembly']) {
      assert.ok(!globals.includes(name), name);
    }
    assert.ok(globals.includes('aerospike') && globals.includes('record'));
    assert.deepEqual((await call('probe')).value, []);
  });

  it('prototype pollution fails and leaves the sandbox and the host clean', async () => {
    await fails('pollute', /Cannot add property polluted, object is not extensible/);
    await fails('polluteRec', /Cannot add property polluted/);
    await fails('polluteArray', /Cannot assign to read only property 'push'/);
    await fails('polluteJson', /Cannot assign to read only property 'stringify'/);
    assert.deepEqual((await call('isPolluted')).value, [true, 'function', '[1]']);
    assert.equal(Object.getOwnPropertyNames(Object.prototype).length, hostBefore);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it('import(), Atomics.wait, huge strings and arrays, deep recursion', async () => {
    await fails('dynImport', /dynamic import\(\) is not supported/);
    await fails('atomics', /ReferenceError: (Atomics|SharedArrayBuffer) is not defined/);
    await fails('hugeString', oom(/memory limit/));
    await fails('spreadString', /RangeError: Invalid string length/);
    await fails('hugeArray', oom(/exceeded its memory limit: evil\.hugeArray used more than 32 MiB/), 1000);
    // (time enough to overflow the stack on a loaded machine)
    await fails('recurse', /RangeError: Maximum call stack size exceeded/, 5000);
    assert.equal((await call('ok')).value, 'still here');
  });

  it('infinite loops in map and reduce and memory blow-ups end aggregations', async () => {
    const batches: Bins[][] = [[{ n: 1n }, { n: 2n }], [{ n: 3n }]];
    const agg = (fn: string, timeoutMs = 200): Promise<BinValue[]> => engine.runAggregation({ module: 'evil', fn, timeoutMs }, batches);
    const started = Date.now();
    assert.match((await rejects(agg('mapLoop'))).message, /^UDF Execution Timeout: aggregation evil\.mapLoop/);
    assert.match((await rejects(agg('reduceLoop'))).message, /^UDF Execution Timeout: aggregation evil\.reduceLoop/);
    // ended by their 200 ms limits, not by the test's timeout (generous: a loaded machine is slow to stop an isolate)
    assert.ok(Date.now() - started < 10_000);
    // a sandbox ready again first (replacing the ones the loops broke takes a while on a loaded
    // machine, and that wait would come out of the blow-up's time)
    assert.equal((await call('ok')).value, 'still here');
    // time enough to reach the memory limit on a loaded machine (the limit ends it well before)
    assert.match((await rejects(agg('aggMemory', 15_000))).message, oom(/memory limit/));
    assert.equal((await call('ok')).value, 'still here');
  });

  it('the host keeps serving while a UDF misbehaves', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    await fails('loop', /Timeout/);
    clearInterval(timer);
    assert.ok(ticks >= 5, `${ticks} ticks`);
  });
});
