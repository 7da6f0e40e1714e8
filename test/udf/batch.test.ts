/**
 * Record calls run in batches: the UDF host runs the record calls lined up in a sandbox back to
 * back in one synchronous entry into the isolate (Sandbox.runBatch). Every call gets its own
 * answer, in order; a batch starts no call once half its slice has passed; a call still running
 * at the end of the slice is stopped (the answers before it are kept) and run again on its own;
 * a memory blow-up breaks the sandbox. The record's call state (aerospike.update on the record
 * a UDF was given) still follows the record object, also across calls.
 */
import { strict as assert } from 'node:assert';
import { Sandbox, type BatchCall } from '../../core/udf/sandbox.ts';
import { UdfEngine } from '../../core/udf/index.ts';
import { view } from './helpers.ts';

const MODULE = `
let n = 0;
let kept = null;
export function count(rec) { return ++n; }
export function spin(rec, ms) { const end = Date.now() + ms; while (Date.now() < end) {} return 'spun'; }
export function boom(rec) { const a = []; for (;;) a.push(new Array(1e6).fill(1)); }
export function keep(rec) { kept = rec; return 1; }
export function updateKept(rec) { rec.v = 2; return aerospike.update(kept); }
export function notARecord(rec) { return aerospike.update({ v: 1 }); }
`;

const request = (fn: string, args: unknown[] = []): string =>
  JSON.stringify({ op: 'record', fn, args, rec: { exists: true, bins: { v: 1 }, doubles: [], gen: 1, ttl: 0, lut: 0, key: null, digest: '', set: 's', ns: 'test' } });
const call = (fn: string, args: unknown[] = [], timeoutMs = 2000): BatchCall => ({ req: request(fn, args), timeoutMs, what: `b.${fn}` });

type Outcome = { value?: unknown; error?: string };

/** Runs calls as the UDF host does: batches while they are batchable, a stopped call run again, the rest one by one. */
async function drive(s: Sandbox, calls: readonly BatchCall[]): Promise<{ outcomes: Outcome[]; batches: number[] }> {
  const outcomes: Outcome[] = [];
  const batches: number[] = [];
  const answer = (json: string): Outcome => {
    const r = JSON.parse(json) as { ok: boolean; value?: unknown; error?: { message: string } };
    return r.ok ? { value: r.value } : { error: r.error?.message ?? '' };
  };
  let i = 0;
  while (i < calls.length) {
    const c = calls[i] as BatchCall;
    if (!s.batchable(c)) {
      try {
        outcomes.push(answer(await s.call(c.req, c.timeoutMs, c.what, { repeatable: true })));
      } catch (err) {
        outcomes.push({ error: (err as Error).message });
      }
      i++;
      continue;
    }
    let j = i;
    while (j < calls.length && s.batchable(calls[j] as BatchCall)) j++;
    const batch = calls.slice(i, j);
    try {
      const out = s.runBatch(batch);
      batches.push(out.answers.length);
      for (const a of out.answers) outcomes.push(answer(a));
      i += out.answers.length;
      if (out.overran !== undefined) {
        assert.ok(out.overran.ranMs >= 0 && out.overran.ranMs <= 20, `ran ${out.overran.ranMs} ms`);
        try {
          outcomes.push(answer(await s.rerun(calls[i] as BatchCall, out.overran.ranMs)));
        } catch (err) {
          outcomes.push({ error: (err as Error).message });
        }
        i++;
      }
    } catch (err) {
      // the isolate died: every call of the batch fails
      for (let k = i; k < j; k++) outcomes.push({ error: (err as Error).message });
      i = j;
    }
  }
  return { outcomes, batches };
}

