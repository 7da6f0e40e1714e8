/**
 * Modify expressions (Aerospike's ListExp / MapExp / BitExp / HLLExp modify calls: a write run on
 * a copy of a value, giving the changed copy) and computed arguments of list, map, bit and HLL
 * calls — evaluation, the JSON form both ways, printing, refusals, and the Aerospike wire form
 * (`[127, type, kind | 0x40, [opcode, …], target]`) with what it refuses.
 */
import { strict as assert } from 'node:assert';
import { arith, bin, cdtModify, cdtRead, cmp, lit, size, type Expr } from '../../core/query/expr/ast.ts';
import { Hll, mapOrder, withMapOrder, type BinValue, type MapKey } from '../../core/model/index.ts';
import { evaluate, type EvalContext } from '../../core/query/expr/eval.ts';
import { exprFromJsonText, exprToJsonText } from '../../core/query/expr/json.ts';
import { exprToString } from '../../core/query/expr/print.ts';
import { wireExpr } from '../../core/server/aerospike/expressions.ts';
import { pack as packValue } from '../../core/server/aerospike/msgpack.ts';
import { applyHllOp } from '../../core/transaction/hll-ops.ts';
import { DbError } from '../../core/errors/index.ts';

/**
 * Packs an expression as the clients do: bin names are plain msgpack strings, while string
 * values carry their particle type (the codec's pack gives every string the type byte).
 */
function pack(v: BinValue): Buffer {
  let out = packValue(v);
  for (const name of ['scores', 'doc', 'i', 'k', 'm', 'bits', 'h']) {
    const typed = Buffer.from([0xa0 + name.length + 1, 3, ...Buffer.from(name)]);
    const plain = Buffer.from([0xa0 + name.length, ...Buffer.from(name)]);
    for (let at = out.indexOf(typed); at >= 0; at = out.indexOf(typed, at + plain.length)) out = Buffer.concat([out.subarray(0, at), plain, out.subarray(at + typed.length)]);
  }
  return out;
}
const ctx = (bins: EvalContext['bins']): EvalContext => ({ bins, meta: { generation: 1, voidTime: 0, lastUpdateMs: 0 }, set: '', digest: new Uint8Array(20), keyExists: false, nowMs: 0 });
const viaJson = (e: Expr): Expr => exprFromJsonText(exprToJsonText(e));
const refused = (f: () => unknown, code: string, re: RegExp) => assert.throws(f, (e: unknown) => e instanceof DbError && e.code === code && re.test(e.message), `expected ${code} ${re}`);

