/**
 * Bit operations against the worked examples of Aerospike's BitOperation documentation (every
 * operation, on the documented 5-byte blob), its policies and failures, and a property test of
 * add/subtract/setInt/getInt against plain bigint arithmetic.
 */
import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { applyBitOp, type BitOperation } from '../../core/transaction/bit-ops.ts';
import { applyCdtOperation } from '../../core/transaction/cdt/context.ts';
import { DbError } from '../../core/errors/index.ts';

const b = (...bits: string[]): Uint8Array => Uint8Array.from(bits.map((x) => parseInt(x, 2)));
const DOC = b('00000001', '01000010', '00000011', '00000100', '00000101');
const op = (o: Omit<BitOperation, 'op' | 'bin'>): BitOperation => ({ op: 'bit', bin: 'bits', ...o });

function code(f: () => unknown): string {
  try { f(); } catch (err) { assert.ok(err instanceof DbError, String(err)); return err.code; }
  assert.fail('expected a failure');
}

describe('transaction/bit operations', () => {
  it('matches every documented example', () => {
    const writes: Array<[Omit<BitOperation, 'op' | 'bin'>, Uint8Array, Uint8Array]> = [
      [{ kind: 'resize', size: 4 }, b('00000001', '01000010'), b('00000001', '01000010', '00000000', '00000000')],
      [{ kind: 'insert', offset: 1, value: b('11111111', '11000111') }, DOC, b('00000001', '11111111', '11000111', '01000010', '00000011', '00000100', '00000101')],
      [{ kind: 'remove', offset: 2, size: 3 }, DOC, b('00000001', '01000010')],
      [{ kind: 'set', offset: 13, size: 3, value: b('11100000') }, DOC, b('00000001', '01000111', '00000011', '00000100', '00000101')],
      [{ kind: 'or', offset: 17, size: 6, value: b('10101000') }, DOC, b('00000001', '01000010', '01010111', '00000100', '00000101')],
      [{ kind: 'xor', offset: 17, size: 6, value: b('10101100') }, DOC, b('00000001', '01000010', '01010101', '00000100', '00000101')],
      [{ kind: 'and', offset: 23, size: 9, value: b('00111100', '10000000') }, DOC, b('00000001', '01000010', '00000010', '00000000', '00000101')],
      [{ kind: 'not', offset: 25, size: 6 }, DOC, b('00000001', '01000010', '00000011', '01111010', '00000101')],
      [{ kind: 'lshift', offset: 32, size: 8, shift: 3 }, DOC, b('00000001', '01000010', '00000011', '00000100', '00101000')],
      [{ kind: 'rshift', offset: 0, size: 9, shift: 1 }, DOC, b('00000000', '11000010', '00000011', '00000100', '00000101')],
      [{ kind: 'add', offset: 24, size: 16, integer: 128n }, DOC, b('00000001', '01000010', '00000011', '00000100', '10000101')],
      [{ kind: 'subtract', offset: 24, size: 16, integer: 128n }, DOC, b('00000001', '01000010', '00000011', '00000011', '10000101')],
      [{ kind: 'setInt', offset: 1, size: 8, integer: 127n }, DOC, b('00111111', '11000010', '00000011', '00000100', '00000101')],
    ];
    for (const [o, before, after] of writes) {
      const r = applyBitOp(before, op(o));
      assert.deepEqual(r.next, after, o.kind);
      assert.equal(r.result, undefined, `${o.kind} returns nothing`);
    }
    assert.deepEqual(DOC, b('00000001', '01000010', '00000011', '00000100', '00000101'), 'the stored blob is never changed in place');
    const reads: Array<[Omit<BitOperation, 'op' | 'bin'>, unknown]> = [
      [{ kind: 'get', offset: 9, size: 5 }, b('10000000')],
      [{ kind: 'count', offset: 20, size: 4 }, 2n],
      [{ kind: 'lscan', offset: 24, size: 8, scanFor: true }, 5n],
      [{ kind: 'rscan', offset: 32, size: 8, scanFor: true }, 7n],
      [{ kind: 'getInt', offset: 8, size: 16 }, 16899n],
    ];
    for (const [o, want] of reads) assert.deepEqual(applyBitOp(DOC, op(o)).result, want, o.kind);
  });

  it('follows Aerospike on missing bins, policies, negative offsets and ranges past the end', () => {
    assert.deepEqual(applyBitOp(undefined, op({ kind: 'resize', size: 2 })).next, b('00000000', '00000000'), 'resize creates');
    assert.deepEqual(applyBitOp(undefined, op({ kind: 'insert', offset: 2, value: b('11111111') })).next, b('00000000', '00000000', '11111111'), 'insert past the end pads with zeros');
    assert.equal(code(() => applyBitOp(undefined, op({ kind: 'set', offset: 0, size: 8, value: b('1') }))), 'BIN_NOT_FOUND');
    assert.equal(code(() => applyBitOp(undefined, op({ kind: 'resize', size: 2, policy: { updateOnly: true } }))), 'BIN_NOT_FOUND');
    assert.equal(code(() => applyBitOp(DOC, op({ kind: 'resize', size: 9, policy: { createOnly: true } }))), 'BIN_EXISTS');
    assert.equal(applyBitOp(DOC, op({ kind: 'resize', size: 9, policy: { createOnly: true, noFail: true } })).next, undefined, 'noFail: nothing happens');
    assert.equal(code(() => applyBitOp('text', op({ kind: 'count', offset: 0, size: 1 }))), 'BIN_TYPE');
    assert.equal(applyBitOp(undefined, op({ kind: 'count', offset: 0, size: 1 })).result, null, 'a read of a missing bin is nil');
    assert.equal(applyBitOp(DOC, op({ kind: 'getInt', offset: -8, size: 8 })).result, 5n, 'negative offsets count from the end');
    assert.equal(applyBitOp(DOC, op({ kind: 'getInt', offset: -8, size: 8, signed: true })).result, 5n);
    assert.equal(applyBitOp(b('11111110'), op({ kind: 'getInt', offset: 0, size: 8, signed: true })).result, -2n);
    assert.equal(code(() => applyBitOp(DOC, op({ kind: 'not', offset: 36, size: 8 }))), 'OP_NOT_APPLICABLE');
    assert.deepEqual(applyBitOp(DOC, op({ kind: 'not', offset: 36, size: 8, policy: { partial: true } })).next, b('00000001', '01000010', '00000011', '00000100', '00001010'), 'partial clips to the end');
    assert.equal(code(() => applyBitOp(DOC, op({ kind: 'not', offset: 40, size: 1 }))), 'OP_NOT_APPLICABLE');
    assert.equal(code(() => applyBitOp(DOC, op({ kind: 'remove', offset: 4, size: 2 }))), 'PARAMETER');
    assert.deepEqual(applyBitOp(DOC, op({ kind: 'remove', offset: 4, size: 2, policy: { partial: true } })).next, DOC.subarray(0, 4));
    assert.equal(code(() => applyBitOp(DOC, op({ kind: 'resize', size: 2, resizeFlags: { growOnly: true } }))), 'PARAMETER');
    assert.deepEqual(applyBitOp(DOC, op({ kind: 'resize', size: 2, resizeFlags: { fromFront: true } })).next, b('00000100', '00000101'));
    assert.equal(code(() => applyBitOp(DOC, op({ kind: 'add', offset: 0, size: 65, integer: 1n }))), 'PARAMETER', 'integers are at most 64 bits');
    assert.equal(code(() => applyBitOp(DOC, op({ kind: 'set', offset: 0, size: 16, value: b('1') }))), 'PARAMETER', 'value shorter than the size');
  });

  it('works on a bytes value nested in a list (the documented context example)', () => {
    const bin = [b('00000001', '01000010'), b('01011010')];
    const r = applyCdtOperation(bin, op({ kind: 'resize', size: 3, ctx: [{ type: 'listIndex', index: 0 }] }));
    assert.deepEqual(r.next, [b('00000001', '01000010', '00000000'), b('01011010')]);
    assert.equal(applyCdtOperation(bin, op({ kind: 'count', offset: 0, size: 8, ctx: [{ type: 'listIndex', index: 1 }] })).result, 4n);
    assert.equal(code(() => applyCdtOperation([[1n]], op({ kind: 'count', offset: 0, size: 8, ctx: [{ type: 'listIndex', index: 0 }] }))), 'BIN_TYPE');
  });

  it('add and subtract overflow: fail, saturate, wrap, signed and unsigned', () => {
    const one = b('11111111');
    assert.equal(code(() => applyBitOp(one, op({ kind: 'add', offset: 0, size: 8, integer: 1n }))), 'OP_NOT_APPLICABLE');
    assert.deepEqual(applyBitOp(one, op({ kind: 'add', offset: 0, size: 8, integer: 1n, overflow: 'saturate' })).next, b('11111111'));
    assert.deepEqual(applyBitOp(one, op({ kind: 'add', offset: 0, size: 8, integer: 1n, overflow: 'wrap' })).next, b('00000000'));
    const max = b('01111111');
    assert.equal(code(() => applyBitOp(max, op({ kind: 'add', offset: 0, size: 8, integer: 1n, signed: true }))), 'OP_NOT_APPLICABLE');
    assert.deepEqual(applyBitOp(max, op({ kind: 'add', offset: 0, size: 8, integer: 1n, signed: true, overflow: 'saturate' })).next, b('01111111'));
    assert.deepEqual(applyBitOp(b('10000000'), op({ kind: 'subtract', offset: 0, size: 8, integer: 1n, signed: true, overflow: 'saturate' })).next, b('10000000'));
    assert.deepEqual(applyBitOp(b('00000000'), op({ kind: 'subtract', offset: 0, size: 8, integer: 1n, overflow: 'saturate' })).next, b('00000000'));
  });

  it('setInt then getInt round-trips any integer in any window (property)', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 12, maxLength: 16 }), fc.integer({ min: 0, max: 30 }), fc.integer({ min: 1, max: 64 }), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }), (blob, offset, size, v) => {
      const set = applyBitOp(blob, op({ kind: 'setInt', offset, size, integer: v })).next as Uint8Array;
      assert.equal(applyBitOp(set, op({ kind: 'getInt', offset, size })).result, BigInt.asUintN(size, v));
      // the bits around the window are untouched
      const before = applyBitOp(blob, op({ kind: 'get', offset: 0, size: offset || 1 })).result;
      if (offset > 0) assert.deepEqual(applyBitOp(set, op({ kind: 'get', offset: 0, size: offset })).result, before);
      const wrapped = applyBitOp(set, op({ kind: 'add', offset, size, integer: 5n, overflow: 'wrap' })).next as Uint8Array;
      assert.equal(applyBitOp(wrapped, op({ kind: 'getInt', offset, size })).result, BigInt.asUintN(size, BigInt.asUintN(size, v) + 5n));
    }), { numRuns: 300 });
  });
});
