/**
 * The fast call path: the binary call frames of the UDF host pipe survive any cutting of the
 * byte stream; record calls take isolated-vm's synchronous entry point and are run again
 * asynchronously when they overrun its time slice; record calls line up behind each other in a
 * busy sandbox (many per message to the UDF host) while aggregations keep a sandbox to themselves.
 */
import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { FrameReader, FrameWriter, readAnswer, readCall, type AnswerFrame, type CallFrame } from '../../core/udf/sandbox-host-protocol.ts';
import { Sandbox, type UdfSandbox } from '../../core/udf/sandbox.ts';
import { SandboxPool } from '../../core/udf/pool.ts';
import { UdfEngine } from '../../core/udf/index.ts';
import { rejects, view } from './helpers.ts';

const MODULE = `
let n = 0;
export function count(rec) { return ++n; }
export function spin(rec, ms) { const end = Date.now() + ms; while (Date.now() < end) {} return 'spun'; }
export function loop(rec) { for (;;) {} }
export function sum(stream) { return stream.map((r) => r.v).reduce((a, b) => a + b); }
`;

const request = (fn: string, args: unknown[] = []): string =>
  JSON.stringify({ op: 'record', fn, args, rec: { exists: false, bins: {}, doubles: [], gen: 0, ttl: 0, lut: 0, key: null, digest: '', set: 's', ns: 'test' } });