describe('query/expr modify calls and computed arguments', () => {
  const scores = [7n, 2n, 9n];
  const rec = ctx({
    scores, i: 1n, k: 'b', neg: -1n, txt: 'x',
    doc: new Map<MapKey, BinValue>([['a', [1n, 2n]], ['b', new Map<MapKey, BinValue>([['z', 1n]])]]),
    m: withMapOrder(new Map<MapKey, BinValue>([['b', 2n], ['a', 1n]]), 'keyOrdered'),
    bits: Uint8Array.from([0b00000001, 0b01000010, 0b00000011, 0b00000100, 0b00000101]),
  });

  it('gives the changed copy: list, map (keeping its order), bit and HLL writes; the source stays as it was', () => {
    const appended = cdtModify(bin('scores'), { op: 'list', bin: '', kind: 'append', value: 5n });
    assert.deepEqual(evaluate(appended, rec), [7n, 2n, 9n, 5n]);
    assert.deepEqual(scores, [7n, 2n, 9n], 'the record\'s value is not changed');
    assert.equal(evaluate(size(appended), rec), 4n);
    // a read of the changed copy
    assert.equal(evaluate(cdtRead(appended, { op: 'list', bin: '', kind: 'getByRank', rank: 0 }), rec), 2n);
    // through a context: the whole value comes back, changed inside (as_bin_cdt_modify_exp)
    const inner = cdtModify(bin('doc'), { op: 'list', bin: '', kind: 'append', value: 3n, ctx: [{ type: 'mapKey', key: 'a' }] });
    assert.deepEqual(evaluate(inner, rec), new Map<MapKey, BinValue>([['a', [1n, 2n, 3n]], ['b', new Map<MapKey, BinValue>([['z', 1n]])]]));
    const put = evaluate(cdtModify(bin('m'), { op: 'map', bin: '', kind: 'put', key: 'c', value: 3n }), rec) as ReadonlyMap<MapKey, BinValue>;
    assert.deepEqual([...put.keys()], ['a', 'b', 'c']);
    assert.equal(mapOrder(put), 'keyOrdered');
    // the Java client's BitExp.set example: bitOffset 13, bitSize 3, value [0b11100000]
    assert.deepEqual(evaluate(cdtModify(bin('bits'), { op: 'bit', bin: '', kind: 'set', offset: 13, size: 3, value: Uint8Array.from([0b11100000]) }), rec),
      Uint8Array.from([0b00000001, 0b01000111, 0b00000011, 0b00000100, 0b00000101]));
    // BitExp.add example: offset 24, size 16, value 128, unsigned
    assert.deepEqual(evaluate(cdtModify(bin('bits'), { op: 'bit', bin: '', kind: 'add', offset: 24, size: 16, integer: 128n }), rec),
      Uint8Array.from([0b00000001, 0b01000010, 0b00000011, 0b00000100, 0b10000101]));
    const h = applyHllOp(undefined, { op: 'hll', bin: 'h', kind: 'add', values: ['x'], indexBits: 8 }).next as Hll;
    const added = evaluate(cdtModify(bin('h'), { op: 'hll', bin: '', kind: 'add', values: ['y', 'z'] }), ctx({ h })) as Hll;
    assert.ok(added instanceof Hll);
    assert.equal(applyHllOp(added, { op: 'hll', bin: 'h', kind: 'getCount' }).result, 3n);
  });

  it('is unknown when the source is missing or the write fails; a nil source is an empty value the write creates from', () => {
    assert.equal(evaluate(cdtModify(bin('missing'), { op: 'list', bin: '', kind: 'append', value: 1n }), rec), undefined);
    assert.equal(evaluate(cdtModify(bin('txt'), { op: 'list', bin: '', kind: 'append', value: 1n }), rec), undefined, 'not a list');
    assert.equal(evaluate(cdtModify(bin('scores'), { op: 'list', bin: '', kind: 'set', index: 10, value: 1n, flags: { insertBounded: true } }), rec), undefined, 'insert-bounded refuses');
    assert.equal(evaluate(cdtModify(bin('m'), { op: 'map', bin: '', kind: 'put', key: 'a', value: 9n, flags: { createOnly: true } }), rec), undefined, 'create-only on an existing key');
    const kept = evaluate(cdtModify(bin('m'), { op: 'map', bin: '', kind: 'put', key: 'a', value: 9n, flags: { createOnly: true, noFail: true } }), rec) as ReadonlyMap<MapKey, BinValue>;
    assert.equal(kept.get('a'), 1n, 'no-fail: the value unchanged');
    assert.deepEqual(evaluate(cdtModify(lit(null), { op: 'list', bin: '', kind: 'append', value: 1n }), rec), [1n]);
  });

  it('computes arguments from other expressions; a wrong kind or an unknown argument makes the call unknown', () => {
    const byIndex = cdtRead(bin('scores'), { op: 'list', bin: '', kind: 'getByIndex', returnType: 'value' }, [{ field: 'index', value: bin('i') }]);
    assert.equal(evaluate(byIndex, rec), 2n);
    assert.equal(evaluate(cdtRead(bin('scores'), { op: 'list', bin: '', kind: 'getByIndex', returnType: 'value' }, [{ field: 'index', value: bin('neg') }]), rec), 9n);
    const byKey = cdtRead(bin('m'), { op: 'map', bin: '', kind: 'getByKey', returnType: 'value' }, [{ field: 'key', value: bin('k') }]);
    assert.equal(evaluate(byKey, rec), 2n);
    const plus = cdtModify(bin('scores'), { op: 'list', bin: '', kind: 'append' }, [{ field: 'value', value: arith('+', bin('i'), lit(10n)) }]);
    assert.deepEqual(evaluate(plus, rec), [7n, 2n, 9n, 11n]);
    const items = cdtModify(bin('scores'), { op: 'list', bin: '', kind: 'appendItems' }, [{ field: 'values', value: bin('scores') }]);
    assert.deepEqual(evaluate(items, rec), [7n, 2n, 9n, 7n, 2n, 9n]);
    assert.equal(evaluate(cdtRead(bin('scores'), { op: 'list', bin: '', kind: 'getByIndex', returnType: 'value' }, [{ field: 'index', value: bin('txt') }]), rec), undefined, 'a string index');
    assert.equal(evaluate(cdtRead(bin('scores'), { op: 'list', bin: '', kind: 'getByIndex', returnType: 'value' }, [{ field: 'index', value: bin('missing') }]), rec), undefined, 'an unknown index');
    assert.equal(evaluate(items, ctx({ scores: 5n })), undefined, 'a values argument that is not a list');
    // JSON both ways, printing
    for (const e of [byIndex, byKey, plus, items]) assert.deepEqual(exprToJsonText(viaJson(e)), exprToJsonText(e));
    assert.equal(evaluate(viaJson(plus), rec) instanceof Array, true);
    assert.equal(exprToString(plus), 'MODIFY_LIST_append(scores, value = i + 10)');
  });

  it('refuses in the JSON form: a read as a modify, a write as a read, a bad argument field, a field given twice', () => {
    const text = (kind: string, op: unknown, args?: unknown): string => JSON.stringify({ kind, source: { kind: 'bin', name: 'l' }, op, ...(args === undefined ? {} : { args }) });
    refused(() => exprFromJsonText(text('cdtModify', { op: 'list', kind: 'size' })), 'PARAMETER', /reads; a modify call takes a write/);
    refused(() => exprFromJsonText(text('cdtRead', { op: 'list', kind: 'append', value: 1 })), 'PARAMETER', /writes; use a cdtModify/);
    refused(() => exprFromJsonText(text('cdtModify', { op: 'list', kind: 'append' }, [{ field: 'bogus', value: { kind: 'lit', value: 1 } }])), 'PARAMETER', /field must be one of/);
    refused(() => exprFromJsonText(text('cdtModify', { op: 'list', kind: 'append', value: 1 }, [{ field: 'value', value: { kind: 'lit', value: 1 } }])), 'PARAMETER', /both as a value and as an argument/);
    refused(() => exprFromJsonText(text('cdtModify', { op: 'list', kind: 'append', index: 1, value: 1 })), 'PARAMETER', /index/);
    refused(() => exprFromJsonText(text('cdtModify', { op: 'list', kind: 'append', flags: { addUnique: 'yes' }, value: 1 })), 'PARAMETER', /flags must be an object of true\/false/);
    // a kernel refusal of the operation itself is found when parsed, also with computed fields standing in
    refused(() => exprFromJsonText(text('cdtModify', { op: 'list', kind: 'append', returnType: 'value' }, [{ field: 'value', value: { kind: 'lit', value: 1 } }])), 'PARAMETER', /return type/);
    refused(() => exprFromJsonText(text('cdtModify', { op: 'hll', kind: 'add', policy: { allowFold: true }, values: ['a'] })), 'PARAMETER', /allowFold/);
  });

  it('decodes the Aerospike wire form: the modify flag, contexts, computed arguments; refuses what the server would', () => {
    const listBin = (name: string): BinValue => [81n, 4n, name];
    const intBin = (name: string): BinValue => [81n, 2n, name];
    // ListExp.append(policy default, Exp.val(5), Exp.listBin("scores")): [127, LIST(4), CDT|MODIFY, [1, 5, 0, 0], bin]
    const append = wireExpr(pack([127n, 4n, 0x40n, [1n, 5n, 0n, 0n], listBin('scores')]));
    assert.equal(append.kind, 'cdtModify');
    assert.deepEqual(evaluate(append, rec), [7n, 2n, 9n, 5n]);
    // with a context: [0xff, [0x22 (map key), "a"], [1, 3, 0, 0]]
    const inCtx = wireExpr(pack([127n, 5n, 0x40n, [0xffn, [0x22n, 'a'], [1n, 3n, 0n, 0n]], [81n, 5n, 'doc']]));
    assert.deepEqual((evaluate(inCtx, rec) as ReadonlyMap<MapKey, BinValue>).get('a'), [1n, 2n, 3n]);
    // a computed index: ListExp.getByIndex(VALUE, INT, Exp.intBin("i"), bin) → [19, 7, [81, 2, "i"]]
    const computed = wireExpr(pack([127n, 2n, 0n, [19n, 7n, intBin('i')], listBin('scores')]));
    assert.equal(evaluate(computed, rec), 2n);
    assert.deepEqual((computed as { args?: unknown }).args, [{ field: 'index', value: bin('i') }]);
    // a computed value and a computed list
    assert.deepEqual(evaluate(wireExpr(pack([127n, 4n, 0x40n, [1n, [20n, intBin('i'), 10n], 0n, 0n], listBin('scores')])), rec), [7n, 2n, 9n, 11n]);
    assert.deepEqual(evaluate(wireExpr(pack([127n, 4n, 0x40n, [2n, listBin('scores'), 0n, 0n], listBin('scores')])), rec), [7n, 2n, 9n, 7n, 2n, 9n]);
    // a computed key: MapExp.getByKey(VALUE, Exp.stringBin("k"))
    assert.equal(evaluate(wireExpr(pack([127n, 2n, 0n, [97n, 7n, [81n, 3n, 'k']], [81n, 5n, 'm']])), rec), 2n);
    // BitExp.insert (bit modify, kind 1 | 0x40) and HLLExp.init (kind 2 | 0x40)
    const inserted = evaluate(wireExpr(pack([127n, 6n, 0x41n, [1n, 1n, Uint8Array.from([0xff]), 0n], [81n, 6n, 'bits']])), rec);
    assert.deepEqual(inserted, Uint8Array.from([1, 0xff, 0x42, 3, 4, 5]));
    const h = applyHllOp(undefined, { op: 'hll', bin: 'h', kind: 'add', values: ['x'], indexBits: 8 }).next as Hll;
    const reinit = evaluate(wireExpr(pack([127n, 9n, 0x42n, [0n, 10n, -1n, 0n], [81n, 9n, 'h']])), ctx({ h })) as Hll;
    assert.equal(reinit.indexBits, 10);
    // refusals: the modify flag on a read, a write without it (PARAMETER); a computed flags argument and CDT select (16)
    refused(() => wireExpr(pack([127n, 2n, 0x40n, [16n], listBin('scores')])), 'PARAMETER', /reads, and the call is a modify/);
    refused(() => wireExpr(pack([127n, 4n, 0n, [1n, 5n, 0n, 0n], listBin('scores')])), 'PARAMETER', /writes, and the call is a read/);
    refused(() => wireExpr(pack([127n, 4n, 0x40n, [1n, 5n, 0n, intBin('i')], listBin('scores')])), 'UNSUPPORTED_FEATURE', /computed argument where/);
    refused(() => wireExpr(pack([127n, 4n, 0n, [0xfen, [0x22n, 'a'], 0n], listBin('scores')])), 'UNSUPPORTED_FEATURE', /CDT select/);
    // the declared result type is checked (the server's bin_is_type): another type is unknown; JSON keeps it
    const asString = wireExpr(pack([127n, 3n, 0n, [19n, 7n, 0n], listBin('scores')]));
    assert.equal(evaluate(asString, rec), undefined, 'an integer element declared a string');
    assert.equal(evaluate(exprFromJsonText(exprToJsonText(asString)), rec), undefined);
    assert.equal(evaluate(wireExpr(pack([127n, 2n, 0n, [19n, 7n, 0n], listBin('scores')])), rec), 7n);
    assert.equal(evaluate(wireExpr(pack([127n, 5n, 0x40n, [1n, 5n, 0n, 0n], listBin('scores')])), rec), undefined, 'a modify declared a map gives a list');
    refused(() => wireExpr(pack([127n, 12n, 0n, [19n, 7n, 0n], listBin('scores')])), 'PARAMETER', /result type 12/);
    refused(() => exprFromJsonText(JSON.stringify({ kind: 'cdtRead', source: { kind: 'bin', name: 'l' }, op: { op: 'list', kind: 'size' }, type: 'int' })), 'PARAMETER', /type must be one of/);
    // as a filter comparing the changed copy
    assert.equal(evaluate(cmp('=', size(append), lit(4n)), rec), true);
  });
});
