/**
 * The Aerospike protocol's list, map and bit operations: an argument past what the opcode takes
 * (the server's op tables) is refused with PARAMETER, never ignored; so are bit write flags an
 * operation does not take.
 */
import { strict as assert } from 'node:assert';
import { cdtOperation } from '../../core/server/aerospike/cdt.ts';
import { bitOperation } from '../../core/server/aerospike/bit-ops.ts';
import { pack } from '../../core/server/aerospike/msgpack.ts';
import { applyBitOp, type BitOperation } from '../../core/transaction/bit-ops.ts';
import { DbError } from '../../core/errors/index.ts';
import type { BinValue } from '../../core/model/index.ts';

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof DbError, String(err));
    assert.equal(err.code, 'PARAMETER', err.message);
    return err.message;
  }
  return 'accepted';
}

describe('aerospike/operation arguments: none ignored', () => {
  it('takes each list and map opcode with its arguments and refuses one more', () => {
    const cases: Array<[string, BinValue[]]> = [
      ['list get', [17n, 0n]], ['list size', [16n]], ['list append', [1n, 5n, 0n, 0n]], ['list insert', [3n, 0n, 5n, 0n]],
      ['list increment', [12n, 0n, 1n, 0n, 0n]], ['list get by index', [19n, 7n, 0n]], ['list get by value rel rank', [27n, 7n, 5n, 0n, 1n]],
      ['map put', [67n, 'k', 1n, 0n, 0n]], ['map increment', [73n, 'k', 1n, 0n]], ['map get by key', [97n, 7n, 'k']],
      ['map get by key range', [103n, 7n, 'a', 'z']], ['map size', [96n]], ['map set type', [64n, 1n]],
    ];
    for (const [name, args] of cases) {
      assert.doesNotThrow(() => cdtOperation('b', pack(args)), name);
      assert.match(refusal(() => cdtOperation('b', pack([...args, 9n]))), /takes at most \d+ argument/, `${name} with one argument more`);
      // through a context as well
      assert.match(refusal(() => cdtOperation('b', pack([0xffn, [0x10n, 0n], [...args, 9n]]))), /takes at most/, `${name} in a context`);
    }
  });

  it('takes each bit opcode with its arguments and refuses one more', () => {
    const blob = new Uint8Array([1]);
    const cases: Array<[string, BinValue[]]> = [
      ['resize', [0n, 4n, 0n, 0n]], ['insert', [1n, 0n, blob, 0n]], ['set', [3n, 0n, 8n, blob, 0n]], ['add', [10n, 0n, 8n, 1n, 0n, 0n]],
      ['get', [50n, 0n, 8n]], ['lscan', [52n, 0n, 8n, true]], ['getInt', [54n, 0n, 8n, 0n]],
    ];
    for (const [name, args] of cases) {
      assert.doesNotThrow(() => bitOperation('b', pack(args)), name);
      assert.match(refusal(() => bitOperation('b', pack([...args, 9n]))), /takes at most/, `bit ${name} with one argument more`);
    }
  });

  it('refuses bit write flags an operation does not take, as the server does', () => {
    const blob = new Uint8Array([0xff, 0]);
    const op = (kind: BitOperation['kind'], extra: Partial<BitOperation>): BitOperation => ({ op: 'bit', bin: 'b', kind, offset: 0, size: 8, ...extra });
    assert.match(refusal(() => applyBitOp(blob, op('set', { value: new Uint8Array([1]), policy: { createOnly: true } }))), /takes no createOnly/);
    assert.match(refusal(() => applyBitOp(blob, op('add', { integer: 1n, policy: { partial: true } }))), /takes no partial/);
    assert.match(refusal(() => applyBitOp(blob, { op: 'bit', bin: 'b', kind: 'resize', size: 4, policy: { partial: true } })), /takes no partial/);
    // the flags it does take run
    assert.deepEqual(applyBitOp(blob, op('set', { offset: 8, size: 16, value: new Uint8Array([0xff, 0xff]), policy: { partial: true } })).next, new Uint8Array([0xff, 0xff]));
    // over the wire, the flags argument reaches the same check
    assert.match(refusal(() => applyBitOp(blob, bitOperation('b', pack([3n, 0n, 8n, new Uint8Array([1]), 1n])) as BitOperation)), /takes no createOnly/);
  });
});