describe('udf/batch', function () {
  this.timeout(30_000);
  let s: Sandbox;
  let n = 0;
  beforeEach(async () => {
    // a file name of its own per test: slow marks are kept per module file, and a function one
    // test's loaded machine marked slow must not change the next test's path
    s = await Sandbox.create({ fileName: `b${++n}.js`, packageName: 'b', code: MODULE }, { memoryLimitMb: 32, loadTimeoutMs: 2000, syncSliceMs: 20 });
  });
  afterEach(() => s.dispose());

  it('answers every call of a batch, in order, many in one entry', async () => {
    const { outcomes, batches } = await drive(s, Array.from({ length: 40 }, () => call('count')));
    if (s.rerunCalls === 0) assert.deepEqual(outcomes, Array.from({ length: 40 }, (_, i) => ({ value: i + 1 })));
    else {
      // a loaded machine stopped a call at the end of its slice (the slice is wall time) and it
      // ran again: module state keeps what the stopped run did, so a count may be skipped
      const values = outcomes.map((o) => o.value as number);
      assert.equal(values.length, 40);
      for (let i = 1; i < 40; i++) assert.ok((values[i] as number) > (values[i - 1] as number), `in order: ${values.join(',')}`);
      assert.ok((values[39] as number) >= 40 && (values[39] as number) <= 40 + s.rerunCalls, `last ${values[39]}, reruns ${s.rerunCalls}`);
    }
    assert.ok(batches.length < 40, `batches ${JSON.stringify(batches)}`);
    assert.equal(s.calls, 40);
  });

  it('errors stay with their call: a call that throws, a function that is not exported', async () => {
    const { outcomes } = await drive(s, [call('count'), call('notARecord'), call('nope'), call('count')]);
    assert.deepEqual([outcomes[0], outcomes[3]], [{ value: 1 }, { value: 2 }]);
    assert.match(outcomes[1]?.error ?? '', /expected the record passed to the UDF/);
    assert.match(outcomes[2]?.error ?? '', /function 'nope' is not exported/);
  });

  it('the record state follows the record object, also one kept from an earlier call', async () => {
    const answers: string[] = [];
    // as many batches as the machine's pace takes (a batch starts no call past half its slice)
    for (const c of [call('keep'), call('updateKept')]) {
      for (let out = s.runBatch([c]); ; out = s.runBatch([c])) {
        if (out.answers.length > 0) { answers.push(out.answers[0] as string); break; }
        if (out.overran !== undefined) { answers.push(await s.rerun(c, out.overran.ranMs)); break; }
      }
    }
    const second = JSON.parse(answers[1] as string) as { ok: boolean; value: number; effect: { t: string } };
    // the kept record (from the first call) is updated, not the second call's: its effect stays none
    assert.equal(second.ok, true);
    assert.equal(second.value, 0);
    assert.equal(second.effect.t, 'none');
  });

  it('starts no call once half the slice has passed: the rest go in the next batches', async () => {
    const calls = Array.from({ length: 10 }, () => call('spin', [4]));
    const { outcomes, batches } = await drive(s, calls);
    assert.deepEqual(outcomes, calls.map(() => ({ value: 'spun' })));
    assert.ok((batches[0] as number) < 10, `batches ${JSON.stringify(batches)}`);
  });

  it('a call that overruns the slice is stopped, the answers before it kept, and it runs again on its own with the time it has left', async () => {
    // long enough that it cannot finish within the slice however the machine schedules it
    const calls = [call('count'), call('count'), call('spin', [500]), call('count')];
    const { outcomes } = await drive(s, calls);
    assert.deepEqual(outcomes, [{ value: 1 }, { value: 2 }, { value: 'spun' }, { value: 3 }]);
    assert.ok(s.rerunCalls >= 1);
    assert.ok(s.healthy);
  });

  it('a looping call ends with its own time limit', async () => {
    const started = Date.now();
    const { outcomes } = await drive(s, [call('count'), call('spin', [60_000], 600)]);
    assert.deepEqual(outcomes[0], { value: 1 });
    assert.match(outcomes[1]?.error ?? '', /^UDF Execution Timeout: b\.spin ran longer than 600 ms/);
    assert.ok(Date.now() - started >= 570, `${Date.now() - started} ms`);
    assert.ok(!s.healthy);
  });

  it('a memory blow-up breaks the sandbox and fails the call', async () => {
    const { outcomes } = await drive(s, [call('boom'), call('count')]);
    assert.match(outcomes[0]?.error ?? '', /memory limit/);
    assert.ok(!s.healthy);
    assert.match(outcomes[1]?.error ?? '', /memory limit|is gone/);
  });

  it('through the engine in process mode: many calls in flight, some slow, every answer right', async () => {
    const engine = await UdfEngine.open({ isolation: 'process', poolSize: 2 });
    try {
      await engine.register('b.js', MODULE);
      const results = await Promise.all(Array.from({ length: 150 }, (_, i) =>
        engine.applyRecord({ module: 'b', fn: i % 50 === 7 ? 'spin' : 'count', args: i % 50 === 7 ? [30n] : [] }, view({ v: 1n })).then((r) => r.value)));
      assert.equal(results.filter((v) => v === 'spun').length, 3);
      // module state per isolate: each isolate counts its own calls 1, 2, 3 … with no gaps
      const counts = results.filter((v) => v !== 'spun').map(Number).sort((a, b) => a - b);
      const seen = new Map<number, number>();
      for (const c of counts) seen.set(c, (seen.get(c) ?? 0) + 1);
      const isolates = seen.get(1) ?? 0;
      assert.ok(isolates >= 1 && isolates <= 2, `${isolates} isolates`);
      assert.equal(counts.length, 147);
    } finally {
      await engine.shutdown();
    }
  });
});
