/**
 * List and map write flags (Aerospike's ListWriteFlags and MapWriteFlags): add-unique,
 * insert-bounded, no-fail and partial on list writes; create-only, update-only, no-fail and
 * partial on map writes; flags on an operation that takes none are refused.
 */
import { strict as assert } from 'node:assert';
import { applyListOp } from '../../core/transaction/cdt/list.ts';
import { applyMapOp } from '../../core/transaction/cdt/map.ts';
import { DbError } from '../../core/errors/index.ts';
import type { BinValue, MapKey } from '../../core/model/index.ts';

function code(f: () => unknown): string {
  try { f(); } catch (err) { assert.ok(err instanceof DbError, String(err)); return err.code; }
  assert.fail('expected a failure');
}
const m = (...e: Array<[MapKey, BinValue]>) => new Map<MapKey, BinValue>(e);

describe('transaction/cdt write flags', () => {
  const l = [1n, 2n, 3n];

  it('addUnique: ELEMENT_EXISTS, or nothing with noFail, or the new values only with partial', () => {
    assert.equal(code(() => applyListOp(l, { op: 'list', bin: 'l', kind: 'append', value: 2n, flags: { addUnique: true } })), 'ELEMENT_EXISTS');
    assert.deepEqual(applyListOp(l, { op: 'list', bin: 'l', kind: 'append', value: 2n, flags: { addUnique: true, noFail: true } }), { next: undefined, result: 3n });
    assert.deepEqual(applyListOp(l, { op: 'list', bin: 'l', kind: 'append', value: 4n, flags: { addUnique: true } }).next, [1n, 2n, 3n, 4n]);
    assert.equal(code(() => applyListOp(l, { op: 'list', bin: 'l', kind: 'appendItems', values: [4n, 3n], flags: { addUnique: true } })), 'ELEMENT_EXISTS');
    assert.deepEqual(applyListOp(l, { op: 'list', bin: 'l', kind: 'appendItems', values: [4n, 3n], flags: { addUnique: true, noFail: true } }).next, undefined, 'noFail without partial: nothing');
    assert.deepEqual(applyListOp(l, { op: 'list', bin: 'l', kind: 'appendItems', values: [4n, 3n, 5n, 4n], flags: { addUnique: true, noFail: true, partial: true } }).next, [1n, 2n, 3n, 4n, 5n]);
    assert.equal(code(() => applyListOp(l, { op: 'list', bin: 'l', kind: 'appendItems', values: [7n, 7n], flags: { addUnique: true } })), 'OP_NOT_APPLICABLE', 'a value given twice');
    assert.equal(code(() => applyListOp(l, { op: 'list', bin: 'l', kind: 'set', index: 0, value: 3n, flags: { addUnique: true } })), 'ELEMENT_EXISTS');
    assert.deepEqual(applyListOp(l, { op: 'list', bin: 'l', kind: 'set', index: 0, value: 1n, flags: { addUnique: true } }).next, l, 'setting an element to its own value is not a duplicate');
  });

  it('insert past the end pads with nils unless insertBounded', () => {
    assert.deepEqual(applyListOp(l, { op: 'list', bin: 'l', kind: 'insert', index: 5, value: 9n }).next, [1n, 2n, 3n, null, null, 9n]);
    assert.equal(code(() => applyListOp(l, { op: 'list', bin: 'l', kind: 'insert', index: 5, value: 9n, flags: { insertBounded: true } })), 'OP_NOT_APPLICABLE');
    assert.deepEqual(applyListOp(l, { op: 'list', bin: 'l', kind: 'insertItems', index: 5, values: [9n], flags: { insertBounded: true, noFail: true } }), { next: undefined, result: 3n });
    assert.deepEqual(applyListOp(l, { op: 'list', bin: 'l', kind: 'insert', index: 3, value: 9n, flags: { insertBounded: true } }).next, [1n, 2n, 3n, 9n], 'at the end is in bounds');
    assert.equal(code(() => applyListOp(l, { op: 'list', bin: 'l', kind: 'insert', index: -4, value: 9n })), 'OP_NOT_APPLICABLE', 'a negative index before the start');
    assert.equal(code(() => applyListOp(l, { op: 'list', bin: 'l', kind: 'set', index: 7, value: 9n, flags: { insertBounded: true } })), 'OP_NOT_APPLICABLE');
  });

  it('map createOnly, updateOnly, noFail and partial', () => {
    const v = m(['a', 1n], ['b', 2n]);
    assert.equal(code(() => applyMapOp(v, { op: 'map', bin: 'm', kind: 'put', key: 'a', value: 9n, flags: { createOnly: true } })), 'ELEMENT_EXISTS');
    assert.equal(code(() => applyMapOp(v, { op: 'map', bin: 'm', kind: 'put', key: 'z', value: 9n, flags: { updateOnly: true } })), 'ELEMENT_NOT_FOUND');
    assert.deepEqual(applyMapOp(v, { op: 'map', bin: 'm', kind: 'put', key: 'z', value: 9n, flags: { updateOnly: true, noFail: true } }), { next: undefined, result: 2n });
    assert.deepEqual(applyMapOp(v, { op: 'map', bin: 'm', kind: 'put', key: 'a', value: 9n, flags: { updateOnly: true } }).next, m(['a', 9n], ['b', 2n]));
    const items = m(['a', 10n], ['c', 30n]);
    assert.equal(code(() => applyMapOp(v, { op: 'map', bin: 'm', kind: 'putItems', items, flags: { createOnly: true } })), 'ELEMENT_EXISTS');
    assert.equal(applyMapOp(v, { op: 'map', bin: 'm', kind: 'putItems', items, flags: { createOnly: true, noFail: true } }).next, undefined);
    assert.deepEqual(applyMapOp(v, { op: 'map', bin: 'm', kind: 'putItems', items, flags: { createOnly: true, noFail: true, partial: true } }).next, m(['a', 1n], ['b', 2n], ['c', 30n]));
    assert.equal(code(() => applyMapOp(v, { op: 'map', bin: 'm', kind: 'increment', key: 'q', value: 1n, flags: { updateOnly: true } })), 'ELEMENT_NOT_FOUND');
  });

  it('refuses flags on operations that take none', () => {
    assert.equal(code(() => applyListOp(l, { op: 'list', bin: 'l', kind: 'size', flags: { noFail: true } })), 'PARAMETER');
    assert.equal(code(() => applyMapOp(m(), { op: 'map', bin: 'm', kind: 'size', flags: { noFail: true } })), 'PARAMETER');
    assert.equal(code(() => applyMapOp(m(), { op: 'map', bin: 'm', kind: 'put', key: 'a', value: 1n, flags: { createOnly: true, updateOnly: true } })), 'PARAMETER');
  });
});