describe('udf/call-path', function () {
  this.timeout(30_000);

  describe('call pipe frames', () => {
    it('reads back every call and answer however the byte stream is cut', () => {
      fc.assert(fc.property(
        fc.array(fc.record({ sid: fc.nat(), timeoutMs: fc.nat({ max: 60_000 }), repeatable: fc.boolean(), runBy: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 2 ** 45 })), what: fc.string({ maxLength: 40 }), req: fc.string({ unit: 'grapheme', maxLength: 300 }) }), { minLength: 1, maxLength: 20 }),
        fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 30 }),
        (calls, cuts) => {
          const written: Buffer[] = [];
          const w = new FrameWriter((chunk) => written.push(chunk));
          calls.forEach((c, i) => w.call(i + 1, c.sid, c.timeoutMs, c.repeatable, c.what, c.req, c.runBy));
          const answers: AnswerFrame[] = [
            { id: 7, kind: 'result', out: '{"ok":true,"value":"é"}', heap: 123456789 },
            { id: 8, kind: 'error', error: { kind: 'db', code: 'UDF', resultCode: 100, message: 'boom' }, healthy: false, heap: -1 },
          ];
          for (const a of answers) w.answer(a);
          w.flush();
          const bytes = Buffer.concat(written);
          const got: Buffer[] = [];
          const r = new FrameReader((body) => got.push(Buffer.from(body)));
          let o = 0;
          for (let i = 0; o < bytes.length; i++) {
            const n = cuts[i % cuts.length] as number;
            r.push(bytes.subarray(o, o + n));
            o += n;
          }
          assert.equal(got.length, calls.length + answers.length);
          const back: CallFrame[] = got.slice(0, calls.length).map(readCall);
          assert.deepEqual(back, calls.map((c, i) => ({ id: i + 1, ...c })));
          assert.deepEqual(got.slice(calls.length).map(readAnswer), answers);
        },
      ), { numRuns: 200 });
    });

    it('never overwrites a chunk the socket kept: the writer reuses its buffer only when the write says it took the bytes', () => {
      fc.assert(fc.property(
        fc.array(fc.record({ reqs: fc.array(fc.string({ maxLength: 200 }), { minLength: 1, maxLength: 8 }), took: fc.boolean() }), { minLength: 1, maxLength: 12 }),
        (flushes) => {
          // each flush's chunk as it must read: copied at once when the writer may reuse the buffer, kept as is otherwise
          const seen: Array<{ chunk: Buffer; copy: Buffer }> = [];
          let took = false;
          const w = new FrameWriter((chunk) => {
            seen.push({ chunk, copy: Buffer.from(chunk) });
            return took;
          });
          let id = 0;
          for (const f of flushes) {
            for (const req of f.reqs) w.call(++id, 1, 1000, true, 'm.f', req);
            took = f.took;
            w.flush();
          }
          assert.equal(seen.length, flushes.length);
          // the chunks the socket kept still hold what was written, though frames were written after them
          seen.forEach((s, i) => {
            if (!(flushes[i] as { took: boolean }).took) assert.ok(s.chunk.equals(s.copy), `kept chunk ${i} was overwritten`);
          });
          const frames: CallFrame[] = [];
          const r = new FrameReader((body) => frames.push(readCall(body)));
          for (const s of seen) r.push(s.copy);
          assert.deepEqual(frames.map((c) => c.req), flushes.flatMap((f) => f.reqs));
        },
      ), { numRuns: 200 });
    });
  });

  describe('pool', () => {
    const fake = (n: number): UdfSandbox => ({
      module: { fileName: 'f.js', packageName: 'f', code: '' }, functions: ['f'], healthy: true, calls: n,
      call: () => Promise.resolve('{}'), heapUsed: () => 0, dispose: () => undefined,
    });
    const pool = (depth: number, stallMs: number) => {
      let made = 0;
      return new SandboxPool({ fileName: 'f.js', packageName: 'f', code: '' }, {
        memoryLimitMb: 8, loadTimeoutMs: 100, size: 2, maxCalls: 1000, acquireTimeoutMs: 20_000, depth, stallMs, create: () => Promise.resolve(fake(made++)),
      });
    };

    it('lines record calls up in busy sandboxes up to the depth, fewest calls first; exclusive takers wait for an idle one', async () => {
      const p = pool(3, 60_000);
      const a = await p.acquireShared();
      const b = await p.acquireShared();
      assert.notEqual(a, b);
      // both busy: shared calls line up, alternating, three per sandbox at most
      const lined = await Promise.all([p.acquireShared(), p.acquireShared(), p.acquireShared(), p.acquireShared()]);
      assert.deepEqual(lined.map((s) => (s === a ? 'a' : 'b')).sort(), ['a', 'a', 'b', 'b']);
      const waiting = p.acquireShared();
      const exclusive = p.acquire();
      assert.equal(p.stats().waiting, 2);
      p.release(a); // a: 2 calls left, so the waiting shared call lines up in it
      assert.equal(await waiting, a);
      for (const s of [...lined.filter((s) => s === b), b]) p.release(s);
      // b is idle now: the exclusive taker gets it, and nothing lines up behind it
      assert.equal(await exclusive, b);
      assert.equal(p.stats().waiting, 0);
      p.release(a); // a: 2 calls left, room for one more
      const next = await p.acquireShared();
      assert.equal(next, a);
      for (const s of [a, a, next, b]) p.release(s);
      assert.deepEqual(p.stats(), { idle: 2, busy: 0, waiting: 0, created: 2, replaced: 0 });
    });

    it('does not line calls up in a sandbox that has not finished a call for a while', async () => {
      const p = pool(32, 20);
      const a = await p.acquireShared();
      const b = await p.acquireShared();
      await new Promise((r) => setTimeout(r, 60));
      const waiting = p.acquireShared();
      assert.equal(p.stats().waiting, 1);
      p.release(b); // b is idle again: the waiter takes it
      assert.equal(await waiting, b);
      p.release(b);
      p.release(a);
    });
  });

  describe('sandbox entry points', () => {
    let s: Sandbox;
    beforeEach(async () => {
      s = await Sandbox.create({ fileName: 'cp.js', packageName: 'cp', code: MODULE }, { memoryLimitMb: 32, loadTimeoutMs: 1000, syncSliceMs: 20 });
    });
    afterEach(() => s.dispose());

    it('runs repeatable calls synchronously and others asynchronously, with the same answers', async () => {
      const a = JSON.parse(await s.call(request('count'), 1000, 'cp.count', { repeatable: true })) as { value: number };
      const b = JSON.parse(await s.call(request('count'), 1000, 'cp.count')) as { value: number };
      assert.deepEqual([a.value, b.value], [1, 2]);
      assert.equal(s.syncCalls, 1);
      assert.equal(s.rerunCalls, 0);
    });

    it('stops a call that overruns its slice and runs it again asynchronously with the time it has left; the function then skips the slice', async () => {
      const out = JSON.parse(await s.call(request('spin', [60]), 2000, 'cp.spin', { repeatable: true })) as { value: string };
      assert.equal(out.value, 'spun');
      assert.equal(s.rerunCalls, 1);
      assert.ok(s.healthy);
      await s.call(request('spin', [30]), 2000, 'cp.spin', { repeatable: true });
      assert.equal(s.syncCalls, 1, 'marked slow: no second slice');
      assert.equal(s.rerunCalls, 1);
      // other functions of the module keep the synchronous path
      await s.call(request('count'), 1000, 'cp.count', { repeatable: true });
      assert.equal(s.syncCalls, 2);
    });

    it('repeatable calls made while an asynchronous call runs wait for it, then take the synchronous path in order', async () => {
      // not repeatable: the asynchronous path; it is running as soon as call() returns
      const slow = s.call(request('spin', [50]), 2000, 'cp.spin');
      const quick = Array.from({ length: 5 }, () => s.call(request('count'), 1000, 'cp.count', { repeatable: true }));
      const values = (await Promise.all(quick)).map((out) => (JSON.parse(out) as { value: number }).value);
      assert.equal((JSON.parse(await slow) as { value: string }).value, 'spun');
      assert.deepEqual(values, [1, 2, 3, 4, 5]);
      assert.equal(s.syncCalls, 5, 'every repeatable call took the synchronous path');
      assert.equal(s.rerunCalls, 0);
    });

    it('record calls made with batch in one loop turn share isolate entries, answered in order', async () => {
      const outs = await Promise.all(Array.from({ length: 10 }, () => s.call(request('count'), 1000, 'cp.count', { repeatable: true, batch: true })));
      const values = outs.map((out) => (JSON.parse(out) as { value: number }).value);
      assert.equal(s.calls, 10);
      if (s.rerunCalls === 0) {
        assert.deepEqual(values, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        assert.ok(s.entries < 10, `${s.entries} isolate entries for 10 calls`);
      } else {
        // a loaded machine stopped one at the end of its (wall-time) slice: it ran again, the rest after it
        for (let i = 1; i < 10; i++) assert.ok((values[i] as number) > (values[i - 1] as number), values.join(','));
      }
    });

    it('a looping call still ends with its own time limit, counted from its start', async () => {
      const started = Date.now();
      const err = await rejects(s.call(request('loop'), 300, 'cp.loop', { repeatable: true }));
      const took = Date.now() - started;
      assert.match(err.message, /^UDF Execution Timeout: cp\.loop ran longer than 300 ms/);
      assert.ok(took >= 290, `${took} ms`);
      assert.equal(s.rerunCalls, 1);
      assert.ok(!s.healthy);
    });
  });

  for (const isolation of ['process', 'in-process'] as const) {
    describe(`engine [${isolation}]`, () => {
      let engine: UdfEngine;
      beforeEach(async () => {
        engine = await UdfEngine.open({ isolation, poolSize: 2 });
        await engine.register('cp.js', MODULE);
      });
      afterEach(() => engine.shutdown());

      it('lines record calls up in busy sandboxes: many in flight on two isolates, every answer right', async () => {
        const results = await Promise.all(Array.from({ length: 200 }, (_, i) =>
          engine.applyRecord({ module: 'cp', fn: 'count' }, view({ i: BigInt(i) })).then((r) => r.value)));
        // module state per isolate: each isolate counts its own calls 1, 2, 3 … with no gaps
        const counts = (results as bigint[]).map(Number).sort((a, b) => a - b);
        assert.equal(counts.length, 200);
        const perValue = new Map<number, number>();
        for (const c of counts) perValue.set(c, (perValue.get(c) ?? 0) + 1);
        const isolates = perValue.get(1) ?? 0;
        assert.ok(isolates >= 1 && isolates <= 2, `${isolates} isolates`);
        assert.equal(engine.poolStats('cp')?.created, isolates);
        assert.deepEqual({ ...engine.poolStats('cp'), created: 0 }, { idle: isolates, busy: 0, waiting: 0, created: 0, replaced: 0 });
      });

      it('a call bounded by when it must have stopped (runBy) ends by then, whatever its own limit; time before it runs comes out of it', async () => {
        // a cold engine: the first call waits for its sandbox to load, and that wait is charged
        const cold = await UdfEngine.open({ isolation, poolSize: 1 });
        try {
          await cold.register('cp.js', MODULE);
          const started = Date.now();
          const err = await rejects(cold.applyRecord({ module: 'cp', fn: 'loop', timeoutMs: 20_000, runBy: started + 400 }, view(undefined)));
          const took = Date.now() - started;
          const limit = Number(/ran longer than (\d+) ms/.exec(err.message)?.[1]);
          assert.ok(limit >= 1 && limit <= 400, `limit ${limit} ms (${err.message})`);
          assert.ok(took < 10_000, `ended after ${took} ms, its own limit was 20 s`);
          // a deadline already past: the call stops at once (limit 1 ms), the engine serves on
          const late = await rejects(cold.applyRecord({ module: 'cp', fn: 'loop', timeoutMs: 20_000, runBy: Date.now() - 5 }, view(undefined)));
          assert.match(late.message, /ran longer than 1 ms/);
          assert.equal(typeof (await cold.applyRecord({ module: 'cp', fn: 'count', runBy: Date.now() + 60_000 }, view(undefined))).value, 'bigint');
        } finally {
          await cold.shutdown();
        }
      });

      it('a long call does not collect the calls behind it; an aggregation keeps its sandbox to itself', async () => {
        // both isolates warm
        await Promise.all([0, 1].map(() => engine.applyRecord({ module: 'cp', fn: 'spin', args: [30n] }, view(undefined))));
        assert.equal(engine.poolStats('cp')?.created, 2);
        const long = engine.applyRecord({ module: 'cp', fn: 'spin', args: [1500n], timeoutMs: 5000 }, view(undefined));
        await new Promise((r) => setTimeout(r, 50));
        const started = Date.now();
        const quick = await Promise.all(Array.from({ length: 20 }, () => engine.applyRecord({ module: 'cp', fn: 'count' }, view(undefined))));
        assert.equal(quick.length, 20);
        assert.ok(Date.now() - started < 1000, `quick calls waited ${Date.now() - started} ms behind the long one`);
        assert.equal((await long).value, 'spun');
        const batches = [[{ v: 1n }, { v: 2n }], [{ v: 3n }]];
        const [agg, rec] = await Promise.all([engine.runAggregation({ module: 'cp', fn: 'sum' }, batches), engine.applyRecord({ module: 'cp', fn: 'count' }, view(undefined))]);
        assert.deepEqual(agg, [6n]);
        assert.equal(typeof rec.value, 'bigint');
      });
    });
  }
});
