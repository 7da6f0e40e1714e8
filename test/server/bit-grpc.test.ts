/**
 * Bit operations over real gRPC: conversion both ways, a documented example end to end, reads
 * with writes in one operate, and fields an operation does not take refused, not ignored.
 */
import { strict as assert } from 'node:assert';
import { startTestNode, type TestNode } from '../helpers/node-harness.ts';
import { DbError, toPbOperation, type Operation } from '../../core/client/index.ts';
import { fromPbOperation } from '../../core/server/handlers/operations.ts';
import { KeyValueServiceService } from '../../core/wire/generated/slipstream/v1/kv.ts';
import { toPbKey } from '../../core/client/index.ts';

const b = (...bits: string[]): Uint8Array => Uint8Array.from(bits.map((x) => parseInt(x, 2)));

describe('server/bit operations over gRPC', function () {
  let t: TestNode;
  before(async () => { t = await startTestNode(); });
  after(async () => { await t?.stop(); });
  const k = (key: string) => ({ namespace: 'test', set: 'bits', key });

  it('converts every field both ways', () => {
    const ops: Operation[] = [
      { op: 'bit', bin: 'x', kind: 'resize', size: 4, resizeFlags: { fromFront: true, growOnly: false, shrinkOnly: true }, policy: { createOnly: false, updateOnly: true, noFail: true, partial: false } },
      { op: 'bit', bin: 'x', kind: 'add', offset: -8, size: 8, integer: -3n, signed: true, overflow: 'saturate' },
      { op: 'bit', bin: 'x', kind: 'set', offset: 1, size: 3, value: b('11100000'), policy: { createOnly: false, updateOnly: false, noFail: false, partial: true } },
      { op: 'bit', bin: 'x', kind: 'lscan', offset: 0, size: 8, scanFor: false },
      { op: 'bit', bin: 'x', kind: 'lshift', offset: 0, size: 8, shift: 2 },
      { op: 'bit', bin: 'x', kind: 'not', offset: 0, size: 1, ctx: [{ type: 'mapKey', key: 'flags' }, { type: 'listIndex', index: -1 }] },
    ];
    for (const op of ops) assert.deepEqual(fromPbOperation(toPbOperation(op)), op, (op as { kind: string }).kind);
  });

  it('runs the documented examples atomically with reads', async () => {
    await t.client.put(k('doc'), { bits: b('00000001', '01000010', '00000011', '00000100', '00000101') });
    const r = await t.client.operate(k('doc'), [
      { op: 'bit', bin: 'bits', kind: 'add', offset: 24, size: 16, integer: 128n },
      { op: 'bit', bin: 'bits', kind: 'getInt', offset: 24, size: 16 },
      { op: 'bit', bin: 'bits', kind: 'count', offset: 20, size: 4 },
      { op: 'bit', bin: 'bits', kind: 'get', offset: 9, size: 5 },
    ]);
    assert.deepEqual(r.bins['bits'], [1157n, 2n, b('10000000')]);
    assert.deepEqual((await t.client.get(k('doc'))).bins['bits'], b('00000001', '01000010', '00000011', '00000100', '10000101'));
  });

  it('answers Aerospike\'s result codes and refuses fields an operation does not take', async () => {
    const fails = async (ops: Operation[]): Promise<number> => {
      try { await t.client.operate(k('doc'), ops); } catch (err) { assert.ok(err instanceof DbError); return err.resultCode; }
      assert.fail('expected a failure');
    };
    assert.equal(await fails([{ op: 'bit', bin: 'none', kind: 'not', offset: 0, size: 1 }]), 17);
    assert.equal(await fails([{ op: 'bit', bin: 'bits', kind: 'not', offset: 100, size: 1 }]), 26);
    assert.equal(await fails([{ op: 'bit', bin: 'bits', kind: 'resize', size: 1, policy: { createOnly: true } }]), 6);
    // shift on a not: would be ignored, so it is refused
    const raw = { key: toPbKey(k('doc')), operations: [{ op: { $case: 'bit' as const, value: { ...toPbOperation({ op: 'bit', bin: 'bits', kind: 'not', offset: 0, size: 1 }).op!.value, shift: 3n } } }] };
    try {
      await t.client.unary(KeyValueServiceService.operate, raw as never, {}, false);
      assert.fail('expected a failure');
    } catch (err) {
      assert.ok(err instanceof DbError);
      assert.equal(err.resultCode, 4);
      assert.match(err.message, /takes no shift/);
    }
  });
});
