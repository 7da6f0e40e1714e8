/**
 * Expression parity, continued: the record-size metadata (Aerospike's record_size, device_size
 * and memory_size) with the stored size reaching the evaluator, and HLL reads inside expressions
 * (Aerospike's HLLExp) — evaluation, JSON both ways, the Aerospike wire opcodes, AQL, and a filter
 * on a real node.
 */
import { strict as assert } from 'node:assert';
import { bin, cdtRead, cmp, lit, meta } from '../../core/query/expr/ast.ts';
import { encodeBins, type BinValue, Hll } from '../../core/model/index.ts';
import { evaluate, type EvalContext } from '../../core/query/expr/eval.ts';
import { exprFromJsonText, exprToJsonText } from '../../core/query/expr/json.ts';
import { applyHllOp } from '../../core/transaction/hll-ops.ts';
import { wireExpr } from '../../core/server/aerospike/expressions.ts';
import { DbError } from '../../core/errors/index.ts';
import { startTestNode, type TestNode } from '../helpers/node-harness.ts';

const ctx = (bins: EvalContext['bins'], storedBytes?: number): EvalContext => ({
  bins, meta: { generation: 1, voidTime: 0, lastUpdateMs: 0 }, set: '', digest: new Uint8Array(20), keyExists: false, nowMs: 0,
  ...(storedBytes === undefined ? {} : { storedBytes }),
});

describe('query/expr record size and HLL reads', function () {
  let t: TestNode;
  before(async () => { t = await startTestNode(); });
  after(async () => { await t?.stop(); });

  it('recordSize is the stored size when the caller has it, else the encoded bins', () => {
    const bins = { a: 'x'.repeat(100), n: 5n };
    assert.equal(evaluate(meta('recordSize'), ctx(bins)), BigInt(encodeBins(bins).length));
    assert.equal(evaluate(meta('recordSize'), ctx(bins, 4242)), 4242n);
    const e = cmp('>', meta('recordSize'), lit(50n));
    assert.deepEqual(exprFromJsonText(exprToJsonText(e)), e);
    // Aerospike's wire opcodes: [74] record_size, [65] device_size, [73] memory_size
    for (const code of [0x41, 0x49, 0x4a]) assert.deepEqual(wireExpr(Buffer.from([0x91, code])), meta('recordSize'));
  });

  it('filters by record size on a node, with the size of what storage holds', async () => {
    const k = (key: string) => ({ namespace: 'test', set: 'sz', key });
    await t.client.put(k('small'), { v: 'x' });
    await t.client.put(k('big'), { v: 'x'.repeat(5000) });
    const filter = cmp('>', meta('recordSize'), lit(1000n));
    await t.client.get(k('big'), { filter });
    const err = await t.client.get(k('small'), { filter }).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof DbError && err.resultCode === 27, `FILTERED_OUT, got ${String(err)}`);
  });

  it('reads HLLs inside expressions: count, describe, union count, similarity; writes are refused', () => {
    const h = applyHllOp(undefined, { op: 'hll', bin: 'h', kind: 'add', values: Array.from({ length: 500 }, (_, i) => BigInt(i)), indexBits: 10 }).next as Hll;
    const g = applyHllOp(undefined, { op: 'hll', bin: 'h', kind: 'add', values: Array.from({ length: 500 }, (_, i) => BigInt(i + 250)), indexBits: 10 }).next as Hll;
    const c = ctx({ h });
    const count = evaluate(cdtRead(bin('h'), { op: 'hll', bin: '', kind: 'getCount' }), c) as bigint;
    assert.ok(count > 450n && count < 550n, `count ${count}`);
    assert.deepEqual(evaluate(cdtRead(bin('h'), { op: 'hll', bin: '', kind: 'describe' }), c), [10n, 0n]);
    const union = cdtRead(bin('h'), { op: 'hll', bin: '', kind: 'getUnionCount', hlls: [g] });
    const u = evaluate(union, c) as bigint;
    assert.ok(u > 650n && u < 850n, `union ${u}`);
    // the JSON form carries the HLL argument
    const back = exprFromJsonText(exprToJsonText(union));
    assert.equal(evaluate(back, c), u);
    // mayContain, also in its JSON form
    const has = (values: BinValue[]) => exprFromJsonText(exprToJsonText(cdtRead(bin('h'), { op: 'hll', bin: '', kind: 'mayContain', values })));
    assert.equal(evaluate(has([0n, 499n, 42n]), c), 1n);
    assert.equal(evaluate(has([0n, 'not added', 'nor this', 'nor that']), c), 0n);
    assert.equal(evaluate(cdtRead(bin('missing'), { op: 'hll', bin: '', kind: 'getCount' }), c), undefined, 'a missing bin: unknown');
    assert.equal(evaluate(cdtRead(bin('s'), { op: 'hll', bin: '', kind: 'getCount' }), ctx({ s: 'text' as BinValue })), undefined, 'not an HLL: unknown');
    assert.throws(() => exprFromJsonText(JSON.stringify({ kind: 'cdtRead', source: { kind: 'bin', name: 'h' }, read: { op: 'hll', kind: 'add', values: ['a'] } })),
      (e: unknown) => e instanceof DbError && e.code === 'PARAMETER');
  });
});
