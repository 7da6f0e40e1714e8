import { strict as assert } from 'node:assert';
import { UdfEngine } from '../../core/udf/index.ts';
import { rejects, view } from './helpers.ts';

describe('udf/pool', function () {
  it('queues calls beyond the pool size, recycles isolates after maxCalls, replaces dead ones', async () => {
    const engine = await UdfEngine.open({ poolSize: 1, maxCallsPerIsolate: 3, defaultTimeoutMs: 100 });
    try {
      await engine.register('p.js', `let calls = 0;
export function count(rec) { return ++calls; }
export function spin(rec, ms) { const end = Date.now() + ms; while (Date.now() < end) {} return ms; }
export function loop(rec) { for (;;) {} }`);
      const call = (fn: string, ...args: bigint[]) => engine.applyRecord({ module: 'p', fn, args }, view(undefined));
      // one isolate: two 60 ms calls run one after the other
      const started = Date.now();
      const both = await Promise.all([call('spin', 60n), call('spin', 60n)]);
      assert.ok(Date.now() - started >= 115, 'serialised');
      assert.deepEqual(both.map((r) => r.value), [60n, 60n]);
      // (spin leaves the counter alone: a synchronous run stopped at the end of its slice is run
      // again, and on a loaded machine the stop may land after the function's last statement)
      // module-level state lives as long as its isolate: the third call is the last of isolate 1,
      // the fourth starts a fresh isolate, whose state the fifth sees
      assert.equal((await call('count')).value, 1n);
      assert.equal((await call('count')).value, 1n);
      assert.equal((await call('count')).value, 2n);
      assert.equal(engine.poolStats('p')?.created, 2);
      await rejects(call('loop'));
      assert.equal((await call('count')).value, 1n, 'a fresh isolate after the timeout');
      assert.deepEqual({ ...engine.poolStats('p'), created: undefined }, { idle: 1, busy: 0, waiting: 0, replaced: 1, created: undefined });
    } finally {
      engine.close();
    }
  });
});
