/**
 * Expression operations over real gRPC (Aerospike's ExpOperation.read/write): values computed
 * from the record as earlier operations left it, written to bins with create-only, update-only,
 * allow-delete and no-fail flags, and Aerospike's result codes.
 */
import { strict as assert } from 'node:assert';
import { startTestNode, type TestNode } from '../helpers/node-harness.ts';
import { DbError, expr as x, toPbOperation, type Operation } from '../../core/client/index.ts';
import { fromPbOperation } from '../../core/server/handlers/operations.ts';
import { exprToJsonText } from '../../core/query/expr/json.ts';

const read = (name: string, e: x.Expr | ReturnType<typeof x.lit>, evalNoFail = false): Operation => ({ op: 'expRead', name, expression: exprToJsonText(e), ...(evalNoFail ? { evalNoFail } : {}) });
const write = (bin: string, e: ReturnType<typeof x.lit>, flags?: Extract<Operation, { op: 'expWrite' }>['flags']): Operation => ({ op: 'expWrite', bin, expression: exprToJsonText(e), ...(flags === undefined ? {} : { flags }) });

describe('server/expression operations', function () {
  let t: TestNode;
  before(async () => { t = await startTestNode(); });
  after(async () => { await t?.stop(); });
  const k = (key: string) => ({ namespace: 'test', set: 'exp', key });
  async function fails(key: string, ops: Operation[]): Promise<number> {
    try { await t.client.operate(k(key), ops); } catch (err) { assert.ok(err instanceof DbError, String(err)); return err.resultCode; }
    assert.fail('expected a failure');
  }

  it('converts both ways', () => {
    for (const op of [read('r', x.lit(1n), true), write('b', x.lit(1n), { createOnly: true, updateOnly: false, allowDelete: true, policyNoFail: false, evalNoFail: true })]) {
      assert.deepEqual(fromPbOperation(toPbOperation(op)), op);
    }
  });

  it('reads and writes computed values, seeing earlier operations of the same call', async () => {
    await t.client.put(k('a'), { a: 5n, b: 7n });
    const r = await t.client.operate(k('a'), [
      read('sum', x.arith('+', x.bin('a'), x.bin('b'))),
      { op: 'add', bin: 'a', value: 10n },
      write('c', x.arith('*', x.bin('a'), x.lit(2n))),
      read('c2', x.bin('c')),
      read('gen', x.meta('generation')),
    ]);
    assert.deepEqual(r.bins, { sum: 12n, c2: 30n, gen: 1n });
    assert.deepEqual((await t.client.get(k('a'))).bins, { a: 15n, b: 7n, c: 30n });
    // a read-only call with an expression read takes no lock and bumps no generation
    const ro = await t.client.operate(k('a'), [read('big', x.cmp('>', x.bin('c'), x.lit(20n)))]);
    assert.deepEqual(ro.bins, { big: true });
    assert.equal(ro.meta?.generation, 2);
  });

  it('follows Aerospike\'s flags and result codes', async () => {
    await t.client.put(k('f'), { a: 1n });
    assert.equal(await fails('f', [read('x', x.bin('missing'))]), 26, 'unknown value');
    assert.deepEqual((await t.client.operate(k('f'), [read('x', x.bin('missing'), true), { op: 'read', bin: 'a' }])).bins, { a: 1n }, 'evalNoFail: no result');
    assert.equal(await fails('f', [write('a', x.lit(2n), { createOnly: true })]), 6);
    assert.equal(await fails('f', [write('z', x.lit(2n), { updateOnly: true })]), 17);
    await t.client.operate(k('f'), [write('z', x.lit(2n), { updateOnly: true, policyNoFail: true })]);
    assert.deepEqual((await t.client.get(k('f'))).bins, { a: 1n }, 'policyNoFail: nothing written');
    assert.equal(await fails('f', [write('a', x.lit(null))]), 26, 'nil removes only with allowDelete');
    await t.client.operate(k('f'), [write('a', x.lit(null), { allowDelete: true }), write('b', x.lit('x'))]);
    assert.deepEqual((await t.client.get(k('f'))).bins, { b: 'x' });
    assert.equal(await fails('f', [{ op: 'expRead', name: 'bad', expression: '{"nope": 1}' }]), 4, 'a malformed expression');
  });
});
