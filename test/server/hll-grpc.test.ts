/**
 * HLL operations and HLL values over real gRPC: conversion both ways, HLL bins stored, read back
 * (Get's fast path included) and sent again, and refusals with Aerospike's result codes.
 */
import { strict as assert } from 'node:assert';
import { startTestNode, type TestNode } from '../helpers/node-harness.ts';
import { DbError, Hll, toPbOperation, type Operation } from '../../core/client/index.ts';
import { fromPbOperation } from '../../core/server/handlers/operations.ts';

async function code(p: Promise<unknown>): Promise<number> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof DbError, String(err));
    return err.resultCode;
  }
  assert.fail('expected a failure');
}

describe('server/HLL operations over gRPC', function () {
  let t: TestNode;
  before(async () => { t = await startTestNode(); });
  after(async () => { await t?.stop(); });
  const k = (key: string) => ({ namespace: 'test', set: 'hll', key });

  it('converts every field both ways', () => {
    const h = new Hll(new Uint8Array([0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, ...new Array<number>(12).fill(0)]));
    const ops: Operation[] = [
      { op: 'hll', bin: 'h', kind: 'add', values: ['a', 1n], indexBits: 10, minhashBits: 8, policy: { createOnly: true, updateOnly: false, noFail: true, allowFold: false } },
      { op: 'hll', bin: 'h', kind: 'setUnion', hlls: [h], policy: { createOnly: false, updateOnly: true, noFail: false, allowFold: true } },
      { op: 'hll', bin: 'h', kind: 'fold', indexBits: 4 },
      { op: 'hll', bin: 'h', kind: 'getSimilarity', hlls: [h, h] },
      { op: 'hll', bin: 'h', kind: 'mayContain', values: ['a', 2n] },
    ];
    for (const op of ops) assert.deepEqual(fromPbOperation(toPbOperation(op)), op);
  });

  it('stores HLL bins, reads them back as HLLs, and takes them as arguments', async () => {
    const a = Array.from({ length: 3000 }, (_, i) => `v${i}`);
    const r = await t.client.operate(k('a'), [
      { op: 'hll', bin: 'h', kind: 'add', values: a, indexBits: 12 },
      { op: 'hll', bin: 'h', kind: 'getCount' },
    ]);
    const [changed, count] = r.bins.h as [bigint, bigint];
    assert.ok(changed > 2000n && changed <= 3000n);
    assert.ok(Math.abs(Number(count) - 3000) / 3000 < 0.07, `count ${count}`);
    const got = (await t.client.get(k('a'))).bins.h;
    assert.ok(got instanceof Hll, 'Get returns an HLL value');
    assert.equal(got.indexBits, 12);
    await t.client.put(k('b'), { copy: got });
    const r2 = await t.client.operate(k('b'), [
      { op: 'hll', bin: 'copy', kind: 'getUnionCount', hlls: [got] },
      { op: 'hll', bin: 'copy', kind: 'describe' },
    ]);
    assert.deepEqual(r2.bins.copy, [count, [12n, 0n]]);
    const mc = await t.client.operate(k('a'), [
      { op: 'hll', bin: 'h', kind: 'mayContain', values: ['v1', 'v2999'] },
      { op: 'hll', bin: 'h', kind: 'mayContain', values: ['v1', 'not added', 'nor this', 'nor that'] },
    ]);
    assert.deepEqual(mc.bins.h, [1n, 0n], 'may contain the added values, not all of the others');
    assert.equal(await code(t.client.operate(k('a'), [{ op: 'hll', bin: 'h', kind: 'mayContain', values: [] }])), 4, 'mayContain needs values');
    assert.equal(await code(t.client.operate(k('a'), [{ op: 'hll', bin: 'h', kind: 'init', indexBits: 12, policy: { createOnly: true } }])), 6);
    assert.equal(await code(t.client.operate(k('a'), [{ op: 'hll', bin: 'h', kind: 'getCount', indexBits: 12 }])), 4, 'a field getCount does not take');
    assert.equal(await code(t.client.operate(k('a'), [{ op: 'hll', bin: 'h', kind: 'add', values: ['x'], indexBits: 20 }])), 4);
    assert.equal(await code(t.client.put(k('c'), { bad: new Hll(new Uint8Array([1, 2, 3])) })), 4, 'a value that is not an HLL');
  });
});
