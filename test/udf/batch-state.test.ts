/**
 * What the sandbox runtime reports about a batch that was stopped (batchPartial): the answers of
 * that batch only. On a busy machine a batch's time slice can end before the isolate has run a
 * line of it; it must then read as not started (every call is run again), never as the answers
 * of the batch before — those would be handed to other calls (another record's result and
 * effect), or to more calls than the batch had.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import vm from 'node:vm';

interface Runtime {
  install(ns: unknown, name: string): void;
  dispatchBatch(joined: string, budgetMs: number, seq: number): string;
  batchPartial(seq: number): string;
}

describe('udf/batch state', function () {
  it('reads a batch stopped before it began as not started, not as the batch before', () => {
    // the trusted runtime itself, in a context of its own (it is plain JavaScript)
    const source = readFileSync(new URL('../../core/udf/sandbox-runtime.js', import.meta.url), 'utf8');
    const context = vm.createContext({});
    const rt = vm.runInContext(source, context) as Runtime;
    rt.install(vm.runInContext('({ add(rec, n) { return n + 1; } })', context), 'b');
    const req = (n: number): string => JSON.stringify({ op: 'record', fn: 'add', args: [n], rec: { exists: false, bins: {}, gen: 0, ttl: 0, lut: 0, key: null, digest: '', set: 's', ns: 'test' } });
    const out = rt.dispatchBatch([req(1), req(2), req(3)].join('\n'), 1000, 1).split('\n').map((a) => (JSON.parse(a) as { value: number }).value);
    assert.deepEqual(out, [2, 3, 4]);
    // batch 2 was stopped before its first line ran: nothing of batch 1 comes back as its answers
    assert.equal(rt.batchPartial(2), '-2 0');
    // batch 1 itself (stopped after its last call) still says what it finished
    const partial = rt.batchPartial(1).split('\n');
    assert.equal(partial[0]?.split(' ')[0], '-1');
    assert.equal(partial.length - 1, 3);
  });
});
